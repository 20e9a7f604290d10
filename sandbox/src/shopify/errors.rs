//! Shopify's error bodies: always `{"errors": ...}`, where the value is a string, a list of
//! messages, or an object keyed by parameter, depending on the endpoint (as on the real API).

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use crate::faults::InjectedFault;
use crate::http_util::{json, set_header};

pub fn errors(status: StatusCode, errors: Value) -> Response {
    json(status, &json!({ "errors": errors }))
}

pub fn not_found() -> Response {
    errors(StatusCode::NOT_FOUND, json!("Not Found"))
}

pub fn unauthorized() -> Response {
    errors(
        StatusCode::UNAUTHORIZED,
        json!("[API] Invalid API key or access token (unrecognized login or wrong password)"),
    )
}

/// A 400 naming the offending parameter, e.g. `{"errors":{"limit":"Invalid value."}}`.
pub fn bad_param(param: &str, message: &str) -> Response {
    errors(StatusCode::BAD_REQUEST, json!({ param: message }))
}

/// A 400 for a missing or unparsable root object, the way Rails' strong parameters report it.
pub fn missing_root(root: &str) -> Response {
    bad_param(root, "Required parameter missing or invalid")
}

/// A 422 with a list of messages.
pub fn unprocessable(messages: &[String]) -> Response {
    errors(StatusCode::UNPROCESSABLE_ENTITY, json!(messages))
}

pub fn too_many_requests(retry_after_secs: f64) -> Response {
    let mut response = errors(
        StatusCode::TOO_MANY_REQUESTS,
        json!("Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."),
    );
    set_header(
        &mut response,
        "retry-after",
        &format!("{retry_after_secs:.1}"),
    );
    response
}

/// Renders an injected fault as Shopify would answer.
pub fn render_fault(fault: InjectedFault) -> Response {
    match fault {
        InjectedFault::TooManyRequests { retry_after_secs } => too_many_requests(retry_after_secs),
        InjectedFault::ServerError => errors(
            StatusCode::SERVICE_UNAVAILABLE,
            json!("Service Unavailable"),
        ),
    }
}

/// Parses `"123.json"` (the last segment of a resource URL) into its id.
pub fn json_id(segment: &str) -> Option<u64> {
    segment.strip_suffix(".json")?.parse().ok()
}
