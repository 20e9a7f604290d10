//! Global ids (`gid://shopify/Order/5600000001017`) over the REST surface's numeric ids, so a
//! webhook's `id` and a GraphQL `id` name the same thing; and the times GraphQL renders (UTC).

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

pub fn gid(type_name: &str, id: u64) -> String {
    format!("gid://shopify/{type_name}/{id}")
}

/// An inventory level's id, which names its location and item (as the REST surface renders it).
pub fn level_gid(location: u64, item: u64) -> String {
    format!("gid://shopify/InventoryLevel/{location}?inventory_item_id={item}")
}

/// `(type, id)` of a global id; the query part (an inventory level's item) is dropped.
pub fn parse(text: &str) -> Option<(&str, u64)> {
    let rest = text.strip_prefix("gid://shopify/")?;
    let (type_name, id) = rest.split_once('/')?;
    let id = id.split('?').next()?.parse().ok()?;
    Some((type_name, id))
}

/// The id of `text` if it is a global id of `type_name`.
pub fn parse_of(text: &str, type_name: &str) -> Option<u64> {
    parse(text)
        .filter(|(t, _)| *t == type_name)
        .map(|(_, id)| id)
}

/// The item of an inventory level's id.
pub fn level_item(text: &str) -> Option<u64> {
    text.split_once("?inventory_item_id=")?.1.parse().ok()
}

/// `legacyResourceId`: an `UnsignedInt64`, which Shopify sends as a string.
pub fn legacy(id: u64) -> Value {
    Value::String(id.to_string())
}

/// A `DateTime` as GraphQL renders it: UTC, `2024-07-01T14:00:00Z`.
pub fn time(ts: DateTime<Utc>) -> Value {
    Value::String(ts.to_rfc3339_opts(SecondsFormat::Secs, true))
}

pub fn opt_time(ts: Option<DateTime<Utc>>) -> Value {
    ts.map_or(Value::Null, time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_ids() {
        assert_eq!(parse(&gid("Order", 42)), Some(("Order", 42)));
        assert_eq!(parse(&level_gid(7, 9)), Some(("InventoryLevel", 7)));
        assert_eq!(level_item(&level_gid(7, 9)), Some(9));
        assert_eq!(parse_of("gid://shopify/Order/1", "Product"), None);
        assert_eq!(parse("42"), None);
    }
}
