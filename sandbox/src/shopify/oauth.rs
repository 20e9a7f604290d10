//! Shopify's authorization code grant, as an app that is not embedded implements it by hand
//! (shopify.dev, "Implement authorization code grant manually"), at the shop's own host:
//!
//! - `GET /admin/oauth/authorize?client_id=..&scope=..&redirect_uri=..&state=..[&grant_options[]=]`
//!   is the merchant's consent screen. The simulated merchant approves at once and the browser is
//!   sent (302) to `redirect_uri` with `code`, `hmac`, `host` (base64 of
//!   `{shop}.myshopify.com/admin`, unpadded), `shop`, `state` and `timestamp`. `hmac` signs the
//!   other parameters by Shopify's rule (see [`query_hmac`]). A request that names an unknown app,
//!   or a redirect URI that is missing, not absolute http(s) or not allowed, gets Shopify's error
//!   page (400, `Oauth error invalid_request: ...`), never a redirect; so does one without `state`,
//!   which Shopify tolerates but every app that checks its callback needs.
//! - `POST /admin/oauth/access_token` with `client_id`, `client_secret` and `code` as a form, JSON
//!   or the query (Rails merges them): answers `{"access_token": "shpat_...", "scope": "..."}`, the
//!   scope comma-separated. A code is single use and short-lived; a bad one answers 400
//!   `{"error": "invalid_request", "error_description": "The authorization code was not found or
//!   was already used"}`, Shopify's words. A bad client id or secret answers the same shape; its
//!   wording is not documented by Shopify, and a refused secret does not spend the code.
//!
//! Not simulated: online (per-user) access mode (`grant_options[]=per-user` gets an offline token),
//! expiring offline tokens and their refresh, scope validation, token exchange and managed install.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::{json, Value};
use sha2::Sha256;

use super::store::ShopifyStore;
use crate::http_util::{constant_time_eq, json};
use crate::query::{Query, QueryValue};

type Shop = State<Arc<ShopifyStore>>;

/// Shopify's signature of the parameters it sends an app: every parameter but `hmac` as
/// `key=value`, with `%` and `&` escaped in both and `=` in keys (so no value can fake a parameter
/// boundary), sorted, joined with `&`, HMAC-SHA256 keyed with the app's client secret, lower-case
/// hex. The official clients verify exactly this (e.g. shopify_python_api's `calculate_hmac`).
pub fn query_hmac(params: &[(&str, &str)], secret: &str) -> String {
    let mut pairs: Vec<String> = params
        .iter()
        .filter(|(k, _)| *k != "hmac")
        .map(|(k, v)| {
            let k = k.replace('%', "%25").replace('=', "%3D");
            let v = v.replace('%', "%25");
            format!("{k}={v}").replace('&', "%26")
        })
        .collect();
    pairs.sort();
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        // HMAC takes keys of any length, so this cannot happen.
        return String::new();
    };
    mac.update(pairs.join("&").as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The page Shopify shows instead of redirecting a bad authorization request.
fn error_page(detail: &str) -> Response {
    let body = format!(
        "<!DOCTYPE html><html><head><title>Shopify</title></head><body>\
         <h1>Oauth error invalid_request: {detail}</h1></body></html>"
    );
    (StatusCode::BAD_REQUEST, Html(body)).into_response()
}

fn encode(text: &str) -> String {
    utf8_percent_encode(text, NON_ALPHANUMERIC).to_string()
}

/// `read_orders, write_fulfillments,read_orders` -> `read_orders,write_fulfillments`.
fn normalise_scope(scope: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for s in scope.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out.join(",")
}

pub async fn authorize(State(store): Shop, RawQuery(q): RawQuery) -> Response {
    let query = Query::parse(q.as_deref().unwrap_or(""));
    let get = |k: &str| query.get(k).unwrap_or_default();
    if !constant_time_eq(get("client_id").as_bytes(), store.client_id().as_bytes()) {
        return error_page("Could not find Shopify API application with api_key");
    }
    let redirect_uri = get("redirect_uri");
    if !store.redirect_uri_allowed(redirect_uri) {
        return error_page("The redirect_uri is not whitelisted");
    }
    let state = get("state");
    if state.is_empty() {
        return error_page("The state parameter is missing");
    }
    let scope = normalise_scope(get("scope"));
    let code = store.grants().issue_code(&scope, Instant::now());
    let host = STANDARD_NO_PAD.encode(format!("{}/admin", store.domain()));
    let timestamp = chrono::Utc::now().timestamp().to_string();
    let mut params = vec![
        ("code", code.as_str()),
        ("host", host.as_str()),
        ("shop", store.domain()),
        ("state", state),
        ("timestamp", timestamp.as_str()),
    ];
    let hmac = query_hmac(&params, store.app_secret());
    params.insert(1, ("hmac", hmac.as_str()));
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    let location = format!("{redirect_uri}{separator}{}", query.join("&"));
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// The token request's fields: the query, then a form or JSON body over it (as Rails' `params`).
fn token_fields(query: Option<&str>, headers: &HeaderMap, body: &[u8]) -> Query {
    let mut fields = Query::parse(query.unwrap_or(""));
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    let from_body: Vec<(String, String)> = if is_json {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => map
                .into_iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_owned())))
                .collect(),
            _ => Vec::new(),
        }
    } else {
        Query::parse(&String::from_utf8_lossy(body))
            .params
            .into_iter()
            .filter_map(|(k, v)| match v {
                QueryValue::Str(s) => Some((k, s)),
                QueryValue::Map(_) => None,
            })
            .collect()
    };
    for (k, v) in from_body {
        fields.remove(&k);
        fields.insert(&k, v);
    }
    fields
}

fn invalid_request(description: &str) -> Response {
    json(
        StatusCode::BAD_REQUEST,
        &json!({"error": "invalid_request", "error_description": description}),
    )
}

pub async fn access_token(
    State(store): Shop,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fields = token_fields(q.as_deref(), &headers, &body);
    let get = |k: &str| fields.get(k).unwrap_or_default();
    if !constant_time_eq(get("client_id").as_bytes(), store.client_id().as_bytes()) {
        return invalid_request("Could not find Shopify API application with api_key");
    }
    if !constant_time_eq(
        get("client_secret").as_bytes(),
        store.app_secret().as_bytes(),
    ) {
        return invalid_request("The client_secret is invalid for this application");
    }
    match store.grants().redeem(get("code"), Instant::now()) {
        Some(token) => json(
            StatusCode::OK,
            &json!({"access_token": token.access_token, "scope": token.scope}),
        ),
        None => invalid_request("The authorization code was not found or was already used"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_shopifys_documented_example() {
        // The example of Shopify's OAuth documentation, with its secret `hush`.
        let params = [
            ("shop", "some-shop.myshopify.com"),
            ("code", "a94a110d86d2452eb3e2af4cfb8a3828"),
            ("timestamp", "1337178173"),
            (
                "hmac",
                "2cb1a277650a659f1b11e92a4a64275b128e037f2c3390e3c8fd2d8721dac9e2",
            ),
        ];
        assert_eq!(
            query_hmac(&params, "hush"),
            "2cb1a277650a659f1b11e92a4a64275b128e037f2c3390e3c8fd2d8721dac9e2"
        );
    }

    #[test]
    fn delimiters_in_values_cannot_forge_a_parameter() {
        let honest = query_hmac(&[("code", "abc"), ("state", "x&shop=evil")], "s");
        let forged = query_hmac(&[("code", "abc"), ("state", "x"), ("shop", "evil")], "s");
        assert_ne!(honest, forged);
    }

    #[test]
    fn scopes_are_trimmed_and_deduplicated_in_order() {
        assert_eq!(
            normalise_scope(" read_orders, write_fulfillments,read_orders,,"),
            "read_orders,write_fulfillments"
        );
    }
}
