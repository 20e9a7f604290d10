//! Shopify orders and products into switchyard's unified shapes.

use chrono::Utc;

use super::graphql::legacy_id;
use super::wire;
use crate::connectors::error::ConnectorError;
use crate::connectors::money;
use crate::domain::{
    Address, ChannelKind, ChannelOrder, Customer, Customs, Listing, ListingId, OrderLine,
    OrderStatus, Totals, Weight,
};

/// The unified status from Shopify's three fields. Precedence: a cancelled order is cancelled
/// whatever was refunded; a fully refunded one is refunded; then shipping progress (an order
/// shipped before payment, e.g. on terms, is still shipped); then payment.
///
/// `authorized` counts as paid: the money is guaranteed and merchants capture it on shipping.
/// `voided` (the authorisation was released) means the order will not be paid: cancelled.
pub fn status(financial: Option<&str>, fulfillment: Option<&str>, cancelled: bool) -> OrderStatus {
    if cancelled {
        return OrderStatus::Cancelled;
    }
    match financial {
        Some("refunded") => return OrderStatus::Refunded,
        Some("voided") => return OrderStatus::Cancelled,
        _ => {}
    }
    match fulfillment {
        Some("fulfilled") | Some("shipped") => return OrderStatus::Shipped,
        Some("partial") => return OrderStatus::PartiallyShipped,
        _ => {}
    }
    match financial {
        Some("paid") | Some("partially_refunded") | Some("authorized") => OrderStatus::Unshipped,
        _ => OrderStatus::Unpaid,
    }
}

/// Why Shopify says an order is not ready for despatch, from its `displayFulfillmentStatus`:
/// `ON_HOLD` when its fulfillment orders are held (a fulfillment hold the merchant, an app or a
/// Flow placed: awaiting payment, fraud review, a wrong address, stock), `SCHEDULED` when they
/// are to be released at a later date (prepaid subscriptions, pre-orders).
pub fn not_ready(display_fulfillment_status: Option<&str>) -> Option<String> {
    match display_fulfillment_status {
        Some("ON_HOLD") => Some("on hold on Shopify (a fulfillment hold)".to_owned()),
        Some("SCHEDULED") => Some("scheduled on Shopify for a later fulfillment date".to_owned()),
        _ => None,
    }
}

pub(super) fn non_empty(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty())
}

pub(super) fn full_name(first: &Option<String>, last: &Option<String>) -> String {
    [first, last]
        .iter()
        .filter_map(|p| p.as_deref().map(str::trim).filter(|p| !p.is_empty()))
        .collect::<Vec<_>>()
        .join(" ")
}

pub(super) fn address(a: wire::Address) -> Option<Address> {
    let name = non_empty(a.name.clone()).unwrap_or_else(|| full_name(&a.first_name, &a.last_name));
    let line1 = non_empty(a.address1)?;
    Some(Address {
        name,
        company: non_empty(a.company),
        line1,
        line2: non_empty(a.address2),
        city: a.city.unwrap_or_default(),
        region: non_empty(a.province_code).or_else(|| non_empty(a.province)),
        postcode: non_empty(a.zip),
        country_code: a.country_code_v2.unwrap_or_default().to_ascii_uppercase(),
    })
}

fn amount(bag: &wire::MoneyBag, what: &str) -> Result<String, ConnectorError> {
    money::normalise(&bag.shop_money.amount, what)
}

fn line(l: wire::LineItem) -> Result<OrderLine, ConnectorError> {
    let tax = money::sum(
        l.tax_lines
            .iter()
            .map(|t| t.price_set.shop_money.amount.as_str()),
        "line tax",
    )?;
    Ok(OrderLine {
        id: None,
        channel_line_id: legacy_id(&l.id)?,
        sku: non_empty(l.sku),
        title: non_empty(l.name).unwrap_or(l.title),
        quantity: l.quantity,
        unit_price: amount(&l.original_unit_price_set, "line price")?,
        tax: money::format(tax),
        product_id: None,
        kit_components: Vec::new(),
    })
}

/// The REST spelling of a GraphQL status enum (`PARTIALLY_REFUNDED` is `partially_refunded`;
/// `PARTIALLY_FULFILLED` is `partial`), which is what [`status`] reads.
fn rest_spelling(value: Option<&str>) -> Option<String> {
    value.map(|v| match v {
        "PARTIALLY_FULFILLED" => "partial".to_owned(),
        other => other.to_ascii_lowercase(),
    })
}

/// The unified order of a GraphQL order whose lines have all been read (`lines` are the
/// order's own page of lines followed by any further pages).
pub fn order(o: wire::Order, rest: Vec<wire::LineItem>) -> Result<ChannelOrder, ConnectorError> {
    let financial = rest_spelling(o.display_financial_status.as_deref());
    let fulfillment = rest_spelling(o.display_fulfillment_status.as_deref());
    let not_ready = not_ready(o.display_fulfillment_status.as_deref());
    let status = status(
        financial.as_deref(),
        fulfillment.as_deref(),
        o.cancelled_at.is_some(),
    );
    let zero = || Ok("0.00".to_string());
    let optional = |bag: &Option<wire::MoneyBag>, what: &str| {
        bag.as_ref().map_or_else(zero, |bag| amount(bag, what))
    };
    let lines: Vec<OrderLine> = o
        .line_items
        .nodes
        .into_iter()
        .chain(rest)
        .map(line)
        .collect::<Result<_, _>>()?;
    // The lines' prices before discounts, as REST's `total_line_items_price` was.
    let mut subtotal = rust_decimal::Decimal::ZERO;
    for l in &lines {
        subtotal +=
            money::parse(&l.unit_price, "line price")? * rust_decimal::Decimal::from(l.quantity);
    }
    let totals = Totals {
        subtotal: money::format(subtotal),
        shipping: optional(&o.total_shipping_price_set, "totalShippingPriceSet")?,
        tax: optional(&o.total_tax_set, "totalTaxSet")?,
        discount: optional(&o.total_discounts_set, "totalDiscountsSet")?,
        total: amount(&o.total_price_set, "totalPriceSet")?,
    };
    let c = o.customer.unwrap_or_default();
    let billing = o.billing_address.and_then(address);
    let shipping_address = o.shipping_address.and_then(address);
    let name = Some(full_name(&c.first_name, &c.last_name))
        .filter(|n| !n.is_empty())
        .or_else(|| billing.as_ref().map(|a| a.name.clone()))
        .or_else(|| shipping_address.as_ref().map(|a| a.name.clone()))
        .unwrap_or_default();
    let paid = matches!(
        financial.as_deref(),
        Some("paid" | "partially_refunded" | "refunded" | "authorized")
    );
    Ok(ChannelOrder {
        channel_kind: ChannelKind::Shopify,
        channel_order_id: legacy_id(&o.id)?,
        order_number: o.name,
        status,
        currency: o.currency_code,
        totals,
        customer: Customer {
            name,
            email: non_empty(o.email).or(non_empty(c.email)),
            phone: non_empty(o.phone).or(non_empty(c.phone)),
        },
        shipping_address,
        billing_address: billing,
        lines,
        placed_at: o.created_at.with_timezone(&Utc),
        // The order has no payment time; for a paid order, processing is when the checkout
        // completed, which is when the card was charged or authorised.
        paid_at: paid.then(|| o.processed_at.unwrap_or(o.created_at).with_timezone(&Utc)),
        channel_updated_at: o.updated_at.with_timezone(&Utc),
        tags: o
            .tags
            .iter()
            .map(|t| t.trim())
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect(),
        notes: non_empty(o.note),
        not_ready,
    })
}

/// Shopify's GraphQL weight units in the REST spelling listings carry (`KILOGRAMS` is `kg`).
fn weight_unit(unit: &str) -> &str {
    match unit {
        "GRAMS" => "g",
        "KILOGRAMS" => "kg",
        "OUNCES" => "oz",
        "POUNDS" => "lb",
        other => other,
    }
}

/// One listing per variant; stock is read and set on the variant's inventory item at the
/// channel's location, so `quantity` is that location's `available` (none when the item is not
/// tracked or not stocked there).
pub fn listing(v: wire::Variant) -> Result<Listing, ConnectorError> {
    let item = v.inventory_item.as_ref();
    let weight = item
        .and_then(|i| i.measurement.as_ref())
        .and_then(|m| m.weight.as_ref())
        .filter(|w| w.value.as_f64().is_some_and(|w| w > 0.0))
        .map(|w| Weight {
            value: w.value.to_string(),
            unit: weight_unit(&w.unit).to_owned(),
        });
    let title = match v.title.as_deref() {
        None | Some("Default Title") => v.product.title.clone(),
        Some(option) => format!("{} - {option}", v.product.title),
    };
    let quantity = item.filter(|i| i.tracked).and_then(|i| {
        let level = i.inventory_level.as_ref()?;
        level
            .quantities
            .iter()
            .find(|q| q.name == "available")
            .map(|q| q.quantity)
    });
    Ok(Listing {
        id: ListingId {
            product_id: legacy_id(&v.product.id)?,
            variant_id: Some(legacy_id(&v.id)?),
            inventory_item_id: item.map(|i| legacy_id(&i.id)).transpose()?,
        },
        sku: non_empty(v.sku),
        title,
        price: v
            .price
            .as_deref()
            .map(|price| money::normalise(price, "variant price"))
            .transpose()?,
        quantity,
        // A variant's own image when it has one, else the product's.
        image_url: v
            .image
            .map(|i| i.url)
            .or_else(|| v.product.featured_image.map(|i| i.url)),
        weight,
        // Shopify keeps no package dimensions of its own.
        dimensions: None,
        customs: item.and_then(|i| {
            Customs::known(
                i.harmonized_system_code.clone(),
                i.country_code_of_origin.clone(),
            )
        }),
    })
}

/// Shopify's error body, `{"errors": ...}`, as one message.
pub fn error_message(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let errors = value.get("errors").or_else(|| value.get("error"))?;
    Some(flatten(errors))
}

fn flatten(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(flatten).collect::<Vec<_>>().join("; "),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{k}: {}", flatten(v)))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_documented_precedence() {
        use OrderStatus::*;
        assert_eq!(status(Some("paid"), None, false), Unshipped);
        assert_eq!(status(Some("authorized"), None, false), Unshipped);
        assert_eq!(status(Some("pending"), None, false), Unpaid);
        assert_eq!(status(Some("partially_paid"), None, false), Unpaid);
        assert_eq!(
            status(Some("paid"), Some("partial"), false),
            PartiallyShipped
        );
        assert_eq!(status(Some("paid"), Some("fulfilled"), false), Shipped);
        assert_eq!(status(Some("pending"), Some("fulfilled"), false), Shipped);
        assert_eq!(status(Some("refunded"), Some("fulfilled"), false), Refunded);
        assert_eq!(status(Some("refunded"), None, true), Cancelled);
        assert_eq!(status(Some("voided"), None, false), Cancelled);
    }

    #[test]
    fn held_and_scheduled_orders_are_not_ready_for_despatch() {
        assert!(not_ready(Some("ON_HOLD")).is_some_and(|r| r.contains("hold")));
        assert!(not_ready(Some("SCHEDULED")).is_some_and(|r| r.contains("scheduled")));
        for other in [
            None,
            Some("UNFULFILLED"),
            Some("PARTIALLY_FULFILLED"),
            Some("FULFILLED"),
        ] {
            assert_eq!(not_ready(other), None, "{other:?}");
        }
        // A hold says nothing of payment: a paid held order is still unshipped.
        assert_eq!(
            status(
                Some("paid"),
                rest_spelling(Some("ON_HOLD")).as_deref(),
                false
            ),
            OrderStatus::Unshipped
        );
    }

    #[test]
    fn error_bodies_of_every_shape_read_as_text() {
        let read = |body: &str| error_message(body.as_bytes());
        assert_eq!(
            read(r#"{"errors":"Not Found"}"#).as_deref(),
            Some("Not Found")
        );
        assert_eq!(read(r#"{"errors":["a","b"]}"#).as_deref(), Some("a; b"));
        assert_eq!(
            read(r#"{"errors":{"limit":"Invalid value."}}"#).as_deref(),
            Some("limit: Invalid value.")
        );
        assert_eq!(read("<html>"), None);
    }
}
