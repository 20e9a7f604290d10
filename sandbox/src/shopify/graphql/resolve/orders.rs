//! Orders and what hangs off them: lines, shipping lines, customer, addresses, fulfillments and
//! the fulfillment order; and the `orders` connection with Shopify's search and sort keys.

use serde_json::Value;

use super::{by_id, money, object, undefined, value, Ctx, Field, Obj, Resolved};
use crate::shopify::graphql::document::Selection;
use crate::shopify::graphql::errors::GqlError;
use crate::shopify::graphql::exec::{Conn, Key};
use crate::shopify::graphql::ids::{gid, legacy, opt_time, time};
use crate::shopify::graphql::search::{self, Term};
use crate::shopify::model::{Fulfillment, Order};

const VENDOR: &str = "Switchyard Outdoor";

/// The `orders` connection: every order the search matches, in `sortKey` order.
pub fn connection<'a>(ctx: &Ctx<'a>, field: &Selection) -> Field<'a> {
    let terms = search::parse(field.arg_str("query").unwrap_or(""));
    let offset = ctx.store.ctx.offset_minutes;
    let sort_value: fn(&Order) -> i64 = match field.arg_str("sortKey").unwrap_or("ID") {
        "ID" | "ORDER_NUMBER" | "RELEVANCE" => |o| o.id as i64,
        "UPDATED_AT" => |o| o.updated_at.timestamp(),
        "CREATED_AT" | "PROCESSED_AT" => |o| o.created_at.timestamp(),
        other => {
            return Err(GqlError::new(
                &format!("Argument 'sortKey' on Field 'orders' has an invalid value ({other}). Expected type 'OrderSortKeys'."),
                "argumentLiteralsIncompatible",
            ))
        }
    };
    let reverse = field.arg_bool("reverse").unwrap_or(false);
    let mut items: Vec<(Key, Obj<'a>)> = ctx
        .state
        .orders
        .iter()
        .filter(|o| terms.iter().all(|t| matches(o, t, offset)))
        .map(|o| {
            let key = Key {
                value: Value::from(sort_value(o)),
                id: o.id,
            };
            (key, Obj::Order(o))
        })
        .collect();
    items.sort_by_key(|(key, _)| (key.value.as_i64(), key.id));
    if reverse {
        items.reverse();
    }
    Ok(Resolved::Connection(Conn {
        items,
        descending: reverse,
    }))
}

fn matches(o: &Order, t: &Term, offset: i32) -> bool {
    match t.field.as_str() {
        "updated_at" => t.time(o.updated_at.timestamp(), offset),
        "created_at" | "processed_at" => t.time(o.created_at.timestamp(), offset),
        "id" => t.number(o.id),
        "status" => match t.value.to_ascii_lowercase().as_str() {
            "open" => t.is(o.closed_at.is_none() && o.cancelled_at.is_none()),
            "closed" => t.is(o.closed_at.is_some() && o.cancelled_at.is_none()),
            "cancelled" => t.is(o.cancelled_at.is_some()),
            _ => true,
        },
        "financial_status" => match t.value.to_ascii_lowercase().as_str() {
            "any" => true,
            _ => t.text(o.financial_status.as_str()),
        },
        "fulfillment_status" => {
            let shipped = o.fulfillment_status();
            match t.value.to_ascii_lowercase().as_str() {
                "shipped" | "fulfilled" => t.is(shipped == Some("fulfilled")),
                "partial" => t.is(shipped == Some("partial")),
                "unshipped" | "unfulfilled" => t.is(shipped.is_none()),
                _ => true,
            }
        }
        "name" => t.text(&o.name()) || t.text(&o.order_number.to_string()),
        "email" => t.text(&o.customer.person.email),
        "tag" => t.is(o.tags.iter().any(|x| x.eq_ignore_ascii_case(&t.value))),
        _ => true,
    }
}

/// A line's tax share, as the REST surface renders it.
fn line_tax(o: &Order, i: usize) -> i64 {
    o.line_tax_cents().get(i).copied().unwrap_or(0)
}

fn tax_lines<'a>(cents: i64, percent: i64) -> Field<'a> {
    let lines = if cents > 0 {
        vec![Obj::TaxLine { cents, percent }]
    } else {
        Vec::new()
    };
    Ok(Resolved::List(lines))
}

/// At most `first` of a list field's items.
fn limited<'a>(field: &Selection, items: Vec<Obj<'a>>) -> Field<'a> {
    let n = field
        .arg_i64("first")
        .map_or(items.len(), |n| n.max(0) as usize);
    Ok(Resolved::List(items.into_iter().take(n).collect()))
}

fn fulfillment_line_id(f: &Fulfillment, i: usize) -> u64 {
    f.id * 100 + i as u64 + 1
}

/// The location by id, if the shop has it.
fn location<'a>(ctx: &Ctx<'a>, id: u64) -> Field<'a> {
    Ok(Resolved::Object(
        ctx.state
            .locations
            .iter()
            .find(|l| l.id == id)
            .map(Obj::Location),
    ))
}

pub fn field<'a>(ctx: &Ctx<'a>, obj: &Obj<'a>, field: &Selection) -> Field<'a> {
    match *obj {
        Obj::Order(o) => order(ctx, o, field),
        Obj::LineItem(o, i) => line_item(ctx, o, i, field),
        Obj::ShippingLine(o) => match field.name.as_str() {
            "id" => value(gid("ShippingLine", o.id + 2_000_000)),
            "title" | "code" => value("Standard"),
            "source" => value("shopify"),
            "originalPriceSet" | "discountedPriceSet" => money(o.shipping_cents),
            "taxLines" => Ok(Resolved::List(Vec::new())),
            _ => undefined(obj, field),
        },
        Obj::Customer(o) => {
            let c = &o.customer;
            match field.name.as_str() {
                "id" => value(gid("Customer", c.id)),
                "legacyResourceId" => value(legacy(c.id)),
                "firstName" => value(c.person.first_name.clone()),
                "lastName" => value(c.person.last_name.clone()),
                "displayName" => value(format!("{} {}", c.person.first_name, c.person.last_name)),
                "email" => value(c.person.email.clone()),
                "phone" => value(c.person.phone.clone()),
                _ => undefined(obj, field),
            }
        }
        Obj::Address(a) => value(match field.name.as_str() {
            "firstName" => Value::from(a.first_name.clone()),
            "lastName" => Value::from(a.last_name.clone()),
            "name" => Value::from(format!("{} {}", a.first_name, a.last_name)),
            "company" => Value::from(a.company.clone()),
            "address1" => Value::from(a.address1.clone()),
            "address2" => Value::from(a.address2.clone()),
            "city" => Value::from(a.city.clone()),
            "province" => Value::from(a.province.clone()),
            "provinceCode" => Value::from(a.province_code.clone()),
            "zip" => Value::from(a.zip.clone()),
            "country" => Value::from(a.country.clone()),
            "countryCodeV2" => Value::from(a.country_code.clone()),
            "phone" => Value::from(a.phone.clone()),
            _ => return undefined(obj, field),
        }),
        Obj::Fulfillment(o, f) => match field.name.as_str() {
            "id" => value(gid("Fulfillment", f.id)),
            "legacyResourceId" => value(legacy(f.id)),
            "name" => value(f.name.clone()),
            "status" => value("SUCCESS"),
            "createdAt" | "updatedAt" => value(time(f.created_at)),
            "trackingInfo" => {
                let tracked = f.tracking_number.is_some() || f.tracking_company.is_some();
                limited(
                    field,
                    tracked
                        .then_some(Obj::TrackingInfo(f))
                        .into_iter()
                        .collect(),
                )
            }
            "fulfillmentLineItems" => by_id(
                f.lines
                    .iter()
                    .enumerate()
                    .map(|(i, _)| (fulfillment_line_id(f, i), Obj::FulfillmentLineItem(o, f, i))),
                field.arg_bool("reverse").unwrap_or(false),
            ),
            "location" => location(ctx, f.location_id),
            "order" => object(Obj::Order(o)),
            _ => undefined(obj, field),
        },
        Obj::FulfillmentLineItem(o, f, i) => match field.name.as_str() {
            "id" => value(gid("FulfillmentLineItem", fulfillment_line_id(f, i))),
            "quantity" => value(f.lines.get(i).map_or(0, |(_, q)| *q)),
            "lineItem" => {
                let line = f.lines.get(i).map(|(id, _)| *id);
                let at = o.line_items.iter().position(|l| Some(l.id) == line);
                Ok(Resolved::Object(at.map(|at| Obj::LineItem(o, at))))
            }
            _ => undefined(obj, field),
        },
        Obj::TrackingInfo(f) => match field.name.as_str() {
            "number" => value(f.tracking_number.clone()),
            "company" => value(f.tracking_company.clone()),
            "url" => value(f.tracking_url.clone()),
            _ => undefined(obj, field),
        },
        Obj::FulfillmentOrder(o) => match field.name.as_str() {
            "id" => value(gid("FulfillmentOrder", o.fulfillment_order_id)),
            "status" => value(o.fulfillment_order_status().to_ascii_uppercase()),
            "createdAt" => value(time(o.created_at)),
            "updatedAt" => value(time(o.updated_at)),
            "assignedLocation" => object(Obj::AssignedLocation(o)),
            "lineItems" => by_id(
                o.line_items.iter().enumerate().map(|(i, l)| {
                    (
                        l.fulfillment_order_line_id,
                        Obj::FulfillmentOrderLineItem(o, i),
                    )
                }),
                field.arg_bool("reverse").unwrap_or(false),
            ),
            "order" => object(Obj::Order(o)),
            "fulfillmentHolds" => Ok(Resolved::List(
                o.hold.iter().map(|_| Obj::FulfillmentHold(o)).collect(),
            )),
            _ => undefined(obj, field),
        },
        Obj::FulfillmentHold(o) => match field.name.as_str() {
            "id" => value(gid("FulfillmentHold", o.fulfillment_order_id)),
            "reason" => value(o.hold.as_ref().map(|h| h.reason.clone())),
            "reasonNotes" => value(o.hold.as_ref().and_then(|h| h.reason_notes.clone())),
            _ => undefined(obj, field),
        },
        Obj::AssignedLocation(o) => match field.name.as_str() {
            "name" => value(
                ctx.state
                    .locations
                    .iter()
                    .find(|l| l.id == o.location_id)
                    .map(|l| l.name.clone()),
            ),
            "location" => location(ctx, o.location_id),
            _ => undefined(obj, field),
        },
        Obj::FulfillmentOrderLineItem(o, i) => {
            let l = &o.line_items[i];
            match field.name.as_str() {
                "id" => value(gid("FulfillmentOrderLineItem", l.fulfillment_order_line_id)),
                "sku" => value(l.sku.clone()),
                "totalQuantity" => value(l.quantity),
                "remainingQuantity" => value(if o.cancelled_at.is_some() {
                    0
                } else {
                    l.remaining()
                }),
                "lineItem" => object(Obj::LineItem(o, i)),
                _ => undefined(obj, field),
            }
        }
        _ => undefined(obj, field),
    }
}

fn order<'a>(ctx: &Ctx<'a>, o: &'a Order, field: &Selection) -> Field<'a> {
    let obj = Obj::Order(o);
    match field.name.as_str() {
        "id" => value(gid("Order", o.id)),
        "legacyResourceId" => value(legacy(o.id)),
        "name" => value(o.name()),
        "email" => value(o.customer.person.email.clone()),
        "phone" => value(Value::Null),
        "note" => value(o.note.clone()),
        "tags" => value(o.tags.clone()),
        "createdAt" | "processedAt" => value(time(o.created_at)),
        "updatedAt" => value(time(o.updated_at)),
        "cancelledAt" => value(opt_time(o.cancelled_at)),
        "cancelReason" => value(o.cancel_reason.as_ref().map(|r| r.to_ascii_uppercase())),
        "closed" => value(o.closed_at.is_some()),
        "closedAt" => value(opt_time(o.closed_at)),
        "test" | "taxesIncluded" => value(false),
        "confirmed" => value(true),
        "currencyCode" | "presentmentCurrencyCode" => value(ctx.store.ctx.currency.clone()),
        "displayFinancialStatus" => value(o.financial_status.as_str().to_ascii_uppercase()),
        "displayFulfillmentStatus" => value(o.display_fulfillment_status()),
        "discountCodes" => value(if o.discount_cents > 0 {
            vec!["WELCOME10"]
        } else {
            Vec::new()
        }),
        "subtotalPriceSet" | "currentSubtotalPriceSet" => money(o.subtotal_cents()),
        "totalPriceSet" | "currentTotalPriceSet" => money(o.total_cents()),
        "totalTaxSet" | "currentTotalTaxSet" => money(o.tax_cents),
        "totalShippingPriceSet" => money(o.shipping_cents),
        "totalDiscountsSet" | "currentTotalDiscountsSet" => money(o.discount_cents),
        "totalOutstandingSet" => money(match o.financial_status {
            crate::shopify::model::FinancialStatus::Pending => o.total_cents(),
            _ => 0,
        }),
        "customer" => object(Obj::Customer(o)),
        "shippingAddress" => object(Obj::Address(&o.shipping_address)),
        "billingAddress" => object(Obj::Address(&o.billing_address)),
        "taxLines" => tax_lines(o.tax_cents, o.tax_percent),
        "lineItems" => by_id(
            o.line_items
                .iter()
                .enumerate()
                .map(|(i, l)| (l.id, Obj::LineItem(o, i))),
            field.arg_bool("reverse").unwrap_or(false),
        ),
        "shippingLines" => by_id(
            std::iter::once((o.id + 2_000_000, Obj::ShippingLine(o))),
            false,
        ),
        "shippingLine" => object(Obj::ShippingLine(o)),
        "fulfillments" => limited(
            field,
            o.fulfillments
                .iter()
                .map(|f| Obj::Fulfillment(o, f))
                .collect(),
        ),
        "fulfillmentOrders" => {
            let terms = search::parse(field.arg_str("query").unwrap_or(""));
            let status = o.fulfillment_order_status();
            let keep = terms.iter().all(|t| t.field != "status" || t.text(status));
            by_id(
                keep.then_some((o.fulfillment_order_id, Obj::FulfillmentOrder(o)))
                    .into_iter(),
                false,
            )
        }
        _ => undefined(&obj, field),
    }
}

fn line_item<'a>(ctx: &Ctx<'a>, o: &'a Order, i: usize, field: &Selection) -> Field<'a> {
    let l = &o.line_items[i];
    let cancelled = o.cancelled_at.is_some();
    match field.name.as_str() {
        "id" => value(gid("LineItem", l.id)),
        "sku" => value(l.sku.clone()),
        "name" => value(match &l.variant_title {
            Some(v) => format!("{} - {v}", l.title),
            None => l.title.clone(),
        }),
        "title" => value(l.title.clone()),
        "variantTitle" => value(l.variant_title.clone()),
        "vendor" => value(VENDOR),
        "quantity" => value(l.quantity),
        "currentQuantity" => value(if cancelled { 0 } else { l.quantity }),
        "unfulfilledQuantity" => value(if cancelled { 0 } else { l.remaining() }),
        "requiresShipping" | "taxable" => value(true),
        "originalUnitPriceSet" | "discountedUnitPriceSet" => money(l.price_cents),
        "originalTotalSet" | "discountedTotalSet" => money(l.price_cents * i64::from(l.quantity)),
        "totalDiscountSet" => money(0),
        "taxLines" => tax_lines(line_tax(o, i), o.tax_percent),
        "discountAllocations" => Ok(Resolved::List(Vec::new())),
        "variant" => Ok(Resolved::Object(ctx.state.products.iter().find_map(|p| {
            p.variants
                .iter()
                .find(|v| v.id == l.variant_id)
                .map(|v| Obj::Variant(p, v))
        }))),
        "product" => Ok(Resolved::Object(
            ctx.state
                .products
                .iter()
                .find(|p| p.id == l.product_id)
                .map(Obj::Product),
        )),
        _ => undefined(&Obj::LineItem(o, i), field),
    }
}
