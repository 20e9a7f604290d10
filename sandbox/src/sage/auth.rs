//! Who may call the API: a live bearer token, an `X-Business` this user can reach (or none, which
//! Sage reads as the user's lead business), and a `full_access` grant for anything but reads.
//! Checked before routing, as Sage does: an unknown path with a bad token answers the token error.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::Response;

use super::business::SageBusiness;
use super::errors;
use super::tokens::{AccessCheck, Scope};
use crate::faults::lock;

/// `Ok` when the request may go on to `path` (relative to `/v3.1`).
pub fn check(
    business: &SageBusiness,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
) -> Result<(), Response> {
    let Some(authorization) = headers.get(header::AUTHORIZATION) else {
        return Err(errors::authorization_missing());
    };
    let token = authorization
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .unwrap_or("");
    let scope = match lock(&business.tokens).check(token, Instant::now()) {
        AccessCheck::Valid(scope) => scope,
        AccessCheck::Expired => return Err(errors::invalid_token(true)),
        AccessCheck::Invalid => return Err(errors::invalid_token(false)),
    };
    let core = path == "/businesses" || path.starts_with("/businesses/");
    let business_header = headers.get("x-business").and_then(|v| v.to_str().ok());
    if !core && business_header.is_some_and(|b| b != business.business_id()) {
        return Err(errors::business_denied());
    }
    if scope == Scope::ReadOnly && method != Method::GET {
        return Err(errors::read_only());
    }
    Ok(())
}

pub async fn require_token(
    State(business): State<Arc<SageBusiness>>,
    req: Request,
    next: Next,
) -> Response {
    match check(&business, req.method(), req.uri().path(), req.headers()) {
        Ok(()) => next.run(req).await,
        Err(response) => response,
    }
}

/// An unknown path: under `/v3.1` the token is judged first, then 404.
pub async fn unknown_path(
    State(business): State<Arc<SageBusiness>>,
    method: Method,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    let Some(path) = uri.path().strip_prefix("/v3.1") else {
        return errors::not_found();
    };
    match check(&business, &method, path, &headers) {
        Ok(()) => errors::not_found(),
        Err(response) => response,
    }
}
