//! The job envelope as stored in Redis and as shown to API callers.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Waiting for its run time.
    Scheduled,
    /// Due, waiting for a worker.
    Ready,
    /// Leased to a worker.
    Running,
    /// Failed an attempt; scheduled to run again.
    Retrying,
    /// Finished; kept for the queue's retention.
    Done,
    /// In the dead letters: failed permanently or out of attempts.
    Dead,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Scheduled => "scheduled",
            JobStatus::Ready => "ready",
            JobStatus::Running => "running",
            JobStatus::Retrying => "retrying",
            JobStatus::Done => "done",
            JobStatus::Dead => "dead",
        }
    }

    fn parse(s: &str) -> Option<JobStatus> {
        Some(match s {
            "scheduled" => JobStatus::Scheduled,
            "ready" => JobStatus::Ready,
            "running" => JobStatus::Running,
            "retrying" => JobStatus::Retrying,
            "done" => JobStatus::Done,
            "dead" => JobStatus::Dead,
            _ => return None,
        })
    }
}

/// How to enqueue one job.
#[derive(Debug, Clone, Default)]
pub struct EnqueueOptions {
    /// Run no earlier than this from now.
    pub delay: Option<Duration>,
    /// While a job holding this key waits to start (or to be retried), enqueueing another
    /// returns the first one's id. The key is released when the job starts, so a change during a
    /// run causes another run, and taken back when a failed job waits for its retry.
    pub unique_key: Option<String>,
    /// Keep the unique key this long even after the job finished (timer ticks fire once even
    /// when a slow replica asks after the job already ran).
    pub unique_for: Option<Duration>,
    /// Overrides the queue's max attempts.
    pub max_attempts: Option<u32>,
    /// Whose job it is (an account). Fetches take waiting jobs round-robin across tenants, so one
    /// tenant's backlog does not hold up another's jobs. Jobs without a tenant take a turn of
    /// their own. At most 64 ASCII letters, digits, `-` or `_`.
    pub tenant: Option<String>,
}

impl EnqueueOptions {
    /// The tenant as the scripts take it: '' for none.
    pub(crate) fn tenant_arg(&self) -> Result<&str, super::QueueError> {
        match self.tenant.as_deref() {
            None => Ok(""),
            Some(t)
                if !t.is_empty()
                    && t.len() <= 64
                    && t.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
            {
                Ok(t)
            }
            Some(t) => Err(super::QueueError::InvalidTenant(t.to_owned())),
        }
    }
}

/// What an enqueue did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"id": "01M91KM9GXA0G59E79939MWSNQ", "created": true}))]
pub struct Enqueued {
    /// The job's id (a ULID).
    pub id: String,
    /// False when a unique key was held and `id` is the existing job's.
    pub created: bool,
}

/// A job as the backend hands it to a worker.
#[derive(Debug, Clone)]
pub struct FetchedJob {
    pub id: String,
    pub attempt: u32,
    pub payload: String,
    pub enqueued_at_ms: i64,
    pub run_at_ms: i64,
}

/// What a running job knows about itself; available to handlers as task data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobMeta {
    pub id: String,
    pub attempt: u32,
    pub enqueued_at_ms: i64,
    pub run_at_ms: i64,
}

/// A job as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = Job, example = json!({
    "id": "01M91KM9H4BX5WSAE92EKRW8M7",
    "queue": "noop",
    "status": "done",
    "payload": {"fail_attempts": 1},
    "attempts": 2,
    "max_attempts": 3,
    "last_error": "noop asked to fail attempt 1 of the first 1",
    "unique_key": null,
    "enqueued_at": "2026-12-04T22:43:34.053Z",
    "run_at": "2026-12-04T22:43:34.218Z",
    "started_at": "2026-12-04T22:43:34.264Z",
    "finished_at": "2026-12-04T22:43:34.265Z",
    "worker": "noop@local:24261:FS30TV"
}))]
pub struct JobInfo {
    /// A ULID.
    pub id: String,
    pub queue: String,
    pub status: JobStatus,
    /// The payload as enqueued (see `ImportOrdersJob` and the other job schemas); null only when
    /// the stored payload cannot be read.
    #[schema(value_type = Value)]
    pub payload: serde_json::Value,
    /// Attempts started so far.
    pub attempts: u32,
    /// Attempts allowed before the job goes to the dead letters.
    pub max_attempts: u32,
    /// Why the last attempt failed (or why the job went to the dead letters).
    pub last_error: Option<String>,
    /// The unique key it was enqueued with.
    pub unique_key: Option<String>,
    pub enqueued_at: Option<DateTime<Utc>>,
    /// When it is (or was) due to run.
    pub run_at: Option<DateTime<Utc>>,
    /// When its last attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished: done, or dead.
    pub finished_at: Option<DateTime<Utc>>,
    /// The worker that ran (or runs) its last attempt.
    pub worker: Option<String>,
}

fn ms_to_time(v: Option<&String>) -> Option<DateTime<Utc>> {
    let ms = v?.parse::<i64>().ok()?;
    Utc.timestamp_millis_opt(ms).single()
}

impl JobInfo {
    /// Builds the view from a job hash; None when the hash is empty or unreadable.
    pub(crate) fn from_hash(queue: &str, h: &HashMap<String, String>) -> Option<JobInfo> {
        let status = JobStatus::parse(h.get("status")?)?;
        let payload = h
            .get("payload")
            .and_then(|p| serde_json::from_str(p).ok())
            .unwrap_or(serde_json::Value::Null);
        let non_empty = |k: &str| h.get(k).filter(|v| !v.is_empty()).cloned();
        Some(JobInfo {
            id: h.get("id")?.clone(),
            queue: queue.to_owned(),
            status,
            payload,
            attempts: h.get("attempt").and_then(|v| v.parse().ok()).unwrap_or(0),
            max_attempts: h
                .get("max_attempts")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
            last_error: non_empty("last_error"),
            unique_key: non_empty("unique"),
            enqueued_at: ms_to_time(h.get("enqueued_at")),
            run_at: ms_to_time(h.get("run_at")),
            started_at: ms_to_time(h.get("started_at")),
            finished_at: ms_to_time(h.get("finished_at")),
            worker: non_empty("worker"),
        })
    }
}
