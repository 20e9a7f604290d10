//! The GraphQL Admin API's `data`, as far as the documents in [`super::queries`] select it.
//! Fields the documents ask for and Shopify always sends are required, so an answer missing them
//! is reported as malformed rather than imported half-empty; nullable fields are `Option`.

use chrono::{DateTime, FixedOffset};
use serde::Deserialize;

use super::graphql::UserError;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageInfo {
    pub has_next_page: bool,
    #[serde(default)]
    pub end_cursor: Option<String>,
}

/// A connection read through `nodes`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection<T> {
    #[serde(default = "no_more")]
    pub page_info: PageInfo,
    pub nodes: Vec<T>,
}

impl<T> Connection<T> {
    /// A connection holding every node (nothing more to page).
    pub fn whole(nodes: Vec<T>) -> Connection<T> {
        Connection {
            page_info: no_more(),
            nodes,
        }
    }
}

fn no_more() -> PageInfo {
    PageInfo {
        has_next_page: false,
        end_cursor: None,
    }
}

#[derive(Debug, Deserialize)]
pub struct ShopData {
    pub shop: Shop,
}

#[derive(Debug, Deserialize)]
pub struct Shop {
    pub name: String,
}

#[derive(Debug, Deserialize)]
pub struct LocationData {
    pub location: Option<Location>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    pub id: String,
    pub is_active: bool,
}

#[derive(Debug, Deserialize)]
pub struct OrdersData {
    pub orders: Connection<Order>,
}

#[derive(Debug, Deserialize)]
pub struct StampsData {
    pub orders: Connection<Stamp>,
}

/// An order's id and change time.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stamp {
    pub id: String,
    pub updated_at: DateTime<FixedOffset>,
}

/// `nodes(ids:)`: one entry per id asked for, `null` for one that no longer exists.
#[derive(Debug, Deserialize)]
pub struct OrderNodesData {
    pub nodes: Vec<Option<Order>>,
}

#[derive(Debug, Deserialize)]
pub struct OrderLinesData {
    pub order: Option<OrderLines>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderLines {
    pub line_items: Connection<LineItem>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub created_at: DateTime<FixedOffset>,
    #[serde(default)]
    pub processed_at: Option<DateTime<FixedOffset>>,
    pub updated_at: DateTime<FixedOffset>,
    #[serde(default)]
    pub cancelled_at: Option<DateTime<FixedOffset>>,
    pub currency_code: String,
    #[serde(default)]
    pub display_financial_status: Option<String>,
    #[serde(default)]
    pub display_fulfillment_status: Option<String>,
    pub total_price_set: MoneyBag,
    #[serde(default)]
    pub total_tax_set: Option<MoneyBag>,
    #[serde(default)]
    pub total_shipping_price_set: Option<MoneyBag>,
    #[serde(default)]
    pub total_discounts_set: Option<MoneyBag>,
    #[serde(default)]
    pub customer: Option<Customer>,
    #[serde(default)]
    pub shipping_address: Option<Address>,
    #[serde(default)]
    pub billing_address: Option<Address>,
    pub line_items: Connection<LineItem>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MoneyBag {
    #[serde(alias = "shop_money")]
    pub shop_money: Money,
}

#[derive(Debug, Deserialize)]
pub struct Money {
    pub amount: String,
}

/// A mailing address, as GraphQL names its fields and (by alias) as REST webhooks do.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Address {
    pub name: Option<String>,
    #[serde(alias = "first_name")]
    pub first_name: Option<String>,
    #[serde(alias = "last_name")]
    pub last_name: Option<String>,
    pub company: Option<String>,
    pub address1: Option<String>,
    pub address2: Option<String>,
    pub city: Option<String>,
    pub province: Option<String>,
    #[serde(alias = "province_code")]
    pub province_code: Option<String>,
    pub zip: Option<String>,
    #[serde(alias = "country_code")]
    pub country_code_v2: Option<String>,
    pub phone: Option<String>,
}

/// The order's customer, as GraphQL names its fields and (by alias) as REST webhooks do.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Customer {
    #[serde(alias = "first_name")]
    pub first_name: Option<String>,
    #[serde(alias = "last_name")]
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LineItem {
    pub id: String,
    #[serde(default)]
    pub sku: Option<String>,
    pub title: String,
    #[serde(default)]
    pub name: Option<String>,
    pub quantity: u32,
    pub original_unit_price_set: MoneyBag,
    #[serde(default)]
    pub tax_lines: Vec<TaxLine>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaxLine {
    pub price_set: MoneyBag,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VariantsCountData {
    pub product_variants_count: Count,
}

#[derive(Debug, Deserialize)]
pub struct Count {
    pub count: u64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VariantsData {
    pub product_variants: Connection<Variant>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Variant {
    pub id: String,
    #[serde(default)]
    pub sku: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub price: Option<String>,
    #[serde(default)]
    pub image: Option<Image>,
    pub product: VariantProduct,
    #[serde(default)]
    pub inventory_item: Option<InventoryItem>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VariantProduct {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub featured_image: Option<Image>,
}

#[derive(Debug, Deserialize)]
pub struct Image {
    pub url: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InventoryItem {
    pub id: String,
    #[serde(default)]
    pub tracked: bool,
    #[serde(default)]
    pub harmonized_system_code: Option<String>,
    #[serde(default)]
    pub country_code_of_origin: Option<String>,
    #[serde(default)]
    pub measurement: Option<Measurement>,
    /// The level at the channel's location; `None` when the item is not stocked there.
    #[serde(default)]
    pub inventory_level: Option<InventoryLevel>,
}

#[derive(Debug, Deserialize)]
pub struct Measurement {
    #[serde(default)]
    pub weight: Option<WeightValue>,
}

#[derive(Debug, Deserialize)]
pub struct WeightValue {
    /// A JSON number; kept as its text so no float rounding creeps in.
    pub value: serde_json::Number,
    pub unit: String,
}

#[derive(Debug, Deserialize)]
pub struct InventoryLevel {
    pub quantities: Vec<Quantity>,
}

#[derive(Debug, Deserialize)]
pub struct Quantity {
    pub name: String,
    pub quantity: i64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkRunData {
    pub bulk_operation_run_query: BulkRunPayload,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkRunPayload {
    #[serde(default)]
    pub bulk_operation: Option<BulkOperation>,
    #[serde(default)]
    pub user_errors: Vec<UserError>,
}

#[derive(Debug, Deserialize)]
pub struct BulkStatusData {
    pub node: Option<BulkOperation>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkOperation {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub error_code: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetQuantitiesData {
    pub inventory_set_quantities: MutationPayload,
}

/// A mutation's answer when only its `userErrors` matter.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MutationPayload {
    #[serde(default)]
    pub user_errors: Vec<UserError>,
}

#[derive(Debug, Deserialize)]
pub struct FulfillmentOrdersData {
    pub order: Option<FulfillmentOrdersOfOrder>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FulfillmentOrdersOfOrder {
    pub fulfillment_orders: Connection<FulfillmentOrder>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FulfillmentOrder {
    pub id: String,
    pub status: String,
    pub line_items: Connection<FulfillmentOrderLine>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FulfillmentOrderLine {
    pub id: String,
    pub remaining_quantity: u32,
    pub line_item: NodeId,
}

#[derive(Debug, Deserialize)]
pub struct NodeId {
    pub id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FulfillmentCreateData {
    pub fulfillment_create: FulfillmentCreatePayload,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FulfillmentCreatePayload {
    #[serde(default)]
    pub fulfillment: Option<NodeId>,
    #[serde(default)]
    pub user_errors: Vec<UserError>,
}

#[derive(Debug, Deserialize)]
pub struct FulfillmentsData {
    pub order: Option<FulfillmentsOfOrder>,
}

#[derive(Debug, Deserialize)]
pub struct FulfillmentsOfOrder {
    pub fulfillments: Vec<Fulfillment>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fulfillment {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub tracking_info: Vec<TrackingInfo>,
    pub fulfillment_line_items: Connection<FulfillmentLineItem>,
}

#[derive(Debug, Deserialize)]
pub struct TrackingInfo {
    #[serde(default)]
    pub number: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FulfillmentLineItem {
    pub quantity: u32,
    pub line_item: NodeId,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookCreateData {
    pub webhook_subscription_create: WebhookCreatePayload,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookCreatePayload {
    #[serde(default)]
    pub webhook_subscription: Option<NodeId>,
    #[serde(default)]
    pub user_errors: Vec<UserError>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookDeleteData {
    pub webhook_subscription_delete: MutationPayload,
}
