//! switchyard: a multichannel commerce integration hub on a durable Redis job queue.

pub mod api;
pub mod app;
pub mod bench;
pub mod config;
pub mod db;
pub mod error;
pub mod queue;
pub mod shutdown;
pub mod telemetry;
#[path = "../workers/mod.rs"]
pub mod workers;
