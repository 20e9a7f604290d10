//! Dead letters: jobs that failed permanently or ran out of attempts, kept for a person to
//! inspect, requeue or purge.

use axum::extract::{Path, State};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::extract::ApiQuery;
use super::jobs::job_id;
use super::openapi::Problem;
use super::queues::{known_queue, QueuePath, QUEUE_PARAM};
use super::AppState;
use crate::api::error::AppError;
use crate::queue::DeadPage;

/// The `{id}` of a dead letter.
const DEAD_ID: &str = "The dead job's id, a ULID; anything else answers 404";

const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 200;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/queues/{queue}/dead", get(list).delete(purge_all))
        .route("/queues/{queue}/dead/requeue", post(requeue_all))
        .route("/queues/{queue}/dead/{id}", delete(purge_one))
        .route("/queues/{queue}/dead/{id}/requeue", post(requeue_one))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct PageQuery {
    /// The previous page's `next_cursor`; none for the first page.
    #[param(pattern = "^[0-9]{1,9}$")]
    cursor: Option<String>,
    /// Dead letters per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<usize>,
}

/// How many dead letters an operation moved or deleted.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = DeadLetterCount, example = json!({"count": 4}))]
struct Count {
    count: u64,
}

const NOT_DEAD: &str = "No such queue, or no dead job of this id in it (`not-found`)";

/// List a queue's dead letters, newest first.
#[utoipa::path(
    get, path = "/v1/queues/{queue}/dead", operation_id = "listDeadLetters", tag = "Dead letters",
    params(("queue" = inline(QueuePath), Path, description = QUEUE_PARAM), PageQuery),
    responses(
        (status = 200, description = "A page of dead letters", body = DeadPage),
        (status = 404, description = "No such queue (`not-found`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn list(
    State(state): State<AppState>,
    Path(queue): Path<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<DeadPage>, AppError> {
    let limit = page.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(AppError::invalid(
            format!("`limit` must be between 1 and {MAX_LIMIT}"),
            Some("limit".to_owned()),
        ));
    }
    // A cursor is an offset this API returned; anything else would silently start over.
    if page
        .cursor
        .as_deref()
        .is_some_and(|c| c.parse::<u32>().is_err())
    {
        return Err(AppError::invalid(
            "`cursor` is not one this API returned",
            Some("cursor".to_owned()),
        ));
    }
    let q = known_queue(&state, &queue).await?;
    Ok(Json(q.dead(page.cursor.as_deref(), limit).await?))
}

/// A single-id operation that touched nothing means the job was not dead (or not there): 404, so
/// a caller can tell "done" from "nothing to do".
fn one_or_not_found(count: u64, id: &str) -> Result<Json<Count>, AppError> {
    if count == 0 {
        return Err(AppError::NotFound(format!("dead job `{id}`")));
    }
    Ok(Json(Count { count }))
}

/// Move every dead letter of a queue back to ready, each with a fresh attempt budget.
#[utoipa::path(
    post, path = "/v1/queues/{queue}/dead/requeue", operation_id = "requeueDeadLetters", tag = "Dead letters",
    params(("queue" = inline(QueuePath), Path, description = QUEUE_PARAM)),
    responses(
        (status = 200, description = "How many were requeued", body = Count),
        (status = 404, description = "No such queue (`not-found`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn requeue_all(
    State(state): State<AppState>,
    Path(queue): Path<String>,
) -> Result<Json<Count>, AppError> {
    let q = known_queue(&state, &queue).await?;
    Ok(Json(Count {
        count: q.requeue_dead(None).await?,
    }))
}

/// Move one dead letter back to ready with a fresh attempt budget.
#[utoipa::path(
    post, path = "/v1/queues/{queue}/dead/{id}/requeue", operation_id = "requeueDeadLetter", tag = "Dead letters",
    params(
        ("queue" = inline(QueuePath), Path, description = QUEUE_PARAM),
        ("id" = String, Path, description = DEAD_ID, example = "01M91KM9H4V62RJF86G5363AG5"),
    ),
    responses(
        (status = 200, description = "Requeued (`count` 1)", body = Count),
        (status = 404, description = NOT_DEAD, body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn requeue_one(
    State(state): State<AppState>,
    Path((queue, id)): Path<(String, String)>,
) -> Result<Json<Count>, AppError> {
    let q = known_queue(&state, &queue).await?;
    let id = job_id(&id)?;
    one_or_not_found(q.requeue_dead(Some(&id)).await?, &id)
}

/// Delete every dead letter of a queue.
#[utoipa::path(
    delete, path = "/v1/queues/{queue}/dead", operation_id = "purgeDeadLetters", tag = "Dead letters",
    params(("queue" = inline(QueuePath), Path, description = QUEUE_PARAM)),
    responses(
        (status = 200, description = "How many were deleted", body = Count),
        (status = 404, description = "No such queue (`not-found`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn purge_all(
    State(state): State<AppState>,
    Path(queue): Path<String>,
) -> Result<Json<Count>, AppError> {
    let q = known_queue(&state, &queue).await?;
    Ok(Json(Count {
        count: q.purge_dead(None).await?,
    }))
}

/// Delete one dead letter.
#[utoipa::path(
    delete, path = "/v1/queues/{queue}/dead/{id}", operation_id = "purgeDeadLetter", tag = "Dead letters",
    params(
        ("queue" = inline(QueuePath), Path, description = QUEUE_PARAM),
        ("id" = String, Path, description = DEAD_ID, example = "01M91KM9H4V62RJF86G5363AG5"),
    ),
    responses(
        (status = 200, description = "Deleted (`count` 1)", body = Count),
        (status = 404, description = NOT_DEAD, body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn purge_one(
    State(state): State<AppState>,
    Path((queue, id)): Path<(String, String)>,
) -> Result<Json<Count>, AppError> {
    let q = known_queue(&state, &queue).await?;
    let id = job_id(&id)?;
    one_or_not_found(q.purge_dead(Some(&id)).await?, &id)
}

/// This module's part of the OpenAPI document (see [`super::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, purge_all, requeue_all, purge_one, requeue_one))]
pub(super) struct Doc;
