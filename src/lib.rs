//! switchyard: a multichannel commerce integration hub on a durable Redis job queue.

pub mod api;
pub mod app;
pub mod bench;
pub mod config;
pub mod connectors;
pub mod crypto;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
pub mod jobs;
pub mod outbound;
pub mod outbox;
pub mod provision;
pub mod queue;
pub mod runner;
pub mod sandbox_cmd;
pub mod server;
pub mod settings;
pub mod shutdown;
pub mod store;
pub mod telemetry;
pub mod webhooks;
#[path = "../workers/mod.rs"]
pub mod workers;
