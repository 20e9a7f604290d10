//! The HTTP API: one module per resource, each with `router()`, merged under `/v1`; probes and
//! metrics beside it, unauthenticated, for load balancers and scrapers.
//!
//! `/v1` holds three audiences, each a router behind its own token (see [`auth`]): ops routes
//! (queues, jobs, dead letters, onboarding accounts) take the ops token; tenant routes (stores,
//! channels, orders) an account's own token, which the [`tenant::Account`] extractor hands to
//! every handler; plugin callbacks a plugin's callback token. So the ops token opens no tenant's
//! data, and no tenant token opens the queues.

mod accounting;
mod accounts;
mod auth;
mod channel_products;
mod channels;
mod contract;
mod dashboard;
mod dead;
pub mod error;
mod extract;
mod fulfilments;
mod health;
pub mod hosted;
mod hosted_pages;
pub mod idempotency;
mod inbound;
mod invoices;
mod jobs;
pub mod openapi;
mod orders;
mod plugin_callbacks;
mod plugin_rules;
mod plugins;
pub mod postman;
pub(crate) mod problem;
mod products;
mod queues;
mod stock_sync;
mod stores;
pub mod tenant;
mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::{middleware, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use self::auth::Audience;
use self::openapi::Access;
use crate::config::Settings;
use crate::queue::Broker;
use error::AppError;

/// What every handler can reach. Cheap to clone: each field is a handle.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub broker: Broker,
    /// None where the API runs without PostgreSQL (the queue endpoints need only Redis); then
    /// `/readyz` does not wait for it.
    pub db: Option<PgPool>,
    pub metrics: PrometheusHandle,
    /// One connector per channel, for verifying inbound webhooks.
    pub connectors: crate::connectors::ConnectorCache,
    /// Requests a minute per hosted page link and client address.
    pub hosted_limits: hosted::Limits,
}

/// `routes` behind `audience`'s token. The idempotency layer runs after the token check, so it
/// scopes a key to the caller the token proved and never sees a request that failed the check.
/// Route layers (the last added runs first) run only for the routes `routes` matches, so a
/// group's token check does not answer for the groups merged beside it.
fn authenticated(
    routes: Router<AppState>,
    state: &AppState,
    audience: Audience,
) -> Router<AppState> {
    routes
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            idempotency::layer,
        ))
        .route_layer(middleware::from_fn_with_state(
            (state.clone(), audience),
            auth::authenticate,
        ))
}

async fn no_route() -> AppError {
    AppError::NotFound("route".into())
}

/// One resource module: its routes, their OpenAPI description, and who may call them. The
/// router and the document are both built from [`PARTS`], so a module's routes and its
/// documentation sit behind the same access.
pub(crate) struct Part {
    pub(crate) router: fn() -> Router<AppState>,
    pub(crate) doc: fn() -> utoipa::openapi::OpenApi,
    pub(crate) access: Access,
}

macro_rules! part {
    ($module:ident, $access:expr) => {
        Part {
            router: $module::router,
            doc: <$module::Doc as utoipa::OpenApi>::openapi,
            access: $access,
        }
    };
}

const OPS: Access = Access::Token(Audience::Ops);
const TENANT: Access = Access::Token(Audience::Tenant);

/// Every resource module. Public parts are served at the root, the rest under `/v1`.
pub(crate) const PARTS: [Part; 21] = [
    part!(health, Access::Public),
    part!(contract, Access::Public),
    part!(jobs, OPS),
    part!(queues, OPS),
    part!(dead, OPS),
    part!(accounts, OPS),
    part!(stores, TENANT),
    part!(channels, TENANT),
    part!(orders, TENANT),
    part!(fulfilments, TENANT),
    part!(products, TENANT),
    part!(channel_products, TENANT),
    part!(plugins, TENANT),
    part!(plugin_rules, TENANT),
    part!(webhooks, TENANT),
    part!(accounting, TENANT),
    part!(invoices, TENANT),
    part!(hosted_pages, TENANT),
    part!(plugin_callbacks, Access::Token(Audience::Plugin)),
    // Inbound channel webhooks carry no token: each proves itself with the platform's HMAC.
    part!(inbound, Access::Platform),
    // The accounting platforms' OAuth redirect carries no token: its single-use state proves it.
    Part {
        router: accounting::callback::router,
        doc: <accounting::callback::Doc as utoipa::OpenApi>::openapi,
        access: Access::Platform,
    },
];

/// The routes of the parts with `access`, merged.
fn routes(access: Access) -> Router<AppState> {
    PARTS
        .iter()
        .filter(|p| p.access == access)
        .fold(Router::new(), |r, p| r.merge((p.router)()))
}

/// The whole API with its layers. Outermost first: tracing sees the final status; bare errors
/// from the layers within become problem+json; the timeout bounds everything a handler does; the
/// body limit refuses oversized bodies before a handler buffers them.
pub fn app(state: AppState) -> Router {
    let server = &state.settings.server;
    let body_limit = server.body_limit_bytes;
    let timeout = Duration::from_secs(server.request_timeout_secs);
    let v1 = [Audience::Ops, Audience::Tenant, Audience::Plugin]
        .into_iter()
        .fold(routes(Access::Platform), |r, audience| {
            r.merge(authenticated(
                routes(Access::Token(audience)),
                &state,
                audience,
            ))
        });
    routes(Access::Public)
        .merge(dashboard::router())
        .merge(hosted::router())
        .nest("/v1", v1)
        .fallback(no_route)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(RequestBodyLimitLayer::new(body_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(CatchPanicLayer::custom(problem::for_panic))
        .layer(middleware::map_response(problem::for_bare_errors))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .with_state(state)
}

/// A request's span names its route, never its URI: paths and queries carry secrets (a hosted
/// page's link token, an OAuth callback's code and state) that must not reach the logs.
fn request_span<B>(req: &axum::http::Request<B>) -> tracing::Span {
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("(no route)", |p| p.as_str());
    tracing::debug_span!("request", method = %req.method(), route)
}
