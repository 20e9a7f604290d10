//! Who may call the Accounting API: a bearer access token from this app's identity server, still
//! valid (401 otherwise, in the gateway's shape), and an `xero-tenant-id` naming this organisation
//! while the grant behind the token is still connected to it (403 otherwise). The simulator speaks
//! JSON only, so a client that does not ask for it is told so rather than given JSON Xero would
//! not have sent.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::Response;

use super::errors::{authentication_unsuccessful, forbidden_tenant, not_acceptable, token_expired};
use super::identity::AccessCheck;
use super::store::XeroOrg;

/// The bearer token of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// Checks the bearer token: `Ok(grant)` or the 401 to answer.
pub fn authenticate(org: &XeroOrg, headers: &HeaderMap) -> Result<usize, Response> {
    let token = bearer(headers).ok_or_else(authentication_unsuccessful)?;
    match org.identity().check_access(token, Instant::now()) {
        AccessCheck::Valid { grant } => Ok(grant),
        AccessCheck::Expired(at) => Err(token_expired(at)),
        AccessCheck::Unknown => Err(authentication_unsuccessful()),
    }
}

/// Middleware for `/api.xro/2.0`.
pub async fn require_tenant(State(org): State<Arc<XeroOrg>>, req: Request, next: Next) -> Response {
    let grant = match authenticate(&org, req.headers()) {
        Ok(grant) => grant,
        Err(response) => return response,
    };
    let tenant_ok = req
        .headers()
        .get("xero-tenant-id")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case(org.tenant_id()));
    let connected = org.identity().grant(grant).is_some_and(|g| !g.revoked);
    if !tenant_ok || !connected {
        return forbidden_tenant();
    }
    let wants_json = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"));
    if !wants_json {
        return not_acceptable();
    }
    next.run(req).await
}
