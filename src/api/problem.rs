//! problem+json (RFC 9457), the one shape of every error the API answers: `AppError`'s, the
//! ones raised by tower layers and axum itself (timeouts, oversized bodies, unknown methods), a
//! readiness probe that must say which store is down, and the server's refusals below the router.
//! One document type and one builder, so a client parses one format whatever produced the error.

use axum::body::Body;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

pub(crate) const PROBLEM_JSON: &str = "application/problem+json";

/// Every `type` slug this API answers, with what it means: the OpenAPI document lists them
/// (`Problem`), so a slug added without a line here fails the schema-driven test run.
pub(crate) const PROBLEM_TYPES: [(&str, &str); 16] = [
    (
        "bad-request",
        "the request could not be read: not JSON, not sent as JSON, or a path \
      segment that does not parse (400)",
    ),
    (
        "unauthorized",
        "no token, or not one this route takes; also an inbound webhook whose \
      signature does not verify (401)",
    ),
    (
        "not-found",
        "no such resource in the caller's account, or no such route (404)",
    ),
    (
        "method-not-allowed",
        "the resource does not take the request's method (405)",
    ),
    (
        "timeout",
        "the request took longer than the server allows (408)",
    ),
    (
        "conflict",
        "the request clashes with the current state, e.g. a duplicate name (409)",
    ),
    (
        "idempotency-key-reused",
        "the `Idempotency-Key` was used with another request (409)",
    ),
    (
        "idempotency-key-in-use",
        "the key's first request is still running (409)",
    ),
    (
        "payload-too-large",
        "the body is over the server's limit (413)",
    ),
    (
        "uri-too-long",
        "the request target is over the server's limit (414)",
    ),
    (
        "invalid",
        "a value is of the wrong shape or out of range; `field` names it (422)",
    ),
    (
        "header-fields-too-large",
        "the request head is over the server's limit (431)",
    ),
    (
        "internal",
        "the service failed; the request may be retried (500)",
    ),
    (
        "idempotency-answer-unreadable",
        "the kept answer of an `Idempotency-Key` could not \
      be read back (500)",
    ),
    (
        "unavailable",
        "PostgreSQL or Redis did not answer; retry later (503)",
    ),
    (
        "not-ready",
        "a readiness probe found a backing store down; `down` names it (503)",
    ),
];

/// A problem document with a stable `type` of `https://switchyard.dev/problems/<slug>`.
#[derive(Debug, Serialize)]
pub(crate) struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    #[serde(serialize_with = "as_u16")]
    status: StatusCode,
    detail: &'a str,
    /// The request field at fault, where one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    /// The backing stores that did not answer a readiness probe.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    down: &'a [&'a str],
}

fn as_u16<S: serde::Serializer>(status: &StatusCode, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u16(status.as_u16())
}

impl<'a> Problem<'a> {
    pub(crate) fn new(status: StatusCode, slug: &str, title: &'a str, detail: &'a str) -> Self {
        Problem {
            kind: format!("https://switchyard.dev/problems/{slug}"),
            title,
            status,
            detail,
            field: None,
            down: &[],
        }
    }

    /// Names the request field at fault.
    pub(crate) fn field(self, field: Option<&'a str>) -> Self {
        Problem { field, ..self }
    }

    /// Names the backing stores that did not answer.
    pub(crate) fn down(self, down: &'a [&'a str]) -> Self {
        Problem { down, ..self }
    }

    /// The document as JSON bytes.
    pub(crate) fn to_json(&self) -> Vec<u8> {
        // Serialising a struct of strings and numbers cannot fail; an empty body is the fallback
        // rather than a panic in the error path.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

impl IntoResponse for Problem<'_> {
    fn into_response(self) -> Response {
        let mut res = (self.status, Body::from(self.to_json())).into_response();
        res.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        res
    }
}

/// A problem response with a stable `type` of `https://switchyard.dev/problems/<slug>`.
pub(crate) fn problem(status: StatusCode, slug: &str, title: &str, detail: &str) -> Response {
    Problem::new(status, slug, title, detail).into_response()
}

/// 413, for a body over `server.body_limit_bytes`.
pub(crate) fn too_large() -> Response {
    standard_problem(StatusCode::PAYLOAD_TOO_LARGE)
}

/// 503 naming the backing stores that did not answer, so whoever reads a failing probe knows
/// where to look.
pub(crate) fn not_ready(down: &[&str]) -> Response {
    let detail = format!("not ready: {} unreachable", down.join(" and "));
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "not-ready",
        "Not ready",
        &detail,
    )
    .down(down)
    .into_response()
}

/// 500 for a handler that panicked: the client gets an answer instead of a dropped connection,
/// and the panic is logged with its message.
pub(crate) fn for_panic(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("no message");
    tracing::error!(panic = message, "a request handler panicked");
    standard_problem(StatusCode::INTERNAL_SERVER_ERROR)
}

/// Whether the response already is a whole document of its own: problem+json, or an HTML page
/// (the dashboard answers its refusals as pages a browser shows).
fn is_document(res: &Response) -> bool {
    res.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM_JSON) || v.starts_with("text/html"))
}

/// The `type` slug, title and default detail of a bare error status.
fn standard(status: StatusCode) -> (&'static str, &'static str, &'static str) {
    match status {
        StatusCode::REQUEST_TIMEOUT => (
            "timeout",
            "Request timeout",
            "the request took longer than the server allows",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "payload-too-large",
            "Payload too large",
            "the request body is larger than the server accepts",
        ),
        StatusCode::URI_TOO_LONG => (
            "uri-too-long",
            "URI too long",
            "the request target is longer than the server accepts",
        ),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => (
            "header-fields-too-large",
            "Header fields too large",
            "the request's header fields are larger than the server accepts",
        ),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method-not-allowed",
            "Method not allowed",
            "this resource does not support the request's method",
        ),
        StatusCode::NOT_FOUND => ("not-found", "Not found", "no such resource"),
        s if s.is_server_error() => (
            "internal",
            "Internal error",
            "the service could not complete the request; try again",
        ),
        _ => (
            "bad-request",
            "Bad request",
            "the request could not be understood",
        ),
    }
}

/// The problem response of a bare error `status`, with its default detail.
fn standard_problem(status: StatusCode) -> Response {
    let (slug, title, detail) = standard(status);
    problem(status, slug, title, detail)
}

/// The problem+json document of an error `status` raised below the router (the server refusing
/// a request hyper would not parse), with its own `detail`.
pub(crate) fn standard_json(status: StatusCode, detail: &str) -> Vec<u8> {
    let (slug, title, _) = standard(status);
    Problem::new(status, slug, title, detail).to_json()
}

/// Rewrites any error response that is not a document yet (tower-http's 408 and 413, axum's
/// 405 and path rejections) into problem+json, keeping its status and headers (`Allow`, for
/// instance).
pub(crate) async fn for_bare_errors(res: Response) -> Response {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) || is_document(&res) {
        return res;
    }
    let (slug, title, detail) = standard(status);
    let (mut parts, _) = res.into_parts();
    parts.headers.remove(CONTENT_LENGTH);
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    let body = Problem::new(status, slug, title, detail).to_json();
    Response::from_parts(parts, Body::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header::ALLOW;

    async fn json(res: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 16)
            .await
            .unwrap_or_default();
        serde_json::from_slice(&bytes).unwrap_or_default()
    }

    #[tokio::test]
    async fn bare_errors_become_problems_and_keep_their_headers() {
        let mut bare = (StatusCode::METHOD_NOT_ALLOWED, "nope").into_response();
        bare.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET"));
        let res = for_bare_errors(bare).await;
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(res.headers()[CONTENT_TYPE], PROBLEM_JSON);
        assert_eq!(res.headers()[ALLOW], "GET");
        let body = json(res).await;
        assert_eq!(body["status"], 405);
        assert_eq!(
            body["type"],
            "https://switchyard.dev/problems/method-not-allowed"
        );
    }

    #[tokio::test]
    async fn a_panic_is_a_500_problem_not_a_dropped_connection() {
        let res = for_panic(Box::new("index out of bounds"));
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(res.headers()[CONTENT_TYPE], PROBLEM_JSON);
        let body = json(res).await;
        assert_eq!(body["type"], "https://switchyard.dev/problems/internal");
        assert!(!body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("index"));
    }

    #[tokio::test]
    async fn successes_and_problems_pass_untouched() {
        let ok = for_bare_errors((StatusCode::OK, "fine").into_response()).await;
        assert_eq!(ok.status(), StatusCode::OK);
        assert_ne!(
            ok.headers().get(CONTENT_TYPE).map(|v| v.as_bytes()),
            Some(PROBLEM_JSON.as_bytes())
        );
        let res = for_bare_errors(not_ready(&["redis"])).await;
        let body = json(res).await;
        assert_eq!(body["down"], serde_json::json!(["redis"]));
        assert_eq!(body["detail"], "not ready: redis unreachable");
    }
}
