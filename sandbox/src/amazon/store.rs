//! One simulated Amazon seller account: listings, orders and shipments behind one mutex, with
//! Amazon's stock rule for the seller's own (MFN) stock: an order takes it when placed, pending
//! or not, and gives it back when cancelled. FBA (AFN) orders ship from Amazon's warehouses and
//! leave it alone.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

use super::config::AmazonSellerConfig;
use super::limits::RateLimits;
use super::lwa::Tokens;
use super::model::{Channel, Listing, Order, OrderItem, Shipment, ShippedLine, Status};
use crate::config::hex_of;
use crate::faults::lock;
use crate::generator::{NewOrder, OrderGenerator};
use crate::money::{parse_cents, percent_of};
use crate::orderbook::OrderBook;
use crate::store::{Common, FulfilledLine, FulfilmentView, OrderEvent, Platform, PlatformStore};
use crate::timefmt;
use crate::webhook_sender::WebhookSender;

/// The internal number of the first order: `202-3159896-1390916`.
const FIRST_ORDER_NUMBER: u64 = 31_598_961_390_916;

#[derive(Debug)]
pub struct AmazonState {
    pub listings: Vec<Listing>,
    pub orders: OrderBook<Order>,
    pub generator: OrderGenerator,
    pub shipments: Vec<Shipment>,
    /// Draws what the neutral generator does not: AFN or MFN, Prime or not.
    rng: StdRng,
    next_id: u64,
}

/// A simulated seller account; share as `Arc<AmazonSeller>`.
#[derive(Debug)]
pub struct AmazonSeller {
    pub(crate) config: AmazonSellerConfig,
    pub(crate) base_url: String,
    /// Where the seller is mounted (`/amazon/{name}`), stripped from route templates.
    pub(crate) prefix: String,
    state: Mutex<AmazonState>,
    pub(crate) tokens: Tokens,
    pub(crate) limits: RateLimits,
    pub(crate) common: Common,
}

/// Why a shipment confirmation was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShipmentRefusal {
    NoSuchOrder,
    /// Pending, cancelled or already shipped.
    NotShippable(Status),
    NoSuchItem(String),
    /// More than is left to ship of an item.
    TooMany {
        order_item_id: String,
        left: u32,
    },
}

impl AmazonSeller {
    pub fn new(
        config: AmazonSellerConfig,
        prefix: &str,
        base_url: String,
        sender: WebhookSender,
    ) -> AmazonSeller {
        let now = timefmt::now();
        let listings = config
            .catalog
            .iter()
            .flat_map(|p| {
                p.variants.iter().map(|v| Listing {
                    sku: v.sku.clone(),
                    asin: format!("B0{}", hex_of(&format!("asin/{}", v.sku), 8).to_uppercase()),
                    item_name: match &v.option {
                        Some(option) => format!("{} ({option})", p.title),
                        None => p.title.clone(),
                    },
                    product_type: "PRODUCT".into(),
                    price_cents: parse_cents(&v.price).unwrap_or(0),
                    quantity: v.stock,
                    image_url: p.details.image_url.clone(),
                    created: now,
                    updated: now,
                })
            })
            .collect::<Vec<_>>();
        let skus = listings.iter().map(|l| l.sku.clone()).collect();
        let seed = config.generator.seed;
        let state = AmazonState {
            listings,
            orders: OrderBook::default(),
            generator: OrderGenerator::new(config.generator.clone(), skus),
            shipments: Vec::new(),
            rng: StdRng::seed_from_u64(seed ^ 0xa3a2_0f0b),
            next_id: FIRST_ORDER_NUMBER,
        };
        AmazonSeller {
            common: Common::new(&config.name, config.faults.clone(), seed, prefix, sender),
            tokens: Tokens::new(config.access_token_lifetime_secs),
            limits: RateLimits::new(&config.rate_limits),
            state: Mutex::new(state),
            base_url,
            prefix: prefix.to_owned(),
            config,
        }
    }

    /// Where SP-API paths (`/orders/v0/...`) and the LWA token endpoint (`/auth/o2/token`) start.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn seller_id(&self) -> &str {
        &self.config.seller_id
    }

    pub fn marketplace_id(&self) -> &str {
        &self.config.marketplace_id
    }

    pub fn lwa_client_id(&self) -> &str {
        &self.config.lwa_client_id
    }

    pub fn lwa_client_secret(&self) -> &str {
        &self.config.lwa_client_secret
    }

    pub fn refresh_token(&self) -> &str {
        &self.config.refresh_token
    }

    /// Makes every access token issued so far expired, as an hour's wait would.
    pub fn expire_access_tokens(&self) {
        self.tokens.expire_all();
    }

    /// An order's items as `getOrderItems` renders them, every page together.
    pub fn order_items_json(&self, id: u64) -> Option<Vec<Value>> {
        self.state().orders.get(id).map(Order::items_json)
    }

    /// The order's `AmazonOrderId` for an internal id as [`crate::SimStore`] reports them.
    pub fn amazon_order_id(&self, id: u64) -> String {
        super::model::amazon_order_id(id)
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, AmazonState> {
        lock(&self.state)
    }
}

impl AmazonState {
    fn listing_mut(&mut self, sku: &str) -> Option<&mut Listing> {
        self.listings.iter_mut().find(|l| l.sku == sku)
    }

    /// Moves `quantity` of a SKU's stock by `delta`.
    fn adjust(&mut self, sku: &str, delta: i64, now: DateTime<Utc>) {
        if let Some(listing) = self.listing_mut(sku) {
            listing.quantity += delta;
            listing.updated = now;
        }
    }

    /// Sets a SKU's quantity, as a listings patch or a merchant does; false for an unknown SKU.
    pub fn set_quantity(&mut self, sku: &str, quantity: i64, now: DateTime<Utc>) -> bool {
        match self.listing_mut(sku) {
            Some(listing) => {
                listing.quantity = quantity;
                listing.updated = now;
                true
            }
            None => false,
        }
    }

    fn add_order(
        &mut self,
        config: &AmazonSellerConfig,
        new: NewOrder,
        now: DateTime<Utc>,
    ) -> Option<u64> {
        let id = self.next_id;
        let channel = match self.rng.random_bool(config.afn_ratio.clamp(0.0, 1.0)) {
            true => Channel::Afn,
            false => Channel::Mfn,
        };
        let is_prime = channel == Channel::Afn || self.rng.random_bool(0.1);
        let mut items = Vec::new();
        let line_count = new.lines.len().max(1) as i64;
        for (i, line) in new.lines.iter().enumerate() {
            let Some(listing) = self.listings.iter().find(|l| l.sku == line.sku) else {
                continue;
            };
            let gross = listing.price_cents * i64::from(line.quantity);
            let promotion = percent_of(gross, new.discount_percent);
            // The order's shipping charge is spread over its items, as Amazon reports it per item.
            let shipping = new.shipping_cents / line_count;
            items.push(OrderItem {
                order_item_id: format!("{:014}", (id % 1_000_000_000_000) * 100 + i as u64 + 1),
                asin: listing.asin.clone(),
                sku: listing.sku.clone(),
                title: listing.item_name.clone(),
                quantity_ordered: line.quantity,
                quantity_shipped: 0,
                price_cents: gross,
                tax_cents: percent_of(gross - promotion, new.tax_percent),
                shipping_cents: shipping,
                shipping_tax_cents: percent_of(shipping, new.tax_percent),
                promotion_cents: promotion,
            });
        }
        if items.is_empty() {
            return None;
        }
        self.next_id += 1;
        let status = match (channel, new.paid, new.fulfilled) {
            (Channel::Afn, _, _) | (Channel::Mfn, true, true) => Status::Shipped,
            (Channel::Mfn, false, _) => Status::Pending,
            (Channel::Mfn, true, false) => Status::Unshipped,
        };
        if status == Status::Shipped {
            for item in &mut items {
                item.quantity_shipped = item.quantity_ordered;
            }
        }
        let order = Order {
            id,
            status,
            channel,
            purchase_date: now,
            last_update: now,
            marketplace_id: config.marketplace_id.clone(),
            currency: config.currency.clone(),
            buyer_email: format!(
                "{}@marketplace.amazon.co.uk",
                hex_of(&new.customer.email, 16)
            ),
            shipping: new.shipping,
            is_prime,
            items,
        };
        if order.holds_stock() {
            for item in &order.items {
                self.adjust(&item.sku, -i64::from(item.quantity_ordered), now);
            }
        }
        // An order the merchant shipped outside this API still has its package on record.
        if channel == Channel::Mfn && status == Status::Shipped {
            self.shipments.push(Shipment {
                order_id: id,
                package_reference_id: "1".into(),
                carrier_code: new.carrier.clone(),
                carrier_name: Some(new.carrier),
                tracking_number: new.tracking_number,
                ship_date: super::model::iso(now),
                lines: order
                    .items
                    .iter()
                    .map(|i| ShippedLine {
                        order_item_id: i.order_item_id.clone(),
                        sku: i.sku.clone(),
                        quantity: i.quantity_ordered,
                    })
                    .collect(),
            });
        }
        self.orders.insert(order);
        Some(id)
    }

    /// Confirms a package of an MFN order: ships `(orderItemId, quantity)` pairs, moves the order
    /// to Shipped or PartiallyShipped and records the package. A package the order already has
    /// under the same reference is edited: what it shipped is taken back before the new
    /// quantities are checked and shipped, so confirming it twice ships nothing twice. Nothing
    /// changes if any line fails.
    pub fn confirm_shipment(
        &mut self,
        id: u64,
        mut shipment: Shipment,
        lines: &[(String, u32)],
        now: DateTime<Utc>,
    ) -> Result<(), ShipmentRefusal> {
        let order = self.orders.get(id).ok_or(ShipmentRefusal::NoSuchOrder)?;
        let edited = self.shipments.iter().position(|s| {
            s.order_id == id && s.package_reference_id == shipment.package_reference_id
        });
        let shippable = match edited {
            Some(_) => matches!(
                order.status,
                Status::Unshipped | Status::PartiallyShipped | Status::Shipped
            ),
            None => matches!(order.status, Status::Unshipped | Status::PartiallyShipped),
        };
        if order.channel == Channel::Afn || !shippable {
            return Err(ShipmentRefusal::NotShippable(order.status));
        }
        let mut before: BTreeMap<String, u32> = BTreeMap::new();
        for line in edited.iter().flat_map(|i| &self.shipments[*i].lines) {
            *before.entry(line.order_item_id.clone()).or_default() += line.quantity;
        }
        let mut wanted: BTreeMap<String, u32> = BTreeMap::new();
        for (item_id, quantity) in lines {
            *wanted.entry(item_id.clone()).or_default() += quantity;
        }
        let taken_back = |item_id: &str| before.get(item_id).copied().unwrap_or(0);
        for (item_id, quantity) in &wanted {
            let item = order
                .items
                .iter()
                .find(|i| i.order_item_id == *item_id)
                .ok_or_else(|| ShipmentRefusal::NoSuchItem(item_id.clone()))?;
            let shipped = item.quantity_shipped.saturating_sub(taken_back(item_id));
            let left = item.quantity_ordered.saturating_sub(shipped);
            if *quantity > left {
                return Err(ShipmentRefusal::TooMany {
                    order_item_id: item_id.clone(),
                    left,
                });
            }
        }
        shipment.lines = order
            .items
            .iter()
            .filter_map(|i| {
                Some(ShippedLine {
                    order_item_id: i.order_item_id.clone(),
                    sku: i.sku.clone(),
                    quantity: *wanted.get(&i.order_item_id)?,
                })
            })
            .collect();
        self.orders.update(id, |o| {
            for item in &mut o.items {
                let id = item.order_item_id.as_str();
                item.quantity_shipped = item.quantity_shipped.saturating_sub(taken_back(id))
                    + wanted.get(id).copied().unwrap_or(0);
            }
            let all = o
                .items
                .iter()
                .all(|i| i.quantity_shipped >= i.quantity_ordered);
            let any = o.items.iter().any(|i| i.quantity_shipped > 0);
            o.status = match (all, any) {
                (true, _) => Status::Shipped,
                (false, true) => Status::PartiallyShipped,
                (false, false) => Status::Unshipped,
            };
            o.last_update = now;
        });
        match edited {
            Some(i) => self.shipments[i] = shipment,
            None => self.shipments.push(shipment),
        }
        Ok(())
    }
}

impl PlatformStore for AmazonSeller {
    type State = AmazonState;
    type Order = Order;
    /// Nothing: SP-API notifications go through Amazon SQS, which this sandbox does not simulate.
    type Outgoing = ();

    const PLATFORM: Platform = Platform::Amazon;
    /// The SP-API notification type that would announce each change.
    const CREATED: &'static str = "ORDER_CHANGE";
    const UPDATED: &'static [&'static str] = &["ORDER_CHANGE"];
    const CANCELLED: &'static [&'static str] = &["ORDER_CHANGE"];

    fn channel_order_id(id: u64) -> String {
        super::model::amazon_order_id(id)
    }

    fn common(&self) -> &Common {
        &self.common
    }

    fn state(&self) -> MutexGuard<'_, AmazonState> {
        lock(&self.state)
    }

    fn generator(state: &mut AmazonState) -> &mut OrderGenerator {
        &mut state.generator
    }

    fn orders(state: &AmazonState) -> &OrderBook<Order> {
        &state.orders
    }

    fn render(&self, order: &Order) -> Value {
        order.to_json()
    }

    fn add_order(&self, state: &mut AmazonState, new: NewOrder, now: DateTime<Utc>) -> Option<u64> {
        state.add_order(&self.config, new, now)
    }

    /// Payment clears on a pending order; nothing else about an order changes by itself.
    fn update_in(state: &mut AmazonState, id: u64, now: DateTime<Utc>) -> bool {
        state
            .orders
            .update(id, |o| {
                let pending = o.status == Status::Pending;
                if pending {
                    o.status = Status::Unshipped;
                    o.last_update = now;
                }
                pending
            })
            .unwrap_or(false)
    }

    fn cancel_in(state: &mut AmazonState, id: u64, now: DateTime<Utc>) -> bool {
        let Some(order) = state.orders.get(id) else {
            return false;
        };
        if !matches!(order.status, Status::Pending | Status::Unshipped) {
            return false;
        }
        let restock: Vec<(String, i64)> = match order.holds_stock() {
            true => order
                .items
                .iter()
                .map(|i| (i.sku.clone(), i64::from(i.quantity_ordered)))
                .collect(),
            false => Vec::new(),
        };
        for (sku, quantity) in restock {
            state.adjust(&sku, quantity, now);
        }
        state.orders.update(id, |o| {
            o.status = Status::Canceled;
            o.last_update = now;
        });
        true
    }

    fn outgoing(&self, _state: &AmazonState, _events: &[OrderEvent]) -> Vec<()> {
        Vec::new()
    }

    fn dispatch(&self, _outgoing: Vec<()>) {}

    fn stock_levels(&self) -> BTreeMap<String, i64> {
        self.state()
            .listings
            .iter()
            .map(|l| (l.sku.clone(), l.quantity))
            .collect()
    }

    fn set_stock_level(&self, sku: &str, quantity: i64) -> bool {
        self.state().set_quantity(sku, quantity, timefmt::now())
    }

    fn fulfilment_views(&self) -> Vec<FulfilmentView> {
        self.state()
            .shipments
            .iter()
            .map(|s| FulfilmentView {
                order_id: s.order_id,
                order_name: super::model::amazon_order_id(s.order_id),
                fulfilment_id: s.package_reference_id.clone(),
                carrier: Some(
                    s.carrier_name
                        .clone()
                        .unwrap_or_else(|| s.carrier_code.clone()),
                ),
                tracking_number: Some(s.tracking_number.clone()),
                tracking_url: None,
                lines: s
                    .lines
                    .iter()
                    .map(|line| FulfilledLine {
                        sku: line.sku.clone(),
                        quantity: line.quantity,
                    })
                    .collect(),
                created_at: s.ship_date.clone(),
            })
            .collect()
    }

    fn subscribe(&self, _topic: &str, _address: &str) -> Result<Value, String> {
        Err(
            "Amazon has no order webhooks: SP-API notifications are delivered through Amazon SQS, \
             which this sandbox does not simulate"
                .into(),
        )
    }
}
