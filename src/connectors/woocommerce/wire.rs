//! The WooCommerce REST v3 JSON a connector reads. Dates are read from the `_gmt` twins (the
//! plain ones are in the site's timezone, without an offset).

use chrono::NaiveDateTime;
use serde::Deserialize;

use crate::connectors::http::string_or_number;

#[derive(Debug, Deserialize)]
pub struct Order {
    pub id: u64,
    #[serde(deserialize_with = "string_or_number")]
    pub number: String,
    pub status: String,
    pub currency: String,
    pub date_created_gmt: NaiveDateTime,
    pub date_modified_gmt: NaiveDateTime,
    #[serde(default)]
    pub date_paid_gmt: Option<NaiveDateTime>,
    #[serde(deserialize_with = "string_or_number")]
    pub discount_total: String,
    #[serde(deserialize_with = "string_or_number")]
    pub shipping_total: String,
    #[serde(deserialize_with = "string_or_number")]
    pub total: String,
    #[serde(deserialize_with = "string_or_number")]
    pub total_tax: String,
    #[serde(default)]
    pub customer_note: Option<String>,
    #[serde(default)]
    pub billing: Address,
    #[serde(default)]
    pub shipping: Address,
    pub line_items: Vec<Line>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Address {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company: Option<String>,
    pub address_1: Option<String>,
    pub address_2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postcode: Option<String>,
    pub country: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Line {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub sku: Option<String>,
    pub quantity: u32,
    #[serde(deserialize_with = "string_or_number")]
    pub subtotal: String,
    #[serde(deserialize_with = "string_or_number")]
    pub total_tax: String,
}

#[derive(Debug, Deserialize)]
pub struct Product {
    pub id: u64,
    pub name: String,
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub sku: Option<String>,
    #[serde(default)]
    pub price: Option<String>,
    /// `true`, `false`, or `"parent"` on a variation that uses its product's stock.
    #[serde(default)]
    pub manage_stock: serde_json::Value,
    #[serde(default)]
    pub stock_quantity: Option<i64>,
    /// Decimal string in the store's weight unit; empty when not set.
    #[serde(default)]
    pub weight: Option<String>,
    #[serde(default)]
    pub dimensions: Option<WireDimensions>,
    #[serde(default)]
    pub images: Vec<Image>,
    #[serde(default)]
    pub meta_data: Vec<Meta>,
}

#[derive(Debug, Deserialize)]
pub struct WireDimensions {
    #[serde(default)]
    pub length: String,
    #[serde(default)]
    pub width: String,
    #[serde(default)]
    pub height: String,
}

#[derive(Debug, Deserialize)]
pub struct Image {
    pub src: String,
}

#[derive(Debug, Deserialize)]
pub struct Meta {
    pub key: String,
    #[serde(default)]
    pub value: serde_json::Value,
}

#[derive(Debug, Deserialize)]
pub struct Variation {
    pub id: u64,
    #[serde(default)]
    pub sku: Option<String>,
    #[serde(default)]
    pub price: Option<String>,
    #[serde(default)]
    pub manage_stock: serde_json::Value,
    #[serde(default)]
    pub stock_quantity: Option<i64>,
    #[serde(default)]
    pub attributes: Vec<Attribute>,
    #[serde(default)]
    pub weight: Option<String>,
    #[serde(default)]
    pub dimensions: Option<WireDimensions>,
    #[serde(default)]
    pub image: Option<Image>,
}

#[derive(Debug, Deserialize)]
pub struct Attribute {
    #[serde(default)]
    pub option: String,
}

#[derive(Debug, Deserialize)]
pub struct Tracking {
    pub tracking_id: String,
    #[serde(default)]
    pub tracking_number: String,
}

/// What the connector reads back from a PUT or a single GET: that it names the right resource.
#[derive(Debug, Deserialize)]
pub struct Resource {
    pub id: u64,
}

/// An order's lines, read to decide whether a shipment completes the order.
#[derive(Debug, Deserialize)]
pub struct OrderLines {
    /// Read when looking for a shipment already made: a whole-order one completes the order.
    #[serde(default)]
    pub status: String,
    pub line_items: Vec<LineQuantity>,
}

#[derive(Debug, Deserialize)]
pub struct LineQuantity {
    pub id: u64,
    pub quantity: u32,
}
