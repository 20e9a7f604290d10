//! The Admin REST JSON a connector reads, as far as switchyard needs it. Unknown fields are
//! ignored (Shopify adds fields in every version); fields we rely on are required, so a response
//! missing them is reported as malformed rather than imported half-empty.

use chrono::{DateTime, FixedOffset};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct OrdersEnvelope {
    pub orders: Vec<Order>,
}

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
    pub total_shipping_price_set: Option<MoneySet>,
    #[serde(default)]
    pub shipping_address: Option<Address>,
    #[serde(default)]
    pub billing_address: Option<Address>,
    #[serde(default)]
    pub customer: Option<Customer>,
    pub line_items: Vec<LineItem>,
    #[serde(default)]
    pub tags: String,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct MoneySet {
    pub shop_money: Money,
}

#[derive(Debug, Deserialize)]
pub struct Money {
    pub amount: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Address {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub name: Option<String>,
    pub company: Option<String>,
    pub address1: Option<String>,
    pub address2: Option<String>,
    pub city: Option<String>,
    pub province: Option<String>,
    pub province_code: Option<String>,
    pub zip: Option<String>,
    pub country_code: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Customer {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
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

#[derive(Debug, Deserialize)]
pub struct ProductsEnvelope {
    pub products: Vec<Product>,
}

#[derive(Debug, Deserialize)]
pub struct Product {
    pub id: u64,
    pub title: String,
    #[serde(default)]
    pub variants: Vec<Variant>,
    /// The main image; `images` lists them all, the variants point into it by `image_id`.
    #[serde(default)]
    pub image: Option<Image>,
    #[serde(default)]
    pub images: Vec<Image>,
}

#[derive(Debug, Deserialize)]
pub struct Image {
    pub id: u64,
    pub src: String,
}

#[derive(Debug, Deserialize)]
pub struct InventoryItemsEnvelope {
    pub inventory_items: Vec<InventoryItem>,
}

/// The item behind a variant: where customs details live.
#[derive(Debug, Deserialize)]
pub struct InventoryItem {
    pub id: u64,
    #[serde(default)]
    pub harmonized_system_code: Option<String>,
    #[serde(default)]
    pub country_code_of_origin: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Variant {
    pub id: u64,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub sku: Option<String>,
    #[serde(default)]
    pub price: Option<String>,
    #[serde(default)]
    pub inventory_item_id: Option<u64>,
    #[serde(default)]
    pub inventory_quantity: Option<i64>,
    #[serde(default)]
    pub inventory_management: Option<String>,
    /// A JSON number in `weight_unit`; kept as its text so no float rounding creeps in.
    #[serde(default)]
    pub weight: Option<serde_json::Number>,
    #[serde(default)]
    pub weight_unit: Option<String>,
    #[serde(default)]
    pub image_id: Option<u64>,
}

#[derive(Debug, Deserialize)]
pub struct LocationsEnvelope {
    pub locations: Vec<Location>,
}

#[derive(Debug, Deserialize)]
pub struct Location {
    pub id: u64,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
pub struct FulfillmentOrdersEnvelope {
    pub fulfillment_orders: Vec<FulfillmentOrder>,
}

#[derive(Debug, Deserialize)]
pub struct FulfillmentOrder {
    pub id: u64,
    pub status: String,
    #[serde(default)]
    pub line_items: Vec<FulfillmentOrderLine>,
}

#[derive(Debug, Deserialize)]
pub struct FulfillmentOrderLine {
    pub id: u64,
    pub line_item_id: u64,
    pub fulfillable_quantity: u32,
}

#[derive(Debug, Deserialize)]
pub struct FulfillmentEnvelope {
    pub fulfillment: Fulfillment,
}

#[derive(Debug, Deserialize)]
pub struct Fulfillment {
    pub id: u64,
}

/// `orders/{id}/fulfillments.json`: the order's shipments, read to find one already made.
#[derive(Debug, Deserialize)]
pub struct FulfillmentsEnvelope {
    pub fulfillments: Vec<FulfillmentRecord>,
}

#[derive(Debug, Deserialize)]
pub struct FulfillmentRecord {
    pub id: u64,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub tracking_number: Option<String>,
    #[serde(default)]
    pub line_items: Vec<FulfilledLineItem>,
}

/// An order line item inside a fulfillment: `id` is the order's line item, `quantity` shipped.
#[derive(Debug, Deserialize)]
pub struct FulfilledLineItem {
    pub id: u64,
    pub quantity: u32,
}

#[derive(Debug, Deserialize)]
pub struct ShopEnvelope {
    pub shop: Shop,
}

#[derive(Debug, Deserialize)]
pub struct Shop {
    pub name: String,
}
