//! One-legged OAuth 1.0a exactly as WooCommerce verifies it (`WC_REST_Authentication`):
//! parameters are the request's query and form fields as PHP parsed them (last repeated key wins,
//! `a[]` nests), sorted by key with `strcmp`, keys and values percent-encoded once, each `key=value`
//! encoded again and joined with `%26`; the base string is `METHOD&encoded-url&that`; the key is
//! `consumer_secret&`; HMAC-SHA1 or HMAC-SHA256; timestamps within 15 minutes; nonces single-use.
//! A client that signs some other way (e.g. signing every value of a repeated key) fails here just as
//! it would against a real store.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::query::{Query, QueryValue};

/// RFC 3986 unreserved characters stay; everything else is encoded (PHP's `rawurlencode`).
const RFC3986: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// WooCommerce's `wc_rest_urlencode_rfc3986`.
pub fn encode(text: &str) -> String {
    utf8_percent_encode(text, RFC3986).to_string()
}

/// The ways a signed request can fail, each with WooCommerce's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OAuthError {
    MissingParameters(Vec<&'static str>),
    InvalidConsumerKey,
    /// Basic auth (or query credentials) with the right key and a wrong secret.
    InvalidConsumerSecret,
    InvalidSignatureMethod,
    SignatureMismatch,
    InvalidTimestamp,
    NonceUsed,
    /// A valid key whose permissions do not cover the request's method.
    NotPermitted(&'static str),
}

impl OAuthError {
    pub fn code(&self) -> &'static str {
        match self {
            OAuthError::MissingParameters(_) => "woocommerce_rest_authentication_missing_parameter",
            _ => "woocommerce_rest_authentication_error",
        }
    }

    pub fn message(&self) -> String {
        match self {
            OAuthError::MissingParameters(names) if names.len() == 1 => {
                format!("Missing OAuth parameter {}", names.join(", "))
            }
            OAuthError::MissingParameters(names) => {
                format!("Missing OAuth parameters {}", names.join(", "))
            }
            OAuthError::InvalidConsumerKey => "Consumer key is invalid.".into(),
            OAuthError::InvalidConsumerSecret => "Consumer secret is invalid.".into(),
            OAuthError::InvalidSignatureMethod => {
                "Invalid signature - signature method is invalid.".into()
            }
            OAuthError::SignatureMismatch => {
                "Invalid signature - provided signature does not match.".into()
            }
            OAuthError::InvalidTimestamp => "Invalid timestamp.".into(),
            OAuthError::NonceUsed => "Invalid nonce - nonce has already been used.".into(),
            OAuthError::NotPermitted(message) => (*message).into(),
        }
    }
}

/// The required parameters; if none is present the request is not trying OAuth at all.
pub const REQUIRED: &[&str] = &[
    "oauth_consumer_key",
    "oauth_timestamp",
    "oauth_nonce",
    "oauth_signature",
    "oauth_signature_method",
];

/// `Ok(None)`: no OAuth attempted. `Ok(Some(key))`: all parameters present. `Err`: some missing.
pub fn consumer_key(params: &Query) -> Result<Option<String>, OAuthError> {
    let present = |name: &str| params.get(name).is_some_and(|v| !v.is_empty());
    let missing: Vec<&'static str> = REQUIRED.iter().copied().filter(|n| !present(n)).collect();
    if missing.len() == REQUIRED.len() {
        return Ok(None);
    }
    if !missing.is_empty() {
        return Err(OAuthError::MissingParameters(missing));
    }
    Ok(params.get("oauth_consumer_key").map(str::to_string))
}

fn join_with_equals_sign(
    params: &[(String, QueryValue)],
    prefix: Option<&str>,
    out: &mut Vec<String>,
) {
    for (key, value) in params {
        let key = match prefix {
            Some(prefix) => format!("{prefix}%5B{key}%5D"),
            None => key.clone(),
        };
        match value {
            QueryValue::Map(inner) => join_with_equals_sign(inner, Some(&key), out),
            QueryValue::Str(text) => out.push(encode(&format!("{key}={text}"))),
        }
    }
}

fn normalize_value(value: &QueryValue) -> QueryValue {
    match value {
        QueryValue::Str(text) => QueryValue::Str(encode(text)),
        QueryValue::Map(inner) => QueryValue::Map(
            inner
                .iter()
                .map(|(k, v)| (k.clone(), normalize_value(v)))
                .collect(),
        ),
    }
}

/// The string WooCommerce signs for `method` on `url` (scheme, host and path, no query).
pub fn base_string(method: &str, url: &str, params: &Query) -> String {
    let mut sorted: Vec<(String, QueryValue)> = params
        .params
        .iter()
        .filter(|(k, _)| k != "oauth_signature")
        .cloned()
        .collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let normalized: Vec<(String, QueryValue)> = sorted
        .iter()
        .map(|(k, v)| (encode(k), normalize_value(v)))
        .collect();
    let mut pairs = Vec::new();
    join_with_equals_sign(&normalized, None, &mut pairs);
    format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        encode(url),
        pairs.join("%26")
    )
}

/// The signature WooCommerce expects, or `InvalidSignatureMethod`.
pub fn expected_signature(
    method: &str,
    url: &str,
    params: &Query,
    consumer_secret: &str,
) -> Result<String, OAuthError> {
    let to_sign = base_string(method, url, params);
    let key = format!("{consumer_secret}&");
    let digest = match params.get("oauth_signature_method") {
        Some("HMAC-SHA1") => {
            let mut mac = Hmac::<sha1::Sha1>::new_from_slice(key.as_bytes())
                .map_err(|_| OAuthError::SignatureMismatch)?;
            mac.update(to_sign.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        Some("HMAC-SHA256") => {
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes())
                .map_err(|_| OAuthError::SignatureMismatch)?;
            mac.update(to_sign.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        _ => return Err(OAuthError::InvalidSignatureMethod),
    };
    Ok(STANDARD.encode(digest))
}

/// Checks the signature only. `params` must hold everything PHP would see (query + form fields).
pub fn verify_signature(
    method: &str,
    url: &str,
    params: &Query,
    consumer_secret: &str,
) -> Result<(), OAuthError> {
    let expected = expected_signature(method, url, params, consumer_secret)?;
    // PHP decoded the query once ('+' became ' '); WooCommerce restores '+' then rawurldecodes.
    let provided = params
        .get("oauth_signature")
        .unwrap_or("")
        .replace(' ', "+");
    let provided = percent_decode_str(&provided).decode_utf8_lossy();
    if crate::http_util::constant_time_eq(expected.as_bytes(), provided.as_bytes()) {
        Ok(())
    } else {
        Err(OAuthError::SignatureMismatch)
    }
}

/// Used nonces of one consumer, keyed by timestamp as WooCommerce stores them (`$used_nonces[$timestamp]`).
#[derive(Debug, Default)]
pub struct NonceLog {
    used: BTreeMap<i64, String>,
}

const WINDOW_SECS: i64 = 15 * 60;

impl NonceLog {
    /// Checks the timestamp window and nonce reuse, then records the nonce.
    pub fn check(&mut self, timestamp: &str, nonce: &str, now: i64) -> Result<(), OAuthError> {
        let ts: i64 = timestamp
            .trim()
            .parse()
            .map_err(|_| OAuthError::InvalidTimestamp)?;
        if ts < now - WINDOW_SECS || ts > now + WINDOW_SECS {
            return Err(OAuthError::InvalidTimestamp);
        }
        if self.used.values().any(|n| n == nonce) {
            return Err(OAuthError::NonceUsed);
        }
        self.used.insert(ts, nonce.to_string());
        self.used.retain(|t, _| *t >= now - WINDOW_SECS);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_string_double_encodes_pairs_and_sorts_keys() {
        let q = Query::parse("per_page=5&oauth_nonce=n&b=x%20y&a[]=1&oauth_signature=zzz");
        let base = base_string("get", "http://h:1/wp-json/wc/v3/orders", &q);
        assert_eq!(
            base,
            "GET&http%3A%2F%2Fh%3A1%2Fwp-json%2Fwc%2Fv3%2Forders&a%255B0%255D%3D1%26b%3Dx%2520y%26oauth_nonce%3Dn%26per_page%3D5"
        );
    }

    #[test]
    fn nonce_reuse_and_stale_timestamps_are_refused() {
        let mut log = NonceLog::default();
        assert_eq!(log.check("1000", "a", 1000), Ok(()));
        assert_eq!(log.check("1001", "a", 1000), Err(OAuthError::NonceUsed));
        assert_eq!(log.check("1", "b", 1000), Err(OAuthError::InvalidTimestamp));
        assert_eq!(log.check("x", "b", 1000), Err(OAuthError::InvalidTimestamp));
    }
}
