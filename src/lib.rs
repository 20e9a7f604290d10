//! switchyard: a multichannel commerce integration hub on a durable Redis job queue.

pub mod config;
pub mod error;
pub mod queue;
#[path = "../workers/mod.rs"]
pub mod workers;
