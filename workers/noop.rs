//! The `noop` worker: does nothing, or sleeps, or fails, as the job asks.

use std::time::Duration;

use crate::jobs::Noop;
use crate::queue::{JobError, JobMeta};
use apalis_core::task::data::Data;

pub async fn run(job: Noop, meta: Data<JobMeta>) -> Result<(), JobError> {
    if job.sleep_ms > 0 {
        tokio::time::sleep(Duration::from_millis(job.sleep_ms.min(3_600_000))).await;
    }
    if job.permanent {
        return Err(JobError::permanent("noop asked to fail permanently"));
    }
    if let Some(until) = job.fail_until_ms {
        if chrono::Utc::now().timestamp_millis() < until {
            return Err(JobError::retry(format!(
                "noop asked to fail until {until} (Unix ms)"
            )));
        }
    }
    if meta.attempt <= job.fail_attempts {
        return Err(JobError::retry(format!(
            "noop asked to fail attempt {} of the first {}",
            meta.attempt, job.fail_attempts
        )));
    }
    Ok(())
}
