//! The centre's HTTP side: `POST /orders`, where switchyard delivers orders, and a read-only
//! look at the books under `/_sandbox`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use super::{callbacks, Centre};
use crate::faults::{self, lock, FaultLayer, InjectedFault};
use crate::http_util::{json, set_header};
use crate::standard_webhooks::{unix_now, verify, SignedHeaders};
use crate::traffic;

pub(super) fn router(centre: Arc<Centre>) -> Router {
    let orders = Router::new()
        .route("/orders", post(receive))
        .route_layer(from_fn_with_state(
            FaultLayer {
                faults: centre.faults.clone(),
                render: render_fault,
                shutdown: centre.shutdown.clone(),
            },
            faults::inject,
        ))
        .route_layer(from_fn_with_state(centre.traffic.clone(), traffic::count))
        .with_state(centre.clone());
    let control = Router::new()
        .route("/_sandbox/orders", get(books))
        .route("/_sandbox/callbacks", get(attempts))
        .with_state(centre);
    orders
        .merge(control)
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such route") })
}

fn error(status: StatusCode, message: &str) -> Response {
    json(status, &json!({ "error": message }))
}

fn render_fault(fault: InjectedFault) -> Response {
    match fault {
        InjectedFault::TooManyRequests { retry_after_secs } => {
            let mut res = error(StatusCode::TOO_MANY_REQUESTS, "slow down");
            set_header(
                &mut res,
                "retry-after",
                &format!("{}", retry_after_secs.ceil().max(0.0) as u64),
            );
            res
        }
        InjectedFault::ServerError => {
            error(StatusCode::SERVICE_UNAVAILABLE, "warehouse system down")
        }
    }
}

/// Verifies, books and answers one delivery.
async fn receive(State(centre): State<Arc<Centre>>, headers: HeaderMap, body: Bytes) -> Response {
    let secrets = lock(&centre.credentials).signing_secrets.clone();
    if secrets.is_empty() {
        return error(StatusCode::UNAUTHORIZED, "no signing secret configured yet");
    }
    let signed = match SignedHeaders::from_map(&headers) {
        Ok(signed) => signed,
        Err(e) => return error(StatusCode::UNAUTHORIZED, &e.to_string()),
    };
    let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
    if let Err(e) = verify(
        &refs,
        signed,
        &body,
        unix_now(),
        centre.config.tolerance_secs,
    ) {
        return error(StatusCode::UNAUTHORIZED, &e.to_string());
    }
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("not JSON: {e}")),
    };
    let receipt = match lock(&centre.books).receive(signed.id, &value) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::UNPROCESSABLE_ENTITY, &e.0),
    };
    if receipt.created {
        if let (Some(delay), Some(order_id)) =
            (centre.config.ship_after, value["order"]["id"].as_i64())
        {
            callbacks::ship_later(&centre, order_id, delay);
        }
    }
    json(
        StatusCode::OK,
        &json!({
            "reference": receipt.reference,
            "status": if receipt.created { "accepted" } else { "updated" },
        }),
    )
}

async fn books(State(centre): State<Arc<Centre>>) -> Response {
    let orders = lock(&centre.books).all();
    json(StatusCode::OK, &json!({ "orders": orders }))
}

async fn attempts(State(centre): State<Arc<Centre>>) -> Response {
    let attempts = lock(&centre.callbacks).clone();
    json(StatusCode::OK, &json!({ "callbacks": attempts }))
}
