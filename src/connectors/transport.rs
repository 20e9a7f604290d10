//! Sending one API call: wait for the throttle, send, and apply the 429 policy.
//!
//! The 429 policy: a 429 pauses the channel's throttle for its `Retry-After` (without one, for as
//! long as a bucket throttle takes to restore the call's cost, the platform's bucket being empty,
//! or 2 s) and the call is sent again, up to `max_429_retries` times and only while the total wait
//! stays within `max_wait`; beyond that the call fails with [`ConnectorError::RateLimited`]
//! carrying the wait, so the queue reschedules the job at that time. Resending after a 429 is safe
//! even for a POST: the platform refused it before doing anything. Other failures (5xx, timeouts)
//! are not retried here: the queue's backoff is the one retry schedule, and a POST that timed out
//! may have landed.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use tokio::time::Instant;

use super::error::ConnectorError;
use super::http::{self, RawResponse};
use super::throttle::Throttle;
use crate::outbound::Client;

/// `Retry-After` assumed when a 429 comes without one.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(2);

/// Reads a platform's error body into its message (`None` when it is not the platform's format).
pub type ErrorReader = fn(&[u8]) -> Option<String>;

/// Reads the rate, in calls a second, a platform states on an answer (Amazon's
/// `x-amzn-RateLimit-Limit`); `None` when the answer states none.
pub type RateReader = fn(&HeaderMap) -> Option<f64>;

/// A connector's HTTP client, throttle and error reader.
#[derive(Debug, Clone)]
pub struct Transport {
    client: Client,
    throttle: Arc<Throttle>,
    read_error: ErrorReader,
    read_rate: Option<RateReader>,
}

impl Transport {
    pub fn new(client: Client, throttle: Arc<Throttle>, read_error: ErrorReader) -> Self {
        Transport {
            client,
            throttle,
            read_error,
            read_rate: None,
        }
    }

    /// The transport teaching its throttle the rate every answer states, refusals included.
    pub fn reading_rate(self, read_rate: RateReader) -> Self {
        Transport {
            read_rate: Some(read_rate),
            ..self
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn throttle(&self) -> &Arc<Throttle> {
        &self.throttle
    }

    /// Sends a JSON call: `start` begins the request (method, URL, the platform's auth) afresh
    /// for each attempt; the call asks for JSON back and carries `body`, when given, as JSON.
    pub async fn send_json(
        &self,
        what: &str,
        body: Option<&serde_json::Value>,
        start: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<RawResponse, ConnectorError> {
        self.send(what, || {
            let mut request = start().header("Accept", "application/json");
            if let Some(body) = body {
                request = request.json(body);
            }
            request
                .build()
                .map_err(|e| ConnectorError::Invalid(format!("{what}: {}", e.without_url())))
        })
        .await
    }

    /// Sends the request `build` makes (called again for each attempt, so signatures and nonces are
    /// fresh) and returns a successful response, or the error the outcome maps to.
    pub async fn send(
        &self,
        what: &str,
        build: impl Fn() -> Result<reqwest::Request, ConnectorError>,
    ) -> Result<RawResponse, ConnectorError> {
        let deadline = Instant::now() + self.throttle.settings().max_wait;
        self.send_costing(what, 1.0, deadline, build).await
    }

    /// [`Transport::send`] for a call the throttle charges `points`, waiting no later than
    /// `deadline` (a caller that retries on its own keeps one deadline across its attempts).
    pub async fn send_costing(
        &self,
        what: &str,
        points: f64,
        deadline: Instant,
        build: impl Fn() -> Result<reqwest::Request, ConnectorError>,
    ) -> Result<RawResponse, ConnectorError> {
        let settings = self.throttle.settings();
        let mut throttled = 0u32;
        loop {
            self.throttle.acquire(points, deadline).await?;
            let raw = self.client.execute(build()?).await?;
            if let Some(rate) = self.read_rate.and_then(|read| read(&raw.headers)) {
                self.throttle.learn_rate(rate);
            }
            if raw.status.is_success() {
                return Ok(raw);
            }
            let message = self.message(&raw);
            if raw.status != StatusCode::TOO_MANY_REQUESTS {
                return Err(http::status_error(raw.status, message));
            }
            let wait = match http::retry_after(&raw.headers) {
                Some(wait) => wait,
                None => self.throttle.refused(points).unwrap_or(DEFAULT_RETRY_AFTER),
            };
            self.throttle.pause(wait);
            throttled += 1;
            if throttled > settings.max_429_retries || Instant::now() + wait > deadline {
                tracing::warn!(
                    call = what,
                    ?wait,
                    throttled,
                    "channel rate limit: handing the wait to the queue"
                );
                return Err(ConnectorError::RateLimited {
                    retry_after: wait,
                    message,
                });
            }
            tracing::info!(
                call = what,
                ?wait,
                "channel answered 429; waiting its Retry-After"
            );
        }
    }

    fn message(&self, raw: &RawResponse) -> String {
        (self.read_error)(&raw.body).unwrap_or_else(|| {
            let snippet = http::body_snippet(&raw.body);
            if snippet.is_empty() {
                raw.status.to_string()
            } else {
                format!("{}: {snippet}", raw.status)
            }
        })
    }
}
