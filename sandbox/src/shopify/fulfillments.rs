//! Fulfilment through fulfillment orders, the only way the current Admin API accepts:
//! `GET orders/{id}/fulfillment_orders.json`, then `POST fulfillments.json` naming fulfillment order
//! line items and quantities, with tracking. Shipping updates the order's `fulfillment_status`.
//! [`record`] holds the rules, which GraphQL's `fulfillmentCreate` shares.

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
use super::store::{fulfillment_id, order_id_for_fulfillment_order, Outgoing, ShopifyStore};
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

/// What to ship of one fulfillment order: its id, and `(fulfillment order line id, quantity)`
/// pairs, or `None` for everything it still holds.
pub(crate) type FulfillmentOrderLines = (u64, Option<Vec<(u64, u32)>>);

/// A shipment to record, as both the REST and the GraphQL surface ask for it.
pub(crate) struct NewFulfillment {
    pub groups: Vec<FulfillmentOrderLines>,
    pub tracking_number: Option<String>,
    pub tracking_company: Option<String>,
    pub tracking_url: Option<String>,
}

/// Why a shipment was not recorded.
#[derive(Debug, PartialEq)]
pub(crate) enum Refusal {
    /// The fulfillment order (or its order) does not exist.
    NotFound,
    /// Shopify's message for a request it will not carry out.
    Invalid(String),
}

/// A recorded shipment: its order and id, and the webhooks to send once the lock is released.
pub(crate) struct Recorded {
    pub order_id: u64,
    pub fulfillment_id: u64,
    pub outgoing: Vec<Outgoing>,
}

/// Records a shipment with the rules of `POST fulfillments.json`: every fulfillment order of one
/// order, open or in progress, quantities within what remains; nothing changes if any check fails.
pub(crate) fn record(store: &ShopifyStore, new: NewFulfillment) -> Result<Recorded, Refusal> {
    let Some((first, _)) = new.groups.first() else {
        return Err(Refusal::Invalid(
            "Line items by fulfillment order can't be blank".into(),
        ));
    };
    let order_id = order_id_for_fulfillment_order(*first).ok_or(Refusal::NotFound)?;
    if new
        .groups
        .iter()
        .any(|(fo, _)| order_id_for_fulfillment_order(*fo) != Some(order_id))
    {
        return Err(Refusal::Invalid(
            "All fulfillment orders must belong to the same order.".into(),
        ));
    }
    let now = timefmt::now();
    let mut state = store.state();
    let order = state.orders.get(order_id).ok_or(Refusal::NotFound)?;
    let status = order.fulfillment_order_status();
    if status != "open" && status != "in_progress" {
        return Err(Refusal::Invalid(format!(
            "Fulfillment order {} has an unfulfillable status= {status}.",
            order.fulfillment_order_id
        )));
    }
    // Resolve requested quantities per order line, validating before changing anything.
    let mut shipped: Vec<(u64, u32)> = Vec::new();
    for (_, lines) in &new.groups {
        match lines {
            None => shipped.extend(
                order
                    .line_items
                    .iter()
                    .filter(|l| l.remaining() > 0)
                    .map(|l| (l.id, l.remaining())),
            ),
            Some(lines) => {
                for (fo_line, quantity) in lines {
                    let Some(line) = order
                        .line_items
                        .iter()
                        .find(|l| l.fulfillment_order_line_id == *fo_line)
                    else {
                        return Err(Refusal::Invalid(format!(
                            "Fulfillment order line item {fo_line} does not exist."
                        )));
                    };
                    let already: u32 = shipped
                        .iter()
                        .filter(|(id, _)| *id == line.id)
                        .map(|(_, q)| *q)
                        .sum();
                    if *quantity == 0 || quantity + already > line.remaining() {
                        return Err(Refusal::Invalid(
                            "Invalid fulfillment order line item quantity requested.".into(),
                        ));
                    }
                    shipped.push((line.id, *quantity));
                }
            }
        }
    }
    if shipped.is_empty() {
        return Err(Refusal::Invalid(
            "Fulfillment order has no fulfillable line items.".into(),
        ));
    }
    state.fulfillment_seq += 1;
    let id = fulfillment_id(state.fulfillment_seq);
    let url = new.tracking_url.clone().or_else(|| {
        carrier_url(
            new.tracking_company.as_deref(),
            new.tracking_number.as_deref(),
        )
    });
    let complete = state.orders.update(order_id, |o| {
        for (line_id, qty) in &shipped {
            if let Some(line) = o.line_items.iter_mut().find(|l| l.id == *line_id) {
                line.fulfilled_quantity += qty;
            }
        }
        o.fulfillments.push(Fulfillment {
            id,
            name: format!("{}.{}", o.name(), o.fulfillments.len() + 1),
            location_id: o.location_id,
            tracking_company: new.tracking_company.clone(),
            tracking_number: new.tracking_number.clone(),
            tracking_url: url,
            lines: shipped.clone(),
            created_at: now,
        });
        o.updated_at = now;
        o.fulfillment_status() == Some("fulfilled")
    });
    let complete = complete.ok_or(Refusal::NotFound)?;
    let mut events = vec![("orders/updated", order_id)];
    if complete {
        events.push(("orders/fulfilled", order_id));
    }
    Ok(Recorded {
        order_id,
        fulfillment_id: id,
        outgoing: store.outgoing(&state, &events),
    })
}

pub async fn create(State(store): State<Arc<ShopifyStore>>, body: Bytes) -> Response {
    let Ok(input) = serde_json::from_slice::<CreateBody>(&body) else {
        return missing_root("fulfillment");
    };
    let input = input.fulfillment;
    let tracking = input.tracking_info.unwrap_or_default();
    let new = NewFulfillment {
        groups: input
            .line_items_by_fulfillment_order
            .into_iter()
            .map(|g| {
                let lines = g
                    .fulfillment_order_line_items
                    .map(|lines| lines.into_iter().map(|l| (l.id, l.quantity)).collect());
                (g.fulfillment_order_id, lines)
            })
            .collect(),
        tracking_number: tracking.number,
        tracking_company: tracking.company,
        tracking_url: tracking.url,
    };
    let recorded = match record(&store, new) {
        Ok(recorded) => recorded,
        Err(Refusal::NotFound) => return not_found(),
        Err(Refusal::Invalid(message)) => return unprocessable(&[message]),
    };
    let rendered = {
        let state = store.state();
        state.orders.get(recorded.order_id).and_then(|o| {
            o.fulfillments
                .iter()
                .find(|f| f.id == recorded.fulfillment_id)
                .map(|f| o.fulfillment_json(f, &store.ctx))
        })
    };
    store.dispatch(recorded.outgoing);
    if store.common.take_lost_answer() {
        return render_fault(InjectedFault::ServerError);
    }
    json(StatusCode::CREATED, &json!({ "fulfillment": rendered }))
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
