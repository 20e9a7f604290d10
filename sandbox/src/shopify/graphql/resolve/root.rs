//! The query root, the shop, and lookups by global id (`node`, `nodes`, `order(id:)`, ...).

use serde_json::Value;

use super::{
    by_id, catalog, invalid_id, object, orders, undefined, value, Ctx, Field, Obj, Resolved,
};
use crate::shopify::graphql::document::Selection;
use crate::shopify::graphql::ids::{self, gid};
use crate::shopify::store::order_id_for_fulfillment_order;

pub fn query<'a>(ctx: &Ctx<'a>, field: &Selection) -> Field<'a> {
    let state = ctx.state;
    match field.name.as_str() {
        "shop" => object(Obj::Shop),
        "location" => match field.arg_str("id") {
            None => Ok(Resolved::Object(
                state
                    .locations
                    .iter()
                    .find(|l| l.id == state.primary_location())
                    .map(Obj::Location),
            )),
            Some(text) => typed(ctx, text, "Location"),
        },
        "locations" => by_id(
            state.locations.iter().map(|l| (l.id, Obj::Location(l))),
            field.arg_bool("reverse").unwrap_or(false),
        ),
        "orders" => orders::connection(ctx, field),
        "products" => catalog::products(ctx, field),
        "productVariants" => catalog::variants(ctx, field),
        "productVariantsCount" => object(Obj::Count(
            state.products.iter().map(|p| p.variants.len() as u64).sum(),
        )),
        "order"
        | "product"
        | "productVariant"
        | "inventoryItem"
        | "fulfillmentOrder"
        | "webhookSubscription" => {
            let type_name = match field.name.as_str() {
                "order" => "Order",
                "product" => "Product",
                "productVariant" => "ProductVariant",
                "inventoryItem" => "InventoryItem",
                "fulfillmentOrder" => "FulfillmentOrder",
                _ => "WebhookSubscription",
            };
            typed(ctx, field.arg_str("id").unwrap_or(""), type_name)
        }
        "node" => {
            let text = field.arg_str("id").unwrap_or("");
            ids::parse(text).ok_or_else(|| invalid_id(text))?;
            Ok(Resolved::Object(find_node(ctx, text)))
        }
        "nodes" => {
            let texts: Vec<&str> = field
                .arg("ids")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            // A missing node is a `null` in the list; the executor projects objects only, so
            // the list holds the found ones.
            Ok(Resolved::List(
                texts.iter().filter_map(|t| find_node(ctx, t)).collect(),
            ))
        }
        "webhookSubscriptions" => {
            let topics: Option<Vec<String>> =
                field.arg("topics").and_then(Value::as_array).map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(crate::shopify::graphql::mutations::rest_topic)
                        .collect()
                });
            by_id(
                state
                    .subscriptions
                    .iter()
                    .filter(|s| topics.as_ref().is_none_or(|t| t.contains(&s.topic)))
                    .map(|s| (s.id, Obj::Webhook(s))),
                field.arg_bool("reverse").unwrap_or(false),
            )
        }
        "currentBulkOperation" => Ok(Resolved::Object(
            state.graphql.current_bulk().map(Obj::Bulk),
        )),
        _ => undefined(&Obj::Query, field),
    }
}

/// The object a global id of `type_name` names; an id of another shape is an error.
fn typed<'a>(ctx: &Ctx<'a>, text: &str, type_name: &str) -> Field<'a> {
    match ids::parse(text) {
        Some((t, _)) if t == type_name => Ok(Resolved::Object(find_node(ctx, text))),
        _ => Err(invalid_id(text)),
    }
}

pub fn shop<'a>(ctx: &Ctx<'a>, field: &Selection) -> Field<'a> {
    let store = ctx.store;
    match field.name.as_str() {
        "id" => value(gid("Shop", store.shop_id)),
        "name" => value(store.config.name.clone()),
        "email" => value(format!("owner@{}", store.ctx.domain)),
        "currencyCode" => value(store.ctx.currency.clone()),
        "myshopifyDomain" => value(store.ctx.domain.clone()),
        "ianaTimezone" => value("America/New_York"),
        "url" => value(format!("https://{}", store.ctx.domain)),
        _ => undefined(&Obj::Shop, field),
    }
}

/// The object a global id names, if the shop has it.
pub fn find_node<'a>(ctx: &Ctx<'a>, text: &str) -> Option<Obj<'a>> {
    let (type_name, id) = ids::parse(text)?;
    let state = ctx.state;
    let variant_by = |pick: &dyn Fn(&crate::shopify::model::Variant) -> bool| {
        state
            .products
            .iter()
            .find_map(|p| p.variants.iter().find(|v| pick(v)).map(|v| (p, v)))
    };
    match type_name {
        "Shop" => (id == ctx.store.shop_id).then_some(Obj::Shop),
        "Location" => state
            .locations
            .iter()
            .find(|l| l.id == id)
            .map(Obj::Location),
        "Order" => state.orders.get(id).map(Obj::Order),
        "LineItem" => state.orders.iter().find_map(|o| {
            o.line_items
                .iter()
                .position(|l| l.id == id)
                .map(|i| Obj::LineItem(o, i))
        }),
        "FulfillmentOrder" => {
            let order = state.orders.get(order_id_for_fulfillment_order(id)?)?;
            Some(Obj::FulfillmentOrder(order))
        }
        "FulfillmentOrderLineItem" => state.orders.iter().find_map(|o| {
            o.line_items
                .iter()
                .position(|l| l.fulfillment_order_line_id == id)
                .map(|i| Obj::FulfillmentOrderLineItem(o, i))
        }),
        "Fulfillment" => state.orders.iter().find_map(|o| {
            o.fulfillments
                .iter()
                .find(|f| f.id == id)
                .map(|f| Obj::Fulfillment(o, f))
        }),
        "FulfillmentLineItem" => {
            let (fulfillment, index) = (id / 100, (id % 100).checked_sub(1)? as usize);
            state.orders.iter().find_map(|o| {
                o.fulfillments
                    .iter()
                    .find(|f| f.id == fulfillment && index < f.lines.len())
                    .map(|f| Obj::FulfillmentLineItem(o, f, index))
            })
        }
        "Product" => state.products.iter().find(|p| p.id == id).map(Obj::Product),
        "ProductVariant" => variant_by(&|v| v.id == id).map(|(p, v)| Obj::Variant(p, v)),
        "InventoryItem" => {
            variant_by(&|v| v.inventory_item_id == id).map(|(p, v)| Obj::InventoryItem(p, v))
        }
        "InventoryLevel" => {
            let item = ids::level_item(text)?;
            let (p, v) = variant_by(&|v| v.inventory_item_id == item)?;
            state
                .inventory
                .contains_key(&(item, id))
                .then_some(Obj::InventoryLevel(p, v, id))
        }
        "WebhookSubscription" => state
            .subscriptions
            .iter()
            .find(|s| s.id == id)
            .map(Obj::Webhook),
        "BulkOperation" => state.graphql.bulk(id).map(Obj::Bulk),
        "InventoryAdjustmentGroup" => state
            .graphql
            .adjustment_groups
            .iter()
            .find(|g| g.id == id)
            .map(Obj::AdjustmentGroup),
        _ => None,
    }
}
