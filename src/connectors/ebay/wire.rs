//! The JSON of eBay's Sell APIs a connector reads and the OAuth token endpoint's answers, as the
//! `sell_fulfillment_v1_oas3` and `sell_inventory_v1_oas3` documents name them. eBay leaves out
//! what does not apply rather than sending nulls, so nearly everything is optional here.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::connectors::http::string_or_number;

/// The token endpoint's answer to the refresh token grant.
#[derive(Debug, Deserialize)]
pub struct TokenAnswer {
    pub access_token: String,
    pub expires_in: u64,
}

/// The token endpoint's refusal (RFC 6749 section 5.2).
#[derive(Debug, Deserialize)]
pub struct TokenRefusal {
    pub error: String,
    #[serde(default)]
    pub error_description: Option<String>,
}

/// eBay's error envelope, on every failed call and on each failed item of a bulk call.
#[derive(Debug, Default, Deserialize)]
pub struct ErrorEnvelope {
    #[serde(default)]
    pub errors: Vec<ErrorDetail>,
}

/// One error of the envelope (eBay's `ErrorDetailV3`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ErrorDetail {
    pub error_id: Option<i64>,
    /// `REQUEST`, `BUSINESS` or `APPLICATION` (eBay's own failure).
    pub category: Option<String>,
    pub message: Option<String>,
    pub long_message: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Amount {
    #[serde(deserialize_with = "string_or_number")]
    pub value: String,
    pub currency: String,
}

/// `getOrders`' `OrderSearchPagedCollection`.
#[derive(Debug, Deserialize)]
pub struct OrderPage {
    #[serde(default)]
    pub orders: Vec<Order>,
    /// Present while another page follows.
    #[serde(default)]
    pub next: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    pub order_id: String,
    pub creation_date: DateTime<Utc>,
    pub last_modified_date: DateTime<Utc>,
    /// `NOT_STARTED`, `IN_PROGRESS` or `FULFILLED`.
    pub order_fulfillment_status: String,
    /// `PENDING`, `FAILED`, `PAID`, `PARTIALLY_REFUNDED` or `FULLY_REFUNDED`.
    pub order_payment_status: String,
    #[serde(default)]
    pub cancel_status: CancelStatus,
    #[serde(default)]
    pub buyer: Buyer,
    #[serde(default)]
    pub buyer_checkout_notes: Option<String>,
    #[serde(default)]
    pub pricing_summary: PricingSummary,
    #[serde(default)]
    pub payment_summary: PaymentSummary,
    #[serde(default)]
    pub fulfillment_start_instructions: Vec<FulfillmentStartInstruction>,
    pub line_items: Vec<LineItem>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CancelStatus {
    /// `NONE_REQUESTED`, `IN_PROGRESS` (a request pending) or `CANCELED`.
    pub cancel_state: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Buyer {
    pub username: String,
    pub buyer_registration_address: Option<Contact>,
}

/// eBay's `ExtendedContact`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Contact {
    pub full_name: Option<String>,
    pub company_name: Option<String>,
    pub contact_address: Option<Address>,
    pub primary_phone: Option<Phone>,
    pub email: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Address {
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub city: Option<String>,
    pub state_or_province: Option<String>,
    pub county: Option<String>,
    pub postal_code: Option<String>,
    pub country_code: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Phone {
    pub phone_number: Option<String>,
}

/// The order's costs. `priceDiscount` and `deliveryDiscount` are negative amounts.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PricingSummary {
    pub price_subtotal: Option<Amount>,
    pub price_discount: Option<Amount>,
    pub delivery_cost: Option<Amount>,
    pub delivery_discount: Option<Amount>,
    pub tax: Option<Amount>,
    pub total: Option<Amount>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PaymentSummary {
    pub payments: Vec<Payment>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Payment {
    pub payment_status: Option<String>,
    /// Absent until the buyer has paid.
    pub payment_date: Option<DateTime<Utc>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FulfillmentStartInstruction {
    pub shipping_step: Option<ShippingStep>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ShippingStep {
    pub ship_to: Option<Contact>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LineItem {
    pub line_item_id: String,
    #[serde(default)]
    pub sku: Option<String>,
    #[serde(default)]
    pub title: String,
    pub quantity: u32,
    /// Unit price times quantity, before discounts.
    pub line_item_cost: Amount,
    #[serde(default)]
    pub taxes: Vec<Tax>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Tax {
    pub amount: Option<Amount>,
}

/// An order read only for its lines' quantities, to ship what is left of it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderLines {
    pub line_items: Vec<LineItemReference>,
}

/// `getShippingFulfillments`' `ShippingFulfillmentPagedCollection`.
#[derive(Debug, Deserialize)]
pub struct Fulfillments {
    #[serde(default)]
    pub fulfillments: Vec<Fulfillment>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fulfillment {
    pub fulfillment_id: String,
    #[serde(default)]
    pub line_items: Vec<LineItemReference>,
    #[serde(default)]
    pub shipment_tracking_number: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LineItemReference {
    pub line_item_id: String,
    pub quantity: u32,
}

/// `getInventoryItems`' `InventoryItems`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InventoryItems {
    #[serde(default)]
    pub inventory_items: Vec<InventoryItem>,
    /// The next page's address, present while one follows.
    #[serde(default)]
    pub next: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InventoryItem {
    pub sku: String,
    #[serde(default)]
    pub product: Product,
    #[serde(default)]
    pub availability: Availability,
    #[serde(default)]
    pub package_weight_and_size: Option<PackageWeightAndSize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Product {
    pub title: Option<String>,
    pub image_urls: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Availability {
    pub ship_to_location_availability: Option<ShipToLocationAvailability>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ShipToLocationAvailability {
    pub quantity: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PackageWeightAndSize {
    pub weight: Option<Weight>,
    pub dimensions: Option<Dimensions>,
}

/// `value` is a JSON number; `unit` one of `GRAM`, `KILOGRAM`, `OUNCE`, `POUND`.
#[derive(Debug, Deserialize)]
pub struct Weight {
    pub value: serde_json::Number,
    pub unit: String,
}

/// Numbers in `unit`: `CENTIMETER`, `METER`, `INCH` or `FEET`.
#[derive(Debug, Deserialize)]
pub struct Dimensions {
    pub length: serde_json::Number,
    pub width: serde_json::Number,
    pub height: serde_json::Number,
    pub unit: String,
}

/// `getOffers`' `Offers`.
#[derive(Debug, Deserialize)]
pub struct Offers {
    #[serde(default)]
    pub offers: Vec<Offer>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Offer {
    pub offer_id: String,
    /// `FIXED_PRICE` or `AUCTION`.
    #[serde(default)]
    pub format: Option<String>,
    /// `PUBLISHED` (a live listing) or `UNPUBLISHED`.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub available_quantity: Option<i64>,
    #[serde(default)]
    pub pricing_summary: OfferPricing,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct OfferPricing {
    pub price: Option<Amount>,
}

/// `bulkUpdatePriceQuantity`'s answer: one response per SKU (or per offer named).
#[derive(Debug, Deserialize)]
pub struct BulkPriceQuantityResponse {
    #[serde(default)]
    pub responses: Vec<PriceQuantityResponse>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceQuantityResponse {
    #[serde(default)]
    pub sku: Option<String>,
    pub status_code: u16,
    #[serde(default)]
    pub errors: Vec<ErrorDetail>,
}
