//! The SP-API JSON the connector reads: Orders v0 (PascalCase, inside a `payload`) and Listings
//! Items 2021-08-01 (camelCase). Only what the connector uses is read; everything the models mark
//! optional is optional here too, as Amazon leaves fields out freely (a pending order has no
//! total or address yet).

use chrono::{DateTime, FixedOffset};
use serde::Deserialize;

/// `getOrders`' payload.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OrdersList {
    pub orders: Vec<Order>,
    #[serde(default)]
    pub next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Order {
    pub amazon_order_id: String,
    pub purchase_date: DateTime<FixedOffset>,
    pub last_update_date: DateTime<FixedOffset>,
    pub order_status: String,
    /// `MFN` (the seller ships) or `AFN` (Amazon ships).
    #[serde(default)]
    pub fulfillment_channel: Option<String>,
    #[serde(default)]
    pub order_total: Option<Money>,
    #[serde(default)]
    pub is_prime: bool,
    #[serde(default)]
    pub is_business_order: bool,
    #[serde(default)]
    pub shipping_address: Option<Address>,
    #[serde(default)]
    pub buyer_info: Option<BuyerInfo>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Address {
    pub name: Option<String>,
    pub company_name: Option<String>,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub address_line3: Option<String>,
    pub city: Option<String>,
    pub county: Option<String>,
    pub state_or_region: Option<String>,
    pub postal_code: Option<String>,
    pub country_code: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct BuyerInfo {
    pub buyer_email: Option<String>,
    pub buyer_name: Option<String>,
}

/// Orders v0's `Money`: both fields optional in the model.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Money {
    #[serde(default)]
    pub currency_code: Option<String>,
    #[serde(default)]
    pub amount: Option<String>,
}

/// `getOrderItems`' payload.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OrderItemsList {
    pub order_items: Vec<OrderItem>,
    #[serde(default)]
    pub next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OrderItem {
    #[serde(rename = "ASIN")]
    pub asin: String,
    pub order_item_id: String,
    #[serde(default, rename = "SellerSKU")]
    pub seller_sku: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    pub quantity_ordered: u32,
    #[serde(default)]
    pub quantity_shipped: u32,
    /// The item's selling price times the quantity, before promotions.
    #[serde(default)]
    pub item_price: Option<Money>,
    #[serde(default)]
    pub item_tax: Option<Money>,
    #[serde(default)]
    pub shipping_price: Option<Money>,
    #[serde(default)]
    pub shipping_tax: Option<Money>,
    #[serde(default)]
    pub shipping_discount: Option<Money>,
    #[serde(default)]
    pub shipping_discount_tax: Option<Money>,
    #[serde(default)]
    pub promotion_discount: Option<Money>,
    #[serde(default)]
    pub promotion_discount_tax: Option<Money>,
}

/// `searchListingsItems`' answer.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemSearchResults {
    pub items: Vec<Item>,
    #[serde(default)]
    pub pagination: Option<Pagination>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Pagination {
    pub next_token: Option<String>,
}

/// A listings item, with the data sets the connector asks for.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    pub sku: String,
    #[serde(default)]
    pub summaries: Vec<ItemSummary>,
    #[serde(default)]
    pub offers: Vec<ItemOffer>,
    #[serde(default)]
    pub fulfillment_availability: Vec<FulfillmentAvailability>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemSummary {
    pub marketplace_id: String,
    #[serde(default)]
    pub asin: Option<String>,
    #[serde(default)]
    pub item_name: Option<String>,
    #[serde(default)]
    pub main_image: Option<ItemImage>,
}

#[derive(Debug, Deserialize)]
pub struct ItemImage {
    pub link: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemOffer {
    pub marketplace_id: String,
    /// `B2C` or `B2B`.
    pub offer_type: String,
    pub price: ListingsMoney,
}

/// Listings Items' `Money`: both fields required, the amount a decimal string.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListingsMoney {
    pub amount: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FulfillmentAvailability {
    /// `DEFAULT` for the seller's own stock; Amazon's fulfilment networks have their own codes.
    pub fulfillment_channel_code: String,
    #[serde(default)]
    pub quantity: Option<i64>,
}

/// `patchListingsItem`'s answer.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmissionResponse {
    /// `ACCEPTED`, `INVALID` or (for a validation preview) `VALID`.
    pub status: String,
    #[serde(default)]
    pub issues: Vec<Issue>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Issue {
    pub code: String,
    pub message: String,
    /// `ERROR`, `WARNING` or `INFO`.
    pub severity: String,
    #[serde(default)]
    pub attribute_names: Vec<String>,
}
