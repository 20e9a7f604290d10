//! Amazon orders and listings into switchyard's unified shapes.
//!
//! Money: an item's `ItemPrice` is its selling price times the quantity, before promotions, which
//! come apart in `PromotionDiscount` (and `ShippingDiscount` for shipping); each has its tax
//! beside it. So a line's unit price is `ItemPrice / QuantityOrdered`, its tax `ItemTax` less the
//! tax its promotion took off, and the order's totals are the items' sums, with Amazon's own
//! `OrderTotal` as the total once it is known (a pending order has none, and the sum stands in).

use chrono::{DateTime, FixedOffset, Utc};
use rust_decimal::Decimal;

use super::wire;
use crate::connectors::error::ConnectorError;
use crate::connectors::money;
use crate::domain::{
    Address, ChannelKind, ChannelOrder, Customer, Listing, ListingId, OrderLine, OrderStatus,
    Totals,
};

/// The unified status of an order, from its `OrderStatus` and `FulfillmentChannel`.
///
/// An order Amazon fulfils (`AFN`, Fulfilled by Amazon) ships from Amazon's warehouses, so it is
/// shipped as far as the seller is concerned from the start, and filters keep it out of work;
/// only its cancellation is told apart. `InvoiceUnconfirmed` is shipped, waiting for an invoice;
/// `Unfulfillable` (multi-channel orders Amazon cannot fill) will never ship. A status Amazon
/// adds later is taken as unpaid, which keeps the order out of work until it is understood.
pub fn status(order_status: &str, fulfillment_channel: Option<&str>) -> OrderStatus {
    match (order_status, fulfillment_channel) {
        ("Canceled" | "Unfulfillable", _) => OrderStatus::Cancelled,
        (_, Some("AFN")) => OrderStatus::Shipped,
        ("Unshipped", _) => OrderStatus::Unshipped,
        ("PartiallyShipped", _) => OrderStatus::PartiallyShipped,
        ("Shipped" | "InvoiceUnconfirmed", _) => OrderStatus::Shipped,
        _ => OrderStatus::Unpaid,
    }
}

/// Why Amazon says an order of `order_status` is not ready for despatch: `PendingAvailability`
/// is a pre-order, unpaid until the item is released, and not to ship before then.
pub fn not_ready(order_status: &str) -> Option<String> {
    (order_status == "PendingAvailability").then(|| {
        "a pre-order on Amazon, awaiting the item's release (PendingAvailability)".to_owned()
    })
}

/// The currency of each marketplace (Amazon's marketplace ids), for an order that names no
/// amount of its own yet.
const MARKETPLACE_CURRENCIES: &[(&str, &str)] = &[
    ("A2EUQ1WTGCTBG2", "CAD"),
    ("ATVPDKIKX0DER", "USD"),
    ("A1AM78C64UM0Y8", "MXN"),
    ("A2Q3Y263D00KWC", "BRL"),
    ("A28R8C7NBKEWEA", "EUR"),
    ("A1RKKUPIHCS9HS", "EUR"),
    ("A1F83G8C2ARO7P", "GBP"),
    ("A13V1IB3VIYZZH", "EUR"),
    ("AMEN7PMS3EDWL", "EUR"),
    ("A1805IZSGTT6HS", "EUR"),
    ("A1PA6795UKMFR9", "EUR"),
    ("APJ6JRA9NG5V4", "EUR"),
    ("A2NODRKZP88ZB9", "SEK"),
    ("AE08WJ6YKNBMC", "ZAR"),
    ("A1C3SOZRARQ6R3", "PLN"),
    ("ARBP9OOSHTCHU", "EGP"),
    ("A33AVAJ2PDY3EV", "TRY"),
    ("A17E79C6D8DWNP", "SAR"),
    ("A2VIGQ35RCS4UG", "AED"),
    ("A21TJRUUN4KGV", "INR"),
    ("A19VAU5U5O7RUS", "SGD"),
    ("A39IBJ37TRP1C6", "AUD"),
    ("A1VC38T7YXB528", "JPY"),
];

pub fn marketplace_currency(marketplace_id: &str) -> Option<&'static str> {
    MARKETPLACE_CURRENCIES
        .iter()
        .find(|(id, _)| *id == marketplace_id)
        .map(|(_, currency)| *currency)
}

/// An amount of Orders v0 `Money`; an absent one is nothing.
fn amount(money: Option<&wire::Money>, field: &str) -> Result<Decimal, ConnectorError> {
    match money.and_then(|m| m.amount.as_deref()) {
        Some(text) => money::parse(text, field),
        None => Ok(Decimal::ZERO),
    }
}

/// Sums one `Money` field over the items.
fn sum(
    items: &[wire::OrderItem],
    field: &str,
    of: impl Fn(&wire::OrderItem) -> Option<&wire::Money>,
) -> Result<Decimal, ConnectorError> {
    items.iter().try_fold(
        Decimal::ZERO,
        |acc, item| Ok(acc + amount(of(item), field)?),
    )
}

/// The tax on what the buyer pays for an item: `ItemTax` less the tax its promotion took off.
fn line_tax(item: &wire::OrderItem) -> Result<Decimal, ConnectorError> {
    Ok(amount(item.item_tax.as_ref(), "ItemTax")?
        - amount(item.promotion_discount_tax.as_ref(), "PromotionDiscountTax")?)
}

fn line(item: &wire::OrderItem) -> Result<OrderLine, ConnectorError> {
    let price = amount(item.item_price.as_ref(), "ItemPrice")?;
    Ok(OrderLine {
        id: None,
        channel_line_id: item.order_item_id.clone(),
        sku: non_empty(item.seller_sku.as_deref()),
        title: non_empty(item.title.as_deref()).unwrap_or_else(|| item.asin.clone()),
        quantity: item.quantity_ordered,
        unit_price: money::format(money::per_unit(price, item.quantity_ordered)),
        tax: money::format(line_tax(item)?),
        product_id: None,
        kit_components: Vec::new(),
    })
}

fn totals(order: &wire::Order, items: &[wire::OrderItem]) -> Result<Totals, ConnectorError> {
    let subtotal = sum(items, "ItemPrice", |i| i.item_price.as_ref())?;
    let shipping = sum(items, "ShippingPrice", |i| i.shipping_price.as_ref())?;
    let discount = sum(items, "PromotionDiscount", |i| {
        i.promotion_discount.as_ref()
    })? + sum(items, "ShippingDiscount", |i| i.shipping_discount.as_ref())?;
    let tax = items.iter().try_fold(Decimal::ZERO, |acc, item| {
        Ok::<_, ConnectorError>(
            acc + line_tax(item)? + amount(item.shipping_tax.as_ref(), "ShippingTax")?
                - amount(item.shipping_discount_tax.as_ref(), "ShippingDiscountTax")?,
        )
    })?;
    let stated = order
        .order_total
        .as_ref()
        .and_then(|m| m.amount.as_deref())
        .map(|text| money::parse(text, "OrderTotal"))
        .transpose()?;
    Ok(money::totals(subtotal, discount, shipping, tax, stated))
}

/// The order's currency: its total's, else any of its items' amounts', else its marketplace's.
fn currency(order: &wire::Order, items: &[wire::OrderItem], marketplace_id: &str) -> String {
    let of_items = items.iter().flat_map(|i| {
        [
            &i.item_price,
            &i.item_tax,
            &i.shipping_price,
            &i.promotion_discount,
        ]
        .into_iter()
        .flatten()
    });
    order
        .order_total
        .iter()
        .chain(of_items)
        .find_map(|m| non_empty(m.currency_code.as_deref()))
        .or_else(|| marketplace_currency(marketplace_id).map(str::to_owned))
        .unwrap_or_default()
}

fn non_empty(text: Option<&str>) -> Option<String> {
    text.map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

/// `None` until Amazon shows the address (it does once payment clears), or without a first line.
fn address(a: &wire::Address) -> Option<Address> {
    let line1 = non_empty(a.address_line1.as_deref())?;
    // Amazon's third line (used in some countries) is kept with the second.
    let line2 = [a.address_line2.as_deref(), a.address_line3.as_deref()]
        .into_iter()
        .filter_map(non_empty)
        .collect::<Vec<_>>()
        .join(", ");
    Some(Address {
        name: non_empty(a.name.as_deref()).unwrap_or_default(),
        company: non_empty(a.company_name.as_deref()),
        line1,
        line2: Some(line2).filter(|l| !l.is_empty()),
        city: non_empty(a.city.as_deref()).unwrap_or_default(),
        region: non_empty(a.state_or_region.as_deref()).or_else(|| non_empty(a.county.as_deref())),
        postcode: non_empty(a.postal_code.as_deref()),
        country_code: non_empty(a.country_code.as_deref())
            .unwrap_or_default()
            .to_ascii_uppercase(),
    })
}

fn utc(at: DateTime<FixedOffset>) -> DateTime<Utc> {
    at.with_timezone(&Utc)
}

/// Tags a routing rule can act on: `FBA` for an order Amazon fulfils, `Prime` and `Business`
/// for those programmes.
fn tags(order: &wire::Order) -> Vec<String> {
    [
        (order.fulfillment_channel.as_deref() == Some("AFN"), "FBA"),
        (order.is_prime, "Prime"),
        (order.is_business_order, "Business"),
    ]
    .into_iter()
    .filter(|(on, _)| *on)
    .map(|(_, tag)| tag.to_owned())
    .collect()
}

/// An order and all its items as a unified order. Amazon tells no payment time: an order past
/// `Pending` was paid (authorised) when it was placed.
pub fn order(
    order: wire::Order,
    items: &[wire::OrderItem],
    marketplace_id: &str,
) -> Result<ChannelOrder, ConnectorError> {
    let status = status(&order.order_status, order.fulfillment_channel.as_deref());
    let shipping_address = order.shipping_address.as_ref().and_then(address);
    let buyer = order.buyer_info.as_ref();
    let customer = Customer {
        name: buyer
            .and_then(|b| non_empty(b.buyer_name.as_deref()))
            .or_else(|| shipping_address.as_ref().map(|a| a.name.clone()))
            .unwrap_or_default(),
        email: buyer.and_then(|b| non_empty(b.buyer_email.as_deref())),
        phone: order
            .shipping_address
            .as_ref()
            .and_then(|a| non_empty(a.phone.as_deref())),
    };
    let paid = !matches!(
        order.order_status.as_str(),
        "Pending" | "PendingAvailability"
    );
    Ok(ChannelOrder {
        channel_kind: ChannelKind::Amazon,
        order_number: order.amazon_order_id.clone(),
        status,
        currency: currency(&order, items, marketplace_id),
        totals: totals(&order, items)?,
        customer,
        shipping_address,
        billing_address: None,
        lines: items.iter().map(line).collect::<Result<_, _>>()?,
        placed_at: utc(order.purchase_date),
        paid_at: paid.then(|| utc(order.purchase_date)),
        channel_updated_at: utc(order.last_update_date),
        tags: tags(&order),
        notes: None,
        not_ready: not_ready(&order.order_status),
        channel_order_id: order.amazon_order_id,
    })
}

/// A listings item as a listing: addressed by its SKU (what every Listings Items call names),
/// with the ASIN it offers in `inventory_item_id`; its title, image and ASIN from the summary of
/// the channel's marketplace, its price from that marketplace's consumer offer, and its quantity
/// from the seller's own fulfilment channel (`DEFAULT`; none for a listing only Amazon fulfils).
pub fn listing(item: wire::Item, marketplace_id: &str) -> Result<Listing, ConnectorError> {
    let summary = item
        .summaries
        .iter()
        .find(|s| s.marketplace_id == marketplace_id);
    let price = item
        .offers
        .iter()
        .find(|o| o.marketplace_id == marketplace_id && o.offer_type == "B2C")
        .map(|o| money::normalise(&o.price.amount, "offer price"))
        .transpose()?;
    let quantity = item
        .fulfillment_availability
        .iter()
        .find(|f| f.fulfillment_channel_code == "DEFAULT")
        .and_then(|f| f.quantity);
    Ok(Listing {
        id: ListingId {
            product_id: item.sku.clone(),
            variant_id: None,
            inventory_item_id: summary.and_then(|s| non_empty(s.asin.as_deref())),
        },
        title: summary
            .and_then(|s| non_empty(s.item_name.as_deref()))
            .unwrap_or_else(|| item.sku.clone()),
        image_url: summary.and_then(|s| s.main_image.as_ref().map(|i| i.link.clone())),
        sku: Some(item.sku),
        price,
        quantity,
        weight: None,
        dimensions: None,
        customs: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn statuses_ship_fba_orders_and_keep_unknown_ones_out_of_work() {
        use OrderStatus::*;
        let mfn = |s| status(s, Some("MFN"));
        assert_eq!(mfn("Pending"), Unpaid);
        assert_eq!(mfn("PendingAvailability"), Unpaid);
        assert_eq!(mfn("Unshipped"), Unshipped);
        assert_eq!(mfn("PartiallyShipped"), PartiallyShipped);
        assert_eq!(mfn("Shipped"), Shipped);
        assert_eq!(mfn("InvoiceUnconfirmed"), Shipped);
        assert_eq!(mfn("Canceled"), Cancelled);
        assert_eq!(mfn("Unfulfillable"), Cancelled);
        assert_eq!(mfn("SomethingNew"), Unpaid);
        assert_eq!(status("Unshipped", Some("AFN")), Shipped);
        assert_eq!(status("Pending", Some("AFN")), Shipped);
        assert_eq!(status("Canceled", Some("AFN")), Cancelled);
        assert_eq!(status("Unshipped", None), Unshipped);
    }

    #[test]
    fn a_pre_order_is_not_ready_for_despatch_and_a_pending_order_only_unpaid() {
        assert!(not_ready("PendingAvailability").is_some_and(|r| r.contains("pre-order")));
        for other in ["Pending", "Unshipped", "Shipped", "Canceled"] {
            assert_eq!(not_ready(other), None, "{other}");
        }
    }

    fn money(amount: &str) -> serde_json::Value {
        json!({"CurrencyCode": "USD", "Amount": amount})
    }

    fn wire_order(total: Option<&str>) -> wire::Order {
        let mut order = json!({
            "AmazonOrderId": "111-0000001-0000001",
            "PurchaseDate": "2024-07-01T14:00:00Z",
            "LastUpdateDate": "2024-07-01T15:00:00Z",
            "OrderStatus": "Unshipped",
            "FulfillmentChannel": "MFN",
            "IsPrime": true,
            "BuyerInfo": {"BuyerEmail": "x@marketplace.amazon.com"},
            "ShippingAddress": {
                "Name": "Ada Lovelace", "AddressLine1": "1 Main St", "AddressLine3": "Unit 4",
                "City": "Seattle", "StateOrRegion": "WA", "PostalCode": "98101",
                "CountryCode": "us", "Phone": "+1 206 555 0100"
            }
        });
        if let Some(total) = total {
            order["OrderTotal"] = money(total);
        }
        serde_json::from_value(order).unwrap_or_else(|e| panic!("{e}"))
    }

    fn items() -> Vec<wire::OrderItem> {
        serde_json::from_value(json!([
            {
                "ASIN": "B000000001", "OrderItemId": "1", "SellerSKU": "A-1", "Title": "Thing",
                "QuantityOrdered": 2, "QuantityShipped": 0,
                "ItemPrice": money("20.00"), "ItemTax": money("1.80"),
                "PromotionDiscount": money("2.00"), "PromotionDiscountTax": money("0.18"),
                "ShippingPrice": money("4.00"), "ShippingTax": money("0.40"),
                "ShippingDiscount": money("1.00"), "ShippingDiscountTax": money("0.10")
            },
            {
                "ASIN": "B000000002", "OrderItemId": "2", "QuantityOrdered": 3,
                "ItemPrice": money("10.00"), "ItemTax": money("1.00")
            }
        ]))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn totals_take_promotions_and_their_tax_apart() {
        let order = order(wire_order(Some("33.92")), &items(), "ATVPDKIKX0DER")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            order.totals,
            Totals {
                subtotal: "30.00".into(),
                shipping: "4.00".into(),
                tax: "2.92".into(),
                discount: "3.00".into(),
                total: "33.92".into(),
            }
        );
        assert_eq!(order.lines[0].unit_price, "10.00");
        assert_eq!(order.lines[0].tax, "1.62");
        assert_eq!(order.lines[1].unit_price, "3.3333");
        assert_eq!(order.lines[1].sku, None);
        assert_eq!(order.lines[1].title, "B000000002", "no title: the ASIN");
        assert_eq!(order.currency, "USD");
        assert_eq!(order.tags, vec!["Prime".to_owned()]);
        let to = order.shipping_address.unwrap_or_default();
        assert_eq!(to.line2.as_deref(), Some("Unit 4"));
        assert_eq!(to.country_code, "US");
        assert_eq!(order.customer.name, "Ada Lovelace");
        assert_eq!(order.customer.phone.as_deref(), Some("+1 206 555 0100"));
        assert!(order.paid_at.is_some());
    }

    #[test]
    fn a_pending_order_is_summed_and_priced_in_its_marketplaces_currency() {
        let mut pending = wire_order(None);
        pending.order_status = "Pending".into();
        pending.shipping_address = None;
        let with_items = order(pending, &items(), "ATVPDKIKX0DER");
        let with_items = with_items.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(with_items.totals.total, "33.92", "the sum stands in");
        assert_eq!(with_items.status, OrderStatus::Unpaid);
        assert_eq!(with_items.paid_at, None);
        assert_eq!(with_items.customer.name, "");
        let mut bare = wire_order(None);
        bare.order_status = "Pending".into();
        let bare = order(bare, &[], "A1F83G8C2ARO7P").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(bare.currency, "GBP");
        assert_eq!(bare.totals.total, "0.00");
    }

    #[test]
    fn a_garbled_amount_is_malformed_and_names_the_field() {
        let mut bad = items();
        bad[1].item_tax = Some(wire::Money {
            currency_code: None,
            amount: Some("1,00".into()),
        });
        let err = order(wire_order(None), &bad, "ATVPDKIKX0DER");
        assert!(
            matches!(&err, Err(ConnectorError::Malformed(m)) if m.contains("ItemTax")),
            "{err:?}"
        );
    }

    #[test]
    fn a_listing_reads_its_marketplaces_summary_offer_and_own_stock() {
        let item: wire::Item = serde_json::from_value(json!({
            "sku": "RJ-M",
            "summaries": [
                {"marketplaceId": "OTHER", "asin": "B0OTHER", "itemName": "Elsewhere"},
                {"marketplaceId": "A1F83G8C2ARO7P", "asin": "B0RAIN", "itemName": "Rain Jacket (M)",
                 "mainImage": {"link": "https://m.media-amazon.com/1.jpg", "height": 500, "width": 500}}
            ],
            "offers": [
                {"marketplaceId": "A1F83G8C2ARO7P", "offerType": "B2B", "price": {"currencyCode": "GBP", "amount": "50"}},
                {"marketplaceId": "A1F83G8C2ARO7P", "offerType": "B2C", "price": {"currencyCode": "GBP", "amount": "59.9"}}
            ],
            "fulfillmentAvailability": [
                {"fulfillmentChannelCode": "AMAZON_EU", "quantity": 40},
                {"fulfillmentChannelCode": "DEFAULT", "quantity": 7}
            ]
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let listing = listing_of(item);
        assert_eq!(listing.id.product_id, "RJ-M");
        assert_eq!(listing.id.inventory_item_id.as_deref(), Some("B0RAIN"));
        assert_eq!(listing.title, "Rain Jacket (M)");
        assert_eq!(listing.price.as_deref(), Some("59.90"));
        assert_eq!(listing.quantity, Some(7));
        assert_eq!(
            listing.image_url.as_deref(),
            Some("https://m.media-amazon.com/1.jpg")
        );
        let fba_only: wire::Item = serde_json::from_value(json!({
            "sku": "FBA-1",
            "fulfillmentAvailability": [{"fulfillmentChannelCode": "AMAZON_EU", "quantity": 3}]
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let fba_only = listing_of(fba_only);
        assert_eq!(
            (fba_only.quantity, fba_only.title.as_str()),
            (None, "FBA-1")
        );
    }

    fn listing_of(item: wire::Item) -> Listing {
        listing(item, "A1F83G8C2ARO7P").unwrap_or_else(|e| panic!("{e}"))
    }
}
