//! Shopify Admin REST (2024-07) connector.
//!
//! - Auth: a custom app's Admin API token in `X-Shopify-Access-Token`.
//! - Orders: `orders.json?status=any&updated_at_min=..&limit=250&order=updated_at asc`, then the
//!   `Link` header's `rel="next"` URL, which Shopify builds to carry the filters itself.
//! - Listings: `products.json` (250 a page, same paging); one listing per variant.
//! - Stock: `inventory_levels/set.json` at one location, learnt once from `locations.json` (the
//!   first active location) unless configured.
//! - Fulfilment: the order's open fulfillment orders, then `fulfillments.json` naming fulfillment
//!   order lines, with `tracking_info`.
//! - Webhooks: `X-Shopify-Hmac-Sha256`, base64 HMAC-SHA256 of the raw body with the app secret.
//! - Rate limit: the leaky bucket of [`Throttle::leaky_bucket`], learnt from
//!   `X-Shopify-Shop-Api-Call-Limit`; 429s as in [`crate::connectors::transport`].

pub mod install;
mod link;
mod mapping;
mod wire;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::Method;

use serde_json::json;
use tokio::sync::OnceCell;
use url::Url;

use super::error::ConnectorError;
use super::http::{self, RawResponse};
use super::throttle::{Throttle, ThrottleSettings};
use super::transport::Transport;
use super::{webhook, SalesChannel};
use crate::domain::Secret;
use crate::domain::{
    ChannelKind, FulfilmentReceipt, FulfilmentRequest, Listing, ListingId, OrderCursor, OrderPage,
};
use crate::outbound::ClientSettings;

pub use mapping::status as map_status;

/// The API version spoken; requests and the fields read are those of this version.
pub const API_VERSION: &str = "2024-07";

const ORDERS_PER_PAGE: &str = "250";
const PRODUCTS_PER_PAGE: &str = "250";
/// Guard against a `Link` chain that never ends.
const MAX_PRODUCT_PAGES: usize = 1000;
/// Shopify's cap on `ids` per `inventory_items.json` call.
const INVENTORY_ITEMS_PER_CALL: usize = 100;

/// A Shopify channel's settings.
#[derive(Debug, Clone)]
pub struct ShopifyConfig {
    /// `https://{shop}.myshopify.com`, or any base URL (with a path prefix, as the sandbox serves)
    /// under which `/admin/api/{version}/...` lives.
    pub base_url: String,
    pub access_token: Secret,
    /// The app's client secret, which signs webhooks.
    pub app_secret: Secret,
    pub api_version: String,
    /// Where stock is set; `None` learns the shop's first active location.
    pub location_id: Option<u64>,
    /// Whether Shopify emails the customer about a fulfilment.
    pub notify_customer: bool,
    /// The guarded client's timeouts, answer cap and allow-list.
    pub http: ClientSettings,
    pub throttle: ThrottleSettings,
}

fn default_version() -> String {
    API_VERSION.to_string()
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
            api_version: default_version(),
            location_id: None,
            notify_customer: false,
            http: ClientSettings::default(),
            throttle: ThrottleSettings::default(),
        }
    }
}

/// A connector for one shop.
#[derive(Debug)]
pub struct ShopifyConnector {
    /// `{base}/admin/api/{version}/`, to which resource paths are joined.
    api: Url,
    token: HeaderValue,
    app_secret: Secret,
    notify_customer: bool,
    location: OnceCell<u64>,
    transport: Transport,
}

impl ShopifyConnector {
    /// A connector with its own throttle.
    pub fn new(config: ShopifyConfig) -> Result<ShopifyConnector, ConnectorError> {
        let throttle = Arc::new(Throttle::leaky_bucket(config.throttle.clone()));
        ShopifyConnector::with_throttle(config, throttle)
    }

    /// A connector sharing `throttle` with others on the same shop (each shop has one bucket
    /// whatever number of connectors call it).
    pub fn with_throttle(
        config: ShopifyConfig,
        throttle: Arc<Throttle>,
    ) -> Result<ShopifyConnector, ConnectorError> {
        let api_path = format!("admin/api/{}/", config.api_version);
        let api = http::api_root("Shopify", &config.base_url, &api_path)?;
        let token = http::secret_header(config.access_token.expose(), "access token")?;
        let client = http::client(&config.http)?;
        let location = OnceCell::new_with(config.location_id);
        Ok(ShopifyConnector {
            api,
            token,
            app_secret: config.app_secret,
            notify_customer: config.notify_customer,
            location,
            transport: Transport::new(client, throttle, mapping::error_message),
        })
    }

    /// The throttle this connector uses, to share with another connector on the same shop.
    pub fn throttle(&self) -> Arc<Throttle> {
        self.transport.throttle().clone()
    }

    /// Customs details live on inventory items, not variants: one `inventory_items.json` call per
    /// 100 listings fills them in.
    async fn add_customs(&self, listings: &mut [Listing]) -> Result<(), ConnectorError> {
        let ids: Vec<&str> = listings
            .iter()
            .filter_map(|l| l.id.inventory_item_id.as_deref())
            .collect();
        let mut items = Vec::new();
        for chunk in ids.chunks(INVENTORY_ITEMS_PER_CALL) {
            let mut url = self.endpoint("inventory_items.json")?;
            url.query_pairs_mut()
                .append_pair("ids", &chunk.join(","))
                .append_pair("limit", &INVENTORY_ITEMS_PER_CALL.to_string());
            let raw = self
                .call("list inventory items", Method::GET, &url, None)
                .await?;
            let envelope: wire::InventoryItemsEnvelope =
                http::parse_json(&raw.body, "inventory items")?;
            items.extend(envelope.inventory_items);
        }
        mapping::with_customs(listings, &items);
        Ok(())
    }

    fn endpoint(&self, path: &str) -> Result<Url, ConnectorError> {
        self.api
            .join(path)
            .map_err(|e| ConnectorError::Invalid(format!("Shopify path {path}: {e}")))
    }

    async fn call(
        &self,
        what: &str,
        method: Method,
        url: &Url,
        body: Option<&serde_json::Value>,
    ) -> Result<RawResponse, ConnectorError> {
        self.transport
            .send_json(what, body, || {
                self.transport
                    .client()
                    .request(method.clone(), url.clone())
                    .header("X-Shopify-Access-Token", self.token.clone())
            })
            .await
    }

    /// The `rel="next"` URL of a listing response, checked to stay on this shop.
    fn next_page(&self, raw: &RawResponse) -> Result<Option<Url>, ConnectorError> {
        let Some(header) = raw.headers.get("link").and_then(|v| v.to_str().ok()) else {
            return Ok(None);
        };
        let Some(next) = link::next_url(header) else {
            return Ok(None);
        };
        let url = Url::parse(next)
            .map_err(|e| ConnectorError::Malformed(format!("Link rel=\"next\" URL: {e}")))?;
        if !link::same_origin(&self.api, &url) {
            return Err(ConnectorError::Malformed(format!(
                "Link rel=\"next\" points to another host ({})",
                url.host_str().unwrap_or("none")
            )));
        }
        Ok(Some(url))
    }

    fn first_orders_page(&self, cursor: &OrderCursor) -> Result<Url, ConnectorError> {
        match cursor {
            OrderCursor::Page(next) => {
                let url = Url::parse(next)
                    .map_err(|e| ConnectorError::Invalid(format!("order cursor: {e}")))?;
                if !link::same_origin(&self.api, &url) {
                    return Err(ConnectorError::Invalid(
                        "order cursor belongs to another shop".into(),
                    ));
                }
                Ok(url)
            }
            OrderCursor::Since(since) => {
                let mut url = self.endpoint("orders.json")?;
                {
                    let mut q = url.query_pairs_mut();
                    q.append_pair("status", "any");
                    if let Some(since) = since {
                        q.append_pair(
                            "updated_at_min",
                            &since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        );
                    }
                    q.append_pair("limit", ORDERS_PER_PAGE);
                    q.append_pair("order", "updated_at asc");
                }
                Ok(url)
            }
        }
    }

    /// The location stock is set at: configured, or the first active one, asked once.
    async fn location(&self) -> Result<u64, ConnectorError> {
        self.location
            .get_or_try_init(|| async {
                let url = self.endpoint("locations.json")?;
                let raw = self.call("list locations", Method::GET, &url, None).await?;
                let envelope: wire::LocationsEnvelope = http::parse_json(&raw.body, "locations")?;
                envelope
                    .locations
                    .iter()
                    .find(|l| l.active)
                    .map(|l| l.id)
                    .ok_or_else(|| ConnectorError::Rejected {
                        status: 200,
                        message: "the shop has no active location to hold stock".into(),
                    })
            })
            .await
            .copied()
    }
}

fn parse_id(text: &str, what: &str) -> Result<u64, ConnectorError> {
    http::parse_id(text, what, "Shopify")
}

#[async_trait]
impl SalesChannel for ShopifyConnector {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Shopify
    }

    async fn check_credentials(&self) -> Result<(), ConnectorError> {
        let url = self.endpoint("shop.json")?;
        let raw = self.call("read shop", Method::GET, &url, None).await?;
        let envelope: wire::ShopEnvelope = http::parse_json(&raw.body, "shop")?;
        tracing::debug!(shop = %envelope.shop.name, "Shopify credentials accepted");
        Ok(())
    }

    async fn list_orders_since(&self, cursor: &OrderCursor) -> Result<OrderPage, ConnectorError> {
        let url = self.first_orders_page(cursor)?;
        let raw = self.call("list orders", Method::GET, &url, None).await?;
        let envelope: wire::OrdersEnvelope = http::parse_json(&raw.body, "orders page")?;
        let orders = envelope
            .orders
            .into_iter()
            .map(mapping::order)
            .collect::<Result<Vec<_>, _>>()?;
        let next = self
            .next_page(&raw)?
            .map(|url| OrderCursor::Page(url.to_string()));
        Ok(OrderPage { orders, next })
    }

    async fn list_products(&self) -> Result<Vec<Listing>, ConnectorError> {
        let mut url = self.endpoint("products.json")?;
        url.query_pairs_mut()
            .append_pair("limit", PRODUCTS_PER_PAGE);
        let mut listings = Vec::new();
        for _ in 0..MAX_PRODUCT_PAGES {
            let raw = self.call("list products", Method::GET, &url, None).await?;
            let envelope: wire::ProductsEnvelope = http::parse_json(&raw.body, "products page")?;
            for product in envelope.products {
                listings.extend(mapping::listings(product)?);
            }
            match self.next_page(&raw)? {
                Some(next) => url = next,
                None => {
                    self.add_customs(&mut listings).await?;
                    return Ok(listings);
                }
            }
        }
        Err(ConnectorError::Malformed(format!(
            "product listing did not end within {MAX_PRODUCT_PAGES} pages"
        )))
    }

    async fn set_stock(&self, listing: &ListingId, quantity: i64) -> Result<(), ConnectorError> {
        let item = listing.inventory_item_id.as_deref().ok_or_else(|| {
            ConnectorError::Invalid(format!(
                "Shopify listing {} has no inventory item id",
                listing.product_id
            ))
        })?;
        let item = parse_id(item, "inventory item")?;
        let location = self.location().await?;
        let url = self.endpoint("inventory_levels/set.json")?;
        let body = json!({
            "location_id": location,
            "inventory_item_id": item,
            "available": quantity,
        });
        self.call("set stock", Method::POST, &url, Some(&body))
            .await
            .map(|_| ())
    }

    async fn create_fulfilment(
        &self,
        request: &FulfilmentRequest,
    ) -> Result<FulfilmentReceipt, ConnectorError> {
        let order_id = parse_id(&request.channel_order_id, "order")?;
        let url = self.endpoint(&format!("orders/{order_id}/fulfillment_orders.json"))?;
        let raw = self
            .call("list fulfillment orders", Method::GET, &url, None)
            .await?;
        let envelope: wire::FulfillmentOrdersEnvelope =
            http::parse_json(&raw.body, "fulfillment orders")?;
        let groups = line_items_by_fulfillment_order(&envelope.fulfillment_orders, request)?;
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
        let body = json!({
            "fulfillment": {
                "line_items_by_fulfillment_order": groups,
                "tracking_info": tracking,
                "notify_customer": self.notify_customer,
            }
        });
        let url = self.endpoint("fulfillments.json")?;
        let raw = self
            .call("create fulfillment", Method::POST, &url, Some(&body))
            .await?;
        let created: wire::FulfillmentEnvelope = http::parse_json(&raw.body, "fulfillment")?;
        Ok(FulfilmentReceipt {
            channel_fulfilment_id: created.fulfillment.id.to_string(),
        })
    }

    async fn find_fulfilment(
        &self,
        request: &FulfilmentRequest,
    ) -> Result<Option<FulfilmentReceipt>, ConnectorError> {
        let order_id = parse_id(&request.channel_order_id, "order")?;
        let mut url = self.endpoint(&format!("orders/{order_id}/fulfillments.json"))?;
        // An order with more shipments than one page holds does not exist in practice.
        url.query_pairs_mut().append_pair("limit", "250");
        let raw = self
            .call("list fulfillments", Method::GET, &url, None)
            .await?;
        let envelope: wire::FulfillmentsEnvelope = http::parse_json(&raw.body, "fulfillments")?;
        Ok(
            matching_fulfillment(&envelope.fulfillments, request).map(|id| FulfilmentReceipt {
                channel_fulfilment_id: id.to_string(),
            }),
        )
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

/// Builds `line_items_by_fulfillment_order` from the order's fulfillment orders: every open one
/// whole when no lines are named, else each named order line found in an open fulfillment order
/// with enough left to ship. A line that cannot be shipped is rejected here, before anything is
/// posted, with a message naming it.
fn line_items_by_fulfillment_order(
    fulfillment_orders: &[wire::FulfillmentOrder],
    request: &FulfilmentRequest,
) -> Result<Vec<serde_json::Value>, ConnectorError> {
    let open: Vec<&wire::FulfillmentOrder> = fulfillment_orders
        .iter()
        .filter(|fo| matches!(fo.status.as_str(), "open" | "in_progress"))
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
            .map(|fo| json!({ "fulfillment_order_id": fo.id }))
            .collect());
    }
    let mut groups: BTreeMap<u64, Vec<serde_json::Value>> = BTreeMap::new();
    for wanted in &request.lines {
        let line_id = parse_id(&wanted.channel_line_id, "order line")?;
        let found = open.iter().find_map(|fo| {
            fo.line_items
                .iter()
                .find(|l| l.line_item_id == line_id && l.fulfillable_quantity >= wanted.quantity)
                .map(|l| (fo.id, l.id))
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
        .map(|(id, lines)| json!({ "fulfillment_order_id": id, "fulfillment_order_line_items": lines }))
        .collect())
}

/// The id of a live fulfillment of the order that is the shipment `request` describes: the same
/// tracking number (or none on both) and the same order lines in the same quantities. With no
/// lines named (ship everything) only a tracking number can identify it.
fn matching_fulfillment(
    fulfillments: &[wire::FulfillmentRecord],
    request: &FulfilmentRequest,
) -> Option<u64> {
    let wanted_number = request
        .tracking_number
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    let mut wanted: Vec<(String, u32)> = request
        .lines
        .iter()
        .map(|l| (l.channel_line_id.trim().to_owned(), l.quantity))
        .collect();
    wanted.sort();
    if wanted.is_empty() && wanted_number.is_none() {
        return None;
    }
    fulfillments
        .iter()
        // Cancelled or failed fulfillments shipped nothing; one of them is no reason to skip.
        .filter(|f| !matches!(f.status.as_str(), "cancelled" | "error" | "failure"))
        .find(|f| {
            let number = f
                .tracking_number
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty());
            if number != wanted_number {
                return false;
            }
            if wanted.is_empty() {
                return true;
            }
            let mut got: Vec<(String, u32)> = f
                .line_items
                .iter()
                .map(|l| (l.id.to_string(), l.quantity))
                .collect();
            got.sort();
            got == wanted
        })
        .map(|f| f.id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::FulfilmentLine;

    fn record(
        id: u64,
        status: &str,
        number: Option<&str>,
        lines: &[(u64, u32)],
    ) -> wire::FulfillmentRecord {
        wire::FulfillmentRecord {
            id,
            status: status.into(),
            tracking_number: number.map(str::to_owned),
            line_items: lines
                .iter()
                .map(|&(id, quantity)| wire::FulfilledLineItem { id, quantity })
                .collect(),
        }
    }

    fn request(number: Option<&str>, lines: &[(&str, u32)]) -> FulfilmentRequest {
        FulfilmentRequest {
            channel_order_id: "1".into(),
            lines: lines
                .iter()
                .map(|&(id, quantity)| FulfilmentLine {
                    channel_line_id: id.into(),
                    quantity,
                })
                .collect(),
            carrier: None,
            tracking_number: number.map(str::to_owned),
            tracking_url: None,
        }
    }

    #[test]
    fn a_fulfillment_matches_on_tracking_number_and_lines() {
        let on_channel = vec![
            record(1, "success", Some("T1"), &[(100, 1)]),
            record(2, "cancelled", Some("T2"), &[(100, 1), (101, 2)]),
            record(3, "success", Some("T2"), &[(101, 2), (100, 1)]),
            record(4, "success", None, &[(102, 1)]),
        ];
        let find = |r: FulfilmentRequest| matching_fulfillment(&on_channel, &r);
        assert_eq!(
            find(request(Some("T2"), &[("100", 1), ("101", 2)])),
            Some(3)
        );
        assert_eq!(find(request(Some("T1"), &[("100", 1)])), Some(1));
        assert_eq!(
            find(request(Some("T1"), &[("100", 2)])),
            None,
            "other quantity"
        );
        assert_eq!(
            find(request(Some("T9"), &[("100", 1)])),
            None,
            "other number"
        );
        assert_eq!(find(request(None, &[("102", 1)])), Some(4));
        assert_eq!(find(request(None, &[("100", 1)])), None);
        assert_eq!(find(request(Some("T1"), &[])), Some(1), "number alone");
        assert_eq!(find(request(None, &[])), None, "nothing to identify it by");
    }
}
