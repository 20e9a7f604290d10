//! Enqueueing jobs and reading one back.
//!
//! Every payload is checked against its queue's type before anything is written, so a caller's
//! mistake is a 422 naming the field, never a job that dies in a worker later; a bulk enqueue is
//! checked whole first, so it is written entirely or not at all.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use ulid::Ulid;
use utoipa::openapi::schema::{AnyOfBuilder, ArrayBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};

use super::extract::ApiJson;
use super::openapi::Problem;
use super::queues::{QueuePath, QUEUE_PARAM};
use super::AppState;
use crate::api::error::AppError;
use crate::jobs;
use crate::jobs::{Kind, PayloadError};
use crate::queue::{EnqueueOptions, Enqueued, JobInfo, Queue};

/// Jobs accepted by one bulk request: enough to batch usefully, few enough to validate and
/// pipeline within a request timeout.
const MAX_BULK: usize = 1000;
/// Furthest ahead a job may be scheduled. Beyond a year is a caller's bug, not a plan.
const MAX_DELAY: Duration = Duration::from_secs(365 * 24 * 3600);
/// Upper bound on a job's own `max_attempts`, so a typo cannot keep a failing job alive forever.
const MAX_ATTEMPTS: u32 = 1000;
/// Longest unique key, in bytes; it becomes part of a Redis key.
const MAX_UNIQUE_KEY: usize = 256;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/queues/{queue}/jobs", post(enqueue))
        .route("/queues/{queue}/jobs/bulk", post(enqueue_bulk))
        .route("/jobs/{queue}/{id}", get(job))
}

/// One job. `delay_ms` and `run_at` are exclusive; with neither, the job is ready at once.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "payload": {"sleep_ms": 10},
    "delay_ms": 60000,
    "unique_key": "smoke-test"
}))]
struct EnqueueRequest {
    #[schema(schema_with = payload_schema)]
    payload: Value,
    /// Run no earlier than this many milliseconds from now, at most 365 days.
    #[serde(default)]
    #[schema(maximum = 31_536_000_000_u64)]
    delay_ms: Option<u64>,
    /// Run no earlier than this, at most 365 days ahead; a past time means now.
    #[serde(default)]
    run_at: Option<DateTime<Utc>>,
    /// 1 to 256 bytes. While a job holding this key waits to start (or to be retried), another
    /// enqueue with it answers that job (200) instead of making one.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 256)]
    unique_key: Option<String>,
    /// Attempts before the job goes to the dead letters, 1 to 1000 (default: the queue's
    /// `max_attempts` setting).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1000)]
    max_attempts: Option<u32>,
}

/// Many payloads with one schedule. No unique key: one key would coalesce them all into one job.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "jobs": [{}, {"permanent": true}, {"fail_attempts": 1}],
    "max_attempts": 3
}))]
struct BulkEnqueueRequest {
    #[schema(schema_with = payloads_schema)]
    jobs: Vec<Value>,
    /// As for one job; applies to every job.
    #[serde(default)]
    #[schema(maximum = 31_536_000_000_u64)]
    delay_ms: Option<u64>,
    /// As for one job; applies to every job.
    #[serde(default)]
    run_at: Option<DateTime<Utc>>,
    /// As for one job; applies to every job.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1000)]
    max_attempts: Option<u32>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"jobs": [
    {"id": "01M91KM9H4NX200FQ5G88Z9K33", "created": true},
    {"id": "01M91KM9H4V62RJF86G5363AG5", "created": true},
    {"id": "01M91KM9H4BX5WSAE92EKRW8M7", "created": true}
]}))]
struct BulkEnqueued {
    /// One per payload, in the request's order.
    jobs: Vec<Enqueued>,
}

/// A job's payload: an object of its queue's type, which [`JobSchemas`] puts in the
/// document. Any of them, as the queue is in the path, and two queues share a shape.
fn payload_schema() -> AnyOfBuilder {
    let mut list = String::new();
    let mut any = AnyOfBuilder::new();
    for kind in Kind::ALL {
        let (name, _) = kind.payload_schemas();
        list.push_str(&format!("\n- `{}`: `{name}`", kind.name()));
        any = any.item(Ref::from_schema_name(name));
    }
    any.description(Some(format!(
        "The job's arguments, an object of the queue's payload type (`src/jobs/`):{list}"
    )))
}

fn payloads_schema() -> ArrayBuilder {
    ArrayBuilder::new()
        .items(payload_schema())
        .min_items(Some(1))
        .max_items(Some(MAX_BULK))
        .description(Some(
            "1 to 1000 payloads, each of the queue's type; one that does not fit refuses them all.",
        ))
}

/// Adds every queue's payload schema to the document's components, and makes the enqueue
/// bodies refuse `delay_ms` with `run_at`, as [`delay`] does.
struct JobSchemas;

impl utoipa::Modify for JobSchemas {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        for kind in Kind::ALL {
            let (_, schemas) = kind.payload_schemas();
            components.schemas.extend(schemas);
        }
        let both = serde_json::json!({
            "required": ["delay_ms", "run_at"],
            "properties": { "delay_ms": { "type": "integer" }, "run_at": { "type": "string" } }
        });
        for body in ["EnqueueRequest", "BulkEnqueueRequest"] {
            if let Some(RefOr::T(Schema::Object(o))) = components.schemas.get_mut(body) {
                // utoipa's Object has no `not`; its extensions are written into it as they are.
                o.extensions
                    .get_or_insert_with(Default::default)
                    .insert("not".to_owned(), both.clone());
            }
        }
    }
}

/// A job id as the queue stores it (a ULID, upper case). Anything else cannot name a job, and
/// must not reach a script that reads `*` as "every job".
pub(crate) fn job_id(id: &str) -> Result<String, AppError> {
    Ulid::from_string(id)
        .map(|u| u.to_string())
        .map_err(|_| AppError::NotFound(format!("job `{id}`")))
}

/// The typed queue `name`, or 404: only queues with a payload type accept jobs.
fn typed_queue(state: &AppState, name: &str) -> Result<Queue, AppError> {
    let not_found = || AppError::NotFound(format!("queue `{name}`"));
    if !jobs::QUEUES.contains(&name) {
        return Err(not_found());
    }
    state.broker.queue(name).map_err(|_| not_found())
}

/// The delay before a job may run, from either `delay_ms` or `run_at` (never both).
fn delay(
    delay_ms: Option<u64>,
    run_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Option<Duration>, AppError> {
    let too_far = |field: &str| {
        AppError::invalid(
            format!(
                "`{field}` is more than {} days ahead",
                MAX_DELAY.as_secs() / 86_400
            ),
            Some(field.to_owned()),
        )
    };
    match (delay_ms, run_at) {
        (Some(_), Some(_)) => Err(AppError::invalid(
            "give `delay_ms` or `run_at`, not both",
            Some("run_at".to_owned()),
        )),
        (Some(ms), None) => {
            let d = Duration::from_millis(ms);
            if d > MAX_DELAY {
                return Err(too_far("delay_ms"));
            }
            Ok((ms > 0).then_some(d))
        }
        (None, Some(at)) => {
            // A time in the past means "now": the caller asked for no earlier than that.
            let d = (at - now).to_std().unwrap_or(Duration::ZERO);
            if d > MAX_DELAY {
                return Err(too_far("run_at"));
            }
            Ok((!d.is_zero()).then_some(d))
        }
        (None, None) => Ok(None),
    }
}

fn check_max_attempts(max_attempts: Option<u32>) -> Result<(), AppError> {
    match max_attempts {
        Some(n) if n == 0 || n > MAX_ATTEMPTS => Err(AppError::invalid(
            format!("`max_attempts` must be between 1 and {MAX_ATTEMPTS}"),
            Some("max_attempts".to_owned()),
        )),
        _ => Ok(()),
    }
}

fn check_unique_key(key: Option<&str>) -> Result<(), AppError> {
    match key {
        Some(k) if k.is_empty() || k.len() > MAX_UNIQUE_KEY => Err(AppError::invalid(
            format!("`unique_key` must be 1 to {MAX_UNIQUE_KEY} bytes"),
            Some("unique_key".to_owned()),
        )),
        _ => Ok(()),
    }
}

/// Checks one payload against its queue's type. `at` is where the payload sits in the request
/// body (`payload`, `jobs[3]`), so the error's field is a path into what the caller sent.
fn check_payload(queue: &str, payload: &Value, at: &str) -> Result<String, AppError> {
    if !payload.is_object() {
        return Err(AppError::invalid(
            "a job payload must be a JSON object",
            Some(at.to_owned()),
        ));
    }
    match jobs::validate_payload(queue, payload) {
        Ok(()) => Ok(payload.to_string()),
        Err(PayloadError::UnknownQueue(q)) => Err(AppError::NotFound(format!("queue `{q}`"))),
        Err(e) => {
            let path = match &e {
                PayloadError::Field { field, .. } if field != "payload" => format!("{at}.{field}"),
                _ => at.to_owned(),
            };
            Err(AppError::invalid(e.to_string(), Some(path)))
        }
    }
}

/// Enqueue a job.
///
/// The payload is checked against the queue's type before anything is written: a mistake is a
/// 422 naming the field (`payload.channel_id`), never a job that dies in a worker.
#[utoipa::path(
    post, path = "/v1/queues/{queue}/jobs", operation_id = "enqueueJob", tag = "Jobs",
    params(("queue" = inline(QueuePath), Path, description = "The queue; only these take jobs, any other name answers 404")),
    request_body = EnqueueRequest,
    responses(
        (status = 201, description = "Enqueued", body = Enqueued,
         headers(("location" = String, description = "`/v1/jobs/{queue}/{id}`"))),
        (status = 200, description = "A job holding `unique_key` is still waiting: that job, not a new one (`created` false)", body = Enqueued,
         headers(("location" = String, description = "`/v1/jobs/{queue}/{id}`"))),
        (status = 404, description = "No typed queue of this name (`not-found`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn enqueue(
    State(state): State<AppState>,
    Path(queue): Path<String>,
    ApiJson(req): ApiJson<EnqueueRequest>,
) -> Result<Response, AppError> {
    let q = typed_queue(&state, &queue)?;
    let delay = delay(req.delay_ms, req.run_at, Utc::now())?;
    check_max_attempts(req.max_attempts)?;
    check_unique_key(req.unique_key.as_deref())?;
    let payload = check_payload(&queue, &req.payload, "payload")?;
    let opts = EnqueueOptions {
        delay,
        unique_key: req.unique_key,
        unique_for: None,
        max_attempts: req.max_attempts,
        tenant: None,
    };
    let enqueued = q.enqueue_json(&payload, &opts).await?;
    let status = if enqueued.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let location = HeaderValue::from_str(&format!("/v1/jobs/{queue}/{}", enqueued.id)).ok();
    let mut res = (status, Json(enqueued)).into_response();
    if let Some(location) = location {
        res.headers_mut().insert(LOCATION, location);
    }
    Ok(res)
}

/// Enqueue many jobs at once.
///
/// Every payload is checked before any is written, so the jobs are all enqueued or none is; a
/// mistake's `field` is its index (`jobs[3].channel_id`).
#[utoipa::path(
    post, path = "/v1/queues/{queue}/jobs/bulk", operation_id = "enqueueJobs", tag = "Jobs",
    params(("queue" = inline(QueuePath), Path, description = "The queue; only these take jobs, any other name answers 404")),
    request_body = BulkEnqueueRequest,
    responses(
        (status = 201, description = "Enqueued, one job per payload", body = BulkEnqueued),
        (status = 404, description = "No typed queue of this name (`not-found`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn enqueue_bulk(
    State(state): State<AppState>,
    Path(queue): Path<String>,
    ApiJson(req): ApiJson<BulkEnqueueRequest>,
) -> Result<(StatusCode, Json<BulkEnqueued>), AppError> {
    let q = typed_queue(&state, &queue)?;
    if req.jobs.is_empty() || req.jobs.len() > MAX_BULK {
        return Err(AppError::invalid(
            format!("`jobs` must hold 1 to {MAX_BULK} payloads"),
            Some("jobs".to_owned()),
        ));
    }
    let delay = delay(req.delay_ms, req.run_at, Utc::now())?;
    check_max_attempts(req.max_attempts)?;
    let payloads = req
        .jobs
        .iter()
        .enumerate()
        .map(|(i, p)| check_payload(&queue, p, &format!("jobs[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let opts = EnqueueOptions {
        delay,
        unique_key: None,
        unique_for: None,
        max_attempts: req.max_attempts,
        tenant: None,
    };
    let jobs = q.enqueue_bulk_json(&payloads, &opts).await?;
    Ok((StatusCode::CREATED, Json(BulkEnqueued { jobs })))
}

/// Read a job: its status, attempts, last error and times.
///
/// A finished job is kept for its queue's retention (`done_retention_*` once done,
/// `dead_retention_*` once dead), then answers 404.
#[utoipa::path(
    get, path = "/v1/jobs/{queue}/{id}", operation_id = "getJob", tag = "Jobs",
    params(
        ("queue" = inline(QueuePath), Path, description = QUEUE_PARAM),
        ("id" = String, Path, description = "The job's id, a ULID as enqueueing answered it; anything else answers 404", example = "01M91KM9H4BX5WSAE92EKRW8M7"),
    ),
    responses(
        (status = 200, description = "The job", body = JobInfo),
        (status = 404, description = "No such queue, or no such job in it (any more) (`not-found`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn job(
    State(state): State<AppState>,
    Path((queue, id)): Path<(String, String)>,
) -> Result<Json<JobInfo>, AppError> {
    let q = super::queues::known_queue(&state, &queue).await?;
    let id = job_id(&id)?;
    q.job(&id)
        .await?
        .map(Json)
        .ok_or_else(|| AppError::NotFound(format!("job `{id}`")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn field(e: AppError) -> Option<String> {
        match e {
            AppError::Invalid { field, .. } => field,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn delay_and_run_at_are_exclusive_and_bounded() {
        let now = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(delay(None, None, now).ok(), Some(None));
        assert_eq!(
            delay(Some(1500), None, now).ok(),
            Some(Some(Duration::from_millis(1500)))
        );
        assert_eq!(
            delay(None, Some(now + chrono::Duration::seconds(90)), now).ok(),
            Some(Some(Duration::from_secs(90)))
        );
        assert_eq!(
            delay(None, Some(now - chrono::Duration::seconds(90)), now).ok(),
            Some(None),
            "a past run_at runs now"
        );
        let both = delay(Some(1), Some(now), now).map(|_| ());
        assert_eq!(both.err().and_then(field).as_deref(), Some("run_at"));
        let far = delay(Some(u64::MAX), None, now).map(|_| ());
        assert_eq!(far.err().and_then(field).as_deref(), Some("delay_ms"));
    }

    #[test]
    fn payload_errors_are_paths_into_the_request() {
        let err = |p: Value, at: &str| check_payload("import-orders", &p, at).err();
        assert_eq!(
            err(
                serde_json::json!({"channel_id": "x", "reason": "manual"}),
                "payload"
            )
            .and_then(field)
            .as_deref(),
            Some("payload.channel_id")
        );
        assert_eq!(
            err(serde_json::json!({"channel_id": 1}), "jobs[2]")
                .and_then(field)
                .as_deref(),
            Some("jobs[2].reason")
        );
        assert_eq!(
            err(serde_json::json!(5), "payload")
                .and_then(field)
                .as_deref(),
            Some("payload")
        );
        assert!(check_payload(
            "import-orders",
            &serde_json::json!({"channel_id": 1, "reason": "timer"}),
            "payload"
        )
        .is_ok());
    }

    #[test]
    fn only_ulids_are_job_ids() {
        let id = Ulid::new().to_string();
        assert_eq!(job_id(&id.to_lowercase()).ok(), Some(id));
        assert!(job_id("*").is_err());
        assert!(job_id("01J").is_err());
    }
}

/// This module's part of the OpenAPI document (see [`super::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi(paths(enqueue, enqueue_bulk, job), modifiers(&JobSchemas))]
pub(super) struct Doc;
