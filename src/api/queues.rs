//! Queue statistics and control: what an ops dashboard polls and the switches it flips.

use std::collections::BTreeSet;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;

use super::openapi::Problem;
use super::AppState;
use crate::api::error::AppError;
use crate::jobs;
use crate::queue::{Queue, QueueName, QueueStats};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/queues", get(list))
        .route("/queues/{queue}", get(one))
        .route("/queues/{queue}/pause", post(pause))
        .route("/queues/{queue}/resume", post(resume))
}

/// Every typed queue, plus any other queue used under this key prefix (benchmarks, retired
/// queues still holding dead letters), sorted.
async fn all_queue_names(state: &AppState) -> Result<Vec<String>, AppError> {
    let mut names: BTreeSet<String> = jobs::QUEUES.iter().map(|q| (*q).to_owned()).collect();
    names.extend(state.broker.queue_names().await?);
    Ok(names.into_iter().collect())
}

/// The queue `name` if it is typed or has been used; 404 otherwise, so that a typo in a path
/// neither shows an empty queue nor (through pause) creates one.
pub(crate) async fn known_queue(state: &AppState, name: &str) -> Result<Queue, AppError> {
    let not_found = || AppError::NotFound(format!("queue `{name}`"));
    if !QueueName::is_valid(name) {
        return Err(not_found());
    }
    let known =
        jobs::QUEUES.contains(&name) || state.broker.queue_names().await?.iter().any(|n| n == name);
    if !known {
        return Err(not_found());
    }
    state.broker.queue(name).map_err(|_| not_found())
}

/// The `{queue}` path segment in the document: the typed queues' names.
pub(super) struct QueuePath;

impl utoipa::PartialSchema for QueuePath {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(jobs::QUEUES.iter().copied()))
            .description(Some(
                "A typed queue: each takes the jobs of one payload type.",
            ))
            .into()
    }
}

/// The `{queue}` parameter of the routes that read or steer a queue, which [`known_queue`] finds.
pub(super) const QUEUE_PARAM: &str = "The queue. A queue outside this list that still holds \
    jobs under this deployment's key prefix (a retired one, a benchmark's) is answered too; any \
    other name answers 404 (`not-found`).";

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct QueueList {
    /// Every typed queue, and any other queue used under this deployment's key prefix, by name.
    queues: Vec<QueueStats>,
}

/// List every queue with its depths and counters.
///
/// One pipelined read per queue, run concurrently, so polling it every second stays cheap.
#[utoipa::path(
    get, path = "/v1/queues", operation_id = "listQueues", tag = "Queues",
    responses((status = 200, description = "Every queue's statistics", body = QueueList)),
)]
async fn list(State(state): State<AppState>) -> Result<Json<QueueList>, AppError> {
    Ok(Json(QueueList {
        queues: all_stats(&state).await?,
    }))
}

/// The statistics of every queue [`all_queue_names`] names, read at once; the list route's and
/// the dashboard's.
pub(crate) async fn all_stats(state: &AppState) -> Result<Vec<QueueStats>, AppError> {
    let queues = all_queue_names(state)
        .await?
        .iter()
        .filter_map(|name| state.broker.queue(name).ok())
        .collect::<Vec<_>>();
    Ok(futures::future::try_join_all(queues.iter().map(Queue::stats)).await?)
}

/// Read one queue's depths and counters.
#[utoipa::path(
    get, path = "/v1/queues/{queue}", operation_id = "getQueue", tag = "Queues",
    params(("queue" = inline(QueuePath), Path, description = QUEUE_PARAM)),
    responses(
        (status = 200, description = "The queue's statistics", body = QueueStats),
        (status = 404, description = "No such queue (`not-found`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn one(
    State(state): State<AppState>,
    Path(queue): Path<String>,
) -> Result<Json<QueueStats>, AppError> {
    Ok(Json(known_queue(&state, &queue).await?.stats().await?))
}

/// Pause a queue: workers stop fetching from it; jobs keep arriving and wait.
///
/// Jobs already running finish. Pausing a paused queue changes nothing.
#[utoipa::path(
    post, path = "/v1/queues/{queue}/pause", operation_id = "pauseQueue", tag = "Queues",
    params(("queue" = inline(QueuePath), Path, description = QUEUE_PARAM)),
    responses(
        (status = 204, description = "Paused"),
        (status = 404, description = "No such queue (`not-found`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn pause(
    State(state): State<AppState>,
    Path(queue): Path<String>,
) -> Result<StatusCode, AppError> {
    known_queue(&state, &queue).await?.pause().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Resume a paused queue.
///
/// Resuming a queue that is not paused changes nothing.
#[utoipa::path(
    post, path = "/v1/queues/{queue}/resume", operation_id = "resumeQueue", tag = "Queues",
    params(("queue" = inline(QueuePath), Path, description = QUEUE_PARAM)),
    responses(
        (status = 204, description = "Resumed"),
        (status = 404, description = "No such queue (`not-found`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn resume(
    State(state): State<AppState>,
    Path(queue): Path<String>,
) -> Result<StatusCode, AppError> {
    known_queue(&state, &queue).await?.resume().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// This module's part of the OpenAPI document (see [`super::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, one, pause, resume))]
pub(super) struct Doc;
