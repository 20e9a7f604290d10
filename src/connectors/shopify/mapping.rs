//! Shopify orders and products into switchyard's unified shapes.

use chrono::Utc;

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

fn non_empty(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty())
}

fn full_name(first: &Option<String>, last: &Option<String>) -> String {
    [first, last]
        .iter()
        .filter_map(|p| p.as_deref().map(str::trim).filter(|p| !p.is_empty()))
        .collect::<Vec<_>>()
        .join(" ")
}

fn address(a: wire::Address) -> Option<Address> {
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
        country_code: a.country_code.unwrap_or_default().to_ascii_uppercase(),
    })
}

fn line(l: wire::LineItem) -> Result<OrderLine, ConnectorError> {
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

pub fn order(o: wire::Order) -> Result<ChannelOrder, ConnectorError> {
    let status = status(
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
    let billing = o.billing_address.and_then(address);
    let shipping_address = o.shipping_address.and_then(address);
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

/// One listing per variant; stock is set on the variant's inventory item. Customs details live on
/// the inventory items and are filled in by [`with_customs`].
pub fn listings(p: wire::Product) -> Result<Vec<Listing>, ConnectorError> {
    let main_image = p.image.as_ref().map(|i| i.src.clone());
    p.variants
        .into_iter()
        .map(|v| {
            // A variant's own image when it has one, else the product's.
            let image_url = v
                .image_id
                .and_then(|id| p.images.iter().find(|i| i.id == id))
                .map(|i| i.src.clone())
                .or_else(|| main_image.clone());
            let weight = match (&v.weight, v.weight_unit.as_deref()) {
                (Some(w), Some(unit)) if w.as_f64().is_some_and(|w| w > 0.0) => Some(Weight {
                    value: w.to_string(),
                    unit: unit.to_owned(),
                }),
                _ => None,
            };
            let title = match v.title.as_deref() {
                None | Some("Default Title") => p.title.clone(),
                Some(option) => format!("{} - {option}", p.title),
            };
            let tracked = v.inventory_management.as_deref() == Some("shopify");
            Ok(Listing {
                id: ListingId {
                    product_id: p.id.to_string(),
                    variant_id: Some(v.id.to_string()),
                    inventory_item_id: v.inventory_item_id.map(|i| i.to_string()),
                },
                sku: non_empty(v.sku),
                title,
                price: v
                    .price
                    .as_deref()
                    .map(|price| money::normalise(price, "variant price"))
                    .transpose()?,
                quantity: if tracked { v.inventory_quantity } else { None },
                image_url,
                weight,
                // Shopify keeps no package dimensions of its own.
                dimensions: None,
                customs: None,
            })
        })
        .collect()
}

/// Sets each listing's customs from its inventory item, where the item has any.
pub fn with_customs(listings: &mut [Listing], items: &[wire::InventoryItem]) {
    for listing in listings {
        let Some(item) = listing
            .id
            .inventory_item_id
            .as_deref()
            .and_then(|id| items.iter().find(|i| i.id.to_string() == id))
        else {
            continue;
        };
        listing.customs = Customs::known(
            item.harmonized_system_code.clone(),
            item.country_code_of_origin.clone(),
        );
    }
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
