//! Sage's error bodies: an array of `{"$severity", "$dataCode", "$message", "$source"}`, several
//! at once for a request with several faults. The OAuth host answers RFC 6749's `{"error": ...}`,
//! and a request without any `Authorization` header gets the gateway's own one-field object.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use crate::faults::InjectedFault;
use crate::http_util::{json, set_header};

/// One entry of an error array.
#[derive(Debug, Clone, PartialEq)]
pub struct SageError {
    pub data_code: &'static str,
    pub message: String,
    pub source: String,
}

impl SageError {
    pub fn new(data_code: &'static str, message: impl Into<String>, source: &str) -> SageError {
        SageError {
            data_code,
            message: message.into(),
            source: source.to_string(),
        }
    }

    /// `RecordInvalid` naming the offending field, the shape of every validation failure.
    pub fn invalid(message: impl Into<String>, source: &str) -> SageError {
        SageError::new("RecordInvalid", message, source)
    }

    /// A required field left out.
    pub fn required(source: &str) -> SageError {
        SageError::invalid("This field is required.", source)
    }

    fn to_json(&self) -> Value {
        json!({
            "$severity": "error",
            "$dataCode": self.data_code,
            "$message": self.message,
            "$source": self.source
        })
    }
}

/// An error array with a status.
pub fn errors(status: StatusCode, list: &[SageError]) -> Response {
    let body: Vec<Value> = list.iter().map(SageError::to_json).collect();
    json(status, &Value::Array(body))
}

pub fn error(status: StatusCode, data_code: &'static str, message: &str, source: &str) -> Response {
    errors(status, &[SageError::new(data_code, message, source)])
}

/// 422 with the validation failures found.
pub fn unprocessable(list: &[SageError]) -> Response {
    errors(StatusCode::UNPROCESSABLE_ENTITY, list)
}

/// An unknown id on a `GET /{resource}/{id}`, or an unknown path.
pub fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "RecordNotFound",
        "Couldn't find record.",
        "",
    )
}

/// No `Authorization` header at all: the gateway's answer, as the live API gives it.
pub fn authorization_missing() -> Response {
    json(
        StatusCode::UNAUTHORIZED,
        &json!({"error": "Authorization missing. Please, add an authorization token at the 'Authorization' HTTP header."}),
    )
}

/// A bearer token that is not (or no longer) valid.
pub fn invalid_token(expired: bool) -> Response {
    let message = if expired {
        "Access token is invalid (JWT expired)."
    } else {
        "Access token is invalid (JWT malformed or missing)."
    };
    error(
        StatusCode::UNAUTHORIZED,
        "AccessTokenVerificationError",
        message,
        "Authorization",
    )
}

/// An `X-Business` the signed-in user has no access to.
pub fn business_denied() -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        "AuthorizationFailure",
        "Access denied.",
        "",
    )
}

/// A write with a `readonly` grant.
pub fn read_only() -> Response {
    error(
        StatusCode::FORBIDDEN,
        "MultiUserAccessDenied",
        "The current user is not allowed to access that resource with that method.",
        "",
    )
}

/// 429 with `Retry-After` in whole seconds (clients parse it as an integer).
pub fn too_many_requests(retry_after_secs: u64) -> Response {
    let mut response = error(
        StatusCode::TOO_MANY_REQUESTS,
        "TooManyRequests",
        "Too many requests. Please retry later.",
        "",
    );
    set_header(
        &mut response,
        "retry-after",
        &retry_after_secs.max(1).to_string(),
    );
    response
}

/// The documented answer to a server-side failure.
pub fn unexpected() -> Response {
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "UnexpectedError",
        "An unexpected error occurred.",
        "",
    )
}

/// What a gateway in front of Sage answers when the application behind it took too long.
pub fn gateway_timeout() -> Response {
    json(
        StatusCode::GATEWAY_TIMEOUT,
        &json!({"error": "Gateway Timeout"}),
    )
}

pub fn render_fault(fault: InjectedFault) -> Response {
    match fault {
        InjectedFault::TooManyRequests { retry_after_secs } => {
            too_many_requests(retry_after_secs.ceil() as u64)
        }
        InjectedFault::ServerError => unexpected(),
    }
}

/// The token endpoint's `{"error": code}` with status 400, or 401 for a client that sent bad
/// credentials in an `Authorization` header (RFC 6749 §5.2).
pub fn oauth(status: StatusCode, code: &str) -> Response {
    json(status, &json!({ "error": code }))
}
