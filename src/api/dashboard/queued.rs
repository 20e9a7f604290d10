//! The jobs behind a row of the operator pages: a channel's waiting stock pushes, a plugin's
//! failing runs. Read from the head of each of the queue's lists, `limit` of each, so a page
//! costs a few round trips however many jobs the queue holds.

use crate::api::error::AppError;
use crate::api::AppState;
use crate::queue::{JobInfo, JobStatus};

/// Jobs of `queue` from the head of each of `lists` (`Scheduled` reads the set retrying jobs
/// share), each with the id its payload names under `field`; jobs naming none are left out.
pub async fn by_payload_id(
    state: &AppState,
    queue: &str,
    lists: &[JobStatus],
    field: &str,
    limit: usize,
) -> Result<Vec<(i64, JobInfo)>, AppError> {
    let queue = state.broker.queue(queue)?;
    let mut out = Vec::new();
    for list in lists {
        for job in queue.list(*list, 0, limit).await? {
            if let Some(id) = job.payload.get(field).and_then(serde_json::Value::as_i64) {
                out.push((id, job));
            }
        }
    }
    Ok(out)
}
