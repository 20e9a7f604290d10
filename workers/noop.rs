//! The `noop` queue: jobs that do nothing (or sleep, or fail on purpose), for benchmarks, tests
//! and checking a deployment end to end.

use std::time::Duration;

use apalis_core::task::data::Data;
use serde::{Deserialize, Serialize};

use crate::queue::{JobError, JobMeta};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Noop {
    /// Sleep this long before finishing.
    #[serde(default)]
    pub sleep_ms: u64,
    /// Fail (retryably) while the attempt number is at most this.
    #[serde(default)]
    pub fail_attempts: u32,
    /// Fail permanently.
    #[serde(default)]
    pub permanent: bool,
}

pub async fn run(job: Noop, meta: Data<JobMeta>) -> Result<(), JobError> {
    if job.sleep_ms > 0 {
        tokio::time::sleep(Duration::from_millis(job.sleep_ms.min(3_600_000))).await;
    }
    if job.permanent {
        return Err(JobError::permanent("noop asked to fail permanently"));
    }
    if meta.attempt <= job.fail_attempts {
        return Err(JobError::retry(format!(
            "noop asked to fail attempt {} of the first {}",
            meta.attempt, job.fail_attempts
        )));
    }
    Ok(())
}
