//! Shopify's resources as the simulator stores them, and their JSON as the Admin REST API renders it
//! (ids as large integers, money as strings with `*_set` twins, times with the shop's offset).

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::config::ProductDetails;
use crate::generator::{Address, Person};
use crate::money::format_cents;
use crate::orderbook::Keyed;
use crate::timefmt::with_offset;

/// How the shop renders things: currency and UTC offset.
#[derive(Debug, Clone)]
pub struct ShopContext {
    pub currency: String,
    pub offset_minutes: i32,
    pub domain: String,
}

impl ShopContext {
    pub fn time(&self, ts: DateTime<Utc>) -> String {
        with_offset(ts, self.offset_minutes)
    }

    fn opt_time(&self, ts: Option<DateTime<Utc>>) -> Value {
        ts.map_or(Value::Null, |t| Value::String(self.time(t)))
    }

    fn money_set(&self, cents: i64) -> Value {
        let money = json!({"amount": format_cents(cents), "currency_code": self.currency});
        json!({"shop_money": money, "presentment_money": money})
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinancialStatus {
    Pending,
    Paid,
    Refunded,
    Voided,
}

impl FinancialStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FinancialStatus::Pending => "pending",
            FinancialStatus::Paid => "paid",
            FinancialStatus::Refunded => "refunded",
            FinancialStatus::Voided => "voided",
        }
    }
}

#[derive(Debug, Clone)]
pub struct LineItem {
    pub id: u64,
    pub product_id: u64,
    pub variant_id: u64,
    pub inventory_item_id: u64,
    pub sku: String,
    pub title: String,
    pub variant_title: Option<String>,
    pub quantity: u32,
    pub price_cents: i64,
    pub fulfilled_quantity: u32,
    /// Id of this line inside the order's fulfillment order.
    pub fulfillment_order_line_id: u64,
}

impl LineItem {
    pub fn remaining(&self) -> u32 {
        self.quantity.saturating_sub(self.fulfilled_quantity)
    }
}

#[derive(Debug, Clone)]
pub struct Fulfillment {
    pub id: u64,
    pub name: String,
    pub location_id: u64,
    pub tracking_company: Option<String>,
    pub tracking_number: Option<String>,
    pub tracking_url: Option<String>,
    /// `(line item id, quantity)` shipped.
    pub lines: Vec<(u64, u32)>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Customer {
    pub id: u64,
    pub person: Person,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Order {
    pub id: u64,
    pub order_number: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub cancel_reason: Option<String>,
    pub financial_status: FinancialStatus,
    pub line_items: Vec<LineItem>,
    pub shipping_cents: i64,
    pub discount_cents: i64,
    pub tax_cents: i64,
    pub tax_percent: i64,
    pub shipping_address: Address,
    pub billing_address: Address,
    pub customer: Customer,
    pub tags: Vec<String>,
    pub note: Option<String>,
    pub fulfillments: Vec<Fulfillment>,
    pub fulfillment_order_id: u64,
    pub location_id: u64,
    /// The fulfillment hold on the order's fulfillment order, while there is one.
    pub hold: Option<FulfillmentHold>,
}

/// A fulfillment hold (`FulfillmentHold`): why the merchant, an app or a Flow stopped the
/// order from being fulfilled for now.
#[derive(Debug, Clone, PartialEq)]
pub struct FulfillmentHold {
    /// A `FulfillmentHoldReason`: `AWAITING_PAYMENT`, `HIGH_RISK_OF_FRAUD`,
    /// `INCORRECT_ADDRESS`, `INVENTORY_OUT_OF_STOCK`, `OTHER`, ...
    pub reason: String,
    pub reason_notes: Option<String>,
}

impl Keyed for Order {
    fn id(&self) -> u64 {
        self.id
    }
    fn updated_ts(&self) -> i64 {
        self.updated_at.timestamp()
    }
}

impl Order {
    pub fn name(&self) -> String {
        format!("#{}", self.order_number)
    }

    pub fn line_items_cents(&self) -> i64 {
        self.line_items
            .iter()
            .map(|l| l.price_cents * i64::from(l.quantity))
            .sum()
    }

    /// Each line's share of the order's tax, in line order: Shopify reports tax per line
    /// (`line_items[].tax_lines`), each on the line's discounted amount. Shares go by the lines'
    /// amounts, the last line taking what rounding leaves, so they add up to the order's tax.
    pub fn line_tax_cents(&self) -> Vec<i64> {
        let total = self.line_items_cents();
        let mut left = self.tax_cents;
        let last = self.line_items.len().saturating_sub(1);
        self.line_items
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let share = if i == last || total == 0 {
                    left
                } else {
                    self.tax_cents * l.price_cents * i64::from(l.quantity) / total
                };
                left -= share;
                share
            })
            .collect()
    }

    pub fn subtotal_cents(&self) -> i64 {
        self.line_items_cents() - self.discount_cents
    }

    pub fn total_cents(&self) -> i64 {
        self.subtotal_cents() + self.shipping_cents + self.tax_cents
    }

    /// `null`, `"partial"` or `"fulfilled"`, derived from the lines as Shopify does.
    pub fn fulfillment_status(&self) -> Option<&'static str> {
        let shipped: u32 = self.line_items.iter().map(|l| l.fulfilled_quantity).sum();
        if shipped == 0 {
            None
        } else if self.line_items.iter().all(|l| l.remaining() == 0) {
            Some("fulfilled")
        } else {
            Some("partial")
        }
    }

    /// The fulfillment order's status: what may still be shipped. A held one is `on_hold`
    /// until the hold is released.
    pub fn fulfillment_order_status(&self) -> &'static str {
        if self.cancelled_at.is_some() {
            "cancelled"
        } else {
            match self.fulfillment_status() {
                Some("fulfilled") => "closed",
                _ if self.hold.is_some() => "on_hold",
                None => "open",
                Some(_) => "in_progress",
            }
        }
    }

    /// `displayFulfillmentStatus`: `ON_HOLD` while the order's fulfillment order is held.
    pub fn display_fulfillment_status(&self) -> &'static str {
        match (self.fulfillment_order_status(), self.fulfillment_status()) {
            ("on_hold", _) => "ON_HOLD",
            (_, None) => "UNFULFILLED",
            (_, Some("fulfilled")) => "FULFILLED",
            (_, Some(_)) => "PARTIALLY_FULFILLED",
        }
    }

    pub fn to_json(&self, shop: &ShopContext) -> Value {
        let cur = &shop.currency;
        let line_items: Vec<Value> = self
            .line_items
            .iter()
            .zip(self.line_tax_cents())
            .map(|(l, tax)| self.line_json(l, l.quantity, tax, shop))
            .collect();
        let fulfillments: Vec<Value> = self
            .fulfillments
            .iter()
            .map(|f| self.fulfillment_json(f, shop))
            .collect();
        let tax_lines = if self.tax_cents > 0 {
            json!([{"price": format_cents(self.tax_cents), "rate": self.tax_percent as f64 / 100.0,
                     "title": "Tax", "price_set": shop.money_set(self.tax_cents), "channel_liable": false}])
        } else {
            json!([])
        };
        let paid = self.financial_status == FinancialStatus::Paid;
        json!({
            "id": self.id,
            "admin_graphql_api_id": format!("gid://shopify/Order/{}", self.id),
            "app_id": 580111,
            "browser_ip": null,
            "buyer_accepts_marketing": false,
            "cancel_reason": self.cancel_reason,
            "cancelled_at": shop.opt_time(self.cancelled_at),
            "cart_token": null,
            "checkout_id": self.id + 1_000_000,
            "closed_at": shop.opt_time(self.closed_at),
            "confirmation_number": format!("C{:08}", self.order_number),
            "confirmed": true,
            "contact_email": self.customer.person.email,
            "created_at": shop.time(self.created_at),
            "currency": cur,
            "current_subtotal_price": format_cents(self.subtotal_cents()),
            "current_total_discounts": format_cents(self.discount_cents),
            "current_total_price": format_cents(self.total_cents()),
            "current_total_tax": format_cents(self.tax_cents),
            "customer_locale": "en",
            "discount_codes": if self.discount_cents > 0 {
                json!([{"code": "WELCOME10", "amount": format_cents(self.discount_cents), "type": "percentage"}])
            } else { json!([]) },
            "email": self.customer.person.email,
            "estimated_taxes": false,
            "financial_status": self.financial_status.as_str(),
            "fulfillment_status": self.fulfillment_status(),
            "gateway": if paid { "shopify_payments" } else { "manual" },
            "landing_site": null,
            "location_id": null,
            "name": self.name(),
            "note": self.note,
            "note_attributes": [],
            "number": self.order_number.saturating_sub(1000),
            "order_number": self.order_number,
            "order_status_url": format!("https://{}/{}/orders/{:x}/authenticate", shop.domain, self.id % 100_000_000, self.id),
            "payment_gateway_names": [if paid { "shopify_payments" } else { "manual" }],
            "phone": null,
            "presentment_currency": cur,
            "processed_at": shop.time(self.created_at),
            "reference": null,
            "source_name": "web",
            "subtotal_price": format_cents(self.subtotal_cents()),
            "subtotal_price_set": shop.money_set(self.subtotal_cents()),
            "tags": self.tags.join(", "),
            "tax_lines": tax_lines,
            "taxes_included": false,
            "test": false,
            "token": format!("{:032x}", u128::from(self.id) * 2_654_435_761),
            "total_discounts": format_cents(self.discount_cents),
            "total_discounts_set": shop.money_set(self.discount_cents),
            "total_line_items_price": format_cents(self.line_items_cents()),
            "total_line_items_price_set": shop.money_set(self.line_items_cents()),
            "total_outstanding": if paid { "0.00".to_string() } else { format_cents(self.total_cents()) },
            "total_price": format_cents(self.total_cents()),
            "total_price_set": shop.money_set(self.total_cents()),
            "total_shipping_price_set": shop.money_set(self.shipping_cents),
            "total_tax": format_cents(self.tax_cents),
            "total_tax_set": shop.money_set(self.tax_cents),
            "total_tip_received": "0.00",
            "total_weight": 0,
            "updated_at": shop.time(self.updated_at),
            "user_id": null,
            "billing_address": address_json(&self.billing_address),
            "customer": self.customer_json(shop),
            "fulfillments": fulfillments,
            "line_items": line_items,
            "payment_terms": null,
            "refunds": [],
            "shipping_address": address_json(&self.shipping_address),
            "shipping_lines": [{
                "id": self.id + 2_000_000,
                "carrier_identifier": null,
                "code": "Standard",
                "discounted_price": format_cents(self.shipping_cents),
                "price": format_cents(self.shipping_cents),
                "price_set": shop.money_set(self.shipping_cents),
                "source": "shopify",
                "title": "Standard",
                "tax_lines": []
            }]
        })
    }

    /// A line as it appears in an order (`quantity` = ordered) or a fulfillment (`quantity` = shipped).
    /// `tax_cents` is the line's tax for all of `quantity`.
    fn line_json(&self, l: &LineItem, quantity: u32, tax_cents: i64, shop: &ShopContext) -> Value {
        let fulfillable = if self.cancelled_at.is_some() {
            0
        } else {
            l.remaining()
        };
        let status = if l.fulfilled_quantity == 0 {
            None
        } else if l.remaining() == 0 {
            Some("fulfilled")
        } else {
            Some("partial")
        };
        let tax_lines = if tax_cents > 0 {
            json!([{"price": format_cents(tax_cents), "rate": self.tax_percent as f64 / 100.0,
                     "title": "Tax", "price_set": shop.money_set(tax_cents),
                     "channel_liable": false}])
        } else {
            json!([])
        };
        let name = match &l.variant_title {
            Some(v) => format!("{} - {v}", l.title),
            None => l.title.clone(),
        };
        json!({
            "id": l.id,
            "admin_graphql_api_id": format!("gid://shopify/LineItem/{}", l.id),
            "fulfillable_quantity": fulfillable,
            "fulfillment_service": "manual",
            "fulfillment_status": status,
            "gift_card": false,
            "grams": 500,
            "name": name,
            "price": format_cents(l.price_cents),
            "price_set": shop.money_set(l.price_cents),
            "product_exists": true,
            "product_id": l.product_id,
            "properties": [],
            "quantity": quantity,
            "requires_shipping": true,
            "sku": l.sku,
            "taxable": true,
            "title": l.title,
            "total_discount": "0.00",
            "total_discount_set": shop.money_set(0),
            "variant_id": l.variant_id,
            "variant_inventory_management": "shopify",
            "variant_title": l.variant_title,
            "vendor": "Switchyard Outdoor",
            "tax_lines": tax_lines,
            "duties": [],
            "discount_allocations": []
        })
    }

    pub fn fulfillment_json(&self, f: &Fulfillment, shop: &ShopContext) -> Value {
        let taxes = self.line_tax_cents();
        let lines: Vec<Value> = f
            .lines
            .iter()
            .filter_map(|(id, qty)| {
                let i = self.line_items.iter().position(|l| l.id == *id)?;
                let l = &self.line_items[i];
                // The shipped quantity's part of the line's tax.
                let tax = taxes[i] * i64::from(*qty) / i64::from(l.quantity.max(1));
                Some(self.line_json(l, *qty, tax, shop))
            })
            .collect();
        json!({
            "id": f.id,
            "admin_graphql_api_id": format!("gid://shopify/Fulfillment/{}", f.id),
            "created_at": shop.time(f.created_at),
            "location_id": f.location_id,
            "name": f.name,
            "order_id": self.id,
            "origin_address": {},
            "receipt": {},
            "service": "manual",
            "shipment_status": null,
            "status": "success",
            "tracking_company": f.tracking_company,
            "tracking_number": f.tracking_number,
            "tracking_numbers": f.tracking_number.iter().collect::<Vec<_>>(),
            "tracking_url": f.tracking_url,
            "tracking_urls": f.tracking_url.iter().collect::<Vec<_>>(),
            "updated_at": shop.time(f.created_at),
            "line_items": lines
        })
    }

    fn customer_json(&self, shop: &ShopContext) -> Value {
        let c = &self.customer;
        json!({
            "id": c.id,
            "email": c.person.email,
            "created_at": shop.time(c.created_at),
            "updated_at": shop.time(c.created_at),
            "first_name": c.person.first_name,
            "last_name": c.person.last_name,
            "state": "enabled",
            "note": null,
            "verified_email": true,
            "multipass_identifier": null,
            "tax_exempt": false,
            "phone": c.person.phone,
            "tags": "",
            "currency": shop.currency,
            "admin_graphql_api_id": format!("gid://shopify/Customer/{}", c.id),
            "default_address": address_json(&self.shipping_address)
        })
    }

    /// The order's single fulfillment order (one location, as on a shop without split routing).
    pub fn fulfillment_order_json(
        &self,
        shop: &ShopContext,
        shop_id: u64,
        location_name: &str,
    ) -> Value {
        let lines: Vec<Value> = self
            .line_items
            .iter()
            .map(|l| {
                let remaining = if self.cancelled_at.is_some() {
                    0
                } else {
                    l.remaining()
                };
                json!({
                    "id": l.fulfillment_order_line_id,
                    "shop_id": shop_id,
                    "fulfillment_order_id": self.fulfillment_order_id,
                    "quantity": remaining,
                    "line_item_id": l.id,
                    "inventory_item_id": l.inventory_item_id,
                    "fulfillable_quantity": remaining,
                    "variant_id": l.variant_id
                })
            })
            .collect();
        let status = self.fulfillment_order_status();
        let actions: Vec<&str> = match status {
            "open" | "in_progress" => {
                vec!["create_fulfillment", "request_fulfillment", "hold", "move"]
            }
            "on_hold" => vec!["release_hold", "hold", "move"],
            _ => vec![],
        };
        let holds: Vec<Value> = self
            .hold
            .iter()
            .map(|h| json!({"reason": h.reason.to_ascii_lowercase(), "reason_notes": h.reason_notes}))
            .collect();
        let a = &self.shipping_address;
        json!({
            "id": self.fulfillment_order_id,
            "shop_id": shop_id,
            "order_id": self.id,
            "assigned_location_id": self.location_id,
            "request_status": "unsubmitted",
            "status": status,
            "fulfill_at": shop.time(self.created_at),
            "fulfill_by": null,
            "supported_actions": actions,
            "destination": {
                "id": self.fulfillment_order_id + 1,
                "address1": a.address1, "address2": a.address2, "city": a.city, "company": a.company,
                "country": a.country, "email": self.customer.person.email, "first_name": a.first_name,
                "last_name": a.last_name, "phone": a.phone, "province": a.province, "zip": a.zip
            },
            "line_items": lines,
            "international_duties": null,
            "fulfillment_holds": holds,
            "delivery_method": {"id": self.fulfillment_order_id + 2, "method_type": "shipping"},
            "created_at": shop.time(self.created_at),
            "updated_at": shop.time(self.updated_at),
            "assigned_location": {
                "location_id": self.location_id, "name": location_name, "country_code": "US",
                "address1": null, "address2": null, "city": null, "phone": null, "province": null, "zip": null
            },
            "merchant_requests": []
        })
    }
}

pub fn address_json(a: &Address) -> Value {
    json!({
        "first_name": a.first_name,
        "address1": a.address1,
        "phone": a.phone,
        "city": a.city,
        "zip": a.zip,
        "province": a.province,
        "country": a.country,
        "last_name": a.last_name,
        "address2": a.address2,
        "company": a.company,
        "latitude": null,
        "longitude": null,
        "name": format!("{} {}", a.first_name, a.last_name),
        "country_code": a.country_code,
        "province_code": a.province_code
    })
}

#[derive(Debug, Clone)]
pub struct Variant {
    pub id: u64,
    pub sku: String,
    pub option: Option<String>,
    pub price_cents: i64,
    pub inventory_item_id: u64,
    pub position: usize,
}

#[derive(Debug, Clone)]
pub struct Product {
    pub id: u64,
    pub title: String,
    pub option_name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub variants: Vec<Variant>,
    pub details: ProductDetails,
}

impl Product {
    pub fn handle(&self) -> String {
        self.title
            .to_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect()
    }

    /// `quantity_of(inventory_item_id)` gives the stock summed over locations.
    pub fn to_json(&self, shop: &ShopContext, quantity_of: impl Fn(u64) -> i64) -> Value {
        let variants: Vec<Value> = self
            .variants
            .iter()
            .map(|v| {
                json!({
                    "id": v.id,
                    "product_id": self.id,
                    "title": v.option.clone().unwrap_or_else(|| "Default Title".into()),
                    "price": format_cents(v.price_cents),
                    "sku": v.sku,
                    "position": v.position,
                    "inventory_policy": "deny",
                    "compare_at_price": null,
                    "fulfillment_service": "manual",
                    "inventory_management": "shopify",
                    "option1": v.option.clone().unwrap_or_else(|| "Default Title".into()),
                    "option2": null,
                    "option3": null,
                    "created_at": shop.time(self.created_at),
                    "updated_at": shop.time(self.updated_at),
                    "taxable": true,
                    "barcode": null,
                    "grams": self.details.weight_grams.unwrap_or(0),
                    "weight": self.details.weight_grams.map_or(0.0, |g| f64::from(g) / 1000.0),
                    "weight_unit": "kg",
                    "inventory_item_id": v.inventory_item_id,
                    "inventory_quantity": quantity_of(v.inventory_item_id),
                    "old_inventory_quantity": quantity_of(v.inventory_item_id),
                    "requires_shipping": true,
                    "admin_graphql_api_id": format!("gid://shopify/ProductVariant/{}", v.id),
                    "image_id": null
                })
            })
            .collect();
        let option_name = self.option_name.clone().unwrap_or_else(|| "Title".into());
        let image = self.details.image_url.as_ref().map(|src| {
            json!({
                "id": self.id + 7,
                "product_id": self.id,
                "position": 1,
                "alt": self.title,
                "width": 1200,
                "height": 1200,
                "src": src,
                "variant_ids": [],
                "admin_graphql_api_id": format!("gid://shopify/ProductImage/{}", self.id + 7)
            })
        });
        let values: Vec<String> = self
            .variants
            .iter()
            .map(|v| v.option.clone().unwrap_or_else(|| "Default Title".into()))
            .collect();
        json!({
            "id": self.id,
            "title": self.title,
            "body_html": format!("<p>{}</p>", self.title),
            "vendor": "Switchyard Outdoor",
            "product_type": "Outdoor",
            "created_at": shop.time(self.created_at),
            "handle": self.handle(),
            "updated_at": shop.time(self.updated_at),
            "published_at": shop.time(self.created_at),
            "template_suffix": null,
            "published_scope": "web",
            "tags": "",
            "status": "active",
            "admin_graphql_api_id": format!("gid://shopify/Product/{}", self.id),
            "variants": variants,
            "options": [{"id": self.id + 1, "product_id": self.id, "name": option_name, "position": 1, "values": values}],
            "images": image.iter().collect::<Vec<_>>(),
            "image": image
        })
    }
}

#[derive(Debug, Clone)]
pub struct Location {
    pub id: u64,
    pub name: String,
}

impl Location {
    pub fn to_json(&self, shop: &ShopContext, created: DateTime<Utc>) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "address1": "1 Depot Way",
            "address2": null,
            "city": "Portland",
            "zip": "97205",
            "province": "Oregon",
            "country": "US",
            "phone": "",
            "created_at": shop.time(created),
            "updated_at": shop.time(created),
            "country_code": "US",
            "country_name": "United States",
            "province_code": "OR",
            "legacy": false,
            "active": true,
            "admin_graphql_api_id": format!("gid://shopify/Location/{}", self.id),
            "localized_country_name": "United States",
            "localized_province_name": "Oregon"
        })
    }
}
