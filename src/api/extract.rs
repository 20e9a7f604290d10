//! Request extractors whose every rejection is problem+json. axum's own `Json` and `Query` answer
//! with plain text and cannot say which field was wrong; these name it, and sort syntax errors
//! (400: the body is not JSON at all) from data errors (422: a value of the wrong shape, or one
//! PostgreSQL could not hold).
//!
//! Every text a client sends through them (a JSON string or key, a query parameter's name or
//! value) is checked here, once, to hold no NUL character, and every time field (a
//! [`Timestamp`]) to be within PostgreSQL's range: see [`crate::domain::storable`]. A handler
//! therefore never passes the database a value it must refuse, which would otherwise read as the
//! database failing.

use std::fmt::Display;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use url::form_urlencoded;

use super::problem;
use crate::api::error::AppError;
use crate::domain::storable::{self, holds_text, EARLIEST};
use crate::error::FieldError;

/// A JSON body, deserialised with the offending field's path kept for the error.
pub struct ApiJson<T>(pub T);

/// A query string, with a problem+json 422 naming the parameter when it does not deserialise.
pub struct ApiQuery<T>(pub T);

/// A time a client sends, refused unless PostgreSQL can hold it (from 24 November 4714 BC on):
/// the type of every time field of a body or query that reaches the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp(pub DateTime<Utc>);

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let t = DateTime::<Utc>::deserialize(d)?;
        if !storable::holds_time(&t) {
            return Err(serde::de::Error::custom(format!(
                "{t} is before the earliest time switchyard stores ({EARLIEST})"
            )));
        }
        Ok(Timestamp(t))
    }
}

/// True for `application/json` and `application/<anything>+json`, with or without parameters.
pub(super) fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// A serde error at a path as a 422 naming the field.
fn data_error<E: Display>(err: serde_path_to_error::Error<E>) -> AppError {
    let FieldError { field, reason } = FieldError::from_serde(err);
    AppError::invalid(reason, (field != ".").then_some(field))
}

fn nul_in(field: String) -> AppError {
    AppError::invalid(
        format!("`{field}` contains a NUL character (U+0000), which switchyard cannot store"),
        Some(field),
    )
}

/// The path (as serde names fields: `lines[0].sku`) of the first string or object key within
/// `value` that holds a NUL; `at` is `value`'s own path, empty for the body.
fn nul_path(value: &Value, at: &str) -> Option<String> {
    let join = |key: &str| {
        if at.is_empty() {
            key.to_owned()
        } else {
            format!("{at}.{key}")
        }
    };
    match value {
        // A bare string is no body any route takes; its shape is refused after this.
        Value::String(s) if !holds_text(s) && !at.is_empty() => Some(at.to_owned()),
        Value::Object(map) => map.iter().find_map(|(key, v)| {
            if holds_text(key) {
                nul_path(v, &join(key))
            } else {
                Some(join(key))
            }
        }),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| nul_path(v, &format!("{at}[{i}]"))),
        _ => None,
    }
}

/// Parses a JSON body: 400 when it is not JSON, 422 naming the first value that holds a NUL.
pub(super) fn parse(bytes: &[u8]) -> Result<Value, AppError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| AppError::BadRequest(format!("the body is not valid JSON: {e}")))?;
    match nul_path(&value, "") {
        Some(field) => Err(nul_in(field)),
        None => Ok(value),
    }
}

/// Deserialises a JSON object: 400 when the body is not JSON, 422 naming the field when it is JSON
/// of the wrong shape. The body is read as a `Value` first so that an array is refused too (serde
/// would otherwise fill a struct's fields from it by position).
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let value = parse(bytes)?;
    if !value.is_object() {
        return Err(AppError::invalid("the body must be a JSON object", None));
    }
    serde_path_to_error::deserialize(value).map_err(data_error)
}

/// Deserialises a query string (percent-decoded, as a form): 422 naming the parameter whose
/// name or value holds a NUL, or whose value does not fit its type.
fn decode_query<T: DeserializeOwned>(query: &str) -> Result<T, AppError> {
    let pairs = form_urlencoded::parse(query.as_bytes());
    if let Some((name, _)) = pairs
        .clone()
        .find(|(name, value)| !holds_text(name) || !holds_text(value))
    {
        return Err(nul_in(name.into_owned()));
    }
    serde_path_to_error::deserialize(serde_urlencoded::Deserializer::new(pairs)).map_err(data_error)
}

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        if !is_json(req.headers()) {
            return Err(AppError::BadRequest(
                "expected a JSON body sent with `Content-Type: application/json`".into(),
            )
            .into_response());
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            match rejection.status() {
                StatusCode::PAYLOAD_TOO_LARGE => problem::too_large(),
                _ => AppError::BadRequest(format!(
                    "the body could not be read: {}",
                    rejection.body_text()
                ))
                .into_response(),
            }
        })?;
        decode(&bytes)
            .map(ApiJson)
            .map_err(IntoResponse::into_response)
    }
}

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AppError> {
        decode_query(parts.uri.query().unwrap_or_default()).map(ApiQuery)
    }
}

/// The value of the request's cookie `name`, from any of its `Cookie` headers.
pub(super) fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        #[serde(default)]
        count: Option<u32>,
    }

    fn field_of(json: &str) -> (StatusCode, Option<String>) {
        match decode::<Body>(json.as_bytes()) {
            Ok(_) => (StatusCode::OK, None),
            Err(AppError::Invalid { field, .. }) => (StatusCode::UNPROCESSABLE_ENTITY, field),
            Err(AppError::BadRequest(_)) => (StatusCode::BAD_REQUEST, None),
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }

    #[test]
    fn data_errors_name_their_field() {
        assert_eq!(field_of(r#"{"name": "a"}"#), (StatusCode::OK, None));
        assert_eq!(
            field_of(r#"{"name": "a", "count": -1}"#),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("count".into()))
        );
        assert_eq!(
            field_of(r#"{"count": 1}"#),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("name".into()))
        );
        assert_eq!(
            field_of(r#"{"name": "a", "colour": "red"}"#),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("colour".into()))
        );
        assert_eq!(
            field_of(r#"["a", 1]"#),
            (StatusCode::UNPROCESSABLE_ENTITY, None),
            "an array is not an object, even one that fits the fields"
        );
    }

    #[test]
    fn a_nul_anywhere_in_a_body_is_refused_naming_where() {
        let nul_field = |json: &str| match parse(json.as_bytes()) {
            Err(AppError::Invalid { field, .. }) => field,
            other => panic!("expected a 422 for {json}, got {other:?}"),
        };
        assert_eq!(
            nul_field(r#"{"name": "a\u0000b"}"#).as_deref(),
            Some("name")
        );
        assert_eq!(
            nul_field(r#"{"a": {"b": [1, "ok", "\u0000"]}}"#).as_deref(),
            Some("a.b[2]")
        );
        assert_eq!(
            nul_field(r#"[{"x": 1}, {"sku\u0000": 2}]"#).as_deref(),
            Some("[1].sku\u{0}")
        );
        assert!(parse(r#"{"name": "tab\t, newline\n, bell\u0007"}"#.as_bytes()).is_ok());
        // A bare string is no object: refused for its shape by `decode`, not here.
        assert!(parse(br#""\u0000""#).is_ok());
        assert_eq!(
            field_of(r#"{"name": "\u0000"}"#),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("name".into()))
        );
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Query {
        sku: Option<String>,
        limit: Option<u32>,
        since: Option<Timestamp>,
    }

    fn query_field(query: &str) -> Option<String> {
        match decode_query::<Query>(query) {
            Err(AppError::Invalid { field, .. }) => field,
            other => panic!("expected a 422 for {query}, got {other:?}"),
        }
    }

    #[test]
    fn query_errors_name_their_parameter() {
        let ok = decode_query::<Query>("sku=A%20B&limit=5&since=2025-01-01T00:00:00Z");
        assert_eq!(ok.ok().and_then(|q| q.sku).as_deref(), Some("A B"));
        assert!(decode_query::<Query>("").is_ok());
        assert_eq!(query_field("sku=%00").as_deref(), Some("sku"));
        assert_eq!(query_field("limit=1&sku=a%00b").as_deref(), Some("sku"));
        assert_eq!(query_field("x%00=1").as_deref(), Some("x\u{0}"));
        assert_eq!(query_field("limit=lots").as_deref(), Some("limit"));
        assert_eq!(query_field("limit=-1").as_deref(), Some("limit"));
        assert_eq!(query_field("colour=red").as_deref(), Some("colour"));
        assert_eq!(
            query_field("since=-4714-11-24T00:00:00Z").as_deref(),
            Some("since")
        );
        let earliest = decode_query::<Query>("since=-4713-11-24T00:00:00Z");
        assert!(earliest.is_ok_and(|q| q.since.is_some()));
    }

    #[test]
    fn times_before_postgresqls_range_are_refused_in_bodies_too() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Body {
            since: Timestamp,
        }
        let field = |json: &str| match decode::<Body>(json.as_bytes()) {
            Ok(_) => None,
            Err(AppError::Invalid { field, .. }) => field,
            Err(other) => panic!("unexpected error {other:?}"),
        };
        assert_eq!(
            field(r#"{"since": "-4714-11-24T00:00:00Z"}"#).as_deref(),
            Some("since")
        );
        assert_eq!(
            field(r#"{"since": "-262143-01-01T00:00:00Z"}"#).as_deref(),
            Some("since")
        );
        assert_eq!(field(r#"{"since": "2025-01-01T00:00:00+02:00"}"#), None);
    }

    #[test]
    fn syntax_errors_are_bad_requests() {
        assert_eq!(field_of(r#"{"name": "#).0, StatusCode::BAD_REQUEST);
        assert_eq!(field_of("").0, StatusCode::BAD_REQUEST);
        assert_eq!(field_of(r#"{"name": "a"} {}"#).0, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn json_content_types_are_recognised() {
        let with = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(CONTENT_TYPE, HeaderValue::from_static(v));
            is_json(&h)
        };
        assert!(with("application/json"));
        assert!(with("Application/JSON; charset=utf-8"));
        assert!(with("application/merge-patch+json"));
        assert!(!with("text/plain"));
        assert!(!with("application/x-www-form-urlencoded"));
        assert!(!is_json(&HeaderMap::new()));
    }
}
