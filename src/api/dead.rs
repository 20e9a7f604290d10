//! Dead letters: jobs that failed permanently or ran out of attempts, kept for a person to
//! inspect, requeue or purge.

use axum::extract::{Path, State};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::extract::ApiQuery;
use super::jobs::job_id;
use super::queues::known_queue;
use super::AppState;
use crate::api::error::AppError;
use crate::queue::DeadPage;

const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 200;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/queues/{queue}/dead", get(list).delete(purge_all))
        .route("/queues/{queue}/dead/requeue", post(requeue_all))
        .route("/queues/{queue}/dead/{id}", delete(purge_one))
        .route("/queues/{queue}/dead/{id}/requeue", post(requeue_one))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PageQuery {
    cursor: Option<String>,
    limit: Option<usize>,
}

/// How many dead letters an operation moved or deleted.
#[derive(Debug, Serialize)]
struct Count {
    count: u64,
}

/// `GET /v1/queues/{queue}/dead?cursor=&limit=`: newest first; follow `next_cursor` for more.
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

/// Moves every dead letter back to ready with a fresh attempt budget.
async fn requeue_all(
    State(state): State<AppState>,
    Path(queue): Path<String>,
) -> Result<Json<Count>, AppError> {
    let q = known_queue(&state, &queue).await?;
    Ok(Json(Count {
        count: q.requeue_dead(None).await?,
    }))
}

async fn requeue_one(
    State(state): State<AppState>,
    Path((queue, id)): Path<(String, String)>,
) -> Result<Json<Count>, AppError> {
    let q = known_queue(&state, &queue).await?;
    let id = job_id(&id)?;
    one_or_not_found(q.requeue_dead(Some(&id)).await?, &id)
}

async fn purge_all(
    State(state): State<AppState>,
    Path(queue): Path<String>,
) -> Result<Json<Count>, AppError> {
    let q = known_queue(&state, &queue).await?;
    Ok(Json(Count {
        count: q.purge_dead(None).await?,
    }))
}

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
#[openapi()]
pub(super) struct Doc;
