//! Xero's OAuth 2.0 authorization code flow, at the paths of its three hosts:
//! `GET /identity/connect/authorize` (login.xero.com: checks the client, redirect URI, scopes and
//! response type, then "consents" at once and redirects with `code`, `scope`, `state` and
//! `session_state`; a bad request gets an error page, never a redirect), `POST /connect/token`
//! (identity.xero.com: client authentication by HTTP Basic or form fields, `authorization_code`
//! with PKCE when the code was issued with a challenge, and `refresh_token`; OAuth errors as
//! `{"error": ...}`) and `GET /connections` (api.xero.com: the tenants a token reaches).

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Utc};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::json;

use super::auth::authenticate;
use super::errors::oauth;
use super::store::XeroOrg;
use crate::http_util::{constant_time_eq, json, random_hex, set_header};
use crate::query::Query;

type Org = State<Arc<XeroOrg>>;

/// OpenID Connect scopes, and the prefixes of Xero's API scopes.
const OIDC_SCOPES: &[&str] = &["openid", "profile", "email", "offline_access"];
const API_SCOPE_PREFIXES: &[&str] = &[
    "accounting.",
    "payroll.",
    "files",
    "assets",
    "projects",
    "bankfeeds",
    "finance.",
    "paymentservices",
    "app.connections",
    "marketplace.billing",
];

fn scope_known(scope: &str) -> bool {
    OIDC_SCOPES.contains(&scope) || API_SCOPE_PREFIXES.iter().any(|p| scope.starts_with(p))
}

/// Xero's login host shows an error page instead of redirecting a bad authorization request.
fn error_page(error: &str, detail: &str) -> Response {
    let body = format!(
        "<!DOCTYPE html><html><head><title>Xero | Error</title></head><body>\
         <h1>Sorry, something went wrong</h1><p>Error: {error}</p><p>{detail}</p></body></html>"
    );
    (StatusCode::BAD_REQUEST, Html(body)).into_response()
}

fn encode(text: &str) -> String {
    utf8_percent_encode(text, NON_ALPHANUMERIC).to_string()
}

pub async fn authorize(State(org): Org, RawQuery(q): RawQuery) -> Response {
    let query = Query::parse(q.as_deref().unwrap_or(""));
    let get = |k: &str| query.get(k).unwrap_or_default();
    if !constant_time_eq(get("client_id").as_bytes(), org.client_id().as_bytes()) {
        return error_page(
            "unauthorized_client",
            "Unknown client or client not enabled",
        );
    }
    let redirect_uri = get("redirect_uri");
    if !org.redirect_uri_allowed(redirect_uri) {
        return error_page("invalid_request", "Invalid redirect_uri");
    }
    if get("response_type") != "code" {
        return error_page("unsupported_response_type", "Response type not supported");
    }
    let scope = get("scope")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if scope.is_empty() || !scope.split(' ').all(scope_known) {
        return error_page("invalid_scope", "Invalid scope");
    }
    let challenge = query
        .get("code_challenge")
        .filter(|c| !c.is_empty())
        .map(|c| {
            let method = query.get("code_challenge_method").unwrap_or("plain");
            (c.to_owned(), method.to_owned())
        });
    let code = org
        .identity()
        .issue_code(&scope, redirect_uri, challenge, Instant::now());
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    let mut location = format!(
        "{redirect_uri}{separator}code={code}&scope={}",
        encode(&scope)
    );
    if let Some(state) = query.get("state") {
        location.push_str(&format!("&state={}", encode(state)));
    }
    location.push_str(&format!("&session_state={}", random_hex(16)));
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// The client credentials of a token request: HTTP Basic, or `client_id`/`client_secret` fields.
fn client_credentials(headers: &HeaderMap, form: &Query) -> (String, Option<String>) {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        })
        .and_then(|b64| STANDARD.decode(b64.trim()).ok())
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|pair| {
            let (id, secret) = pair.split_once(':')?;
            Some((id.to_owned(), Some(secret.to_owned())))
        });
    basic.unwrap_or_else(|| {
        (
            form.get("client_id").unwrap_or_default().to_owned(),
            form.get("client_secret").map(str::to_owned),
        )
    })
}

pub async fn token(State(org): Org, headers: HeaderMap, body: Bytes) -> Response {
    let form = Query::parse(&String::from_utf8_lossy(&body));
    let (client_id, secret) = client_credentials(&headers, &form);
    if !constant_time_eq(client_id.as_bytes(), org.client_id().as_bytes()) {
        return oauth("invalid_client");
    }
    let secret_ok = secret
        .as_deref()
        .is_some_and(|s| constant_time_eq(s.as_bytes(), org.client_secret().as_bytes()));
    let verifier = form.get("code_verifier");
    // A public (PKCE) client has no secret; it proves itself with the code verifier instead.
    if !secret_ok && (secret.is_some() || verifier.is_none()) {
        return oauth("invalid_client");
    }
    let now = Instant::now();
    let lifetimes = org.lifetimes();
    let issued = match form.get("grant_type") {
        Some("authorization_code") => org.identity().redeem_code(
            form.get("code").unwrap_or_default(),
            form.get("redirect_uri").unwrap_or_default(),
            verifier,
            lifetimes,
            now,
        ),
        Some("refresh_token") => org.identity().refresh(
            form.get("refresh_token").unwrap_or_default(),
            lifetimes,
            now,
        ),
        _ => return oauth("unsupported_grant_type"),
    };
    match issued {
        Ok(set) => {
            let mut body = json!({
                "access_token": set.access_token,
                "expires_in": set.expires_in,
                "token_type": "Bearer",
                "scope": set.scope
            });
            if let Some(refresh) = set.refresh_token {
                body["refresh_token"] = json!(refresh);
            }
            let mut response = json(StatusCode::OK, &body);
            set_header(
                &mut response,
                "cache-control",
                "no-store, no-cache, max-age=0",
            );
            set_header(&mut response, "pragma", "no-cache");
            response
        }
        Err(error) => oauth(error),
    }
}

/// .NET's round-trip form without an offset, as the connections endpoint writes its dates.
fn dotnet_utc(ts: DateTime<Utc>) -> String {
    format!(
        "{}.{:07}",
        ts.format("%Y-%m-%dT%H:%M:%S"),
        ts.timestamp_subsec_nanos() / 100
    )
}

pub async fn connections(State(org): Org, headers: HeaderMap) -> Response {
    let grant = match authenticate(&org, &headers) {
        Ok(grant) => grant,
        Err(response) => return response,
    };
    let identity = org.identity();
    let list: Vec<_> = identity
        .grant(grant)
        .filter(|g| !g.revoked)
        .map(|g| {
            json!({
                "id": g.connection_id,
                "authEventId": g.auth_event_id,
                "tenantId": org.tenant_id(),
                "tenantType": "ORGANISATION",
                "tenantName": org.tenant_name(),
                "createdDateUtc": dotnet_utc(g.created),
                "updatedDateUtc": dotnet_utc(g.created)
            })
        })
        .into_iter()
        .collect();
    json(StatusCode::OK, &json!(list))
}
