//! eBay's OAuth token endpoint, `POST /identity/v1/oauth2/token`, for the refresh token grant:
//! the app authenticates with HTTP Basic (App ID : Cert ID) and trades the seller's refresh token
//! for a User access token (`expires_in` 7,200). And the bearer check every API call passes.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use serde_json::json;

use super::errors::invalid_token;
use super::store::EbayStore;
use crate::http_util::{constant_time_eq, json};
use crate::query::Query;

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    json(
        status,
        &json!({ "error": error, "error_description": description }),
    )
}

/// True when the Basic credentials are the app's.
fn client_authenticated(store: &EbayStore, headers: &HeaderMap) -> bool {
    let Some(encoded) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let expected = format!("{}:{}", store.config.client_id, store.config.client_secret);
    constant_time_eq(&decoded, expected.as_bytes())
}

pub async fn token(
    State(store): State<Arc<EbayStore>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !client_authenticated(&store, &headers) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
    }
    let form = Query::parse(&String::from_utf8_lossy(&body));
    match form.get("grant_type") {
        Some("refresh_token") => {}
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "grant type in request is not supported by the authorization server",
            )
        }
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "request is missing a required parameter or malformed.",
            )
        }
    }
    let presented = form.get("refresh_token").unwrap_or("");
    if !constant_time_eq(presented.as_bytes(), store.config.refresh_token.as_bytes()) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "the provided authorization refresh token is invalid or was issued to another client",
        );
    }
    let lifetime = store.config.access_token_lifetime_secs;
    let access_token = store.state().tokens.issue(Duration::from_secs(lifetime));
    json(
        StatusCode::OK,
        &json!({
            "access_token": access_token,
            "expires_in": lifetime,
            "token_type": "User Access Token",
        }),
    )
}

/// Middleware: a live `Authorization: Bearer` token issued by [`token`].
pub async fn require_token(
    State(store): State<Arc<EbayStore>>,
    req: Request,
    next: Next,
) -> Response {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match presented {
        Some(token) if store.state().tokens.valid(token.trim()) => next.run(req).await,
        _ => invalid_token(),
    }
}
