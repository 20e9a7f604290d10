//! What every simulated store offers the control API and in-process callers, whatever its platform:
//! its stock, fulfilments and orders as the platform holds them, its knobs and its traffic.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::faults::Faults;
use crate::generator::GeneratorConfig;
use crate::traffic::Traffic;
use crate::webhook_sender::Delivery;

/// The platform a store simulates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Shopify,
    WooCommerce,
}

/// A fulfilment (shipment) recorded on the channel, in neutral form.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FulfilmentView {
    pub order_id: u64,
    /// What the merchant sees: `#1001` on Shopify, `1234` on WooCommerce.
    pub order_name: String,
    pub fulfilment_id: String,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub tracking_url: Option<String>,
    /// Lines shipped; empty on WooCommerce, whose trackings are per order.
    pub lines: Vec<FulfilledLine>,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FulfilledLine {
    pub sku: String,
    pub quantity: u32,
}

/// One simulated store, as the control API and tests see it.
pub trait SimStore: Send + Sync {
    fn name(&self) -> &str;
    fn platform(&self) -> Platform;
    fn faults(&self) -> &Faults;
    fn traffic(&self) -> &Traffic;
    /// Outbound webhook attempts, oldest first.
    fn webhook_deliveries(&self) -> Vec<Delivery>;
    /// Available stock per SKU (summed over locations on Shopify).
    fn stock_by_sku(&self) -> BTreeMap<String, i64>;
    /// Sets a SKU's stock as a merchant editing it by hand would; false if the SKU is unknown.
    fn set_stock(&self, sku: &str, quantity: i64) -> bool;
    fn fulfilments(&self) -> Vec<FulfilmentView>;
    fn order_count(&self) -> usize;
    /// Orders in the platform's JSON, newest first.
    fn orders_json(&self, offset: usize, limit: usize) -> Vec<Value>;
    fn order_json(&self, id: u64) -> Option<Value>;
    /// Creates `n` orders now from the generator; returns their ids.
    fn create_orders(&self, n: usize) -> Vec<u64>;
    /// Applies a generator-style update (payment, or a note edit) to an order.
    fn update_order(&self, id: u64) -> bool;
    /// Cancels an order (restocking it); false if unknown or already fulfilled/cancelled.
    fn cancel_order(&self, id: u64) -> bool;
    /// Advances the background generator by `elapsed`.
    fn tick(&self, elapsed: Duration);
    fn generator_config(&self) -> GeneratorConfig;
    fn set_generator_config(&self, config: GeneratorConfig);
    /// Subscribes `address` to a platform topic (`orders/create`, `order.updated`, ...).
    fn register_webhook(&self, topic: &str, address: &str) -> Result<Value, String>;
}
