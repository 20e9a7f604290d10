//! A webhook receiver: what a merchant's system behind a switchyard webhook looks like. It
//! listens on loopback, checks every request's Standard Webhooks signature with the independent
//! verifier in [`crate::standard_webhooks`], records it, and answers as its knobs say (a status,
//! `Retry-After`, 410 Gone, a delay, a number of failures before it recovers).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use switchyard_sandbox::webhook_receiver::WebhookReceiver;
//! let receiver = WebhookReceiver::start(vec!["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()]).await?;
//! println!("point a webhook at {}", receiver.url());
//! let seen = receiver.deliveries();
//! # drop(seen); Ok(()) }
//! ```

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use chrono::{DateTime, Utc};
use tokio::sync::{oneshot, Notify};

use crate::standard_webhooks::{unix_now, verify, SignedHeaders, DEFAULT_TOLERANCE_SECS};

/// One request as received.
#[derive(Debug, Clone)]
pub struct ReceivedWebhook {
    /// The request path (one receiver can stand behind several endpoints).
    pub path: String,
    /// `webhook-id`, the same on every retry of a message.
    pub webhook_id: String,
    pub webhook_timestamp: String,
    pub signature: String,
    /// The body's `type`.
    pub event_type: String,
    /// The body's `timestamp`: when the event happened, by the sender.
    pub event_at: Option<DateTime<Utc>>,
    /// The body and its JSON; empty and null when the receiver keeps no bodies.
    pub body: String,
    pub json: serde_json::Value,
    pub verified: bool,
    /// Why the signature did not verify.
    pub verify_error: Option<String>,
    pub received_at: DateTime<Utc>,
    /// The status answered.
    pub answered: u16,
}

/// How the receiver answers. Changed at any time with [`WebhookReceiver::set_knobs`] or the
/// shortcuts beside it.
#[derive(Debug, Clone)]
pub struct ReceiverKnobs {
    /// The answer's status once `fail_next` is spent.
    pub status: u16,
    /// A `Retry-After` header (seconds) on every non-2xx answer.
    pub retry_after_secs: Option<u64>,
    /// Waits this long before answering.
    pub delay: Duration,
    /// Answers this many requests with `fail_status` first.
    pub fail_next: u32,
    pub fail_status: u16,
    /// Answer 401 to a request whose signature does not verify.
    pub reject_unverified: bool,
    /// Keep every body and its parsed JSON. Without them a record is a few hundred bytes, so a
    /// long load run does not grow the receiver by the size of everything it was sent.
    pub keep_bodies: bool,
}

impl Default for ReceiverKnobs {
    fn default() -> ReceiverKnobs {
        ReceiverKnobs {
            status: 200,
            retry_after_secs: None,
            delay: Duration::ZERO,
            fail_next: 0,
            fail_status: 503,
            reject_unverified: false,
            keep_bodies: true,
        }
    }
}

/// What every record keeps of a body, read without building its JSON.
#[derive(Default, serde::Deserialize)]
struct Envelope {
    #[serde(rename = "type", default)]
    event_type: String,
    #[serde(default)]
    timestamp: Option<DateTime<Utc>>,
}

#[derive(Default)]
struct Inner {
    secrets: Arc<Vec<String>>,
    knobs: ReceiverKnobs,
    seen: Vec<ReceivedWebhook>,
    /// The smallest count a [`WebhookReceiver::wait_for`] is waiting for: waking the waiters on
    /// every request instead would cost a load run a thread wake-up per request.
    awaited: Option<usize>,
    /// Requests being answered now, and the most there ever were at once.
    in_flight: usize,
    most_in_flight: usize,
}

#[derive(Clone)]
struct Shared {
    inner: Arc<Mutex<Inner>>,
    arrived: Arc<Notify>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running receiver. Dropping it leaves the server running until [`WebhookReceiver::shutdown`]
/// or the end of the runtime.
pub struct WebhookReceiver {
    addr: SocketAddr,
    shared: Shared,
    stop: Option<oneshot::Sender<()>>,
}

impl WebhookReceiver {
    /// Starts on `127.0.0.1:0`, verifying with any of `secrets`.
    pub async fn start(secrets: Vec<String>) -> std::io::Result<WebhookReceiver> {
        Self::start_on(
            "127.0.0.1:0".parse().map_err(std::io::Error::other)?,
            secrets,
        )
        .await
    }

    /// Starts on `addr`.
    pub async fn start_on(
        addr: SocketAddr,
        secrets: Vec<String>,
    ) -> std::io::Result<WebhookReceiver> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Shared {
            inner: Arc::new(Mutex::new(Inner {
                secrets: Arc::new(secrets),
                ..Inner::default()
            })),
            arrived: Arc::new(Notify::new()),
        };
        let app = Router::new().fallback(receive).with_state(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(e) = served {
                tracing::warn!(error = %e, "webhook receiver stopped");
            }
        });
        Ok(WebhookReceiver {
            addr,
            shared,
            stop: Some(stop),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>/hook`.
    pub fn url(&self) -> String {
        self.url_for("/hook")
    }

    /// The URL of `path` on this receiver.
    pub fn url_for(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Every request so far, oldest first.
    pub fn deliveries(&self) -> Vec<ReceivedWebhook> {
        self.shared.lock().seen.clone()
    }

    pub fn count(&self) -> usize {
        self.shared.lock().seen.len()
    }

    /// Forgets what was received.
    pub fn clear(&self) {
        self.shared.lock().seen.clear();
    }

    /// The secrets signatures are checked with (several while the sender rotates).
    pub fn set_secrets(&self, secrets: Vec<String>) {
        self.shared.lock().secrets = Arc::new(secrets);
    }

    pub fn knobs(&self) -> ReceiverKnobs {
        self.shared.lock().knobs.clone()
    }

    pub fn set_knobs(&self, knobs: ReceiverKnobs) {
        self.shared.lock().knobs = knobs;
    }

    /// Answers `status` from now on.
    pub fn set_status(&self, status: u16) {
        self.shared.lock().knobs.status = status;
    }

    /// Answers 410 Gone from now on: the endpoint no longer exists.
    pub fn set_gone(&self) {
        self.set_status(410);
    }

    /// Fails the next `n` requests with `status` (and `Retry-After` when set), then answers as
    /// configured.
    pub fn fail_next(&self, n: u32, status: u16) {
        let mut inner = self.shared.lock();
        inner.knobs.fail_next = n;
        inner.knobs.fail_status = status;
    }

    pub fn set_retry_after(&self, secs: Option<u64>) {
        self.shared.lock().knobs.retry_after_secs = secs;
    }

    pub fn set_delay(&self, delay: Duration) {
        self.shared.lock().knobs.delay = delay;
    }

    /// Keeps bodies and their JSON (the default), or only the rest of each record.
    pub fn keep_bodies(&self, keep: bool) {
        self.shared.lock().knobs.keep_bodies = keep;
    }

    /// Waits until at least `n` requests have arrived, or `timeout`; returns what arrived.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<ReceivedWebhook> {
        let deadline = Instant::now() + timeout;
        loop {
            let notified = {
                let mut inner = self.shared.lock();
                if inner.seen.len() >= n {
                    break;
                }
                inner.awaited = Some(inner.awaited.map_or(n, |a| a.min(n)));
                // Registered before the lock is let go, so no arrival can slip between.
                self.shared.arrived.notified()
            };
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || tokio::time::timeout(left, notified).await.is_err() {
                break;
            }
        }
        self.deliveries()
    }

    /// Stops serving.
    /// Requests being answered now (a [`ReceiverKnobs::delay`] holds them).
    pub fn in_flight(&self) -> usize {
        self.shared.lock().in_flight
    }

    /// The most requests the receiver was answering at once since it started.
    pub fn most_in_flight(&self) -> usize {
        self.shared.lock().most_in_flight
    }

    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Counts a request in flight from its arrival until its answer, or until its client hangs up
/// (which drops the handler).
struct Answering(Shared);

impl Answering {
    fn new(shared: &Shared) -> Answering {
        let mut inner = shared.lock();
        inner.in_flight += 1;
        inner.most_in_flight = inner.most_in_flight.max(inner.in_flight);
        Answering(shared.clone())
    }
}

impl Drop for Answering {
    fn drop(&mut self) {
        let mut inner = self.0.lock();
        inner.in_flight = inner.in_flight.saturating_sub(1);
    }
}

async fn receive(
    State(shared): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received_at = Utc::now();
    let _answering = Answering::new(&shared);
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (secrets, knobs) = {
        let mut inner = shared.lock();
        let knobs = inner.knobs.clone();
        if inner.knobs.fail_next > 0 {
            inner.knobs.fail_next -= 1;
        }
        (inner.secrets.clone(), knobs)
    };
    let checked = SignedHeaders::from_map(&headers).and_then(|signed| {
        let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
        verify(&refs, signed, &body, unix_now(), DEFAULT_TOLERANCE_SECS)
    });
    let envelope: Envelope = serde_json::from_slice(&body).unwrap_or_default();
    let (body_text, json) = if knobs.keep_bodies {
        (
            String::from_utf8_lossy(&body).into_owned(),
            serde_json::from_slice(&body).unwrap_or_default(),
        )
    } else {
        (String::new(), serde_json::Value::Null)
    };
    let status = if knobs.reject_unverified && checked.is_err() {
        401
    } else if knobs.fail_next > 0 {
        knobs.fail_status
    } else {
        knobs.status
    };
    let record = ReceivedWebhook {
        path: uri.path().to_owned(),
        webhook_id: header("webhook-id"),
        webhook_timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        event_type: envelope.event_type,
        event_at: envelope.timestamp,
        body: body_text,
        json,
        verified: checked.is_ok(),
        verify_error: checked.err().map(|e| e.to_string()),
        received_at,
        answered: status,
    };
    let wake = {
        let mut inner = shared.lock();
        inner.seen.push(record);
        let reached = inner.awaited.is_some_and(|n| inner.seen.len() >= n);
        if reached {
            inner.awaited = None;
        }
        reached
    };
    if wake {
        shared.arrived.notify_waiters();
    }
    if !knobs.delay.is_zero() {
        tokio::time::sleep(knobs.delay).await;
    }
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut res = (code, format!("receiver answered {status}")).into_response();
    if !code.is_success() {
        if let Some(secs) = knobs.retry_after_secs {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                res.headers_mut().insert("retry-after", v);
            }
        }
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unsigned_requests_are_recorded_as_unverified_and_knobs_steer_answers() {
        let receiver =
            WebhookReceiver::start(vec!["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()])
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        receiver.fail_next(1, 503);
        receiver.set_retry_after(Some(7));
        let client = reqwest::Client::new();
        let first = client
            .post(receiver.url())
            .body(r#"{"type":"order.created"}"#)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(first.status().as_u16(), 503);
        assert_eq!(
            first
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok()),
            Some("7")
        );
        let second = client
            .post(receiver.url())
            .body("{}")
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(second.status().as_u16(), 200);
        let seen = receiver.deliveries();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].event_type, "order.created");
        assert!(!seen[0].verified);
        assert_eq!(
            seen[0].verify_error.as_deref(),
            Some("missing header webhook-id")
        );
        assert_eq!(seen[0].body, r#"{"type":"order.created"}"#);

        // Without bodies a record still has the envelope's type and timestamp.
        receiver.keep_bodies(false);
        client
            .post(receiver.url())
            .body(r#"{"type":"order.paid","timestamp":"2026-01-02T03:04:05.5Z","data":{"a":[1]}}"#)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let light = &receiver.deliveries()[2];
        assert_eq!(light.event_type, "order.paid");
        assert_eq!(
            light.event_at.map(|t| t.to_rfc3339()),
            Some("2026-01-02T03:04:05.500+00:00".to_owned())
        );
        assert!(light.body.is_empty() && light.json.is_null());
        receiver.shutdown().await;
    }
}
