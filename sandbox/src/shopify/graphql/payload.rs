//! What a mutation hands back: its result (owned, or the ids to find it by in the shop's state)
//! and its `userErrors`, to be projected like any other object.

use super::state::{AdjustmentGroup, BulkOperation};
use crate::shopify::webhooks::Subscription;

/// One of a mutation's `userErrors`.
#[derive(Debug, Clone, PartialEq)]
pub struct UserError {
    /// The path of the input at fault, e.g. `["input", "quantities", "3", "compareQuantity"]`.
    pub field: Vec<String>,
    pub message: String,
    pub code: Option<&'static str>,
}

impl UserError {
    pub fn new(field: &[&str], message: &str, code: Option<&'static str>) -> UserError {
        UserError {
            field: field.iter().map(|s| (*s).to_owned()).collect(),
            message: message.to_owned(),
            code,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Outcome {
    Nothing,
    Group(AdjustmentGroup),
    /// `(order id, fulfillment id)`.
    Fulfillment(u64, u64),
    Subscription(Subscription),
    Deleted(String),
    Bulk(BulkOperation),
    /// The fulfillment order of an order (by the order's id).
    FulfillmentOrder(u64),
}

#[derive(Debug, Clone)]
pub struct Payload {
    pub type_name: &'static str,
    /// The type of its `userErrors` (`UserError`, `InventorySetQuantitiesUserError`, ...).
    pub error_type: &'static str,
    pub outcome: Outcome,
    pub errors: Vec<UserError>,
}
