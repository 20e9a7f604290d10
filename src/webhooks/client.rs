//! The HTTP side of a delivery: one pooled keep-alive client for every endpoint, with the SSRF
//! guard as its resolver, no redirects, and timeouts on connecting and on the whole request.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE, RETRY_AFTER, USER_AGENT};

use super::signature::{signature_header, SignatureError};
use super::ssrf::{GuardedResolver, SsrfError, SsrfGuard};
use crate::config::WebhookSettings;
use crate::domain::webhook_schedule::parse_retry_after;

/// How much of an answer's body an attempt keeps.
pub const EXCERPT_BYTES: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Ssrf(#[from] SsrfError),
    #[error("the HTTP client could not be built: {0}")]
    Build(String),
}

/// What one POST came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The status, when the endpoint answered at all.
    pub status: Option<u16>,
    pub retry_after: Option<Duration>,
    /// The start of the body, lossily decoded.
    pub excerpt: Option<String>,
    /// Why there was no answer (refused target, timeout, connection error).
    pub error: Option<String>,
    pub duration: Duration,
}

/// Signed requests are built by the caller; this only sends them.
#[derive(Debug, Clone)]
pub struct WebhookClient {
    http: reqwest::Client,
    guard: Arc<SsrfGuard>,
    /// One permit per request in flight (`webhooks.max_in_flight`).
    in_flight: Arc<tokio::sync::Semaphore>,
}

impl WebhookClient {
    pub fn new(settings: &WebhookSettings) -> Result<WebhookClient, ClientError> {
        let guard = Arc::new(SsrfGuard::new(&settings.allow_cidrs)?);
        let http = reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver::new(guard.clone())))
            // A 3xx is an answer like any other and counts as a failure: following it would
            // send the signed body somewhere the guard never saw.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_millis(settings.connect_timeout_ms))
            .timeout(Duration::from_millis(settings.request_timeout_ms))
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            // Environment proxies would connect to an address the guard did not check.
            .no_proxy()
            .build()
            .map_err(|e| ClientError::Build(e.to_string()))?;
        Ok(WebhookClient {
            http,
            guard,
            in_flight: Arc::new(tokio::sync::Semaphore::new(settings.max_in_flight.max(1))),
        })
    }

    pub fn guard(&self) -> &SsrfGuard {
        &self.guard
    }

    /// Signs `body` for every one of `secrets` at the current time (Standard Webhooks) and POSTs
    /// it, once fewer than `webhooks.max_in_flight` requests are in flight. The wait comes before
    /// the signing, so it never ages the signed timestamp. Err only when a secret is unusable;
    /// every outcome of the request itself is an [`Answer`] to record.
    pub async fn send_signed(
        &self,
        url: &str,
        msg_id: &str,
        secrets: &[&str],
        body: String,
    ) -> Result<Answer, SignatureError> {
        // The semaphore is never closed.
        let _slot = self.in_flight.acquire().await.ok();
        let timestamp = chrono::Utc::now().timestamp();
        let signature = signature_header(secrets, msg_id, timestamp, body.as_bytes())?;
        Ok(self.post(url, msg_id, timestamp, &signature, body).await)
    }

    /// POSTs `body` to `url` with the signing headers.
    async fn post(
        &self,
        url: &str,
        msg_id: &str,
        timestamp: i64,
        signature: &str,
        body: String,
    ) -> Answer {
        let started = Instant::now();
        let failed = |error: String| Answer {
            status: None,
            retry_after: None,
            excerpt: None,
            error: Some(error),
            duration: started.elapsed(),
        };
        let parsed = match url::Url::parse(url) {
            Ok(u) => u,
            Err(e) => return failed(format!("the target URL does not parse: {e}")),
        };
        // IP literals never reach the resolver, so they are checked here.
        if let Err(e) = self.guard.check_url(&parsed) {
            return failed(e.to_string());
        }
        let mut headers = HeaderMap::with_capacity(6);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(USER_AGENT, HeaderValue::from_static("switchyard-webhooks"));
        for (name, value) in [
            ("webhook-id", msg_id.to_owned()),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", signature.to_owned()),
        ] {
            match HeaderValue::from_str(&value) {
                Ok(v) => {
                    headers.insert(name, v);
                }
                Err(_) => return failed(format!("header {name} is not valid")),
            }
        }
        let sent = self
            .http
            .post(parsed)
            .headers(headers)
            .body(body)
            .send()
            .await;
        let mut res = match sent {
            Ok(r) => r,
            Err(e) => return failed(describe(&e)),
        };
        let status = res.status().as_u16();
        let retry_after = res
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, std::time::SystemTime::now()));
        let mut excerpt = Vec::new();
        // Reads only what the excerpt keeps; the client's timeout bounds a slow body.
        while excerpt.len() < EXCERPT_BYTES {
            match res.chunk().await {
                Ok(Some(chunk)) => excerpt.extend_from_slice(&chunk),
                Ok(None) | Err(_) => break,
            }
        }
        excerpt.truncate(EXCERPT_BYTES);
        Answer {
            status: Some(status),
            retry_after,
            excerpt: Some(String::from_utf8_lossy(&excerpt).into_owned()),
            error: None,
            duration: started.elapsed(),
        }
    }
}

/// A send error with its causes, which name the refused address or the timeout.
fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
