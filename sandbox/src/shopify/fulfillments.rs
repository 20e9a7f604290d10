//! Fulfilment through fulfillment orders, the only way the current Admin API accepts:
//! `GET orders/{id}/fulfillment_orders.json`, then `POST fulfillments.json` naming fulfillment order
//! line items and quantities, with tracking. Shipping updates the order's `fulfillment_status`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::errors::{bad_param, missing_root, not_found, render_fault, unprocessable};
use super::model::Fulfillment;
use super::orders::order_id_param;
use super::store::{fulfillment_id, order_id_for_fulfillment_order, ShopifyStore};
use crate::faults::InjectedFault;
use crate::http_util::json;
use crate::query::Query;
use crate::store::PlatformStore;
use crate::timefmt;

pub async fn list_fulfillment_orders(
    State(store): State<Arc<ShopifyStore>>,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let id = match order_id_param(&params) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let state = store.state();
    let Some(order) = state.orders.get(id) else {
        return not_found();
    };
    let location_name = state
        .locations
        .iter()
        .find(|l| l.id == order.location_id)
        .map_or("", |l| l.name.as_str());
    let fo = order.fulfillment_order_json(&store.ctx, store.shop_id, location_name);
    json(StatusCode::OK, &json!({ "fulfillment_orders": [fo] }))
}

#[derive(Debug, Deserialize)]
struct CreateBody {
    fulfillment: FulfillmentInput,
}

#[derive(Debug, Deserialize)]
struct FulfillmentInput {
    #[serde(default)]
    line_items_by_fulfillment_order: Vec<ByFulfillmentOrder>,
    #[serde(default)]
    tracking_info: Option<TrackingInfo>,
    #[serde(default)]
    #[allow(dead_code)]
    notify_customer: bool,
}

#[derive(Debug, Deserialize)]
struct ByFulfillmentOrder {
    fulfillment_order_id: u64,
    #[serde(default)]
    fulfillment_order_line_items: Option<Vec<FulfillmentOrderLine>>,
}

#[derive(Debug, Deserialize)]
struct FulfillmentOrderLine {
    id: u64,
    quantity: u32,
}

#[derive(Debug, Default, Deserialize)]
struct TrackingInfo {
    number: Option<String>,
    company: Option<String>,
    url: Option<String>,
}

/// Shopify fills `tracking_url` in for carriers it knows.
fn carrier_url(company: Option<&str>, number: Option<&str>) -> Option<String> {
    let number = number?;
    let url = match company?.to_ascii_lowercase().as_str() {
        "ups" => {
            format!("https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums={number}")
        }
        "usps" => format!("https://tools.usps.com/go/TrackConfirmAction?tLabels={number}"),
        "fedex" => format!("https://www.fedex.com/fedextrack/?trknbr={number}"),
        "dhl express" | "dhl" => {
            format!("https://www.dhl.com/en/express/tracking.html?AWB={number}")
        }
        "royal mail" => {
            format!("https://www.royalmail.com/track-your-item#/tracking-results/{number}")
        }
        _ => return None,
    };
    Some(url)
}

pub async fn create(State(store): State<Arc<ShopifyStore>>, body: Bytes) -> Response {
    let Ok(input) = serde_json::from_slice::<CreateBody>(&body) else {
        return missing_root("fulfillment");
    };
    let input = input.fulfillment;
    let Some(first) = input.line_items_by_fulfillment_order.first() else {
        return unprocessable(&["Line items by fulfillment order can't be blank".into()]);
    };
    let Some(order_id) = order_id_for_fulfillment_order(first.fulfillment_order_id) else {
        return not_found();
    };
    if input
        .line_items_by_fulfillment_order
        .iter()
        .any(|b| order_id_for_fulfillment_order(b.fulfillment_order_id) != Some(order_id))
    {
        return unprocessable(&["All fulfillment orders must belong to the same order.".into()]);
    }
    let tracking = input.tracking_info.unwrap_or_default();
    let now = timefmt::now();
    let (response, outgoing) = {
        let mut state = store.state();
        let Some(order) = state.orders.get(order_id) else {
            return not_found();
        };
        let status = order.fulfillment_order_status();
        if status != "open" && status != "in_progress" {
            return unprocessable(&[format!(
                "Fulfillment order {} has an unfulfillable status= {status}.",
                order.fulfillment_order_id
            )]);
        }
        // Resolve requested quantities per order line, validating before changing anything.
        let mut shipped: Vec<(u64, u32)> = Vec::new();
        for group in &input.line_items_by_fulfillment_order {
            match &group.fulfillment_order_line_items {
                None => shipped.extend(
                    order
                        .line_items
                        .iter()
                        .filter(|l| l.remaining() > 0)
                        .map(|l| (l.id, l.remaining())),
                ),
                Some(lines) => {
                    for requested in lines {
                        let Some(line) = order
                            .line_items
                            .iter()
                            .find(|l| l.fulfillment_order_line_id == requested.id)
                        else {
                            return unprocessable(&[format!(
                                "Fulfillment order line item {} does not exist.",
                                requested.id
                            )]);
                        };
                        let already: u32 = shipped
                            .iter()
                            .filter(|(id, _)| *id == line.id)
                            .map(|(_, q)| *q)
                            .sum();
                        if requested.quantity == 0
                            || requested.quantity + already > line.remaining()
                        {
                            return unprocessable(&[
                                "Invalid fulfillment order line item quantity requested.".into(),
                            ]);
                        }
                        shipped.push((line.id, requested.quantity));
                    }
                }
            }
        }
        if shipped.is_empty() {
            return unprocessable(&["Fulfillment order has no fulfillable line items.".into()]);
        }
        state.fulfillment_seq += 1;
        let id = fulfillment_id(state.fulfillment_seq);
        let url = tracking
            .url
            .clone()
            .or_else(|| carrier_url(tracking.company.as_deref(), tracking.number.as_deref()));
        let fulfilled = state.orders.update(order_id, |o| {
            for (line_id, qty) in &shipped {
                if let Some(line) = o.line_items.iter_mut().find(|l| l.id == *line_id) {
                    line.fulfilled_quantity += qty;
                }
            }
            let fulfillment = Fulfillment {
                id,
                name: format!("{}.{}", o.name(), o.fulfillments.len() + 1),
                location_id: o.location_id,
                tracking_company: tracking.company.clone(),
                tracking_number: tracking.number.clone(),
                tracking_url: url,
                lines: shipped.clone(),
                created_at: now,
            };
            let rendered = o.fulfillment_json(&fulfillment, &store.ctx);
            o.fulfillments.push(fulfillment);
            o.updated_at = now;
            (rendered, o.fulfillment_status() == Some("fulfilled"))
        });
        let Some((rendered, complete)) = fulfilled else {
            return not_found();
        };
        let mut events = vec![("orders/updated", order_id)];
        if complete {
            events.push(("orders/fulfilled", order_id));
        }
        let outgoing = store.outgoing(&state, &events);
        (
            json(StatusCode::CREATED, &json!({ "fulfillment": rendered })),
            outgoing,
        )
    };
    store.dispatch(outgoing);
    if store.common.take_lost_answer() {
        return render_fault(InjectedFault::ServerError);
    }
    response
}

/// `GET orders/{id}/fulfillments.json`: the order's fulfillments, oldest first, `limit` 1..=250
/// (50 by default) as Shopify pages them.
pub async fn list_fulfillments(
    State(store): State<Arc<ShopifyStore>>,
    Path(params): Path<HashMap<String, String>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let id = match order_id_param(&params) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let q = Query::parse(raw.as_deref().unwrap_or(""));
    let limit = match q.get("limit").map(str::parse::<usize>) {
        None => 50,
        Some(Ok(n)) if (1..=250).contains(&n) => n,
        Some(_) => return bad_param("limit", "Invalid value."),
    };
    let state = store.state();
    let Some(order) = state.orders.get(id) else {
        return not_found();
    };
    let list: Vec<serde_json::Value> = order
        .fulfillments
        .iter()
        .take(limit)
        .map(|f| order.fulfillment_json(f, &store.ctx))
        .collect();
    json(StatusCode::OK, &json!({ "fulfillments": list }))
}
