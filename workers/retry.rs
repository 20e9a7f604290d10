//! What a failure means for the job: the queue's verdict on a connector's error and on a
//! database error, so a worker writes `?` and the failure steers its retries.

use crate::connectors::ConnectorError;
use crate::queue::JobError;
use crate::store::StoreError;

impl From<ConnectorError> for JobError {
    fn from(err: ConnectorError) -> JobError {
        match err {
            ConnectorError::RateLimited {
                retry_after,
                ref message,
            } => JobError::RetryAfter {
                message: format!("rate limited by the channel: {message}"),
                after: retry_after,
            },
            ConnectorError::Transient { .. } | ConnectorError::Malformed(_) => {
                JobError::Retry(err.to_string())
            }
            ConnectorError::Auth { .. }
            | ConnectorError::Rejected { .. }
            | ConnectorError::Invalid(_) => JobError::Permanent(err.to_string()),
        }
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
