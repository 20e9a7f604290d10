//! Probes and metrics, outside `/v1` and without a token: load balancers, orchestrators and
//! Prometheus call them and hold no credentials.

use std::time::Duration;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::openapi::Problem;
use super::{problem, AppState};
use crate::jobs;
use crate::store::import_state;

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

/// Liveness: the process answers.
///
/// Says nothing about PostgreSQL or Redis, so an orchestrator does not restart a healthy process
/// because Redis blinked.
#[utoipa::path(
    get, path = "/healthz", operation_id = "checkLiveness", tag = "Health",
    responses((status = 200, description = "Alive", body = String, content_type = "text/plain", example = "ok")),
)]
async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: Redis and PostgreSQL answer.
///
/// Redis must answer a PING and, when the API runs with a database, PostgreSQL `SELECT 1`, each
/// within 2 seconds.
#[utoipa::path(
    get, path = "/readyz", operation_id = "checkReadiness", tag = "Health",
    responses(
        (status = 200, description = "Ready", body = String, content_type = "text/plain", example = "ready"),
        (status = 503, description = "A backing store did not answer (`not-ready`); `down` names it", body = Problem, content_type = "application/problem+json",
         example = json!({"type": "https://switchyard.dev/problems/not-ready", "title": "Not ready", "status": 503, "detail": "not ready: redis unreachable", "down": ["redis"]})),
    ),
)]
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

/// Sets `switchyard_channel_breakers{state}`: how many channels' import breakers are open, and
/// half open, over every account. Read at scrape time, like the queue depths, because only
/// PostgreSQL knows them across all worker processes.
async fn refresh_breakers(state: &AppState) {
    let Some(pool) = &state.db else {
        return;
    };
    match import_state::breakers_not_closed(pool).await {
        Ok((open, half_open)) => {
            for (name, n) in [("open", open), ("half_open", half_open)] {
                metrics::gauge!("switchyard_channel_breakers", "state" => name).set(n as f64);
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not count the channels' open breakers"),
    }
}

/// Metrics, in the Prometheus text format.
///
/// What this process recorded (jobs run and their timings, fulfilments, stock pushes, webhook
/// attempts), with `switchyard_queue_depth{queue,state}` read from Redis and
/// `switchyard_channel_breakers{state}` from PostgreSQL at scrape time.
#[utoipa::path(
    get, path = "/metrics", operation_id = "getMetrics", tag = "Health",
    responses((status = 200, description = "Prometheus text exposition format 0.0.4", body = String, content_type = "text/plain",
               example = "# HELP switchyard_queue_depth Jobs in one state (ready, scheduled, running, dead) of one queue, read when /metrics is scraped\n# TYPE switchyard_queue_depth gauge\nswitchyard_queue_depth{queue=\"import-orders\",state=\"ready\"} 0\n")),
)]
async fn metrics(State(state): State<AppState>) -> Response {
    tokio::join!(refresh_queue_depths(&state), refresh_breakers(&state));
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
#[openapi(paths(healthz, readyz, metrics))]
pub(super) struct Doc;
