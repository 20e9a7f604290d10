//! The order a Shopify webhook carries: the REST Admin API's order resource (webhooks keep the
//! REST shape whatever API version the app reads with), for the `orders/*` topics. A verified
//! one is stored as it comes, so a sale reaches switchyard without a read back costing the shop's
//! GraphQL bucket.

use chrono::{DateTime, FixedOffset};
use serde::Deserialize;

use super::{mapping, wire};
use crate::connectors::error::ConnectorError;
use crate::domain::ChannelOrder;

/// The topics whose body is a whole order.
pub const ORDER_TOPICS: &[&str] = &[
    "orders/create",
    "orders/updated",
    "orders/cancelled",
    "orders/paid",
    "orders/fulfilled",
    "orders/partially_fulfilled",
];

#[derive(Debug, Deserialize)]
pub struct Order {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub contact_email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    pub currency: String,
    #[serde(default)]
    pub financial_status: Option<String>,
    #[serde(default)]
    pub fulfillment_status: Option<String>,
    #[serde(default)]
    pub cancelled_at: Option<DateTime<FixedOffset>>,
    pub created_at: DateTime<FixedOffset>,
    #[serde(default)]
    pub processed_at: Option<DateTime<FixedOffset>>,
    pub updated_at: DateTime<FixedOffset>,
    #[serde(default)]
    pub total_discounts: Option<String>,
    #[serde(default)]
    pub total_tax: Option<String>,
    pub total_price: String,
    #[serde(default)]
    pub total_shipping_price_set: Option<wire::MoneyBag>,
    #[serde(default)]
    pub shipping_address: Option<wire::Address>,
    #[serde(default)]
    pub billing_address: Option<wire::Address>,
    #[serde(default)]
    pub customer: Option<wire::Customer>,
    pub line_items: Vec<LineItem>,
    #[serde(default)]
    pub tags: String,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct LineItem {
    pub id: u64,
    #[serde(default)]
    pub sku: Option<String>,
    pub title: String,
    #[serde(default)]
    pub name: Option<String>,
    pub quantity: u32,
    pub price: String,
    #[serde(default)]
    pub tax_lines: Vec<TaxLine>,
}

#[derive(Debug, Deserialize)]
pub struct TaxLine {
    pub price: String,
}

fn money(amount: String) -> wire::MoneyBag {
    wire::MoneyBag {
        shop_money: wire::Money { amount },
    }
}

/// A REST status as the GraphQL enum spells it (`partially_refunded` is `PARTIALLY_REFUNDED`,
/// `partial` fulfilment `PARTIALLY_FULFILLED`).
fn enum_spelling(value: Option<String>) -> Option<String> {
    value.map(|v| match v.as_str() {
        "partial" => "PARTIALLY_FULFILLED".to_owned(),
        other => other.to_ascii_uppercase(),
    })
}

/// The webhook's order in the shape the GraphQL API answers with, so one mapping serves both.
fn into_wire(o: Order) -> wire::Order {
    let gid = |kind: &str, id: u64| super::graphql::gid(kind, &id.to_string());
    let lines = o
        .line_items
        .into_iter()
        .map(|l| wire::LineItem {
            id: gid("LineItem", l.id),
            sku: l.sku,
            title: l.title,
            name: l.name,
            quantity: l.quantity,
            original_unit_price_set: money(l.price),
            tax_lines: l
                .tax_lines
                .into_iter()
                .map(|t| wire::TaxLine {
                    price_set: money(t.price),
                })
                .collect(),
        })
        .collect();
    wire::Order {
        id: gid("Order", o.id),
        name: o.name,
        email: o.email.filter(|e| !e.trim().is_empty()).or(o.contact_email),
        phone: o.phone,
        note: o.note,
        tags: o.tags.split(',').map(str::to_owned).collect(),
        created_at: o.created_at,
        processed_at: o.processed_at,
        updated_at: o.updated_at,
        cancelled_at: o.cancelled_at,
        currency_code: o.currency,
        display_financial_status: enum_spelling(o.financial_status),
        display_fulfillment_status: enum_spelling(o.fulfillment_status),
        total_price_set: money(o.total_price),
        total_tax_set: o.total_tax.map(money),
        total_shipping_price_set: o.total_shipping_price_set,
        total_discounts_set: o.total_discounts.map(money),
        customer: o.customer,
        shipping_address: o.shipping_address,
        billing_address: o.billing_address,
        line_items: wire::Connection::whole(lines),
    }
}

/// The unified order of a webhook's REST order.
pub fn order(o: Order) -> Result<ChannelOrder, ConnectorError> {
    mapping::order(into_wire(o), Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::OrderStatus;

    #[test]
    fn a_webhook_order_maps_as_the_same_order_read_through_graphql_would() {
        let body = serde_json::json!({
            "id": 450789469, "name": "#1001", "email": "", "contact_email": "bob@example.com",
            "currency": "GBP", "financial_status": "partially_refunded",
            "fulfillment_status": "partial", "created_at": "2026-01-10T11:00:00-05:00",
            "processed_at": "2026-01-10T11:00:05-05:00", "updated_at": "2026-01-11T09:30:00-05:00",
            "total_price": "29.00", "total_tax": "4.00", "total_discounts": "1.00",
            "total_shipping_price_set": {"shop_money": {"amount": "5.00", "currency_code": "GBP"}},
            "shipping_address": {"first_name": "Bob", "last_name": "Norman", "address1": "1 Lane",
                                 "city": "Leeds", "zip": "LS1 1AA", "country_code": "gb"},
            "customer": {"first_name": "Bob", "last_name": "Norman"},
            "tags": "vip, wholesale", "note": " leave at door ",
            "line_items": [
                {"id": 1, "sku": "MS-1", "title": "Socks", "quantity": 2, "price": "10.00",
                 "tax_lines": [{"price": "2.00"}, {"price": "1.00"}]},
                {"id": 2, "sku": null, "title": "Gift wrap", "name": "Gift wrap - Red",
                 "quantity": 1, "price": "1.00", "tax_lines": []}
            ]
        });
        let o: Order = serde_json::from_value(body).expect("a REST order");
        let order = order(o).expect("maps");
        assert_eq!(order.channel_order_id, "450789469");
        assert_eq!(order.status, OrderStatus::PartiallyShipped);
        assert_eq!(order.customer.email.as_deref(), Some("bob@example.com"));
        assert_eq!(order.customer.name, "Bob Norman");
        assert_eq!(order.totals.subtotal, "21.00");
        assert_eq!(order.totals.shipping, "5.00");
        assert_eq!(order.lines[0].channel_line_id, "1");
        assert_eq!(order.lines[0].tax, "3.00");
        assert_eq!(order.lines[1].title, "Gift wrap - Red");
        assert_eq!(order.tags, ["vip", "wholesale"]);
        assert_eq!(order.notes.as_deref(), Some("leave at door"));
        assert_eq!(
            order.shipping_address.map(|a| a.country_code),
            Some("GB".to_owned())
        );
        assert!(order.paid_at.is_some());
    }
}
