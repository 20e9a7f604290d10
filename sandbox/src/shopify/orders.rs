//! `GET orders.json`, `orders/count.json` and `orders/{id}.json`: Shopify's order filters
//! (status, financial and fulfillment status, time windows, since_id, ids), `limit` up to 250 and
//! cursor paging by `page_info`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::errors::{bad_param, errors, json_id, not_found};
use super::model::{FinancialStatus, Order};
use super::paging::{self, PageToken, ALLOWED_WITH_PAGE_INFO};
use super::store::ShopifyStore;
use crate::http_util::{json, request_url, set_header};
use crate::orderbook::{OrderBook, SortBy};
use crate::query::Query;
use crate::timefmt;

const INVALID: &str = "Invalid value.";

/// The filters of a listing, kept inside `page_info` tokens.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct OrderFilters {
    pub status: String,
    pub financial_status: Option<String>,
    pub fulfillment_status: Option<String>,
    pub updated_at_min: Option<i64>,
    pub updated_at_max: Option<i64>,
    pub created_at_min: Option<i64>,
    pub created_at_max: Option<i64>,
    pub since_id: Option<u64>,
    pub ids: Option<Vec<u64>>,
}

impl OrderFilters {
    /// Reads filters from a first-page query; `Err` is the parameter at fault.
    pub fn from_query(q: &Query, offset_minutes: i32) -> Result<OrderFilters, &'static str> {
        let status = q.get("status").unwrap_or("open").to_string();
        if !["open", "closed", "cancelled", "any"].contains(&status.as_str()) {
            return Err("status");
        }
        let financial_status = q.get("financial_status").map(str::to_string);
        const FINANCIAL: &[&str] = &[
            "any",
            "authorized",
            "pending",
            "paid",
            "partially_paid",
            "refunded",
            "voided",
            "partially_refunded",
            "unpaid",
        ];
        if financial_status
            .as_deref()
            .is_some_and(|f| !FINANCIAL.contains(&f))
        {
            return Err("financial_status");
        }
        let fulfillment_status = q.get("fulfillment_status").map(str::to_string);
        const FULFILLMENT: &[&str] = &[
            "any",
            "shipped",
            "fulfilled",
            "partial",
            "unshipped",
            "unfulfilled",
        ];
        if fulfillment_status
            .as_deref()
            .is_some_and(|f| !FULFILLMENT.contains(&f))
        {
            return Err("fulfillment_status");
        }
        let time = |name: &'static str| -> Result<Option<i64>, &'static str> {
            match q.get(name) {
                None | Some("") => Ok(None),
                Some(text) => timefmt::parse(text, offset_minutes)
                    .map(|t| Some(t.timestamp()))
                    .ok_or(name),
            }
        };
        let since_id = match q.get("since_id") {
            None | Some("") => None,
            Some(text) => Some(text.parse().map_err(|_| "since_id")?),
        };
        let ids = match q.get("ids") {
            None | Some("") => None,
            Some(text) => Some(
                text.split(',')
                    .map(|s| s.trim().parse::<u64>())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| "ids")?,
            ),
        };
        Ok(OrderFilters {
            status,
            financial_status,
            fulfillment_status,
            updated_at_min: time("updated_at_min")?,
            updated_at_max: time("updated_at_max")?,
            created_at_min: time("created_at_min")?,
            created_at_max: time("created_at_max")?,
            since_id,
            ids,
        })
    }

    pub fn matches(&self, o: &Order) -> bool {
        let status_ok = match self.status.as_str() {
            "open" => o.cancelled_at.is_none() && o.closed_at.is_none(),
            "closed" => o.closed_at.is_some() && o.cancelled_at.is_none(),
            "cancelled" => o.cancelled_at.is_some(),
            _ => true,
        };
        let financial_ok = match self.financial_status.as_deref() {
            None | Some("any") => true,
            Some("unpaid") => o.financial_status == FinancialStatus::Pending,
            Some(f) => o.financial_status.as_str() == f,
        };
        let fulfillment = o.fulfillment_status();
        let fulfillment_ok = match self.fulfillment_status.as_deref() {
            None | Some("any") => true,
            Some("shipped") | Some("fulfilled") => fulfillment == Some("fulfilled"),
            Some("partial") => fulfillment == Some("partial"),
            Some("unshipped") => fulfillment.is_none(),
            Some(_) => fulfillment != Some("fulfilled"),
        };
        let updated = o.updated_at.timestamp();
        let created = o.created_at.timestamp();
        status_ok
            && financial_ok
            && fulfillment_ok
            && self.updated_at_min.is_none_or(|t| updated >= t)
            && self.updated_at_max.is_none_or(|t| updated <= t)
            && self.created_at_min.is_none_or(|t| created >= t)
            && self.created_at_max.is_none_or(|t| created <= t)
            && self.since_id.is_none_or(|id| o.id > id)
            && self.ids.as_ref().is_none_or(|ids| ids.contains(&o.id))
    }
}

/// `order=updated_at asc`; default newest first, or ascending id with `since_id`.
fn sort_order(q: &Query, since_id: bool) -> Result<(SortBy, bool), &'static str> {
    let Some(text) = q.get("order") else {
        return Ok((SortBy::Id, !since_id));
    };
    let mut parts = text.split_whitespace();
    let sort = match parts.next() {
        Some("id") | Some("created_at") | Some("processed_at") => SortBy::Id,
        Some("updated_at") => SortBy::Updated,
        _ => return Err("order"),
    };
    let descending = match parts.next().map(str::to_ascii_lowercase).as_deref() {
        None | Some("desc") => true,
        Some("asc") => false,
        Some(_) => return Err("order"),
    };
    Ok((sort, descending))
}

/// Parses `limit` (default 50, 1..=250).
pub fn parse_limit(q: &Query) -> Result<usize, Response> {
    match q.get("limit") {
        None => Ok(50),
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=250).contains(&n) => Ok(n),
            _ => Err(bad_param("limit", INVALID)),
        },
    }
}

/// Rejects filters sent alongside `page_info`, as Shopify does.
fn reject_extra_params(q: &Query) -> Result<(), Response> {
    match q.keys().find(|k| !ALLOWED_WITH_PAGE_INFO.contains(k)) {
        Some(extra) => Err(bad_param(extra, &paging::forbidden_with_page_info(extra))),
        None => Ok(()),
    }
}

/// What a listing request asks for: its page size and the token of the page, and whether that
/// token came with the request (`page_info`) or is the first page's.
pub struct PageRequest<F> {
    pub limit: usize,
    pub token: PageToken<F>,
    pub from_token: bool,
}

/// Reads a listing request: its `limit`, and its `page_info` token (which the request's filters
/// may not accompany) or else the first page's token, which `first` makes from the filters.
/// `Err` is the answer to send instead.
pub fn page_request<F: serde::de::DeserializeOwned>(
    q: &Query,
    first: impl FnOnce() -> Result<PageToken<F>, Response>,
) -> Result<PageRequest<F>, Response> {
    let limit = parse_limit(q)?;
    let (token, from_token) = match q.get("page_info") {
        Some(text) => {
            reject_extra_params(q)?;
            let token = paging::decode::<F>(text).ok_or_else(|| bad_param("page_info", INVALID))?;
            (token, true)
        }
        None => (first()?, false),
    };
    Ok(PageRequest {
        limit,
        token,
        from_token,
    })
}

/// A listing's answer: `{key: items}` with the `Link` header to its neighbours.
pub fn page_answer(key: &str, items: Vec<Value>, link: Option<String>) -> Response {
    let mut response = json(StatusCode::OK, &json!({ key: items }));
    if let Some(link) = link {
        set_header(&mut response, "link", &link);
    }
    response
}

/// Keeps only the top-level keys named in `fields=a,b`.
pub fn select_fields(value: Value, fields: Option<&str>) -> Value {
    let Some(fields) = fields.filter(|f| !f.trim().is_empty()) else {
        return value;
    };
    let wanted: Vec<&str> = fields.split(',').map(str::trim).collect();
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(k, _)| wanted.contains(&k.as_str()))
                .collect::<Map<String, Value>>(),
        ),
        other => other,
    }
}

pub async fn list(
    State(store): State<Arc<ShopifyStore>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = Query::parse(raw.as_deref().unwrap_or(""));
    let request = page_request(&q, || {
        let filters = OrderFilters::from_query(&q, store.ctx.offset_minutes)
            .map_err(|param| bad_param(param, INVALID))?;
        let (sort, descending) = sort_order(&q, filters.since_id.is_some())
            .map_err(|param| bad_param(param, INVALID))?;
        Ok(PageToken::first(filters, sort, descending))
    });
    let PageRequest {
        limit,
        token,
        from_token,
    } = match request {
        Ok(request) => request,
        Err(response) => return response,
    };
    let (orders, link) = {
        let state = store.state();
        let floor = token.filters.updated_at_min.map(|t| (t, 0));
        let after = from_token.then_some(token.cursor);
        let walk = state
            .orders
            .scan(
                token.sort,
                token.descending != token.backwards,
                after,
                floor,
            )
            .filter(|o| token.filters.matches(o));
        let page = paging::take_page(walk, limit, &token, from_token, |o| {
            OrderBook::key_of(token.sort, o)
        });
        let orders: Vec<Value> = page
            .items
            .iter()
            .map(|o| select_fields(o.to_json(&store.ctx), q.get("fields")))
            .collect();
        let url = request_url(&headers, uri.path());
        (
            orders,
            paging::link_header(&url, limit, page.previous, page.next),
        )
    };
    page_answer("orders", orders, link)
}

/// `orders/{id}.json` and `orders/count.json` share a path shape.
pub async fn get_one(
    State(store): State<Arc<ShopifyStore>>,
    Path(params): Path<HashMap<String, String>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = Query::parse(raw.as_deref().unwrap_or(""));
    let segment = params.get("file").map(String::as_str).unwrap_or("");
    if segment == "count.json" {
        let filters = match OrderFilters::from_query(&q, store.ctx.offset_minutes) {
            Ok(f) => f,
            Err(param) => return bad_param(param, INVALID),
        };
        let count = store
            .state()
            .orders
            .iter()
            .filter(|o| filters.matches(o))
            .count();
        return json(StatusCode::OK, &json!({ "count": count }));
    }
    let Some(id) = json_id(segment) else {
        return not_found();
    };
    let order = store.state().orders.get(id).map(|o| o.to_json(&store.ctx));
    match order {
        Some(order) => json(
            StatusCode::OK,
            &json!({ "order": select_fields(order, q.get("fields")) }),
        ),
        None => not_found(),
    }
}

/// Shopify answers an unknown order id inside a path with 404 too.
pub fn order_id_param(params: &HashMap<String, String>) -> Result<u64, Response> {
    params
        .get("id")
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| errors(StatusCode::NOT_FOUND, json!("Not Found")))
}
