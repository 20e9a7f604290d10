//! Webhooks: `POST/GET /wp-json/wc/v3/webhooks` and delivery of `order.created` / `order.updated`
//! with WooCommerce's headers, signed `X-WC-Webhook-Signature` = base64(HMAC-SHA256(secret, body)).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::errors::error;
use super::params::{as_text, body_fields, text_field};
use super::store::{Outgoing, WooStore};
use crate::http_util::json;
use crate::timefmt;
use crate::webhook_sender::{hmac_sha256_base64, take_ids};

pub const TOPICS: &[&str] = &["order.created", "order.updated"];

#[derive(Debug, Clone)]
pub struct Subscription {
    pub id: u64,
    pub name: String,
    pub topic: String,
    pub delivery_url: String,
    pub secret: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

impl Subscription {
    pub fn to_json(&self, base_url: &str) -> Value {
        let (resource, event) = self.topic.split_once('.').unwrap_or(("", ""));
        let hooks: Vec<&str> = match event {
            "created" => vec!["woocommerce_new_order"],
            _ => vec!["woocommerce_update_order", "woocommerce_order_refunded"],
        };
        json!({
            "id": self.id,
            "name": self.name,
            "status": if self.active { "active" } else { "paused" },
            "topic": self.topic,
            "resource": resource,
            "event": event,
            "hooks": hooks,
            "delivery_url": self.delivery_url,
            "date_created": timefmt::naive(self.created_at, 0),
            "date_created_gmt": timefmt::naive(self.created_at, 0),
            "date_modified": timefmt::naive(self.created_at, 0),
            "date_modified_gmt": timefmt::naive(self.created_at, 0),
            "_links": {"self": [{"href": format!("{base_url}/wp-json/wc/v3/webhooks/{}", self.id)}]}
        })
    }
}

/// Stores a subscription; `Err` carries WooCommerce's message.
pub fn register(
    store: &WooStore,
    topic: &str,
    delivery_url: &str,
    secret: Option<String>,
    name: Option<String>,
) -> Result<Subscription, String> {
    if !TOPICS.contains(&topic) {
        return Err("Webhook topic is required and must be valid.".into());
    }
    if reqwest::Url::parse(delivery_url)
        .map_or(true, |u| u.scheme() != "http" && u.scheme() != "https")
    {
        return Err(
            "Webhook delivery URL must be a valid URL starting with http:// or https://.".into(),
        );
    }
    let mut state = store.state();
    state.webhook_seq += 1;
    let sub = Subscription {
        id: state.webhook_seq,
        name: name.unwrap_or_else(|| format!("Order {}", topic.trim_start_matches("order."))),
        topic: topic.to_string(),
        delivery_url: delivery_url.to_string(),
        secret: secret.unwrap_or_else(|| store.default_webhook_secret().to_string()),
        active: true,
        created_at: timefmt::now(),
    };
    state.subscriptions.push(sub.clone());
    Ok(sub)
}

pub async fn create(
    State(store): State<Arc<WooStore>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fields = match body_fields(&headers, &body) {
        Ok(fields) => fields,
        Err(refused) => return refused,
    };
    let topic = fields.get("topic").and_then(as_text).unwrap_or_default();
    let url = fields
        .get("delivery_url")
        .and_then(as_text)
        .unwrap_or_default();
    let secret = text_field(&fields, "secret");
    let name = fields.get("name").and_then(as_text);
    match register(&store, &topic, &url, secret, name) {
        Ok(sub) => json(StatusCode::CREATED, &sub.to_json(&store.base_url)),
        Err(message) if message.starts_with("Webhook topic") => error(
            StatusCode::BAD_REQUEST,
            "woocommerce_rest_webhook_invalid_topic",
            &message,
        ),
        Err(message) => error(
            StatusCode::BAD_REQUEST,
            "woocommerce_rest_webhook_invalid_delivery_url",
            &message,
        ),
    }
}

pub async fn list(State(store): State<Arc<WooStore>>) -> Response {
    let state = store.state();
    let subs: Vec<Value> = state
        .subscriptions
        .iter()
        .map(|s| s.to_json(&store.base_url))
        .collect();
    json(StatusCode::OK, &Value::Array(subs))
}

pub fn send_all(store: &WooStore, outgoing: Vec<Outgoing>) {
    if outgoing.is_empty() {
        return;
    }
    let base = take_ids(&mut store.state().webhook_seq, outgoing.len());
    for (i, out) in outgoing.into_iter().enumerate() {
        let delivery_id = (base + i as u64 + 1) * 7 + 1000;
        let (resource, event) = out.topic.split_once('.').unwrap_or(("", ""));
        let headers = vec![
            (
                "User-Agent".to_string(),
                "WooCommerce/9.1.2 Hookshot (WordPress/6.6)".to_string(),
            ),
            (
                "X-WC-Webhook-Source".to_string(),
                format!("{}/", store.base_url()),
            ),
            ("X-WC-Webhook-Topic".to_string(), out.topic.to_string()),
            ("X-WC-Webhook-Resource".to_string(), resource.to_string()),
            ("X-WC-Webhook-Event".to_string(), event.to_string()),
            (
                "X-WC-Webhook-Signature".to_string(),
                hmac_sha256_base64(out.secret.as_bytes(), &out.body),
            ),
            ("X-WC-Webhook-ID".to_string(), out.webhook_id.to_string()),
            (
                "X-WC-Webhook-Delivery-ID".to_string(),
                delivery_id.to_string(),
            ),
        ];
        store.common.sender.send(
            delivery_id.to_string(),
            out.topic,
            &out.address,
            headers,
            Bytes::from(out.body),
        );
    }
}
