//! Outbound webhook delivery shared by the simulators: POST a signed body to each subscriber, with a
//! timeout, no redirects, and a record of every attempt so tests can see what was sent and how the
//! receiver answered. Platforms retry failed deliveries over hours; the sandbox sends once, because a
//! test wants the outcome now.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::faults::lock;

const KEEP: usize = 1000;

/// Takes the next `n` numbers of a store's webhook sequence `seq`; returns the first. Taken
/// under the store's lock, so deliveries sent together have distinct ids.
pub fn take_ids(seq: &mut u64, n: usize) -> u64 {
    let first = *seq;
    *seq += n as u64;
    first
}

/// One delivery attempt.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Delivery {
    pub id: String,
    pub topic: String,
    pub address: String,
    /// The receiver's status code; `None` while in flight or when the request failed.
    pub status: Option<u16>,
    pub error: Option<String>,
    pub body_bytes: usize,
}

/// Sends webhooks on the sandbox's runtime and keeps the last 1,000 deliveries.
#[derive(Debug, Clone)]
pub struct WebhookSender {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
    shutdown: CancellationToken,
    deliveries: Arc<Mutex<VecDeque<Delivery>>>,
}

impl WebhookSender {
    pub fn new(
        runtime: tokio::runtime::Handle,
        shutdown: CancellationToken,
    ) -> Result<WebhookSender, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(WebhookSender {
            client,
            runtime,
            shutdown,
            deliveries: Arc::new(Mutex::new(VecDeque::new())),
        })
    }

    /// The client deliveries go out on (5-second timeout, redirects not followed), for the other
    /// calls a simulated platform makes to an app's server.
    pub(crate) fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Deliveries, oldest first.
    pub fn deliveries(&self) -> Vec<Delivery> {
        lock(&self.deliveries).iter().cloned().collect()
    }

    /// Posts `body` to `address` in the background.
    pub fn send(
        &self,
        id: String,
        topic: &str,
        address: &str,
        headers: Vec<(String, String)>,
        body: Bytes,
    ) {
        {
            let mut deliveries = lock(&self.deliveries);
            if deliveries.len() >= KEEP {
                deliveries.pop_front();
            }
            deliveries.push_back(Delivery {
                id: id.clone(),
                topic: topic.to_string(),
                address: address.to_string(),
                status: None,
                error: None,
                body_bytes: body.len(),
            });
        }
        let mut request = self
            .client
            .post(address)
            .header("Content-Type", "application/json");
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let request = request.body(body);
        let deliveries = self.deliveries.clone();
        let shutdown = self.shutdown.clone();
        self.runtime.spawn(async move {
            let result = tokio::select! {
                r = request.send() => r,
                _ = shutdown.cancelled() => return,
            };
            let mut deliveries = lock(&deliveries);
            if let Some(record) = deliveries.iter_mut().rev().find(|d| d.id == id) {
                match result {
                    Ok(response) => record.status = Some(response.status().as_u16()),
                    Err(err) => record.error = Some(err.to_string()),
                }
            }
        });
    }
}

/// base64(HMAC-SHA256(secret, body)), the signature both Shopify and WooCommerce send.
pub fn hmac_sha256_base64(secret: &[u8], body: &[u8]) -> String {
    use base64::Engine;
    use hmac::{Hmac, Mac};
    let mut mac = match Hmac::<sha2::Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        // HMAC accepts keys of any length, so this branch cannot be taken.
        Err(_) => return String::new(),
    };
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}
