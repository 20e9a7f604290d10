//! eBay Sell APIs connector: the Fulfillment API v1 for orders and shipments, the Inventory API
//! v1 for listings and stock.
//!
//! - Auth: the seller's OAuth refresh token buys a two-hour user access token (HTTP Basic with
//!   the app's keyset), kept and shared by every call and bought again before it runs out, or
//!   once when eBay answers 401 (the call is then sent once more) ([`token`]).
//! - Orders: `GET sell/fulfillment/v1/order?filter=lastmodifieddate:[{since}..]&limit=200
//!   &offset=N`. The bound is inclusive (eBay: "on or after"), to the millisecond; the answer's
//!   `next` says whether a page follows. Without a bound eBay lists by creation, oldest first.
//! - Listings: `GET sell/inventory/v1/inventory_item?limit=100`, following each page's `next`
//!   link (eBay's `offset` there counts pages, not items), then each SKU's offers
//!   (`GET sell/inventory/v1/offer?sku=`): a published fixed-price offer gives the listing's
//!   price and the id its stock is set on.
//! - Stock: `POST sell/inventory/v1/bulk_update_price_quantity`, 25 SKUs a call. eBay keeps the
//!   inventory item's total (`shipToLocationAvailability.quantity`) and the offer's
//!   `availableQuantity` apart and a listing sells the smaller, so each SKU sets both. The call
//!   answers 207 when some SKUs failed; each SKU's own status code is its outcome.
//! - Fulfilment: `POST sell/fulfillment/v1/order/{orderId}/shipping_fulfillment` naming line
//!   items and quantities, with `shippingCarrierCode` and `trackingNumber` (eBay takes them
//!   together, the number in letters and digits only; eBay keeps no tracking link); the new
//!   fulfillment's id (its tracking number) is the last segment of the answer's `Location`. `GET .../shipping_fulfillment` finds
//!   one already recorded, so a push whose answer was lost is adopted, not sent twice.
//! - Rate limits: eBay counts calls per API per day and refuses bursts with 429 (error 2001)
//!   without publishing a per-second figure, and its answers carry no rate headers, so each API
//!   has its own throttle paced from config; a 429 is waited out by [`Transport`].
//! - Errors: `{"errors": [{errorId, category, message, longMessage}]}`. eBay sends `REQUEST` and
//!   `BUSINESS` errors with 4xx statuses (permanent) and `APPLICATION` errors, its own failures,
//!   with 5xx (transient), so a call's status decides; inside a bulk answer an `APPLICATION`
//!   error is retryable whatever status the item carries.
//! - Webhooks: eBay announces orders through its Notification API, which switchyard does not
//!   subscribe to: orders arrive by polling and no inbound webhook verifies.
//!
//! A [`ListingId`] here is the SKU (`product_id`, the Inventory API's key) and the offer id
//! (`variant_id`), if the SKU has a published offer. No call used takes a marketplace (orders
//! of every marketplace are listed, offers are addressed by id), so a channel needs no
//! marketplace setting.
//!
//! Offset paging shifts when an order changes mid-walk (it moves to the end, and the one after
//! its old place slides onto a page already read); as with WooCommerce, the import checkpoints no
//! later than the time its walk started, so such an order is read on the next run.

mod mapping;
mod token;
mod wire;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, LOCATION};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use url::Url;

use super::error::ConnectorError;
use super::http::{self, RawResponse};
use super::throttle::{Throttle, ThrottleSettings};
use super::transport::Transport;
use super::SalesChannel;
use crate::domain::{
    ChannelKind, FulfilmentReceipt, FulfilmentRequest, Listing, ListingId, OrderCursor, OrderPage,
    Secret,
};
use crate::outbound::ClientSettings;
use token::UserToken;

/// eBay's largest `getOrders` page.
const ORDERS_PER_PAGE: usize = 200;
/// A `getInventoryItems` page size every version of the Inventory API accepts.
const ITEMS_PER_PAGE: usize = 100;
/// eBay's cap on the SKUs of one `bulkUpdatePriceQuantity` call.
const SKUS_PER_STOCK_CALL: usize = 25;
/// Guard against a listing whose pages never end.
const MAX_PAGES: usize = 10_000;

const FULFILLMENT_API: [&str; 3] = ["sell", "fulfillment", "v1"];
const INVENTORY_API: [&str; 3] = ["sell", "inventory", "v1"];

/// An eBay channel's settings.
#[derive(Debug, Clone)]
pub struct EbayConfig {
    /// `https://api.ebay.com`, or any base URL under which `/sell/...` and
    /// `/identity/v1/oauth2/token` live (as the sandbox serves them).
    pub base_url: String,
    /// The app's App ID.
    pub client_id: Secret,
    /// The app's Cert ID.
    pub client_secret: Secret,
    /// The seller's refresh token for the app.
    pub refresh_token: Secret,
    /// The guarded client's timeouts, answer cap and allow-list.
    pub http: ClientSettings,
    /// Paces Fulfillment API calls (orders, shipments).
    pub fulfillment_throttle: ThrottleSettings,
    /// Paces Inventory API calls (listings, stock).
    pub inventory_throttle: ThrottleSettings,
}

impl EbayConfig {
    pub fn new(
        base_url: impl Into<String>,
        client_id: Secret,
        client_secret: Secret,
        refresh_token: Secret,
    ) -> EbayConfig {
        EbayConfig {
            base_url: base_url.into(),
            client_id,
            client_secret,
            refresh_token,
            http: ClientSettings::default(),
            fulfillment_throttle: paced(1.0),
            inventory_throttle: paced(10.0),
        }
    }
}

/// Bursts of five calls, then `per_second`, which is ample for a seller since orders are read
/// 200 a page and stock is set 25 SKUs a call. eBay's allowances are calls per API per day, per
/// app (its Analytics API reports them): a steady day at the defaults is at most 86,400
/// Fulfillment and 864,000 Inventory calls, and an app allowed fewer must be paced slower.
fn paced(per_second: f64) -> ThrottleSettings {
    ThrottleSettings {
        leak_per_second: per_second,
        assumed_capacity: 5,
        ..ThrottleSettings::default()
    }
}

/// Where a walk through the orders is: the bound it started from and the orders already passed.
#[derive(Debug, Serialize, Deserialize)]
struct PageToken {
    since: Option<DateTime<Utc>>,
    offset: usize,
}

/// A connector for one seller.
#[derive(Debug)]
pub struct EbayConnector {
    /// The base URL with a trailing slash.
    root: Url,
    token: UserToken,
    fulfillment: Transport,
    inventory: Transport,
}

impl EbayConnector {
    pub fn new(config: EbayConfig) -> Result<EbayConnector, ConnectorError> {
        let root = http::api_root("eBay", &config.base_url, "")?;
        let client = http::client(&config.http)?;
        let token_endpoint = root
            .join("identity/v1/oauth2/token")
            .map_err(|e| ConnectorError::Invalid(format!("eBay token endpoint: {e}")))?;
        let token = UserToken::new(
            client.clone(),
            token_endpoint,
            &config.client_id,
            &config.client_secret,
            config.refresh_token,
        )?;
        let transport = |settings: ThrottleSettings| {
            let throttle = Arc::new(Throttle::leaky_bucket(settings));
            Transport::new(client.clone(), throttle, mapping::error_message)
        };
        Ok(EbayConnector {
            fulfillment: transport(config.fulfillment_throttle),
            inventory: transport(config.inventory_throttle),
            root,
            token,
        })
    }

    /// The address of `api` + `path` (segments, each percent-encoded), with `query`.
    fn url(
        &self,
        api: [&str; 3],
        path: &[&str],
        query: &[(&str, String)],
    ) -> Result<Url, ConnectorError> {
        let mut url = self.root.clone();
        url.path_segments_mut()
            .map_err(|()| ConnectorError::Invalid("eBay base URL cannot take a path".into()))?
            .pop_if_empty()
            .extend(api)
            .extend(path);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    /// Sends a call to one of the APIs with the user access token; when eBay refuses the token
    /// (401), buys another and sends the call once more.
    async fn call(
        &self,
        api: &Transport,
        what: &str,
        method: Method,
        url: &Url,
        body: Option<&Value>,
    ) -> Result<RawResponse, ConnectorError> {
        // The token must outlive the call's wait for its turn in the throttle.
        let turn = || api.throttle().wait_for(1.0);
        let bearer = self.token.bearer(turn()).await?;
        match self
            .send(api, what, &method, url, body, bearer.clone())
            .await
        {
            Err(ConnectorError::Auth { status: 401, .. }) => {
                tracing::info!(call = what, "eBay refused the access token; buying another");
                self.token.refused(&bearer).await;
                let bearer = self.token.bearer(turn()).await?;
                self.send(api, what, &method, url, body, bearer).await
            }
            other => other,
        }
    }

    async fn send(
        &self,
        api: &Transport,
        what: &str,
        method: &Method,
        url: &Url,
        body: Option<&Value>,
        bearer: HeaderValue,
    ) -> Result<RawResponse, ConnectorError> {
        api.send_json(what, body, || {
            api.client()
                .request(method.clone(), url.clone())
                .header(AUTHORIZATION, bearer.clone())
        })
        .await
    }

    fn orders_url(&self, token: &PageToken) -> Result<Url, ConnectorError> {
        let mut query = Vec::new();
        if let Some(since) = token.since {
            // Milliseconds cut down, never rounded up, so the bound stays inclusive.
            let from = since.format("%Y-%m-%dT%H:%M:%S%.3fZ");
            query.push(("filter", format!("lastmodifieddate:[{from}..]")));
        }
        query.push(("limit", ORDERS_PER_PAGE.to_string()));
        query.push(("offset", token.offset.to_string()));
        self.url(FULFILLMENT_API, &["order"], &query)
    }

    /// The shipping fulfillments the order has.
    async fn fulfillments(&self, order_id: &str) -> Result<Vec<wire::Fulfillment>, ConnectorError> {
        let url = self.url(
            FULFILLMENT_API,
            &["order", order_id, "shipping_fulfillment"],
            &[],
        )?;
        let raw = self
            .call(
                &self.fulfillment,
                "list shipping fulfillments",
                Method::GET,
                &url,
                None,
            )
            .await?;
        let list: wire::Fulfillments = http::parse_json(&raw.body, "shipping fulfillments")?;
        Ok(list.fulfillments)
    }

    /// Each line of the order with what is left to ship of it: the order's quantities less
    /// what its fulfillments shipped.
    async fn unshipped_lines(&self, order_id: &str) -> Result<Vec<(String, u32)>, ConnectorError> {
        let url = self.url(FULFILLMENT_API, &["order", order_id], &[])?;
        let raw = self
            .call(&self.fulfillment, "read order", Method::GET, &url, None)
            .await?;
        let order: wire::OrderLines = http::parse_json(&raw.body, "order")?;
        let mut shipped: HashMap<String, u32> = HashMap::new();
        for f in self.fulfillments(order_id).await? {
            for l in f.line_items {
                *shipped.entry(l.line_item_id).or_default() += l.quantity;
            }
        }
        Ok(order
            .line_items
            .into_iter()
            .filter_map(|l| {
                let left = l
                    .quantity
                    .saturating_sub(shipped.get(&l.line_item_id).copied().unwrap_or(0));
                (left > 0).then_some((l.line_item_id, left))
            })
            .collect())
    }

    /// The SKU's published fixed-price offer, if it has one (a SKU eBay has no offer for
    /// answers 404).
    async fn published_offer(&self, sku: &str) -> Result<Option<wire::Offer>, ConnectorError> {
        let url = self.url(INVENTORY_API, &["offer"], &[("sku", sku.to_owned())])?;
        let raw = match self
            .call(&self.inventory, "list offers", Method::GET, &url, None)
            .await
        {
            Err(ConnectorError::Rejected { status: 404, .. }) => return Ok(None),
            other => other?,
        };
        let offers: wire::Offers = http::parse_json(&raw.body, "offers")?;
        Ok(offers.offers.into_iter().find(|o| {
            o.status.as_deref() == Some("PUBLISHED") && o.format.as_deref() != Some("AUCTION")
        }))
    }

    /// The address of the next page, which eBay gives whole: followed only while it stays
    /// under the API this connector calls, since the access token goes with it.
    fn next_page(&self, current: &Url, next: &str) -> Result<Url, ConnectorError> {
        let url = current.join(next).map_err(|e| {
            ConnectorError::Malformed(format!("inventory items page: next link: {e}"))
        })?;
        let api = self.url(INVENTORY_API, &[], &[])?;
        if url.origin() == api.origin() && url.path().starts_with(api.path()) {
            Ok(url)
        } else {
            Err(ConnectorError::Malformed(format!(
                "inventory items page: next link {url} leaves {api}"
            )))
        }
    }

    /// One `bulkUpdatePriceQuantity` of `levels` (distinct SKUs): each level's outcome, or the
    /// failure of the whole call.
    async fn stock_call(
        &self,
        levels: &[(&ListingId, i64)],
    ) -> Result<Vec<Result<(), ConnectorError>>, ConnectorError> {
        let requests: Vec<Value> = levels
            .iter()
            .map(|(listing, quantity)| {
                let mut request = json!({
                    "sku": listing.product_id.trim(),
                    "shipToLocationAvailability": { "quantity": quantity },
                });
                if let Some(offer) = listing.variant_id.as_deref() {
                    request["offers"] =
                        json!([{ "offerId": offer, "availableQuantity": quantity }]);
                }
                request
            })
            .collect();
        let url = self.url(INVENTORY_API, &["bulk_update_price_quantity"], &[])?;
        let body = json!({ "requests": requests });
        let raw = self
            .call(
                &self.inventory,
                "set stock",
                Method::POST,
                &url,
                Some(&body),
            )
            .await?;
        let answer: wire::BulkPriceQuantityResponse =
            http::parse_json(&raw.body, "stock update answer")?;
        Ok(levels
            .iter()
            .map(|(listing, _)| {
                let sku = listing.product_id.trim();
                let mut answers = answer
                    .responses
                    .iter()
                    .filter(|r| r.sku.as_deref().map(str::trim) == Some(sku))
                    .peekable();
                if answers.peek().is_none() {
                    return Err(ConnectorError::Malformed(format!(
                        "stock update answer: nothing about SKU {sku}"
                    )));
                }
                answers.try_for_each(mapping::item_outcome)
            })
            .collect())
    }
}

/// An order id as a path segment; eBay's ids are never blank.
fn order_id(request: &FulfilmentRequest) -> Result<&str, ConnectorError> {
    let id = request.channel_order_id.trim();
    if id.is_empty() {
        return Err(ConnectorError::Invalid(
            "the fulfilment names no eBay order".into(),
        ));
    }
    Ok(id)
}

/// A tracking number as eBay takes it: letters and digits only (it refuses spaces and hyphens,
/// even where the carrier's label prints them).
fn wire_tracking_number(number: &str) -> String {
    number.chars().filter(char::is_ascii_alphanumeric).collect()
}

/// The carrier and tracking number to send: both or neither, as eBay takes them. A carrier
/// without a number is not sent; a number without a carrier cannot be.
fn tracking(request: &FulfilmentRequest) -> Result<Option<(String, String)>, ConnectorError> {
    let number = request
        .tracking_number
        .as_deref()
        .map(wire_tracking_number)
        .filter(|n| !n.is_empty());
    let carrier = request
        .carrier
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    match (number, carrier) {
        (Some(number), Some(carrier)) => Ok(Some((carrier.to_owned(), number))),
        (Some(_), None) => Err(ConnectorError::Invalid(
            "eBay takes a tracking number only with its carrier, and the fulfilment names none"
                .into(),
        )),
        (None, _) => Ok(None),
    }
}

/// The id of a fulfillment from the `Location` eBay answers a creation with.
fn created_id(headers: &HeaderMap) -> Result<String, ConnectorError> {
    let location = headers
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ConnectorError::Malformed("shipping fulfillment created without a Location".into())
        })?;
    let last = location
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default();
    let id = percent_encoding::percent_decode_str(last).decode_utf8_lossy();
    if id.is_empty() {
        return Err(ConnectorError::Malformed(format!(
            "shipping fulfillment Location {location:?} names no fulfillment"
        )));
    }
    Ok(id.into_owned())
}

#[async_trait]
impl SalesChannel for EbayConnector {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Ebay
    }

    async fn check_credentials(&self) -> Result<(), ConnectorError> {
        let url = self.url(FULFILLMENT_API, &["order"], &[("limit", "1".to_owned())])?;
        let raw = self
            .call(
                &self.fulfillment,
                "check credentials",
                Method::GET,
                &url,
                None,
            )
            .await?;
        let _: wire::OrderPage = http::parse_json(&raw.body, "orders page")?;
        Ok(())
    }

    async fn list_orders_since(&self, cursor: &OrderCursor) -> Result<OrderPage, ConnectorError> {
        let token = match cursor {
            OrderCursor::Since(since) => PageToken {
                since: *since,
                offset: 0,
            },
            OrderCursor::Page(text) => serde_json::from_str(text).map_err(|_| {
                ConnectorError::Invalid("order cursor is not an eBay page cursor".into())
            })?,
        };
        let url = self.orders_url(&token)?;
        let raw = self
            .call(&self.fulfillment, "list orders", Method::GET, &url, None)
            .await?;
        let page: wire::OrderPage = http::parse_json(&raw.body, "orders page")?;
        let more = page.next.is_some() && !page.orders.is_empty();
        let next_offset = token.offset + page.orders.len();
        let orders = page
            .orders
            .into_iter()
            .map(mapping::order)
            .collect::<Result<Vec<_>, _>>()?;
        let next = if more {
            let next = PageToken {
                since: token.since,
                offset: next_offset,
            };
            let text = serde_json::to_string(&next)
                .map_err(|e| ConnectorError::Invalid(format!("order cursor: {e}")))?;
            Some(OrderCursor::Page(text))
        } else {
            None
        };
        Ok(OrderPage { orders, next })
    }

    async fn list_products(&self) -> Result<Vec<Listing>, ConnectorError> {
        let mut url = self.url(
            INVENTORY_API,
            &["inventory_item"],
            &[("limit", ITEMS_PER_PAGE.to_string())],
        )?;
        let mut listings = Vec::new();
        for _ in 0..MAX_PAGES {
            let raw = self
                .call(
                    &self.inventory,
                    "list inventory items",
                    Method::GET,
                    &url,
                    None,
                )
                .await?;
            let page: wire::InventoryItems = http::parse_json(&raw.body, "inventory items page")?;
            for item in page.inventory_items {
                let offer = self.published_offer(&item.sku).await?;
                listings.push(mapping::listing(item, offer)?);
            }
            match page.next {
                Some(next) => url = self.next_page(&url, &next)?,
                None => return Ok(listings),
            }
        }
        Err(ConnectorError::Malformed(format!(
            "inventory items did not end within {MAX_PAGES} pages"
        )))
    }

    async fn set_stock(&self, listing: &ListingId, quantity: i64) -> Result<(), ConnectorError> {
        self.set_stocks(&[(listing.clone(), quantity)])
            .await
            .pop()
            .unwrap_or(Ok(()))
    }

    /// 25 SKUs a call, no SKU twice in one; a call that fails as a whole stops the rest, which
    /// answer its error unsent, as one call per listing would.
    async fn set_stocks(&self, levels: &[(ListingId, i64)]) -> Vec<Result<(), ConnectorError>> {
        let mut outcomes: Vec<Option<Result<(), ConnectorError>>> = vec![None; levels.len()];
        let mut calls: Vec<Vec<usize>> = Vec::new();
        for (i, (listing, _)) in levels.iter().enumerate() {
            let sku = listing.product_id.trim();
            if sku.is_empty() {
                outcomes[i] = Some(Err(ConnectorError::Invalid(
                    "an eBay listing needs its SKU (product_id) to set stock".into(),
                )));
                continue;
            }
            let room = calls.iter_mut().find(|call| {
                call.len() < SKUS_PER_STOCK_CALL
                    && call.iter().all(|&j| levels[j].0.product_id.trim() != sku)
            });
            match room {
                Some(call) => call.push(i),
                None => calls.push(vec![i]),
            }
        }
        let mut failed: Option<ConnectorError> = None;
        for call in calls {
            let results = match &failed {
                Some(e) => vec![Err(e.clone()); call.len()],
                None => {
                    let sent: Vec<(&ListingId, i64)> =
                        call.iter().map(|&i| (&levels[i].0, levels[i].1)).collect();
                    match self.stock_call(&sent).await {
                        Ok(results) => results,
                        Err(e) => {
                            failed = Some(e.clone());
                            vec![Err(e); call.len()]
                        }
                    }
                }
            };
            for (&i, result) in call.iter().zip(results) {
                outcomes[i] = Some(result);
            }
        }
        outcomes
            .into_iter()
            .map(|o| {
                o.unwrap_or_else(|| Err(ConnectorError::Invalid("stock level not sent".into())))
            })
            .collect()
    }

    async fn create_fulfilment(
        &self,
        request: &FulfilmentRequest,
    ) -> Result<FulfilmentReceipt, ConnectorError> {
        let order = order_id(request)?;
        let tracking = tracking(request)?;
        let lines: Vec<(String, u32)> = if request.lines.is_empty() {
            self.unshipped_lines(order).await?
        } else {
            request
                .lines
                .iter()
                .map(|l| (l.channel_line_id.trim().to_owned(), l.quantity))
                .collect()
        };
        if lines.is_empty() {
            return Err(ConnectorError::Rejected {
                status: StatusCode::UNPROCESSABLE_ENTITY.as_u16(),
                message: format!("eBay order {order} has nothing left to ship"),
            });
        }
        let mut body = json!({
            "lineItems": lines
                .iter()
                .map(|(id, quantity)| json!({ "lineItemId": id, "quantity": quantity }))
                .collect::<Vec<_>>(),
        });
        if let Some((carrier, number)) = tracking {
            body["shippingCarrierCode"] = json!(carrier);
            body["trackingNumber"] = json!(number);
        }
        let url = self.url(
            FULFILLMENT_API,
            &["order", order, "shipping_fulfillment"],
            &[],
        )?;
        let raw = self
            .call(
                &self.fulfillment,
                "create shipping fulfillment",
                Method::POST,
                &url,
                Some(&body),
            )
            .await?;
        Ok(FulfilmentReceipt {
            channel_fulfilment_id: created_id(&raw.headers)?,
        })
    }

    async fn find_fulfilment(
        &self,
        request: &FulfilmentRequest,
    ) -> Result<Option<FulfilmentReceipt>, ConnectorError> {
        let order = order_id(request)?;
        // Compared as it was sent: eBay holds the number without spaces or hyphens.
        let sent = FulfilmentRequest {
            tracking_number: request.tracking_number.as_deref().map(wire_tracking_number),
            ..request.clone()
        };
        Ok(self
            .fulfillments(order)
            .await?
            .into_iter()
            .find(|f| {
                let lines: Vec<(String, u32)> = f
                    .line_items
                    .iter()
                    .map(|l| (l.line_item_id.clone(), l.quantity))
                    .collect();
                sent.is_recorded_as(f.shipment_tracking_number.as_deref(), &lines)
            })
            .map(|f| FulfilmentReceipt {
                channel_fulfilment_id: f.fulfillment_id,
            }))
    }

    /// eBay's order notifications come through its Notification API, which switchyard does not
    /// subscribe to, so no inbound webhook is eBay's.
    fn verify_webhook(&self, _headers: &HeaderMap, _body: &[u8]) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::FulfilmentLine;

    fn request(carrier: Option<&str>, number: Option<&str>) -> FulfilmentRequest {
        FulfilmentRequest {
            channel_order_id: "12-34567-89012".into(),
            lines: vec![FulfilmentLine {
                channel_line_id: "10000000000010".into(),
                quantity: 1,
            }],
            carrier: carrier.map(str::to_owned),
            tracking_number: number.map(str::to_owned),
            tracking_url: None,
        }
    }

    #[test]
    fn tracking_goes_as_ebay_takes_it_or_not_at_all() {
        assert_eq!(
            tracking(&request(Some(" Royal Mail "), Some("RM 1234-5678 5GB"))),
            Ok(Some(("Royal Mail".into(), "RM123456785GB".into())))
        );
        assert_eq!(tracking(&request(Some("DPD"), None)), Ok(None));
        assert_eq!(tracking(&request(None, Some(" - "))), Ok(None));
        assert!(matches!(
            tracking(&request(None, Some("RM123456785GB"))),
            Err(ConnectorError::Invalid(m)) if m.contains("carrier")
        ));
    }

    #[test]
    fn a_created_fulfillment_is_named_by_its_location() {
        let mut headers = HeaderMap::new();
        assert!(matches!(
            created_id(&headers),
            Err(ConnectorError::Malformed(_))
        ));
        headers.insert(
            LOCATION,
            HeaderValue::from_static(
                "https://api.ebay.com/sell/fulfillment/v1/order/12-34567-89012/shipping_fulfillment/RM123456785GB",
            ),
        );
        assert_eq!(created_id(&headers), Ok("RM123456785GB".to_owned()));
    }

    #[test]
    fn addresses_encode_ids_and_next_links_stay_on_the_api() {
        let config = EbayConfig::new(
            "http://127.0.0.1:9/ebay/seller/",
            Secret::new("id"),
            Secret::new("secret"),
            Secret::new("refresh"),
        );
        let connector = EbayConnector::new(config).unwrap_or_else(|e| panic!("{e}"));
        let url = connector
            .url(
                FULFILLMENT_API,
                &["order", "12 34/5", "shipping_fulfillment"],
                &[],
            )
            .map(String::from);
        assert_eq!(
            url.as_deref(),
            Ok("http://127.0.0.1:9/ebay/seller/sell/fulfillment/v1/order/12%2034%2F5/shipping_fulfillment")
        );
        let since = DateTime::from_timestamp_millis(1_719_828_000_123).unwrap_or_default();
        let orders = connector
            .orders_url(&PageToken {
                since: Some(since),
                offset: 400,
            })
            .map(String::from);
        assert_eq!(
            orders.as_deref(),
            Ok("http://127.0.0.1:9/ebay/seller/sell/fulfillment/v1/order?filter=lastmodifieddate%3A%5B2024-07-01T10%3A00%3A00.123Z..%5D&limit=200&offset=400")
        );
        let page = connector
            .url(INVENTORY_API, &["inventory_item"], &[])
            .unwrap_or_else(|e| panic!("{e}"));
        let next =
            "http://127.0.0.1:9/ebay/seller/sell/inventory/v1/inventory_item?offset=1&limit=100";
        assert_eq!(
            connector
                .next_page(&page, next)
                .map(String::from)
                .as_deref(),
            Ok(next)
        );
        for elsewhere in [
            "https://attacker.example/sell/inventory/v1/inventory_item?offset=1",
            "http://127.0.0.1:9/ebay/other-seller/sell/inventory/v1/inventory_item?offset=1",
        ] {
            assert!(matches!(
                connector.next_page(&page, elsewhere),
                Err(ConnectorError::Malformed(_))
            ));
        }
    }
}
