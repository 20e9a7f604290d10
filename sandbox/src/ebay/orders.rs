//! `getOrders` and `getOrder` of the Fulfillment API. Orders are listed oldest first with
//! `limit` (1..=200, default 50) and a zero-based `offset`; with a `lastmodifieddate` (or
//! `creationdate`) range they are walked by that date, so a client polling "changed since T"
//! pages through a stable order.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::{json, Value};

use super::errors::{bad_request, not_found, FULFILLMENT};
use super::model::{parse_order_id, Order, Progress};
use super::store::EbayStore;
use crate::http_util::json;
use crate::orderbook::{OrderBook, SortBy};
use crate::query::Query;

/// Which date a range filter reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateField {
    Creation,
    LastModified,
}

/// The parsed `filter` parameter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OrderFilter {
    /// `(field, from, to)`, both bounds inclusive; `creationdate` wins over `lastmodifieddate`.
    pub range: Option<(DateField, DateTime<Utc>, Option<DateTime<Utc>>)>,
    pub statuses: Option<Vec<Progress>>,
}

/// A filter refusal: eBay's error id and message.
pub type FilterError = (u32, String);

/// Parses `creationdate:[A..B],lastmodifieddate:[A..],orderfulfillmentstatus:{X|Y}`.
pub fn parse_filter(text: &str) -> Result<OrderFilter, FilterError> {
    let mut filter = OrderFilter::default();
    let mut creation = None;
    let mut modified = None;
    for part in split_criteria(text) {
        let Some((name, value)) = part.split_once(':') else {
            return Err((30700, format!("Invalid filter name: {part}")));
        };
        match name.trim() {
            "creationdate" => creation = Some(parse_range(name, value)?),
            "lastmodifieddate" => modified = Some(parse_range(name, value)?),
            "orderfulfillmentstatus" => {
                let invalid = || {
                    (
                        30800,
                        format!("Invalid filter value {value} for filter {name}"),
                    )
                };
                let inner = value
                    .trim()
                    .strip_prefix('{')
                    .and_then(|v| v.strip_suffix('}'))
                    .ok_or_else(invalid)?;
                let statuses = inner
                    .split('|')
                    .map(|s| Progress::parse(s.trim()))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(invalid)?;
                filter.statuses = Some(statuses);
            }
            other => return Err((30700, format!("Invalid filter name: {other}"))),
        }
    }
    filter.range = match (creation, modified) {
        (Some((from, to)), _) => Some((DateField::Creation, from, to)),
        (None, Some((from, to))) => Some((DateField::LastModified, from, to)),
        (None, None) => None,
    };
    Ok(filter)
}

/// Splits on commas outside brackets and braces (a timestamp has none, but stay safe).
fn split_criteria(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in text.char_indices() {
        match c {
            '[' | '{' => depth += 1,
            ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts.into_iter().filter(|p| !p.trim().is_empty()).collect()
}

type Range = (DateTime<Utc>, Option<DateTime<Utc>>);

fn parse_range(name: &str, value: &str) -> Result<Range, FilterError> {
    let inner = value
        .trim()
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .ok_or_else(|| {
            (
                30800,
                format!("Invalid filter value {value} for filter {name}"),
            )
        })?;
    let (from, to) = inner.split_once("..").ok_or_else(|| {
        (
            30800,
            format!("Invalid filter value {value} for filter {name}"),
        )
    })?;
    if from.trim().is_empty() {
        return Err((30820, "Start date is missing".into()));
    }
    let date = |text: &str| {
        DateTime::parse_from_rfc3339(text.trim())
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| (30810, "Invalid date format".to_string()))
    };
    let from = date(from)?;
    let to = match to.trim() {
        "" => None,
        text => Some(date(text)?),
    };
    if to.is_some_and(|to| to < from) {
        return Err((30840, "Start date should be before end date".into()));
    }
    Ok((from, to))
}

impl OrderFilter {
    fn admits(&self, order: &Order) -> bool {
        let in_range = match self.range {
            None => true,
            Some((field, from, to)) => {
                let at = match field {
                    DateField::Creation => order.created_at,
                    DateField::LastModified => order.updated_at,
                };
                at >= from && to.is_none_or(|to| at <= to)
            }
        };
        let status_ok = self
            .statuses
            .as_ref()
            .is_none_or(|s| s.contains(&order.progress()));
        in_range && status_ok
    }

    /// The walk that lists matches in their order, started at the lower bound where it can be.
    fn walk<'a>(&self, book: &'a OrderBook<Order>) -> Box<dyn Iterator<Item = &'a Order> + 'a> {
        match self.range {
            Some((DateField::LastModified, from, _)) => book.scan(
                SortBy::Updated,
                false,
                None,
                Some((from.timestamp_millis().div_euclid(1000), 0)),
            ),
            _ => book.scan(SortBy::Id, false, None, None),
        }
    }
}

fn number(query: &Query, key: &str, default: usize) -> Result<usize, String> {
    match query.get(key) {
        None => Ok(default),
        Some(text) => text.trim().parse::<usize>().map_err(|_| text.to_owned()),
    }
}

/// `GET /sell/fulfillment/v1/order`.
pub async fn list(State(store): State<Arc<EbayStore>>, RawQuery(raw): RawQuery) -> Response {
    let query = Query::parse(raw.as_deref().unwrap_or(""));
    let limit = match number(&query, "limit", 50) {
        Ok(limit) if (1..=200).contains(&limit) => limit,
        Ok(limit) => return bad_request(31100, FULFILLMENT, &format!("Invalid limit: {limit}")),
        Err(text) => return bad_request(31100, FULFILLMENT, &format!("Invalid limit: {text}")),
    };
    let offset = match number(&query, "offset", 0) {
        Ok(offset) => offset,
        Err(text) => return bad_request(31000, FULFILLMENT, &format!("Invalid offset: {text}")),
    };
    let filter_text = query.get("filter").unwrap_or("").to_owned();
    let filter = match parse_filter(&filter_text) {
        Ok(filter) => filter,
        Err((id, message)) => return bad_request(id, FULFILLMENT, &message),
    };
    let (total, orders) = {
        let state = store.state();
        let mut total = 0usize;
        let mut page = Vec::new();
        for order in filter.walk(&state.orders).filter(|o| filter.admits(o)) {
            if total >= offset && page.len() < limit {
                page.push(store.render_order(order));
            }
            total += 1;
        }
        (total, page)
    };
    let href = |offset: usize| {
        let mut url = format!("{}/sell/fulfillment/v1/order?", store.base_url);
        if !filter_text.is_empty() {
            let encoded = utf8_percent_encode(&filter_text, NON_ALPHANUMERIC);
            url.push_str(&format!("filter={encoded}&"));
        }
        url.push_str(&format!("limit={limit}&offset={offset}"));
        url
    };
    let mut body = json!({
        "href": href(offset),
        "total": total,
        "limit": limit,
        "offset": offset,
        "orders": orders,
    });
    if offset + limit < total {
        body["next"] = json!(href(offset + limit));
    }
    if offset > 0 {
        body["prev"] = json!(href(offset.saturating_sub(limit)));
    }
    json(StatusCode::OK, &body)
}

/// `GET /sell/fulfillment/v1/order/{orderId}`.
pub async fn get_one(
    State(store): State<Arc<EbayStore>>,
    Path(order_id): Path<String>,
) -> Response {
    match store.find_order(&order_id) {
        Ok(order) => json(StatusCode::OK, &order),
        Err(response) => response,
    }
}

impl EbayStore {
    pub(crate) fn render_order(&self, order: &Order) -> Value {
        order.to_json(&self.base_url, &self.config.name)
    }

    /// The order's JSON, or the 400 (malformed id) / 404 (unknown) eBay answers.
    pub(crate) fn find_order(&self, order_id: &str) -> Result<Value, Response> {
        let id = parse_order_id(order_id).ok_or_else(|| invalid_order_id(order_id))?;
        let state = self.state();
        let order = state
            .orders
            .get(id)
            .ok_or_else(|| unknown_order(order_id))?;
        Ok(self.render_order(order))
    }
}

pub(crate) fn invalid_order_id(order_id: &str) -> Response {
    bad_request(32100, FULFILLMENT, &format!("Invalid order ID: {order_id}"))
}

pub(crate) fn unknown_order(order_id: &str) -> Response {
    not_found(32100, FULFILLMENT, &format!("Invalid order ID: {order_id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_as_documented() {
        let f = parse_filter(
            "lastmodifieddate:[2024-01-01T00:00:00.000Z..],orderfulfillmentstatus:{NOT_STARTED|IN_PROGRESS}",
        )
        .expect("valid");
        let (field, from, to) = f.range.expect("range");
        assert_eq!(field, DateField::LastModified);
        assert_eq!(from.timestamp(), 1_704_067_200);
        assert_eq!(to, None);
        assert_eq!(
            f.statuses,
            Some(vec![Progress::NotStarted, Progress::InProgress])
        );
        let both = parse_filter(
            "creationdate:[2024-01-01T00:00:00.000Z..2024-02-01T00:00:00.000Z],lastmodifieddate:[2024-01-05T00:00:00.000Z..]",
        )
        .expect("valid");
        assert_eq!(both.range.map(|r| r.0), Some(DateField::Creation));
        assert_eq!(parse_filter("").expect("empty"), OrderFilter::default());
        assert_eq!(parse_filter("colour:[red..]").map_err(|e| e.0), Err(30700));
        assert_eq!(
            parse_filter("creationdate:[yesterday..]").map_err(|e| e.0),
            Err(30810)
        );
        assert_eq!(
            parse_filter("creationdate:[..2024-01-01T00:00:00Z]").map_err(|e| e.0),
            Err(30820)
        );
        assert_eq!(
            parse_filter("orderfulfillmentstatus:{DONE}").map_err(|e| e.0),
            Err(30800)
        );
    }
}
