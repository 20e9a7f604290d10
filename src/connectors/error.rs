//! What can go wrong talking to a channel, sorted by what the caller should do about it (the
//! workers map each kind onto the queue's retry vocabulary).
//!
//! Messages carry the platform's own words (so a merchant reading a dead letter sees "Invalid API
//! key or access token", not "401") and never a credential: request URLs are stripped from
//! transport errors because signed WooCommerce URLs carry the consumer key.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConnectorError {
    /// The platform asked us to slow down (429) and the wait was longer than we hold a caller.
    #[error("rate limited by the channel: {message} (retry after {retry_after:?})")]
    RateLimited {
        retry_after: Duration,
        message: String,
    },
    /// A 5xx, a timeout or a dropped connection: the same call may well work later.
    #[error("channel unavailable: {message}")]
    Transient {
        status: Option<u16>,
        message: String,
    },
    /// 401/403: the credentials are wrong or lack a scope. Retrying cannot fix it.
    #[error("channel refused the credentials: {message}")]
    Auth { status: u16, message: String },
    /// Any other 4xx: the platform understood and said no (unknown order, invalid quantity, ...).
    #[error("channel rejected the request ({status}): {message}")]
    Rejected { status: u16, message: String },
    /// A response that does not parse as the platform documents it. Usually a truncated body or a
    /// proxy's error page, so it is treated as transient.
    #[error("channel sent a malformed response: {0}")]
    Malformed(String),
    /// The call could not be made as asked (bad base URL, a listing without the id the platform
    /// needs): a bug or a misconfigured channel, not a platform condition.
    #[error("invalid request: {0}")]
    Invalid(String),
}

impl ConnectorError {
    /// The error in words that name the platform (`Xero rejected the request (400): ...`), for
    /// callers that know which one it was; `Display` says "channel".
    pub fn said_by(&self, platform: &str) -> String {
        match self {
            ConnectorError::RateLimited {
                retry_after,
                message,
            } => format!("rate limited by {platform}: {message} (retry after {retry_after:?})"),
            ConnectorError::Transient { message, .. } => {
                format!("{platform} unavailable: {message}")
            }
            ConnectorError::Auth { message, .. } => {
                format!("{platform} refused the credentials: {message}")
            }
            ConnectorError::Rejected { status, message } => {
                format!("{platform} rejected the request ({status}): {message}")
            }
            ConnectorError::Malformed(message) => {
                format!("{platform} sent a malformed response: {message}")
            }
            ConnectorError::Invalid(message) => format!("invalid request: {message}"),
        }
    }

    /// True when retrying the same call later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ConnectorError::RateLimited { .. }
                | ConnectorError::Transient { .. }
                | ConnectorError::Malformed(_)
        )
    }
}
