//! `Idempotency-Key` on every authenticated POST: a client that retries after losing the answer
//! (a timeout, a dropped connection) sends the same key, and gets the first answer back with
//! `Idempotent-Replayed: true` instead of causing the effect twice.
//!
//! The layer runs after authentication, and keys are scoped to the caller it proved (the ops
//! token, an account, a plugin; see [`Principal::scope`]), not to the header's spelling. They are
//! kept for [`TTL`], their answers sealed with the credentials key. The same key with another
//! request (method, path or body) is refused with 409, as is a key whose first request is still
//! running. Answers of 5xx are not kept, so a retry after a server failure runs again. A request
//! without the header is not affected; nor is an unauthenticated one (inbound channel webhooks,
//! which carry their own ids), and one that failed authentication never gets here.

use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::auth::Principal;
use super::problem::{problem, too_large};
use super::tenant::credentials_key;
use super::AppState;
use crate::api::error::AppError;
use crate::store::idempotency::{self, Claim};
use crate::store::StoreError;

/// Longest key accepted.
pub const MAX_KEY: usize = 255;
/// How long an answer is kept for replay (`retention.idempotency_keys_hours` must exceed it).
pub const TTL: Duration =
    Duration::from_secs(crate::config::IDEMPOTENCY_KEY_HOURS as u64 * 60 * 60);
/// Largest answer kept: the API's answers are single resources and pages, far below it.
const MAX_SAVED_BODY: usize = 16 * 1024 * 1024;
/// A claim with no answer this long after the request timeout belonged to a process that died.
const ABANDONED_SLACK: Duration = Duration::from_secs(5);

/// Set on a replayed answer.
pub static REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// True for 1 to [`MAX_KEY`] visible ASCII characters: what a key (or a report id standing in
/// for one) must be.
pub fn is_valid_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= MAX_KEY && key.bytes().all(|b| b.is_ascii_graphic())
}

/// The header's value, trimmed; see [`is_valid_key`].
pub fn parse_key(value: &HeaderValue) -> Result<String, AppError> {
    let value = value
        .to_str()
        .map_err(|_| AppError::BadRequest("`Idempotency-Key` must be visible ASCII".into()))?
        .trim();
    if !is_valid_key(value) {
        return Err(AppError::BadRequest(format!(
            "`Idempotency-Key` must be 1 to {MAX_KEY} visible ASCII characters"
        )));
    }
    Ok(value.to_owned())
}

fn request_hash(method: &Method, path: &str, body: &[u8]) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(method.as_str().as_bytes());
    h.update(b" ");
    h.update(path.as_bytes());
    h.update(b"\n");
    h.update(body);
    h.finalize().to_vec()
}

fn conflict(slug: &str, detail: &str) -> Response {
    problem(StatusCode::CONFLICT, slug, "Conflict", detail)
}

fn replay(saved: idempotency::Saved) -> Response {
    let status = saved
        .status
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut res = (status, Body::from(saved.body.unwrap_or_default())).into_response();
    if let Some(ct) = saved
        .content_type
        .and_then(|ct| HeaderValue::from_str(&ct).ok())
    {
        res.headers_mut().insert(CONTENT_TYPE, ct);
    }
    res.headers_mut()
        .insert(REPLAYED.clone(), HeaderValue::from_static("true"));
    res
}

/// The middleware; see the module documentation.
pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (Some(raw_key), Some(principal), Some(db)) = (
        req.headers().get("idempotency-key").cloned(),
        req.extensions().get::<Principal>().copied(),
        state.db.clone(),
    ) else {
        return next.run(req).await;
    };
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let key = match parse_key(&raw_key) {
        Ok(key) => key,
        Err(e) => return e.into_response(),
    };
    let sealer = match credentials_key(&state) {
        Ok(sealer) => sealer,
        Err(e) => return e.into_response(),
    };
    let scope = principal.scope();
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, state.settings.server.body_limit_bytes).await else {
        return too_large();
    };
    let path = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned());
    let hash = request_hash(&parts.method, &path, &bytes);
    let abandoned =
        Duration::from_secs(state.settings.server.request_timeout_secs) + ABANDONED_SLACK;
    match idempotency::claim(&db, &sealer, &scope, &key, &hash, TTL, abandoned).await {
        Err(StoreError::Crypto(e)) => {
            // Sealed under another credentials key: the first answer is lost, and running the
            // request again might repeat its effect, so only a new key may run it.
            tracing::error!(error = %e, "a saved answer does not open with the credentials key");
            return problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "idempotency-answer-unreadable",
                "Internal error",
                "the answer saved for this `Idempotency-Key` cannot be read; \
                 send the request with a new key to run it again",
            );
        }
        Err(e) => return AppError::from(e).into_response(),
        Ok(Claim::Taken(saved)) if saved.request_hash != hash => {
            return conflict(
                "idempotency-key-reused",
                "this `Idempotency-Key` was used for a different request",
            );
        }
        Ok(Claim::Taken(saved)) if saved.status.is_none() => {
            let mut res = conflict(
                "idempotency-key-in-use",
                "a request with this `Idempotency-Key` is still running; retry shortly",
            );
            res.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
            return res;
        }
        Ok(Claim::Taken(saved)) => return replay(saved),
        Ok(Claim::Claimed) => {}
    }
    let res = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    if res.status().is_server_error() {
        if let Err(e) = idempotency::release(&db, &scope, &key).await {
            tracing::warn!(error = %e, "could not release an idempotency key");
        }
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_SAVED_BODY).await else {
        let _ = idempotency::release(&db, &scope, &key).await;
        return AppError::BadRequest("the answer was too large to keep for replay".into())
            .into_response();
    };
    let content_type = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let status = parts.status.as_u16();
    if let Err(e) = idempotency::save(
        &db,
        &sealer,
        &scope,
        &key,
        status,
        content_type.as_deref(),
        &bytes,
    )
    .await
    {
        // The request's effect stands; the key stays claimed until it is abandoned, when a
        // retry runs again. Saying so beats failing a request that succeeded.
        tracing::warn!(error = %e, "could not save the answer for an idempotency key");
    }
    parts.headers.remove(CONTENT_LENGTH_NAME);
    Response::from_parts(parts, Body::from(bytes))
}

/// The body was re-framed; axum sets the length again from the new body.
const CONTENT_LENGTH_NAME: HeaderName = axum::http::header::CONTENT_LENGTH;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_visible_ascii_of_bounded_length() {
        let ok = |s: &str| parse_key(&HeaderValue::from_str(s).unwrap()).is_ok();
        assert!(ok("order-42"));
        assert!(!ok(""));
        assert!(!ok("two words"));
        assert!(!ok(&"k".repeat(MAX_KEY + 1)));
        assert!(ok(&"k".repeat(MAX_KEY)));
    }

    #[test]
    fn the_request_hash_covers_method_path_and_body() {
        let a = request_hash(&Method::POST, "/v1/products", b"{}");
        assert_eq!(a, request_hash(&Method::POST, "/v1/products", b"{}"));
        assert_ne!(a, request_hash(&Method::POST, "/v1/products", b"{ }"));
        assert_ne!(a, request_hash(&Method::POST, "/v1/stores", b"{}"));
        assert_ne!(a, request_hash(&Method::PUT, "/v1/products", b"{}"));
    }
}
