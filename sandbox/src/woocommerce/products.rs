//! Products and variations: `GET /products` (paged, `sku`, `include`), `GET/PUT /products/{id}`
//! and `GET /products/{id}/variations`, `GET/PUT /products/{id}/variations/{vid}`, and the batch
//! endpoints `POST /products/batch` and `POST /products/{id}/variations/batch` (`update` only,
//! at most 100 items a request as WooCommerce's `woocommerce_rest_batch_items_limit`; an item
//! that fails carries its own `error` while the others apply). Stock is pushed with
//! `{manage_stock, stock_quantity}`; `stock_quantity` only counts when stock is managed.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value};

use super::errors::{invalid_id, invalid_param};
use super::model::StockUpdate;
use super::orders::{ids, list_response, paging};
use super::params::{as_bool, as_int, body_fields, id_param};
use super::store::WooStore;
use crate::http_util::{json, request_url};
use crate::query::Query;
use crate::timefmt;

pub async fn list(
    State(store): State<Arc<WooStore>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = Query::parse(raw.as_deref().unwrap_or(""));
    let (page, per_page) = match paging(&q) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let sku = q
        .get("sku")
        .map(|s| s.split(',').map(str::to_string).collect::<Vec<_>>());
    let include = ids(&q, "include");
    let ascending = q.get("order") == Some("asc");
    let state = store.state();
    let mut matching: Vec<&super::model::Product> = state
        .products
        .iter()
        .filter(|p| sku.as_ref().is_none_or(|s| s.contains(&p.sku)))
        .filter(|p| include.as_ref().is_none_or(|ids| ids.contains(&p.id)))
        .collect();
    if !ascending {
        matching.reverse();
    }
    let total = matching.len();
    let items: Vec<Value> = matching
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|p| p.to_json(&store.base_url))
        .collect();
    drop(state);
    list_response(
        items,
        total,
        page,
        per_page,
        &request_url(&headers, uri.path()),
        &q,
    )
}

pub async fn get_one(
    State(store): State<Arc<WooStore>>,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let state = store.state();
    match id_param(&params, "id").and_then(|id| state.products.iter().find(|p| p.id == id)) {
        Some(p) => json(StatusCode::OK, &p.to_json(&store.base_url)),
        None => invalid_id("woocommerce_rest_product_invalid_id"),
    }
}

/// Parses `{manage_stock, stock_quantity}` from a body.
fn stock_fields(headers: &HeaderMap, body: &[u8]) -> Result<StockUpdate, Response> {
    let fields: Map<String, Value> = body_fields(headers, body)?;
    stock_update(&fields)
}

/// `{manage_stock, stock_quantity}` of one object.
fn stock_update(fields: &Map<String, Value>) -> Result<StockUpdate, Response> {
    let manage = match fields.get("manage_stock") {
        None => None,
        Some(v) => Some(as_bool(v).ok_or_else(|| {
            invalid_param(
                "manage_stock",
                "manage_stock is not of type boolean.",
                "rest_invalid_type",
            )
        })?),
    };
    let quantity = match fields.get("stock_quantity") {
        None | Some(Value::Null) => None,
        Some(v) => Some(as_int(v).ok_or_else(|| {
            invalid_param(
                "stock_quantity",
                "stock_quantity is not of type integer.",
                "rest_invalid_type",
            )
        })?),
    };
    Ok(StockUpdate {
        manage_stock: manage,
        stock_quantity: quantity,
    })
}

pub async fn update(
    State(store): State<Arc<WooStore>>,
    Path(params): Path<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let update = match stock_fields(&headers, &body) {
        Ok(update) => update,
        Err(r) => return r,
    };
    let now = timefmt::now();
    let mut state = store.state();
    let Some(p) =
        id_param(&params, "id").and_then(|id| state.products.iter_mut().find(|p| p.id == id))
    else {
        return invalid_id("woocommerce_rest_product_invalid_id");
    };
    p.update_stock(update, now);
    json(StatusCode::OK, &p.to_json(&store.base_url))
}

pub async fn variations(
    State(store): State<Arc<WooStore>>,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let state = store.state();
    let Some(p) = id_param(&params, "id").and_then(|id| state.products.iter().find(|p| p.id == id))
    else {
        return invalid_id("woocommerce_rest_product_invalid_id");
    };
    let list: Vec<Value> = p
        .variations
        .iter()
        .map(|v| p.variation_json(v, &store.base_url))
        .collect();
    let total = list.len();
    let mut response = json(StatusCode::OK, &Value::Array(list));
    crate::http_util::set_header(&mut response, "x-wp-total", &total.to_string());
    crate::http_util::set_header(
        &mut response,
        "x-wp-totalpages",
        if total == 0 { "0" } else { "1" },
    );
    response
}

pub async fn variation(
    State(store): State<Arc<WooStore>>,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let state = store.state();
    let found = id_param(&params, "id")
        .and_then(|id| state.products.iter().find(|p| p.id == id))
        .and_then(|p| {
            let vid = id_param(&params, "vid")?;
            p.variations
                .iter()
                .find(|v| v.id == vid)
                .map(|v| p.variation_json(v, &store.base_url))
        });
    match found {
        Some(v) => json(StatusCode::OK, &v),
        None => invalid_id("woocommerce_rest_product_variation_invalid_id"),
    }
}

pub async fn update_variation(
    State(store): State<Arc<WooStore>>,
    Path(params): Path<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let update = match stock_fields(&headers, &body) {
        Ok(update) => update,
        Err(r) => return r,
    };
    let now = timefmt::now();
    let mut state = store.state();
    let (Some(pid), Some(vid)) = (id_param(&params, "id"), id_param(&params, "vid")) else {
        return invalid_id("woocommerce_rest_product_variation_invalid_id");
    };
    let Some(p) = state.products.iter_mut().find(|p| p.id == pid) else {
        return invalid_id("woocommerce_rest_product_invalid_id");
    };
    let Some(v) = p.variations.iter_mut().find(|v| v.id == vid) else {
        return invalid_id("woocommerce_rest_product_variation_invalid_id");
    };
    v.update_stock(update, now);
    let v = v.clone();
    json(StatusCode::OK, &p.variation_json(&v, &store.base_url))
}

/// WooCommerce's default `woocommerce_rest_batch_items_limit`.
pub const BATCH_LIMIT: usize = 100;

/// An item of a batch that failed: its id and WooCommerce's error, as the batch answers it.
fn item_error(id: Value, code: &str, message: &str, status: u16) -> Value {
    serde_json::json!({"id": id, "error": {"code": code, "message": message,
                                           "data": {"status": status}}})
}

/// The `update` items of a batch request, or the answer refusing the whole request.
fn batch_updates(body: &[u8]) -> Result<Vec<Map<String, Value>>, Response> {
    let parsed: Value = serde_json::from_slice(body).map_err(|_| {
        super::errors::error(
            StatusCode::BAD_REQUEST,
            "rest_invalid_json",
            "Invalid JSON body passed.",
        )
    })?;
    let items: Vec<Map<String, Value>> = match parsed.get("update") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_object().cloned().unwrap_or_default())
            .collect(),
        Some(_) => {
            return Err(invalid_param(
                "update",
                "update is not of type array.",
                "rest_invalid_type",
            ))
        }
    };
    let total = items.len()
        + ["create", "delete"]
            .iter()
            .filter_map(|k| parsed.get(*k).and_then(Value::as_array))
            .map(Vec::len)
            .sum::<usize>();
    if total > BATCH_LIMIT {
        return Err(super::errors::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "woocommerce_rest_request_entity_too_large",
            &format!("Unable to accept more than {BATCH_LIMIT} items for this request."),
        ));
    }
    Ok(items)
}

/// `POST /products/batch`: stock updates of many products in one request.
pub async fn batch(State(store): State<Arc<WooStore>>, body: Bytes) -> Response {
    let items = match batch_updates(&body) {
        Ok(items) => items,
        Err(r) => return r,
    };
    let now = timefmt::now();
    let mut state = store.state();
    let answers: Vec<Value> = items
        .iter()
        .map(|item| {
            let id = item.get("id").cloned().unwrap_or(Value::Null);
            let Some(p) = as_int(&id).and_then(|id| {
                state
                    .products
                    .iter_mut()
                    .find(|p| i64::try_from(p.id).ok() == Some(id))
            }) else {
                return item_error(
                    id,
                    "woocommerce_rest_product_invalid_id",
                    "Invalid ID.",
                    400,
                );
            };
            match stock_update(item) {
                Ok(update) => {
                    p.update_stock(update, now);
                    p.to_json(&store.base_url)
                }
                Err(_) => item_error(id, "rest_invalid_param", "Invalid parameter(s).", 400),
            }
        })
        .collect();
    json(StatusCode::OK, &serde_json::json!({ "update": answers }))
}

/// `POST /products/{id}/variations/batch`: stock updates of many variations of one product.
pub async fn variations_batch(
    State(store): State<Arc<WooStore>>,
    Path(params): Path<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let items = match batch_updates(&body) {
        Ok(items) => items,
        Err(r) => return r,
    };
    let now = timefmt::now();
    let mut state = store.state();
    let Some(p) =
        id_param(&params, "id").and_then(|id| state.products.iter_mut().find(|p| p.id == id))
    else {
        return invalid_id("woocommerce_rest_product_invalid_id");
    };
    let mut answers = Vec::with_capacity(items.len());
    for item in &items {
        let id = item.get("id").cloned().unwrap_or(Value::Null);
        let found = as_int(&id).and_then(|id| {
            p.variations
                .iter()
                .position(|v| i64::try_from(v.id).ok() == Some(id))
        });
        let Some(i) = found else {
            answers.push(item_error(
                id,
                "woocommerce_rest_product_variation_invalid_id",
                "Invalid ID.",
                400,
            ));
            continue;
        };
        match stock_update(item) {
            Ok(update) => {
                p.variations[i].update_stock(update, now);
                let v = p.variations[i].clone();
                answers.push(p.variation_json(&v, &store.base_url));
            }
            Err(_) => answers.push(item_error(
                id,
                "rest_invalid_param",
                "Invalid parameter(s).",
                400,
            )),
        }
    }
    json(StatusCode::OK, &serde_json::json!({ "update": answers }))
}
