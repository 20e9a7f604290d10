//! Shopify GraphQL Admin API (2025-07) connector.
//!
//! - Auth: a custom or installed app's Admin API token in `X-Shopify-Access-Token`.
//! - Orders: `orders(query: "updated_at:>='..'", sortKey: UPDATED_AT)`, 10 a page with their
//!   first 10 lines (an order with more reads the rest by itself), then the page's `endCursor`.
//! - Listings: `productVariants`, 100 a page, with each item's level at the channel's location;
//!   a catalogue of more than [`BULK_ABOVE`] variants (by default) is read by a bulk operation (one query run
//!   by Shopify, its JSONL result downloaded), as paging it would cost the bucket for minutes.
//! - Stock: `inventorySetQuantities` of `available` at the channel's location, 250 levels a call.
//! - Fulfilment: the order's open fulfillment orders, then `fulfillmentCreate` naming fulfillment
//!   order lines, with tracking info.
//! - Webhooks: `webhookSubscriptionCreate` for the order topics when a channel is created,
//!   `webhookSubscriptionDelete` when it is deleted; deliveries carry `X-Shopify-Hmac-Sha256`,
//!   base64 HMAC-SHA256 of the raw body with the app secret.
//! - Rate limit: calculated query cost, learnt from every answer's `extensions.cost` (see
//!   [`graphql`]).
//!
//! switchyard keeps Shopify's numeric ids (`legacyResourceId`), which webhooks carry too, and
//! writes global ids (`gid://shopify/Order/1`) only on the wire.

mod bulk;
mod graphql;
pub mod install;
mod mapping;
mod queries;
mod rest;
mod wire;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::OnceCell;

use super::error::ConnectorError;
use super::http;
use super::throttle::{Throttle, ThrottleSettings};
use super::transport::Transport;
use super::{webhook, SalesChannel};
use crate::domain::Secret;
use crate::domain::{
    ChannelKind, ChannelOrder, FulfilmentReceipt, FulfilmentRequest, Listing, ListingId,
    OrderCursor, OrderPage,
};
use crate::outbound::ClientSettings;
use graphql::{gid, legacy_id, user_errors};

pub use mapping::status as map_status;

/// The API version spoken; requests and the fields read are those of this version.
pub const API_VERSION: &str = "2025-07";

/// Catalogues with more variants than this are read by a bulk operation.
pub const BULK_ABOVE: u64 = 2_000;
/// Guard against a cursor chain that never ends.
const MAX_VARIANT_PAGES: usize = 1000;

/// The order topics subscribed for a channel, as GraphQL names them and as the inbound route
/// spells them (the REST topic Shopify sends in `X-Shopify-Topic`).
pub const ORDER_TOPICS: [(&str, &str); 3] = [
    ("ORDERS_CREATE", "orders/create"),
    ("ORDERS_UPDATED", "orders/updated"),
    ("ORDERS_CANCELLED", "orders/cancelled"),
];

/// A Shopify channel's settings.
#[derive(Debug, Clone)]
pub struct ShopifyConfig {
    /// `https://{shop}.myshopify.com`, or any base URL (with a path prefix, as the sandbox serves)
    /// under which `/admin/api/{version}/graphql.json` lives.
    pub base_url: String,
    pub access_token: Secret,
    /// The app's client secret, which signs webhooks.
    pub app_secret: Secret,
    pub api_version: String,
    /// The location (its numeric id) whose stock switchyard reads and sets; `None` is the shop's
    /// primary location.
    pub location_id: Option<u64>,
    /// Whether Shopify emails the customer about a fulfilment.
    pub notify_customer: bool,
    /// Catalogues with more variants than this are downloaded by a bulk operation.
    pub bulk_above: u64,
    /// The guarded client's timeouts, answer cap and allow-list.
    pub http: ClientSettings,
    pub throttle: ThrottleSettings,
}

impl ShopifyConfig {
    pub fn new(
        base_url: impl Into<String>,
        access_token: Secret,
        app_secret: Secret,
    ) -> ShopifyConfig {
        ShopifyConfig {
            base_url: base_url.into(),
            access_token,
            app_secret,
            api_version: API_VERSION.to_string(),
            location_id: None,
            notify_customer: false,
            bulk_above: BULK_ABOVE,
            http: ClientSettings::default(),
            throttle: ThrottleSettings::default(),
        }
    }
}

/// Where an interrupted order walk resumes: the search it ran and the last page's end cursor
/// (a GraphQL cursor is only valid with the query that made it).
#[derive(Debug, Serialize, Deserialize)]
struct PageCursor {
    query: String,
    after: String,
}

/// A connector for one shop.
#[derive(Debug)]
pub struct ShopifyConnector {
    client: graphql::Client,
    app_secret: Secret,
    notify_customer: bool,
    bulk_above: u64,
    configured_location: Option<u64>,
    /// The location's global id, checked or found once.
    location: OnceCell<String>,
}

impl ShopifyConnector {
    /// A connector with its own throttle.
    pub fn new(config: ShopifyConfig) -> Result<ShopifyConnector, ConnectorError> {
        let throttle = Arc::new(Throttle::leaky_bucket(config.throttle.clone()));
        ShopifyConnector::with_throttle(config, throttle)
    }

    /// A connector sharing `throttle` with others on the same shop (each app has one bucket per
    /// shop whatever number of connectors call it).
    pub fn with_throttle(
        config: ShopifyConfig,
        throttle: Arc<Throttle>,
    ) -> Result<ShopifyConnector, ConnectorError> {
        let api_path = format!("admin/api/{}/", config.api_version);
        let api = http::api_root("Shopify", &config.base_url, &api_path)?;
        let endpoint = api
            .join("graphql.json")
            .map_err(|e| ConnectorError::Invalid(format!("Shopify GraphQL endpoint: {e}")))?;
        let token = http::secret_header(config.access_token.expose(), "access token")?;
        let client = http::client(&config.http)?;
        let transport = Transport::new(client, throttle, mapping::error_message);
        Ok(ShopifyConnector {
            client: graphql::Client::new(endpoint, token, transport),
            app_secret: config.app_secret,
            notify_customer: config.notify_customer,
            bulk_above: config.bulk_above,
            configured_location: config.location_id,
            location: OnceCell::new(),
        })
    }

    /// The throttle this connector uses, to share with another connector on the same shop.
    pub fn throttle(&self) -> Arc<Throttle> {
        self.client.transport().throttle().clone()
    }

    /// The global id of the location stock is read and set at: the configured one, checked to
    /// exist and be active, or the shop's primary location; asked once.
    async fn location(&self) -> Result<String, ConnectorError> {
        self.location
            .get_or_try_init(|| async {
                let found: wire::LocationData = match self.configured_location {
                    Some(id) => {
                        let vars = json!({ "id": gid("Location", &id.to_string()) });
                        self.client.run(&queries::LOCATION, vars).await?
                    }
                    None => {
                        self.client
                            .run(&queries::PRIMARY_LOCATION, json!({}))
                            .await?
                    }
                };
                let rejected = |message: String| ConnectorError::Rejected {
                    status: 422,
                    message,
                };
                match (found.location, self.configured_location) {
                    (Some(l), _) if l.is_active => Ok(l.id),
                    (Some(_), Some(id)) => Err(rejected(format!(
                        "the shop's location {id} is not active: choose another in the channel's \
                         settings (location_id)"
                    ))),
                    (None, Some(id)) => Err(rejected(format!(
                        "the shop has no location {id} (the channel's location_id)"
                    ))),
                    (_, None) => Err(rejected(
                        "the shop has no active primary location to hold stock".into(),
                    )),
                }
            })
            .await
            .cloned()
    }

    /// The search and cursor of an order page.
    fn orders_page(cursor: &OrderCursor) -> Result<(String, Option<String>), ConnectorError> {
        match cursor {
            OrderCursor::Page(text) => {
                let page: PageCursor = serde_json::from_str(text).map_err(|_| {
                    ConnectorError::Invalid(
                        "order cursor is not a Shopify GraphQL page cursor".into(),
                    )
                })?;
                Ok((page.query, Some(page.after)))
            }
            OrderCursor::Since(since) => {
                // Shopify's search syntax; `>=` keeps the boundary second (see OrderCursor).
                let query = since.map_or_else(String::new, |t| {
                    format!(
                        "updated_at:>='{}'",
                        t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    )
                });
                Ok((query, None))
            }
        }
    }

    /// The unified orders of `nodes`, each with the lines past its first page read.
    async fn complete(&self, nodes: Vec<wire::Order>) -> Result<Vec<ChannelOrder>, ConnectorError> {
        let mut orders = Vec::with_capacity(nodes.len());
        for order in nodes {
            let rest = self.more_lines(&order).await?;
            orders.push(mapping::order(order, rest)?);
        }
        Ok(orders)
    }

    /// The lines of `order` past its first page.
    async fn more_lines(&self, order: &wire::Order) -> Result<Vec<wire::LineItem>, ConnectorError> {
        let mut lines = Vec::new();
        let mut page = &order.line_items.page_info;
        let mut fetched;
        while page.has_next_page {
            let vars = json!({ "id": order.id, "after": page.end_cursor });
            let data: wire::OrderLinesData = self.client.run(&queries::ORDER_LINES, vars).await?;
            let Some(more) = data.order else {
                return Err(ConnectorError::Malformed(format!(
                    "order {} vanished while its lines were read",
                    order.name
                )));
            };
            fetched = more.line_items;
            lines.append(&mut fetched.nodes);
            page = &fetched.page_info;
        }
        Ok(lines)
    }

    async fn variant_count(&self) -> Result<u64, ConnectorError> {
        let data: wire::VariantsCountData =
            self.client.run(&queries::VARIANTS_COUNT, json!({})).await?;
        Ok(data.product_variants_count.count)
    }

    async fn paged_listings(&self, location: &str) -> Result<Vec<Listing>, ConnectorError> {
        let mut listings = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_VARIANT_PAGES {
            let vars = json!({
                "first": queries::VARIANTS_PER_PAGE,
                "after": after,
                "location": location,
            });
            let data: wire::VariantsData = self.client.run(&queries::VARIANTS, vars).await?;
            let page = data.product_variants;
            for variant in page.nodes {
                listings.push(mapping::listing(variant)?);
            }
            if !page.page_info.has_next_page {
                return Ok(listings);
            }
            after = page.page_info.end_cursor;
        }
        Err(ConnectorError::Malformed(format!(
            "variant listing did not end within {MAX_VARIANT_PAGES} pages"
        )))
    }
}

#[async_trait]
impl SalesChannel for ShopifyConnector {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Shopify
    }

    async fn check_credentials(&self) -> Result<(), ConnectorError> {
        let data: wire::ShopData = self.client.run(&queries::SHOP, json!({})).await?;
        tracing::debug!(shop = %data.shop.name, "Shopify credentials accepted");
        Ok(())
    }

    async fn check_settings(&self) -> Result<(), ConnectorError> {
        if self.configured_location.is_some() {
            self.location().await?;
        }
        Ok(())
    }

    async fn list_orders_since(&self, cursor: &OrderCursor) -> Result<OrderPage, ConnectorError> {
        let (query, after) = Self::orders_page(cursor)?;
        let vars = json!({
            "first": queries::ORDERS_PER_PAGE,
            "after": after,
            "query": (!query.is_empty()).then_some(&query),
        });
        let data: wire::OrdersData = self.client.run(&queries::ORDERS, vars).await?;
        let page = data.orders;
        let orders = self.complete(page.nodes).await?;
        Ok(OrderPage {
            orders,
            next: next_page(query, page.page_info)?,
        })
    }

    async fn list_orders_since_known(
        &self,
        cursor: &OrderCursor,
        known: &HashMap<String, DateTime<Utc>>,
    ) -> Result<OrderPage, ConnectorError> {
        if known.is_empty() {
            return self.list_orders_since(cursor).await;
        }
        let (query, after) = Self::orders_page(cursor)?;
        let vars = json!({
            "first": queries::STAMPS_PER_PAGE,
            "after": after,
            "query": (!query.is_empty()).then_some(&query),
        });
        let data: wire::StampsData = self.client.run(&queries::ORDER_STAMPS, vars).await?;
        let page = data.orders;
        let mut wanted = Vec::new();
        for stamp in &page.nodes {
            let id = legacy_id(&stamp.id)?;
            if known.get(&id) != Some(&stamp.updated_at.with_timezone(&Utc)) {
                wanted.push(stamp.id.clone());
            }
        }
        let mut orders = Vec::with_capacity(wanted.len());
        for ids in wanted.chunks(queries::ORDERS_PER_PAGE as usize) {
            let data: wire::OrderNodesData = self
                .client
                .run(&queries::ORDERS_BY_ID, json!({ "ids": ids }))
                .await?;
            // An order deleted between the two calls is simply not there any more.
            orders.extend(
                self.complete(data.nodes.into_iter().flatten().collect())
                    .await?,
            );
        }
        Ok(OrderPage {
            orders,
            next: next_page(query, page.page_info)?,
        })
    }

    async fn list_products(&self) -> Result<Vec<Listing>, ConnectorError> {
        let location = self.location().await?;
        if self.variant_count().await? > self.bulk_above {
            return bulk::listings(&self.client, &location).await;
        }
        self.paged_listings(&location).await
    }

    async fn set_stock(&self, listing: &ListingId, quantity: i64) -> Result<(), ConnectorError> {
        self.set_stocks(&[(listing.clone(), quantity)])
            .await
            .pop()
            .unwrap_or(Ok(()))
    }

    async fn set_stocks(&self, levels: &[(ListingId, i64)]) -> Vec<Result<(), ConnectorError>> {
        let location = match self.location().await {
            Ok(location) => location,
            Err(e) => return vec![Err(e); levels.len()],
        };
        let mut outcomes = Vec::with_capacity(levels.len());
        for chunk in levels.chunks(queries::QUANTITIES_PER_CALL) {
            let outcome = self.set_chunk(&location, chunk).await;
            let failed = outcome.is_err();
            outcomes.extend(std::iter::repeat_n(outcome, chunk.len()));
            // As one call per listing does: stop at a failure, so a rate limit is not met again.
            if failed {
                break;
            }
        }
        if let Some(Err(e)) = outcomes.last().cloned() {
            outcomes.resize(levels.len(), Err(e));
        }
        outcomes
    }

    async fn create_fulfilment(
        &self,
        request: &FulfilmentRequest,
    ) -> Result<FulfilmentReceipt, ConnectorError> {
        let order = gid(
            "Order",
            &http::parse_id(&request.channel_order_id, "order", "Shopify")?.to_string(),
        );
        let data: wire::FulfillmentOrdersData = self
            .client
            .run(&queries::FULFILLMENT_ORDERS, json!({ "id": order }))
            .await?;
        let Some(found) = data.order else {
            return Err(ConnectorError::Rejected {
                status: 404,
                message: format!("the shop has no order {}", request.channel_order_id),
            });
        };
        let groups = line_items_by_fulfillment_order(&found.fulfillment_orders.nodes, request)?;
        let mut tracking = serde_json::Map::new();
        for (key, value) in [
            ("number", &request.tracking_number),
            ("company", &request.carrier),
            ("url", &request.tracking_url),
        ] {
            if let Some(value) = value {
                tracking.insert(key.into(), json!(value));
            }
        }
        let vars = json!({
            "fulfillment": {
                "lineItemsByFulfillmentOrder": groups,
                "trackingInfo": tracking,
                "notifyCustomer": self.notify_customer,
            }
        });
        let data: wire::FulfillmentCreateData =
            self.client.run(&queries::FULFILLMENT_CREATE, vars).await?;
        let payload = data.fulfillment_create;
        user_errors("create fulfillment", &payload.user_errors)?;
        let created = payload.fulfillment.ok_or_else(|| {
            ConnectorError::Malformed("fulfillmentCreate answered no fulfillment".into())
        })?;
        Ok(FulfilmentReceipt {
            channel_fulfilment_id: legacy_id(&created.id)?,
        })
    }

    async fn find_fulfilment(
        &self,
        request: &FulfilmentRequest,
    ) -> Result<Option<FulfilmentReceipt>, ConnectorError> {
        let order = gid(
            "Order",
            &http::parse_id(&request.channel_order_id, "order", "Shopify")?.to_string(),
        );
        let data: wire::FulfillmentsData = self
            .client
            .run(&queries::FULFILLMENTS, json!({ "id": order }))
            .await?;
        let fulfillments = data.order.map(|o| o.fulfillments).unwrap_or_default();
        matching_fulfillment(&fulfillments, request)
            .map(|id| {
                Ok(FulfilmentReceipt {
                    channel_fulfilment_id: legacy_id(id)?,
                })
            })
            .transpose()
    }

    async fn subscribe_order_webhooks(&self, address: &str) -> Result<Vec<String>, ConnectorError> {
        let mut ids = Vec::new();
        for (topic, path) in ORDER_TOPICS {
            let vars = json!({ "topic": topic, "uri": format!("{address}{path}") });
            let created = self
                .client
                .run::<wire::WebhookCreateData>(&queries::WEBHOOK_CREATE, vars)
                .await
                .and_then(|data| {
                    let payload = data.webhook_subscription_create;
                    user_errors("subscribe to order webhooks", &payload.user_errors)?;
                    payload.webhook_subscription.map(|s| s.id).ok_or_else(|| {
                        ConnectorError::Malformed(
                            "webhookSubscriptionCreate answered no subscription".into(),
                        )
                    })
                });
            match created {
                Ok(id) => ids.push(id),
                Err(e) => {
                    // Half a set of subscriptions is worse than none: take back what was made.
                    let _ = self.unsubscribe_webhooks(&ids).await;
                    return Err(e);
                }
            }
        }
        Ok(ids)
    }

    async fn unsubscribe_webhooks(&self, ids: &[String]) -> Result<(), ConnectorError> {
        for id in ids {
            let data: wire::WebhookDeleteData = self
                .client
                .run(&queries::WEBHOOK_DELETE, json!({ "id": id }))
                .await?;
            let errors = data.webhook_subscription_delete.user_errors;
            // A subscription Shopify already dropped (it removes failing ones) is gone as asked.
            if errors
                .iter()
                .any(|e| !e.message.to_ascii_lowercase().contains("not exist"))
            {
                user_errors("remove order webhooks", &errors)?;
            }
        }
        Ok(())
    }

    fn order_in_webhook(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Option<Result<ChannelOrder, ConnectorError>> {
        let topic = headers.get("x-shopify-topic")?.to_str().ok()?;
        if !rest::ORDER_TOPICS.contains(&topic) {
            return None;
        }
        Some(http::parse_json(body, "webhook order").and_then(rest::order))
    }

    fn verify_webhook(&self, headers: &HeaderMap, body: &[u8]) -> bool {
        webhook::verify_hmac_sha256(
            headers,
            "x-shopify-hmac-sha256",
            self.app_secret.expose().as_bytes(),
            body,
        )
    }
}

impl ShopifyConnector {
    /// One `inventorySetQuantities` of up to 250 levels: all set, or none.
    async fn set_chunk(
        &self,
        location: &str,
        levels: &[(ListingId, i64)],
    ) -> Result<(), ConnectorError> {
        let mut quantities = Vec::with_capacity(levels.len());
        for (listing, quantity) in levels {
            let item = listing.inventory_item_id.as_deref().ok_or_else(|| {
                ConnectorError::Invalid(format!(
                    "Shopify listing {} has no inventory item id",
                    listing.product_id
                ))
            })?;
            let item = http::parse_id(item, "inventory item", "Shopify")?;
            quantities.push(json!({
                "inventoryItemId": gid("InventoryItem", &item.to_string()),
                "locationId": location,
                "quantity": quantity,
            }));
        }
        // switchyard is the source of truth for these levels and re-pushes whenever its own
        // figure changes (a sale on this channel is imported and pushed again), so the level is
        // set outright rather than compared with a figure read beforehand.
        let vars = json!({
            "input": {
                "name": "available",
                "reason": "correction",
                "ignoreCompareQuantity": true,
                "quantities": quantities,
            }
        });
        let data: wire::SetQuantitiesData = self.client.run(&queries::SET_QUANTITIES, vars).await?;
        user_errors("set stock", &data.inventory_set_quantities.user_errors)
    }
}

/// Where the walk goes after a page of the search `query`.
fn next_page(query: String, page: wire::PageInfo) -> Result<Option<OrderCursor>, ConnectorError> {
    match (page.has_next_page, page.end_cursor) {
        (true, Some(after)) => {
            let cursor = serde_json::to_string(&PageCursor { query, after })
                .map_err(|e| ConnectorError::Invalid(format!("order cursor: {e}")))?;
            Ok(Some(OrderCursor::Page(cursor)))
        }
        (true, None) => Err(ConnectorError::Malformed(
            "an orders page with more to come but no end cursor".into(),
        )),
        (false, _) => Ok(None),
    }
}

/// Builds `lineItemsByFulfillmentOrder` from the order's fulfillment orders: every open one
/// whole when no lines are named, else each named order line found in an open fulfillment order
/// with enough left to ship. A line that cannot be shipped is rejected here, before anything is
/// posted, with a message naming it.
fn line_items_by_fulfillment_order(
    fulfillment_orders: &[wire::FulfillmentOrder],
    request: &FulfilmentRequest,
) -> Result<Vec<serde_json::Value>, ConnectorError> {
    let open: Vec<&wire::FulfillmentOrder> = fulfillment_orders
        .iter()
        .filter(|fo| matches!(fo.status.as_str(), "OPEN" | "IN_PROGRESS"))
        .collect();
    let rejected = |message: String| ConnectorError::Rejected {
        status: 422,
        message,
    };
    if open.is_empty() {
        return Err(rejected(format!(
            "order {} has nothing left to fulfil (no open fulfillment order)",
            request.channel_order_id
        )));
    }
    if request.lines.is_empty() {
        return Ok(open
            .iter()
            .map(|fo| json!({ "fulfillmentOrderId": fo.id }))
            .collect());
    }
    let mut groups: BTreeMap<&str, Vec<serde_json::Value>> = BTreeMap::new();
    for wanted in &request.lines {
        let line_id = wanted.channel_line_id.trim();
        let found = open.iter().find_map(|fo| {
            fo.line_items
                .nodes
                .iter()
                .find(|l| {
                    legacy_id(&l.line_item.id).is_ok_and(|id| id == line_id)
                        && l.remaining_quantity >= wanted.quantity
                })
                .map(|l| (fo.id.as_str(), l.id.as_str()))
        });
        let Some((fo_id, fo_line_id)) = found else {
            return Err(rejected(format!(
                "order line {line_id} has fewer than {} left to fulfil",
                wanted.quantity
            )));
        };
        groups
            .entry(fo_id)
            .or_default()
            .push(json!({ "id": fo_line_id, "quantity": wanted.quantity }));
    }
    Ok(groups
        .into_iter()
        .map(|(id, lines)| json!({ "fulfillmentOrderId": id, "fulfillmentOrderLineItems": lines }))
        .collect())
}

/// The id of a live fulfillment of the order that is the shipment `request` describes (see
/// [`FulfilmentRequest::is_recorded_as`]).
fn matching_fulfillment<'a>(
    fulfillments: &'a [wire::Fulfillment],
    request: &FulfilmentRequest,
) -> Option<&'a str> {
    fulfillments
        .iter()
        // Cancelled or failed fulfillments shipped nothing; one of them is no reason to skip.
        .filter(|f| !matches!(f.status.as_str(), "CANCELLED" | "ERROR" | "FAILURE"))
        .find(|f| {
            let number = f.tracking_info.first().and_then(|t| t.number.as_deref());
            let lines: Vec<(String, u32)> = f
                .fulfillment_line_items
                .nodes
                .iter()
                .map(|l| (legacy_id(&l.line_item.id).unwrap_or_default(), l.quantity))
                .collect();
            request.is_recorded_as(number, &lines)
        })
        .map(|f| f.id.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(
        id: u64,
        status: &str,
        number: Option<&str>,
        lines: &[(u64, u32)],
    ) -> wire::Fulfillment {
        wire::Fulfillment {
            id: gid("Fulfillment", &id.to_string()),
            status: status.into(),
            tracking_info: vec![wire::TrackingInfo {
                number: number.map(str::to_owned),
            }],
            fulfillment_line_items: wire::Connection::whole(
                lines
                    .iter()
                    .map(|&(id, quantity)| wire::FulfillmentLineItem {
                        quantity,
                        line_item: wire::NodeId {
                            id: gid("LineItem", &id.to_string()),
                        },
                    })
                    .collect(),
            ),
        }
    }

    #[test]
    fn a_fulfillment_matches_on_tracking_number_and_lines() {
        let on_channel = vec![
            record(1, "SUCCESS", Some("T1"), &[(100, 1)]),
            record(2, "CANCELLED", Some("T2"), &[(100, 1), (101, 2)]),
            record(3, "SUCCESS", Some("T2"), &[(101, 2), (100, 1)]),
            record(4, "SUCCESS", None, &[(102, 1)]),
        ];
        let find = |r: FulfilmentRequest| {
            matching_fulfillment(&on_channel, &r).map(|id| legacy_id(id).expect("a global id"))
        };
        let some = |id: &str| Some(id.to_owned());
        assert_eq!(
            find(FulfilmentRequest::for_test(
                Some("T2"),
                &[("100", 1), ("101", 2)]
            )),
            some("3")
        );
        assert_eq!(
            find(FulfilmentRequest::for_test(Some("T1"), &[("100", 1)])),
            some("1")
        );
        assert_eq!(
            find(FulfilmentRequest::for_test(Some("T1"), &[("100", 2)])),
            None,
            "other quantity"
        );
        assert_eq!(
            find(FulfilmentRequest::for_test(Some("T9"), &[("100", 1)])),
            None,
            "other number"
        );
        assert_eq!(
            find(FulfilmentRequest::for_test(None, &[("102", 1)])),
            some("4")
        );
        assert_eq!(find(FulfilmentRequest::for_test(None, &[("100", 1)])), None);
        assert_eq!(
            find(FulfilmentRequest::for_test(Some("T1"), &[])),
            some("1"),
            "number alone"
        );
        assert_eq!(
            find(FulfilmentRequest::for_test(None, &[])),
            None,
            "nothing to identify it by"
        );
    }
}
