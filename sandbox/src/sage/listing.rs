//! Sage's list answers: `{"$total", "$page", "$next", "$back", "$itemsPerPage", "$items"}`, pages
//! chosen with `page` and `items_per_page` (default 20, at most 200; a page past the end gives
//! the last one), `$next` / `$back` as paths that keep the other query parameters, and items
//! carrying only `id`, `displayed_as` and `$path` unless `attributes` names more (or `all`).

use axum::http::StatusCode;
use axum::response::Response;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{Map, Value};

use crate::http_util::json;
use crate::query::{Query, QueryValue};

const DEFAULT_PER_PAGE: usize = 20;
const MAX_PER_PAGE: usize = 200;

/// The unreserved characters stay as they are in a `$next` path.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b',')
    .remove(b':');

/// The accounting API says `$itemsPerPage`; the core API's `/businesses` says `$items_per_page`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PerPageKey {
    Camel,
    Snake,
}

/// Trims a full record to the base attributes plus those `attributes` asks for.
fn select(item: Value, attributes: Option<&str>) -> Value {
    if attributes == Some("all") {
        return item;
    }
    let wanted: Vec<&str> = attributes
        .map(|a| a.split(',').map(str::trim).collect())
        .unwrap_or_default();
    match item {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(k, _)| {
                    matches!(k.as_str(), "id" | "displayed_as" | "$path")
                        || wanted.contains(&k.as_str())
                })
                .collect::<Map<String, Value>>(),
        ),
        other => other,
    }
}

fn count(query: &Query, key: &str) -> Option<usize> {
    query.get(key).and_then(|v| v.trim().parse().ok())
}

/// The 200 answer to `GET /{collection}`: one page of `items` (full records, already filtered).
pub fn answer(items: Vec<Value>, query: &Query, collection: &str, key: PerPageKey) -> Response {
    json(StatusCode::OK, &page(items, query, collection, key))
}

/// One page of `items` (full records, already filtered) for `GET /{collection}`.
pub fn page(items: Vec<Value>, query: &Query, collection: &str, key: PerPageKey) -> Value {
    let total = items.len();
    let per_page = count(query, "items_per_page")
        .unwrap_or(DEFAULT_PER_PAGE)
        .clamp(1, MAX_PER_PAGE);
    let pages = total.div_ceil(per_page).max(1);
    let page = count(query, "page").unwrap_or(1).clamp(1, pages);
    let attributes = query.get("attributes");
    let chosen: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|item| select(item, attributes))
        .collect();
    let rest: String = query
        .params
        .iter()
        .filter(|(k, _)| k != "page" && k != "items_per_page")
        .filter_map(|(k, v)| match v {
            QueryValue::Str(s) => Some(format!(
                "&{}={}",
                utf8_percent_encode(k, QUERY_VALUE),
                utf8_percent_encode(s, QUERY_VALUE)
            )),
            QueryValue::Map(_) => None,
        })
        .collect();
    let link = |n: usize| {
        Value::String(format!(
            "/{collection}?page={n}&items_per_page={per_page}{rest}"
        ))
    };
    let mut out = Map::new();
    out.insert("$total".into(), total.into());
    out.insert("$page".into(), page.into());
    out.insert(
        "$next".into(),
        if page < pages {
            link(page + 1)
        } else {
            Value::Null
        },
    );
    out.insert(
        "$back".into(),
        if page > 1 {
            link(page - 1)
        } else {
            Value::Null
        },
    );
    let per_page_key = match key {
        PerPageKey::Camel => "$itemsPerPage",
        PerPageKey::Snake => "$items_per_page",
    };
    out.insert(per_page_key.into(), per_page.into());
    out.insert("$items".into(), Value::Array(chosen));
    Value::Object(out)
}

/// Case-insensitive substring match, as Sage's `search` filters.
pub fn matches(haystack: Option<&str>, needle: &str) -> bool {
    haystack.is_some_and(|h| h.to_lowercase().contains(&needle.to_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn items(n: usize) -> Vec<Value> {
        (0..n)
            .map(|i| json!({"id": i.to_string(), "displayed_as": "x", "$path": "/x", "date": "2024-01-01"}))
            .collect()
    }

    #[test]
    fn pages_keep_other_parameters_and_clamp_past_the_end() {
        let q = Query::parse("search=acme+ltd&page=9&items_per_page=2&attributes=date");
        let body = page(items(5), &q, "sales_invoices", PerPageKey::Camel);
        assert_eq!(body["$total"], 5);
        assert_eq!(body["$page"], 3);
        assert_eq!(body["$next"], Value::Null);
        assert_eq!(
            body["$back"],
            "/sales_invoices?page=2&items_per_page=2&search=acme%20ltd&attributes=date"
        );
        assert_eq!(body["$itemsPerPage"], 2);
        assert_eq!(body["$items"][0]["date"], "2024-01-01");
        let plain = page(items(1), &Query::default(), "contacts", PerPageKey::Snake);
        assert_eq!(plain["$items_per_page"], 20);
        assert!(plain["$items"][0].get("date").is_none());
    }
}
