//! The catalogue side a connector reads: `shop.json`, `locations.json`, `products.json` (with
//! `since_id`, `ids`, `limit` and `page_info` paging by id), `products/{id}.json`, `products/count.json`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use super::errors::{bad_param, json_id, not_found};
use super::model::Product;
use super::orders::{page_answer, page_request, select_fields, PageRequest};
use super::paging::{self, PageToken};
use super::store::{ShopState, ShopifyStore};
use crate::http_util::{json, request_url};
use crate::orderbook::SortBy;
use crate::query::Query;

fn product_json(store: &ShopifyStore, state: &ShopState, p: &Product) -> Value {
    p.to_json(&store.ctx, |item| {
        state
            .inventory
            .range((item, 0)..=(item, u64::MAX))
            .map(|(_, q)| *q)
            .sum()
    })
}

pub async fn shop(State(store): State<Arc<ShopifyStore>>) -> Response {
    let created = store.state().started_at;
    json(
        StatusCode::OK,
        &json!({"shop": {
            "id": store.shop_id,
            "name": store.config.name,
            "email": format!("owner@{}", store.ctx.domain),
            "domain": store.ctx.domain,
            "myshopify_domain": store.ctx.domain,
            "currency": store.ctx.currency,
            "iana_timezone": "America/New_York",
            "timezone": "(GMT-05:00) America/New_York",
            "plan_name": "basic",
            "created_at": store.ctx.time(created),
            "updated_at": store.ctx.time(created),
        }}),
    )
}

pub async fn locations(State(store): State<Arc<ShopifyStore>>) -> Response {
    let state = store.state();
    let list: Vec<Value> = state
        .locations
        .iter()
        .map(|l| l.to_json(&store.ctx, state.started_at))
        .collect();
    json(StatusCode::OK, &json!({ "locations": list }))
}

/// Filters of a product listing, carried in `page_info`.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct ProductFilters {
    since_id: Option<u64>,
    ids: Option<Vec<u64>>,
}

pub async fn list(
    State(store): State<Arc<ShopifyStore>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = Query::parse(raw.as_deref().unwrap_or(""));
    let request = page_request(&q, || {
        let since_id = match q.get("since_id").map(str::parse::<u64>) {
            None => None,
            Some(Ok(id)) => Some(id),
            Some(Err(_)) => return Err(bad_param("since_id", "Invalid value.")),
        };
        let ids = q.get("ids").map(|text| {
            text.split(',')
                .filter_map(|s| s.trim().parse::<u64>().ok())
                .collect::<Vec<_>>()
        });
        let filters = ProductFilters { since_id, ids };
        Ok(PageToken::first(filters, SortBy::Id, false))
    });
    let PageRequest {
        limit,
        token,
        from_token,
    } = match request {
        Ok(request) => request,
        Err(response) => return response,
    };
    let state = store.state();
    let filters = &token.filters;
    let matching = |p: &&Product| {
        filters.since_id.is_none_or(|s| p.id > s)
            && filters.ids.as_ref().is_none_or(|ids| ids.contains(&p.id))
    };
    let walk: Box<dyn Iterator<Item = &Product>> = match (from_token, token.backwards) {
        (false, _) => Box::new(state.products.iter().filter(matching)),
        (true, false) => Box::new(
            state
                .products
                .iter()
                .filter(move |p| p.id > token.cursor.1)
                .filter(matching),
        ),
        (true, true) => Box::new(
            state
                .products
                .iter()
                .rev()
                .filter(move |p| p.id < token.cursor.1)
                .filter(matching),
        ),
    };
    let page = paging::take_page(walk, limit, &token, from_token, |p| (0, p.id));
    let products: Vec<Value> = page
        .items
        .iter()
        .map(|p| select_fields(product_json(&store, &state, p), q.get("fields")))
        .collect();
    let url = request_url(&headers, uri.path());
    let link = paging::link_header(&url, limit, page.previous, page.next);
    page_answer("products", products, link)
}

pub async fn get_one(
    State(store): State<Arc<ShopifyStore>>,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let segment = params.get("file").map(String::as_str).unwrap_or("");
    let state = store.state();
    if segment == "count.json" {
        return json(StatusCode::OK, &json!({ "count": state.products.len() }));
    }
    let Some(id) = json_id(segment) else {
        return not_found();
    };
    match state.products.iter().find(|p| p.id == id) {
        Some(p) => json(
            StatusCode::OK,
            &json!({ "product": product_json(&store, &state, p) }),
        ),
        None => not_found(),
    }
}
