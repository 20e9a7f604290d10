//! Request extractors whose every rejection is problem+json. axum's own `Json` and `Query` answer
//! with plain text and cannot say which field was wrong; these name it, and sort syntax errors
//! (400: the body is not JSON at all) from data errors (422: JSON of the wrong shape).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::problem;
use crate::error::AppError;

/// A JSON body, deserialised with the offending field's path kept for the error.
pub struct ApiJson<T>(pub T);

/// A query string, with a problem+json 400 when it does not deserialise.
pub struct ApiQuery<T>(pub T);

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

/// Deserialises a JSON object: 400 when the body is not JSON, 422 naming the field when it is JSON
/// of the wrong shape. The body is read as a `Value` first so that an array is refused too (serde
/// would otherwise fill a struct's fields from it by position).
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| AppError::BadRequest(format!("the body is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(AppError::invalid("the body must be a JSON object", None));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        let field = if path == "." {
            crate::error::named_field(&message)
        } else {
            Some(path)
        };
        AppError::invalid(message, field)
    })
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

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| ApiQuery(v))
            .map_err(|rejection| AppError::BadRequest(rejection.body_text()))
    }
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
