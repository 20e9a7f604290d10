//! One simulated eBay seller: listings (one per SKU, each with its published offer), orders with
//! their shipping fulfillments, and the access tokens issued, behind one mutex. The stock a test
//! reads is what buyers can buy (see [`Listing`]): a sale takes it, a cancellation gives it back.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::config::EbaySellerConfig;
use super::limits::CallWindow;
use super::model::{LineItem, Order, Shipment, Tracking, FIRST_ORDER_ID};
use super::tokens::TokenBook;
use crate::faults::lock;
use crate::generator::{NewOrder, OrderGenerator};
use crate::money::{parse_cents, percent_of};
use crate::orderbook::OrderBook;
use crate::store::{Common, FulfilledLine, FulfilmentView, OrderEvent, Platform, PlatformStore};
use crate::timefmt;
use crate::webhook_sender::WebhookSender;

/// A SKU's inventory item and the fixed-price offer published for it.
///
/// eBay keeps two quantities: the inventory item's total "ship-to-home" quantity and the offer's
/// `availableQuantity` on its marketplace, and a listing offers the smaller of the two. A sale
/// takes from both.
#[derive(Debug, Clone)]
pub struct Listing {
    pub sku: String,
    pub title: String,
    pub image_url: Option<String>,
    pub weight_grams: Option<u32>,
    pub dimensions_cm: Option<[String; 3]>,
    pub price_cents: i64,
    /// The inventory item's `shipToLocationAvailability.quantity`.
    pub quantity: i64,
    /// The offer's `availableQuantity`.
    pub offer_quantity: i64,
    pub sold: i64,
    pub offer_id: String,
    pub listing_id: String,
}

impl Listing {
    /// What buyers can buy: the smaller of the two quantities.
    pub fn available(&self) -> i64 {
        self.quantity.min(self.offer_quantity)
    }

    /// A sale of `n` (negative: a cancellation giving them back).
    fn sell(&mut self, n: i64) {
        self.quantity -= n;
        self.offer_quantity -= n;
        self.sold += n;
    }
}

#[derive(Debug)]
pub struct EbayState {
    pub listings: BTreeMap<String, Listing>,
    pub orders: OrderBook<Order>,
    pub generator: OrderGenerator,
    pub tokens: TokenBook,
    pub window: CallWindow,
    next_id: u64,
    /// The last number given to a shipment without tracking.
    next_fulfillment: u64,
}

/// A simulated eBay seller; share as `Arc<EbayStore>`.
#[derive(Debug)]
pub struct EbayStore {
    pub(crate) config: EbaySellerConfig,
    pub(crate) base_url: String,
    state: Mutex<EbayState>,
    pub(crate) common: Common,
}

impl EbayStore {
    pub fn new(
        config: EbaySellerConfig,
        prefix: &str,
        base_url: String,
        sender: WebhookSender,
    ) -> EbayStore {
        let mut listings = BTreeMap::new();
        let variants = config.catalog.iter().flat_map(|p| {
            p.variants.iter().map(move |v| {
                let title = match &v.option {
                    Some(option) => format!("{} - {option}", p.title),
                    None => p.title.clone(),
                };
                (v, title, &p.details)
            })
        });
        for (i, (variant, title, details)) in variants.enumerate() {
            listings.insert(
                variant.sku.clone(),
                Listing {
                    sku: variant.sku.clone(),
                    title,
                    image_url: details.image_url.clone(),
                    weight_grams: details.weight_grams,
                    dimensions_cm: details.dimensions_cm.clone(),
                    price_cents: parse_cents(&variant.price).unwrap_or(0),
                    quantity: variant.stock,
                    offer_quantity: variant.stock,
                    sold: 0,
                    offer_id: format!("{}", 5_123_000_000u64 + i as u64),
                    listing_id: format!("{}", 110_554_000_000u64 + i as u64),
                },
            );
        }
        let skus = listings.keys().cloned().collect();
        let state = EbayState {
            listings,
            orders: OrderBook::default(),
            generator: OrderGenerator::new(config.generator.clone(), skus),
            tokens: TokenBook::default(),
            window: CallWindow::default(),
            next_id: FIRST_ORDER_ID,
            next_fulfillment: 998,
        };
        EbayStore {
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

    /// The API root: append `/sell/fulfillment/v1/...` or `/identity/v1/oauth2/token`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn client_id(&self) -> &str {
        &self.config.client_id
    }

    pub fn client_secret(&self) -> &str {
        &self.config.client_secret
    }

    pub fn refresh_token(&self) -> &str {
        &self.config.refresh_token
    }

    /// Refunds a paid order in full, as the seller would from Seller Hub: its payment status
    /// becomes `FULLY_REFUNDED`. False for an unknown, unpaid or already refunded order.
    pub fn refund_order(&self, id: u64) -> bool {
        let now = timefmt::now();
        self.state()
            .orders
            .update(id, |o| {
                if o.paid_at.is_none() || o.refunded_at.is_some() {
                    return false;
                }
                o.refunded_at = Some(now);
                o.updated_at = now;
                true
            })
            .unwrap_or(false)
    }

    /// Makes every access token issued so far expire now, as if their two hours had passed.
    pub fn expire_tokens(&self) {
        self.state().tokens.expire_all();
    }

    /// The eBay order id (`12-34567-89012`) of an order's numeric id.
    pub fn order_id(id: u64) -> String {
        super::model::order_id(id)
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, EbayState> {
        lock(&self.state)
    }
}

impl EbayState {
    pub fn add_order(
        &mut self,
        new: NewOrder,
        config: &EbaySellerConfig,
        now: DateTime<Utc>,
    ) -> Option<u64> {
        let id = self.next_id;
        let mut lines = Vec::new();
        for (i, l) in new.lines.iter().enumerate() {
            let Some(listing) = self.listings.get_mut(&l.sku) else {
                continue;
            };
            listing.sell(i64::from(l.quantity));
            let cost = listing.price_cents * i64::from(l.quantity);
            let discount = percent_of(cost, new.discount_percent);
            lines.push(LineItem {
                line_item_id: format!(
                    "{}",
                    10_000_000_000_000u64 + (id % 100_000_000) * 10 + i as u64
                ),
                legacy_item_id: listing.listing_id.clone(),
                sku: l.sku.clone(),
                title: listing.title.clone(),
                quantity: l.quantity,
                unit_cents: listing.price_cents,
                discount_cents: discount,
                tax_cents: percent_of(cost - discount, new.tax_percent),
                shipped: 0,
            });
        }
        if lines.is_empty() {
            return None;
        }
        self.next_id += 1;
        let username = format!(
            "{}_{}{}",
            new.customer.first_name.to_lowercase(),
            new.customer
                .last_name
                .to_lowercase()
                .replace([' ', '\''], ""),
            id % 1000
        );
        let mut order = Order {
            id,
            created_at: now,
            updated_at: now,
            paid_at: new.paid.then_some(now),
            refunded_at: None,
            cancelled_at: None,
            currency: config.currency.clone(),
            marketplace_id: config.marketplace_id.clone(),
            buyer_username: username,
            email: new.customer.email,
            ship_to: new.shipping,
            lines,
            delivery_cents: new.shipping_cents,
            checkout_notes: new.note,
            shipments: Vec::new(),
        };
        if new.fulfilled {
            let lines = order
                .lines
                .iter()
                .map(|l| (l.line_item_id.clone(), l.quantity))
                .collect();
            for line in &mut order.lines {
                line.shipped = line.quantity;
            }
            let tracking = Tracking {
                carrier: new.carrier,
                number: new.tracking_number,
            };
            let shipment = self.shipment(lines, Some(tracking), now);
            order.shipments.push(shipment);
        }
        self.orders.insert(order);
        Some(id)
    }

    /// A new shipment, whose id is its tracking number, or the next arbitrary number without one.
    pub fn shipment(
        &mut self,
        lines: Vec<(String, u32)>,
        tracking: Option<Tracking>,
        shipped_at: DateTime<Utc>,
    ) -> Shipment {
        let fulfillment_id = match &tracking {
            Some(t) => t.number.clone(),
            None => {
                self.next_fulfillment += 1;
                self.next_fulfillment.to_string()
            }
        };
        Shipment {
            fulfillment_id,
            lines,
            tracking,
            shipped_at,
        }
    }
}

/// The generator's update: an unpaid order is paid; otherwise the buyer edits their note.
fn update(state: &mut EbayState, id: u64, now: DateTime<Utc>) -> bool {
    state
        .orders
        .update(id, |o| {
            if o.cancelled_at.is_some() {
                return false;
            }
            if o.paid_at.is_some() {
                o.checkout_notes = Some("Please use plain packaging".into());
            } else {
                o.paid_at = Some(now);
            }
            o.updated_at = now;
            true
        })
        .unwrap_or(false)
}

/// A cancellation, before anything shipped; the quantities go back on sale.
fn cancel(state: &mut EbayState, id: u64, now: DateTime<Utc>) -> bool {
    let lines = state.orders.update(id, |o| {
        if o.cancelled_at.is_some() || o.lines.iter().any(|l| l.shipped > 0) {
            return None;
        }
        o.cancelled_at = Some(now);
        o.updated_at = now;
        Some(
            o.lines
                .iter()
                .map(|l| (l.sku.clone(), i64::from(l.quantity)))
                .collect::<Vec<_>>(),
        )
    });
    let Some(Some(lines)) = lines else {
        return false;
    };
    for (sku, quantity) in lines {
        if let Some(listing) = state.listings.get_mut(&sku) {
            listing.sell(-quantity);
        }
    }
    true
}

impl PlatformStore for EbayStore {
    type State = EbayState;
    type Order = Order;
    type Outgoing = ();

    const PLATFORM: Platform = Platform::Ebay;
    // eBay's Notification API topics; nothing is sent (see `subscribe`).
    const CREATED: &'static str = "ORDER_CREATED";
    const UPDATED: &'static [&'static str] = &["ORDER_UPDATED"];
    const CANCELLED: &'static [&'static str] = &["ORDER_CANCELLED"];

    fn channel_order_id(id: u64) -> String {
        super::model::order_id(id)
    }

    fn common(&self) -> &Common {
        &self.common
    }

    fn state(&self) -> MutexGuard<'_, EbayState> {
        lock(&self.state)
    }

    fn generator(state: &mut EbayState) -> &mut OrderGenerator {
        &mut state.generator
    }

    fn orders(state: &EbayState) -> &OrderBook<Order> {
        &state.orders
    }

    fn render(&self, order: &Order) -> Value {
        order.to_json(&self.base_url, &self.config.name)
    }

    fn add_order(&self, state: &mut EbayState, new: NewOrder, now: DateTime<Utc>) -> Option<u64> {
        state.add_order(new, &self.config, now)
    }

    fn update_in(state: &mut EbayState, id: u64, now: DateTime<Utc>) -> bool {
        update(state, id, now)
    }

    fn cancel_in(state: &mut EbayState, id: u64, now: DateTime<Utc>) -> bool {
        cancel(state, id, now)
    }

    fn outgoing(&self, _state: &EbayState, _events: &[OrderEvent]) -> Vec<()> {
        Vec::new()
    }

    fn dispatch(&self, _outgoing: Vec<()>) {}

    fn stock_levels(&self) -> BTreeMap<String, i64> {
        self.state()
            .listings
            .values()
            .map(|l| (l.sku.clone(), l.available()))
            .collect()
    }

    fn set_stock_level(&self, sku: &str, quantity: i64) -> bool {
        match self.state().listings.get_mut(sku) {
            Some(listing) => {
                listing.quantity = quantity;
                listing.offer_quantity = quantity;
                true
            }
            None => false,
        }
    }

    fn fulfilment_views(&self) -> Vec<FulfilmentView> {
        let state = self.state();
        let mut out = Vec::new();
        for order in state.orders.iter() {
            for s in &order.shipments {
                out.push(FulfilmentView {
                    order_id: order.id,
                    order_name: order.order_id(),
                    fulfilment_id: s.fulfillment_id.clone(),
                    carrier: s.tracking.as_ref().map(|t| t.carrier.clone()),
                    tracking_number: s.tracking.as_ref().map(|t| t.number.clone()),
                    tracking_url: None,
                    lines: s
                        .lines
                        .iter()
                        .filter_map(|(id, qty)| {
                            order.lines.iter().find(|l| l.line_item_id == *id).map(|l| {
                                FulfilledLine {
                                    sku: l.sku.clone(),
                                    quantity: *qty,
                                }
                            })
                        })
                        .collect(),
                    created_at: super::model::timestamp(s.shipped_at),
                });
            }
        }
        out
    }

    /// eBay announces orders through its Notification API, which the sandbox does not simulate.
    fn subscribe(&self, _topic: &str, _address: &str) -> Result<Value, String> {
        Err("eBay order notifications (Notification API) are not simulated".into())
    }
}

/// Today's date in UTC, the day eBay's daily call limits are counted in.
pub fn today() -> String {
    timefmt::now().format("%Y-%m-%d").to_string()
}
