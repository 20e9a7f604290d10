//! Inventory levels: `GET inventory_levels.json` by items and/or locations, and
//! `POST inventory_levels/set.json` / `adjust.json`, which is how a connector pushes stock.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};

use super::errors::{bad_param, errors, missing_root, unprocessable};
use super::orders::parse_limit;
use super::store::{ShopState, ShopifyStore};
use crate::http_util::json;
use crate::query::Query;
use crate::timefmt;

fn level_json(store: &ShopifyStore, item: u64, location: u64, available: i64) -> Value {
    json!({
        "inventory_item_id": item,
        "location_id": location,
        "available": available,
        "updated_at": store.ctx.time(timefmt::now()),
        "admin_graphql_api_id": format!("gid://shopify/InventoryLevel/{location}?inventory_item_id={item}")
    })
}

fn id_list(q: &Query, name: &'static str) -> Result<Option<Vec<u64>>, Response> {
    match q.get(name) {
        None | Some("") => Ok(None),
        Some(text) => text
            .split(',')
            .map(|s| s.trim().parse::<u64>())
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
            .map_err(|_| bad_param(name, "Invalid value.")),
    }
}

pub async fn list(State(store): State<Arc<ShopifyStore>>, RawQuery(raw): RawQuery) -> Response {
    let q = Query::parse(raw.as_deref().unwrap_or(""));
    let limit = match parse_limit(&q) {
        Ok(l) => l,
        Err(r) => return r,
    };
    let items = match id_list(&q, "inventory_item_ids") {
        Ok(v) => v,
        Err(r) => return r,
    };
    let locations = match id_list(&q, "location_ids") {
        Ok(v) => v,
        Err(r) => return r,
    };
    if items.is_none() && locations.is_none() {
        return errors(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!("inventory_item_ids, location_ids: one or both are required"),
        );
    }
    let state = store.state();
    let levels: Vec<Value> = state
        .inventory
        .iter()
        .filter(|((item, loc), _)| {
            items.as_ref().is_none_or(|v| v.contains(item))
                && locations.as_ref().is_none_or(|v| v.contains(loc))
        })
        .take(limit)
        .map(|((item, loc), available)| level_json(&store, *item, *loc, *available))
        .collect();
    json(StatusCode::OK, &json!({ "inventory_levels": levels }))
}

/// `GET inventory_items.json?ids=...`: the items behind variants, which carry the customs details
/// (tariff code, country of origin). `ids` is required, at most 100 of them.
pub async fn items(State(store): State<Arc<ShopifyStore>>, RawQuery(raw): RawQuery) -> Response {
    let q = Query::parse(raw.as_deref().unwrap_or(""));
    let ids = match id_list(&q, "ids") {
        Ok(Some(ids)) if ids.len() <= 100 => ids,
        Ok(Some(_)) => return bad_param("ids", "Too many ids: at most 100."),
        Ok(None) => return bad_param("ids", "Required parameter missing or invalid"),
        Err(r) => return r,
    };
    let state = store.state();
    let items: Vec<Value> = state
        .products
        .iter()
        .flat_map(|p| p.variants.iter().map(move |v| (p, v)))
        .filter(|(_, v)| ids.contains(&v.inventory_item_id))
        .map(|(p, v)| {
            json!({
                "id": v.inventory_item_id,
                "sku": v.sku,
                "created_at": store.ctx.time(p.created_at),
                "updated_at": store.ctx.time(p.updated_at),
                "requires_shipping": true,
                "cost": null,
                "country_code_of_origin": p.details.country_of_origin,
                "province_code_of_origin": null,
                "harmonized_system_code": p.details.hs_code,
                "tracked": true,
                "country_harmonized_system_codes": [],
                "admin_graphql_api_id": format!("gid://shopify/InventoryItem/{}", v.inventory_item_id)
            })
        })
        .collect();
    json(StatusCode::OK, &json!({ "inventory_items": items }))
}

#[derive(Debug, Deserialize)]
struct SetBody {
    location_id: Option<u64>,
    inventory_item_id: Option<u64>,
    available: Option<i64>,
    available_adjustment: Option<i64>,
}

/// Checks both ids exist; Shopify refuses unknown items and locations with 422.
fn check(state: &ShopState, item: u64, location: u64) -> Result<(), Response> {
    if !state.locations.iter().any(|l| l.id == location) {
        return Err(unprocessable(&["Location could not be found".into()]));
    }
    if !state.inventory.contains_key(&(item, location)) {
        return Err(unprocessable(&["Inventory item could not be found".into()]));
    }
    Ok(())
}

fn parse_body(body: &Bytes) -> Result<(SetBody, u64, u64), Response> {
    let parsed: SetBody =
        serde_json::from_slice(body).map_err(|_| missing_root("inventory_level"))?;
    let item = parsed
        .inventory_item_id
        .ok_or_else(|| bad_param("inventory_item_id", "Required parameter missing or invalid"))?;
    let location = parsed
        .location_id
        .ok_or_else(|| bad_param("location_id", "Required parameter missing or invalid"))?;
    Ok((parsed, item, location))
}

pub async fn set(State(store): State<Arc<ShopifyStore>>, body: Bytes) -> Response {
    let (parsed, item, location) = match parse_body(&body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Some(available) = parsed.available else {
        return bad_param("available", "Required parameter missing or invalid");
    };
    let mut state = store.state();
    if let Err(r) = check(&state, item, location) {
        return r;
    }
    state.inventory.insert((item, location), available);
    json(
        StatusCode::OK,
        &json!({ "inventory_level": level_json(&store, item, location, available) }),
    )
}

pub async fn adjust(State(store): State<Arc<ShopifyStore>>, body: Bytes) -> Response {
    let (parsed, item, location) = match parse_body(&body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Some(delta) = parsed.available_adjustment else {
        return bad_param(
            "available_adjustment",
            "Required parameter missing or invalid",
        );
    };
    let mut state = store.state();
    if let Err(r) = check(&state, item, location) {
        return r;
    }
    let level = state.inventory.entry((item, location)).or_insert(0);
    *level += delta;
    let available = *level;
    json(
        StatusCode::OK,
        &json!({ "inventory_level": level_json(&store, item, location, available) }),
    )
}
