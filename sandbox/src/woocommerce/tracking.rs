//! The Shipment Tracking extension's REST API, which is how tracking numbers reach a WooCommerce
//! order: `GET/POST /wp-json/wc-shipment-tracking/v3/orders/{id}/shipment-trackings`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, NaiveDate};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::errors::{error, invalid_order_id, missing_param, render_fault};
use super::model::Tracking;
use super::orders::{order_id, order_part};
use super::params::{as_text, body_fields, text_field};
use super::store::WooStore;
use crate::faults::InjectedFault;
use crate::http_util::json;
use crate::timefmt;

/// The extension's built-in provider links (`%1$s` = number).
fn provider_link(provider: &str, number: &str) -> String {
    let template = match provider.to_ascii_lowercase().as_str() {
        "ups" => "https://www.ups.com/track?loc=en_US&tracknum=%1$s",
        "usps" => "https://tools.usps.com/go/TrackConfirmAction?tLabels=%1$s",
        "fedex" => "https://www.fedex.com/apps/fedextrack/?action=track&tracknumbers=%1$s",
        "dhl" | "dhl express" => "https://www.dhl.com/en/express/tracking.html?AWB=%1$s",
        "royal mail" => "https://www.royalmail.com/track-your-item#/tracking-results/%1$s",
        _ => return String::new(),
    };
    template.replace("%1$s", number)
}

/// `date_shipped` as a Unix timestamp or a date; today when absent.
fn shipped_date(value: Option<&Value>) -> Option<String> {
    let Some(text) = value.and_then(as_text).filter(|t| !t.is_empty()) else {
        return Some(timefmt::now().format("%Y-%m-%d").to_string());
    };
    if let Ok(ts) = text.parse::<i64>() {
        return DateTime::from_timestamp(ts, 0).map(|d| d.format("%Y-%m-%d").to_string());
    }
    let day = text.get(..10).unwrap_or(&text);
    NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .ok()
        .map(|d| d.to_string())
}

pub async fn list(
    State(store): State<Arc<WooStore>>,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    order_part(&store, &params, |order| {
        Value::Array(order.trackings.iter().map(Tracking::to_json).collect())
    })
}

pub async fn create(
    State(store): State<Arc<WooStore>>,
    Path(params): Path<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fields = match body_fields(&headers, &body) {
        Ok(fields) => fields,
        Err(refused) => return refused,
    };
    let Some(number) = text_field(&fields, "tracking_number") else {
        return missing_param("tracking_number");
    };
    let provider = text_field(&fields, "tracking_provider")
        .or_else(|| fields.get("custom_tracking_provider").and_then(as_text))
        .unwrap_or_default();
    let Some(date_shipped) = shipped_date(fields.get("date_shipped")) else {
        return error(
            StatusCode::BAD_REQUEST,
            "rest_invalid_param",
            "Invalid parameter(s): date_shipped",
        );
    };
    let link = text_field(&fields, "custom_tracking_link")
        .unwrap_or_else(|| provider_link(&provider, &number));
    let Some(id) = order_id(&params) else {
        return invalid_order_id();
    };
    let mut state = store.state();
    let count = match state.orders.get(id) {
        Some(o) => o.trackings.len(),
        None => return invalid_order_id(),
    };
    let digest = Sha256::digest(format!("{id}-{number}-{provider}-{count}").as_bytes());
    let tracking = Tracking {
        tracking_id: digest.iter().take(16).map(|b| format!("{b:02x}")).collect(),
        provider,
        link,
        number,
        date_shipped,
    };
    let rendered = tracking.to_json();
    state.orders.update(id, |o| o.trackings.push(tracking));
    drop(state);
    if store.common.take_lost_answer() {
        return render_fault(InjectedFault::ServerError);
    }
    json(StatusCode::CREATED, &rendered)
}
