//! The Xero part of the control API, under `/_sandbox/xero`: each organisation's credentials,
//! books and counters, and the knobs (faults, revoked grant, expired tokens, lost answers,
//! registered redirect URIs).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use super::store::{LostAnswer, XeroOrg};
use crate::control::{error, parse};
use crate::faults::FaultKnobs;
use crate::http_util::json;

type Orgs = Arc<Vec<Arc<XeroOrg>>>;
type Answer = Result<Response, Response>;

pub fn router(orgs: Vec<Arc<XeroOrg>>) -> Router {
    Router::new()
        .route("/", get(list))
        .route("/{name}", get(summary))
        .route("/{name}/invoices", get(invoices))
        .route("/{name}/contacts", get(contacts))
        .route("/{name}/items", get(items))
        .route("/{name}/faults", get(faults).put(set_faults))
        .route("/{name}/faults/burst", post(burst))
        .route("/{name}/revoke", post(revoke))
        .route("/{name}/expire-tokens", post(expire_tokens))
        .route("/{name}/lose-answers", post(lose_answers))
        .route("/{name}/redirect-uris", post(register_redirect_uri))
        .with_state(Arc::new(orgs))
}

/// How a connector reaches an organisation.
pub fn info(org: &XeroOrg) -> Value {
    json!({
        "name": org.name(),
        "base_url": org.base_url(),
        "client_id": org.client_id(),
        "client_secret": org.client_secret(),
        "tenant_id": org.tenant_id(),
        "tenant_name": org.tenant_name(),
    })
}

fn find(orgs: &Orgs, name: &str) -> Result<Arc<XeroOrg>, Response> {
    orgs.iter()
        .find(|o| o.name() == name)
        .cloned()
        .ok_or_else(|| {
            error(
                StatusCode::NOT_FOUND,
                &format!("no Xero organisation named {name:?}"),
            )
        })
}

async fn list(State(orgs): State<Orgs>) -> Response {
    let all: Vec<Value> = orgs.iter().map(|o| info(o)).collect();
    json(StatusCode::OK, &json!({ "organisations": all }))
}

async fn summary(State(orgs): State<Orgs>, Path(name): Path<String>) -> Answer {
    let org = find(&orgs, &name)?;
    Ok(json(
        StatusCode::OK,
        &json!({
            "organisation": info(&org),
            "invoice_count": org.invoices().len(),
            "contact_count": org.contacts().len(),
            "item_count": org.items().len(),
            "live_refresh_tokens": org.live_refresh_tokens(),
            "max_in_flight": org.max_in_flight(),
            "calls": org.call_times().len(),
            "max_calls_in_any_minute": org.max_calls_in_any_minute(),
            "pending_lost_answers": org.pending_lost_answers(),
            "traffic": org.traffic().snapshot(),
            "faults": org.faults().knobs(),
        }),
    ))
}

async fn invoices(State(orgs): State<Orgs>, Path(name): Path<String>) -> Answer {
    let org = find(&orgs, &name)?;
    Ok(json(StatusCode::OK, &json!({ "Invoices": org.invoices() })))
}

async fn contacts(State(orgs): State<Orgs>, Path(name): Path<String>) -> Answer {
    let org = find(&orgs, &name)?;
    Ok(json(StatusCode::OK, &json!({ "Contacts": org.contacts() })))
}

async fn items(State(orgs): State<Orgs>, Path(name): Path<String>) -> Answer {
    let org = find(&orgs, &name)?;
    Ok(json(StatusCode::OK, &json!({ "Items": org.items() })))
}

async fn faults(State(orgs): State<Orgs>, Path(name): Path<String>) -> Answer {
    let org = find(&orgs, &name)?;
    Ok(json(StatusCode::OK, &json!(org.faults().knobs())))
}

async fn set_faults(State(orgs): State<Orgs>, Path(name): Path<String>, body: Bytes) -> Answer {
    let org = find(&orgs, &name)?;
    let knobs: FaultKnobs = parse(&body)?;
    knobs
        .check()
        .map_err(|e| error(StatusCode::UNPROCESSABLE_ENTITY, e))?;
    org.faults().set(knobs);
    Ok(json(StatusCode::OK, &json!(org.faults().knobs())))
}

#[derive(Debug, Deserialize)]
struct Count {
    count: u32,
}

/// Body `{"count": n}`: the next n API calls answer 429.
async fn burst(State(orgs): State<Orgs>, Path(name): Path<String>, body: Bytes) -> Answer {
    let org = find(&orgs, &name)?;
    let Count { count } = parse(&body)?;
    org.faults().add_429_burst(count);
    Ok(json(StatusCode::OK, &json!(org.faults().knobs())))
}

async fn revoke(State(orgs): State<Orgs>, Path(name): Path<String>) -> Answer {
    let org = find(&orgs, &name)?;
    org.revoke_grant();
    Ok(json(StatusCode::OK, &json!({ "revoked": true })))
}

async fn expire_tokens(State(orgs): State<Orgs>, Path(name): Path<String>) -> Answer {
    let org = find(&orgs, &name)?;
    org.expire_access_tokens();
    Ok(json(StatusCode::OK, &json!({ "expired": true })))
}

#[derive(Debug, Deserialize)]
struct Lose {
    count: u32,
    how: LostAnswer,
}

/// Body `{"count": n, "how": {"kind": "delay", "ms": 30000}}` or `{"kind": "drop"}`.
async fn lose_answers(State(orgs): State<Orgs>, Path(name): Path<String>, body: Bytes) -> Answer {
    let org = find(&orgs, &name)?;
    let Lose { count, how } = parse(&body)?;
    org.lose_answers(count, how);
    Ok(json(
        StatusCode::OK,
        &json!({ "pending_lost_answers": org.pending_lost_answers() }),
    ))
}

#[derive(Debug, Deserialize)]
struct RedirectUri {
    uri: String,
}

async fn register_redirect_uri(
    State(orgs): State<Orgs>,
    Path(name): Path<String>,
    body: Bytes,
) -> Answer {
    let org = find(&orgs, &name)?;
    let RedirectUri { uri } = parse(&body)?;
    org.register_redirect_uri(&uri);
    Ok(json(StatusCode::OK, &json!({ "registered": uri })))
}
