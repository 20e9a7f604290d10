//! Xero's error answers, each in the shape the platform uses for it: the API gateway's problem
//! documents for 401/403 (`{"Type":null,"Title":...,"Status":...,"Detail":...,"Instance":...}`),
//! the Accounting API's `ApiException` bodies for 400 (`ValidationException` with `Elements[]` and
//! their `ValidationErrors[]`, `QueryParseException`), plain-text 404s, OAuth 2.0 error objects
//! from the identity server, and 429s that name the limit hit in `X-Rate-Limit-Problem`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::wire::guid;
use crate::faults::InjectedFault;
use crate::http_util::{json, set_header};

/// The gateway's problem document.
pub fn problem(status: StatusCode, detail: &str) -> Response {
    let title = match status {
        StatusCode::UNAUTHORIZED => "Unauthorized",
        StatusCode::FORBIDDEN => "Forbidden",
        _ => status.canonical_reason().unwrap_or("Error"),
    };
    json(
        status,
        &json!({
            "Type": null,
            "Title": title,
            "Status": status.as_u16(),
            "Detail": detail,
            "Instance": guid(),
            "Extensions": {}
        }),
    )
}

/// 401 for a missing, unknown or malformed bearer token.
pub fn authentication_unsuccessful() -> Response {
    let mut response = problem(StatusCode::UNAUTHORIZED, "AuthenticationUnsuccessful");
    set_header(&mut response, "www-authenticate", "Bearer");
    response
}

/// 401 for an access token past its expiry; `at` is rendered as Xero does (`MM/dd/yyyy HH:mm:ss`).
pub fn token_expired(at: chrono::DateTime<chrono::Utc>) -> Response {
    let when = at.format("%m/%d/%Y %H:%M:%S");
    let mut response = problem(
        StatusCode::UNAUTHORIZED,
        &format!("TokenExpired: token expired at {when}"),
    );
    set_header(
        &mut response,
        "www-authenticate",
        &format!(
            "Bearer error=\"invalid_token\", error_description=\"The token expired at '{when}'\""
        ),
    );
    response
}

/// 403: the `xero-tenant-id` header is missing, unknown, or not connected to this token (also what
/// a revoked authorisation gets, per Xero's troubleshooting guide).
pub fn forbidden_tenant() -> Response {
    problem(StatusCode::FORBIDDEN, "AuthenticationUnsuccessful")
}

/// `{"ErrorNumber": n, "Type": ..., "Message": ...}` with status 400.
pub fn api_exception(number: u32, kind: &str, message: &str) -> Response {
    json(
        StatusCode::BAD_REQUEST,
        &json!({"ErrorNumber": number, "Type": kind, "Message": message}),
    )
}

/// A `where` (or other query) the API cannot parse.
pub fn query_parse(message: &str) -> Response {
    api_exception(16, "QueryParseException", message)
}

/// A body that is not the JSON the endpoint takes.
pub fn bad_body(message: &str) -> Response {
    api_exception(
        14,
        "PostDataInvalidException",
        &format!("Invalid Json data: {message}"),
    )
}

/// The `ValidationException`: every element as submitted (rendered), each with its
/// `ValidationErrors`.
pub fn validation(elements: Vec<Value>) -> Response {
    json(
        StatusCode::BAD_REQUEST,
        &json!({
            "ErrorNumber": 10,
            "Type": "ValidationException",
            "Message": "A validation exception occurred",
            "Elements": elements
        }),
    )
}

/// Xero's plain-text 404.
pub fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"))],
        "The resource you're looking for cannot be found",
    )
        .into_response()
}

/// An OAuth 2.0 error from the identity server (`invalid_grant`, `invalid_client`, ...).
pub fn oauth(error: &str) -> Response {
    let mut response = json(StatusCode::BAD_REQUEST, &json!({ "error": error }));
    set_header(&mut response, "cache-control", "no-store");
    response
}

/// 429 naming the limit hit; `Retry-After` accompanies the minute and day limits only, as Xero
/// documents.
pub fn too_many_requests(problem: &str, retry_after_secs: Option<u64>) -> Response {
    let mut response = (StatusCode::TOO_MANY_REQUESTS, "").into_response();
    set_header(&mut response, "x-rate-limit-problem", problem);
    if let Some(secs) = retry_after_secs {
        set_header(&mut response, "retry-after", &secs.to_string());
    }
    response
}

/// The simulator answers JSON only; Xero would answer XML to a client that does not ask for JSON.
pub fn not_acceptable() -> Response {
    (
        StatusCode::NOT_ACCEPTABLE,
        [(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"))],
        "Send Accept: application/json (Xero answers XML otherwise; this simulator speaks JSON only)",
    )
        .into_response()
}

/// Injected faults: a throttling burst looks like Xero's minute limit; a 5xx like its outage page.
pub fn render_fault(fault: InjectedFault) -> Response {
    match fault {
        InjectedFault::TooManyRequests { retry_after_secs } => {
            too_many_requests("minute", Some(retry_after_secs.ceil() as u64))
        }
        InjectedFault::ServerError => {
            let mut response = api_exception(
                500,
                "UnknownErrorException",
                "An error occurred in Xero. Check the API Status page http://status.developer.xero.com for current service status.",
            );
            *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            response
        }
    }
}
