//! switchyard: a multichannel commerce integration hub on a durable Redis job queue.

pub mod bench;
pub mod config;
pub mod error;
pub mod queue;
pub mod shutdown;
#[path = "../workers/mod.rs"]
pub mod workers;
