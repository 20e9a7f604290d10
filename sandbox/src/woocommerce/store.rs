//! One simulated WooCommerce store: products with variations, orders, notes, trackings and webhook
//! subscriptions behind one mutex, and the status transitions with WooCommerce's stock rules (stock
//! is taken when an order enters processing, completed or on-hold, and returned on cancel).

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::keys::{ApiKeys, IssuedKey, Permissions};
use super::model::{
    holds_stock, status_label, Line, Note, Order, Product, StockUpdate, Tracking, Variation,
};
use super::oauth::NonceLog;
use super::webhooks::{self, Subscription};
use crate::config::WooStoreConfig;
use crate::faults::lock;
use crate::generator::{NewOrder, OrderGenerator};
use crate::http_util::constant_time_eq;
use crate::money::{parse_cents, percent_of};
use crate::orderbook::OrderBook;
use crate::store::{Common, FulfilmentView, OrderEvent, Platform, PlatformStore};
use crate::timefmt;
use crate::webhook_sender::WebhookSender;

const FIRST_ORDER_ID: u64 = 1200;

#[derive(Debug)]
pub struct WooState {
    pub products: Vec<Product>,
    pub orders: OrderBook<Order>,
    pub generator: OrderGenerator,
    pub subscriptions: Vec<Subscription>,
    pub nonces: NonceLog,
    /// Keys granted to apps through `/wc-auth/v1/authorize`.
    pub api_keys: ApiKeys,
    next_id: u64,
    pub(crate) next_note_id: u64,
    pub(crate) webhook_seq: u64,
}

/// A simulated WooCommerce store; share as `Arc<WooStore>`.
#[derive(Debug)]
pub struct WooStore {
    pub(crate) config: WooStoreConfig,
    pub(crate) base_url: String,
    state: Mutex<WooState>,
    pub(crate) common: Common,
}

/// A webhook to send once the lock is released.
pub(crate) struct Outgoing {
    pub topic: &'static str,
    pub webhook_id: u64,
    pub address: String,
    pub secret: String,
    pub body: Vec<u8>,
}

impl WooStore {
    pub fn new(
        config: WooStoreConfig,
        prefix: &str,
        base_url: String,
        sender: WebhookSender,
    ) -> WooStore {
        let now = timefmt::now();
        let mut products = Vec::new();
        let mut next = 10u64;
        for p in &config.catalog {
            let id = next;
            next += 1;
            let single = p.variants.len() == 1 && p.variants.iter().all(|v| v.option.is_none());
            let mut variations = Vec::new();
            if !single {
                for v in &p.variants {
                    variations.push(Variation {
                        id: next,
                        sku: v.sku.clone(),
                        option: v.option.clone().unwrap_or_default(),
                        price_cents: parse_cents(&v.price).unwrap_or(0),
                        manage_stock: true,
                        stock_quantity: Some(v.stock),
                        updated_at: now,
                    });
                    next += 1;
                }
            }
            let first = p.variants.first();
            products.push(Product {
                id,
                name: p.title.clone(),
                sku: if single {
                    first.map(|v| v.sku.clone()).unwrap_or_default()
                } else {
                    String::new()
                },
                option_name: p.option_name.clone(),
                price_cents: first.and_then(|v| parse_cents(&v.price)).unwrap_or(0),
                manage_stock: single,
                stock_quantity: if single { first.map(|v| v.stock) } else { None },
                created_at: now,
                updated_at: now,
                variations,
                details: p.details.clone(),
            });
        }
        let skus = config
            .catalog
            .iter()
            .flat_map(|p| p.variants.iter().map(|v| v.sku.clone()))
            .collect();
        let state = WooState {
            products,
            orders: OrderBook::default(),
            generator: OrderGenerator::new(config.generator.clone(), skus),
            subscriptions: Vec::new(),
            nonces: NonceLog::default(),
            api_keys: ApiKeys::default(),
            next_id: FIRST_ORDER_ID.max(next + 100),
            next_note_id: 900,
            webhook_seq: 0,
        };
        WooStore {
            common: Common::new(
                &config.name,
                config.faults.clone(),
                config.generator.seed,
                prefix,
                sender,
            ),
            state: Mutex::new(state),
            base_url,
            config,
        }
    }

    /// The site URL: append `/wp-json/wc/v3/...`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn consumer_key(&self) -> &str {
        &self.config.consumer_key
    }

    pub fn consumer_secret(&self) -> &str {
        &self.config.consumer_secret
    }

    /// The key pairs merchants granted apps through `/wc-auth/v1/authorize`, oldest first; each
    /// authenticates the REST API, within its permissions, as the configured pair does.
    pub fn issued_keys(&self) -> Vec<IssuedKey> {
        self.state().api_keys.issued().to_vec()
    }

    /// The secret and permissions of a consumer key: the configured pair's, which may do anything,
    /// or an issued key's.
    pub(crate) fn key(&self, consumer_key: &str) -> Option<(String, Permissions)> {
        if constant_time_eq(consumer_key.as_bytes(), self.config.consumer_key.as_bytes()) {
            return Some((self.config.consumer_secret.clone(), Permissions::ReadWrite));
        }
        self.state()
            .api_keys
            .find(consumer_key)
            .map(|k| (k.consumer_secret.clone(), k.permissions))
    }

    /// Secret for webhooks registered without one.
    pub fn default_webhook_secret(&self) -> &str {
        &self.config.webhook_secret
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, WooState> {
        lock(&self.state)
    }
}

impl WooState {
    /// `(product id, variation id or 0)` of the item carrying `sku`.
    pub fn find_sku(&self, sku: &str) -> Option<(u64, u64)> {
        self.products.iter().find_map(|p| {
            if !p.is_variable() && p.sku == sku {
                return Some((p.id, 0));
            }
            p.variations
                .iter()
                .find(|v| v.sku == sku)
                .map(|v| (p.id, v.id))
        })
    }

    /// Changes a managed stock level by `delta`; unmanaged items are left alone, as in WooCommerce.
    fn adjust(&mut self, product_id: u64, variation_id: u64, delta: i64, now: DateTime<Utc>) {
        let Some(p) = self.products.iter_mut().find(|p| p.id == product_id) else {
            return;
        };
        if variation_id == 0 {
            if p.manage_stock {
                p.stock_quantity = Some(p.stock_quantity.unwrap_or(0) + delta);
                p.updated_at = now;
            }
        } else if let Some(v) = p.variations.iter_mut().find(|v| v.id == variation_id) {
            if v.manage_stock {
                v.stock_quantity = Some(v.stock_quantity.unwrap_or(0) + delta);
                v.updated_at = now;
            }
        }
    }

    fn note(&mut self, text: String, now: DateTime<Utc>) -> Note {
        self.next_note_id += 1;
        Note {
            id: self.next_note_id,
            note: text,
            customer_note: false,
            author: "system".into(),
            created_at: now,
        }
    }

    pub fn add_order(&mut self, new: NewOrder, currency: &str, now: DateTime<Utc>) -> Option<u64> {
        let id = self.next_id;
        let mut lines = Vec::new();
        for (i, l) in new.lines.iter().enumerate() {
            let Some((product_id, variation_id)) = self.find_sku(&l.sku) else {
                continue;
            };
            let Some(product) = self.products.iter().find(|p| p.id == product_id) else {
                continue;
            };
            let (name, price) = match product.variations.iter().find(|v| v.id == variation_id) {
                Some(v) => (format!("{} - {}", product.name, v.option), v.price_cents),
                None => (product.name.clone(), product.price_cents),
            };
            let subtotal = price * i64::from(l.quantity);
            let total = subtotal - percent_of(subtotal, new.discount_percent);
            lines.push(Line {
                id: id * 10 + i as u64 + 1,
                product_id,
                variation_id,
                sku: l.sku.clone(),
                name,
                quantity: l.quantity,
                price_cents: price,
                subtotal_cents: subtotal,
                total_cents: total,
                tax_cents: percent_of(total, new.tax_percent),
            });
        }
        if lines.is_empty() {
            return None;
        }
        self.next_id += 1;
        let status = match (new.paid, new.fulfilled) {
            (false, _) => "pending",
            (true, false) => "processing",
            (true, true) => "completed",
        };
        let discount = lines.iter().map(|l| l.subtotal_cents - l.total_cents).sum();
        let mut order = Order {
            id,
            status: status.into(),
            currency: currency.into(),
            created_at: now,
            updated_at: now,
            paid_at: new.paid.then_some(now),
            completed_at: new.fulfilled.then_some(now),
            customer_id: 0,
            email: new.customer.email.clone(),
            billing: new.billing,
            shipping: new.shipping,
            lines,
            shipping_cents: new.shipping_cents,
            discount_cents: discount,
            customer_note: new.note.unwrap_or_default(),
            payment_method: if new.paid {
                "stripe".into()
            } else {
                "bacs".into()
            },
            notes: Vec::new(),
            trackings: Vec::new(),
            stock_reduced: false,
        };
        if new.fulfilled {
            order.trackings.push(Tracking {
                tracking_id: format!("{:032x}", u128::from(id) * 0x9e37_79b9_7f4a_7c15),
                provider: new.carrier,
                link: String::new(),
                number: new.tracking_number,
                date_shipped: now.format("%Y-%m-%d").to_string(),
            });
        }
        if holds_stock(status) {
            for l in &order.lines {
                self.adjust(l.product_id, l.variation_id, -i64::from(l.quantity), now);
            }
            order.stock_reduced = true;
            let note = self.note("Stock levels reduced.".into(), now);
            order.notes.push(note);
        }
        self.orders.insert(order);
        Some(id)
    }

    /// Moves an order to `status` with WooCommerce's side effects: a system note, stock taken or
    /// returned, `date_paid` / `date_completed` set. Returns false for an unknown order.
    pub fn set_status(&mut self, id: u64, status: &str, now: DateTime<Utc>) -> bool {
        let Some(order) = self.orders.get(id) else {
            return false;
        };
        let old = order.status.clone();
        if old == status {
            return true;
        }
        let lines: Vec<(u64, u64, i64)> = order
            .lines
            .iter()
            .map(|l| (l.product_id, l.variation_id, i64::from(l.quantity)))
            .collect();
        let reduced = order.stock_reduced;
        let take = holds_stock(status) && !reduced;
        let give_back = (status == "cancelled" || status == "pending") && reduced;
        let sign = if take { -1 } else { 1 };
        if take || give_back {
            for (p, v, q) in &lines {
                self.adjust(*p, *v, sign * q, now);
            }
        }
        let note = self.note(
            format!(
                "Order status changed from {} to {}.",
                status_label(&old),
                status_label(status)
            ),
            now,
        );
        self.orders.update(id, |o| {
            o.status = status.to_string();
            o.updated_at = now;
            if take {
                o.stock_reduced = true;
            }
            if give_back {
                o.stock_reduced = false;
            }
            if (status == "processing" || status == "completed") && o.paid_at.is_none() {
                o.paid_at = Some(now);
            }
            if status == "completed" {
                o.completed_at = Some(now);
            }
            o.notes.push(note);
        });
        true
    }
}

impl PlatformStore for WooStore {
    type State = WooState;
    type Order = Order;
    type Outgoing = Outgoing;

    const PLATFORM: Platform = Platform::WooCommerce;
    const CREATED: &'static str = "order.created";
    const UPDATED: &'static [&'static str] = &["order.updated"];
    const CANCELLED: &'static [&'static str] = &["order.updated"];
    const HOLD: &'static [&'static str] = &["order.updated"];

    fn common(&self) -> &Common {
        &self.common
    }

    fn state(&self) -> MutexGuard<'_, WooState> {
        lock(&self.state)
    }

    fn generator(state: &mut WooState) -> &mut OrderGenerator {
        &mut state.generator
    }

    fn orders(state: &WooState) -> &OrderBook<Order> {
        &state.orders
    }

    fn render(&self, order: &Order) -> Value {
        order.to_json(&self.base_url)
    }

    fn add_order(&self, state: &mut WooState, new: NewOrder, now: DateTime<Utc>) -> Option<u64> {
        state.add_order(new, &self.config.currency, now)
    }

    fn update_in(state: &mut WooState, id: u64, now: DateTime<Utc>) -> bool {
        update(state, id, now)
    }

    fn cancel_in(state: &mut WooState, id: u64, now: DateTime<Utc>) -> bool {
        cancellable(state, id) && state.set_status(id, "cancelled", now)
    }

    /// The merchant sets the order `on-hold` (awaiting payment confirmation), which takes its
    /// stock if it had not yet; only a `pending` or `processing` order.
    fn hold_in(state: &mut WooState, id: u64, now: DateTime<Utc>) -> bool {
        let held = state.orders.get(id).map(|o| o.status.clone());
        matches!(held.as_deref(), Some("pending" | "processing"))
            && state.set_status(id, "on-hold", now)
    }

    /// The merchant confirms the payment of an `on-hold` order: it moves to `processing`.
    fn release_in(state: &mut WooState, id: u64, now: DateTime<Utc>) -> bool {
        let held = state.orders.get(id).map(|o| o.status.clone());
        held.as_deref() == Some("on-hold") && state.set_status(id, "processing", now)
    }

    fn outgoing(&self, state: &WooState, events: &[OrderEvent]) -> Vec<Outgoing> {
        let mut out = Vec::new();
        for (topic, id) in events {
            let subs: Vec<&Subscription> = state
                .subscriptions
                .iter()
                .filter(|s| s.active && s.topic == *topic)
                .collect();
            if subs.is_empty() {
                continue;
            }
            let Some(order) = state.orders.get(*id) else {
                continue;
            };
            let body = serde_json::to_vec(&self.render(order)).unwrap_or_default();
            for sub in subs {
                out.push(Outgoing {
                    topic,
                    webhook_id: sub.id,
                    address: sub.delivery_url.clone(),
                    secret: sub.secret.clone(),
                    body: body.clone(),
                });
            }
        }
        out
    }

    fn dispatch(&self, outgoing: Vec<Outgoing>) {
        webhooks::send_all(self, outgoing);
    }

    fn stock_levels(&self) -> BTreeMap<String, i64> {
        let state = self.state();
        let mut out = BTreeMap::new();
        for p in &state.products {
            if p.is_variable() {
                for v in &p.variations {
                    out.insert(v.sku.clone(), v.stock_quantity.unwrap_or(0));
                }
            } else if !p.sku.is_empty() {
                out.insert(p.sku.clone(), p.stock_quantity.unwrap_or(0));
            }
        }
        out
    }

    fn set_stock_level(&self, sku: &str, quantity: i64) -> bool {
        let mut state = self.state();
        let now = timefmt::now();
        let Some((product_id, variation_id)) = state.find_sku(sku) else {
            return false;
        };
        let Some(p) = state.products.iter_mut().find(|p| p.id == product_id) else {
            return false;
        };
        let update = StockUpdate {
            manage_stock: Some(true),
            stock_quantity: Some(quantity),
        };
        if variation_id == 0 {
            p.update_stock(update, now);
        } else if let Some(v) = p.variations.iter_mut().find(|v| v.id == variation_id) {
            v.update_stock(update, now);
        }
        true
    }

    fn fulfilment_views(&self) -> Vec<FulfilmentView> {
        let state = self.state();
        let mut out = Vec::new();
        for order in state.orders.iter() {
            for t in &order.trackings {
                out.push(FulfilmentView {
                    order_id: order.id,
                    order_name: order.id.to_string(),
                    fulfilment_id: t.tracking_id.clone(),
                    carrier: Some(t.provider.clone()),
                    tracking_number: Some(t.number.clone()),
                    tracking_url: (!t.link.is_empty()).then(|| t.link.clone()),
                    lines: Vec::new(),
                    created_at: t.date_shipped.clone(),
                });
            }
        }
        out
    }

    fn subscribe(&self, topic: &str, address: &str) -> Result<Value, String> {
        webhooks::register(self, topic, address, None, None).map(|sub| sub.to_json(&self.base_url))
    }
}

/// Orders not yet shipped, cancelled or refunded can be cancelled.
fn cancellable(state: &WooState, id: u64) -> bool {
    state
        .orders
        .get(id)
        .is_some_and(|o| matches!(o.status.as_str(), "pending" | "processing" | "on-hold"))
}

/// The generator's update: a pending order gets paid; otherwise the customer note changes.
fn update(state: &mut WooState, id: u64, now: DateTime<Utc>) -> bool {
    let Some(status) = state.orders.get(id).map(|o| o.status.clone()) else {
        return false;
    };
    match status.as_str() {
        "pending" => state.set_status(id, "processing", now),
        "cancelled" | "refunded" => false,
        _ => state
            .orders
            .update(id, |o| {
                o.customer_note = "Customer asked to ship in plain packaging".into();
                o.updated_at = now;
            })
            .is_some(),
    }
}
