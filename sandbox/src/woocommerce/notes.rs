//! Order notes: `GET` and `POST /orders/{id}/notes` (`note`, `customer_note`, `added_by_user`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;

use super::errors::{invalid_order_id, missing_param};
use super::model::Note;
use super::orders::{order_id, order_part};
use super::params::{as_bool, body_fields, text_field};
use super::store::WooStore;
use crate::http_util::json;
use crate::timefmt;

pub async fn list(
    State(store): State<Arc<WooStore>>,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    order_part(&store, &params, |order| {
        Value::Array(order.notes.iter().rev().map(Note::to_json).collect())
    })
}

pub async fn create(
    State(store): State<Arc<WooStore>>,
    Path(params): Path<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fields = match body_fields(&headers, &body) {
        Ok(fields) => fields,
        Err(refused) => return refused,
    };
    let Some(text) = text_field(&fields, "note") else {
        return missing_param("note");
    };
    let customer_note = fields
        .get("customer_note")
        .and_then(as_bool)
        .unwrap_or(false);
    let by_user = fields
        .get("added_by_user")
        .and_then(as_bool)
        .unwrap_or(false);
    let Some(id) = order_id(&params) else {
        return invalid_order_id();
    };
    let mut state = store.state();
    if state.orders.get(id).is_none() {
        return invalid_order_id();
    }
    state.next_note_id += 1;
    let note = Note {
        id: state.next_note_id,
        note: text,
        customer_note,
        author: if by_user {
            "switchyard".into()
        } else {
            "system".into()
        },
        created_at: timefmt::now(),
    };
    let rendered = note.to_json();
    state.orders.update(id, |o| o.notes.push(note));
    json(StatusCode::CREATED, &rendered)
}
