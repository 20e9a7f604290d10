//! Webhook subscriptions (`POST/GET webhooks.json`, `DELETE webhooks/{id}.json`) and delivery:
//! the order JSON as body, signed with `X-Shopify-Hmac-Sha256` = base64(HMAC-SHA256(app secret,
//! raw body)), plus the topic, shop domain and a unique webhook id a receiver de-duplicates on.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::errors::{errors, json_id, missing_root, not_found};
use super::model::ShopContext;
use super::store::{Outgoing, ShopifyStore};
use crate::http_util::json;
use crate::timefmt;
use crate::webhook_sender::{hmac_sha256_base64, take_ids};

/// Topics the simulator emits.
pub const TOPICS: &[&str] = &[
    "orders/create",
    "orders/updated",
    "orders/cancelled",
    "orders/fulfilled",
];

const API_VERSION: &str = "2024-07";

#[derive(Debug, Clone)]
pub struct Subscription {
    pub id: u64,
    pub topic: String,
    pub address: String,
    pub created_at: DateTime<Utc>,
}

impl Subscription {
    pub fn to_json(&self, shop: &ShopContext) -> Value {
        json!({
            "id": self.id,
            "address": self.address,
            "topic": self.topic,
            "created_at": shop.time(self.created_at),
            "updated_at": shop.time(self.created_at),
            "format": "json",
            "fields": [],
            "metafield_namespaces": [],
            "api_version": API_VERSION,
            "private_metafield_namespaces": []
        })
    }
}

/// Validates and stores a subscription; `Err` carries Shopify's message.
pub fn register(store: &ShopifyStore, topic: &str, address: &str) -> Result<Subscription, String> {
    if !TOPICS.contains(&topic) {
        return Err(format!(
            "Invalid topic specified: {topic}. Topics allowed: {}",
            TOPICS.join(", ")
        ));
    }
    if !(address.starts_with("http://") || address.starts_with("https://"))
        || reqwest::Url::parse(address).is_err()
    {
        return Err("Address is invalid".into());
    }
    let mut state = store.state();
    if state
        .subscriptions
        .iter()
        .any(|s| s.topic == topic && s.address == address)
    {
        return Err("Address for this topic has already been taken".into());
    }
    state.webhook_seq += 1;
    let sub = Subscription {
        id: 1_047_000_000_000 + state.webhook_seq * 3,
        topic: topic.to_string(),
        address: address.to_string(),
        created_at: timefmt::now(),
    };
    state.subscriptions.push(sub.clone());
    Ok(sub)
}

#[derive(Debug, Deserialize)]
struct CreateBody {
    webhook: WebhookInput,
}

#[derive(Debug, Deserialize)]
struct WebhookInput {
    topic: String,
    address: String,
    #[serde(default)]
    format: Option<String>,
}

pub async fn create(State(store): State<Arc<ShopifyStore>>, body: Bytes) -> Response {
    let Ok(input) = serde_json::from_slice::<CreateBody>(&body) else {
        return missing_root("webhook");
    };
    if input.webhook.format.as_deref().is_some_and(|f| f != "json") {
        return errors(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"format": ["is not supported by the sandbox (json only)"]}),
        );
    }
    match register(&store, &input.webhook.topic, &input.webhook.address) {
        Ok(sub) => json(
            StatusCode::CREATED,
            &json!({ "webhook": sub.to_json(&store.ctx) }),
        ),
        Err(message) => {
            let field = if message.starts_with("Invalid topic") {
                "topic"
            } else {
                "address"
            };
            errors(
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({ field: [message] }),
            )
        }
    }
}

pub async fn list(State(store): State<Arc<ShopifyStore>>) -> Response {
    let state = store.state();
    let subs: Vec<Value> = state
        .subscriptions
        .iter()
        .map(|s| s.to_json(&store.ctx))
        .collect();
    json(StatusCode::OK, &json!({ "webhooks": subs }))
}

pub async fn delete(
    State(store): State<Arc<ShopifyStore>>,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let Some(id) = params.get("file").and_then(|s| json_id(s)) else {
        return not_found();
    };
    if !unregister(&store, id) {
        return not_found();
    }
    json(StatusCode::OK, &json!({}))
}

/// Removes a subscription; false if the shop has none with that id.
pub fn unregister(store: &ShopifyStore, id: u64) -> bool {
    let mut state = store.state();
    let before = state.subscriptions.len();
    state.subscriptions.retain(|s| s.id != id);
    state.subscriptions.len() != before
}

/// A UUID-shaped id, unique per delivery and stable for a given shop and sequence number.
fn webhook_id(domain: &str, n: u64) -> String {
    let d = Sha256::digest(
        format!(
            "{domain}/{n}/{}",
            Utc::now().timestamp_nanos_opt().unwrap_or(0)
        )
        .as_bytes(),
    );
    let h: String = d.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-4{}-8{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// Signs and sends each outgoing webhook.
pub fn send_all(store: &ShopifyStore, outgoing: Vec<Outgoing>) {
    if outgoing.is_empty() {
        return;
    }
    let base = take_ids(&mut store.state().webhook_seq, outgoing.len());
    for (i, out) in outgoing.into_iter().enumerate() {
        let id = webhook_id(store.domain(), base + i as u64);
        let signature = hmac_sha256_base64(store.app_secret().as_bytes(), &out.body);
        let headers = vec![
            ("X-Shopify-Topic".to_string(), out.topic.to_string()),
            ("X-Shopify-Hmac-Sha256".to_string(), signature),
            (
                "X-Shopify-Shop-Domain".to_string(),
                store.domain().to_string(),
            ),
            ("X-Shopify-API-Version".to_string(), API_VERSION.to_string()),
            ("X-Shopify-Webhook-Id".to_string(), id.clone()),
            (
                "X-Shopify-Event-Id".to_string(),
                webhook_id(store.domain(), u64::MAX - base - i as u64),
            ),
            (
                "X-Shopify-Triggered-At".to_string(),
                Utc::now().to_rfc3339(),
            ),
        ];
        store
            .common
            .sender
            .send(id, out.topic, &out.address, headers, Bytes::from(out.body));
    }
}
