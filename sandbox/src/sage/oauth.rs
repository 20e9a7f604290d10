//! The two OAuth 2.0 endpoints, at the same path suffixes as Sage's hosts so a client only swaps
//! base URLs: the authorize page (`GET /oauth2/auth/central`, which here signs the business's
//! user in and approves at once) and the token endpoint (`POST /token`, a form with
//! `client_id` / `client_secret` in the body or as HTTP Basic).

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::json;

use super::business::SageBusiness;
use super::errors::oauth as oauth_error;
use super::tokens::{Issued, Scope};
use crate::faults::lock;
use crate::http_util::{constant_time_eq, json};
use crate::query::Query;

fn page(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message.to_string(),
    )
        .into_response()
}

fn encode(text: &str) -> String {
    utf8_percent_encode(text, NON_ALPHANUMERIC).to_string()
}

/// `redirect_uri` with `params` appended to its query.
fn redirect(redirect_uri: &str, params: &[(&str, &str)]) -> Response {
    let joined: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    let location = format!("{redirect_uri}{sep}{}", joined.join("&"));
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

/// `GET /oauth2/auth/central?client_id&response_type=code&redirect_uri&scope&state[&filter&country&locale]`.
/// An unknown client or callback gets an error page (the user's browser is not sent anywhere a
/// stranger named); other faults go back to the callback as `error`, and success as `code`,
/// `country` and the `state` given.
pub async fn authorize(
    State(business): State<Arc<SageBusiness>>,
    RawQuery(query): RawQuery,
) -> Response {
    let q = Query::parse(query.as_deref().unwrap_or(""));
    let client_id = q.get("client_id").unwrap_or("");
    if !constant_time_eq(client_id.as_bytes(), business.client_id().as_bytes()) {
        return page(StatusCode::BAD_REQUEST, "The client_id is not registered.");
    }
    let redirect_uri = q.get("redirect_uri").unwrap_or("");
    let registered = &business.config.redirect_uris;
    let allowed = if registered.is_empty() {
        redirect_uri.starts_with("http://") || redirect_uri.starts_with("https://")
    } else {
        registered.iter().any(|r| r == redirect_uri)
    };
    if !allowed {
        return page(
            StatusCode::BAD_REQUEST,
            "The redirect_uri does not match a callback URL registered for this app.",
        );
    }
    let state = q.get("state");
    let fail = |code: &str| {
        let mut params = vec![("error", code)];
        if let Some(state) = state {
            params.push(("state", state));
        }
        redirect(redirect_uri, &params)
    };
    if q.get("response_type") != Some("code") {
        return fail("unsupported_response_type");
    }
    let scope_text = q.get("scope").or_else(|| q.get("scopes"));
    let Some(scope) = scope_text.map_or(Some(Scope::FullAccess), Scope::parse) else {
        return fail("invalid_scope");
    };
    let code = lock(&business.tokens).issue_code(
        redirect_uri,
        scope,
        Instant::now(),
        &business.lifetimes(),
    );
    let mut params = vec![
        ("code", code.as_str()),
        ("country", business.config.country.as_str()),
    ];
    if let Some(state) = state {
        params.push(("state", state));
    }
    redirect(redirect_uri, &params)
}

/// Client credentials from HTTP Basic, if that is how they came.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let raw = STANDARD.decode(value.strip_prefix("Basic ")?.trim()).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

fn issued_json(business: &SageBusiness, issued: &Issued) -> Response {
    let mut response = json(
        StatusCode::OK,
        &json!({
            "access_token": issued.access_token,
            "scope": issued.scope.as_str(),
            "token_type": "bearer",
            "expires_in": issued.expires_in,
            "refresh_token": issued.refresh_token,
            "refresh_token_expires_in": issued.refresh_token_expires_in,
            "requested_by_id": business.user_id()
        }),
    );
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

/// `POST /token` with `grant_type=authorization_code` (`code`, `redirect_uri`) or
/// `grant_type=refresh_token` (`refresh_token`). Anything wrong with the grant itself (an
/// unknown, used, expired or revoked code or token, a different `redirect_uri`, another
/// `grant_type`) is `400 {"error": "invalid_grant"}`, as Sage answers it.
pub async fn token(
    State(business): State<Arc<SageBusiness>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Query::parse(&String::from_utf8_lossy(&body));
    let basic = basic_credentials(&headers);
    let (client_id, client_secret, status) = match &basic {
        Some((id, secret)) => (id.as_str(), secret.as_str(), StatusCode::UNAUTHORIZED),
        None => (
            form.get("client_id").unwrap_or(""),
            form.get("client_secret").unwrap_or(""),
            StatusCode::BAD_REQUEST,
        ),
    };
    let known = constant_time_eq(client_id.as_bytes(), business.client_id().as_bytes())
        && constant_time_eq(
            client_secret.as_bytes(),
            business.client_secret().as_bytes(),
        );
    if !known {
        return oauth_error(status, "invalid_client");
    }
    let now = Instant::now();
    let lifetimes = business.lifetimes();
    let issued = {
        let mut tokens = lock(&business.tokens);
        match form.get("grant_type") {
            Some("authorization_code") => tokens.redeem_code(
                form.get("code").unwrap_or(""),
                form.get("redirect_uri").unwrap_or(""),
                now,
                &lifetimes,
            ),
            Some("refresh_token") => {
                tokens.refresh(form.get("refresh_token").unwrap_or(""), now, &lifetimes)
            }
            _ => None,
        }
    };
    match issued {
        Some(issued) => issued_json(&business, &issued),
        None => oauth_error(StatusCode::BAD_REQUEST, "invalid_grant"),
    }
}
