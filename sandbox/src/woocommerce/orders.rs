//! `GET /orders` (status lists, `after` / `modified_after` windows, `orderby`, `order`, `page`,
//! `per_page` up to 100, `X-WP-Total` / `X-WP-TotalPages` and a `Link` header), `GET /orders/{id}`
//! and `PUT /orders/{id}` (status changes with WooCommerce's stock and note side effects).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;

use super::errors::{invalid_id, invalid_order_id, invalid_param};
use super::model::{Order, SITE_OFFSET, STATUSES};
use super::params::{as_bool, as_text, body_fields, id_param};
use super::store::WooStore;
use crate::http_util::{json, request_url, set_header};
use crate::orderbook::SortBy;
use crate::query::{Query, QueryValue};
use crate::store::PlatformStore;
use crate::timefmt;

/// Reads `page` and `per_page` (default 10, 1..=100).
pub fn paging(q: &Query) -> Result<(usize, usize), Response> {
    let per_page = match q.get("per_page") {
        None => 10,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=100).contains(&n) => n,
            _ => {
                return Err(invalid_param(
                    "per_page",
                    "per_page must be between 1 (inclusive) and 100 (inclusive)",
                    "rest_out_of_bounds",
                ))
            }
        },
    };
    let page = match q.get("page") {
        None => 1,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if n >= 1 => n,
            _ => {
                return Err(invalid_param(
                    "page",
                    "page must be greater than or equal to 1",
                    "rest_out_of_bounds",
                ))
            }
        },
    };
    Ok((page, per_page))
}

/// Adds `X-WP-Total`, `X-WP-TotalPages` and WordPress's `Link` (rel="prev"/"next") to a list response.
pub fn list_response(
    items: Vec<Value>,
    total: usize,
    page: usize,
    per_page: usize,
    url: &str,
    q: &Query,
) -> Response {
    let pages = total.div_ceil(per_page);
    let mut response = json(StatusCode::OK, &Value::Array(items));
    set_header(&mut response, "x-wp-total", &total.to_string());
    set_header(&mut response, "x-wp-totalpages", &pages.to_string());
    let link_to = |target: usize| {
        let mut parts: Vec<String> = q
            .params
            .iter()
            .filter(|(k, _)| {
                k != "page"
                    && !k.starts_with("oauth_")
                    && k != "consumer_key"
                    && k != "consumer_secret"
            })
            .filter_map(|(k, v)| match v {
                QueryValue::Str(s) => Some(format!(
                    "{}={}",
                    super::oauth::encode(k),
                    super::oauth::encode(s)
                )),
                QueryValue::Map(_) => None,
            })
            .collect();
        parts.push(format!("page={target}"));
        format!("<{url}?{}>", parts.join("&"))
    };
    let mut links = Vec::new();
    if page > 1 && pages > 0 {
        links.push(format!("{}; rel=\"prev\"", link_to((page - 1).min(pages))));
    }
    if page < pages {
        links.push(format!("{}; rel=\"next\"", link_to(page + 1)));
    }
    if !links.is_empty() {
        set_header(&mut response, "link", &links.join(", "));
    }
    response
}

/// Statuses from `status=a,b`, `status[]=a&status[]=b` or `any`; `None` means any.
fn statuses(q: &Query) -> Result<Option<Vec<String>>, Response> {
    let raw: Vec<String> = match q.params.iter().find(|(k, _)| k == "status").map(|(_, v)| v) {
        None => return Ok(None),
        Some(QueryValue::Str(s)) => s.split(',').map(|x| x.trim().to_string()).collect(),
        Some(QueryValue::Map(items)) => items
            .iter()
            .filter_map(|(_, v)| match v {
                QueryValue::Str(s) => Some(s.trim().to_string()),
                QueryValue::Map(_) => None,
            })
            .collect(),
    };
    for (i, s) in raw.iter().enumerate() {
        if s != "any" && s != "trash" && s != "checkout-draft" && !STATUSES.contains(&s.as_str()) {
            return Err(invalid_param(
                "status",
                &format!("status[{i}] is not one of any, trash, pending, processing, on-hold, completed, cancelled, refunded, failed, and checkout-draft."),
                "rest_not_in_enum",
            ));
        }
    }
    Ok((!raw.iter().any(|s| s == "any")).then_some(raw))
}

fn date(q: &Query, name: &'static str) -> Result<Option<i64>, Response> {
    match q.get(name) {
        None | Some("") => Ok(None),
        Some(text) => timefmt::parse(text, SITE_OFFSET)
            .map(|t| Some(t.timestamp()))
            .ok_or_else(|| invalid_param(name, "Invalid date.", "rest_invalid_date")),
    }
}

/// A comma-separated list of ids (`include`, `exclude`); ids that do not parse are skipped.
pub fn ids(q: &Query, name: &str) -> Option<Vec<u64>> {
    q.get(name).map(|text| {
        text.split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect()
    })
}

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
    let statuses = match statuses(&q) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut windows = [None; 4];
    for (slot, name) in
        windows
            .iter_mut()
            .zip(["after", "before", "modified_after", "modified_before"])
    {
        match date(&q, name) {
            Ok(v) => *slot = v,
            Err(r) => return r,
        }
    }
    let [after, before, modified_after, modified_before] = windows;
    let (sort, default_desc) = match q.get("orderby").unwrap_or("date") {
        "date" | "id" | "include" | "title" | "slug" => (SortBy::Id, true),
        "modified" => (SortBy::Updated, true),
        other => {
            return invalid_param(
                "orderby",
                &format!(
                "orderby is not one of date, id, include, title, slug, and modified. Got {other}."
            ),
                "rest_not_in_enum",
            )
        }
    };
    let descending = match q.get("order") {
        None => default_desc,
        Some("desc") => true,
        Some("asc") => false,
        Some(_) => {
            return invalid_param(
                "order",
                "order is not one of asc and desc.",
                "rest_not_in_enum",
            )
        }
    };
    let include = ids(&q, "include");
    let exclude = ids(&q, "exclude");
    let customer: Option<u64> = q.get("customer").and_then(|c| c.parse().ok());
    let offset: Option<usize> = q.get("offset").and_then(|o| o.parse().ok());
    let matches = |o: &Order| {
        let created = o.created_at.timestamp();
        let modified = o.updated_at.timestamp();
        statuses.as_ref().is_none_or(|s| s.contains(&o.status))
            && after.is_none_or(|t| created > t)
            && before.is_none_or(|t| created < t)
            && modified_after.is_none_or(|t| modified > t)
            && modified_before.is_none_or(|t| modified < t)
            && include.as_ref().is_none_or(|v| v.contains(&o.id))
            && exclude.as_ref().is_none_or(|v| !v.contains(&o.id))
            && customer.is_none_or(|c| o.customer_id == c)
    };
    let state = store.state();
    let floor = if sort == SortBy::Updated {
        modified_after.map(|t| (t + 1, 0))
    } else {
        None
    };
    let skip = offset.unwrap_or((page - 1) * per_page);
    let mut total = 0usize;
    let mut items = Vec::new();
    for order in state
        .orders
        .scan(sort, descending, None, floor)
        .filter(|o| matches(o))
    {
        if total >= skip && items.len() < per_page {
            items.push(order.to_json(&store.base_url));
        }
        total += 1;
    }
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

pub fn order_id(params: &HashMap<String, String>) -> Option<u64> {
    id_param(params, "id")
}

/// 200 with what `read` makes of the order the path names (its notes, its trackings), or the
/// 404 of an unknown order.
pub fn order_part(
    store: &WooStore,
    params: &HashMap<String, String>,
    read: impl FnOnce(&Order) -> Value,
) -> Response {
    let state = store.state();
    match order_id(params).and_then(|id| state.orders.get(id)) {
        Some(order) => json(StatusCode::OK, &read(order)),
        None => invalid_order_id(),
    }
}

pub async fn get_one(
    State(store): State<Arc<WooStore>>,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let order = order_id(&params).and_then(|id| {
        store
            .state()
            .orders
            .get(id)
            .map(|o| o.to_json(&store.base_url))
    });
    match order {
        Some(order) => json(StatusCode::OK, &order),
        None => invalid_id("woocommerce_rest_shop_order_invalid_id"),
    }
}

/// `PUT /orders/{id}`: `status`, `customer_note`, `set_paid`, `transaction_id`.
pub async fn update(
    State(store): State<Arc<WooStore>>,
    Path(params): Path<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(id) = order_id(&params) else {
        return invalid_id("woocommerce_rest_shop_order_invalid_id");
    };
    let fields = match body_fields(&headers, &body) {
        Ok(fields) => fields,
        Err(refused) => return refused,
    };
    let status = fields.get("status").and_then(as_text);
    if let Some(s) = &status {
        if !STATUSES.contains(&s.as_str()) {
            return invalid_param(
                "status",
                "status is not one of pending, processing, on-hold, completed, cancelled, refunded, failed, and checkout-draft.",
                "rest_not_in_enum",
            );
        }
    }
    let set_paid = fields.get("set_paid").and_then(as_bool).unwrap_or(false);
    let note = fields.get("customer_note").and_then(as_text);
    let now = timefmt::now();
    let (rendered, outgoing) = {
        let mut state = store.state();
        if state.orders.get(id).is_none() {
            return invalid_id("woocommerce_rest_shop_order_invalid_id");
        }
        let target = match (&status, set_paid) {
            (Some(s), _) => Some(s.clone()),
            (None, true) => Some("processing".to_string()),
            (None, false) => None,
        };
        if let Some(target) = target {
            state.set_status(id, &target, now);
        }
        state.orders.update(id, |o| {
            if let Some(note) = note {
                o.customer_note = note;
            }
            if set_paid && o.paid_at.is_none() {
                o.paid_at = Some(now);
            }
            o.updated_at = now;
        });
        let rendered = state.orders.get(id).map(|o| o.to_json(&store.base_url));
        (rendered, store.outgoing(&state, &[("order.updated", id)]))
    };
    store.dispatch(outgoing);
    match rendered {
        Some(order) => json(StatusCode::OK, &order),
        None => invalid_id("woocommerce_rest_shop_order_invalid_id"),
    }
}
