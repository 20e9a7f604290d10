//! The Inventory API calls a stock sync uses: `bulkUpdatePriceQuantity` (at most 25 SKUs a
//! call, each answered on its own with a status code: 200 when every one applied, else 207),
//! `getInventoryItems` (paged by `limit` and an `offset` that counts pages, as eBay documents it)
//! and `getOffers` by SKU.
//!
//! A quantity is set on the inventory item (`shipToLocationAvailability`, the total for sale) and
//! on the offer (`availableQuantity`, what its marketplace may sell); the listing offers the
//! smaller, so a rise must reach both (see [`Listing`]).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};

use super::errors::{bad_request, error, not_found, INVENTORY};
use super::model::amount;
use super::store::{EbayStore, Listing};
use crate::http_util::json;
use crate::money::parse_cents;
use crate::query::Query;

/// eBay's cap on `requests` per `bulkUpdatePriceQuantity` call.
pub const MAX_BULK: usize = 25;

#[derive(Debug, Deserialize)]
struct BulkPriceQuantity {
    #[serde(default)]
    requests: Vec<PriceQuantity>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PriceQuantity {
    sku: Option<String>,
    ship_to_location_availability: Option<Availability>,
    #[serde(default)]
    offers: Vec<OfferPriceQuantity>,
}

#[derive(Debug, Deserialize)]
struct Availability {
    quantity: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OfferPriceQuantity {
    offer_id: Option<String>,
    available_quantity: Option<i64>,
    price: Option<Price>,
}

#[derive(Debug, Deserialize)]
struct Price {
    value: Option<String>,
}

fn invalid_value(field: &str) -> Value {
    error(
        25709,
        INVENTORY,
        "REQUEST",
        &format!("Invalid value for {field}."),
        None,
    )
}

/// One request item's answer, applying it if it is good.
fn apply(listings: &mut std::collections::BTreeMap<String, Listing>, item: PriceQuantity) -> Value {
    let sku = item.sku.unwrap_or_default();
    let refuse =
        |status: u16, error: Value| json!({ "statusCode": status, "sku": sku, "errors": [error] });
    let Some(listing) = listings.get_mut(&sku) else {
        return refuse(
            404,
            error(
                25702,
                INVENTORY,
                "REQUEST",
                &format!("SKU {sku} is not available in the system."),
                None,
            ),
        );
    };
    let quantity = item.ship_to_location_availability.and_then(|a| a.quantity);
    if quantity.is_some_and(|q| q < 0) {
        return refuse(400, invalid_value("shipToLocationAvailability.quantity"));
    }
    let mut price = None;
    let mut offer_quantity = None;
    for offer in &item.offers {
        if offer.offer_id.as_deref() != Some(listing.offer_id.as_str()) {
            return refuse(
                404,
                error(
                    25713,
                    INVENTORY,
                    "REQUEST",
                    "This Offer is not available.",
                    None,
                ),
            );
        }
        if let Some(p) = &offer.price {
            match p.value.as_deref().and_then(parse_cents) {
                Some(cents) if cents > 0 => price = Some(cents),
                _ => return refuse(400, invalid_value("offers.price.value")),
            }
        }
        match offer.available_quantity {
            Some(q) if q < 0 => return refuse(400, invalid_value("offers.availableQuantity")),
            Some(q) => offer_quantity = Some(q),
            None => {}
        }
    }
    if let Some(quantity) = quantity {
        listing.quantity = quantity;
    }
    if let Some(quantity) = offer_quantity {
        listing.offer_quantity = quantity;
    }
    if let Some(cents) = price {
        listing.price_cents = cents;
    }
    let mut answer = json!({ "statusCode": 200, "sku": sku });
    if !item.offers.is_empty() {
        answer["offerId"] = json!(listing.offer_id);
    }
    answer
}

/// `POST /sell/inventory/v1/bulk_update_price_quantity`.
pub async fn bulk_update(State(store): State<Arc<EbayStore>>, body: Bytes) -> Response {
    let Ok(request) = serde_json::from_slice::<BulkPriceQuantity>(&body) else {
        return bad_request(25709, INVENTORY, "Invalid value for requests.");
    };
    if request.requests.is_empty() || request.requests.len() > MAX_BULK {
        return bad_request(
            25709,
            INVENTORY,
            &format!(
                "Invalid value for requests. Between 1 and {MAX_BULK} are allowed, {} were sent.",
                request.requests.len()
            ),
        );
    }
    let responses: Vec<Value> = {
        let mut state = store.state();
        request
            .requests
            .into_iter()
            .map(|item| apply(&mut state.listings, item))
            .collect()
    };
    let all_ok = responses.iter().all(|r| r["statusCode"] == 200);
    let status = if all_ok {
        StatusCode::OK
    } else {
        StatusCode::MULTI_STATUS
    };
    json(status, &json!({ "responses": responses }))
}

fn item_json(listing: &Listing) -> Value {
    let mut product = json!({ "title": listing.title, "imageUrls": [] });
    if let Some(url) = &listing.image_url {
        product["imageUrls"] = json!([url]);
    }
    let mut item = json!({
        "sku": listing.sku,
        "locale": "en_GB",
        "condition": "NEW",
        "product": product,
        "availability": {
            "shipToLocationAvailability": { "quantity": listing.quantity.max(0) },
        },
    });
    let mut package = serde_json::Map::new();
    if let Some(grams) = listing.weight_grams {
        package.insert("weight".into(), json!({ "value": grams, "unit": "GRAM" }));
    }
    if let Some([length, width, height]) = &listing.dimensions_cm {
        let side = |text: &str| text.parse::<f64>().ok();
        if let (Some(length), Some(width), Some(height)) = (side(length), side(width), side(height))
        {
            package.insert(
                "dimensions".into(),
                json!({ "length": length, "width": width, "height": height, "unit": "CENTIMETER" }),
            );
        }
    }
    if !package.is_empty() {
        item["packageWeightAndSize"] = Value::Object(package);
    }
    item
}

fn offer_json(listing: &Listing, store: &EbayStore) -> Value {
    json!({
        "offerId": listing.offer_id,
        "sku": listing.sku,
        "marketplaceId": store.config.marketplace_id,
        "format": "FIXED_PRICE",
        "availableQuantity": listing.offer_quantity.max(0),
        "pricingSummary": { "price": amount(listing.price_cents, &store.config.currency) },
        "listing": {
            "listingId": listing.listing_id,
            "listingStatus": "ACTIVE",
            "soldQuantity": listing.sold,
        },
        "status": "PUBLISHED",
    })
}

/// `GET /sell/inventory/v1/inventory_item?limit=&offset=`; `offset` is the page number.
pub async fn items(State(store): State<Arc<EbayStore>>, RawQuery(raw): RawQuery) -> Response {
    let query = Query::parse(raw.as_deref().unwrap_or(""));
    let parse = |key: &str, default: usize| match query.get(key) {
        None => Some(default),
        Some(text) => text.trim().parse::<usize>().ok(),
    };
    let invalid_paging = || {
        bad_request(
            25706,
            INVENTORY,
            "You have provided invalid pagination values.",
        )
    };
    let Some(limit) = parse("limit", 25).filter(|l| (1..=200).contains(l)) else {
        return invalid_paging();
    };
    let Some(page) = parse("offset", 0) else {
        return invalid_paging();
    };
    let href = |page: usize| {
        format!(
            "{}/sell/inventory/v1/inventory_item?offset={page}&limit={limit}",
            store.base_url
        )
    };
    let state = store.state();
    let total = state.listings.len();
    let inventory_items: Vec<Value> = state
        .listings
        .values()
        .skip(page.saturating_mul(limit))
        .take(limit)
        .map(item_json)
        .collect();
    let mut body = json!({
        "href": href(page),
        "total": total,
        "size": inventory_items.len(),
        "limit": limit,
        "inventoryItems": inventory_items,
    });
    if (page + 1).saturating_mul(limit) < total {
        body["next"] = json!(href(page + 1));
    }
    if page > 0 {
        body["prev"] = json!(href(page - 1));
    }
    json(StatusCode::OK, &body)
}

/// `GET /sell/inventory/v1/offer?sku=`.
pub async fn offers(State(store): State<Arc<EbayStore>>, RawQuery(raw): RawQuery) -> Response {
    let query = Query::parse(raw.as_deref().unwrap_or(""));
    let Some(sku) = query.get("sku").filter(|s| !s.is_empty()) else {
        return bad_request(25709, INVENTORY, "Invalid value for sku.");
    };
    let state = store.state();
    let Some(listing) = state.listings.get(sku) else {
        return not_found(
            25702,
            INVENTORY,
            &format!("SKU {sku} is not available in the system."),
        );
    };
    json(
        StatusCode::OK,
        &json!({
            "href": format!("{}/sell/inventory/v1/offer?sku={sku}", store.base_url),
            "total": 1,
            "size": 1,
            // getOffers' page size when `limit` is not given.
            "limit": 100,
            "offers": [offer_json(listing, &store)],
        }),
    )
}
