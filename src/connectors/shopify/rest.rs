//! The order a Shopify webhook carries: the REST Admin API's order resource (webhooks keep the
//! REST shape whatever API version the app reads with), for the `orders/*` topics. A verified
//! one is stored as it comes, so a sale reaches switchyard without a read back costing the shop's
//! GraphQL bucket.

use chrono::{DateTime, FixedOffset, Utc};
use serde::Deserialize;

use super::mapping::{self, full_name, non_empty};
use super::wire;
use crate::connectors::error::ConnectorError;
use crate::connectors::money;
use crate::domain::{ChannelKind, ChannelOrder, Customer, OrderLine, Totals};

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
    pub total_line_items_price: String,
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

fn line(l: LineItem) -> Result<OrderLine, ConnectorError> {
    let tax = money::sum(l.tax_lines.iter().map(|t| t.price.as_str()), "line tax")?;
    Ok(OrderLine {
        id: None,
        channel_line_id: l.id.to_string(),
        sku: non_empty(l.sku),
        title: non_empty(l.name).unwrap_or(l.title),
        quantity: l.quantity,
        unit_price: money::normalise(&l.price, "line price")?,
        tax: money::format(tax),
        product_id: None,
        kit_components: Vec::new(),
    })
}

/// The unified order of a webhook's REST order.
pub fn order(o: Order) -> Result<ChannelOrder, ConnectorError> {
    let status = mapping::status(
        o.financial_status.as_deref(),
        o.fulfillment_status.as_deref(),
        o.cancelled_at.is_some(),
    );
    let zero = "0.00".to_string();
    let shipping = o
        .total_shipping_price_set
        .as_ref()
        .map_or(zero.clone(), |s| s.shop_money.amount.clone());
    let totals = Totals {
        subtotal: money::normalise(&o.total_line_items_price, "total_line_items_price")?,
        shipping: money::normalise(&shipping, "total_shipping_price_set")?,
        tax: money::normalise(o.total_tax.as_ref().unwrap_or(&zero), "total_tax")?,
        discount: money::normalise(
            o.total_discounts.as_ref().unwrap_or(&zero),
            "total_discounts",
        )?,
        total: money::normalise(&o.total_price, "total_price")?,
    };
    let c = o.customer.unwrap_or_default();
    let billing = o.billing_address.and_then(mapping::address);
    let shipping_address = o.shipping_address.and_then(mapping::address);
    let name = Some(full_name(&c.first_name, &c.last_name))
        .filter(|n| !n.is_empty())
        .or_else(|| billing.as_ref().map(|a| a.name.clone()))
        .or_else(|| shipping_address.as_ref().map(|a| a.name.clone()))
        .unwrap_or_default();
    let paid = matches!(
        o.financial_status.as_deref(),
        Some("paid" | "partially_refunded" | "refunded" | "authorized")
    );
    let lines = o
        .line_items
        .into_iter()
        .map(line)
        .collect::<Result<_, _>>()?;
    Ok(ChannelOrder {
        channel_kind: ChannelKind::Shopify,
        channel_order_id: o.id.to_string(),
        order_number: o.name,
        status,
        currency: o.currency,
        totals,
        customer: Customer {
            name,
            email: non_empty(o.email)
                .or(non_empty(o.contact_email))
                .or(non_empty(c.email)),
            phone: non_empty(o.phone).or(non_empty(c.phone)),
        },
        shipping_address,
        billing_address: billing,
        lines,
        placed_at: o.created_at.with_timezone(&Utc),
        // The REST order has no payment time; for a paid order, processing is when the checkout
        // completed, which is when the card was charged or authorised.
        paid_at: paid.then(|| o.processed_at.unwrap_or(o.created_at).with_timezone(&Utc)),
        channel_updated_at: o.updated_at.with_timezone(&Utc),
        tags: o
            .tags
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect(),
        notes: non_empty(o.note),
    })
}
