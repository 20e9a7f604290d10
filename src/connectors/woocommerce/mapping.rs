//! WooCommerce orders and products into switchyard's unified shapes.

use chrono::{NaiveDateTime, Utc};

use super::wire;
use crate::connectors::error::ConnectorError;
use crate::connectors::money;
use crate::domain::{
    Address, ChannelKind, ChannelOrder, Customer, Customs, Dimensions, Listing, ListingId,
    OrderLine, OrderStatus, Totals, Weight,
};

/// The unified status from WooCommerce's order status and payment date.
///
/// `processing` means paid and awaiting shipment, except for payment methods that move an order to
/// processing before money arrives (cash on delivery): without a `date_paid` it is unpaid.
/// `on-hold` awaits payment confirmation (bank transfer); `failed` and `checkout-draft` were never
/// paid. Statuses added by plugins are judged by `date_paid` alone.
pub fn status(status: &str, paid: bool) -> OrderStatus {
    match status {
        "completed" => OrderStatus::Shipped,
        "cancelled" => OrderStatus::Cancelled,
        "refunded" => OrderStatus::Refunded,
        "pending" | "on-hold" | "failed" | "checkout-draft" => OrderStatus::Unpaid,
        _ if paid => OrderStatus::Unshipped,
        _ => OrderStatus::Unpaid,
    }
}

/// Why WooCommerce says an order of `status` is not ready for despatch: `on-hold` orders await
/// the merchant's confirmation of a payment (a bank transfer, a cheque), and the store has
/// already taken their stock. `pending` is only unpaid: the customer has not paid yet, and the
/// store holds no stock for it.
pub fn not_ready(status: &str) -> Option<String> {
    (status == "on-hold")
        .then(|| "on hold on WooCommerce (awaiting the merchant's payment confirmation)".to_owned())
}

fn non_empty(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty())
}

fn full_name(a: &wire::Address) -> String {
    [&a.first_name, &a.last_name]
        .iter()
        .filter_map(|p| p.as_deref().map(str::trim).filter(|p| !p.is_empty()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `None` for an empty address (a virtual order has no shipping address).
fn address(a: wire::Address) -> Option<Address> {
    let name = full_name(&a);
    let line1 = non_empty(a.address_1)?;
    Some(Address {
        name,
        company: non_empty(a.company),
        line1,
        line2: non_empty(a.address_2),
        city: a.city.unwrap_or_default(),
        region: non_empty(a.state),
        postcode: non_empty(a.postcode),
        country_code: a.country.unwrap_or_default().to_ascii_uppercase(),
    })
}

fn utc(at: NaiveDateTime) -> chrono::DateTime<Utc> {
    at.and_utc()
}

fn line(l: wire::Line) -> Result<OrderLine, ConnectorError> {
    let subtotal = money::parse(&l.subtotal, "line subtotal")?;
    Ok(OrderLine {
        id: None,
        channel_line_id: l.id.to_string(),
        sku: non_empty(l.sku),
        title: l.name,
        quantity: l.quantity,
        unit_price: money::format(money::per_unit(subtotal, l.quantity)),
        tax: money::normalise(&l.total_tax, "line total_tax")?,
        product_id: None,
        kit_components: Vec::new(),
    })
}

pub fn order(o: wire::Order) -> Result<ChannelOrder, ConnectorError> {
    let subtotal = money::sum(
        o.line_items.iter().map(|l| l.subtotal.as_str()),
        "line subtotal",
    )?;
    let totals = Totals {
        subtotal: money::format(subtotal),
        shipping: money::normalise(&o.shipping_total, "shipping_total")?,
        tax: money::normalise(&o.total_tax, "total_tax")?,
        discount: money::normalise(&o.discount_total, "discount_total")?,
        total: money::normalise(&o.total, "total")?,
    };
    let customer = Customer {
        name: full_name(&o.billing),
        email: non_empty(o.billing.email.clone()),
        phone: non_empty(o.billing.phone.clone()).or_else(|| non_empty(o.shipping.phone.clone())),
    };
    let lines = o
        .line_items
        .into_iter()
        .map(line)
        .collect::<Result<_, _>>()?;
    Ok(ChannelOrder {
        channel_kind: ChannelKind::WooCommerce,
        channel_order_id: o.id.to_string(),
        order_number: o.number,
        status: status(&o.status, o.date_paid_gmt.is_some()),
        currency: o.currency,
        totals,
        customer,
        shipping_address: address(o.shipping),
        billing_address: address(o.billing),
        lines,
        placed_at: utc(o.date_created_gmt),
        paid_at: o.date_paid_gmt.map(utc),
        channel_updated_at: utc(o.date_modified_gmt),
        tags: Vec::new(),
        notes: non_empty(o.customer_note),
        not_ready: not_ready(&o.status),
    })
}

fn manages_stock(value: &serde_json::Value) -> bool {
    value.as_bool() == Some(true)
}

fn price(text: Option<String>) -> Result<Option<String>, ConnectorError> {
    non_empty(text)
        .map(|p| money::normalise(&p, "price"))
        .transpose()
}

/// The units a WooCommerce store is set up with out of the box. The REST API gives bare numbers;
/// a store set to other units reports them under `settings/products`, which switchyard does not
/// read yet.
const WEIGHT_UNIT: &str = "kg";
const DIMENSION_UNIT: &str = "cm";

fn weight(text: Option<&str>) -> Option<Weight> {
    let value = text.map(str::trim).filter(|t| !t.is_empty())?;
    Some(Weight {
        value: value.to_owned(),
        unit: WEIGHT_UNIT.into(),
    })
}

/// `None` unless all three sides are given: a parcel with a missing side cannot be rated.
fn dimensions(d: Option<&wire::WireDimensions>) -> Option<Dimensions> {
    let d = d?;
    let side = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    Some(Dimensions {
        length: side(&d.length)?,
        width: side(&d.width)?,
        height: side(&d.height)?,
        unit: DIMENSION_UNIT.into(),
    })
}

/// WooCommerce has no customs fields of its own; customs and shipping extensions keep them in
/// product meta as `hs_code` and `country_of_origin`.
fn customs(meta: &[wire::Meta]) -> Option<Customs> {
    let text = |key: &str| {
        meta.iter()
            .find(|m| m.key == key)
            .and_then(|m| m.value.as_str())
            .map(str::to_owned)
    };
    Customs::known(text("hs_code"), text("country_of_origin"))
}

/// A simple product as one listing.
pub fn simple_listing(p: wire::Product) -> Result<Listing, ConnectorError> {
    Ok(Listing {
        image_url: p.images.first().map(|i| i.src.clone()),
        weight: weight(p.weight.as_deref()),
        dimensions: dimensions(p.dimensions.as_ref()),
        customs: customs(&p.meta_data),
        id: ListingId {
            product_id: p.id.to_string(),
            variant_id: None,
            inventory_item_id: None,
        },
        sku: non_empty(p.sku),
        title: p.name,
        price: price(p.price)?,
        quantity: if manages_stock(&p.manage_stock) {
            p.stock_quantity
        } else {
            None
        },
    })
}

/// A variation of `product` as a listing.
pub fn variation_listing(
    product: &wire::Product,
    v: wire::Variation,
) -> Result<Listing, ConnectorError> {
    let options: Vec<&str> = v
        .attributes
        .iter()
        .map(|a| a.option.as_str())
        .filter(|o| !o.is_empty())
        .collect();
    let title = if options.is_empty() {
        product.name.clone()
    } else {
        format!("{} - {}", product.name, options.join(", "))
    };
    let quantity = match &v.manage_stock {
        serde_json::Value::String(s) if s == "parent" && manages_stock(&product.manage_stock) => {
            product.stock_quantity
        }
        m if manages_stock(m) => v.stock_quantity,
        _ => None,
    };
    // A variation without its own image, weight or dimensions inherits its product's, as the
    // storefront shows it.
    Ok(Listing {
        image_url: v
            .image
            .as_ref()
            .or(product.images.first())
            .map(|i| i.src.clone()),
        weight: weight(v.weight.as_deref()).or_else(|| weight(product.weight.as_deref())),
        dimensions: dimensions(v.dimensions.as_ref())
            .or_else(|| dimensions(product.dimensions.as_ref())),
        customs: customs(&product.meta_data),
        id: ListingId {
            product_id: product.id.to_string(),
            variant_id: Some(v.id.to_string()),
            inventory_item_id: None,
        },
        sku: non_empty(v.sku),
        title,
        price: price(v.price)?,
        quantity,
    })
}

/// WordPress's error body, `{"code": ..., "message": ...}`, as one message.
pub fn error_message(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let message = value.get("message")?.as_str()?;
    Some(match value.get("code").and_then(|c| c.as_str()) {
        Some(code) => format!("{message} [{code}]"),
        None => message.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_payment_where_the_status_does_not_say() {
        use OrderStatus::*;
        assert_eq!(status("processing", true), Unshipped);
        assert_eq!(status("processing", false), Unpaid);
        assert_eq!(status("on-hold", false), Unpaid);
        assert_eq!(status("pending", false), Unpaid);
        assert_eq!(status("failed", false), Unpaid);
        assert_eq!(status("completed", true), Shipped);
        assert_eq!(status("cancelled", false), Cancelled);
        assert_eq!(status("refunded", true), Refunded);
        assert_eq!(status("awaiting-pickup", true), Unshipped);
    }

    #[test]
    fn on_hold_is_not_ready_for_despatch_and_pending_only_unpaid() {
        assert!(not_ready("on-hold").is_some_and(|r| r.contains("on hold")));
        for other in ["pending", "processing", "failed", "completed", "cancelled"] {
            assert_eq!(not_ready(other), None, "{other}");
        }
    }

    #[test]
    fn wordpress_errors_keep_message_and_code() {
        let body = br#"{"code":"woocommerce_rest_authentication_error","message":"Consumer key is invalid.","data":{"status":401}}"#;
        assert_eq!(
            error_message(body).as_deref(),
            Some("Consumer key is invalid. [woocommerce_rest_authentication_error]")
        );
        assert_eq!(error_message(b"<html>"), None);
    }
}
