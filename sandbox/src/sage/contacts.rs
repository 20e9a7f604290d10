//! `GET /contacts` (`search` on name or reference, `contact_type_id`, `email`), `GET
//! /contacts/{key}` and `POST /contacts` (`name` and `contact_type_ids` required).

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::business::SageBusiness;
use super::errors::{self, SageError};
use super::listing::{self, PerPageKey};
use super::model::{Address, Contact};
use super::request::{earlier, root_object, text};
use crate::http_util::json;
use crate::query::Query;
use crate::timefmt;

const CONTACT_TYPES: [&str; 2] = ["CUSTOMER", "VENDOR"];

pub async fn list(State(business): State<Arc<SageBusiness>>, RawQuery(raw): RawQuery) -> Response {
    let q = Query::parse(raw.as_deref().unwrap_or(""));
    let search = q.get("search").filter(|s| !s.is_empty());
    let contact_type = q.get("contact_type_id").filter(|s| !s.is_empty());
    let email = q.get("email").filter(|s| !s.is_empty());
    let state = business.state();
    let items: Vec<Value> = state
        .contacts
        .iter()
        .filter(|c| {
            search.is_none_or(|s| {
                listing::matches(Some(&c.name), s) || listing::matches(c.reference.as_deref(), s)
            })
        })
        .filter(|c| contact_type.is_none_or(|t| c.contact_types.iter().any(|ct| ct == t)))
        .filter(|c| {
            email.is_none_or(|e| {
                c.email
                    .as_deref()
                    .is_some_and(|m| m.eq_ignore_ascii_case(e))
            })
        })
        .map(|c| state.contact_json(c))
        .collect();
    listing::answer(items, &q, "contacts", PerPageKey::Camel)
}

pub async fn get_one(
    State(business): State<Arc<SageBusiness>>,
    Path(key): Path<String>,
) -> Response {
    let state = business.state();
    match state.contact(&key) {
        Some(contact) => json(StatusCode::OK, &state.contact_json(contact)),
        None => errors::not_found(),
    }
}

pub async fn create(State(business): State<Arc<SageBusiness>>, body: Bytes) -> Response {
    let fields = match root_object(&body, "contact") {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    let mut problems = Vec::new();
    let name = text(&fields, "name");
    if name.is_none() {
        problems.push(SageError::required("name"));
    }
    let types: Vec<String> = fields
        .get("contact_type_ids")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if types.is_empty() {
        problems.push(SageError::required("contact_type_ids"));
    } else if types.iter().any(|t| !CONTACT_TYPES.contains(&t.as_str())) {
        problems.push(SageError::invalid("is invalid", "contact_type_ids"));
    }
    let idempotency_id = text(&fields, "idempotency_id");
    let now = Instant::now();
    let mut state = business.state();
    match earlier(&state, idempotency_id.as_deref(), "contact", now) {
        Ok(Some(id)) => {
            if let Some(contact) = state.contact(&id) {
                return json(StatusCode::CREATED, &state.contact_json(contact));
            }
        }
        Ok(None) => {}
        Err(response) => return response,
    }
    let reference = text(&fields, "reference");
    if let Some(r) = &reference {
        if state
            .contacts
            .iter()
            .any(|c| c.reference.as_deref() == Some(r.as_str()))
        {
            problems.push(SageError::invalid("has already been taken", "reference"));
        }
    }
    let account_id = text(&fields, "default_sales_ledger_account_id");
    if account_id
        .as_deref()
        .is_some_and(|id| state.ledger_account(id).is_none())
    {
        problems.push(SageError::invalid(
            "Couldn't find LedgerAccount.",
            "default_sales_ledger_account_id",
        ));
    }
    let rate_id = text(&fields, "default_sales_tax_rate_id");
    if rate_id
        .as_deref()
        .is_some_and(|id| state.tax_rate(id).is_none())
    {
        problems.push(SageError::invalid(
            "Couldn't find TaxRate.",
            "default_sales_tax_rate_id",
        ));
    }
    let Some(name) = name.filter(|_| problems.is_empty()) else {
        return errors::unprocessable(&problems);
    };
    let email = fields
        .get("main_contact_person")
        .and_then(|p| p.get("email"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let contact = Contact {
        id: state.new_id("contact"),
        name,
        reference,
        contact_types: types,
        email,
        tax_number: text(&fields, "tax_number"),
        notes: text(&fields, "notes"),
        main_address: Address::from_json(fields.get("main_address")),
        default_sales_ledger_account_id: account_id,
        default_sales_tax_rate_id: rate_id,
        created_at: timefmt::now(),
    };
    let rendered = state.contact_json(&contact);
    state.remember(idempotency_id, "contact", &contact.id, now);
    state.contacts.push(contact);
    json(StatusCode::CREATED, &rendered)
}
