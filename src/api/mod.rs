//! The HTTP API: one module per resource, each with `router()`, merged under `/v1` behind the ops
//! bearer token; probes and metrics beside it, unauthenticated, for load balancers and scrapers.

mod auth;
mod dead;
mod extract;
mod health;
mod jobs;
mod problem;
mod queues;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::{middleware, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::config::Settings;
use crate::error::AppError;
use crate::queue::Broker;

/// What every handler can reach. Cheap to clone: each field is a handle.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub broker: Broker,
    /// None where the API runs without PostgreSQL (the queue endpoints need only Redis); then
    /// `/readyz` does not wait for it.
    pub db: Option<PgPool>,
    pub metrics: PrometheusHandle,
}

async fn no_route() -> AppError {
    AppError::NotFound("route".into())
}

/// The whole API with its layers. Outermost first: tracing sees the final status; bare errors
/// from the layers within become problem+json; the timeout bounds everything a handler does; the
/// body limit refuses oversized bodies before a handler buffers them.
pub fn app(state: AppState) -> Router {
    let server = &state.settings.server;
    let body_limit = server.body_limit_bytes;
    let timeout = Duration::from_secs(server.request_timeout_secs);
    let v1 = Router::new()
        .merge(jobs::router())
        .merge(queues::router())
        .merge(dead::router())
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_ops_token,
        ));
    Router::new()
        .merge(health::router())
        .nest("/v1", v1)
        .fallback(no_route)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(RequestBodyLimitLayer::new(body_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(middleware::map_response(problem::for_bare_errors))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
