//! Errors of the queue itself, and the errors a job handler returns to steer its retries.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("unexpected reply from a queue script: {0}")]
    Protocol(String),
    #[error("payload could not be encoded: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("invalid queue name `{0}`")]
    InvalidQueue(String),
    #[error("invalid tenant `{0}`: at most 64 ASCII letters, digits, `-` or `_`")]
    InvalidTenant(String),
}

/// The error a job handler returns. It tells the queue what to do next.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Retrying cannot help (bad payload, a 4xx the platform will repeat): straight to the dead
    /// letters with this message.
    #[error("{0}")]
    Permanent(String),
    /// Try again after the queue's backoff.
    #[error("{0}")]
    Retry(String),
    /// Try again no earlier than this (a platform's Retry-After).
    #[error("{message} (retry after {after:?})")]
    RetryAfter { message: String, after: Duration },
}

impl JobError {
    pub fn permanent(msg: impl std::fmt::Display) -> JobError {
        JobError::Permanent(msg.to_string())
    }

    pub fn retry(msg: impl std::fmt::Display) -> JobError {
        JobError::Retry(msg.to_string())
    }
}
