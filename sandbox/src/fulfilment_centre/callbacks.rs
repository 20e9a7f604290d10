//! The centre calling switchyard back: a fulfilment when it ships an order, a stock level when
//! it counts one. Each callback carries the plugin's callback token and an `Idempotency-Key`
//! that stays the same across retries, so switchyard counts a retried callback once; a 429 is
//! retried after its `Retry-After`, a 5xx or a network failure with backoff, a 4xx not at all.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Value};

use super::Centre;
use crate::faults::lock;

/// Longest a 429's `Retry-After` is honoured for, so a test never stalls on one.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackKind {
    Fulfilment,
    Stock,
}

/// One callback request and how switchyard answered it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallbackAttempt {
    pub kind: CallbackKind,
    pub idempotency_key: String,
    pub body: Value,
    /// switchyard's status; `None` when no answer came.
    pub status: Option<u16>,
    pub error: Option<String>,
}

/// Ships `order_id` after `delay`, unless the centre stops first.
pub(super) fn ship_later(centre: &Arc<Centre>, order_id: i64, delay: Duration) {
    let centre = centre.clone();
    let runtime = centre.runtime.clone();
    runtime.spawn(async move {
        tokio::select! {
            _ = centre.shutdown.cancelled() => {}
            _ = tokio::time::sleep(delay) => {
                ship(&centre, order_id).await;
            }
        }
    });
}

/// Ships an open order and calls back with its tracking. False when the order was not open (a
/// cancelled order is never shipped) or switchyard never accepted the callback.
pub(super) async fn ship(centre: &Centre, order_id: i64) -> bool {
    let Some(reference) = lock(&centre.books).get(order_id).map(|b| b.reference) else {
        return false;
    };
    let tracking = format!("TRK{}", reference.replace('-', ""));
    let Some(booked) = lock(&centre.books).ship(order_id, &tracking) else {
        return false;
    };
    let lines: Vec<Value> = booked
        .lines
        .iter()
        .map(|l| json!({"line_id": l.line_id, "quantity": l.quantity}))
        .collect();
    let body = json!({
        "order_id": order_id,
        "reference": booked.reference,
        "lines": lines,
        "carrier": centre.config.carrier,
        "tracking_number": tracking,
        "tracking_url": format!("https://track.example/{tracking}"),
    });
    let key = format!("ship-{}", booked.reference);
    let status = post(centre, CallbackKind::Fulfilment, "fulfilments", &key, body).await;
    status.is_some_and(|s| (200..300).contains(&s))
}

/// Reports one stock level; the final status, or `None` when no answer came.
pub(super) async fn report_stock(centre: &Centre, sku: &str, quantity: i64) -> Option<u16> {
    let n = centre.reports.fetch_add(1, Ordering::Relaxed) + 1;
    let key = format!("stock-{:016x}-{n}", centre.instance);
    let body = json!({"sku": sku, "quantity": quantity});
    post(centre, CallbackKind::Stock, "stock", &key, body).await
}

/// POSTs `body` to `/v1/plugin-callbacks/{path}`, retrying what a retry can fix.
async fn post(
    centre: &Centre,
    kind: CallbackKind,
    path: &str,
    key: &str,
    body: Value,
) -> Option<u16> {
    let credentials = lock(&centre.credentials).clone();
    let url = format!("{}/v1/plugin-callbacks/{path}", credentials.switchyard_url);
    let mut pause = Duration::from_millis(200);
    let mut last = None;
    for _ in 0..centre.config.callback_tries.max(1) {
        let request = centre
            .client
            .post(&url)
            .bearer_auth(&credentials.callback_token)
            .header("idempotency-key", key)
            .json(&body)
            .send();
        let result = tokio::select! {
            _ = centre.shutdown.cancelled() => return last,
            r = request => r,
        };
        let (status, retry_after, error) = match result {
            Ok(res) => {
                let retry_after = res
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<f64>().ok())
                    .map(|s| Duration::from_secs_f64(s.max(0.0)).min(MAX_RETRY_AFTER));
                (Some(res.status().as_u16()), retry_after, None)
            }
            Err(e) => (None, None, Some(e.to_string())),
        };
        lock(&centre.callbacks).push(CallbackAttempt {
            kind,
            idempotency_key: key.to_owned(),
            body: body.clone(),
            status,
            error,
        });
        last = status;
        let wait = match status {
            Some(429) => retry_after.unwrap_or(pause),
            Some(s) if s < 500 => return status,
            _ => pause,
        };
        tokio::select! {
            _ = centre.shutdown.cancelled() => return last,
            _ = tokio::time::sleep(wait) => {}
        }
        pause *= 2;
    }
    last
}
