//! The read-only lists a connector maps its settings to: `GET /businesses` (the core API, no
//! `X-Business` needed), `GET /ledger_accounts` (`visible_in`, `ledger_account_type_id`,
//! `search` on name or nominal code) and `GET /tax_rates`, each with its `/{key}` form.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::business::SageBusiness;
use super::errors;
use super::listing::{self, PerPageKey};
use crate::http_util::json;
use crate::query::Query;

fn query(raw: Option<String>) -> Query {
    Query::parse(raw.as_deref().unwrap_or(""))
}

pub async fn businesses(
    State(business): State<Arc<SageBusiness>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = query(raw);
    let items = vec![business.business_json()];
    listing::answer(items, &q, "businesses", PerPageKey::Snake)
}

pub async fn business(
    State(business): State<Arc<SageBusiness>>,
    Path(key): Path<String>,
) -> Response {
    if key == business.business_id() {
        json(StatusCode::OK, &business.business_json())
    } else {
        errors::not_found()
    }
}

pub async fn ledger_accounts(
    State(business): State<Arc<SageBusiness>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = query(raw);
    let visible_in = q.get("visible_in").filter(|s| !s.is_empty());
    let type_id = q.get("ledger_account_type_id").filter(|s| !s.is_empty());
    let search = q.get("search").filter(|s| !s.is_empty());
    let state = business.state();
    let created = state.seeded_at;
    let items: Vec<Value> = state
        .ledger_accounts
        .iter()
        .map(|a| a.to_json(&state.tax_rates, created))
        .filter(|a| visible_in.is_none_or(|area| a[format!("visible_in_{area}")] == true))
        .filter(|a| type_id.is_none_or(|t| a["ledger_account_type"]["id"] == t))
        .filter(|a| {
            search.is_none_or(|s| {
                listing::matches(a["name"].as_str(), s)
                    || a["nominal_code"].to_string().starts_with(s)
            })
        })
        .collect();
    listing::answer(items, &q, "ledger_accounts", PerPageKey::Camel)
}

pub async fn ledger_account(
    State(business): State<Arc<SageBusiness>>,
    Path(key): Path<String>,
) -> Response {
    let state = business.state();
    match state.ledger_account(&key) {
        Some(a) => json(
            StatusCode::OK,
            &a.to_json(&state.tax_rates, state.seeded_at),
        ),
        None => errors::not_found(),
    }
}

pub async fn tax_rates(
    State(business): State<Arc<SageBusiness>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = query(raw);
    let state = business.state();
    let items: Vec<Value> = state
        .tax_rates
        .iter()
        .map(|r| r.to_json(state.seeded_at))
        .collect();
    listing::answer(items, &q, "tax_rates", PerPageKey::Camel)
}

pub async fn tax_rate(
    State(business): State<Arc<SageBusiness>>,
    Path(key): Path<String>,
) -> Response {
    let state = business.state();
    match state.tax_rate(&key) {
        Some(r) => json(StatusCode::OK, &r.to_json(state.seeded_at)),
        None => errors::not_found(),
    }
}
