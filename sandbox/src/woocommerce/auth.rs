//! Authentication: the consumer key and secret as HTTP Basic (or as `consumer_key` /
//! `consumer_secret` query parameters), or one-legged OAuth 1.0a signed parameters in the query,
//! a form body or an `Authorization: OAuth` header. A request with no credentials reaches the
//! permission check and gets the route's `woocommerce_rest_cannot_*` error, as on a real store.
//! The key is the configured pair (read/write) or one granted through `/wc-auth/v1/authorize`,
//! whose permissions must cover the request's method.

use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::{OriginalUri, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::errors::error;
use super::keys::Permissions;
use super::oauth::{self, OAuthError};
use super::params::is_form;
use super::store::WooStore;
use crate::http_util::{constant_time_eq, request_url};
use crate::query::{form_decode, Query, QueryValue};

const MAX_FORM: usize = 1 << 20;

enum Presented {
    Basic { key: String, secret: String },
    OAuth(Query),
    None,
}

fn unauthorized(code: &str, message: &str) -> Response {
    error(StatusCode::UNAUTHORIZED, code, message)
}

/// The permission error a route gives an anonymous caller.
fn permission_error(method: &Method, path: &str) -> Response {
    let single = path
        .rsplit('/')
        .next()
        .is_some_and(|seg| !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()));
    let (code, message) = match *method {
        Method::POST => (
            "woocommerce_rest_cannot_create",
            "Sorry, you are not allowed to create resources.",
        ),
        Method::PUT | Method::PATCH => (
            "woocommerce_rest_cannot_edit",
            "Sorry, you are not allowed to edit this resource.",
        ),
        Method::DELETE => (
            "woocommerce_rest_cannot_delete",
            "Sorry, you are not allowed to delete this resource.",
        ),
        _ if single => (
            "woocommerce_rest_cannot_view",
            "Sorry, you cannot view this resource.",
        ),
        _ => (
            "woocommerce_rest_cannot_view",
            "Sorry, you cannot list resources.",
        ),
    };
    unauthorized(code, message)
}

/// Parses `Authorization: OAuth k="v", ...` into parameters (WooCommerce's `parse_header`).
fn oauth_header_params(value: &str) -> Vec<(String, String)> {
    let Some(rest) = value.trim().strip_prefix("OAuth ") else {
        return Vec::new();
    };
    rest.split(',')
        .filter_map(|part| {
            let (k, v) = part.trim().split_once('=')?;
            let k = k.trim();
            if !k.starts_with("oauth_") {
                return None;
            }
            let v = v.trim().trim_matches('"');
            Some((k.to_string(), form_decode(&v.replace('+', "%2B"))))
        })
        .collect()
}

pub async fn authenticate(
    State(store): State<Arc<WooStore>>,
    req: Request,
    next: Next,
) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts
        .extensions
        .get::<OriginalUri>()
        .map(|u| u.0.path().to_string())
        .unwrap_or_else(|| parts.uri.path().to_string());
    let mut params = Query::parse(parts.uri.query().unwrap_or(""));
    // Form fields take part in the signature (PHP's $_POST), so the body is read here and put back.
    let body = if is_form(&parts.headers) {
        match to_bytes(body, MAX_FORM).await {
            Ok(bytes) => {
                for (k, v) in Query::parse(&String::from_utf8_lossy(&bytes)).params {
                    params.remove(&k);
                    params.params.push((k, v));
                }
                Body::from(bytes)
            }
            Err(_) => {
                return error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "rest_payload_too_large",
                    "Request body too large.",
                )
            }
        }
    } else {
        body
    };
    if let Some(value) = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        for (k, v) in oauth_header_params(value) {
            params.remove(&k);
            params.params.push((k, QueryValue::Str(v)));
        }
    }
    let presented = presented(&parts.headers, &params);
    let method = parts.method.as_str();
    let outcome = match presented {
        Presented::Basic { key, secret } => check_basic(&store, &key, &secret),
        Presented::OAuth(ref params) => {
            check_oauth(&store, method, &request_url(&parts.headers, &path), params)
        }
        Presented::None => return permission_error(&parts.method, &path),
    };
    let allowed =
        outcome.and_then(|permissions| permissions.allow(method).map_err(OAuthError::NotPermitted));
    if let Err(e) = allowed {
        return unauthorized(e.code(), &e.message());
    }
    next.run(Request::from_parts(parts, body)).await
}

fn presented(headers: &axum::http::HeaderMap, params: &Query) -> Presented {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b64| STANDARD.decode(b64.trim()).ok())
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|text| {
            text.split_once(':')
                .map(|(k, s)| (k.to_string(), s.to_string()))
        });
    if let Some((key, secret)) = basic {
        return Presented::Basic { key, secret };
    }
    if let (Some(key), Some(secret)) = (params.get("consumer_key"), params.get("consumer_secret")) {
        return Presented::Basic {
            key: key.to_string(),
            secret: secret.to_string(),
        };
    }
    match oauth::consumer_key(params) {
        Ok(None) => Presented::None,
        _ => Presented::OAuth(params.clone()),
    }
}

fn check_basic(store: &WooStore, key: &str, secret: &str) -> Result<Permissions, OAuthError> {
    let (expected, permissions) = store.key(key).ok_or(OAuthError::InvalidConsumerKey)?;
    if !constant_time_eq(secret.as_bytes(), expected.as_bytes()) {
        return Err(OAuthError::InvalidConsumerSecret);
    }
    Ok(permissions)
}

fn check_oauth(
    store: &WooStore,
    method: &str,
    url: &str,
    params: &Query,
) -> Result<Permissions, OAuthError> {
    let key = oauth::consumer_key(params)?.unwrap_or_default();
    let (secret, permissions) = store.key(&key).ok_or(OAuthError::InvalidConsumerKey)?;
    oauth::verify_signature(method, url, params, &secret)?;
    let timestamp = params.get("oauth_timestamp").unwrap_or("");
    let nonce = params.get("oauth_nonce").unwrap_or("");
    store
        .state()
        .nonces
        .check(timestamp, nonce, chrono::Utc::now().timestamp())?;
    Ok(permissions)
}
