//! Field resolution: what each field of each served type is for a given object of the shop's
//! state. An [`Obj`] borrows from the state (or from a mutation's payload) for the duration of
//! one projection; a field resolves to a value, an object, a list or a connection, which the
//! executor then projects.

mod admin;
mod catalog;
mod orders;
mod root;

use serde_json::{json, Value};

use super::document::Selection;
use super::errors::GqlError;
use super::exec::{Conn, Key};
use super::payload::{Payload, UserError};
use super::state::{AdjustmentGroup, BulkOperation, InventoryChange};
use crate::generator::Address;
use crate::money::format_cents;
use crate::shopify::model::{Fulfillment, Location, Order, Product, Variant};
use crate::shopify::store::{ShopState, ShopifyStore};
use crate::shopify::webhooks::Subscription;

pub use root::find_node;

/// What resolvers read: the shop and its state, locked for the request.
pub struct Ctx<'a> {
    pub store: &'a ShopifyStore,
    pub state: &'a ShopState,
    /// A bulk query: connections are not paged.
    pub bulk: bool,
}

/// An object of the schema, borrowed from the shop's state.
#[derive(Clone)]
pub enum Obj<'a> {
    Query,
    Shop,
    Location(&'a Location),
    Order(&'a Order),
    /// An order's line, by index.
    LineItem(&'a Order, usize),
    ShippingLine(&'a Order),
    Customer(&'a Order),
    Address(&'a Address),
    MoneyBag(i64),
    Money(i64),
    TaxLine {
        cents: i64,
        percent: i64,
    },
    Fulfillment(&'a Order, &'a Fulfillment),
    /// A fulfillment's shipped line, by index.
    FulfillmentLineItem(&'a Order, &'a Fulfillment, usize),
    TrackingInfo(&'a Fulfillment),
    FulfillmentOrder(&'a Order),
    /// The hold on the order's fulfillment order.
    FulfillmentHold(&'a Order),
    AssignedLocation(&'a Order),
    FulfillmentOrderLineItem(&'a Order, usize),
    Product(&'a Product),
    Variant(&'a Product, &'a Variant),
    InventoryItem(&'a Product, &'a Variant),
    Measurement(&'a Product),
    Weight(&'a Product),
    /// An item's level at a location.
    InventoryLevel(&'a Product, &'a Variant, u64),
    InventoryQuantity(String, i64),
    Webhook(&'a Subscription),
    Bulk(&'a BulkOperation),
    AdjustmentGroup(&'a AdjustmentGroup),
    InventoryChange(&'a InventoryChange),
    UserError(&'static str, &'a UserError),
    Payload(&'a Payload),
    /// A count, exact.
    Count(u64),
    /// An image by its address.
    Image(&'a str),
}

impl Obj<'_> {
    pub fn type_name(&self) -> &'static str {
        match self {
            Obj::Query => "QueryRoot",
            Obj::Shop => "Shop",
            Obj::Location(_) => "Location",
            Obj::Order(_) => "Order",
            Obj::LineItem(..) => "LineItem",
            Obj::ShippingLine(_) => "ShippingLine",
            Obj::Customer(_) => "Customer",
            Obj::Address(_) => "MailingAddress",
            Obj::MoneyBag(_) => "MoneyBag",
            Obj::Money(_) => "MoneyV2",
            Obj::TaxLine { .. } => "TaxLine",
            Obj::Fulfillment(..) => "Fulfillment",
            Obj::FulfillmentLineItem(..) => "FulfillmentLineItem",
            Obj::TrackingInfo(_) => "FulfillmentTrackingInfo",
            Obj::FulfillmentOrder(_) => "FulfillmentOrder",
            Obj::FulfillmentHold(_) => "FulfillmentHold",
            Obj::AssignedLocation(_) => "FulfillmentOrderAssignedLocation",
            Obj::FulfillmentOrderLineItem(..) => "FulfillmentOrderLineItem",
            Obj::Product(_) => "Product",
            Obj::Variant(..) => "ProductVariant",
            Obj::InventoryItem(..) => "InventoryItem",
            Obj::Measurement(_) => "InventoryItemMeasurement",
            Obj::Weight(_) => "Weight",
            Obj::InventoryLevel(..) => "InventoryLevel",
            Obj::InventoryQuantity(..) => "InventoryQuantity",
            Obj::Webhook(_) => "WebhookSubscription",
            Obj::Bulk(_) => "BulkOperation",
            Obj::AdjustmentGroup(_) => "InventoryAdjustmentGroup",
            Obj::InventoryChange(_) => "InventoryChange",
            Obj::UserError(type_name, _) => type_name,
            Obj::Payload(p) => p.type_name,
            Obj::Count(_) => "Count",
            Obj::Image(_) => "Image",
        }
    }
}

/// What a field resolved to, before projection.
pub enum Resolved<'a> {
    Value(Value),
    Object(Option<Obj<'a>>),
    List(Vec<Obj<'a>>),
    Connection(Conn<'a>),
}

pub type Field<'a> = Result<Resolved<'a>, GqlError>;

/// A scalar answer.
pub fn value<'a>(v: impl Into<Value>) -> Field<'a> {
    Ok(Resolved::Value(v.into()))
}

pub fn object(obj: Obj<'_>) -> Field<'_> {
    Ok(Resolved::Object(Some(obj)))
}

pub fn money<'a>(cents: i64) -> Field<'a> {
    object(Obj::MoneyBag(cents))
}

/// A connection of items keyed by id, in id order (or reversed).
pub fn by_id<'a>(items: impl Iterator<Item = (u64, Obj<'a>)>, reverse: bool) -> Field<'a> {
    let mut items: Vec<(Key, Obj<'a>)> = items.map(|(id, o)| (Key::by_id(id), o)).collect();
    if reverse {
        items.reverse();
    }
    Ok(Resolved::Connection(Conn {
        items,
        descending: reverse,
    }))
}

/// The answer for a field the schema has but this object does not resolve.
fn undefined<'a>(obj: &Obj<'_>, field: &Selection) -> Field<'a> {
    Err(GqlError::undefined_field(obj.type_name(), &field.name))
}

/// Resolves `field` on `obj`.
pub fn field<'a>(ctx: &Ctx<'a>, obj: &Obj<'a>, field: &Selection) -> Field<'a> {
    let f = field.name.as_str();
    match obj {
        Obj::Query => root::query(ctx, field),
        Obj::Shop => root::shop(ctx, field),
        Obj::Count(n) => match f {
            "count" => value(*n),
            "precision" => value("EXACT"),
            _ => undefined(obj, field),
        },
        Obj::Image(url) => match f {
            "url" => value(*url),
            "altText" => value(Value::Null),
            _ => undefined(obj, field),
        },
        Obj::MoneyBag(cents) => match f {
            "shopMoney" | "presentmentMoney" => object(Obj::Money(*cents)),
            _ => undefined(obj, field),
        },
        Obj::Money(cents) => match f {
            "amount" => value(format_cents(*cents)),
            "currencyCode" => value(ctx.store.ctx.currency.clone()),
            _ => undefined(obj, field),
        },
        Obj::TaxLine { cents, percent } => match f {
            "title" => value("Tax"),
            "rate" => value(*percent as f64 / 100.0),
            "ratePercentage" => value(*percent as f64),
            "priceSet" => money(*cents),
            _ => undefined(obj, field),
        },
        Obj::Order(_)
        | Obj::LineItem(..)
        | Obj::ShippingLine(_)
        | Obj::Customer(_)
        | Obj::Address(_)
        | Obj::Fulfillment(..)
        | Obj::FulfillmentLineItem(..)
        | Obj::TrackingInfo(_)
        | Obj::FulfillmentOrder(_)
        | Obj::FulfillmentHold(_)
        | Obj::AssignedLocation(_)
        | Obj::FulfillmentOrderLineItem(..) => orders::field(ctx, obj, field),
        Obj::Location(_)
        | Obj::Product(_)
        | Obj::Variant(..)
        | Obj::InventoryItem(..)
        | Obj::Measurement(_)
        | Obj::Weight(_)
        | Obj::InventoryLevel(..)
        | Obj::InventoryQuantity(..) => catalog::field(ctx, obj, field),
        Obj::Webhook(_)
        | Obj::Bulk(_)
        | Obj::AdjustmentGroup(_)
        | Obj::InventoryChange(_)
        | Obj::UserError(..)
        | Obj::Payload(_) => admin::field(ctx, obj, field),
    }
}

/// The error Shopify gives for an id argument that is not a global id of the expected type.
pub fn invalid_id(text: &str) -> GqlError {
    GqlError::new(
        &format!("Invalid global id '{text}'"),
        "argumentLiteralsIncompatible",
    )
    .with("value", json!(text))
}
