//! eBay's error envelope, `{"errors": [{errorId, domain, category, message, longMessage?,
//! parameters?}]}`, with the ids the APIs document for the conditions the simulator produces.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use crate::faults::InjectedFault;
use crate::http_util::{json, set_header};

pub const FULFILLMENT: &str = "API_FULFILLMENT";
pub const INVENTORY: &str = "API_INVENTORY";

/// One error object of the envelope.
pub fn error(id: u32, domain: &str, category: &str, message: &str, long: Option<&str>) -> Value {
    let mut error = json!({
        "errorId": id,
        "domain": domain,
        "category": category,
        "message": message,
    });
    if let Some(long) = long {
        error["longMessage"] = json!(long);
    }
    error
}

pub fn envelope(status: StatusCode, errors: Vec<Value>) -> Response {
    json(status, &json!({ "errors": errors }))
}

/// A 400 of category REQUEST.
pub fn bad_request(id: u32, domain: &str, message: &str) -> Response {
    envelope(
        StatusCode::BAD_REQUEST,
        vec![error(id, domain, "REQUEST", message, None)],
    )
}

/// Missing, unknown or expired bearer token.
pub fn invalid_token() -> Response {
    envelope(
        StatusCode::UNAUTHORIZED,
        vec![error(
            1001,
            "OAuth",
            "REQUEST",
            "Invalid access token",
            Some("Invalid access token. Check the value of the Authorization HTTP request header."),
        )],
    )
}

/// eBay's call-limit refusal (errorId 2001, domain ACCESS).
pub fn too_many_requests() -> Response {
    envelope(
        StatusCode::TOO_MANY_REQUESTS,
        vec![error(
            2001,
            "ACCESS",
            "REQUEST",
            "Too many requests. The request limit has been reached for the resource.",
            None,
        )],
    )
}

pub fn not_found(id: u32, domain: &str, message: &str) -> Response {
    envelope(
        StatusCode::NOT_FOUND,
        vec![error(id, domain, "REQUEST", message, None)],
    )
}

/// No such resource on the API at all.
pub fn no_route() -> Response {
    envelope(
        StatusCode::NOT_FOUND,
        vec![error(
            2002,
            "ACCESS",
            "REQUEST",
            "Resource not found",
            Some("The requested resource could not be found."),
        )],
    )
}

fn fault(fault: InjectedFault, system_error: Value) -> Response {
    match fault {
        InjectedFault::TooManyRequests { retry_after_secs } => {
            let mut response = too_many_requests();
            set_header(
                &mut response,
                "retry-after",
                &format!("{}", retry_after_secs.ceil() as u64),
            );
            response
        }
        InjectedFault::ServerError => {
            envelope(StatusCode::INTERNAL_SERVER_ERROR, vec![system_error])
        }
    }
}

/// The Fulfillment API's documented `30500 System error`.
pub fn fulfillment_system_error() -> Value {
    error(30500, FULFILLMENT, "APPLICATION", "System error", None)
}

pub fn render_fulfillment_fault(injected: InjectedFault) -> Response {
    fault(injected, fulfillment_system_error())
}

/// The Inventory API's documented `25001 System error`.
pub fn render_inventory_fault(injected: InjectedFault) -> Response {
    fault(
        injected,
        error(
            25001,
            INVENTORY,
            "APPLICATION",
            "A system error has occurred.",
            None,
        ),
    )
}
