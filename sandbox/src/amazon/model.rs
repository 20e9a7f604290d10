//! An Amazon seller's orders, order items, listings and shipments, and how Orders v0 and Listings
//! Items 2021-08-01 render them.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

use crate::generator::Address;
use crate::money::format_cents;
use crate::orderbook::Keyed;

/// The first part of every order id; real ones vary by marketplace (`202-`, `026-`, `111-`).
const ORDER_ID_PREFIX: &str = "202";
const SEVEN_DIGITS: u64 = 10_000_000;

/// `902-3159896-1390916`-shaped id of an internal order number (which has up to 14 digits).
pub fn amazon_order_id(id: u64) -> String {
    format!(
        "{ORDER_ID_PREFIX}-{:07}-{:07}",
        id / SEVEN_DIGITS % SEVEN_DIGITS,
        id % SEVEN_DIGITS
    )
}

/// The internal number of an `AmazonOrderId`; `None` if it is not one of this seller's.
pub fn order_number(amazon_id: &str) -> Option<u64> {
    let mut parts = amazon_id.split('-');
    let (prefix, high, low) = (parts.next()?, parts.next()?, parts.next()?);
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if parts.next().is_some() || prefix != ORDER_ID_PREFIX || !digits(high, 7) || !digits(low, 7) {
        return None;
    }
    Some(high.parse::<u64>().ok()? * SEVEN_DIGITS + low.parse::<u64>().ok()?)
}

/// ISO 8601 in UTC with a `Z`, as SP-API writes every date.
pub fn iso(ts: DateTime<Utc>) -> String {
    ts.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Unshipped,
    PartiallyShipped,
    Shipped,
    Canceled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "Pending",
            Status::Unshipped => "Unshipped",
            Status::PartiallyShipped => "PartiallyShipped",
            Status::Shipped => "Shipped",
            Status::Canceled => "Canceled",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// Fulfilled by the merchant.
    Mfn,
    /// Fulfilled by Amazon.
    Afn,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Mfn => "MFN",
            Channel::Afn => "AFN",
        }
    }
}

#[derive(Debug, Clone)]
pub struct OrderItem {
    /// 14 digits, as Amazon's.
    pub order_item_id: String,
    pub asin: String,
    pub sku: String,
    pub title: String,
    pub quantity_ordered: u32,
    pub quantity_shipped: u32,
    /// The listing's price times the quantity: Amazon's `ItemPrice`, before the promotion.
    pub price_cents: i64,
    /// Tax on what the buyer pays for the item, the promotion taken off.
    pub tax_cents: i64,
    pub shipping_cents: i64,
    pub shipping_tax_cents: i64,
    pub promotion_cents: i64,
}

#[derive(Debug, Clone)]
pub struct Order {
    pub id: u64,
    pub status: Status,
    pub channel: Channel,
    pub purchase_date: DateTime<Utc>,
    pub last_update: DateTime<Utc>,
    pub marketplace_id: String,
    pub currency: String,
    pub buyer_email: String,
    pub shipping: Address,
    pub is_prime: bool,
    pub items: Vec<OrderItem>,
}

impl Keyed for Order {
    fn id(&self) -> u64 {
        self.id
    }

    fn updated_ts(&self) -> i64 {
        self.last_update.timestamp()
    }
}

impl Order {
    pub fn amazon_id(&self) -> String {
        amazon_order_id(self.id)
    }

    /// Whether the order still holds the seller's own stock (MFN and not cancelled).
    pub fn holds_stock(&self) -> bool {
        self.channel == Channel::Mfn && self.status != Status::Canceled
    }

    /// What the buyer pays: each item's price less its promotion, plus its tax and shipping.
    pub fn total_cents(&self) -> i64 {
        self.items
            .iter()
            .map(|i| {
                i.price_cents - i.promotion_cents
                    + i.tax_cents
                    + i.shipping_cents
                    + i.shipping_tax_cents
            })
            .sum()
    }

    fn money(&self, cents: i64) -> Value {
        json!({"CurrencyCode": self.currency, "Amount": format_cents(cents)})
    }

    /// The Orders v0 `Order`. Buyer details are given as they are to a seller with the PII role.
    pub fn to_json(&self) -> Value {
        let shipped: u32 = self.items.iter().map(|i| i.quantity_shipped).sum();
        let ordered: u32 = self.items.iter().map(|i| i.quantity_ordered).sum();
        let unshipped = match self.status {
            Status::Canceled => 0,
            _ => ordered - shipped.min(ordered),
        };
        let mut order = json!({
            "AmazonOrderId": self.amazon_id(),
            "PurchaseDate": iso(self.purchase_date),
            "LastUpdateDate": iso(self.last_update),
            "OrderStatus": self.status.as_str(),
            "FulfillmentChannel": self.channel.as_str(),
            "SalesChannel": "Amazon.co.uk",
            "ShipServiceLevel": if self.is_prime { "Expedited" } else { "Std UK Dom_1" },
            "NumberOfItemsShipped": shipped,
            "NumberOfItemsUnshipped": unshipped,
            "PaymentMethod": "Other",
            "PaymentMethodDetails": ["Standard"],
            "MarketplaceId": self.marketplace_id,
            "ShipmentServiceLevelCategory": if self.is_prime { "Expedited" } else { "Standard" },
            "OrderType": "StandardOrder",
            "EarliestShipDate": iso(self.purchase_date),
            "LatestShipDate": iso(self.purchase_date + chrono::Duration::days(2)),
            "IsBusinessOrder": false,
            "IsPrime": self.is_prime,
            "IsPremiumOrder": false,
            "IsGlobalExpressEnabled": false,
            "IsReplacementOrder": false,
            "IsSoldByAB": false,
            "IsISPU": false,
            "IsAccessPointOrder": false,
            "HasRegulatedItems": false,
            "BuyerInfo": {"BuyerEmail": self.buyer_email},
        });
        // A pending order has no total or address yet: Amazon shows them once payment clears.
        if self.status != Status::Pending {
            let fields = [
                ("OrderTotal", self.money(self.total_cents())),
                ("ShippingAddress", address(&self.shipping)),
            ];
            if let Some(map) = order.as_object_mut() {
                map.extend(fields.map(|(k, v)| (k.to_string(), v)));
            }
        }
        order
    }

    /// The Orders v0 `OrderItem`s. `ItemPrice` is "the selling price of the item multiplied by
    /// the quantity ordered", as the model says, so a promotion is told apart in
    /// `PromotionDiscount` rather than taken off it.
    pub fn items_json(&self) -> Vec<Value> {
        self.items
            .iter()
            .map(|i| {
                json!({
                    "ASIN": i.asin,
                    "SellerSKU": i.sku,
                    "OrderItemId": i.order_item_id,
                    "Title": i.title,
                    "QuantityOrdered": i.quantity_ordered,
                    "QuantityShipped": i.quantity_shipped,
                    "ProductInfo": {"NumberOfItems": "1"},
                    "ItemPrice": self.money(i.price_cents),
                    "ItemTax": self.money(i.tax_cents),
                    "ShippingPrice": self.money(i.shipping_cents),
                    "ShippingTax": self.money(i.shipping_tax_cents),
                    "ShippingDiscount": self.money(0),
                    "ShippingDiscountTax": self.money(0),
                    "PromotionDiscount": self.money(i.promotion_cents),
                    "PromotionDiscountTax": self.money(0),
                    "IsGift": "false",
                    "ConditionId": "New",
                    "ConditionSubtypeId": "New",
                    "IsTransparency": false,
                    "SerialNumberRequired": false,
                })
            })
            .collect()
    }
}

fn address(a: &Address) -> Value {
    let mut out = Map::new();
    let mut put = |k: &str, v: &str| {
        if !v.is_empty() {
            out.insert(k.into(), Value::String(v.into()));
        }
    };
    put("Name", &format!("{} {}", a.first_name, a.last_name));
    put("AddressLine1", &a.address1);
    put("AddressLine2", a.address2.as_deref().unwrap_or(""));
    put("City", &a.city);
    put("StateOrRegion", &a.province);
    put("PostalCode", &a.zip);
    put("CountryCode", &a.country_code);
    put("Phone", &a.phone);
    put("AddressType", "Residential");
    Value::Object(out)
}

/// A listing of the seller's: one SKU offered in the marketplace.
#[derive(Debug, Clone)]
pub struct Listing {
    pub sku: String,
    pub asin: String,
    pub item_name: String,
    pub product_type: String,
    pub price_cents: i64,
    /// What the seller has to sell from its own stock (fulfillment channel `DEFAULT`).
    pub quantity: i64,
    pub image_url: Option<String>,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

/// The data sets of a listing a client may ask for (`includedData`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Included {
    pub summaries: bool,
    pub attributes: bool,
    pub offers: bool,
    pub fulfillment_availability: bool,
    pub issues: bool,
}

impl Included {
    /// Parses `includedData`; the 2021-08-01 default is `summaries`. Data sets this simulator
    /// does not keep (procurement, relationships, productTypes) are accepted and left empty.
    pub fn parse(raw: Option<&str>) -> Result<Included, String> {
        let Some(raw) = raw.filter(|r| !r.trim().is_empty()) else {
            return Ok(Included {
                summaries: true,
                ..Included::default()
            });
        };
        let mut out = Included::default();
        for part in raw.split(',').map(str::trim) {
            match part {
                "summaries" => out.summaries = true,
                "attributes" => out.attributes = true,
                "offers" => out.offers = true,
                "fulfillmentAvailability" => out.fulfillment_availability = true,
                "issues" => out.issues = true,
                "procurement" | "relationships" | "productTypes" => {}
                other => return Err(format!("Invalid includedData value: {other}")),
            }
        }
        Ok(out)
    }
}

impl Listing {
    /// The Listings Items 2021-08-01 `Item`, with the data sets asked for.
    pub fn to_json(&self, marketplace_id: &str, currency: &str, include: Included) -> Value {
        let mut item = Map::new();
        item.insert("sku".into(), json!(self.sku));
        let price = format_cents(self.price_cents);
        if include.summaries {
            let status = match self.quantity > 0 {
                true => json!(["BUYABLE", "DISCOVERABLE"]),
                false => json!(["DISCOVERABLE"]),
            };
            let mut summary = json!({
                "marketplaceId": marketplace_id,
                "asin": self.asin,
                "productType": self.product_type,
                "conditionType": "new_new",
                "status": status,
                "itemName": self.item_name,
                "createdDate": iso(self.created),
                "lastUpdatedDate": iso(self.updated),
            });
            if let (Some(link), Some(map)) = (&self.image_url, summary.as_object_mut()) {
                map.insert(
                    "mainImage".into(),
                    json!({"link": link, "height": 500, "width": 500}),
                );
            }
            item.insert("summaries".into(), json!([summary]));
        }
        if include.attributes {
            item.insert(
                "attributes".into(),
                json!({
                    "item_name": [{
                        "value": self.item_name,
                        "language_tag": "en_GB",
                        "marketplace_id": marketplace_id,
                    }],
                    "condition_type": [{"value": "new_new", "marketplace_id": marketplace_id}],
                    "purchasable_offer": [{
                        "currency": currency,
                        "marketplace_id": marketplace_id,
                        "our_price": [{"schedule": [{"value_with_tax": price}]}],
                    }],
                    "fulfillment_availability": [{
                        "fulfillment_channel_code": "DEFAULT",
                        "quantity": self.quantity,
                    }],
                }),
            );
        }
        if include.issues {
            item.insert("issues".into(), json!([]));
        }
        if include.offers {
            item.insert(
                "offers".into(),
                json!([{
                    "marketplaceId": marketplace_id,
                    "offerType": "B2C",
                    "price": {"currencyCode": currency, "amount": price},
                }]),
            );
        }
        if include.fulfillment_availability {
            item.insert(
                "fulfillmentAvailability".into(),
                json!([{"fulfillmentChannelCode": "DEFAULT", "quantity": self.quantity}]),
            );
        }
        Value::Object(item)
    }
}

/// A package the seller confirmed as shipped.
#[derive(Debug, Clone)]
pub struct Shipment {
    pub order_id: u64,
    pub package_reference_id: String,
    pub carrier_code: String,
    pub carrier_name: Option<String>,
    pub tracking_number: String,
    pub ship_date: String,
    pub lines: Vec<ShippedLine>,
}

/// One item of a package and how many of it the package holds.
#[derive(Debug, Clone)]
pub struct ShippedLine {
    pub order_item_id: String,
    pub sku: String,
    pub quantity: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_ids_round_trip_in_three_seven_seven_form() {
        let id = 31_598_961_390_916;
        assert_eq!(amazon_order_id(id), "202-3159896-1390916");
        assert_eq!(order_number("202-3159896-1390916"), Some(id));
        assert_eq!(order_number("202-3159896-139091"), None);
        assert_eq!(order_number("902-3159896-1390916"), None);
        assert_eq!(order_number("202-3159896-1390916-1"), None);
    }

    #[test]
    fn included_data_defaults_to_summaries_and_refuses_unknown_sets() {
        let default = Included::parse(None).unwrap_or_default();
        assert!(default.summaries && !default.attributes);
        let asked = Included::parse(Some("attributes,fulfillmentAvailability"));
        assert!(asked.is_ok_and(|i| i.attributes && i.fulfillment_availability && !i.summaries));
        assert!(Included::parse(Some("summaries,stock")).is_err());
    }
}
