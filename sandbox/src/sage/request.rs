//! Reading a create request: the JSON body's root object (`{"contact": {...}}`), its fields,
//! and the `idempotency_id` Sage reads inside that root.

use std::time::Instant;

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value};

use super::business::SageState;
use super::errors::{self, SageError};

/// The object under `root`, or the answer to a body that has none.
pub fn root_object(body: &Bytes, root: &str) -> Result<Map<String, Value>, Response> {
    let parsed: Value = serde_json::from_slice(body).map_err(|_| {
        errors::error(
            StatusCode::BAD_REQUEST,
            "InvalidJson",
            "The request body is not valid JSON.",
            "",
        )
    })?;
    match parsed.get(root) {
        Some(Value::Object(map)) => Ok(map.clone()),
        _ => Err(errors::unprocessable(&[SageError::required(root)])),
    }
}

/// A field as text, when given and not empty.
pub fn text(fields: &Map<String, Value>, name: &str) -> Option<String> {
    match fields.get(name) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// The id of the record an earlier request with this `idempotency_id` created, if any;
/// Sage's `IdempotencyResourceMismatch` when that record is of another kind.
pub fn earlier(
    state: &SageState,
    idempotency_id: Option<&str>,
    kind: &'static str,
    now: Instant,
) -> Result<Option<String>, Response> {
    let Some(replay) = idempotency_id.and_then(|id| state.replay(id, now)) else {
        return Ok(None);
    };
    if replay.kind != kind {
        return Err(errors::unprocessable(&[SageError::new(
            "IdempotencyResourceMismatch",
            "Entity type mismatch",
            "",
        )]));
    }
    Ok(Some(replay.id.clone()))
}
