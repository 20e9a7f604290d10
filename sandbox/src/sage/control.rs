//! The Sage part of the control API, under `/_sandbox/sage`: how to reach each business, its
//! side of the story (invoices, contacts, live grants, calls and in-flight high mark) and its
//! knobs (faults, 429 bursts, revoked grant, expired tokens, answers lost after a commit).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use super::business::{LostAnswer, SageBusiness};
use crate::control::{error, parse, Count};
use crate::faults::FaultKnobs;
use crate::http_util::json;

type Shared = Arc<Vec<Arc<SageBusiness>>>;

pub fn router(businesses: Vec<Arc<SageBusiness>>) -> Router {
    Router::new()
        .route("/", get(list))
        .route("/{name}", get(summary))
        .route("/{name}/invoices", get(invoices))
        .route("/{name}/contacts", get(contacts))
        .route("/{name}/faults", get(faults).put(set_faults))
        .route("/{name}/faults/burst", post(burst))
        .route("/{name}/revoke", post(revoke))
        .route("/{name}/expire_tokens", post(expire_tokens))
        .route("/{name}/lose_answers", post(lose_answers))
        .route("/{name}/calls", get(calls).delete(reset_calls))
        .with_state(Arc::new(businesses))
}

fn find(all: &Shared, name: &str) -> Result<Arc<SageBusiness>, Response> {
    all.iter()
        .find(|b| b.name() == name)
        .cloned()
        .ok_or_else(|| {
            error(
                StatusCode::NOT_FOUND,
                &format!("no Sage business named {name:?}"),
            )
        })
}

macro_rules! or_return {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(response) => return response,
        }
    };
}

/// What a connector needs to reach a business.
fn access(b: &SageBusiness) -> Value {
    json!({
        "name": b.name(),
        "base_url": b.base_url(),
        "authorize_url": b.authorize_url(),
        "token_url": b.token_url(),
        "api_url": b.api_url(),
        "client_id": b.client_id(),
        "client_secret": b.client_secret(),
        "business_id": b.business_id(),
        "business_name": b.business_name()
    })
}

async fn list(State(all): State<Shared>) -> Response {
    let businesses: Vec<Value> = all.iter().map(|b| access(b)).collect();
    json(StatusCode::OK, &json!({ "businesses": businesses }))
}

async fn summary(State(all): State<Shared>, Path(name): Path<String>) -> Response {
    let b = or_return!(find(&all, &name));
    json(
        StatusCode::OK,
        &json!({
            "business": access(&b),
            "invoice_count": b.invoices().len(),
            "contact_count": b.contacts().len(),
            "live_refresh_tokens": b.live_refresh_tokens(),
            "calls": b.call_times().len(),
            "max_in_flight": b.max_in_flight(),
            "traffic": b.traffic().snapshot(),
            "faults": b.faults().knobs()
        }),
    )
}

async fn invoices(State(all): State<Shared>, Path(name): Path<String>) -> Response {
    let b = or_return!(find(&all, &name));
    json(StatusCode::OK, &json!({ "invoices": b.invoices() }))
}

async fn contacts(State(all): State<Shared>, Path(name): Path<String>) -> Response {
    let b = or_return!(find(&all, &name));
    json(StatusCode::OK, &json!({ "contacts": b.contacts() }))
}

async fn faults(State(all): State<Shared>, Path(name): Path<String>) -> Response {
    let b = or_return!(find(&all, &name));
    json(StatusCode::OK, &json!(b.faults().knobs()))
}

/// Replaces the knobs; omitted fields take their defaults (off).
async fn set_faults(State(all): State<Shared>, Path(name): Path<String>, body: Bytes) -> Response {
    let b = or_return!(find(&all, &name));
    let knobs: FaultKnobs = or_return!(parse(&body));
    if let Err(message) = knobs.check() {
        return error(StatusCode::UNPROCESSABLE_ENTITY, message);
    }
    b.set_faults(knobs);
    json(StatusCode::OK, &json!(b.faults().knobs()))
}

/// Body `{"count": n}`: the next n API calls answer 429.
async fn burst(State(all): State<Shared>, Path(name): Path<String>, body: Bytes) -> Response {
    let b = or_return!(find(&all, &name));
    let Count { count } = or_return!(parse(&body));
    b.faults()
        .add_429_burst(u32::try_from(count).unwrap_or(u32::MAX));
    json(StatusCode::OK, &json!(b.faults().knobs()))
}

async fn revoke(State(all): State<Shared>, Path(name): Path<String>) -> Response {
    let b = or_return!(find(&all, &name));
    b.revoke_grant();
    json(
        StatusCode::OK,
        &json!({ "live_refresh_tokens": b.live_refresh_tokens() }),
    )
}

async fn expire_tokens(State(all): State<Shared>, Path(name): Path<String>) -> Response {
    let b = or_return!(find(&all, &name));
    b.expire_access_tokens();
    json(StatusCode::OK, &json!({ "expired": true }))
}

#[derive(Debug, Deserialize)]
struct Lose {
    count: u32,
    #[serde(flatten)]
    how: LostAnswer,
}

/// Body `{"count": n, "mode": "late", "delay_ms": 30000}` or `{"count": n, "mode":
/// "gateway_timeout"}`: the next n invoices are committed and their answer lost so.
async fn lose_answers(
    State(all): State<Shared>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let b = or_return!(find(&all, &name));
    let Lose { count, how } = or_return!(parse(&body));
    b.lose_answers(count, how);
    json(StatusCode::OK, &json!({ "count": count, "how": how }))
}

/// The admitted calls' arrival times, in milliseconds after the first.
async fn calls(State(all): State<Shared>, Path(name): Path<String>) -> Response {
    let b = or_return!(find(&all, &name));
    let times = b.call_times();
    let first = times.first().copied();
    let offsets: Vec<u128> = times
        .iter()
        .filter_map(|t| first.map(|f| t.duration_since(f).as_millis()))
        .collect();
    json(
        StatusCode::OK,
        &json!({ "offsets_ms": offsets, "max_in_flight": b.max_in_flight() }),
    )
}

async fn reset_calls(State(all): State<Shared>, Path(name): Path<String>) -> Response {
    let b = or_return!(find(&all, &name));
    b.reset_calls();
    json(StatusCode::OK, &json!({ "calls": 0 }))
}
