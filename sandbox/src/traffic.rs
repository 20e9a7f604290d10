//! Request accounting per store, so a test can assert what a connector actually did on the wire
//! (how many calls, how many were throttled) rather than trusting the connector's own counters.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use serde::Serialize;

use crate::faults::lock;

/// Counters for one store.
#[derive(Debug, Default)]
pub struct Traffic {
    prefix: String,
    inner: Mutex<TrafficStats>,
}

/// A snapshot of [`Traffic`].
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct TrafficStats {
    pub requests_total: u64,
    /// Every 429 served, whether from the rate limiter or an injected burst.
    pub responses_429: u64,
    pub responses_5xx: u64,
    /// GraphQL answers of THROTTLED (HTTP 200, so not among the 429s).
    pub graphql_throttled: u64,
    /// Counts keyed by `"METHOD /route/template"` (the store's URL prefix removed).
    pub by_route: BTreeMap<String, u64>,
    pub by_status: BTreeMap<u16, u64>,
    /// Calls admitted per UTC day (`2024-07-01`) per API (`sell.fulfillment`), for platforms
    /// that publish daily call limits per API (eBay).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub calls_per_day: BTreeMap<String, BTreeMap<String, u64>>,
}

impl Traffic {
    /// `prefix` is the store's mount point, removed from route names.
    pub fn new(prefix: impl Into<String>) -> Traffic {
        Traffic {
            prefix: prefix.into(),
            inner: Mutex::new(TrafficStats::default()),
        }
    }

    pub fn snapshot(&self) -> TrafficStats {
        lock(&self.inner).clone()
    }

    pub fn reset(&self) {
        *lock(&self.inner) = TrafficStats::default();
    }

    /// Counts one call admitted to `api` on `day`.
    pub fn record_api_call(&self, day: &str, api: &str) {
        let mut stats = lock(&self.inner);
        *stats
            .calls_per_day
            .entry(day.to_owned())
            .or_default()
            .entry(api.to_owned())
            .or_default() += 1;
    }

    fn record(&self, routes: Vec<String>, status: StatusCode, graphql_throttled: bool) {
        let mut stats = lock(&self.inner);
        stats.requests_total += 1;
        if graphql_throttled {
            stats.graphql_throttled += 1;
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            stats.responses_429 += 1;
        }
        if status.is_server_error() {
            stats.responses_5xx += 1;
        }
        for route in routes {
            *stats.by_route.entry(route).or_default() += 1;
        }
        *stats.by_status.entry(status.as_u16()).or_default() += 1;
    }
}

/// Outermost middleware of each simulator: counts every request with its final status.
pub async fn count(State(traffic): State<Arc<Traffic>>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| req.uri().path().to_string());
    let path = path
        .strip_prefix(traffic.prefix.as_str())
        .unwrap_or(&path)
        .to_string();
    let response = next.run(req).await;
    let route = format!("{method} {path}");
    let (routes, throttled) = match response.extensions().get::<RouteDetail>() {
        Some(detail) if !detail.operations.is_empty() => (
            detail
                .operations
                .iter()
                .map(|op| format!("{route} {op}"))
                .collect(),
            detail.graphql_throttled,
        ),
        Some(detail) => (vec![route], detail.graphql_throttled),
        None => (vec![route], false),
    };
    traffic.record(routes, response.status(), throttled);
    response
}

/// What a handler adds to its response for the counters: the operations one request carried (a
/// GraphQL request's root fields, each counted under `"{route} {operation}"`), and whether it
/// was throttled in GraphQL's way.
#[derive(Debug, Clone, Default)]
pub struct RouteDetail {
    pub operations: Vec<String>,
    pub graphql_throttled: bool,
}
