//! eBay orders and inventory into switchyard's unified shapes, and eBay's error envelope into a
//! merchant's words and a retry decision.

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use rust_decimal::Decimal;

use super::wire;
use crate::connectors::error::ConnectorError;
use crate::connectors::{http, money};
use crate::domain::{
    Address, ChannelKind, ChannelOrder, Customer, Dimensions, Listing, ListingId, OrderLine,
    OrderStatus, Totals, Weight,
};

/// The unified status from eBay's three order states.
///
/// A cancelled order is cancelled whatever its payment says (a paid one is refunded as part of
/// the cancellation); a fully refunded one is refunded. A paid order (a partial refund leaves it
/// so) is as shipped as its fulfillment status says. Anything else (`PENDING`, `FAILED`, a payment
/// state eBay adds later) is unpaid, which keeps it out of fulfilment.
pub fn status(fulfillment: &str, payment: &str, cancel_state: &str) -> OrderStatus {
    if cancel_state == "CANCELED" {
        return OrderStatus::Cancelled;
    }
    match payment {
        "FULLY_REFUNDED" => OrderStatus::Refunded,
        "PAID" | "PARTIALLY_REFUNDED" => match fulfillment {
            "FULFILLED" => OrderStatus::Shipped,
            "IN_PROGRESS" => OrderStatus::PartiallyShipped,
            _ => OrderStatus::Unshipped,
        },
        _ => OrderStatus::Unpaid,
    }
}

fn non_empty(text: Option<&str>) -> Option<String> {
    text.map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

/// An amount eBay may leave out (no discount, no tax): zero when absent.
fn amount(value: Option<&wire::Amount>, field: &str) -> Result<Decimal, ConnectorError> {
    value.map_or(Ok(Decimal::ZERO), |a| money::parse(&a.value, field))
}

/// `None` for a contact without a street (digital goods, eBay's own fulfilment).
fn address(contact: &wire::Contact) -> Option<Address> {
    let a = contact.contact_address.as_ref()?;
    Some(Address {
        name: non_empty(contact.full_name.as_deref()).unwrap_or_default(),
        company: non_empty(contact.company_name.as_deref()),
        line1: non_empty(a.address_line1.as_deref())?,
        line2: non_empty(a.address_line2.as_deref()),
        city: non_empty(a.city.as_deref()).unwrap_or_default(),
        region: non_empty(a.state_or_province.as_deref())
            .or_else(|| non_empty(a.county.as_deref())),
        postcode: non_empty(a.postal_code.as_deref()),
        country_code: a
            .country_code
            .as_deref()
            .unwrap_or_default()
            .trim()
            .to_ascii_uppercase(),
    })
}

fn line(l: wire::LineItem) -> Result<OrderLine, ConnectorError> {
    let cost = money::parse(&l.line_item_cost.value, "lineItemCost")?;
    let tax = l.taxes.iter().try_fold(Decimal::ZERO, |sum, t| {
        Ok::<_, ConnectorError>(sum + amount(t.amount.as_ref(), "taxes.amount")?)
    })?;
    Ok(OrderLine {
        id: None,
        channel_line_id: l.line_item_id,
        sku: non_empty(l.sku.as_deref()),
        title: l.title,
        quantity: l.quantity,
        unit_price: money::format(money::per_unit(cost, l.quantity)),
        tax: money::format(tax),
        product_id: None,
        kit_components: Vec::new(),
    })
}

/// The order's totals in switchyard's terms. eBay reports discounts as negative amounts; a
/// delivery discount is netted into shipping, so `total = subtotal - discount + shipping + tax`
/// holds wherever eBay's own total has no other adjustment.
fn totals(o: &wire::Order) -> Result<Totals, ConnectorError> {
    let p = &o.pricing_summary;
    let subtotal = match &p.price_subtotal {
        Some(a) => money::parse(&a.value, "priceSubtotal")?,
        None => o.line_items.iter().try_fold(Decimal::ZERO, |sum, l| {
            Ok::<_, ConnectorError>(sum + money::parse(&l.line_item_cost.value, "lineItemCost")?)
        })?,
    };
    let discount = -amount(p.price_discount.as_ref(), "priceDiscount")?;
    let shipping = amount(p.delivery_cost.as_ref(), "deliveryCost")?
        + amount(p.delivery_discount.as_ref(), "deliveryDiscount")?;
    let tax = amount(p.tax.as_ref(), "tax")?;
    let stated = p
        .total
        .as_ref()
        .map(|a| money::parse(&a.value, "pricingSummary.total"))
        .transpose()?;
    Ok(money::totals(subtotal, discount, shipping, tax, stated))
}

/// When the buyer paid: the earliest dated payment, or, for an order eBay calls paid (or
/// refunded) without dating it, its creation (eBay checkouts are paid as they are placed).
fn paid_at(o: &wire::Order) -> Option<DateTime<Utc>> {
    let dated = o
        .payment_summary
        .payments
        .iter()
        .filter_map(|p| p.payment_date)
        .min();
    match o.order_payment_status.as_str() {
        "PAID" | "PARTIALLY_REFUNDED" | "FULLY_REFUNDED" => dated.or(Some(o.creation_date)),
        _ => dated,
    }
}

pub fn order(o: wire::Order) -> Result<ChannelOrder, ConnectorError> {
    let status = status(
        &o.order_fulfillment_status,
        &o.order_payment_status,
        &o.cancel_status.cancel_state,
    );
    let p = &o.pricing_summary;
    let currency = [&p.total, &p.price_subtotal]
        .into_iter()
        .flatten()
        .map(|a| a.currency.clone())
        .chain(
            o.line_items
                .iter()
                .map(|l| l.line_item_cost.currency.clone()),
        )
        .find(|c| !c.trim().is_empty())
        .ok_or_else(|| {
            ConnectorError::Malformed(format!("eBay order {} has no currency", o.order_id))
        })?;
    let totals = totals(&o)?;
    let paid_at = paid_at(&o);
    let ship_to = o
        .fulfillment_start_instructions
        .iter()
        .find_map(|i| i.shipping_step.as_ref()?.ship_to.as_ref());
    let registered = o.buyer.buyer_registration_address.as_ref();
    let contacts = || registered.into_iter().chain(ship_to);
    let customer = Customer {
        name: contacts()
            .find_map(|c| non_empty(c.full_name.as_deref()))
            .unwrap_or_else(|| o.buyer.username.clone()),
        email: contacts().find_map(|c| non_empty(c.email.as_deref())),
        phone: contacts()
            .find_map(|c| non_empty(c.primary_phone.as_ref()?.phone_number.as_deref())),
    };
    let shipping_address = ship_to.and_then(address);
    // eBay has no billing address; the buyer's registered address is the one an invoice names.
    let billing_address = registered.and_then(address);
    let lines = o
        .line_items
        .into_iter()
        .map(line)
        .collect::<Result<_, _>>()?;
    Ok(ChannelOrder {
        channel_kind: ChannelKind::Ebay,
        order_number: o.order_id.clone(),
        channel_order_id: o.order_id,
        status,
        currency,
        totals,
        customer,
        shipping_address,
        billing_address,
        lines,
        placed_at: o.creation_date,
        paid_at,
        channel_updated_at: o.last_modified_date,
        tags: Vec::new(),
        notes: non_empty(o.buyer_checkout_notes.as_deref()),
        // eBay has no hold on despatch beyond payment: an unpaid order is only unpaid.
        not_ready: None,
    })
}

/// eBay's weight units as switchyard writes them; `None` for one it does not know.
fn weight(w: &wire::Weight) -> Option<Weight> {
    let unit = match w.unit.as_str() {
        "GRAM" => "g",
        "KILOGRAM" => "kg",
        "OUNCE" => "oz",
        "POUND" => "lb",
        _ => return None,
    };
    Some(Weight {
        value: w.value.to_string(),
        unit: unit.into(),
    })
}

fn dimensions(d: &wire::Dimensions) -> Option<Dimensions> {
    let unit = match d.unit.as_str() {
        "CENTIMETER" => "cm",
        "METER" => "m",
        "INCH" => "in",
        "FEET" => "ft",
        _ => return None,
    };
    Some(Dimensions {
        length: d.length.to_string(),
        width: d.width.to_string(),
        height: d.height.to_string(),
        unit: unit.into(),
    })
}

/// A SKU's inventory item, with the published fixed-price offer that sells it if it has one:
/// the offer gives the price, the id stock is set on, and (with the item's total) the quantity
/// buyers see, the smaller of the two.
pub fn listing(
    item: wire::InventoryItem,
    offer: Option<wire::Offer>,
) -> Result<Listing, ConnectorError> {
    let total = item
        .availability
        .ship_to_location_availability
        .and_then(|a| a.quantity);
    let offered = offer.as_ref().and_then(|o| o.available_quantity);
    let quantity = match (total, offered) {
        (Some(total), Some(offered)) => Some(total.min(offered)),
        (total, offered) => total.or(offered),
    };
    let price = offer
        .as_ref()
        .and_then(|o| o.pricing_summary.price.as_ref())
        .map(|p| money::normalise(&p.value, "offer price"))
        .transpose()?;
    let package = item.package_weight_and_size.as_ref();
    Ok(Listing {
        title: non_empty(item.product.title.as_deref()).unwrap_or_else(|| item.sku.clone()),
        image_url: item.product.image_urls.first().cloned(),
        weight: package.and_then(|p| p.weight.as_ref()).and_then(weight),
        dimensions: package
            .and_then(|p| p.dimensions.as_ref())
            .and_then(dimensions),
        customs: None,
        id: ListingId {
            product_id: item.sku.clone(),
            variant_id: offer.map(|o| o.offer_id),
            inventory_item_id: None,
        },
        sku: Some(item.sku),
        price,
        quantity,
    })
}

/// The errors of an envelope as one message: each one's long message (or message) and id.
pub fn describe(errors: &[wire::ErrorDetail]) -> Option<String> {
    let described: Vec<String> = errors
        .iter()
        .filter_map(|e| {
            let text =
                non_empty(e.long_message.as_deref()).or_else(|| non_empty(e.message.as_deref()))?;
            Some(match e.error_id {
                Some(id) => format!("{text} [{id}]"),
                None => text,
            })
        })
        .collect();
    (!described.is_empty()).then(|| described.join("; "))
}

/// eBay's error body as one message (`None` when it is not eBay's envelope).
pub fn error_message(body: &[u8]) -> Option<String> {
    let envelope: wire::ErrorEnvelope = serde_json::from_slice(body).ok()?;
    describe(&envelope.errors)
}

/// The outcome of one SKU of a bulk update, from its own status code and errors. An
/// `APPLICATION` error is eBay's failure and worth retrying whatever status it came with.
pub fn item_outcome(response: &wire::PriceQuantityResponse) -> Result<(), ConnectorError> {
    let code = response.status_code;
    if (200..300).contains(&code) {
        return Ok(());
    }
    let message = describe(&response.errors).unwrap_or_else(|| format!("status {code}"));
    let theirs = response
        .errors
        .iter()
        .any(|e| e.category.as_deref() == Some("APPLICATION"));
    Err(match StatusCode::from_u16(code) {
        Ok(_) if theirs => ConnectorError::Transient {
            status: Some(code),
            message,
        },
        Ok(status) => http::status_error(status, message),
        Err(_) => {
            ConnectorError::Malformed(format!("stock update answered status {code}: {message}"))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn statuses_follow_cancellation_then_payment_then_shipping() {
        use OrderStatus::*;
        let none = "NONE_REQUESTED";
        assert_eq!(status("NOT_STARTED", "PAID", none), Unshipped);
        assert_eq!(status("IN_PROGRESS", "PAID", none), PartiallyShipped);
        assert_eq!(status("FULFILLED", "PAID", none), Shipped);
        assert_eq!(status("FULFILLED", "PARTIALLY_REFUNDED", none), Shipped);
        assert_eq!(status("NOT_STARTED", "PENDING", none), Unpaid);
        assert_eq!(status("NOT_STARTED", "FAILED", none), Unpaid);
        assert_eq!(status("FULFILLED", "FULLY_REFUNDED", none), Refunded);
        assert_eq!(
            status("NOT_STARTED", "FULLY_REFUNDED", "CANCELED"),
            Cancelled
        );
        assert_eq!(
            status("NOT_STARTED", "PAID", "IN_PROGRESS"),
            Unshipped,
            "a cancellation only requested leaves the order as it is"
        );
    }

    fn order_json() -> serde_json::Value {
        let gbp = |value: &str| json!({"value": value, "currency": "GBP"});
        json!({
            "orderId": "12-34567-89012",
            "legacyOrderId": "110554000000-2790000000001",
            "creationDate": "2024-07-01T10:00:00.000Z",
            "lastModifiedDate": "2024-07-01T10:05:00.123Z",
            "orderFulfillmentStatus": "NOT_STARTED",
            "orderPaymentStatus": "PAID",
            "cancelStatus": {"cancelState": "NONE_REQUESTED", "cancelRequests": []},
            "buyer": {"username": "ada_lovelace1", "buyerRegistrationAddress": {
                "fullName": "Ada Lovelace", "email": "ada@example.com",
                "primaryPhone": {"phoneNumber": "07700 900123"},
                "contactAddress": {"addressLine1": "1 Analytical Row", "city": "London",
                    "postalCode": "N1 1AA", "countryCode": "GB"}}},
            "buyerCheckoutNotes": " Leave with the porter ",
            "pricingSummary": {
                "priceSubtotal": gbp("178.00"), "priceDiscount": gbp("-17.80"),
                "deliveryCost": gbp("4.99"), "deliveryDiscount": gbp("-1.00"),
                "tax": gbp("32.04"), "total": gbp("196.23")},
            "paymentSummary": {"payments": [{"paymentStatus": "PAID",
                "paymentDate": "2024-07-01T10:00:02.000Z", "amount": gbp("196.23")}], "refunds": []},
            "fulfillmentStartInstructions": [{"shippingStep": {"shipTo": {
                "fullName": "Charles Babbage", "companyName": "Difference Engines Ltd",
                "contactAddress": {"addressLine1": "2 Engine Yard", "addressLine2": "Unit 3",
                    "city": "Teignmouth", "county": "Devon", "postalCode": "TQ14 8AA",
                    "countryCode": "gb"}}}}],
            "lineItems": [
                {"lineItemId": "10000000000010", "sku": "TR-9", "title": "Trail Runner - 9",
                 "quantity": 2, "lineItemCost": gbp("178.00"),
                 "taxes": [{"amount": gbp("32.04"), "taxType": "VAT"}],
                 "appliedPromotions": [], "refunds": []},
                {"lineItemId": "10000000000011", "title": "Gift wrap", "quantity": 1,
                 "lineItemCost": gbp("0.00"), "taxes": [], "appliedPromotions": [], "refunds": []}
            ]
        })
    }

    fn parsed(value: serde_json::Value) -> wire::Order {
        serde_json::from_value(value).unwrap_or_else(|e| panic!("an eBay order: {e}"))
    }

    #[test]
    fn an_order_maps_money_addresses_and_people() {
        let o = order(parsed(order_json())).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(o.channel_kind, ChannelKind::Ebay);
        assert_eq!(o.channel_order_id, "12-34567-89012");
        assert_eq!(o.order_number, "12-34567-89012");
        assert_eq!(o.status, OrderStatus::Unshipped);
        assert_eq!(o.currency, "GBP");
        assert_eq!(
            o.totals,
            Totals {
                subtotal: "178.00".into(),
                shipping: "3.99".into(),
                tax: "32.04".into(),
                discount: "17.80".into(),
                total: "196.23".into(),
            },
            "discounts are positive, the delivery discount netted into shipping"
        );
        assert_eq!(o.lines[0].unit_price, "89.00");
        assert_eq!(o.lines[0].tax, "32.04");
        assert_eq!(o.lines[0].sku.as_deref(), Some("TR-9"));
        assert_eq!(o.lines[1].sku, None);
        assert_eq!(o.lines[1].tax, "0.00");
        assert_eq!(o.customer.name, "Ada Lovelace");
        assert_eq!(o.customer.email.as_deref(), Some("ada@example.com"));
        assert_eq!(o.customer.phone.as_deref(), Some("07700 900123"));
        let ship = o.shipping_address.unwrap_or_default();
        assert_eq!(ship.name, "Charles Babbage");
        assert_eq!(ship.company.as_deref(), Some("Difference Engines Ltd"));
        assert_eq!(ship.line2.as_deref(), Some("Unit 3"));
        assert_eq!(
            ship.region.as_deref(),
            Some("Devon"),
            "county when no state"
        );
        assert_eq!(ship.country_code, "GB");
        assert_eq!(
            o.billing_address.map(|a| a.line1).as_deref(),
            Some("1 Analytical Row")
        );
        assert_eq!(
            o.paid_at.map(|t| t.to_rfc3339()).as_deref(),
            Some("2024-07-01T10:00:02+00:00")
        );
        assert_eq!(o.channel_updated_at.timestamp_subsec_millis(), 123);
        assert_eq!(o.notes.as_deref(), Some("Leave with the porter"));
    }

    #[test]
    fn an_unpaid_order_has_no_payment_time_and_a_garbled_amount_is_malformed() {
        let mut unpaid = order_json();
        unpaid["orderPaymentStatus"] = json!("PENDING");
        unpaid["paymentSummary"]["payments"][0] = json!({"paymentStatus": "PENDING"});
        let o = order(parsed(unpaid)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((o.status, o.paid_at), (OrderStatus::Unpaid, None));

        let mut garbled = order_json();
        garbled["pricingSummary"]["tax"]["value"] = json!("32,04");
        assert!(matches!(
            order(parsed(garbled)),
            Err(ConnectorError::Malformed(m)) if m.contains("tax")
        ));
    }

    fn offer(quantity: i64) -> wire::Offer {
        serde_json::from_value(json!({
            "offerId": "5123000001", "format": "FIXED_PRICE", "status": "PUBLISHED",
            "availableQuantity": quantity,
            "pricingSummary": {"price": {"value": "12.5", "currency": "GBP"}}
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_listing_sells_the_smaller_quantity_at_its_offers_price() {
        let item: wire::InventoryItem = serde_json::from_value(json!({
            "sku": "MS-1",
            "product": {"title": "Merino Socks", "imageUrls": ["https://img.example/ms-1.jpg"]},
            "availability": {"shipToLocationAvailability": {"quantity": 40}},
            "packageWeightAndSize": {"weight": {"value": 0.25, "unit": "KILOGRAM"},
                "dimensions": {"length": 20, "width": 10.5, "height": 3, "unit": "CENTIMETER"}}
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let l = listing(item, Some(offer(7))).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(l.id.product_id, "MS-1");
        assert_eq!(l.id.variant_id.as_deref(), Some("5123000001"));
        assert_eq!(l.quantity, Some(7));
        assert_eq!(l.price.as_deref(), Some("12.50"));
        assert_eq!(
            l.weight.map(|w| (w.value, w.unit)),
            Some(("0.25".into(), "kg".into()))
        );
        assert_eq!(
            l.dimensions.map(|d| (d.width, d.unit)),
            Some(("10.5".into(), "cm".into()))
        );
        assert_eq!(l.image_url.as_deref(), Some("https://img.example/ms-1.jpg"));

        let unlisted: wire::InventoryItem = serde_json::from_value(json!({
            "sku": "MS-2",
            "availability": {"shipToLocationAvailability": {"quantity": 3}}
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let l = listing(unlisted, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (l.title.as_str(), l.quantity, l.price),
            ("MS-2", Some(3), None)
        );
        assert_eq!(l.id.variant_id, None);
    }

    #[test]
    fn errors_read_as_ebay_words_and_bulk_items_sort_by_status_and_category() {
        let body = br#"{"errors":[{"errorId":1001,"domain":"OAuth","category":"REQUEST","message":"Invalid access token","longMessage":"Invalid access token. Check the value of the Authorization HTTP request header."}]}"#;
        assert_eq!(
            error_message(body).as_deref(),
            Some("Invalid access token. Check the value of the Authorization HTTP request header. [1001]")
        );
        assert_eq!(error_message(b"<html>"), None);

        let item = |status: u16, category: &str| -> wire::PriceQuantityResponse {
            serde_json::from_value(json!({"sku": "A", "statusCode": status, "errors": [
                {"errorId": 25001, "category": category, "message": "A system error has occurred."}]}))
            .unwrap_or_else(|e| panic!("{e}"))
        };
        assert_eq!(item_outcome(&item(200, "REQUEST")), Ok(()));
        assert!(matches!(
            item_outcome(&item(404, "REQUEST")),
            Err(ConnectorError::Rejected { status: 404, message }) if message.contains("[25001]")
        ));
        assert!(matches!(
            item_outcome(&item(400, "APPLICATION")),
            Err(ConnectorError::Transient {
                status: Some(400),
                ..
            })
        ));
        assert!(matches!(
            item_outcome(&item(500, "REQUEST")),
            Err(ConnectorError::Transient {
                status: Some(500),
                ..
            })
        ));
    }
}
