//! Outbound webhooks (DESIGN.md "Webhooks (outbound)"): Standard Webhooks signing, the client
//! that sends them (on the guarded outbound client), and the shape of the bodies delivered.
//!
//! The flow: a domain transaction writes an event to the outbox (built by the event catalogue,
//! `store::events`); the relay fans it out, in the transaction that takes it from the outbox,
//! into one delivery per matching enabled webhook (`store::webhooks::fan_out_in_tx`); the
//! deliver-webhook worker signs and POSTs each, following the retry schedule of
//! `domain::webhook_schedule`.

pub mod batcher;
pub mod client;
pub mod signature;

pub use client::{Answer, WebhookClient};
pub use signature::{generate_secret, sign_one, signature_header};

use chrono::{DateTime, SecondsFormat, Utc};

/// The delivered body, Standard Webhooks style: `{"type", "timestamp", "data"}`, with `data`
/// the event's JSON text as stored (not parsed and re-encoded on the hot path).
pub fn body(event_type: &str, at: DateTime<Utc>, data_json: &str) -> String {
    let kind = serde_json::Value::String(event_type.to_owned());
    let ts = at.to_rfc3339_opts(SecondsFormat::Micros, true);
    format!(r#"{{"type":{kind},"timestamp":"{ts}","data":{data_json}}}"#)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_type_timestamp_and_data() {
        let at = DateTime::parse_from_rfc3339("2026-01-02T03:04:05.123456Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        let text = body("order.created", at, r#"{"id": 7}"#);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        assert_eq!(v["type"], "order.created");
        assert_eq!(v["timestamp"], "2026-01-02T03:04:05.123456Z");
        assert_eq!(v["data"]["id"], 7);
    }
}
