//! Installing switchyard's Shopify app on a merchant's shop: Shopify's authorization code grant
//! for an offline access token (shopify.dev, "Implement authorization code grant manually").
//!
//! 1. The merchant is sent to `{shop}/admin/oauth/authorize` with the app's `client_id`, the
//!    `scope`s, the `redirect_uri` and a single-use `state`.
//! 2. Shopify sends them back to the redirect URI with `code`, `hmac`, `host`, `shop`, `state`
//!    and `timestamp`. The `hmac` is the hex HMAC-SHA256, keyed with the app's client secret, of
//!    every other query parameter, sorted by name and joined `name=value&...` (`%` and `&`
//!    escaped, and `=` in names): [`verify_hmac`].
//! 3. The code is exchanged at `{shop}/admin/oauth/access_token` (client id, secret and code) for
//!    the access token: [`exchange_code`].

use hmac::{Hmac, Mac};
use reqwest::Method;
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use url::Url;

use crate::connectors::{http, ConnectorError};
use crate::domain::Secret;
use crate::outbound::Client;

/// The shop's authorization page for the app, with `state` to come back with.
pub fn authorize_url(
    base_url: &str,
    client_id: &str,
    scopes: &str,
    redirect_uri: &str,
    state: &str,
) -> Result<Url, ConnectorError> {
    let mut url = Url::parse(&format!(
        "{}/admin/oauth/authorize",
        base_url.trim_end_matches('/')
    ))
    .map_err(|e| ConnectorError::Invalid(format!("the shop's URL: {e}")))?;
    url.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("scope", scopes)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("state", state);
    Ok(url)
}

/// Whether `query` (the callback's parameters, decoded, in any order) carries the `hmac`
/// Shopify computes with `secret`.
pub fn verify_hmac(query: &[(String, String)], secret: &str) -> bool {
    let Some(given) = query.iter().find(|(k, _)| k == "hmac").map(|(_, v)| v) else {
        return false;
    };
    let mut rest: Vec<&(String, String)> = query.iter().filter(|(k, _)| k != "hmac").collect();
    rest.sort();
    // Shopify escapes `%` and `&` in names and values, and `=` in names, before joining.
    let escape = |text: &str, name: bool| {
        let text = text.replace('%', "%25").replace('&', "%26");
        if name {
            text.replace('=', "%3D")
        } else {
            text
        }
    };
    let message = rest
        .iter()
        .map(|(k, v)| format!("{}={}", escape(k, true), escape(v, false)))
        .collect::<Vec<_>>()
        .join("&");
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(message.as_bytes());
    let expected = hex::encode(mac.finalize().into_bytes());
    bool::from(
        expected
            .as_bytes()
            .ct_eq(given.to_ascii_lowercase().as_bytes()),
    )
}

/// Whether `shop` is a shop's own domain, `{handle}.myshopify.com`, as Shopify sends it.
pub fn is_shop_domain(shop: &str) -> bool {
    shop.strip_suffix(".myshopify.com").is_some_and(|handle| {
        !handle.is_empty()
            && handle
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !handle.starts_with('-')
    })
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
}

/// Trades the callback's `code` for the shop's offline access token.
pub async fn exchange_code(
    http: &Client,
    base_url: &str,
    client_id: &str,
    client_secret: &str,
    code: &str,
) -> Result<Secret, ConnectorError> {
    let url = Url::parse(&format!(
        "{}/admin/oauth/access_token",
        base_url.trim_end_matches('/')
    ))
    .map_err(|e| ConnectorError::Invalid(format!("the shop's URL: {e}")))?;
    let request = http
        .request(Method::POST, url)
        .header("accept", "application/json")
        .json(&serde_json::json!({
            "client_id": client_id, "client_secret": client_secret, "code": code,
        }))
        .build()
        .map_err(|e| ConnectorError::Invalid(e.to_string()))?;
    let answer = http.execute(request).await.map_err(ConnectorError::from)?;
    if !answer.status.is_success() {
        return Err(http::status_error(
            answer.status,
            format!(
                "exchanging the authorization code: {}",
                http::body_snippet(&answer.body)
            ),
        ));
    }
    let token: TokenAnswer = http::parse_json(&answer.body, "the access token answer")?;
    Ok(Secret::new(token.access_token))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        url::form_urlencoded::parse(text.as_bytes())
            .into_owned()
            .collect()
    }

    #[test]
    fn the_callback_hmac_is_shopifys_documented_example() {
        // shopify.dev's example: secret "hush", and its computed hmac.
        let query = pairs(
            "code=0907a61c0c8d55e99db179b68161bc00&hmac=700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf\
             &shop=some-shop.myshopify.com&state=0.6784241404160823&timestamp=1337178173",
        );
        assert!(verify_hmac(&query, "hush"));
        assert!(!verify_hmac(&query, "not the secret"));
        let mut forged = query.clone();
        forged[2].1 = "evil-shop.myshopify.com".to_owned();
        assert!(!verify_hmac(&forged, "hush"));
        let unsigned: Vec<_> = query.into_iter().filter(|(k, _)| k != "hmac").collect();
        assert!(!verify_hmac(&unsigned, "hush"));
    }

    #[test]
    fn shop_domains_are_myshopify_handles() {
        assert!(is_shop_domain("demo-shop.myshopify.com"));
        for bad in [
            "myshopify.com",
            ".myshopify.com",
            "evil.com",
            "a.b.myshopify.com",
            "shop.myshopify.com.evil.com",
            "-x.myshopify.com",
        ] {
            assert!(!is_shop_domain(bad), "{bad}");
        }
    }
}
