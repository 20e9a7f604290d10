//! Listings Items 2021-08-01: `getListingsItem`, `patchListingsItem` (the seller's stock through
//! the `fulfillment_availability` attribute, its price through `purchasable_offer`) and
//! `searchListingsItems`, sorted by `sortBy` (`lastUpdatedDate` unless `sku` or `createdDate` is
//! asked for; then SKU), newest first unless `sortOrder=ASC`, paged by an opaque `pageToken`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

use super::errors::{self, invalid_input, unauthorized};
use super::model::{Included, Listing};
use super::store::AmazonSeller;
use crate::http_util::{json, random_hex};
use crate::money::parse_cents;
use crate::query::Query;
use crate::timefmt;

/// The checks every listings call makes: the seller is the caller's, and `marketplaceIds`
/// names its marketplace. Returns the parsed query.
fn check(seller: &AmazonSeller, seller_id: &str, raw: Option<&str>) -> Result<Query, Response> {
    if seller_id != seller.seller_id() {
        return Err(unauthorized("Access to requested resource is denied."));
    }
    let query = Query::parse(raw.unwrap_or(""));
    let ids: Vec<&str> = query
        .get("marketplaceIds")
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if ids.is_empty() {
        return Err(invalid_input("Missing required parameter: marketplaceIds"));
    }
    if let Some(other) = ids.iter().find(|id| **id != seller.marketplace_id()) {
        return Err(invalid_input(&format!(
            "Invalid marketplaceIds value: {other}"
        )));
    }
    Ok(query)
}

fn render(seller: &AmazonSeller, listing: &Listing, include: Included) -> Value {
    listing.to_json(seller.marketplace_id(), &seller.config.currency, include)
}

fn not_found(seller: &AmazonSeller, sku: &str) -> Response {
    errors::error(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        &format!(
            "SKU '{sku}' not found in marketplace {}",
            seller.marketplace_id()
        ),
    )
}

/// `GET /listings/2021-08-01/items/{sellerId}/{sku}`.
pub async fn get_item(
    State(seller): State<Arc<AmazonSeller>>,
    Path((seller_id, sku)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    let query = match check(&seller, &seller_id, raw.as_deref()) {
        Ok(query) => query,
        Err(response) => return response,
    };
    let include = match Included::parse(query.get("includedData")) {
        Ok(include) => include,
        Err(message) => return invalid_input(&message),
    };
    let state = seller.state();
    match state.listings.iter().find(|l| l.sku == sku) {
        Some(listing) => json(StatusCode::OK, &render(&seller, listing, include)),
        None => not_found(&seller, &sku),
    }
}

/// A change a patch makes that this simulator keeps.
enum Change {
    Quantity(i64),
    PriceCents(i64),
}

/// Reads one patch operation: `Ok(None)` for attributes accepted but not kept, `Err` with the
/// attribute name for a value the product type's schema would refuse.
fn read_patch(patch: &Value) -> Result<Option<Change>, (String, String)> {
    let op = patch.get("op").and_then(Value::as_str).unwrap_or("");
    let path = patch.get("path").and_then(Value::as_str).unwrap_or("");
    let attribute = path.strip_prefix("/attributes/").unwrap_or(path).to_owned();
    if op == "delete" {
        return Ok(None);
    }
    let first = patch.get("value").and_then(|v| v.get(0));
    match path {
        "/attributes/fulfillment_availability" => {
            match first
                .and_then(|v| v.get("quantity"))
                .and_then(Value::as_i64)
            {
                Some(quantity) if quantity >= 0 => Ok(Some(Change::Quantity(quantity))),
                _ => Err((
                    attribute,
                    "The value of 'quantity' must be a whole number of 0 or more.".into(),
                )),
            }
        }
        "/attributes/purchasable_offer" => {
            let price = first
                .and_then(|v| v.pointer("/our_price/0/schedule/0/value_with_tax"))
                .and_then(|p| match p {
                    Value::String(s) => parse_cents(s),
                    Value::Number(n) => n.as_f64().map(|f| (f * 100.0).round() as i64),
                    _ => None,
                });
            match price {
                Some(cents) if cents > 0 => Ok(Some(Change::PriceCents(cents))),
                _ => Err((
                    attribute,
                    "The value of 'value_with_tax' must be a price above 0.".into(),
                )),
            }
        }
        _ => Ok(None),
    }
}

/// `PATCH /listings/2021-08-01/items/{sellerId}/{sku}`. Changes are applied at once (a real
/// submission is processed within minutes); a patch with an invalid value changes nothing and
/// is answered `INVALID` with its issues, as Amazon does.
pub async fn patch_item(
    State(seller): State<Arc<AmazonSeller>>,
    Path((seller_id, sku)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    if let Err(response) = check(&seller, &seller_id, raw.as_deref()) {
        return response;
    }
    let body: Value = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(e) => return invalid_input(&format!("Invalid request body: {e}")),
    };
    let product_type = body.get("productType").and_then(Value::as_str);
    let patches = body.get("patches").and_then(Value::as_array);
    let (Some(_), Some(patches)) = (product_type, patches) else {
        return invalid_input("Request body must have a productType and an array of patches");
    };
    let valid_ops = ["add", "replace", "merge", "delete"];
    if patches.is_empty()
        || patches.iter().any(|p| {
            !valid_ops.contains(&p.get("op").and_then(Value::as_str).unwrap_or(""))
                || p.get("path").and_then(Value::as_str).is_none()
        })
    {
        return invalid_input("Each patch needs an op (add, replace, merge, delete) and a path");
    }
    let mut changes = Vec::new();
    let mut issues = Vec::new();
    for patch in patches {
        match read_patch(patch) {
            Ok(Some(change)) => changes.push(change),
            Ok(None) => {}
            Err((attribute, message)) => issues.push(json!({
                "code": "4000001",
                "message": message,
                "severity": "ERROR",
                "attributeNames": [attribute],
                "categories": ["INVALID_ATTRIBUTE"],
            })),
        }
    }
    let now = timefmt::now();
    {
        let mut state = seller.state();
        let Some(listing) = state.listings.iter_mut().find(|l| l.sku == sku) else {
            drop(state);
            return not_found(&seller, &sku);
        };
        if issues.is_empty() {
            for change in changes {
                match change {
                    Change::Quantity(quantity) => listing.quantity = quantity,
                    Change::PriceCents(cents) => listing.price_cents = cents,
                }
            }
            listing.updated = now;
        }
    }
    let status = if issues.is_empty() {
        "ACCEPTED"
    } else {
        "INVALID"
    };
    json(
        StatusCode::OK,
        &json!({
            "sku": sku,
            "status": status,
            "submissionId": random_hex(16),
            "issues": issues,
        }),
    )
}

/// What `searchListingsItems` sorts by (`sortBy`; `lastUpdatedDate` by default), SKU breaking ties.
#[derive(Debug, Clone, Copy)]
enum SortBy {
    LastUpdated,
    Created,
    Sku,
}

/// `GET /listings/2021-08-01/items/{sellerId}`.
pub async fn search(
    State(seller): State<Arc<AmazonSeller>>,
    Path(seller_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let query = match check(&seller, &seller_id, raw.as_deref()) {
        Ok(query) => query,
        Err(response) => return response,
    };
    let include = match Included::parse(query.get("includedData")) {
        Ok(include) => include,
        Err(message) => return invalid_input(&message),
    };
    let page_size = match query.get("pageSize") {
        None | Some("") => 10,
        Some(raw) => match raw.parse::<usize>() {
            Ok(n @ 1..=20) => n,
            _ => return invalid_input("pageSize must be between 1 and 20"),
        },
    };
    let sort_by = match query.get("sortBy") {
        None | Some("") | Some("lastUpdatedDate") => SortBy::LastUpdated,
        Some("createdDate") => SortBy::Created,
        Some("sku") => SortBy::Sku,
        Some(other) => return invalid_input(&format!("Invalid sortBy value: {other}")),
    };
    let ascending = match query.get("sortOrder") {
        None | Some("") | Some("DESC") => false,
        Some("ASC") => true,
        Some(other) => return invalid_input(&format!("Invalid sortOrder value: {other}")),
    };
    let offset = match query.get("pageToken").filter(|t| !t.is_empty()) {
        None => 0,
        Some(token) => match decode_offset(token) {
            Some(offset) => offset,
            None => return invalid_input("Invalid pageToken"),
        },
    };
    let state = seller.state();
    let mut listings: Vec<&Listing> = state.listings.iter().collect();
    listings.sort_by(|a, b| match sort_by {
        SortBy::LastUpdated => (a.updated, &a.sku).cmp(&(b.updated, &b.sku)),
        SortBy::Created => (a.created, &a.sku).cmp(&(b.created, &b.sku)),
        SortBy::Sku => a.sku.cmp(&b.sku),
    });
    if !ascending {
        listings.reverse();
    }
    let items: Vec<Value> = listings
        .iter()
        .skip(offset)
        .take(page_size)
        .map(|l| render(&seller, l, include))
        .collect();
    let mut pagination = serde_json::Map::new();
    if offset + page_size < listings.len() {
        pagination.insert("nextToken".into(), json!(encode_offset(offset + page_size)));
    }
    if offset > 0 {
        pagination.insert(
            "previousToken".into(),
            json!(encode_offset(offset.saturating_sub(page_size))),
        );
    }
    json(
        StatusCode::OK,
        &json!({
            "numberOfResults": listings.len(),
            "pagination": pagination,
            "items": items,
        }),
    )
}

fn encode_offset(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("listings:{offset}"))
}

fn decode_offset(token: &str) -> Option<usize> {
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix("listings:")?
        .parse()
        .ok()
}
