//! One-legged OAuth 1.0a as WooCommerce verifies it (`WC_REST_Authentication`), for stores served
//! over plain HTTP, where WooCommerce refuses Basic auth.
//!
//! The signed parameters are the request's query parameters (as PHP will decode them) plus the
//! `oauth_*` ones, sorted by key byte-wise; each key and value is RFC 3986-encoded, each `key=value`
//! pair is encoded *again*, and the pairs are joined with `%26`. The base string is
//! `METHOD&encode(scheme://host[:port]/path)&pairs`, the HMAC key `consumer_secret&`. The
//! signature and the other `oauth_*` parameters then travel in the query string.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::Sha256;
use url::Url;

/// RFC 3986 unreserved characters stay as they are; everything else is encoded (PHP's
/// `rawurlencode`, which WooCommerce uses).
const RFC3986: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn encode(text: &str) -> String {
    utf8_percent_encode(text, RFC3986).to_string()
}

/// The URL WooCommerce signs against: scheme, host, port (only when not the default, as the
/// `Host` header carries it) and path, without the query.
fn signing_url(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{}://{host}:{port}{}", url.scheme(), url.path()),
        None => format!("{}://{host}{}", url.scheme(), url.path()),
    }
}

/// The string to sign for `method` on `url` whose query already holds every parameter but
/// `oauth_signature`.
pub fn base_string(method: &str, url: &Url) -> String {
    let mut params: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    params.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let pairs: Vec<String> = params
        .iter()
        .map(|(k, v)| encode(&format!("{}={}", encode(k), encode(v))))
        .collect();
    format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        encode(&signing_url(url)),
        pairs.join("%26")
    )
}

/// Adds the `oauth_*` parameters and the HMAC-SHA256 signature to `url`'s query.
pub fn sign(
    method: &str,
    url: &mut Url,
    consumer_key: &str,
    consumer_secret: &str,
    timestamp: i64,
    nonce: &str,
) {
    url.query_pairs_mut()
        .append_pair("oauth_consumer_key", consumer_key)
        .append_pair("oauth_nonce", nonce)
        .append_pair("oauth_signature_method", "HMAC-SHA256")
        .append_pair("oauth_timestamp", &timestamp.to_string());
    let to_sign = base_string(method, url);
    let signature = match Hmac::<Sha256>::new_from_slice(format!("{consumer_secret}&").as_bytes()) {
        Ok(mut mac) => {
            mac.update(to_sign.as_bytes());
            STANDARD.encode(mac.finalize().into_bytes())
        }
        // HMAC takes keys of any length; an unsigned request is refused by the store anyway.
        Err(_) => String::new(),
    };
    url.query_pairs_mut()
        .append_pair("oauth_signature", &signature);
}

/// A fresh nonce: 32 random hex digits (WooCommerce refuses a reused one).
pub fn nonce() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_string_sorts_and_double_encodes() {
        let url = Url::parse("http://h:1/wp-json/wc/v3/orders?per_page=5&oauth_nonce=n&b=x%20y")
            .expect("a test URL");
        assert_eq!(
            base_string("get", &url),
            "GET&http%3A%2F%2Fh%3A1%2Fwp-json%2Fwc%2Fv3%2Forders&b%3Dx%2520y%26oauth_nonce%3Dn%26per_page%3D5"
        );
    }

    #[test]
    fn default_ports_are_left_out_as_the_host_header_does() {
        let url = Url::parse("https://shop.example:443/wp-json/wc/v3/orders").expect("a test URL");
        assert!(base_string("GET", &url).starts_with("GET&https%3A%2F%2Fshop.example%2Fwp-json"));
    }

    #[test]
    fn signing_adds_every_oauth_parameter() {
        let mut url = Url::parse("http://h:1/wp-json/wc/v3/orders?page=2").expect("a test URL");
        sign("GET", &mut url, "ck_1", "cs_1", 1_700_000_000, "abc");
        let keys: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
        assert_eq!(
            keys,
            [
                "page",
                "oauth_consumer_key",
                "oauth_nonce",
                "oauth_signature_method",
                "oauth_timestamp",
                "oauth_signature"
            ]
        );
        assert_ne!(nonce(), nonce());
    }
}
