//! WooCommerce's REST API key granting flow ("Auth endpoint" of the REST API docs, `WC_Auth`):
//! an app sends the merchant to
//! `GET /wc-auth/v1/authorize?app_name=..&scope=read|write|read_write&user_id=..&return_url=..&callback_url=..`.
//! On a real store the merchant logs in and approves on a page; the simulated merchant is logged
//! in and approves at once. The store then creates a key pair, POSTs it as JSON
//! (`key_id`, `user_id` as given, `consumer_key`, `consumer_secret`, `key_permissions`) to
//! `callback_url` from the server, and only if that answered 200 (`WC_Auth::post_consumer_data`
//! checks for exactly 200) sends the browser (302) to `return_url` with `success=1&user_id=..`.
//!
//! When the callback fails (no answer, or any status but 200) WooCommerce deletes the key and shows
//! its `wp_die` page, 401 "Error: An error occurred in the request and at the time were unable to
//! send the consumer data." (or the transport's error), and does not redirect; so does the
//! simulator. `success=0` is only what the approval page's "Deny" link sends, which the simulated
//! merchant never clicks. Bad parameters get the same page with `WC_Auth::make_validation`'s
//! message (`Missing parameter user_id`, `Invalid scope admin`, ...).
//!
//! Real WooCommerce requires `callback_url` to be https. The simulator also accepts plain http to a
//! loopback host, so a test's receiver on `127.0.0.1` needs no certificate; any other http callback
//! is refused as WooCommerce refuses it.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::json;

use super::keys::Permissions;
use super::store::WooStore;
use crate::query::{form_decode, Query, QueryValue};

const FAILED_CALLBACK: &str =
    "An error occurred in the request and at the time were unable to send the consumer data";

/// A validated authorization request.
#[derive(Debug, PartialEq)]
struct Grant {
    app_name: String,
    user_id: String,
    permissions: Permissions,
    return_url: String,
    callback_url: String,
}

/// `WC_Auth::get_formatted_url`: decoded once more, and `https://` when it names no scheme.
fn formatted_url(url: &str) -> String {
    let url = form_decode(url);
    if url.contains("://") {
        url
    } else {
        format!("https://{url}")
    }
}

/// Roughly PHP's `FILTER_VALIDATE_URL`: a scheme and a host.
fn valid_url(url: &str) -> bool {
    reqwest::Url::parse(url).is_ok_and(|u| u.host_str().is_some_and(|h| !h.is_empty()))
}

/// A plain-http callback the simulator allows although WooCommerce would not (see the module doc).
fn loopback_http(url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(url) else {
        return false;
    };
    let host = url.host_str().unwrap_or_default();
    url.scheme() == "http"
        && (host == "localhost"
            || host
                .trim_matches(|c| c == '[' || c == ']')
                .parse::<IpAddr>()
                .is_ok_and(|ip| ip.is_loopback()))
}

/// `WC_Auth::make_validation`, in its order and with its messages.
fn validate(query: &Query) -> Result<Grant, String> {
    let mut values = Vec::new();
    for param in ["app_name", "user_id", "return_url", "callback_url", "scope"] {
        let value = query
            .params
            .iter()
            .find(|(k, _)| k == param)
            .map(|(_, v)| v);
        match value {
            Some(QueryValue::Str(s)) if !s.is_empty() => values.push(s.clone()),
            Some(QueryValue::Map(m)) if !m.is_empty() => {
                return Err(format!("Invalid parameter {param}"))
            }
            _ => return Err(format!("Missing parameter {param}")),
        }
    }
    let [app_name, user_id, return_url, callback_url, scope] =
        <[String; 5]>::try_from(values).map_err(|_| "Missing parameter app_name".to_owned())?;
    let permissions = Permissions::parse(&scope).ok_or_else(|| format!("Invalid scope {scope}"))?;
    let return_url = formatted_url(&return_url);
    let callback_url = formatted_url(&callback_url);
    for url in [&return_url, &callback_url] {
        if !valid_url(url) {
            // WooCommerce names the URL here, not the parameter.
            return Err(format!("The {url} is not a valid URL"));
        }
    }
    let https = callback_url
        .get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"));
    if !https && !loopback_http(&callback_url) {
        return Err("The callback_url needs to be over SSL".to_owned());
    }
    Ok(Grant {
        app_name,
        user_id,
        permissions,
        return_url,
        callback_url,
    })
}

/// PHP's `esc_html`, for messages that carry what the request sent.
fn esc_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#039;")
}

/// WordPress's `wp_die` page, as `WC_Auth` calls it: 401, titled "Access denied".
fn access_denied(message: &str) -> Response {
    let body = format!(
        "<!DOCTYPE html><html lang=\"en-US\"><head><meta charset=\"UTF-8\">\
         <title>Access denied</title></head><body id=\"error-page\">\
         <div class=\"wp-die-message\">Error: {}.</div></body></html>",
        esc_html(message)
    );
    (StatusCode::UNAUTHORIZED, Html(body)).into_response()
}

/// Tells the app's server the new key; `Err` carries the message WooCommerce would show.
async fn post_consumer_data(
    store: &WooStore,
    url: &str,
    body: &serde_json::Value,
) -> Result<(), String> {
    let response = store
        .common
        .sender
        .client()
        .post(url)
        .header(header::CONTENT_TYPE, "application/json;charset=UTF-8")
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if response.status() == StatusCode::OK {
        Ok(())
    } else {
        Err(FAILED_CALLBACK.to_owned())
    }
}

pub async fn authorize(State(store): State<Arc<WooStore>>, RawQuery(q): RawQuery) -> Response {
    let query = Query::parse(q.as_deref().unwrap_or(""));
    let grant = match validate(&query) {
        Ok(grant) => grant,
        Err(message) => return access_denied(&message),
    };
    let key = store
        .state()
        .api_keys
        .issue(&grant.app_name, &grant.user_id, grant.permissions);
    let consumer_data = json!({
        "key_id": key.key_id,
        "user_id": grant.user_id,
        "consumer_key": key.consumer_key,
        "consumer_secret": key.consumer_secret,
        "key_permissions": key.permissions.as_str(),
    });
    if let Err(message) = post_consumer_data(&store, &grant.callback_url, &consumer_data).await {
        store.state().api_keys.revoke(key.key_id);
        return access_denied(&message);
    }
    let separator = if grant.return_url.contains('?') {
        '&'
    } else {
        '?'
    };
    let location = format!(
        "{}{separator}success=1&user_id={}",
        grant.return_url,
        utf8_percent_encode(&grant.user_id, NON_ALPHANUMERIC)
    );
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(query: &str) -> Result<Grant, String> {
        validate(&Query::parse(query))
    }

    const GOOD: &str = "app_name=Hub&user_id=42&scope=read_write\
                        &return_url=https%3A%2F%2Fhub.example%2Fdone\
                        &callback_url=https%3A%2F%2Fhub.example%2Fkeys";

    #[test]
    fn a_complete_request_is_accepted() {
        let grant = request(GOOD);
        assert_eq!(
            grant,
            Ok(Grant {
                app_name: "Hub".into(),
                user_id: "42".into(),
                permissions: Permissions::ReadWrite,
                return_url: "https://hub.example/done".into(),
                callback_url: "https://hub.example/keys".into(),
            })
        );
    }

    #[test]
    fn bad_requests_get_woocommerces_messages() {
        let without = |p: &str| {
            GOOD.split('&')
                .filter(|kv| !kv.starts_with(&format!("{p}=")))
                .collect::<Vec<_>>()
                .join("&")
        };
        assert_eq!(
            request(&without("user_id")).err().as_deref(),
            Some("Missing parameter user_id")
        );
        assert_eq!(
            request(&GOOD.replace("user_id=42", "user_id[]=42"))
                .err()
                .as_deref(),
            Some("Invalid parameter user_id")
        );
        assert_eq!(
            request(&GOOD.replace("scope=read_write", "scope=admin"))
                .err()
                .as_deref(),
            Some("Invalid scope admin")
        );
        assert_eq!(
            request(&GOOD.replace(
                "https%3A%2F%2Fhub.example%2Fkeys",
                "http%3A%2F%2Fhub.example%2Fk"
            ))
            .err()
            .as_deref(),
            Some("The callback_url needs to be over SSL")
        );
        assert_eq!(
            request(&GOOD.replace("https%3A%2F%2Fhub.example%2Fdone", "https%3A%2F%2F"))
                .err()
                .as_deref(),
            Some("The https:// is not a valid URL")
        );
    }

    #[test]
    fn http_callbacks_are_allowed_only_to_loopback() {
        assert!(loopback_http("http://127.0.0.1:8080/keys"));
        assert!(loopback_http("http://[::1]:8080/keys"));
        assert!(loopback_http("http://localhost/keys"));
        assert!(!loopback_http("http://hub.example/keys"));
        assert!(!loopback_http("https://127.0.0.1/keys"));
        assert_eq!(
            formatted_url("hub.example/done"),
            "https://hub.example/done"
        );
    }
}
