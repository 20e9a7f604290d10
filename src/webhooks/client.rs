//! The HTTP side of a delivery: the guarded outbound client (SSRF guard, no redirects, timeouts,
//! a cap on the answer) with webhooks' own timeouts, and a cap on requests in flight.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use reqwest::Method;

use super::signature::{signature_header, SignatureError};
use crate::config::Settings;
use crate::domain::webhook_schedule::parse_retry_after;
use crate::outbound::{self, ClientSettings, OutboundError, SsrfGuard};

/// How much of an answer's body an attempt keeps.
pub const EXCERPT_BYTES: usize = 1024;

/// `[webhooks]` timeouts and answer cap (webhook deliveries and plugin calls), with the
/// `[outbound]` guard.
pub fn client_settings(settings: &Settings) -> ClientSettings {
    let w = &settings.webhooks;
    ClientSettings {
        connect_timeout: Duration::from_millis(w.connect_timeout_ms),
        request_timeout: Duration::from_millis(w.request_timeout_ms),
        max_response_bytes: w.max_response_bytes,
        guard: SsrfGuard::from_settings(&settings.outbound),
    }
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
    http: outbound::Client,
    /// One permit per request in flight (`webhooks.max_in_flight`).
    in_flight: Arc<tokio::sync::Semaphore>,
}

impl WebhookClient {
    pub fn new(settings: &Settings) -> Result<WebhookClient, OutboundError> {
        // A 3xx is an answer like any other and counts as a failure: the client follows no
        // redirect, which would send the signed body somewhere the guard never saw.
        let http = outbound::Client::new(&client_settings(settings), "switchyard-webhooks")?;
        Ok(WebhookClient {
            http,
            in_flight: Arc::new(tokio::sync::Semaphore::new(
                settings.webhooks.max_in_flight.max(1),
            )),
        })
    }

    pub fn guard(&self) -> &SsrfGuard {
        self.http.guard()
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
        let mut headers = HeaderMap::with_capacity(5);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
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
        let request = match self
            .http
            .request(Method::POST, parsed)
            .headers(headers)
            .body(body)
            .build()
        {
            Ok(r) => r,
            Err(e) => {
                return failed(format!(
                    "the request could not be built: {}",
                    e.without_url()
                ))
            }
        };
        let res = match self.http.execute(request).await {
            Ok(r) => r,
            Err(e) => return failed(e.to_string()),
        };
        let retry_after = res
            .headers
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, std::time::SystemTime::now()));
        let excerpt = &res.body[..res.body.len().min(EXCERPT_BYTES)];
        Answer {
            status: Some(res.status.as_u16()),
            retry_after,
            excerpt: Some(String::from_utf8_lossy(excerpt).into_owned()),
            error: None,
            duration: started.elapsed(),
        }
    }
}
