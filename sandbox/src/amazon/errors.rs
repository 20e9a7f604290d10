//! SP-API's error envelope, `{"errors": [{"code", "message", "details"}]}`, and the answers an
//! injected fault gets.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use crate::faults::InjectedFault;
use crate::http_util::{json, set_header};

pub fn error(status: StatusCode, code: &str, message: &str) -> Response {
    json(
        status,
        &json!({"errors": [{"code": code, "message": message, "details": ""}]}),
    )
}

/// 400 `InvalidInput`, Amazon's answer to a bad parameter or body.
pub fn invalid_input(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "InvalidInput", message)
}

/// 403 `Unauthorized`: no token, a token not issued here, or an expired one.
pub fn unauthorized(message: &str) -> Response {
    error(StatusCode::FORBIDDEN, "Unauthorized", message)
}

pub fn quota_exceeded() -> Response {
    error(
        StatusCode::TOO_MANY_REQUESTS,
        "QuotaExceeded",
        "You exceeded your quota for the requested resource.",
    )
}

pub fn no_route() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "NotFound",
        "The requested resource was not found.",
    )
}

/// Amazon's 429 carries no `Retry-After`; the injected one adds it only when a test asks for
/// one, so a client that relies on it alone is caught out by the usual case.
pub fn render_fault(fault: InjectedFault) -> Response {
    match fault {
        InjectedFault::TooManyRequests { retry_after_secs } => {
            let mut response = quota_exceeded();
            if retry_after_secs > 0.0 {
                set_header(
                    &mut response,
                    "retry-after",
                    &format!("{}", retry_after_secs.ceil() as u64),
                );
            }
            response
        }
        InjectedFault::ServerError => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalFailure",
            "We encountered an internal error. Please try again.",
        ),
    }
}
