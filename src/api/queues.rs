//! Queue statistics and control: what an ops dashboard polls and the switches it flips.

use std::collections::BTreeSet;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;

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
pub(super) async fn known_queue(state: &AppState, name: &str) -> Result<Queue, AppError> {
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

#[derive(Debug, Serialize)]
struct QueueList {
    queues: Vec<QueueStats>,
}

/// `GET /v1/queues`: one pipelined read per queue, run concurrently, so polling it every second
/// stays cheap.
async fn list(State(state): State<AppState>) -> Result<Json<QueueList>, AppError> {
    let queues = all_queue_names(&state)
        .await?
        .iter()
        .filter_map(|name| state.broker.queue(name).ok())
        .collect::<Vec<_>>();
    let stats = futures::future::try_join_all(queues.iter().map(Queue::stats)).await?;
    Ok(Json(QueueList { queues: stats }))
}

async fn one(
    State(state): State<AppState>,
    Path(queue): Path<String>,
) -> Result<Json<QueueStats>, AppError> {
    Ok(Json(known_queue(&state, &queue).await?.stats().await?))
}

/// Workers stop fetching from a paused queue; jobs keep arriving and wait.
async fn pause(
    State(state): State<AppState>,
    Path(queue): Path<String>,
) -> Result<StatusCode, AppError> {
    known_queue(&state, &queue).await?.pause().await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn resume(
    State(state): State<AppState>,
    Path(queue): Path<String>,
) -> Result<StatusCode, AppError> {
    known_queue(&state, &queue).await?.resume().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// This module's part of the OpenAPI document (see [`super::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi()]
pub(super) struct Doc;
