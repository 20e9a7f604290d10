//! Orders v0: `getOrders`, `getOrder`, `getOrderItems` and `confirmShipment`.
//!
//! `getOrders` selects by `LastUpdatedAfter` or `CreatedAfter` (one of them, never both), each
//! inclusive ("after (or at)", as the model says), up to an inclusive `…Before` bound that
//! defaults to the time of the first page and is answered in the payload. Pages walk
//! `(LastUpdateDate, order)` or creation order ascending; the `NextToken` carries the whole query
//! and the position, so, as on Amazon, a request with a `NextToken` ignores the other filters
//! (`MarketplaceIds` is still required). An order changed while a client pages moves past the
//! bound and is left to the client's next sync, never seen twice or skipped in one walk.
//! `getOrderItems` pages an order's items with a `NextToken` of its own.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::errors::{self, invalid_input};
use super::model::{iso, order_number, Order, Shipment};
use super::store::{AmazonSeller, ShipmentRefusal};
use crate::http_util::json;
use crate::orderbook::{OrderBook, SortBy};
use crate::query::Query;
use crate::timefmt;

const STATUSES: &[&str] = &[
    "PendingAvailability",
    "Pending",
    "Unshipped",
    "PartiallyShipped",
    "Shipped",
    "InvoiceUnconfirmed",
    "Canceled",
    "Unfulfillable",
];

/// A `getOrders` query, whole, as the `NextToken` carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Walk {
    /// By `LastUpdateDate` (true) or by `PurchaseDate`.
    by_update: bool,
    after: i64,
    before: i64,
    statuses: Vec<String>,
    channels: Vec<String>,
    page_size: usize,
    /// The last order answered: `(timestamp, id)` in the walk's order.
    last: Option<(i64, u64)>,
}

fn list_param(query: &Query, name: &str) -> Vec<String> {
    query
        .get(name)
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Checks `MarketplaceIds`, required on every call and naming this seller's marketplace.
fn check_marketplaces(seller: &AmazonSeller, query: &Query) -> Result<(), Response> {
    let ids = list_param(query, "MarketplaceIds");
    if ids.is_empty() {
        return Err(invalid_input("Missing required parameter: MarketplaceIds"));
    }
    if let Some(other) = ids.iter().find(|id| *id != seller.marketplace_id()) {
        return Err(invalid_input(&format!("Invalid MarketplaceId: {other}")));
    }
    Ok(())
}

fn time_param(query: &Query, name: &str) -> Result<Option<DateTime<Utc>>, Response> {
    match query.get(name) {
        None | Some("") => Ok(None),
        Some(raw) => timefmt::parse(raw, 0)
            .map(Some)
            .ok_or_else(|| invalid_input(&format!("{name} is not a valid ISO 8601 date"))),
    }
}

impl Walk {
    fn from_query(query: &Query) -> Result<Walk, Response> {
        if let Some(token) = query.get("NextToken").filter(|t| !t.is_empty()) {
            return URL_SAFE_NO_PAD
                .decode(token)
                .ok()
                .and_then(|bytes| serde_json::from_slice(&bytes).ok())
                .ok_or_else(|| invalid_input("Invalid NextToken"));
        }
        let created_after = time_param(query, "CreatedAfter")?;
        let updated_after = time_param(query, "LastUpdatedAfter")?;
        let created_before = time_param(query, "CreatedBefore")?;
        let updated_before = time_param(query, "LastUpdatedBefore")?;
        if created_after.is_some() && (updated_after.is_some() || updated_before.is_some()) {
            return Err(invalid_input(
                "LastUpdatedAfter and LastUpdatedBefore cannot be set when CreatedAfter is set",
            ));
        }
        if updated_after.is_some() && created_before.is_some() {
            return Err(invalid_input(
                "CreatedAfter or CreatedBefore cannot be set when LastUpdatedAfter is set",
            ));
        }
        let (by_update, after, before) = match (created_after, updated_after) {
            (Some(after), _) => (false, after, created_before),
            (None, Some(after)) => (true, after, updated_before),
            (None, None) => {
                return Err(invalid_input(
                    "Either CreatedAfter or LastUpdatedAfter must be specified",
                ))
            }
        };
        let before = before.unwrap_or_else(timefmt::now);
        if before < after {
            return Err(invalid_input(
                "The Before date must be equal to or after the After date",
            ));
        }
        let statuses = list_param(query, "OrderStatuses");
        if let Some(bad) = statuses.iter().find(|s| !STATUSES.contains(&s.as_str())) {
            return Err(invalid_input(&format!(
                "Invalid OrderStatuses value: {bad}"
            )));
        }
        let channels = list_param(query, "FulfillmentChannels");
        if let Some(bad) = channels
            .iter()
            .find(|c| !["AFN", "MFN"].contains(&c.as_str()))
        {
            return Err(invalid_input(&format!(
                "Invalid FulfillmentChannels value: {bad}"
            )));
        }
        let page_size = match query.get("MaxResultsPerPage") {
            None | Some("") => 100,
            Some(raw) => match raw.parse::<usize>() {
                Ok(n @ 1..=100) => n,
                _ => return Err(invalid_input("MaxResultsPerPage must be between 1 and 100")),
            },
        };
        Ok(Walk {
            by_update,
            after: after.timestamp(),
            before: before.timestamp(),
            statuses,
            channels,
            page_size,
            last: None,
        })
    }

    fn key(&self, order: &Order) -> (i64, u64) {
        match self.by_update {
            true => (order.last_update.timestamp(), order.id),
            false => (order.purchase_date.timestamp(), order.id),
        }
    }

    fn wants(&self, order: &Order) -> bool {
        (self.statuses.is_empty() || self.statuses.iter().any(|s| s == order.status.as_str()))
            && (self.channels.is_empty()
                || self.channels.iter().any(|c| c == order.channel.as_str()))
    }

    /// One page, and the walk from after it if there is more.
    fn page<'a>(&self, book: &'a OrderBook<Order>) -> (Vec<&'a Order>, Option<Walk>) {
        // Creation order is id order, so a walk by PurchaseDate goes by id and skips to `after`.
        let (sort, after) = match self.by_update {
            true => (SortBy::Updated, self.last),
            false => (SortBy::Id, self.last.map(|(_, id)| (0, id))),
        };
        let mut page = Vec::new();
        let mut more = false;
        let walk = book
            .scan(sort, false, after, Some((self.after, 0)))
            .filter(|o| self.key(o).0 >= self.after)
            .take_while(|o| self.key(o).0 <= self.before)
            .filter(|o| self.wants(o));
        for order in walk {
            if page.len() == self.page_size {
                more = true;
                break;
            }
            page.push(order);
        }
        let next = match (more, page.last()) {
            (true, Some(last)) => Some(Walk {
                last: Some(self.key(last)),
                ..self.clone()
            }),
            _ => None,
        };
        (page, next)
    }
}

fn rfc(ts: i64) -> String {
    DateTime::from_timestamp(ts, 0).map(iso).unwrap_or_default()
}

/// `GET /orders/v0/orders`.
pub async fn list(State(seller): State<Arc<AmazonSeller>>, RawQuery(raw): RawQuery) -> Response {
    let query = Query::parse(raw.as_deref().unwrap_or(""));
    if let Err(response) = check_marketplaces(&seller, &query) {
        return response;
    }
    let walk = match Walk::from_query(&query) {
        Ok(walk) => walk,
        Err(response) => return response,
    };
    let (orders, next) = {
        let state = seller.state();
        let (page, next) = walk.page(&state.orders);
        (page.iter().map(|o| o.to_json()).collect::<Vec<_>>(), next)
    };
    let mut payload = json!({ "Orders": orders });
    if let Some(map) = payload.as_object_mut() {
        let bound = match walk.by_update {
            true => "LastUpdatedBefore",
            false => "CreatedBefore",
        };
        map.insert(bound.into(), Value::String(rfc(walk.before)));
        if let Some(next) = next {
            let token = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&next).unwrap_or_default());
            map.insert("NextToken".into(), Value::String(token));
        }
    }
    json(StatusCode::OK, &json!({ "payload": payload }))
}

fn not_found(order_id: &str) -> Response {
    errors::error(
        StatusCode::NOT_FOUND,
        "NotFound",
        &format!("Order {order_id} was not found"),
    )
}

/// `GET /orders/v0/orders/{orderId}`.
pub async fn get_one(
    State(seller): State<Arc<AmazonSeller>>,
    Path(order_id): Path<String>,
) -> Response {
    let state = seller.state();
    match order_number(&order_id).and_then(|id| state.orders.get(id)) {
        Some(order) => json(StatusCode::OK, &json!({ "payload": order.to_json() })),
        None => not_found(&order_id),
    }
}

/// `GET /orders/v0/orders/{orderId}/orderItems`, `order_items_per_page` items a page; the
/// `NextToken` names the order and where the next page starts, so it is refused for another.
pub async fn items(
    State(seller): State<Arc<AmazonSeller>>,
    Path(order_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let query = Query::parse(raw.as_deref().unwrap_or(""));
    let state = seller.state();
    let Some(order) = order_number(&order_id).and_then(|id| state.orders.get(id)) else {
        return not_found(&order_id);
    };
    let start = match query.get("NextToken").filter(|t| !t.is_empty()) {
        None => 0,
        Some(token) => match items_offset(token, &order_id) {
            Some(start) => start,
            None => return invalid_input("Invalid NextToken"),
        },
    };
    let per_page = seller.config.order_items_per_page.max(1);
    let items = order.items_json();
    let mut payload = json!({
        "OrderItems": items.iter().skip(start).take(per_page).collect::<Vec<_>>(),
        "AmazonOrderId": order.amazon_id(),
    });
    if start + per_page < items.len() {
        if let Some(map) = payload.as_object_mut() {
            let token = URL_SAFE_NO_PAD.encode(format!("{order_id}:{}", start + per_page));
            map.insert("NextToken".into(), Value::String(token));
        }
    }
    json(StatusCode::OK, &json!({ "payload": payload }))
}

/// Where an order items `NextToken` of order `order_id` starts.
fn items_offset(token: &str, order_id: &str) -> Option<usize> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(token).ok()?).ok()?;
    let (order, start) = text.rsplit_once(':')?;
    (order == order_id).then_some(())?;
    start.parse().ok()
}

/// `ConfirmShipmentRequest` as the model has it, every field, and nothing else: a field the
/// model does not name is refused, so a client's misspelling shows here rather than being
/// dropped without a word.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ConfirmShipmentRequest {
    marketplace_id: String,
    package_detail: PackageDetail,
    /// Japan only; accepted and not kept.
    #[serde(rename = "codCollectionMethod", default)]
    _cod_collection_method: Option<CodCollectionMethod>,
}

#[derive(Debug, Deserialize)]
enum CodCollectionMethod {
    DirectPayment,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PackageDetail {
    package_reference_id: String,
    carrier_code: String,
    carrier_name: Option<String>,
    tracking_number: String,
    ship_date: String,
    order_items: Vec<ShippedItem>,
    /// Accepted as the model has them, not kept.
    #[serde(rename = "shippingMethod", default)]
    _shipping_method: Option<String>,
    #[serde(rename = "shipFromSupplySourceId", default)]
    _ship_from_supply_source_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ShippedItem {
    order_item_id: String,
    quantity: u32,
    #[serde(rename = "transparencyCodes", default)]
    _transparency_codes: Vec<String>,
}

/// "Only positive numeric values are supported" (the model's `PackageReferenceId`).
fn is_package_reference(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) && text.bytes().any(|b| b != b'0')
}

/// `POST /orders/v0/orders/{orderId}/shipmentConfirmation`: 204 once the package is recorded.
/// A package confirmed again under its `packageReferenceId` is edited, not added: "if you need to
/// make an edit to the shipment, submit another confirmShipment operation with the same
/// packageReferenceID" (Amazon's guide to confirming shipments).
pub async fn confirm_shipment(
    State(seller): State<Arc<AmazonSeller>>,
    Path(order_id): Path<String>,
    body: Bytes,
) -> Response {
    let request: ConfirmShipmentRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => return invalid_input(&format!("Invalid request body: {e}")),
    };
    if request.marketplace_id != seller.marketplace_id() {
        return invalid_input(&format!(
            "Invalid marketplaceId: {}",
            request.marketplace_id
        ));
    }
    let detail = request.package_detail;
    if !is_package_reference(&detail.package_reference_id) {
        return invalid_input("packageReferenceId must be a positive number");
    }
    let named = detail
        .carrier_name
        .as_deref()
        .is_some_and(|n| !n.trim().is_empty());
    if detail.carrier_code == "Other" && !named {
        return invalid_input("carrierName is required when carrierCode is Other");
    }
    if timefmt::parse(&detail.ship_date, 0).is_none() {
        return invalid_input("shipDate is not a valid ISO 8601 date");
    }
    if detail.order_items.is_empty() || detail.order_items.iter().any(|i| i.quantity == 0) {
        return invalid_input(
            "orderItems must list at least one item, each with a quantity of 1 or more",
        );
    }
    let Some(id) = order_number(&order_id) else {
        return not_found(&order_id);
    };
    let lines: Vec<(String, u32)> = detail
        .order_items
        .iter()
        .map(|i| (i.order_item_id.clone(), i.quantity))
        .collect();
    let shipment = Shipment {
        order_id: id,
        package_reference_id: detail.package_reference_id,
        carrier_code: detail.carrier_code,
        carrier_name: detail.carrier_name,
        tracking_number: detail.tracking_number,
        ship_date: detail.ship_date,
        lines: Vec::new(),
    };
    let done = seller
        .state()
        .confirm_shipment(id, shipment, &lines, timefmt::now());
    match done {
        Ok(()) if seller.common.take_lost_answer() => {
            errors::render_fault(crate::faults::InjectedFault::ServerError)
        }
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(ShipmentRefusal::NoSuchOrder) => not_found(&order_id),
        Err(ShipmentRefusal::NotShippable(status)) => invalid_input(&format!(
            "Order {order_id} cannot be confirmed as shipped: its status is {}",
            status.as_str()
        )),
        Err(ShipmentRefusal::NoSuchItem(item)) => {
            invalid_input(&format!("Order {order_id} has no orderItemId {item}"))
        }
        Err(ShipmentRefusal::TooMany {
            order_item_id,
            left,
        }) => invalid_input(&format!(
            "The quantity for orderItemId {order_item_id} exceeds the {left} left to ship"
        )),
    }
}
