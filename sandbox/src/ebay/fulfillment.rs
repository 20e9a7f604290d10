//! Shipping fulfillments: `createShippingFulfillment` records a package (line items and
//! quantities, and optionally a carrier with a tracking number) and answers 201 with its
//! `Location`; shipping more of a line than remains unshipped is refused. As eBay documents it,
//! carrier and tracking number come together or not at all, a tracking number is letters and
//! digits only, and the new fulfillment's id is its tracking number, so posting the same tracking
//! number to an order again is refused (34500: a change of a fulfillment is a PUT).
//! `getShippingFulfillments` and `getShippingFulfillment` read them back.

use std::collections::HashSet;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use super::errors::{bad_request, envelope, fulfillment_system_error, not_found, FULFILLMENT};
use super::model::{parse_order_id, Progress, Tracking};
use super::orders::{invalid_order_id, unknown_order};
use super::store::EbayStore;
use crate::http_util::{json, set_header};
use crate::timefmt;

/// The request body, `ShippingFulfillmentDetails`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Details {
    #[serde(default)]
    line_items: Vec<LineRef>,
    shipped_date: Option<String>,
    shipping_carrier_code: Option<String>,
    tracking_number: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LineRef {
    line_item_id: String,
    quantity: Option<u32>,
}

fn invalid_input(message: &str) -> Response {
    bad_request(32600, FULFILLMENT, message)
}

/// The carrier and tracking number of a request: both or neither, the number alphanumeric.
fn tracking(carrier: Option<String>, number: Option<String>) -> Result<Option<Tracking>, Response> {
    let given = |text: Option<String>| text.filter(|t| !t.trim().is_empty());
    let refused = || {
        bad_request(
            32300,
            FULFILLMENT,
            "Invalid shipment tracking number or carrier",
        )
    };
    match (given(carrier), given(number)) {
        (None, None) => Ok(None),
        (Some(carrier), Some(number)) if number.bytes().all(|b| b.is_ascii_alphanumeric()) => {
            Ok(Some(Tracking { carrier, number }))
        }
        _ => Err(refused()),
    }
}

/// `POST /sell/fulfillment/v1/order/{orderId}/shipping_fulfillment`.
pub async fn create(
    State(store): State<Arc<EbayStore>>,
    Path(order_id): Path<String>,
    body: Bytes,
) -> Response {
    let Some(id) = parse_order_id(&order_id) else {
        return invalid_order_id(&order_id);
    };
    let details: Details = match serde_json::from_slice(&body) {
        Ok(details) => details,
        Err(_) => return invalid_input("Invalid input data"),
    };
    let tracking = match tracking(details.shipping_carrier_code, details.tracking_number) {
        Ok(tracking) => tracking,
        Err(response) => return response,
    };
    let shipped_at: DateTime<Utc> = match details.shipped_date.as_deref() {
        None => timefmt::now(),
        Some(text) => match DateTime::parse_from_rfc3339(text) {
            Ok(at) => at.with_timezone(&Utc),
            Err(_) => return bad_request(32500, FULFILLMENT, "Invalid shipped date"),
        },
    };
    if details.line_items.is_empty() {
        return invalid_input("Invalid input data: lineItems is required");
    }
    let mut seen = HashSet::new();
    if !details
        .line_items
        .iter()
        .all(|l| seen.insert(l.line_item_id.as_str()))
    {
        return bad_request(32210, FULFILLMENT, "Duplicate line item in the request");
    }
    let now = timefmt::now();
    let fulfillment_id = {
        let mut state = store.state();
        let Some(order) = state.orders.get(id) else {
            return unknown_order(&order_id);
        };
        if let Some(t) = &tracking {
            if order.shipments.iter().any(|s| s.fulfillment_id == t.number) {
                return bad_request(
                    34500,
                    FULFILLMENT,
                    "Please use PUT operation for updating shipping fulfillment",
                );
            }
        }
        if order.cancelled_at.is_some() || order.progress() == Progress::Fulfilled {
            return invalid_input("Invalid input data: the order has nothing left to ship");
        }
        let mut lines = Vec::new();
        for item in &details.line_items {
            let Some(line) = order
                .lines
                .iter()
                .find(|l| l.line_item_id == item.line_item_id)
            else {
                return bad_request(
                    32200,
                    FULFILLMENT,
                    &format!("Invalid line item id: {}", item.line_item_id),
                );
            };
            // eBay documents the quantity as a whole number greater than zero, with no default.
            let Some(quantity) = item.quantity.filter(|q| *q > 0) else {
                return invalid_input("Invalid input data: lineItems.quantity must be above zero");
            };
            if quantity > line.remaining() {
                return invalid_input(&format!(
                    "Invalid input data: quantity {quantity} of line item {} exceeds the {} left to ship",
                    item.line_item_id,
                    line.remaining()
                ));
            }
            lines.push((item.line_item_id.clone(), quantity));
        }
        let shipment = state.shipment(lines.clone(), tracking, shipped_at);
        let fulfillment_id = shipment.fulfillment_id.clone();
        state.orders.update(id, |o| {
            for (line_id, quantity) in &lines {
                if let Some(line) = o.lines.iter_mut().find(|l| l.line_item_id == *line_id) {
                    line.shipped += quantity;
                }
            }
            o.shipments.push(shipment);
            o.updated_at = now;
        });
        fulfillment_id
    };
    if store.common.take_lost_answer() {
        return envelope(
            StatusCode::INTERNAL_SERVER_ERROR,
            vec![fulfillment_system_error()],
        );
    }
    let mut response = json(StatusCode::CREATED, &json!({}));
    set_header(
        &mut response,
        "location",
        &format!(
            "{}/sell/fulfillment/v1/order/{order_id}/shipping_fulfillment/{fulfillment_id}",
            store.base_url
        ),
    );
    response
}

/// `GET /sell/fulfillment/v1/order/{orderId}/shipping_fulfillment`.
pub async fn list(State(store): State<Arc<EbayStore>>, Path(order_id): Path<String>) -> Response {
    let Some(id) = parse_order_id(&order_id) else {
        return invalid_order_id(&order_id);
    };
    let state = store.state();
    let Some(order) = state.orders.get(id) else {
        return unknown_order(&order_id);
    };
    let fulfillments: Vec<_> = order.shipments.iter().map(|s| s.to_json()).collect();
    json(
        StatusCode::OK,
        &json!({ "total": fulfillments.len(), "fulfillments": fulfillments }),
    )
}

/// `GET /sell/fulfillment/v1/order/{orderId}/shipping_fulfillment/{fulfillmentId}`.
pub async fn get_one(
    State(store): State<Arc<EbayStore>>,
    Path((order_id, fulfillment_id)): Path<(String, String)>,
) -> Response {
    let Some(id) = parse_order_id(&order_id) else {
        return invalid_order_id(&order_id);
    };
    let state = store.state();
    let Some(order) = state.orders.get(id) else {
        return unknown_order(&order_id);
    };
    match order
        .shipments
        .iter()
        .find(|s| s.fulfillment_id == fulfillment_id)
    {
        Some(shipment) => json(StatusCode::OK, &shipment.to_json()),
        None => not_found(
            32110,
            FULFILLMENT,
            &format!("Invalid shipping fulfillment ID: {fulfillment_id}"),
        ),
    }
}
