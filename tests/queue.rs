//! The queue's behaviours on one Redis server (`queue_suite`).

mod app_helpers;
mod queue_helpers;
mod queue_suite;

mod backend {
    pub use crate::app_helpers::settings;
    pub use crate::queue_helpers::broker;
}
