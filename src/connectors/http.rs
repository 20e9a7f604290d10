//! The HTTP plumbing every connector shares: the guarded client ([`crate::outbound`]: SSRF guard,
//! timeouts, no redirects, a cap on answers) with switchyard's user agent, and one way to turn a
//! failed call or a status code into a [`ConnectorError`].
//!
//! Redirects are refused because a redirected request would carry the channel's credentials to
//! wherever the redirect points; a channel that moved must be reconfigured, not followed.

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use url::Url;

use super::error::ConnectorError;
use crate::config::Settings;
use crate::outbound::{Client, ClientSettings, OutboundError, SsrfGuard};

/// An answer read to its end.
pub use crate::outbound::Response as RawResponse;

/// `switchyard/<version>`, so a platform's support can find our calls in their logs.
pub const USER_AGENT: &str = concat!("switchyard/", env!("CARGO_PKG_VERSION"));

/// `[connectors]` timeouts and answer cap, with the `[outbound]` guard.
pub fn client_settings(settings: &Settings) -> ClientSettings {
    let c = &settings.connectors;
    ClientSettings {
        connect_timeout: Duration::from_millis(c.connect_timeout_ms),
        request_timeout: Duration::from_millis(c.request_timeout_ms),
        max_response_bytes: c.max_response_bytes,
        guard: SsrfGuard::from_settings(&settings.outbound),
    }
}

/// The guarded client a connector makes all its calls with.
pub fn client(settings: &ClientSettings) -> Result<Client, ConnectorError> {
    Client::new(settings, USER_AGENT).map_err(ConnectorError::from)
}

impl From<OutboundError> for ConnectorError {
    fn from(err: OutboundError) -> ConnectorError {
        match err {
            // Neither changes on a retry: the channel must be reconfigured, or the cap raised.
            OutboundError::Refused(e) => {
                ConnectorError::Invalid(format!("the channel's address is refused: {e}"))
            }
            OutboundError::TooLarge { limit } => ConnectorError::Invalid(format!(
                "the channel's answer is larger than connectors.max_response_bytes ({limit} \
                 bytes)"
            )),
            OutboundError::Build(message) => ConnectorError::Invalid(message),
            e @ (OutboundError::Timeout(_)
            | OutboundError::Connect(_)
            | OutboundError::Failed(_)) => ConnectorError::Transient {
                status: None,
                message: e.to_string(),
            },
        }
    }
}

/// A platform's API root: the channel's `base` URL without its trailing slashes, then `path`.
/// Refused unless http(s): credentials go nowhere else. Errors name `platform`.
pub fn api_root(platform: &str, base: &str, path: &str) -> Result<Url, ConnectorError> {
    let base = base.trim_end_matches('/');
    let url = Url::parse(&format!("{base}/{path}"))
        .map_err(|e| ConnectorError::Invalid(format!("{platform} base URL: {e}")))?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        other => Err(ConnectorError::Invalid(format!(
            "{platform} base URL must be http(s), not {other}"
        ))),
    }
}

/// A credential as a header value, marked sensitive so it never prints; `what` names it when
/// it holds characters a header cannot.
pub fn secret_header(value: &str, what: &str) -> Result<HeaderValue, ConnectorError> {
    let mut header = HeaderValue::from_str(value)
        .map_err(|_| ConnectorError::Invalid(format!("{what} holds characters a header cannot")))?;
    header.set_sensitive(true);
    Ok(header)
}

/// A platform's numeric id, from the text switchyard keeps it as; errors name `platform`.
pub fn parse_id(text: &str, what: &str, platform: &str) -> Result<u64, ConnectorError> {
    text.trim()
        .parse()
        .map_err(|_| ConnectorError::Invalid(format!("{what} {text:?} is not a {platform} id")))
}

/// Maps a non-success status to an error, with `message` the platform's own explanation.
/// (429 is handled before this by the transport, which knows the wait.)
pub fn status_error(status: StatusCode, message: String) -> ConnectorError {
    let code = status.as_u16();
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => ConnectorError::Auth {
            status: code,
            message,
        },
        StatusCode::TOO_MANY_REQUESTS => ConnectorError::RateLimited {
            retry_after: Duration::from_secs(1),
            message,
        },
        StatusCode::REQUEST_TIMEOUT => ConnectorError::Transient {
            status: Some(code),
            message,
        },
        s if s.is_server_error() => ConnectorError::Transient {
            status: Some(code),
            message,
        },
        _ => ConnectorError::Rejected {
            status: code,
            message,
        },
    }
}

/// `Retry-After` as seconds (fractions allowed, as Shopify sends `2.0`) or an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get("retry-after")?.to_str().ok()?.trim();
    if let Ok(secs) = text.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::from_secs_f64(secs.min(3600.0)));
    }
    let at = httpdate::parse_http_date(text).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// Parses a JSON body into `T`, naming `what` and the failing path when it does not fit.
pub fn parse_json<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, ConnectorError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        ConnectorError::Malformed(format!(
            "{what}: {} at `{path}` ({} bytes received)",
            e.into_inner(),
            body.len()
        ))
    })
}

/// A body for error messages: the platform's words, cut to a readable length.
pub fn body_snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(300) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

/// Deserialises either a JSON string or number into a `String` (ids and money arrive as both).
pub fn string_or_number<'de, D>(deserializer: D) -> Result<String, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Text(String),
        Number(serde_json::Number),
    }
    Ok(match Either::deserialize(deserializer)? {
        Either::Text(text) => text,
        Either::Number(n) => n.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert("retry-after", HeaderValue::from_static("2.0"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert("retry-after", HeaderValue::from_static("0.5"));
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(500)));
        headers.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO));
        headers.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn statuses_sort_into_the_right_kinds() {
        let kind = |code: u16| {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::IM_A_TEAPOT);
            status_error(status, "m".into())
        };
        assert!(matches!(kind(401), ConnectorError::Auth { .. }));
        assert!(matches!(kind(403), ConnectorError::Auth { .. }));
        assert!(matches!(kind(404), ConnectorError::Rejected { .. }));
        assert!(matches!(kind(422), ConnectorError::Rejected { .. }));
        assert!(matches!(kind(500), ConnectorError::Transient { .. }));
        assert!(matches!(kind(503), ConnectorError::Transient { .. }));
        assert!(matches!(kind(408), ConnectorError::Transient { .. }));
    }

    #[test]
    fn bad_json_names_what_and_where() {
        #[derive(Debug, Deserialize)]
        struct Wanted {
            #[allow(dead_code)]
            orders: Vec<u32>,
        }
        let err = parse_json::<Wanted>(br#"{"orders": [1, 2"#, "orders page");
        assert!(
            matches!(&err, Err(ConnectorError::Malformed(m)) if m.starts_with("orders page")),
            "{err:?}"
        );
    }
}
