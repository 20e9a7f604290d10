//! One simulated Shopify shop: its catalogue, inventory, orders and subscriptions behind one mutex,
//! and the order lifecycle (create, pay, cancel) that the generator and the control API drive.
//! Handlers hold the lock only for in-memory work, never across an await.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::grants::{Grants, IssuedToken};
use super::graphql::bucket::CostBucket;
use super::graphql::state::GraphqlState;
use super::model::{
    Customer, FinancialStatus, Fulfillment, FulfillmentHold, LineItem, Location, Order, Product,
    ShopContext, Variant,
};
use super::ratelimit::LeakyBucket;
use super::webhooks::{self, Subscription};
use crate::config::ShopifyStoreConfig;
use crate::faults::lock;
use crate::generator::{NewOrder, OrderGenerator};
use crate::http_util::constant_time_eq;
use crate::money::{parse_cents, percent_of};
use crate::orderbook::OrderBook;
use crate::store::{Common, FulfilledLine, FulfilmentView, OrderEvent, Platform, PlatformStore};
use crate::timefmt;
use crate::webhook_sender::WebhookSender;

const ORDER_ID_BASE: u64 = 5_600_000_000_000;
const LINE_ID_BASE: u64 = 13_500_000_000_000;
const FO_ID_BASE: u64 = 6_400_000_000_000;
const FO_LINE_ID_BASE: u64 = 14_100_000_000_000;
const FULFILLMENT_ID_BASE: u64 = 4_800_000_000_000;
const CUSTOMER_ID_BASE: u64 = 7_200_000_000_000;
const PRODUCT_ID_BASE: u64 = 7_900_000_000_000;
const VARIANT_ID_BASE: u64 = 40_000_000_000_000;
const ITEM_ID_BASE: u64 = 42_000_000_000_000;
const LOCATION_ID_BASE: u64 = 65_000_000_000;

/// Mutable state of a shop.
#[derive(Debug)]
pub struct ShopState {
    pub locations: Vec<Location>,
    pub products: Vec<Product>,
    /// Available quantity by `(inventory_item_id, location_id)`.
    pub inventory: BTreeMap<(u64, u64), i64>,
    pub orders: OrderBook<Order>,
    pub generator: OrderGenerator,
    pub subscriptions: Vec<Subscription>,
    pub started_at: DateTime<Utc>,
    seq: u64,
    line_seq: u64,
    pub(crate) fulfillment_seq: u64,
    pub(crate) webhook_seq: u64,
    /// Adjustment groups and bulk operations of the GraphQL surface.
    pub(crate) graphql: GraphqlState,
}

/// A simulated Shopify shop; cheap to share as `Arc<ShopifyStore>`.
#[derive(Debug)]
pub struct ShopifyStore {
    pub(crate) config: ShopifyStoreConfig,
    pub(crate) ctx: ShopContext,
    pub(crate) shop_id: u64,
    pub(crate) base_url: String,
    state: Mutex<ShopState>,
    pub(crate) bucket: Mutex<LeakyBucket>,
    /// The GraphQL Admin API's cost bucket (separate from the REST leaky bucket).
    pub(crate) cost_bucket: Mutex<CostBucket>,
    pub(crate) common: Common,
    /// Redirect URIs allowed for the app (from the configuration, plus any registered since).
    redirect_uris: Mutex<Vec<String>>,
    grants: Mutex<Grants>,
}

/// A webhook to send once the state lock is released.
pub(crate) struct Outgoing {
    pub topic: &'static str,
    pub address: String,
    pub body: Vec<u8>,
}

impl ShopifyStore {
    /// `prefix` is where the shop is mounted (e.g. `/shopify/acme`); `base_url` its absolute form.
    pub fn new(
        config: ShopifyStoreConfig,
        prefix: &str,
        base_url: String,
        sender: WebhookSender,
    ) -> ShopifyStore {
        let now = timefmt::now();
        let locations: Vec<Location> = config
            .locations
            .iter()
            .enumerate()
            .map(|(i, name)| Location {
                id: LOCATION_ID_BASE + i as u64 * 7919,
                name: name.clone(),
            })
            .collect();
        let locations = if locations.is_empty() {
            vec![Location {
                id: LOCATION_ID_BASE,
                name: "Main warehouse".into(),
            }]
        } else {
            locations
        };
        let mut products = Vec::new();
        let mut inventory = BTreeMap::new();
        let mut variant_n = 0u64;
        for (i, p) in config.catalog.iter().enumerate() {
            let id = PRODUCT_ID_BASE + i as u64 * 1013;
            let mut variants = Vec::new();
            for (pos, v) in p.variants.iter().enumerate() {
                variant_n += 1;
                let item = ITEM_ID_BASE + variant_n * 31;
                for (li, loc) in locations.iter().enumerate() {
                    inventory.insert((item, loc.id), if li == 0 { v.stock } else { 0 });
                }
                variants.push(Variant {
                    id: VARIANT_ID_BASE + variant_n * 37,
                    sku: v.sku.clone(),
                    option: v.option.clone(),
                    price_cents: parse_cents(&v.price).unwrap_or(0),
                    inventory_item_id: item,
                    position: pos + 1,
                });
            }
            products.push(Product {
                id,
                title: p.title.clone(),
                option_name: p.option_name.clone(),
                created_at: now,
                updated_at: now,
                variants,
                details: p.details.clone(),
            });
        }
        let skus = products
            .iter()
            .flat_map(|p| p.variants.iter().map(|v| v.sku.clone()))
            .collect();
        let state = ShopState {
            locations,
            products,
            inventory,
            orders: OrderBook::default(),
            generator: OrderGenerator::new(config.generator.clone(), skus),
            subscriptions: Vec::new(),
            started_at: now,
            seq: 0,
            line_seq: 0,
            fulfillment_seq: 0,
            webhook_seq: 0,
            graphql: GraphqlState::default(),
        };
        ShopifyStore {
            ctx: ShopContext {
                currency: config.currency.clone(),
                offset_minutes: config.utc_offset_minutes,
                domain: format!("{}.myshopify.com", config.name),
            },
            shop_id: 548_380_009 + config.name.len() as u64,
            base_url,
            bucket: Mutex::new(LeakyBucket::new(
                f64::from(config.bucket_capacity),
                config.leak_per_second,
            )),
            cost_bucket: {
                let (maximum, restore_rate) = config.graphql.limits();
                Mutex::new(CostBucket::new(maximum, restore_rate))
            },
            common: Common::new(
                &config.name,
                config.faults.clone(),
                config.generator.seed,
                prefix,
                sender,
            ),
            state: Mutex::new(state),
            redirect_uris: Mutex::new(config.redirect_uris.clone()),
            grants: Mutex::new(Grants::default()),
            config,
        }
    }

    /// The shop's base URL: append `/admin/api/{version}/...`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn access_token(&self) -> &str {
        &self.config.access_token
    }

    /// The app's client secret: it signs webhooks (`X-Shopify-Hmac-Sha256`) and the authorization
    /// redirect's `hmac`, and authenticates the code exchange.
    pub fn app_secret(&self) -> &str {
        &self.config.app_secret
    }

    /// The app's client id (API key), the `client_id` of the authorization code grant.
    pub fn client_id(&self) -> &str {
        &self.config.client_id
    }

    /// Allows one more redirect URI for the app. Once any is registered, the authorize step
    /// refuses every URI not registered.
    pub fn register_redirect_uri(&self, uri: &str) {
        lock(&self.redirect_uris).push(uri.to_owned());
    }

    /// The access tokens the authorization code grant has issued, oldest first; each
    /// authenticates the Admin API as the configured token does.
    pub fn issued_tokens(&self) -> Vec<IssuedToken> {
        lock(&self.grants).tokens().to_vec()
    }

    /// True if `token` opens the Admin API: the configured token or one the code exchange issued.
    pub(crate) fn token_valid(&self, token: &str) -> bool {
        constant_time_eq(token.as_bytes(), self.config.access_token.as_bytes())
            || lock(&self.grants).token_valid(token)
    }

    /// An absolute http(s) URI that is registered, or any such URI when none is.
    pub(crate) fn redirect_uri_allowed(&self, uri: &str) -> bool {
        let absolute = ["http://", "https://"]
            .iter()
            .any(|scheme| uri.len() > scheme.len() && uri.starts_with(scheme));
        let registered = lock(&self.redirect_uris);
        absolute && (registered.is_empty() || registered.iter().any(|r| r == uri))
    }

    pub(crate) fn grants(&self) -> MutexGuard<'_, Grants> {
        lock(&self.grants)
    }

    /// `{name}.myshopify.com`.
    pub fn domain(&self) -> &str {
        &self.ctx.domain
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, ShopState> {
        lock(&self.state)
    }

    /// The current fill of the leaky bucket (what `X-Shopify-Shop-Api-Call-Limit` would show).
    pub fn bucket_level(&self) -> u32 {
        lock(&self.bucket).level_now()
    }

    /// Renders an order as the API does.
    pub fn order_value(&self, order: &Order) -> Value {
        order.to_json(&self.ctx)
    }
}

impl ShopState {
    /// Finds the variant carrying `sku`.
    pub fn variant_by_sku(&self, sku: &str) -> Option<(&Product, &Variant)> {
        self.products
            .iter()
            .find_map(|p| p.variants.iter().find(|v| v.sku == sku).map(|v| (p, v)))
    }

    pub fn primary_location(&self) -> u64 {
        self.locations.first().map_or(LOCATION_ID_BASE, |l| l.id)
    }

    fn adjust(&mut self, item: u64, location: u64, delta: i64) {
        *self.inventory.entry((item, location)).or_insert(0) += delta;
    }

    /// Creates an order from the generator's draw, committing stock as Shopify does at checkout.
    pub fn add_order(&mut self, new: NewOrder, now: DateTime<Utc>) -> Option<u64> {
        let location = self.primary_location();
        let mut lines = Vec::new();
        for l in &new.lines {
            let Some((product, variant)) = self.variant_by_sku(&l.sku) else {
                continue;
            };
            let n = self.line_seq + lines.len() as u64 + 1;
            lines.push(LineItem {
                id: LINE_ID_BASE + n * 7,
                product_id: product.id,
                variant_id: variant.id,
                inventory_item_id: variant.inventory_item_id,
                sku: variant.sku.clone(),
                title: product.title.clone(),
                variant_title: variant.option.clone(),
                quantity: l.quantity,
                price_cents: variant.price_cents,
                fulfilled_quantity: 0,
                fulfillment_order_line_id: FO_LINE_ID_BASE + n * 7,
            });
        }
        if lines.is_empty() {
            return None;
        }
        self.line_seq += lines.len() as u64;
        for l in &lines {
            self.adjust(l.inventory_item_id, location, -i64::from(l.quantity));
        }
        self.seq += 1;
        let id = ORDER_ID_BASE + self.seq * 1_000 + 17;
        let items: i64 = lines
            .iter()
            .map(|l| l.price_cents * i64::from(l.quantity))
            .sum();
        let discount = percent_of(items, new.discount_percent);
        let tax = percent_of(items - discount, new.tax_percent);
        let mut order = Order {
            id,
            order_number: 1000 + self.seq,
            created_at: now,
            updated_at: now,
            cancelled_at: None,
            closed_at: None,
            cancel_reason: None,
            financial_status: if new.paid {
                FinancialStatus::Paid
            } else {
                FinancialStatus::Pending
            },
            line_items: lines,
            shipping_cents: new.shipping_cents,
            discount_cents: discount,
            tax_cents: tax,
            tax_percent: new.tax_percent,
            shipping_address: new.shipping,
            billing_address: new.billing,
            customer: Customer {
                id: CUSTOMER_ID_BASE + self.seq * 11,
                person: new.customer,
                created_at: now,
            },
            tags: new.tags,
            note: new.note,
            fulfillments: Vec::new(),
            fulfillment_order_id: FO_ID_BASE + self.seq * 1_000 + 3,
            location_id: location,
            hold: None,
        };
        if new.fulfilled {
            self.fulfillment_seq += 1;
            let shipped: Vec<(u64, u32)> = order
                .line_items
                .iter()
                .map(|l| (l.id, l.quantity))
                .collect();
            for l in &mut order.line_items {
                l.fulfilled_quantity = l.quantity;
            }
            order.fulfillments.push(Fulfillment {
                id: FULFILLMENT_ID_BASE + self.fulfillment_seq * 13,
                name: format!("{}.1", order.name()),
                location_id: location,
                tracking_company: Some(new.carrier),
                tracking_number: Some(new.tracking_number),
                tracking_url: None,
                lines: shipped,
                created_at: now,
            });
        }
        self.orders.insert(order);
        Some(id)
    }

    /// Pays a pending order, or else records a note edit; both bump `updated_at`.
    pub fn update_order(&mut self, id: u64, now: DateTime<Utc>) -> bool {
        self.orders
            .update(id, |o| {
                if o.cancelled_at.is_some() {
                    return false;
                }
                if o.financial_status == FinancialStatus::Pending {
                    o.financial_status = FinancialStatus::Paid;
                } else {
                    o.note = Some("Customer asked to ship in plain packaging".into());
                }
                o.updated_at = now;
                true
            })
            .unwrap_or(false)
    }

    /// Places a fulfillment hold on the order's fulfillment order, as `fulfillmentOrderHold`
    /// does: only an open or in-progress one can be held, and a held one is refused.
    pub fn hold_order(
        &mut self,
        id: u64,
        hold: FulfillmentHold,
        now: DateTime<Utc>,
    ) -> Result<(), String> {
        self.orders
            .update(id, |o| match o.fulfillment_order_status() {
                "open" | "in_progress" => {
                    o.hold = Some(hold);
                    o.updated_at = now;
                    Ok(())
                }
                status => Err(format!(
                    "The fulfillment order's status is {status}: it cannot be put on hold."
                )),
            })
            .unwrap_or_else(|| Err("Fulfillment order does not exist.".into()))
    }

    /// Releases the order's fulfillment hold, as `fulfillmentOrderReleaseHold` does.
    pub fn release_hold(&mut self, id: u64, now: DateTime<Utc>) -> Result<(), String> {
        self.orders
            .update(id, |o| match o.hold.take() {
                Some(_) => {
                    o.updated_at = now;
                    Ok(())
                }
                None => Err("The fulfillment order is not on hold.".into()),
            })
            .unwrap_or_else(|| Err("Fulfillment order does not exist.".into()))
    }

    /// Cancels and restocks an order nothing of which has shipped.
    pub fn cancel_order(&mut self, id: u64, now: DateTime<Utc>) -> bool {
        let restock = self
            .orders
            .update(id, |o| {
                if o.cancelled_at.is_some() || o.fulfillment_status().is_some() {
                    return None;
                }
                o.cancelled_at = Some(now);
                o.closed_at = Some(now);
                o.cancel_reason = Some("customer".into());
                o.financial_status = match o.financial_status {
                    FinancialStatus::Paid => FinancialStatus::Refunded,
                    _ => FinancialStatus::Voided,
                };
                o.updated_at = now;
                Some((
                    o.location_id,
                    o.line_items
                        .iter()
                        .map(|l| (l.inventory_item_id, i64::from(l.quantity)))
                        .collect::<Vec<_>>(),
                ))
            })
            .flatten();
        match restock {
            Some((location, items)) => {
                for (item, qty) in items {
                    self.adjust(item, location, qty);
                }
                true
            }
            None => false,
        }
    }
}

impl PlatformStore for ShopifyStore {
    type State = ShopState;
    type Order = Order;
    type Outgoing = Outgoing;

    const PLATFORM: Platform = Platform::Shopify;
    const CREATED: &'static str = "orders/create";
    const UPDATED: &'static [&'static str] = &["orders/updated"];
    const CANCELLED: &'static [&'static str] = &["orders/cancelled", "orders/updated"];

    fn common(&self) -> &Common {
        &self.common
    }

    fn state(&self) -> MutexGuard<'_, ShopState> {
        lock(&self.state)
    }

    fn generator(state: &mut ShopState) -> &mut OrderGenerator {
        &mut state.generator
    }

    fn orders(state: &ShopState) -> &OrderBook<Order> {
        &state.orders
    }

    fn render(&self, order: &Order) -> Value {
        order.to_json(&self.ctx)
    }

    fn add_order(&self, state: &mut ShopState, new: NewOrder, now: DateTime<Utc>) -> Option<u64> {
        state.add_order(new, now)
    }

    fn update_in(state: &mut ShopState, id: u64, now: DateTime<Utc>) -> bool {
        state.update_order(id, now)
    }

    fn cancel_in(state: &mut ShopState, id: u64, now: DateTime<Utc>) -> bool {
        state.cancel_order(id, now)
    }

    /// A hold the merchant places in the admin ("Hold fulfillment"), with the reason `OTHER`.
    fn hold_in(state: &mut ShopState, id: u64, now: DateTime<Utc>) -> bool {
        let hold = FulfillmentHold {
            reason: "OTHER".into(),
            reason_notes: Some("Held by the merchant".into()),
        };
        state.hold_order(id, hold, now).is_ok()
    }

    fn release_in(state: &mut ShopState, id: u64, now: DateTime<Utc>) -> bool {
        state.release_hold(id, now).is_ok()
    }

    /// Renders `(topic, order id)` events for the subscribed addresses, under the lock.
    fn outgoing(&self, state: &ShopState, events: &[OrderEvent]) -> Vec<Outgoing> {
        let mut out = Vec::new();
        for (topic, id) in events {
            let subs: Vec<&Subscription> = state
                .subscriptions
                .iter()
                .filter(|s| s.topic == *topic)
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
                    address: sub.address.clone(),
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
            for v in &p.variants {
                let total = state
                    .inventory
                    .range((v.inventory_item_id, 0)..=(v.inventory_item_id, u64::MAX))
                    .map(|(_, q)| *q)
                    .sum();
                out.insert(v.sku.clone(), total);
            }
        }
        out
    }

    fn set_stock_level(&self, sku: &str, quantity: i64) -> bool {
        let mut state = self.state();
        let location = state.primary_location();
        let Some(item) = state.variant_by_sku(sku).map(|(_, v)| v.inventory_item_id) else {
            return false;
        };
        state.inventory.insert((item, location), quantity);
        true
    }

    fn fulfilment_views(&self) -> Vec<FulfilmentView> {
        let state = self.state();
        let mut out = Vec::new();
        for order in state.orders.iter() {
            for f in &order.fulfillments {
                out.push(FulfilmentView {
                    order_id: order.id,
                    order_name: order.name(),
                    fulfilment_id: f.id.to_string(),
                    carrier: f.tracking_company.clone(),
                    tracking_number: f.tracking_number.clone(),
                    tracking_url: f.tracking_url.clone(),
                    lines: f
                        .lines
                        .iter()
                        .filter_map(|(id, qty)| {
                            order
                                .line_items
                                .iter()
                                .find(|l| l.id == *id)
                                .map(|l| FulfilledLine {
                                    sku: l.sku.clone(),
                                    quantity: *qty,
                                })
                        })
                        .collect(),
                    created_at: self.ctx.time(f.created_at),
                });
            }
        }
        out
    }

    fn subscribe(&self, topic: &str, address: &str) -> Result<Value, String> {
        webhooks::register(self, topic, address).map(|sub| sub.to_json(&self.ctx))
    }
}

/// Each order has exactly one fulfillment order whose id is derived from the order's, so no second
/// index is needed to find the order a `fulfillment_order_id` belongs to.
pub(crate) fn order_id_for_fulfillment_order(fulfillment_order_id: u64) -> Option<u64> {
    let rest = fulfillment_order_id.checked_sub(FO_ID_BASE + 3)?;
    (rest % 1_000 == 0).then(|| ORDER_ID_BASE + rest + 17)
}

/// Id of the `n`-th fulfillment of the shop.
pub(crate) fn fulfillment_id(n: u64) -> u64 {
    FULFILLMENT_ID_BASE + n * 13
}
