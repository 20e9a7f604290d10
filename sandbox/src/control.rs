//! The control API under `/_sandbox` (no auth): what tests, `switchyard demo` and people use to see a
//! simulated store's side of the story (stock, fulfilments, orders, throttling) and to steer it
//! (fault knobs, generator, webhooks, orders on demand).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::faults::FaultKnobs;
use crate::generator::GeneratorConfig;
use crate::http_util::json;
use crate::server::StoreInfo;
use crate::store::SimStore;

/// Every store of the sandbox, with how to reach it.
pub struct Registry {
    pub stores: Vec<Arc<dyn SimStore>>,
    pub infos: Vec<StoreInfo>,
}

impl Registry {
    pub fn find(&self, name: &str) -> Option<Arc<dyn SimStore>> {
        self.stores.iter().find(|s| s.name() == name).cloned()
    }
}

type Shared = Arc<Registry>;

pub fn router(registry: Shared) -> Router {
    Router::new()
        .route("/stores", get(list_stores))
        .route("/stores/{name}", get(summary))
        .route("/stores/{name}/stock", get(stock).put(set_stock))
        .route("/stores/{name}/orders", get(orders).post(create_orders))
        .route("/stores/{name}/orders/{id}", get(order))
        .route("/stores/{name}/orders/{id}/update", post(update_order))
        .route("/stores/{name}/orders/{id}/cancel", post(cancel_order))
        .route("/stores/{name}/orders/{id}/hold", post(hold_order))
        .route("/stores/{name}/orders/{id}/release", post(release_order))
        .route("/stores/{name}/fulfilments", get(fulfilments))
        .route("/stores/{name}/faults", get(faults).put(set_faults))
        .route("/stores/{name}/faults/burst", post(burst))
        .route(
            "/stores/{name}/generator",
            get(generator).put(set_generator),
        )
        .route(
            "/stores/{name}/webhooks",
            get(deliveries).post(register_webhook),
        )
        .route("/stores/{name}/stats", get(stats).delete(reset_stats))
        .with_state(registry)
}

pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    json(status, &json!({ "error": message }))
}

fn find(registry: &Registry, name: &str) -> Result<Arc<dyn SimStore>, Response> {
    registry
        .find(name)
        .ok_or_else(|| error(StatusCode::NOT_FOUND, &format!("no store named {name:?}")))
}

pub(crate) fn parse<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, Response> {
    serde_json::from_slice(body)
        .map_err(|e| error(StatusCode::BAD_REQUEST, &format!("invalid body: {e}")))
}

macro_rules! try_or_return {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(response) => return response,
        }
    };
}

async fn list_stores(State(registry): State<Shared>) -> Response {
    json(StatusCode::OK, &json!({ "stores": registry.infos }))
}

async fn summary(State(registry): State<Shared>, Path(name): Path<String>) -> Response {
    let store = try_or_return!(find(&registry, &name));
    let info = registry.infos.iter().find(|i| i.name == name);
    json(
        StatusCode::OK,
        &json!({
            "store": info,
            "order_count": store.order_count(),
            "stock": store.stock_by_sku(),
            "fulfilment_count": store.fulfilments().len(),
            "traffic": store.traffic().snapshot(),
            "faults": store.faults().knobs(),
            "generator": store.generator_config(),
        }),
    )
}

async fn stock(State(registry): State<Shared>, Path(name): Path<String>) -> Response {
    let store = try_or_return!(find(&registry, &name));
    json(StatusCode::OK, &json!(store.stock_by_sku()))
}

/// Body `{"SKU": quantity, ...}`; unknown SKUs are reported and nothing is changed for them.
async fn set_stock(
    State(registry): State<Shared>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let store = try_or_return!(find(&registry, &name));
    let levels: BTreeMap<String, i64> = try_or_return!(parse(&body));
    let unknown: Vec<&String> = levels
        .iter()
        .filter(|(sku, qty)| !store.set_stock(sku, **qty))
        .map(|(s, _)| s)
        .collect();
    if !unknown.is_empty() {
        return json(
            StatusCode::UNPROCESSABLE_ENTITY,
            &json!({ "error": "unknown SKUs", "skus": unknown }),
        );
    }
    json(StatusCode::OK, &json!(store.stock_by_sku()))
}

#[derive(Debug, Deserialize)]
struct Window {
    #[serde(default)]
    offset: usize,
    limit: Option<usize>,
}

async fn orders(
    State(registry): State<Shared>,
    Path(name): Path<String>,
    Query(window): Query<Window>,
) -> Response {
    let store = try_or_return!(find(&registry, &name));
    let list = store.orders_json(window.offset, window.limit.unwrap_or(100).min(1000));
    json(
        StatusCode::OK,
        &json!({ "total": store.order_count(), "orders": list }),
    )
}

async fn order(State(registry): State<Shared>, Path((name, id)): Path<(String, u64)>) -> Response {
    let store = try_or_return!(find(&registry, &name));
    match store.order_json(id) {
        Some(order) => json(StatusCode::OK, &order),
        None => error(StatusCode::NOT_FOUND, "no such order"),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct Count {
    pub count: usize,
}

/// Body of an order creation: how many, and optionally when they were placed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewOrders {
    count: usize,
    /// A past time (RFC 3339): the orders are the store's history, placed and last changed
    /// then, and no webhook announces them.
    #[serde(default)]
    at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Body `{"count": n}`: creates n orders now (up to 100,000 per call); with `"at"`, as placed
/// then, unannounced.
async fn create_orders(
    State(registry): State<Shared>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let store = try_or_return!(find(&registry, &name));
    let NewOrders { count, at } = try_or_return!(parse(&body));
    if count > 100_000 {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "count must be at most 100000",
        );
    }
    let ids = match at {
        Some(at) if at > chrono::Utc::now() => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "at must not be in the future",
            )
        }
        Some(at) => store.create_orders_at(count, at),
        None => store.create_orders(count),
    };
    json(
        StatusCode::CREATED,
        &json!({ "created": ids.len(), "ids": ids }),
    )
}

async fn update_order(
    State(registry): State<Shared>,
    Path((name, id)): Path<(String, u64)>,
) -> Response {
    let store = try_or_return!(find(&registry, &name));
    if store.update_order(id) {
        json(StatusCode::OK, &store.order_json(id).unwrap_or(Value::Null))
    } else {
        error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "order unknown or cancelled",
        )
    }
}

async fn cancel_order(
    State(registry): State<Shared>,
    Path((name, id)): Path<(String, u64)>,
) -> Response {
    let store = try_or_return!(find(&registry, &name));
    if store.cancel_order(id) {
        json(StatusCode::OK, &store.order_json(id).unwrap_or(Value::Null))
    } else {
        error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "order unknown, shipped or already cancelled",
        )
    }
}

/// Holds the order from despatch as the merchant would (`on-hold` on WooCommerce, a fulfillment
/// hold on Shopify).
async fn hold_order(
    State(registry): State<Shared>,
    Path((name, id)): Path<(String, u64)>,
) -> Response {
    let store = try_or_return!(find(&registry, &name));
    if store.hold_order(id) {
        json(StatusCode::OK, &store.order_json(id).unwrap_or(Value::Null))
    } else {
        error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "order unknown, past holding, or the platform has no hold",
        )
    }
}

/// Lifts the hold `hold` placed.
async fn release_order(
    State(registry): State<Shared>,
    Path((name, id)): Path<(String, u64)>,
) -> Response {
    let store = try_or_return!(find(&registry, &name));
    if store.release_order(id) {
        json(StatusCode::OK, &store.order_json(id).unwrap_or(Value::Null))
    } else {
        error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "order unknown or not held",
        )
    }
}

async fn fulfilments(State(registry): State<Shared>, Path(name): Path<String>) -> Response {
    let store = try_or_return!(find(&registry, &name));
    json(
        StatusCode::OK,
        &json!({ "fulfilments": store.fulfilments() }),
    )
}

async fn faults(State(registry): State<Shared>, Path(name): Path<String>) -> Response {
    let store = try_or_return!(find(&registry, &name));
    json(StatusCode::OK, &json!(store.faults().knobs()))
}

/// Replaces the knobs; omitted fields take their defaults (i.e. off).
async fn set_faults(
    State(registry): State<Shared>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let store = try_or_return!(find(&registry, &name));
    let knobs: FaultKnobs = try_or_return!(parse(&body));
    if let Err(message) = knobs.check() {
        return error(StatusCode::UNPROCESSABLE_ENTITY, message);
    }
    store.faults().set(knobs);
    json(StatusCode::OK, &json!(store.faults().knobs()))
}

/// Body `{"count": n}`: the next n requests answer 429.
async fn burst(State(registry): State<Shared>, Path(name): Path<String>, body: Bytes) -> Response {
    let store = try_or_return!(find(&registry, &name));
    let Count { count } = try_or_return!(parse(&body));
    store
        .faults()
        .add_429_burst(u32::try_from(count).unwrap_or(u32::MAX));
    json(StatusCode::OK, &json!(store.faults().knobs()))
}

async fn generator(State(registry): State<Shared>, Path(name): Path<String>) -> Response {
    let store = try_or_return!(find(&registry, &name));
    json(StatusCode::OK, &json!(store.generator_config()))
}

async fn set_generator(
    State(registry): State<Shared>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let store = try_or_return!(find(&registry, &name));
    let config: GeneratorConfig = try_or_return!(parse(&body));
    if !(0.0..=10_000.0).contains(&config.orders_per_second) {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "orders_per_second must be within 0..=10000",
        );
    }
    store.set_generator_config(config);
    json(StatusCode::OK, &json!(store.generator_config()))
}

async fn deliveries(State(registry): State<Shared>, Path(name): Path<String>) -> Response {
    let store = try_or_return!(find(&registry, &name));
    json(
        StatusCode::OK,
        &json!({ "deliveries": store.webhook_deliveries() }),
    )
}

#[derive(Debug, Deserialize)]
struct Subscribe {
    topic: String,
    address: String,
}

/// Body `{"topic": "...", "address": "http://..."}`, with the platform's topic names.
async fn register_webhook(
    State(registry): State<Shared>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let store = try_or_return!(find(&registry, &name));
    let sub: Subscribe = try_or_return!(parse(&body));
    match store.register_webhook(&sub.topic, &sub.address) {
        Ok(created) => json(StatusCode::CREATED, &created),
        Err(message) => error(StatusCode::UNPROCESSABLE_ENTITY, &message),
    }
}

async fn stats(State(registry): State<Shared>, Path(name): Path<String>) -> Response {
    let store = try_or_return!(find(&registry, &name));
    json(StatusCode::OK, &json!(store.traffic().snapshot()))
}

async fn reset_stats(State(registry): State<Shared>, Path(name): Path<String>) -> Response {
    let store = try_or_return!(find(&registry, &name));
    store.traffic().reset();
    json(StatusCode::OK, &json!(store.traffic().snapshot()))
}
