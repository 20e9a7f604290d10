//! Amazon Selling Partner API connector: Orders v0 and Listings Items 2021-08-01.
//!
//! - Auth: Login with Amazon's refresh-token grant at `POST /auth/o2/token`, the access token in
//!   `x-amz-access-token`, traded again before it expires and once after a 403 ([`lwa`], [`api`]).
//!   Requests are not signed: SP-API dropped AWS Signature Version 4 in 2023.
//! - Orders: `GET /orders/v0/orders?MarketplaceIds=..&LastUpdatedAfter=..&MaxResultsPerPage=..`,
//!   then `NextToken` (which carries the whole query), and each order's
//!   `GET /orders/v0/orders/{id}/orderItems`, with a `NextToken` of its own.
//! - Listings: `GET /listings/2021-08-01/items/{sellerId}?marketplaceIds=..&includedData=..
//!   &sortBy=sku&sortOrder=ASC&pageSize=20`, then `pageToken`; a listing is addressed by its SKU.
//! - Stock: `PATCH /listings/2021-08-01/items/{sellerId}/{sku}` replacing the
//!   `fulfillment_availability` attribute's `DEFAULT` (seller-fulfilled) quantity, one SKU a call.
//! - Fulfilment: `POST /orders/v0/orders/{id}/shipmentConfirmation` with one package (see
//!   [`shipment`]).
//! - Webhooks: none; Amazon's notifications go through Amazon SQS, not HTTP callbacks.
//! - Rate limits: a token bucket per operation, seeded from the published usage plans and
//!   corrected by every answer's `x-amzn-RateLimit-Limit` ([`plans`]); a 429 (which carries no
//!   `Retry-After`) waits for the operation's bucket to restore a call.
//!
//! Orders Amazon fulfils (FBA, `FulfillmentChannel: AFN`) are imported as shipped: the seller
//! has nothing to do for them, and filters keep them out of work ([`mapping::status`]).

mod api;
mod lwa;
mod mapping;
mod plans;
mod shipment;
mod wire;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;
use url::Url;

use super::error::ConnectorError;
use super::http;
use super::throttle::{Throttle, ThrottleSettings};
use super::SalesChannel;
use crate::domain::{
    AmazonCredentials, ChannelKind, FulfilmentReceipt, FulfilmentRequest, Listing, ListingId,
    OrderCursor, OrderPage,
};
use crate::outbound::ClientSettings;
use api::SpApi;
use lwa::{Grant, Lwa};

pub use mapping::status as map_status;
pub use plans::{Operation, UsagePlan, UsagePlans};

/// Login with Amazon, whose token endpoint (`/auth/o2/token`) serves every SP-API region.
pub const LWA_BASE_URL: &str = "https://api.amazon.com";

/// Where a listing starts when a channel has no checkpoint yet: before any Amazon order.
const FIRST_ORDER: &str = "1995-01-01T00:00:00Z";
/// Listings a `searchListingsItems` page holds at most.
const LISTINGS_PER_PAGE: u32 = 20;
/// Guard against a chain of pages that never ends.
const MAX_PAGES: usize = 10_000;

/// An Amazon channel's settings.
#[derive(Debug, Clone)]
pub struct AmazonConfig {
    /// The SP-API endpoint of the seller's region (`https://sellingpartnerapi-eu.amazon.com`), or
    /// any base URL under which the same paths live (the sandbox's seller).
    pub base_url: String,
    /// Where Login with Amazon's `/auth/o2/token` lives: [`LWA_BASE_URL`] for Amazon's own
    /// endpoints, else `base_url` (a simulator serves both).
    pub lwa_base_url: String,
    pub credentials: AmazonCredentials,
    /// Orders a `getOrders` page asks for (1 to 100). Every order on a page costs a
    /// `getOrderItems` call, whose plan restores one call every 2 s against one page a minute,
    /// so 30 balances the two.
    pub orders_per_page: u32,
    /// Leave out the orders Amazon fulfils (FBA): the channel's `skip_fba_orders`.
    pub skip_fba: bool,
    pub usage_plans: UsagePlans,
    /// The guarded client's timeouts, answer cap and allow-list.
    pub http: ClientSettings,
    /// How long a call may wait for its operation's bucket, and how many 429s it absorbs.
    pub throttle: ThrottleSettings,
}

impl AmazonConfig {
    pub fn new(base_url: impl Into<String>, credentials: AmazonCredentials) -> AmazonConfig {
        let base_url = base_url.into();
        AmazonConfig {
            lwa_base_url: lwa_base_url(&base_url),
            base_url,
            credentials,
            orders_per_page: 30,
            skip_fba: false,
            usage_plans: UsagePlans::default(),
            http: ClientSettings::default(),
            throttle: ThrottleSettings::default(),
        }
    }
}

/// Login with Amazon for Amazon's own SP-API hosts (`sellingpartnerapi-eu.amazon.com` and their
/// sandboxes); `base_url` itself for anything else, where a simulator serves both.
fn lwa_base_url(base_url: &str) -> String {
    let amazons = Url::parse(base_url).ok().is_some_and(|url| {
        url.host_str()
            .is_some_and(|host| host.ends_with(".amazon.com") && host.contains("sellingpartnerapi"))
    });
    match amazons {
        true => LWA_BASE_URL.to_owned(),
        false => base_url.to_owned(),
    }
}

/// Where an interrupted order walk resumes: Amazon's `NextToken`, which carries the query.
#[derive(Debug, Serialize, Deserialize)]
struct PageToken {
    next_token: String,
}

/// A connector for one seller in one marketplace.
#[derive(Debug)]
pub struct AmazonConnector {
    api: SpApi,
    seller_id: String,
    marketplace_id: String,
    orders_per_page: u32,
    /// Lists only the seller's own orders, not those Amazon fulfils (FBA).
    skip_fba: bool,
}

impl AmazonConnector {
    pub fn new(config: AmazonConfig) -> Result<AmazonConnector, ConnectorError> {
        let root = http::api_root("Amazon", &config.base_url, "")?;
        let token_url = http::api_root("Login with Amazon", &config.lwa_base_url, "auth/o2/token")?;
        let client = http::client(&config.http)?;
        let c = config.credentials;
        let lwa = Lwa::new(
            token_url,
            Grant {
                client_id: c.client_id,
                client_secret: c.client_secret,
                refresh_token: c.refresh_token,
            },
            client.clone(),
        );
        Ok(AmazonConnector {
            api: SpApi::new(root, lwa, client, &config.usage_plans, &config.throttle),
            seller_id: c.seller_id,
            marketplace_id: c.marketplace_id,
            orders_per_page: config.orders_per_page.clamp(1, 100),
            skip_fba: config.skip_fba,
        })
    }

    /// The throttle of one operation, to watch what it learnt.
    pub fn throttle(&self, op: Operation) -> &Arc<Throttle> {
        self.api.throttle(op)
    }

    /// One `getOrders` page: the first of a walk from `cursor`'s time, or the next of one.
    async fn orders(&self, cursor: &OrderCursor) -> Result<wire::OrdersList, ConnectorError> {
        let marketplace = self.marketplace_id.as_str();
        let path = ["orders", "v0", "orders"];
        let url = match cursor {
            OrderCursor::Since(since) => {
                let after = since.map_or_else(|| FIRST_ORDER.to_owned(), whole_seconds);
                let per_page = self.orders_per_page.to_string();
                let mut query = vec![
                    ("MarketplaceIds", marketplace),
                    ("LastUpdatedAfter", after.as_str()),
                    ("MaxResultsPerPage", per_page.as_str()),
                ];
                if self.skip_fba {
                    query.push(("FulfillmentChannels", "MFN"));
                }
                self.api.url(&path, &query)
            }
            OrderCursor::Page(text) => {
                let page: PageToken = serde_json::from_str(text).map_err(|_| {
                    ConnectorError::Invalid("order cursor is not an Amazon page cursor".into())
                })?;
                self.api.url(
                    &path,
                    &[
                        ("MarketplaceIds", marketplace),
                        ("NextToken", &page.next_token),
                    ],
                )
            }
        };
        self.api.payload(Operation::GetOrders, &url).await
    }

    /// Every item of an order, all pages.
    async fn order_items(&self, order_id: &str) -> Result<Vec<wire::OrderItem>, ConnectorError> {
        let path = ["orders", "v0", "orders", order_id, "orderItems"];
        let mut items = Vec::new();
        let mut next: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let url = match &next {
                Some(token) => self.api.url(&path, &[("NextToken", token)]),
                None => self.api.url(&path, &[]),
            };
            let page: wire::OrderItemsList =
                self.api.payload(Operation::GetOrderItems, &url).await?;
            items.extend(page.order_items);
            match page.next_token.filter(|t| !t.is_empty()) {
                Some(token) => next = Some(token),
                None => return Ok(items),
            }
        }
        Err(ConnectorError::Malformed(format!(
            "order {order_id}'s items did not end within {MAX_PAGES} pages"
        )))
    }

    /// A page of orders without those `known` holds as they are, whose items are not read.
    async fn orders_page(
        &self,
        cursor: &OrderCursor,
        known: &HashMap<String, DateTime<Utc>>,
    ) -> Result<OrderPage, ConnectorError> {
        let mut list = self.orders(cursor).await?;
        list.orders.sort_by_key(|o| o.last_update_date);
        let mut orders = Vec::with_capacity(list.orders.len());
        for order in list.orders {
            let changed = order.last_update_date.with_timezone(&Utc);
            if known.get(&order.amazon_order_id) == Some(&changed) {
                continue;
            }
            let items = self.order_items(&order.amazon_order_id).await?;
            orders.push(mapping::order(order, &items, &self.marketplace_id)?);
        }
        let next = match list.next_token.filter(|t| !t.is_empty()) {
            Some(next_token) => {
                let text = serde_json::to_string(&PageToken { next_token })
                    .map_err(|e| ConnectorError::Invalid(format!("order cursor: {e}")))?;
                Some(OrderCursor::Page(text))
            }
            None => None,
        };
        Ok(OrderPage { orders, next })
    }

    /// The Listings Items path of the seller, or of one of its SKUs.
    fn listings_url(&self, sku: Option<&str>, query: &[(&str, &str)]) -> Url {
        let mut path = vec!["listings", "2021-08-01", "items", self.seller_id.as_str()];
        path.extend(sku);
        let mut all = vec![("marketplaceIds", self.marketplace_id.as_str())];
        all.extend_from_slice(query);
        self.api.url(&path, &all)
    }

    /// One `searchListingsItems` page, of `size` listings.
    async fn listings_page(
        &self,
        size: u32,
        token: Option<&str>,
    ) -> Result<wire::ItemSearchResults, ConnectorError> {
        let size = size.to_string();
        let mut query = vec![
            ("includedData", "summaries,offers,fulfillmentAvailability"),
            // By SKU, which a stock change does not move, so pages do not shift under a walk.
            ("sortBy", "sku"),
            ("sortOrder", "ASC"),
            ("pageSize", size.as_str()),
        ];
        query.extend(token.map(|t| ("pageToken", t)));
        let url = self.listings_url(None, &query);
        self.api
            .read(Operation::SearchListingsItems, Method::GET, &url, None)
            .await
    }
}

/// A time as `getOrders` takes it, down to the second: Amazon's times are whole seconds, so the
/// bound stays inclusive of the cursor's second.
fn whole_seconds(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A patch's issues that stop it, as one rejection naming the SKU.
fn refused_patch(sku: &str, answer: &wire::SubmissionResponse) -> Option<ConnectorError> {
    let errors: Vec<String> = answer
        .issues
        .iter()
        .filter(|i| i.severity == "ERROR")
        .map(|i| match i.attribute_names.is_empty() {
            true => format!("{} [{}]", i.message, i.code),
            false => format!(
                "{}: {} [{}]",
                i.attribute_names.join(", "),
                i.message,
                i.code
            ),
        })
        .collect();
    if answer.status != "INVALID" && errors.is_empty() {
        return None;
    }
    let said = match errors.is_empty() {
        true => "no issue given".to_owned(),
        false => errors.join("; "),
    };
    Some(ConnectorError::Rejected {
        status: 400,
        message: format!("Amazon refused the stock of SKU {sku}: {said}"),
    })
}

#[async_trait]
impl SalesChannel for AmazonConnector {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Amazon
    }

    /// The token exchange, then one listing of the seller's (which checks the seller id and the
    /// marketplace) and one order page of the last hour (which checks the Orders role): the
    /// cheapest calls of each API the connector needs.
    async fn check_credentials(&self) -> Result<(), ConnectorError> {
        self.listings_page(1, None).await?;
        let hour_ago = Utc::now() - chrono::Duration::hours(1);
        let url = self.api.url(
            &["orders", "v0", "orders"],
            &[
                ("MarketplaceIds", self.marketplace_id.as_str()),
                ("LastUpdatedAfter", &whole_seconds(hour_ago)),
                ("MaxResultsPerPage", "1"),
            ],
        );
        let _: wire::OrdersList = self.api.payload(Operation::GetOrders, &url).await?;
        Ok(())
    }

    async fn list_orders_since(&self, cursor: &OrderCursor) -> Result<OrderPage, ConnectorError> {
        self.orders_page(cursor, &HashMap::new()).await
    }

    /// Orders held as they are keep their `getOrderItems` call, the scarcer of the two.
    async fn list_orders_since_known(
        &self,
        cursor: &OrderCursor,
        known: &HashMap<String, DateTime<Utc>>,
    ) -> Result<OrderPage, ConnectorError> {
        self.orders_page(cursor, known).await
    }

    async fn list_products(&self) -> Result<Vec<Listing>, ConnectorError> {
        let mut listings = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let page = self
                .listings_page(LISTINGS_PER_PAGE, token.as_deref())
                .await?;
            for item in page.items {
                listings.push(mapping::listing(item, &self.marketplace_id)?);
            }
            match page
                .pagination
                .and_then(|p| p.next_token)
                .filter(|t| !t.is_empty())
            {
                Some(next) => token = Some(next),
                None => return Ok(listings),
            }
        }
        Err(ConnectorError::Malformed(format!(
            "listings did not end within {MAX_PAGES} pages"
        )))
    }

    /// Replaces the seller-fulfilled (`DEFAULT`) quantity of the listing whose SKU is
    /// `listing.product_id`. `PRODUCT` stands for the listing's product type, as Amazon accepts
    /// for a patch of offer attributes alone.
    async fn set_stock(&self, listing: &ListingId, quantity: i64) -> Result<(), ConnectorError> {
        let sku = listing.product_id.as_str();
        if sku.trim().is_empty() {
            return Err(ConnectorError::Invalid(
                "an Amazon listing is addressed by its SKU, and this one has none".into(),
            ));
        }
        let body = json!({
            "productType": "PRODUCT",
            "patches": [{
                "op": "replace",
                "path": "/attributes/fulfillment_availability",
                "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": quantity.max(0)}],
            }],
        });
        let url = self.listings_url(Some(sku), &[("includedData", "issues")]);
        let answer: wire::SubmissionResponse = self
            .api
            .read(
                Operation::PatchListingsItem,
                Method::PATCH,
                &url,
                Some(&body),
            )
            .await?;
        match refused_patch(sku, &answer) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    async fn create_fulfilment(
        &self,
        request: &FulfilmentRequest,
    ) -> Result<FulfilmentReceipt, ConnectorError> {
        let label = shipment::labelled(request)?;
        let order_id = request.channel_order_id.trim();
        let items = match request.lines.is_empty() {
            true => self.order_items(order_id).await?,
            false => Vec::new(),
        };
        let contents = shipment::contents(request, &items)?;
        let body = shipment::confirmation(&self.marketplace_id, &label, &contents, Utc::now());
        let url = self.api.url(
            &["orders", "v0", "orders", order_id, "shipmentConfirmation"],
            &[],
        );
        self.api
            .call(Operation::ConfirmShipment, Method::POST, &url, Some(&body))
            .await?;
        Ok(FulfilmentReceipt {
            channel_fulfilment_id: shipment::package_reference(label.tracking_number),
        })
    }

    async fn find_fulfilment(
        &self,
        request: &FulfilmentRequest,
    ) -> Result<Option<FulfilmentReceipt>, ConnectorError> {
        let Ok(label) = shipment::labelled(request) else {
            return Ok(None);
        };
        let items = self.order_items(request.channel_order_id.trim()).await?;
        Ok(
            shipment::already_confirmed(request, &items).then(|| FulfilmentReceipt {
                channel_fulfilment_id: shipment::package_reference(label.tracking_number),
            }),
        )
    }

    /// Amazon sends no webhooks: its notifications are delivered through Amazon SQS.
    fn verify_webhook(&self, _headers: &HeaderMap, _body: &[u8]) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amazons_endpoints_get_tokens_from_amazon_and_others_from_themselves() {
        assert_eq!(
            lwa_base_url("https://sellingpartnerapi-eu.amazon.com"),
            LWA_BASE_URL
        );
        assert_eq!(
            lwa_base_url("https://sandbox.sellingpartnerapi-na.amazon.com/"),
            LWA_BASE_URL
        );
        for other in [
            "http://127.0.0.1:9/amazon/demo/",
            "https://sellingpartnerapi.amazon.com.evil.example",
        ] {
            assert_eq!(lwa_base_url(other), other);
        }
    }

    #[test]
    fn a_since_bound_keeps_its_whole_second() {
        let at = DateTime::from_timestamp(1_719_842_400, 999_000_000).unwrap_or_default();
        assert_eq!(whole_seconds(at), "2024-07-01T14:00:00Z");
    }

    #[test]
    fn an_invalid_patch_is_refused_naming_the_sku_and_attribute() {
        let answer: wire::SubmissionResponse = serde_json::from_value(json!({
            "sku": "WB-1", "status": "INVALID", "submissionId": "1",
            "issues": [
                {"code": "90000900", "message": "Just a warning", "severity": "WARNING", "categories": []},
                {"code": "4000001", "message": "The value of 'quantity' must be 0 or more.",
                 "severity": "ERROR", "attributeNames": ["fulfillment_availability"], "categories": []}
            ]
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let err = refused_patch("WB-1", &answer);
        assert_eq!(
            err,
            Some(ConnectorError::Rejected {
                status: 400,
                message: "Amazon refused the stock of SKU WB-1: fulfillment_availability: The \
                          value of 'quantity' must be 0 or more. [4000001]"
                    .into()
            })
        );
        let accepted: wire::SubmissionResponse = serde_json::from_value(
            json!({"sku": "WB-1", "status": "ACCEPTED", "submissionId": "2", "issues": []}),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(refused_patch("WB-1", &accepted), None);
    }
}
