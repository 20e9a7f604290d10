//! The catalogue side: locations, products, variants, inventory items and their levels; and the
//! `products` / `productVariants` connections with their search.

use serde_json::Value;

use super::{by_id, object, undefined, value, Ctx, Field, Obj, Resolved};
use crate::money::format_cents;
use crate::shopify::graphql::document::Selection;
use crate::shopify::graphql::errors::GqlError;
use crate::shopify::graphql::exec::{Conn, Key};
use crate::shopify::graphql::ids::{self, gid, legacy, level_gid, time};
use crate::shopify::graphql::inventory::quantity;
use crate::shopify::graphql::search::{self, Term};
use crate::shopify::model::{Product, Variant};

const VENDOR: &str = "Switchyard Outdoor";

/// Available stock of an item summed over locations, as REST's `inventory_quantity`.
fn total_available(ctx: &Ctx<'_>, item: u64) -> i64 {
    ctx.state
        .inventory
        .range((item, 0)..=(item, u64::MAX))
        .map(|(_, q)| *q)
        .sum()
}

fn variant_title(v: &Variant) -> String {
    v.option.clone().unwrap_or_else(|| "Default Title".into())
}

/// A connection sorted by `key`, reversed on request.
fn sorted<'a>(mut items: Vec<(Key, Obj<'a>)>, reverse: bool) -> Field<'a> {
    items.sort_by(|a, b| a.0.compare(&b.0));
    if reverse {
        items.reverse();
    }
    Ok(Resolved::Connection(Conn {
        items,
        descending: reverse,
    }))
}

fn bad_sort_key(field: &Selection, key: &str) -> GqlError {
    GqlError::new(
        &format!(
            "Argument 'sortKey' on Field '{}' has an invalid value ({key}).",
            field.name
        ),
        "argumentLiteralsIncompatible",
    )
}

fn product_matches(p: &Product, t: &Term, offset: i32) -> bool {
    match t.field.as_str() {
        "" | "title" => t.is(p.title.to_lowercase().contains(&t.value.to_lowercase())),
        "id" => t.number(p.id),
        "handle" => t.text(&p.handle()),
        "sku" => t.is(p
            .variants
            .iter()
            .any(|v| v.sku.eq_ignore_ascii_case(&t.value))),
        "status" => t.one_of(&["active"]),
        "updated_at" => t.time(p.updated_at.timestamp(), offset),
        "created_at" => t.time(p.created_at.timestamp(), offset),
        "vendor" => t.text(VENDOR),
        _ => true,
    }
}

/// The `products` connection.
pub fn products<'a>(ctx: &Ctx<'a>, field: &Selection) -> Field<'a> {
    let terms = search::parse(field.arg_str("query").unwrap_or(""));
    let offset = ctx.store.ctx.offset_minutes;
    let sort = field.arg_str("sortKey").unwrap_or("ID");
    let key = |p: &Product| -> Result<Value, GqlError> {
        Ok(match sort {
            "ID" | "RELEVANCE" | "INVENTORY_TOTAL" | "PRODUCT_TYPE" | "VENDOR" => Value::from(p.id),
            "TITLE" => Value::from(p.title.clone()),
            "CREATED_AT" | "PUBLISHED_AT" => Value::from(p.created_at.timestamp()),
            "UPDATED_AT" => Value::from(p.updated_at.timestamp()),
            other => return Err(bad_sort_key(field, other)),
        })
    };
    let mut items = Vec::new();
    for p in ctx
        .state
        .products
        .iter()
        .filter(|p| terms.iter().all(|t| product_matches(p, t, offset)))
    {
        items.push((
            Key {
                value: key(p)?,
                id: p.id,
            },
            Obj::Product(p),
        ));
    }
    sorted(items, field.arg_bool("reverse").unwrap_or(false))
}

/// The `productVariants` connection.
pub fn variants<'a>(ctx: &Ctx<'a>, field: &Selection) -> Field<'a> {
    let terms = search::parse(field.arg_str("query").unwrap_or(""));
    let offset = ctx.store.ctx.offset_minutes;
    let by_sku = match field.arg_str("sortKey").unwrap_or("ID") {
        "ID" | "RELEVANCE" | "POSITION" => false,
        "SKU" => true,
        other => return Err(bad_sort_key(field, other)),
    };
    let items = ctx
        .state
        .products
        .iter()
        .flat_map(|p| p.variants.iter().map(move |v| (p, v)))
        .filter(|(p, v)| {
            terms.iter().all(|t| match t.field.as_str() {
                "sku" => t.text(&v.sku),
                "id" => t.number(v.id),
                "product_id" => t.number(p.id),
                "title" => t.text(&variant_title(v)),
                "updated_at" => t.time(p.updated_at.timestamp(), offset),
                _ => true,
            })
        })
        .map(|(p, v)| {
            let value = if by_sku {
                Value::from(v.sku.clone())
            } else {
                Value::from(v.id)
            };
            (Key { value, id: v.id }, Obj::Variant(p, v))
        })
        .collect();
    sorted(items, field.arg_bool("reverse").unwrap_or(false))
}

pub fn field<'a>(ctx: &Ctx<'a>, obj: &Obj<'a>, field: &Selection) -> Field<'a> {
    let f = field.name.as_str();
    match *obj {
        Obj::Location(l) => match f {
            "id" => value(gid("Location", l.id)),
            "legacyResourceId" => value(legacy(l.id)),
            "name" => value(l.name.clone()),
            "isActive" | "fulfillsOnlineOrders" => value(true),
            "isPrimary" => value(l.id == ctx.state.primary_location()),
            _ => undefined(obj, field),
        },
        Obj::Product(p) => match f {
            "id" => value(gid("Product", p.id)),
            "legacyResourceId" => value(legacy(p.id)),
            "title" => value(p.title.clone()),
            "handle" => value(p.handle()),
            "status" => value("ACTIVE"),
            "vendor" => value(VENDOR),
            "productType" => value("Outdoor"),
            "tags" => value(Vec::<String>::new()),
            "totalInventory" => value(
                p.variants
                    .iter()
                    .map(|v| total_available(ctx, v.inventory_item_id))
                    .sum::<i64>(),
            ),
            "createdAt" => value(time(p.created_at)),
            "updatedAt" => value(time(p.updated_at)),
            "variants" => by_id(
                p.variants.iter().map(|v| (v.id, Obj::Variant(p, v))),
                field.arg_bool("reverse").unwrap_or(false),
            ),
            "featuredImage" => Ok(Resolved::Object(
                p.details.image_url.as_deref().map(Obj::Image),
            )),
            _ => undefined(obj, field),
        },
        Obj::Variant(p, v) => match f {
            "id" => value(gid("ProductVariant", v.id)),
            "legacyResourceId" => value(legacy(v.id)),
            "sku" => value(v.sku.clone()),
            "title" => value(variant_title(v)),
            "displayName" => value(format!("{} - {}", p.title, variant_title(v))),
            "price" => value(format_cents(v.price_cents)),
            "barcode" => value(Value::Null),
            "inventoryQuantity" => value(total_available(ctx, v.inventory_item_id)),
            "createdAt" => value(time(p.created_at)),
            "updatedAt" => value(time(p.updated_at)),
            "product" => object(Obj::Product(p)),
            "inventoryItem" => object(Obj::InventoryItem(p, v)),
            // Variants share their product's one image.
            "image" => Ok(Resolved::Object(None)),
            _ => undefined(obj, field),
        },
        Obj::InventoryItem(p, v) => {
            let item = v.inventory_item_id;
            match f {
                "id" => value(gid("InventoryItem", item)),
                "legacyResourceId" => value(legacy(item)),
                "sku" => value(v.sku.clone()),
                "tracked" | "requiresShipping" => value(true),
                "harmonizedSystemCode" => value(p.details.hs_code.clone()),
                "countryCodeOfOrigin" => value(p.details.country_of_origin.clone()),
                "measurement" => object(Obj::Measurement(p)),
                "variant" => object(Obj::Variant(p, v)),
                "inventoryLevel" => {
                    let text = field.arg_str("locationId").unwrap_or("");
                    let location =
                        ids::parse_of(text, "Location").ok_or_else(|| super::invalid_id(text))?;
                    let stocked = ctx.state.inventory.contains_key(&(item, location));
                    Ok(Resolved::Object(
                        stocked.then_some(Obj::InventoryLevel(p, v, location)),
                    ))
                }
                "inventoryLevels" => by_id(
                    ctx.state.inventory.range((item, 0)..=(item, u64::MAX)).map(
                        |((_, location), _)| (*location, Obj::InventoryLevel(p, v, *location)),
                    ),
                    field.arg_bool("reverse").unwrap_or(false),
                ),
                _ => undefined(obj, field),
            }
        }
        Obj::Measurement(p) => match f {
            "weight" => object(Obj::Weight(p)),
            _ => undefined(obj, field),
        },
        Obj::Weight(p) => match f {
            "value" => value(
                p.details
                    .weight_grams
                    .map_or(0.0, |g| f64::from(g) / 1000.0),
            ),
            "unit" => value("KILOGRAMS"),
            _ => undefined(obj, field),
        },
        Obj::InventoryLevel(p, v, location) => {
            let item = v.inventory_item_id;
            match f {
                "id" => value(level_gid(location, item)),
                "location" => Ok(Resolved::Object(
                    ctx.state
                        .locations
                        .iter()
                        .find(|l| l.id == location)
                        .map(Obj::Location),
                )),
                "item" => object(Obj::InventoryItem(p, v)),
                "quantities" => {
                    let names: Vec<String> = field
                        .arg("names")
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(|n| n.as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default();
                    Ok(Resolved::List(
                        names
                            .into_iter()
                            .map(|name| {
                                let q = quantity(ctx.state, &name, item, location);
                                Obj::InventoryQuantity(name, q)
                            })
                            .collect(),
                    ))
                }
                _ => undefined(obj, field),
            }
        }
        Obj::InventoryQuantity(ref name, q) => match f {
            "name" => value(name.clone()),
            "quantity" => value(q),
            _ => undefined(obj, field),
        },
        _ => undefined(obj, field),
    }
}
