//! WordPress REST errors: `{"code": ..., "message": ..., "data": {"status": ...}}`.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use crate::faults::InjectedFault;
use crate::http_util::{json, set_header};

pub fn error(status: StatusCode, code: &str, message: &str) -> Response {
    json(
        status,
        &json!({"code": code, "message": message, "data": {"status": status.as_u16()}}),
    )
}

/// `rest_invalid_param`, naming each bad parameter as WordPress does.
pub fn invalid_param(param: &str, message: &str, detail_code: &str) -> Response {
    let body = json!({
        "code": "rest_invalid_param",
        "message": format!("Invalid parameter(s): {param}"),
        "data": {
            "status": 400,
            "params": { param: message },
            "details": { param: {"code": detail_code, "message": message, "data": Value::Null} }
        }
    });
    json(StatusCode::BAD_REQUEST, &body)
}

pub fn missing_param(param: &str) -> Response {
    json(
        StatusCode::BAD_REQUEST,
        &json!({
            "code": "rest_missing_callback_param",
            "message": format!("Missing parameter(s): {param}"),
            "data": {"status": 400, "params": [param]}
        }),
    )
}

pub fn invalid_id(code: &str) -> Response {
    error(StatusCode::NOT_FOUND, code, "Invalid ID.")
}

/// The 404 of an order's notes or trackings when the order does not exist.
pub fn invalid_order_id() -> Response {
    invalid_id("woocommerce_rest_order_invalid_id")
}

pub fn no_route() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "rest_no_route",
        "No route was found matching the URL and request method.",
    )
}

/// WooCommerce has no REST rate limiter of its own; hosts in front of it answer 429 with
/// `Retry-After`, which is what an injected burst looks like here.
pub fn render_fault(fault: InjectedFault) -> Response {
    match fault {
        InjectedFault::TooManyRequests { retry_after_secs } => {
            let mut response = error(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_exceeded",
                "Too many requests. Please wait and try again.",
            );
            set_header(
                &mut response,
                "retry-after",
                &format!("{}", retry_after_secs.ceil() as u64),
            );
            response
        }
        InjectedFault::ServerError => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_server_error",
            "There has been a critical error on this website.",
        ),
    }
}
