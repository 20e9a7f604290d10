//! Verifying inbound channel webhooks: both Shopify (`X-Shopify-Hmac-Sha256`) and WooCommerce
//! (`X-WC-Webhook-Signature`) sign the raw body with base64(HMAC-SHA256(secret, body)). The body
//! must be the bytes as received: re-serialised JSON would not match.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use reqwest::header::HeaderMap;
use sha2::Sha256;

/// True when `header` holds base64(HMAC-SHA256(secret, body)). The comparison is constant-time
/// (`Mac::verify_slice`), so response timing does not reveal how much of a forgery matched.
pub fn verify_hmac_sha256(headers: &HeaderMap, header: &str, secret: &[u8], body: &[u8]) -> bool {
    let Some(presented) = headers
        .get(header)
        .and_then(|v| v.to_str().ok())
        .and_then(|text| STANDARD.decode(text.trim()).ok())
    else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&presented).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn sign(secret: &[u8], body: &[u8]) -> String {
        let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
            Ok(mac) => mac,
            Err(_) => return String::new(),
        };
        mac.update(body);
        STANDARD.encode(mac.finalize().into_bytes())
    }

    #[test]
    fn good_bad_missing_and_tampered() {
        let body = br#"{"id":1}"#;
        let mut headers = HeaderMap::new();
        assert!(!verify_hmac_sha256(&headers, "x-sig", b"s", body));
        let good = sign(b"s", body);
        headers.insert(
            "x-sig",
            HeaderValue::from_str(&good).unwrap_or(HeaderValue::from_static("")),
        );
        assert!(verify_hmac_sha256(&headers, "x-sig", b"s", body));
        assert!(!verify_hmac_sha256(&headers, "x-sig", b"other", body));
        assert!(!verify_hmac_sha256(&headers, "x-sig", b"s", br#"{"id":2}"#));
        headers.insert("x-sig", HeaderValue::from_static("not base64!"));
        assert!(!verify_hmac_sha256(&headers, "x-sig", b"s", body));
    }
}
