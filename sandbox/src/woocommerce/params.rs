//! Request parameters as WordPress merges them: the query string, and a body sent either as JSON or
//! as a form. Handlers read named fields from the result whichever way the client sent them.

use std::collections::HashMap;

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value};

use super::errors::error;
use crate::query::{Query, QueryValue};

fn to_json(value: &QueryValue) -> Value {
    match value {
        QueryValue::Str(s) => Value::String(s.clone()),
        QueryValue::Map(inner) => {
            Value::Object(inner.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
        }
    }
}

pub fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"))
}

/// The body's fields; WordPress's `rest_invalid_json` answer for a body that claims JSON and
/// is not a JSON object.
pub fn body_fields(headers: &HeaderMap, body: &[u8]) -> Result<Map<String, Value>, Response> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(Map::new());
    }
    if is_form(headers) {
        let q = Query::parse(&String::from_utf8_lossy(body));
        return Ok(q
            .params
            .iter()
            .map(|(k, v)| (k.clone(), to_json(v)))
            .collect());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(error(
            StatusCode::BAD_REQUEST,
            "rest_invalid_json",
            "Invalid JSON body passed.",
        )),
    }
}

/// The field `name` as text, when given and not empty.
pub fn text_field(fields: &Map<String, Value>, name: &str) -> Option<String> {
    fields.get(name).and_then(as_text).filter(|t| !t.is_empty())
}

/// A WooCommerce id from the path parameter `name`.
pub fn id_param(params: &HashMap<String, String>, name: &str) -> Option<u64> {
    params.get(name).and_then(|s| s.parse().ok())
}

/// Reads an integer the way the WP REST schema coerces one (numbers or numeric strings).
pub fn as_int(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Reads a boolean the way the WP REST schema coerces one.
pub fn as_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_i64().map(|i| i != 0),
        Value::String(s) => match s.as_str() {
            "true" | "1" => Some(true),
            "false" | "0" | "" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

pub fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
