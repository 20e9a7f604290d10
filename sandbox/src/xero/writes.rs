//! What every Accounting API write shares: the body (`{"Invoices": [...]}`, or one bare object),
//! and `summarizeErrors`. By default one invalid element fails the whole request with a
//! `ValidationException` and nothing is written; with `summarizeErrors=false` the valid elements
//! are written and the answer is 200 with each invalid one carrying its `ValidationErrors`.

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::books::Books;
use super::errors::{bad_body, validation};
use super::listing::Params;
use super::store::XeroOrg;
use super::wire::envelope;
use crate::http_util::json;

/// The elements of a write body under `key` (a bare object counts as one element).
pub fn elements(body: &Bytes, key: &str) -> Result<Vec<Value>, Response> {
    let value: Value = serde_json::from_slice(body).map_err(|e| bad_body(&e.to_string()))?;
    match value {
        Value::Object(mut map) => match map.remove(key) {
            Some(Value::Array(items)) => Ok(items),
            Some(_) => Err(bad_body(&format!("{key} must be an array"))),
            None => Ok(vec![Value::Object(map)]),
        },
        Value::Array(items) => Ok(items),
        _ => Err(bad_body("expected an object")),
    }
}

/// Applies `write` to each element and answers as Xero does (see the module doc).
pub fn batch(
    org: &XeroOrg,
    body: &Bytes,
    params: &Params,
    key: &str,
    write: impl Fn(&mut Books, &Value) -> Result<Value, Value>,
) -> Response {
    let items = match elements(body, key) {
        Ok(items) => items,
        Err(response) => return response,
    };
    let mut books = org.books();
    if params.flag("summarizeErrors") == Some(false) {
        let answers = items
            .iter()
            .map(|el| write(&mut books, el).unwrap_or_else(|e| e))
            .collect();
        return json(StatusCode::OK, &envelope(key, answers, None));
    }
    let mut draft = books.clone();
    let results: Vec<Result<Value, Value>> = items.iter().map(|el| write(&mut draft, el)).collect();
    if results.iter().any(Result::is_err) {
        return validation(
            results
                .into_iter()
                .map(|r| r.unwrap_or_else(|e| e))
                .collect(),
        );
    }
    *books = draft;
    let answers = results.into_iter().flatten().collect();
    json(StatusCode::OK, &envelope(key, answers, None))
}
