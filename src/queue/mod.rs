//! switchyard's durable job queue: its own Redis storage (Lua scripts in `lua/`, one per
//! operation) and the apalis backend that feeds workers from it.
//!
//! Keys of one queue share the hash tag `{<prefix>:<queue>}`, so every script touches one Redis
//! Cluster slot:
//! - `ready` (list of job ids, FIFO), `scheduled` (zset by run time), `leased` (zset by lease
//!   deadline), `done` and `dead` (zsets by finish time, trimmed to the queue's retention);
//! - `job:<id>` (hash: the envelope), `unique:<key>` (the job id holding a unique key);
//! - `wake` (a short list idle workers block on), `paused`, `stats` (counters) and `m:<minute>`
//!   (per-minute counters, expiring).
//!
//! Beside the queues, concurrency limits shared by every process (`limit`).

mod ack;
mod backend;
mod backoff;
mod client;
mod conn;
mod error;
pub mod expose;
mod job;
mod keys;
mod limit;
mod scripts;
pub mod timers;

pub use ack::{AckLayer, AckService};
pub use backend::{RedisBackend, Unstarted, WorkerId};
pub use backoff::retry_delay;
pub use client::{delete_matching, Broker, DeadPage, Held, Minute, Queue, QueueStats};
pub use conn::RedisConn;
pub use error::{JobError, QueueError};
pub use job::{EnqueueOptions, Enqueued, FetchedJob, JobInfo, JobMeta, JobStatus};
pub use keys::QueueName;
pub use limit::Leases;
