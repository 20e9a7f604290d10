//! A verifier for Standard Webhooks (<https://www.standardwebhooks.com/>), written from the
//! specification and its published test vector, separately from switchyard's signing code, so the
//! simulators that receive switchyard's webhooks (the webhook receiver, the fulfilment centre) check
//! them as a third party would.
//!
//! The spec: the signed content is `{webhook-id}.{webhook-timestamp}.{body}`; the signature is
//! base64 HMAC-SHA256 of it under the secret's bytes (the base64 after `whsec_`); the
//! `webhook-signature` header holds space-separated `v1,<signature>` entries, any of which may match
//! (several are sent while a secret rotates); a timestamp too far from now is refused, so a captured
//! request cannot be replayed later.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How far a timestamp may be from the receiver's clock, as the spec recommends.
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    MissingHeader(&'static str),
    BadSecret,
    BadTimestamp,
    /// The timestamp is further than the tolerance from now.
    Stale,
    /// No `v1` signature matched.
    NoMatch,
}

impl std::fmt::Display for VerifyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VerifyError::MissingHeader(h) => write!(f, "missing header {h}"),
            VerifyError::BadSecret => f.write_str("secret is not whsec_<base64>"),
            VerifyError::BadTimestamp => f.write_str("webhook-timestamp is not a number"),
            VerifyError::Stale => f.write_str("webhook-timestamp is outside the tolerance"),
            VerifyError::NoMatch => f.write_str("no signature matched"),
        }
    }
}

impl std::error::Error for VerifyError {}

/// The three headers of a signed request, as received.
#[derive(Debug, Clone, Copy)]
pub struct SignedHeaders<'a> {
    pub id: &'a str,
    pub timestamp: &'a str,
    pub signature: &'a str,
}

impl<'a> SignedHeaders<'a> {
    /// Reads the headers from an HTTP request's header map.
    pub fn from_map(headers: &'a axum::http::HeaderMap) -> Result<Self, VerifyError> {
        let get = |name: &'static str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .ok_or(VerifyError::MissingHeader(name))
        };
        Ok(SignedHeaders {
            id: get("webhook-id")?,
            timestamp: get("webhook-timestamp")?,
            signature: get("webhook-signature")?,
        })
    }
}

/// The key bytes of a `whsec_<base64>` secret (a bare base64 secret is accepted too).
pub fn secret_bytes(secret: &str) -> Result<Vec<u8>, VerifyError> {
    let b64 = secret.strip_prefix("whsec_").unwrap_or(secret);
    STANDARD.decode(b64).map_err(|_| VerifyError::BadSecret)
}

/// Checks `body` against the headers under any of `secrets`, with `now` in Unix seconds.
pub fn verify(
    secrets: &[&str],
    headers: SignedHeaders<'_>,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), VerifyError> {
    let ts: i64 = headers
        .timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::BadTimestamp)?;
    if (now - ts).abs() > tolerance_secs {
        return Err(VerifyError::Stale);
    }
    let offered: Vec<Vec<u8>> = headers
        .signature
        .split(' ')
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .filter_map(|b64| STANDARD.decode(b64).ok())
        .collect();
    for secret in secrets {
        let key = secret_bytes(secret)?;
        for sig in &offered {
            let mut mac =
                Hmac::<Sha256>::new_from_slice(&key).map_err(|_| VerifyError::BadSecret)?;
            mac.update(headers.id.as_bytes());
            mac.update(b".");
            mac.update(headers.timestamp.trim().as_bytes());
            mac.update(b".");
            mac.update(body);
            // `verify_slice` compares in constant time.
            if mac.verify_slice(sig).is_ok() {
                return Ok(());
            }
        }
    }
    Err(VerifyError::NoMatch)
}

/// Unix seconds now.
pub fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    // The specification's published example.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: &str = "1614265330";
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn headers(signature: &str) -> SignedHeaders<'_> {
        SignedHeaders {
            id: ID,
            timestamp: TS,
            signature,
        }
    }

    #[test]
    fn the_specification_example_verifies() {
        assert_eq!(
            verify(&[SECRET], headers(SIG), BODY, 1_614_265_330, 300),
            Ok(())
        );
    }

    #[test]
    fn any_of_several_signatures_or_secrets_may_match() {
        let two = format!("v1,bm90IGl0 {SIG}");
        assert_eq!(
            verify(&[SECRET], headers(&two), BODY, 1_614_265_330, 300),
            Ok(())
        );
        let old = "whsec_bm90IHRoZSBzZWNyZXQgYXQgYWxs";
        assert_eq!(
            verify(&[old, SECRET], headers(SIG), BODY, 1_614_265_330, 300),
            Ok(())
        );
    }

    #[test]
    fn a_tampered_body_a_wrong_secret_or_an_old_timestamp_fails() {
        let now = 1_614_265_330;
        assert_eq!(
            verify(
                &[SECRET],
                headers(SIG),
                br#"{"test": 2432232315}"#,
                now,
                300
            ),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            verify(
                &["whsec_bm90IHRoZSBzZWNyZXQ="],
                headers(SIG),
                BODY,
                now,
                300
            ),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            verify(&[SECRET], headers(SIG), BODY, now + 301, 300),
            Err(VerifyError::Stale)
        );
        assert_eq!(
            verify(&[SECRET], headers("v2,abc"), BODY, now, 300),
            Err(VerifyError::NoMatch)
        );
    }
}
