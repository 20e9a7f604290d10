//! WooCommerce's resources as the simulator stores them, and their REST v3 JSON: ids as small
//! integers (WordPress post ids), money as strings except a line's `price`, dates without offset in
//! site time plus `_gmt` twins.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::config::ProductDetails;
use crate::generator::Address;
use crate::money::format_cents;
use crate::orderbook::Keyed;
use crate::timefmt::naive;

/// The site's timezone offset in minutes (UTC: the `_gmt` fields equal the local ones).
pub const SITE_OFFSET: i32 = 0;

fn local(ts: DateTime<Utc>) -> String {
    naive(ts, SITE_OFFSET)
}

fn gmt(ts: DateTime<Utc>) -> String {
    naive(ts, 0)
}

fn opt(ts: Option<DateTime<Utc>>, f: fn(DateTime<Utc>) -> String) -> Value {
    ts.map_or(Value::Null, |t| Value::String(f(t)))
}

/// Order statuses WooCommerce core registers.
pub const STATUSES: &[&str] = &[
    "pending",
    "processing",
    "on-hold",
    "completed",
    "cancelled",
    "refunded",
    "failed",
];

/// Statuses in which an order holds stock (WooCommerce reduces stock on entering them).
pub fn holds_stock(status: &str) -> bool {
    matches!(status, "processing" | "completed" | "on-hold")
}

/// "on-hold" -> "On hold", for the system notes WooCommerce writes.
pub fn status_label(status: &str) -> String {
    let text = status.replace('-', " ");
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}

#[derive(Debug, Clone)]
pub struct Line {
    pub id: u64,
    pub product_id: u64,
    pub variation_id: u64,
    pub sku: String,
    pub name: String,
    pub quantity: u32,
    pub price_cents: i64,
    pub subtotal_cents: i64,
    pub total_cents: i64,
    pub tax_cents: i64,
}

#[derive(Debug, Clone)]
pub struct Note {
    pub id: u64,
    pub note: String,
    pub customer_note: bool,
    pub author: String,
    pub created_at: DateTime<Utc>,
}

impl Note {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "author": self.author,
            "date_created": local(self.created_at),
            "date_created_gmt": gmt(self.created_at),
            "note": self.note,
            "customer_note": self.customer_note
        })
    }
}

#[derive(Debug, Clone)]
pub struct Tracking {
    pub tracking_id: String,
    pub provider: String,
    pub link: String,
    pub number: String,
    /// `YYYY-MM-DD`.
    pub date_shipped: String,
}

impl Tracking {
    pub fn to_json(&self) -> Value {
        json!({
            "tracking_id": self.tracking_id,
            "tracking_provider": self.provider,
            "tracking_link": self.link,
            "tracking_number": self.number,
            "date_shipped": self.date_shipped
        })
    }
}

#[derive(Debug, Clone)]
pub struct Order {
    pub id: u64,
    pub status: String,
    pub currency: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub customer_id: u64,
    pub email: String,
    pub billing: Address,
    pub shipping: Address,
    pub lines: Vec<Line>,
    pub shipping_cents: i64,
    pub discount_cents: i64,
    pub customer_note: String,
    pub payment_method: String,
    pub notes: Vec<Note>,
    pub trackings: Vec<Tracking>,
    /// Whether the order's stock has been taken from the products (WooCommerce's `_order_stock_reduced`).
    pub stock_reduced: bool,
}

impl Keyed for Order {
    fn id(&self) -> u64 {
        self.id
    }
    fn updated_ts(&self) -> i64 {
        self.updated_at.timestamp()
    }
}

fn address_json(a: &Address, email: Option<&str>) -> Value {
    let mut value = json!({
        "first_name": a.first_name,
        "last_name": a.last_name,
        "company": a.company.clone().unwrap_or_default(),
        "address_1": a.address1,
        "address_2": a.address2.clone().unwrap_or_default(),
        "city": a.city,
        "state": a.province_code,
        "postcode": a.zip,
        "country": a.country_code,
        "phone": a.phone
    });
    if let (Some(email), Value::Object(map)) = (email, &mut value) {
        map.insert("email".into(), Value::String(email.to_string()));
    }
    value
}

impl Order {
    pub fn tax_cents(&self) -> i64 {
        self.lines.iter().map(|l| l.tax_cents).sum()
    }

    pub fn total_cents(&self) -> i64 {
        self.lines.iter().map(|l| l.total_cents).sum::<i64>()
            + self.shipping_cents
            + self.tax_cents()
    }

    pub fn to_json(&self, base_url: &str) -> Value {
        let lines: Vec<Value> = self
            .lines
            .iter()
            .map(|l| {
                json!({
                    "id": l.id,
                    "name": l.name,
                    "product_id": l.product_id,
                    "variation_id": l.variation_id,
                    "quantity": l.quantity,
                    "tax_class": "",
                    "subtotal": format_cents(l.subtotal_cents),
                    "subtotal_tax": format_cents(l.tax_cents),
                    "total": format_cents(l.total_cents),
                    "total_tax": format_cents(l.tax_cents),
                    "taxes": [],
                    "meta_data": [],
                    "sku": l.sku,
                    "price": l.price_cents as f64 / 100.0,
                    "image": {"id": "", "src": ""},
                    "parent_name": null
                })
            })
            .collect();
        let method_title = match self.payment_method.as_str() {
            "stripe" => "Credit Card (Stripe)",
            _ => "Direct bank transfer",
        };
        json!({
            "id": self.id,
            "parent_id": 0,
            "status": self.status,
            "currency": self.currency,
            "version": "9.1.2",
            "prices_include_tax": false,
            "date_created": local(self.created_at),
            "date_modified": local(self.updated_at),
            "discount_total": format_cents(self.discount_cents),
            "discount_tax": "0.00",
            "shipping_total": format_cents(self.shipping_cents),
            "shipping_tax": "0.00",
            "cart_tax": format_cents(self.tax_cents()),
            "total": format_cents(self.total_cents()),
            "total_tax": format_cents(self.tax_cents()),
            "customer_id": self.customer_id,
            "order_key": format!("wc_order_{:013x}", self.id * 2_654_435_761),
            "billing": address_json(&self.billing, Some(&self.email)),
            "shipping": address_json(&self.shipping, None),
            "payment_method": self.payment_method,
            "payment_method_title": method_title,
            "transaction_id": if self.paid_at.is_some() { format!("txn_{}", self.id) } else { String::new() },
            "customer_ip_address": "203.0.113.7",
            "customer_user_agent": "Mozilla/5.0",
            "created_via": "checkout",
            "customer_note": self.customer_note,
            "date_completed": opt(self.completed_at, local),
            "date_paid": opt(self.paid_at, local),
            "cart_hash": "",
            "number": self.id.to_string(),
            "meta_data": [],
            "line_items": lines,
            "tax_lines": [],
            "shipping_lines": [{
                "id": self.id * 10 + 9,
                "method_title": "Flat rate",
                "method_id": "flat_rate",
                "instance_id": "1",
                "total": format_cents(self.shipping_cents),
                "total_tax": "0.00",
                "taxes": [],
                "meta_data": []
            }],
            "fee_lines": [],
            "coupon_lines": [],
            "refunds": [],
            "payment_url": format!("{base_url}/checkout/order-pay/{}/", self.id),
            "is_editable": self.status == "pending" || self.status == "on-hold",
            "needs_payment": self.paid_at.is_none() && self.status == "pending",
            "needs_processing": true,
            "date_created_gmt": gmt(self.created_at),
            "date_modified_gmt": gmt(self.updated_at),
            "date_completed_gmt": opt(self.completed_at, gmt),
            "date_paid_gmt": opt(self.paid_at, gmt),
            "currency_symbol": match self.currency.as_str() { "GBP" => "£", "EUR" => "€", _ => "$" },
            "_links": {
                "self": [{"href": format!("{base_url}/wp-json/wc/v3/orders/{}", self.id)}],
                "collection": [{"href": format!("{base_url}/wp-json/wc/v3/orders")}]
            }
        })
    }
}

#[derive(Debug, Clone)]
pub struct Variation {
    pub id: u64,
    pub sku: String,
    pub option: String,
    pub price_cents: i64,
    pub manage_stock: bool,
    pub stock_quantity: Option<i64>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Product {
    pub id: u64,
    pub name: String,
    pub sku: String,
    pub option_name: Option<String>,
    pub price_cents: i64,
    pub manage_stock: bool,
    pub stock_quantity: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub variations: Vec<Variation>,
    pub details: ProductDetails,
}

/// A stock change as a `PUT` of a product or a variation (or a merchant's edit) asks for it.
#[derive(Debug, Clone, Copy, Default)]
pub struct StockUpdate {
    pub manage_stock: Option<bool>,
    pub stock_quantity: Option<i64>,
}

impl StockUpdate {
    /// Applies the change to stock fields, as WooCommerce does: `stock_quantity` only counts
    /// where stock is managed.
    fn apply(&self, manage_stock: &mut bool, stock_quantity: &mut Option<i64>) {
        if let Some(m) = self.manage_stock {
            *manage_stock = m;
        }
        if let (Some(q), true) = (self.stock_quantity, *manage_stock) {
            *stock_quantity = Some(q);
        }
    }
}

impl Product {
    pub fn update_stock(&mut self, update: StockUpdate, now: DateTime<Utc>) {
        update.apply(&mut self.manage_stock, &mut self.stock_quantity);
        self.updated_at = now;
    }
}

impl Variation {
    pub fn update_stock(&mut self, update: StockUpdate, now: DateTime<Utc>) {
        update.apply(&mut self.manage_stock, &mut self.stock_quantity);
        self.updated_at = now;
    }
}

fn stock_status(manage: bool, qty: Option<i64>) -> &'static str {
    match (manage, qty) {
        (true, Some(q)) if q <= 0 => "outofstock",
        _ => "instock",
    }
}

impl Product {
    pub fn is_variable(&self) -> bool {
        !self.variations.is_empty()
    }

    pub fn slug(&self) -> String {
        self.name
            .to_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect()
    }

    pub fn to_json(&self, base_url: &str) -> Value {
        let options: Vec<&str> = self.variations.iter().map(|v| v.option.as_str()).collect();
        let attributes = match &self.option_name {
            Some(name) if self.is_variable() => json!([{
                "id": 0, "name": name, "position": 0, "visible": true, "variation": true, "options": options
            }]),
            _ => json!([]),
        };
        let price = format_cents(self.price_cents);
        json!({
            "id": self.id,
            "name": self.name,
            "slug": self.slug(),
            "permalink": format!("{base_url}/product/{}/", self.slug()),
            "date_created": local(self.created_at),
            "date_created_gmt": gmt(self.created_at),
            "date_modified": local(self.updated_at),
            "date_modified_gmt": gmt(self.updated_at),
            "type": if self.is_variable() { "variable" } else { "simple" },
            "status": "publish",
            "featured": false,
            "catalog_visibility": "visible",
            "description": format!("<p>{}</p>", self.name),
            "short_description": "",
            "sku": self.sku,
            "price": price,
            "regular_price": if self.is_variable() { String::new() } else { price.clone() },
            "sale_price": "",
            "on_sale": false,
            "purchasable": true,
            "total_sales": 0,
            "virtual": false,
            "downloadable": false,
            "tax_status": "taxable",
            "tax_class": "",
            "manage_stock": self.manage_stock,
            "stock_quantity": if self.manage_stock { json!(self.stock_quantity) } else { Value::Null },
            "backorders": "no",
            "backorders_allowed": false,
            "backordered": false,
            "low_stock_amount": null,
            "sold_individually": false,
            "weight": self.details.weight_kg().unwrap_or_default(),
            "dimensions": self.dimensions_json(),
            "shipping_required": true,
            "categories": [{"id": 15, "name": "Outdoor", "slug": "outdoor"}],
            "tags": [],
            "images": self.images_json(),
            "attributes": attributes,
            "default_attributes": [],
            "variations": self.variations.iter().map(|v| v.id).collect::<Vec<_>>(),
            "stock_status": stock_status(self.manage_stock, self.stock_quantity),
            "meta_data": self.customs_meta(),
            "_links": {
                "self": [{"href": format!("{base_url}/wp-json/wc/v3/products/{}", self.id)}],
                "collection": [{"href": format!("{base_url}/wp-json/wc/v3/products")}]
            }
        })
    }

    fn dimensions_json(&self) -> Value {
        let [length, width, height] = self.details.dimensions_cm.clone().unwrap_or_default();
        json!({"length": length, "width": width, "height": height})
    }

    fn images_json(&self) -> Value {
        let images: Vec<Value> = self
            .details
            .image_url
            .iter()
            .map(|src| {
                json!({
                    "id": self.id + 500,
                    "date_created": local(self.created_at),
                    "date_created_gmt": gmt(self.created_at),
                    "src": src,
                    "name": self.slug(),
                    "alt": self.name
                })
            })
            .collect();
        json!(images)
    }

    /// WooCommerce has no customs fields of its own; shipping and customs extensions keep them
    /// in product meta as `hs_code` and `country_of_origin`.
    fn customs_meta(&self) -> Value {
        let mut meta = Vec::new();
        if let Some(hs) = &self.details.hs_code {
            meta.push(json!({"id": self.id * 10 + 1, "key": "hs_code", "value": hs}));
        }
        if let Some(c) = &self.details.country_of_origin {
            meta.push(json!({"id": self.id * 10 + 2, "key": "country_of_origin", "value": c}));
        }
        json!(meta)
    }

    pub fn variation_json(&self, v: &Variation, base_url: &str) -> Value {
        let price = format_cents(v.price_cents);
        json!({
            "id": v.id,
            "date_created": local(self.created_at),
            "date_created_gmt": gmt(self.created_at),
            "date_modified": local(v.updated_at),
            "date_modified_gmt": gmt(v.updated_at),
            "description": "",
            "permalink": format!("{base_url}/product/{}/?attribute_size={}", self.slug(), v.option),
            "sku": v.sku,
            "price": price,
            "regular_price": price,
            "sale_price": "",
            "on_sale": false,
            "status": "publish",
            "purchasable": true,
            "virtual": false,
            "downloadable": false,
            "tax_status": "taxable",
            "tax_class": "",
            "manage_stock": v.manage_stock,
            "stock_quantity": if v.manage_stock { json!(v.stock_quantity) } else { Value::Null },
            "stock_status": stock_status(v.manage_stock, v.stock_quantity),
            "backorders": "no",
            "backorders_allowed": false,
            "backordered": false,
            "weight": self.details.weight_kg().unwrap_or_default(),
            "dimensions": self.dimensions_json(),
            "attributes": [{"id": 0, "name": self.option_name.clone().unwrap_or_default(), "option": v.option}],
            "menu_order": 0,
            "meta_data": [],
            "image": null,
            "_links": {
                "self": [{"href": format!("{base_url}/wp-json/wc/v3/products/{}/variations/{}", self.id, v.id)}],
                "up": [{"href": format!("{base_url}/wp-json/wc/v3/products/{}", self.id)}]
            }
        })
    }
}
