//! What every simulated store offers the control API and in-process callers, whatever its platform:
//! its stock, fulfilments and orders as the platform holds them, its knobs and its traffic.
//!
//! A platform's store implements [`PlatformStore`], what it does its own way (what an order is,
//! how it changes, what its webhook topics are called); [`SimStore`], and the order lifecycle
//! the generator drives, are then the same for every platform.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::faults::{FaultKnobs, Faults};
use crate::generator::{GeneratorConfig, LaterEvent, NewOrder, OrderGenerator};
use crate::orderbook::{Keyed, OrderBook};
use crate::timefmt;
use crate::traffic::Traffic;
use crate::webhook_sender::{Delivery, WebhookSender};

/// The platform a store simulates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Shopify,
    WooCommerce,
    Amazon,
    Ebay,
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
    /// The id the platform's API shows for the order numbered `id` here (the same digits on
    /// Shopify and WooCommerce, `202-0000001-0000017` on Amazon, `12-00001-00017` on eBay).
    fn channel_order_id(&self, id: u64) -> String;
    /// Orders in the platform's JSON, newest first.
    fn orders_json(&self, offset: usize, limit: usize) -> Vec<Value>;
    fn order_json(&self, id: u64) -> Option<Value>;
    /// Creates `n` orders now from the generator; returns their ids.
    fn create_orders(&self, n: usize) -> Vec<u64>;
    /// Creates `n` orders from the generator as placed (and last changed) at `at`, announcing
    /// none: the store's history before switchyard was connected, which no webhook reported.
    /// Cheap enough for tens of thousands; returns their ids.
    fn create_orders_at(&self, n: usize, at: DateTime<Utc>) -> Vec<u64>;
    /// Applies a generator-style update (payment, or a note edit) to an order.
    fn update_order(&self, id: u64) -> bool;
    /// Cancels an order (restocking it); false if unknown or already fulfilled/cancelled.
    fn cancel_order(&self, id: u64) -> bool;
    /// Holds an order from despatch as the merchant would: `on-hold` on WooCommerce, a
    /// fulfillment hold on Shopify. False if unknown, past holding, or the platform has no hold.
    fn hold_order(&self, id: u64) -> bool;
    /// Lifts the hold [`SimStore::hold_order`] placed (on WooCommerce, the payment is
    /// confirmed); false if the order is not held.
    fn release_order(&self, id: u64) -> bool;
    /// Advances the background generator by `elapsed`.
    fn tick(&self, elapsed: Duration);
    fn generator_config(&self) -> GeneratorConfig;
    fn set_generator_config(&self, config: GeneratorConfig);
    /// Subscribes `address` to a platform topic (`orders/create`, `order.updated`, ...).
    fn register_webhook(&self, topic: &str, address: &str) -> Result<Value, String>;
    /// Makes the next `n` shipments created be recorded and then answered with a 5xx (see
    /// [`Common::lose_fulfilment_answers`]).
    fn lose_fulfilment_answers(&self, n: u32);
}

/// What every simulated store holds beside its platform's state.
#[derive(Debug)]
pub(crate) struct Common {
    pub name: String,
    pub faults: Arc<Faults>,
    pub traffic: Arc<Traffic>,
    pub sender: WebhookSender,
    /// Shipments still to be recorded but answered with a 5xx (see `lose_fulfilment_answers`).
    lost_fulfilment_answers: AtomicU32,
}

impl Common {
    /// `prefix` is where the store is mounted; `seed` seeds its faults.
    pub fn new(
        name: &str,
        faults: FaultKnobs,
        seed: u64,
        prefix: &str,
        sender: WebhookSender,
    ) -> Common {
        Common {
            name: name.to_owned(),
            faults: Arc::new(Faults::new(faults, seed)),
            traffic: Arc::new(Traffic::new(prefix)),
            sender,
            lost_fulfilment_answers: AtomicU32::new(0),
        }
    }

    /// Makes the next `n` shipments created be recorded and then answered with a 5xx, as when a
    /// proxy in front of the platform gives up on an answer the platform went on to commit: the
    /// client cannot tell this from a failure, and a blind retry would ship twice.
    pub fn lose_fulfilment_answers(&self, n: u32) {
        self.lost_fulfilment_answers.fetch_add(n, Ordering::SeqCst);
    }

    /// True (once per lost answer) when the shipment just recorded is to be answered with a 5xx.
    pub fn take_lost_answer(&self) -> bool {
        self.lost_fulfilment_answers
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }
}

/// An order event to announce: a webhook topic and the order's id.
pub(crate) type OrderEvent = (&'static str, u64);

/// A change the generator makes to a stored order; false when it does not apply.
pub(crate) type OrderChange<State> = fn(&mut State, u64, DateTime<Utc>) -> bool;

/// What a simulated store does its platform's own way. Handlers hold the state lock only for
/// in-memory work; webhooks rendered under it are sent once it is released.
pub(crate) trait PlatformStore: Send + Sync {
    type State;
    type Order: Keyed;
    /// A webhook rendered under the lock, to send once it is released.
    type Outgoing;

    const PLATFORM: Platform;
    /// Topics announced for a new order, an update and a cancellation.
    const CREATED: &'static str;
    const UPDATED: &'static [&'static str];
    const CANCELLED: &'static [&'static str];

    /// [`SimStore::channel_order_id`]: the number itself, unless the platform spells ids
    /// otherwise.
    fn channel_order_id(id: u64) -> String {
        id.to_string()
    }

    fn common(&self) -> &Common;
    fn state(&self) -> MutexGuard<'_, Self::State>;
    fn generator(state: &mut Self::State) -> &mut OrderGenerator;
    fn orders(state: &Self::State) -> &OrderBook<Self::Order>;
    /// An order in the platform's JSON.
    fn render(&self, order: &Self::Order) -> Value;

    /// Creates an order from the generator's draw; `None` when none of its SKUs is sold here.
    fn add_order(&self, state: &mut Self::State, new: NewOrder, now: DateTime<Utc>) -> Option<u64>;
    /// The generator's update of an order (payment, or a note edit); false if it cannot apply.
    fn update_in(state: &mut Self::State, id: u64, now: DateTime<Utc>) -> bool;
    /// Cancels (and restocks) an order; false if unknown or past cancelling.
    fn cancel_in(state: &mut Self::State, id: u64, now: DateTime<Utc>) -> bool;

    /// [`SimStore::hold_order`] under the lock; platforms without a hold answer false.
    fn hold_in(state: &mut Self::State, id: u64, now: DateTime<Utc>) -> bool {
        let _ = (state, id, now);
        false
    }
    /// [`SimStore::release_order`] under the lock.
    fn release_in(state: &mut Self::State, id: u64, now: DateTime<Utc>) -> bool {
        let _ = (state, id, now);
        false
    }
    /// Topics announced for a hold placed or lifted: none by default (Shopify tells of holds on
    /// fulfillment-order topics the simulator does not send).
    const HOLD: &'static [&'static str] = &[];

    /// Renders `events` for their subscribers, under the lock.
    fn outgoing(&self, state: &Self::State, events: &[OrderEvent]) -> Vec<Self::Outgoing>;
    /// Signs and sends what [`PlatformStore::outgoing`] rendered.
    fn dispatch(&self, outgoing: Vec<Self::Outgoing>);

    /// [`SimStore::stock_by_sku`].
    fn stock_levels(&self) -> BTreeMap<String, i64>;
    /// [`SimStore::set_stock`].
    fn set_stock_level(&self, sku: &str, quantity: i64) -> bool;
    /// [`SimStore::fulfilments`].
    fn fulfilment_views(&self) -> Vec<FulfilmentView>;
    /// [`SimStore::register_webhook`].
    fn subscribe(&self, topic: &str, address: &str) -> Result<Value, String>;

    /// Applies `change` to order `id` under the lock and announces `topics` if it applied.
    fn change_order(
        &self,
        id: u64,
        change: OrderChange<Self::State>,
        topics: &'static [&'static str],
    ) -> bool {
        let now = timefmt::now();
        let (done, outgoing) = {
            let mut state = self.state();
            let done = change(&mut state, id, now);
            let events: Vec<OrderEvent> = match done {
                true => topics.iter().map(|t| (*t, id)).collect(),
                false => Vec::new(),
            };
            (done, self.outgoing(&state, &events))
        };
        self.dispatch(outgoing);
        done
    }
}

impl<S: PlatformStore> SimStore for S {
    fn name(&self) -> &str {
        &self.common().name
    }

    fn platform(&self) -> Platform {
        S::PLATFORM
    }

    fn faults(&self) -> &Faults {
        &self.common().faults
    }

    fn traffic(&self) -> &Traffic {
        &self.common().traffic
    }

    fn webhook_deliveries(&self) -> Vec<Delivery> {
        self.common().sender.deliveries()
    }

    fn stock_by_sku(&self) -> BTreeMap<String, i64> {
        self.stock_levels()
    }

    fn set_stock(&self, sku: &str, quantity: i64) -> bool {
        self.set_stock_level(sku, quantity)
    }

    fn fulfilments(&self) -> Vec<FulfilmentView> {
        self.fulfilment_views()
    }

    fn order_count(&self) -> usize {
        S::orders(&self.state()).len()
    }

    fn orders_json(&self, offset: usize, limit: usize) -> Vec<Value> {
        let state = self.state();
        S::orders(&state)
            .iter()
            .rev()
            .skip(offset)
            .take(limit)
            .map(|o| self.render(o))
            .collect()
    }

    fn order_json(&self, id: u64) -> Option<Value> {
        S::orders(&self.state()).get(id).map(|o| self.render(o))
    }

    fn create_orders(&self, n: usize) -> Vec<u64> {
        let (ids, outgoing) = generate(self, n, timefmt::now(), true);
        self.dispatch(outgoing);
        ids
    }

    fn create_orders_at(&self, n: usize, at: DateTime<Utc>) -> Vec<u64> {
        let at = DateTime::from_timestamp(at.timestamp(), 0).unwrap_or(at);
        generate(self, n, at, false).0
    }

    fn update_order(&self, id: u64) -> bool {
        self.change_order(id, S::update_in, S::UPDATED)
    }

    fn cancel_order(&self, id: u64) -> bool {
        self.change_order(id, S::cancel_in, S::CANCELLED)
    }

    fn hold_order(&self, id: u64) -> bool {
        self.change_order(id, S::hold_in, S::HOLD)
    }

    fn release_order(&self, id: u64) -> bool {
        self.change_order(id, S::release_in, S::HOLD)
    }

    fn tick(&self, elapsed: Duration) {
        let due = S::generator(&mut self.state()).due(elapsed);
        if due > 0 {
            self.create_orders(due);
        }
    }

    fn generator_config(&self) -> GeneratorConfig {
        S::generator(&mut self.state()).config().clone()
    }

    fn set_generator_config(&self, config: GeneratorConfig) {
        S::generator(&mut self.state()).set_config(config);
    }

    fn register_webhook(&self, topic: &str, address: &str) -> Result<Value, String> {
        self.subscribe(topic, address)
    }

    fn lose_fulfilment_answers(&self, n: u32) {
        self.common().lose_fulfilment_answers(n);
    }

    fn channel_order_id(&self, id: u64) -> String {
        S::channel_order_id(id)
    }
}

/// Draws `n` orders (and the generator's later events on earlier ones) at `now` under the lock:
/// their ids, and the webhooks to send once it is released when `announce`.
fn generate<S: PlatformStore>(
    store: &S,
    n: usize,
    now: DateTime<Utc>,
    announce: bool,
) -> (Vec<u64>, Vec<S::Outgoing>) {
    let mut ids = Vec::with_capacity(n);
    let mut state = store.state();
    let mut events: Vec<OrderEvent> = Vec::new();
    for _ in 0..n {
        let new = S::generator(&mut state).next_order();
        if let Some(id) = store.add_order(&mut state, new, now) {
            ids.push(id);
            events.push((S::CREATED, id));
        }
        for event in S::generator(&mut state).later_events() {
            let (pick, change, topics): (u64, OrderChange<S::State>, _) = match event {
                LaterEvent::Update { pick } => (pick, S::update_in, S::UPDATED),
                LaterEvent::Cancel { pick } => (pick, S::cancel_in, S::CANCELLED),
            };
            let Some(id) = S::orders(&state).nth_created(pick) else {
                continue;
            };
            if change(&mut state, id, now) {
                events.extend(topics.iter().map(|t| (*t, id)));
            }
        }
    }
    if !announce {
        events.clear();
    }
    let outgoing = store.outgoing(&state, &events);
    (ids, outgoing)
}
