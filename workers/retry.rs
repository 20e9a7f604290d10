//! What a failure means for the job: the queue's verdict on a connector's error and on a
//! database error, so a worker writes `?` and the failure steers its retries.

use crate::connectors::ConnectorError;
use crate::queue::{Broker, JobError};
use crate::store::StoreError;

/// The verdict on a failed platform call of a job whose call may have taken effect (a push, a
/// create): the error to retry through the queue, or, for a refusal or when the queue's attempts
/// are spent, the reason to give up with, naming `platform` ("channel", "Xero"). The last
/// attempt's outcome is unknown, so its reason says to check the platform (`what` names the
/// call: "push", "create").
pub(super) fn retry_or_give_up(
    broker: &Broker,
    queue: &str,
    attempt: u32,
    err: ConnectorError,
    what: &str,
    platform: &str,
) -> Result<ConnectorError, String> {
    if !err.is_retryable() {
        return Err(err.said_by(platform));
    }
    let max_attempts = broker
        .queue(queue)
        .map(|q| q.policy().max_attempts)
        .unwrap_or(u32::MAX);
    if attempt >= max_attempts {
        return Err(format!(
            "gave up after {attempt} attempts; the last {what}'s outcome is unknown, so check \
             the platform: {}",
            err.said_by(platform)
        ));
    }
    Ok(err)
}

/// A failure of a call to `platform`, as the job's error, in words that name it.
pub(super) fn retry_error(err: ConnectorError, platform: &str) -> JobError {
    let message = err.said_by(platform);
    job_error(&err, message)
}

/// The queue's action for `err`, carrying `message`: wait out a rate limit, retry what may yet
/// work, give up on a refusal.
fn job_error(err: &ConnectorError, message: String) -> JobError {
    match err {
        ConnectorError::RateLimited { retry_after, .. } => JobError::RetryAfter {
            message,
            after: *retry_after,
        },
        e if e.is_retryable() => JobError::Retry(message),
        _ => JobError::Permanent(message),
    }
}

impl From<ConnectorError> for JobError {
    fn from(err: ConnectorError) -> JobError {
        let message = match &err {
            ConnectorError::RateLimited { message, .. } => {
                format!("rate limited by the channel: {message}")
            }
            other => other.to_string(),
        };
        job_error(&err, message)
    }
}

/// A database failure in a worker: transient from the job's point of view, so retried.
impl From<StoreError> for JobError {
    fn from(e: StoreError) -> JobError {
        JobError::retry(format!("database: {e}"))
    }
}

/// See the [`StoreError`] conversion.
impl From<sqlx::Error> for JobError {
    fn from(e: sqlx::Error) -> JobError {
        JobError::retry(format!("database: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::ConnectorError;
    use std::time::Duration;

    #[test]
    fn a_platforms_failures_name_it() {
        let refused = ConnectorError::Rejected {
            status: 400,
            message: "Account code '999' is not valid".into(),
        };
        assert_eq!(
            refused.said_by("Xero"),
            "Xero rejected the request (400): Account code '999' is not valid"
        );
        let down = ConnectorError::Transient {
            status: Some(503),
            message: "503".into(),
        };
        assert!(
            matches!(retry_error(down, "Sage"), JobError::Retry(m) if m == "Sage unavailable: 503")
        );
        let limited = ConnectorError::RateLimited {
            retry_after: Duration::from_secs(60),
            message: "minute".into(),
        };
        assert!(matches!(
            retry_error(limited, "Xero"),
            JobError::RetryAfter { message, after } if message.starts_with("rate limited by Xero: minute") && after == Duration::from_secs(60)
        ));
    }

    #[test]
    fn each_kind_maps_to_the_queue_action_it_needs() {
        let limited = ConnectorError::RateLimited {
            retry_after: Duration::from_secs(3),
            message: "slow down".into(),
        };
        assert!(matches!(
            JobError::from(limited),
            JobError::RetryAfter { after, .. } if after == Duration::from_secs(3)
        ));
        let transient = ConnectorError::Transient {
            status: Some(503),
            message: "Service Unavailable".into(),
        };
        assert!(matches!(JobError::from(transient), JobError::Retry(_)));
        assert!(matches!(
            JobError::from(ConnectorError::Malformed("cut short".into())),
            JobError::Retry(_)
        ));
        let auth = ConnectorError::Auth {
            status: 401,
            message: "Invalid API key".into(),
        };
        assert!(
            matches!(JobError::from(auth), JobError::Permanent(m) if m.contains("Invalid API key"))
        );
        let rejected = ConnectorError::Rejected {
            status: 422,
            message: "Invalid quantity".into(),
        };
        assert!(matches!(JobError::from(rejected), JobError::Permanent(_)));
        assert!(matches!(
            JobError::from(ConnectorError::Invalid("no location".into())),
            JobError::Permanent(_)
        ));
    }
}
