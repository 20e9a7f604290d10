//! Sales-channel connectors: one trait, [`SalesChannel`], spoken over each platform's real wire
//! protocol (auth, paging, rate-limit headers, 429 with `Retry-After`), mapping the platforms'
//! wire types into switchyard's domain types (the unified order, listings, shipments).
//!
//! A connector is cheap to share: build one per channel and hand out `Arc<dyn SalesChannel>`, so
//! every task working on that channel shares its rate limiter ([`throttle::Throttle`]). Errors say
//! what the queue should do ([`ConnectorError`] converts into [`crate::queue::JobError`]).

pub mod accounting;
pub mod amazon;
mod build;
pub mod ebay;
pub mod error;
pub mod http;
pub mod money;
pub mod shopify;
pub mod throttle;
pub mod transport;
pub mod webhook;
pub mod woocommerce;

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;

use crate::domain::{
    ChannelKind, ChannelOrder, FulfilmentReceipt, FulfilmentRequest, Listing, ListingId,
    OrderCursor, OrderPage,
};

pub use amazon::{AmazonConfig, AmazonConnector};
pub use build::{build, ConnectorCache};
pub use ebay::{EbayConfig, EbayConnector};
pub use error::ConnectorError;
pub use shopify::{ShopifyConfig, ShopifyConnector};
pub use throttle::{Throttle, ThrottleSettings};
pub use woocommerce::{WooConfig, WooConnector};

/// What switchyard needs from a sales channel.
#[async_trait]
pub trait SalesChannel: Send + Sync {
    fn kind(&self) -> ChannelKind;

    /// A cheap authenticated call, made when a channel is created or its credentials change:
    /// `Auth` means the credentials are wrong, anything else that they could not be checked.
    async fn check_credentials(&self) -> Result<(), ConnectorError>;

    /// Checks the settings that name something on the platform (a Shopify channel's location),
    /// made when a channel is created or those settings change.
    async fn check_settings(&self) -> Result<(), ConnectorError> {
        Ok(())
    }

    /// One page of orders changed since the cursor, oldest change first, and where the next page
    /// starts (`None` after the last). See [`OrderCursor`] for the boundary rule.
    async fn list_orders_since(&self, cursor: &OrderCursor) -> Result<OrderPage, ConnectorError>;

    /// [`SalesChannel::list_orders_since`] without the orders the caller already holds as they
    /// are: `known` maps channel order ids to the change time stored for each. A page may then
    /// hold fewer orders than the platform listed (none, with more to come). Platforms that charge
    /// by what a listing reads (Shopify's query cost) list ids and change times first and read
    /// only the others in full; the others list as usual, and the caller's upsert finds the known
    /// ones unchanged.
    async fn list_orders_since_known(
        &self,
        cursor: &OrderCursor,
        known: &HashMap<String, DateTime<Utc>>,
    ) -> Result<OrderPage, ConnectorError> {
        let _ = known;
        self.list_orders_since(cursor).await
    }

    /// Every listing (variant) on the channel, all pages.
    async fn list_products(&self) -> Result<Vec<Listing>, ConnectorError>;

    /// Sets the available quantity of one listing.
    async fn set_stock(&self, listing: &ListingId, quantity: i64) -> Result<(), ConnectorError>;

    /// Sets many listings' quantities in as few calls as the platform allows; the outcome of each,
    /// in order. A failure of a whole call is the outcome of every item in it. Without a batch on
    /// the platform, one call per listing, stopping at the first failure (the rest answer it
    /// too, unsent), so a rate limit is not met again at once; WooCommerce batches 100 products,
    /// or 100 of one product's variations, a call.
    async fn set_stocks(&self, levels: &[(ListingId, i64)]) -> Vec<Result<(), ConnectorError>> {
        let mut outcomes = Vec::with_capacity(levels.len());
        for (listing, quantity) in levels {
            let outcome = self.set_stock(listing, *quantity).await;
            let failed = outcome.is_err();
            outcomes.push(outcome);
            if failed {
                break;
            }
        }
        if let Some(Err(e)) = outcomes.last().cloned() {
            outcomes.resize(levels.len(), Err(e));
        }
        outcomes
    }

    /// Records a shipment (lines, carrier and tracking) on the channel's order.
    async fn create_fulfilment(
        &self,
        request: &FulfilmentRequest,
    ) -> Result<FulfilmentReceipt, ConnectorError>;

    /// The shipment `request` describes if the channel already has it (same tracking number and
    /// lines), so a push whose answer was lost can be adopted rather than sent twice. `None`
    /// means creating it is safe: the channel holds no such shipment, or only part of it.
    async fn find_fulfilment(
        &self,
        request: &FulfilmentRequest,
    ) -> Result<Option<FulfilmentReceipt>, ConnectorError>;

    /// Subscribes the platform's order webhooks (created, updated, cancelled) to
    /// `{address}{topic}`, where `topic` is the platform's own name for it (`orders/create`):
    /// the subscriptions' ids, to remove them with [`SalesChannel::unsubscribe_webhooks`].
    /// Platforms whose webhooks the merchant sets up in their admin subscribe nothing.
    async fn subscribe_order_webhooks(&self, address: &str) -> Result<Vec<String>, ConnectorError> {
        let _ = address;
        Ok(Vec::new())
    }

    /// Removes subscriptions made by [`SalesChannel::subscribe_order_webhooks`]; one the platform
    /// has already dropped counts as removed.
    async fn unsubscribe_webhooks(&self, ids: &[String]) -> Result<(), ConnectorError> {
        let _ = ids;
        Ok(())
    }

    /// The whole order a verified webhook carries, for platforms whose order webhooks send one
    /// (Shopify's `orders/*` topics, WooCommerce's `order.created` and `order.updated`), so it
    /// can be stored without reading it back; `None` for any other webhook, which asks for an
    /// import instead.
    fn order_in_webhook(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Option<Result<ChannelOrder, ConnectorError>> {
        let _ = (headers, body);
        None
    }

    /// True when an inbound webhook carries a valid signature for this channel over `body`, the
    /// raw bytes as received.
    fn verify_webhook(&self, headers: &HeaderMap, body: &[u8]) -> bool;
}

/// Pages through every order changed since `since`, at most `max_pages` pages (a guard against a
/// channel whose paging never ends). For imports that can be interrupted, walk the pages yourself
/// and store the [`OrderCursor::Page`] between them.
pub async fn list_all_orders_since(
    channel: &dyn SalesChannel,
    since: Option<DateTime<Utc>>,
    max_pages: usize,
) -> Result<Vec<ChannelOrder>, ConnectorError> {
    let mut cursor = OrderCursor::Since(since);
    let mut orders = Vec::new();
    for _ in 0..max_pages {
        let page = channel.list_orders_since(&cursor).await?;
        orders.extend(page.orders);
        match page.next {
            Some(next) => cursor = next,
            None => return Ok(orders),
        }
    }
    Err(ConnectorError::Malformed(format!(
        "order listing did not end within {max_pages} pages"
    )))
}
