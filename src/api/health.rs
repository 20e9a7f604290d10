//! Probes and metrics, outside `/v1` and without a token: load balancers, orchestrators and
//! Prometheus call them and hold no credentials.

use std::time::Duration;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::{problem, AppState};
use crate::jobs;

/// How long a readiness probe waits for each store: well under an orchestrator's probe timeout,
/// so a hung store reads as "not ready" rather than as a hung probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The depth states exported per queue.
const DEPTH_STATES: [&str; 4] = ["ready", "scheduled", "running", "dead"];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// Alive: the process answers. Says nothing about its stores, so an orchestrator does not
/// restart a healthy process because Redis blinked.
async fn healthz() -> &'static str {
    "ok"
}

/// Ready: Redis answers a PING and, when the API has a database, PostgreSQL answers `SELECT 1`.
async fn readyz(State(state): State<AppState>) -> Response {
    let redis = async {
        tokio::time::timeout(PROBE_TIMEOUT, state.broker.ping())
            .await
            .unwrap_or(false)
    };
    let postgres = async {
        match &state.db {
            None => true,
            Some(pool) => matches!(
                tokio::time::timeout(PROBE_TIMEOUT, sqlx::query("SELECT 1").execute(pool)).await,
                Ok(Ok(_))
            ),
        }
    };
    let (redis, postgres) = tokio::join!(redis, postgres);
    let down: Vec<&str> = [("redis", redis), ("postgres", postgres)]
        .into_iter()
        .filter_map(|(name, up)| (!up).then_some(name))
        .collect();
    if down.is_empty() {
        "ready".into_response()
    } else {
        problem::not_ready(&down)
    }
}

/// Sets `switchyard_queue_depth{queue,state}` for every typed queue from its stats. Depths are
/// read at scrape time rather than tracked on every enqueue and ack, because only Redis knows
/// them across all processes. A queue whose stats cannot be read keeps its last values.
async fn refresh_queue_depths(state: &AppState) {
    let reads = jobs::QUEUES.iter().map(|name| async move {
        let stats = match state.broker.queue(name) {
            Ok(q) => q.stats().await,
            Err(e) => Err(e),
        };
        (*name, stats)
    });
    for (name, stats) in futures::future::join_all(reads).await {
        match stats {
            Ok(s) => {
                let depths = [s.ready, s.scheduled, s.running, s.dead];
                for (state, depth) in DEPTH_STATES.into_iter().zip(depths) {
                    metrics::gauge!("switchyard_queue_depth", "queue" => name, "state" => state)
                        .set(depth as f64);
                }
            }
            Err(e) => tracing::warn!(queue = name, error = %e, "could not read queue depth"),
        }
    }
}

/// Prometheus text exposition of everything the process recorded, queue depths refreshed first.
async fn metrics(State(state): State<AppState>) -> Response {
    refresh_queue_depths(&state).await;
    state.metrics.run_upkeep();
    let mut res = state.metrics.render().into_response();
    res.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    res
}

/// This module's part of the OpenAPI document (see [`super::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi()]
pub(super) struct Doc;
