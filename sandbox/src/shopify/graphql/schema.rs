//! The part of Shopify's 2025-07 Admin schema the simulator serves: per type, each field and what
//! it returns. Validation (unknown fields), the static cost and the bulk flattener read it; the
//! resolvers in `resolve/` give the values. `Node` is the one interface: its fields depend on the
//! runtime type, chosen with `... on Type`.

/// What a field returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Scalars, enums and lists of them: free.
    Scalar,
    Object(&'static str),
    /// A plain list of objects (Shopify's `[Fulfillment!]!`, `[TaxLine!]!`).
    List(&'static str),
    /// A Relay connection of the type: `edges { cursor node }`, `nodes`, `pageInfo`.
    Connection(&'static str),
}

use Kind::{Connection as C, List as L, Object as O, Scalar as S};

/// Types whose fields depend on the runtime type.
pub const INTERFACES: &[&str] = &["Node"];

const MONEY_BAG: Kind = O("MoneyBag");

#[rustfmt::skip]
const TYPES: &[(&str, &[(&str, Kind)])] = &[
    ("QueryRoot", &[
        ("shop", O("Shop")), ("location", O("Location")), ("locations", C("Location")),
        ("order", O("Order")), ("orders", C("Order")), ("product", O("Product")),
        ("products", C("Product")), ("productVariant", O("ProductVariant")),
        ("productVariants", C("ProductVariant")), ("inventoryItem", O("InventoryItem")),
        ("fulfillmentOrder", O("FulfillmentOrder")), ("node", O("Node")), ("nodes", L("Node")),
        ("webhookSubscription", O("WebhookSubscription")),
        ("webhookSubscriptions", C("WebhookSubscription")),
        ("currentBulkOperation", O("BulkOperation")), ("productVariantsCount", O("Count")),
    ]),
    ("Count", &[("count", S), ("precision", S)]),
    ("Image", &[("url", S), ("altText", S)]),
    ("Mutation", &[
        ("inventorySetQuantities", O("InventorySetQuantitiesPayload")),
        ("inventoryAdjustQuantities", O("InventoryAdjustQuantitiesPayload")),
        ("fulfillmentCreate", O("FulfillmentCreatePayload")),
        ("fulfillmentOrderHold", O("FulfillmentOrderHoldPayload")),
        ("fulfillmentOrderReleaseHold", O("FulfillmentOrderReleaseHoldPayload")),
        ("webhookSubscriptionCreate", O("WebhookSubscriptionCreatePayload")),
        ("webhookSubscriptionDelete", O("WebhookSubscriptionDeletePayload")),
        ("bulkOperationRunQuery", O("BulkOperationRunQueryPayload")),
        ("bulkOperationCancel", O("BulkOperationCancelPayload")),
    ]),
    ("InventorySetQuantitiesPayload", &[
        ("inventoryAdjustmentGroup", O("InventoryAdjustmentGroup")),
        ("userErrors", L("InventorySetQuantitiesUserError")),
    ]),
    ("InventoryAdjustQuantitiesPayload", &[
        ("inventoryAdjustmentGroup", O("InventoryAdjustmentGroup")),
        ("userErrors", L("InventoryAdjustQuantitiesUserError")),
    ]),
    ("FulfillmentCreatePayload", &[("fulfillment", O("Fulfillment")), ("userErrors", L("UserError"))]),
    ("FulfillmentOrderHoldPayload", &[
        ("fulfillmentOrder", O("FulfillmentOrder")), ("fulfillmentHold", O("FulfillmentHold")),
        ("remainingFulfillmentOrder", O("FulfillmentOrder")),
        ("userErrors", L("FulfillmentOrderHoldUserError")),
    ]),
    ("FulfillmentOrderReleaseHoldPayload", &[
        ("fulfillmentOrder", O("FulfillmentOrder")),
        ("userErrors", L("FulfillmentOrderReleaseHoldUserError")),
    ]),
    ("WebhookSubscriptionCreatePayload", &[
        ("webhookSubscription", O("WebhookSubscription")), ("userErrors", L("UserError")),
    ]),
    ("WebhookSubscriptionDeletePayload", &[
        ("deletedWebhookSubscriptionId", S), ("userErrors", L("UserError")),
    ]),
    ("BulkOperationRunQueryPayload", &[
        ("bulkOperation", O("BulkOperation")), ("userErrors", L("BulkOperationUserError")),
    ]),
    ("BulkOperationCancelPayload", &[
        ("bulkOperation", O("BulkOperation")), ("userErrors", L("BulkOperationUserError")),
    ]),
    ("UserError", &[("field", S), ("message", S)]),
    ("InventorySetQuantitiesUserError", &[("field", S), ("message", S), ("code", S)]),
    ("InventoryAdjustQuantitiesUserError", &[("field", S), ("message", S), ("code", S)]),
    ("BulkOperationUserError", &[("field", S), ("message", S), ("code", S)]),
    ("FulfillmentOrderHoldUserError", &[("field", S), ("message", S), ("code", S)]),
    ("FulfillmentOrderReleaseHoldUserError", &[("field", S), ("message", S), ("code", S)]),
    ("PageInfo", &[("hasNextPage", S), ("hasPreviousPage", S), ("startCursor", S), ("endCursor", S)]),
    ("Node", &[("id", S)]),
    ("Shop", &[
        ("id", S), ("name", S), ("email", S), ("currencyCode", S), ("myshopifyDomain", S),
        ("ianaTimezone", S), ("url", S),
    ]),
    ("Location", &[
        ("id", S), ("legacyResourceId", S), ("name", S), ("isActive", S), ("isPrimary", S),
        ("fulfillsOnlineOrders", S),
    ]),
    ("Order", &[
        ("id", S), ("legacyResourceId", S), ("name", S), ("email", S), ("phone", S), ("note", S),
        ("tags", S), ("createdAt", S), ("updatedAt", S), ("processedAt", S), ("cancelledAt", S),
        ("cancelReason", S), ("closed", S), ("closedAt", S), ("test", S), ("confirmed", S),
        ("currencyCode", S), ("presentmentCurrencyCode", S), ("taxesIncluded", S),
        ("displayFinancialStatus", S), ("displayFulfillmentStatus", S), ("discountCodes", S),
        ("subtotalPriceSet", MONEY_BAG), ("totalPriceSet", MONEY_BAG), ("totalTaxSet", MONEY_BAG),
        ("totalShippingPriceSet", MONEY_BAG), ("totalDiscountsSet", MONEY_BAG),
        ("currentTotalPriceSet", MONEY_BAG), ("currentSubtotalPriceSet", MONEY_BAG),
        ("currentTotalTaxSet", MONEY_BAG), ("currentTotalDiscountsSet", MONEY_BAG),
        ("totalOutstandingSet", MONEY_BAG),
        ("customer", O("Customer")), ("shippingAddress", O("MailingAddress")),
        ("billingAddress", O("MailingAddress")), ("taxLines", L("TaxLine")),
        ("lineItems", C("LineItem")), ("shippingLines", C("ShippingLine")),
        ("shippingLine", O("ShippingLine")), ("fulfillments", L("Fulfillment")),
        ("fulfillmentOrders", C("FulfillmentOrder")),
    ]),
    ("MoneyBag", &[("shopMoney", O("MoneyV2")), ("presentmentMoney", O("MoneyV2"))]),
    ("MoneyV2", &[("amount", S), ("currencyCode", S)]),
    ("Customer", &[
        ("id", S), ("legacyResourceId", S), ("firstName", S), ("lastName", S), ("displayName", S),
        ("email", S), ("phone", S),
    ]),
    ("MailingAddress", &[
        ("firstName", S), ("lastName", S), ("name", S), ("company", S), ("address1", S),
        ("address2", S), ("city", S), ("province", S), ("provinceCode", S), ("zip", S),
        ("country", S), ("countryCodeV2", S), ("phone", S),
    ]),
    ("TaxLine", &[("title", S), ("rate", S), ("ratePercentage", S), ("priceSet", MONEY_BAG)]),
    ("LineItem", &[
        ("id", S), ("sku", S), ("name", S), ("title", S), ("variantTitle", S), ("vendor", S),
        ("quantity", S), ("currentQuantity", S), ("unfulfilledQuantity", S),
        ("requiresShipping", S), ("taxable", S), ("originalUnitPriceSet", MONEY_BAG),
        ("discountedUnitPriceSet", MONEY_BAG), ("originalTotalSet", MONEY_BAG),
        ("discountedTotalSet", MONEY_BAG), ("totalDiscountSet", MONEY_BAG),
        ("taxLines", L("TaxLine")), ("variant", O("ProductVariant")), ("product", O("Product")),
        ("discountAllocations", L("DiscountAllocation")),
    ]),
    ("DiscountAllocation", &[("allocatedAmountSet", MONEY_BAG)]),
    ("ShippingLine", &[
        ("id", S), ("title", S), ("code", S), ("source", S), ("originalPriceSet", MONEY_BAG),
        ("discountedPriceSet", MONEY_BAG), ("taxLines", L("TaxLine")),
    ]),
    ("Fulfillment", &[
        ("id", S), ("legacyResourceId", S), ("name", S), ("status", S), ("createdAt", S),
        ("updatedAt", S), ("trackingInfo", L("FulfillmentTrackingInfo")),
        ("fulfillmentLineItems", C("FulfillmentLineItem")), ("location", O("Location")),
        ("order", O("Order")),
    ]),
    ("FulfillmentTrackingInfo", &[("number", S), ("company", S), ("url", S)]),
    ("FulfillmentLineItem", &[("id", S), ("quantity", S), ("lineItem", O("LineItem"))]),
    ("FulfillmentOrder", &[
        ("id", S), ("status", S), ("createdAt", S), ("updatedAt", S),
        ("assignedLocation", O("FulfillmentOrderAssignedLocation")),
        ("lineItems", C("FulfillmentOrderLineItem")), ("order", O("Order")),
        ("fulfillmentHolds", L("FulfillmentHold")),
    ]),
    ("FulfillmentHold", &[("id", S), ("reason", S), ("reasonNotes", S)]),
    ("FulfillmentOrderAssignedLocation", &[("name", S), ("location", O("Location"))]),
    ("FulfillmentOrderLineItem", &[
        ("id", S), ("sku", S), ("totalQuantity", S), ("remainingQuantity", S),
        ("lineItem", O("LineItem")),
    ]),
    ("Product", &[
        ("id", S), ("legacyResourceId", S), ("title", S), ("handle", S), ("status", S),
        ("vendor", S), ("productType", S), ("tags", S), ("totalInventory", S), ("createdAt", S),
        ("updatedAt", S), ("variants", C("ProductVariant")), ("featuredImage", O("Image")),
    ]),
    ("ProductVariant", &[
        ("id", S), ("legacyResourceId", S), ("sku", S), ("title", S), ("displayName", S),
        ("price", S), ("barcode", S), ("inventoryQuantity", S), ("createdAt", S),
        ("updatedAt", S), ("product", O("Product")), ("inventoryItem", O("InventoryItem")),
        ("image", O("Image")),
    ]),
    ("InventoryItem", &[
        ("id", S), ("legacyResourceId", S), ("sku", S), ("tracked", S), ("requiresShipping", S),
        ("harmonizedSystemCode", S), ("countryCodeOfOrigin", S),
        ("measurement", O("InventoryItemMeasurement")), ("inventoryLevel", O("InventoryLevel")),
        ("inventoryLevels", C("InventoryLevel")), ("variant", O("ProductVariant")),
    ]),
    ("InventoryItemMeasurement", &[("weight", O("Weight"))]),
    ("Weight", &[("value", S), ("unit", S)]),
    ("InventoryLevel", &[
        ("id", S), ("location", O("Location")), ("item", O("InventoryItem")),
        ("quantities", L("InventoryQuantity")),
    ]),
    ("InventoryQuantity", &[("name", S), ("quantity", S)]),
    ("WebhookSubscription", &[
        ("id", S), ("legacyResourceId", S), ("topic", S), ("uri", S), ("callbackUrl", S),
        ("format", S), ("createdAt", S), ("updatedAt", S),
    ]),
    ("BulkOperation", &[
        ("id", S), ("status", S), ("errorCode", S), ("objectCount", S), ("rootObjectCount", S),
        ("fileSize", S), ("url", S), ("partialDataUrl", S), ("createdAt", S),
        ("completedAt", S), ("query", S), ("type", S),
    ]),
    ("InventoryAdjustmentGroup", &[
        ("id", S), ("reason", S), ("referenceDocumentUri", S), ("createdAt", S),
        ("changes", L("InventoryChange")),
    ]),
    ("InventoryChange", &[
        ("name", S), ("delta", S), ("quantityAfterChange", S), ("item", O("InventoryItem")),
        ("location", O("Location")),
    ]),
];

/// What `field` of `type_name` returns; `None` when the type has no such field.
pub fn field(type_name: &str, field: &str) -> Option<Kind> {
    if field == "__typename" {
        return Some(Kind::Scalar);
    }
    TYPES
        .iter()
        .find(|(t, _)| *t == type_name)
        .and_then(|(_, fields)| fields.iter().find(|(f, _)| *f == field))
        .map(|(_, kind)| *kind)
}

/// True if a field under `condition` (a fragment's type condition) is selected on an object of
/// `runtime` type: the same type, an interface it implements, or no condition.
pub fn applies(condition: Option<&str>, runtime: &str) -> bool {
    match condition {
        None => true,
        Some(c) => c == runtime || INTERFACES.contains(&c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_object_a_field_names_is_described() {
        for (owner, fields) in TYPES {
            for (name, kind) in *fields {
                let target = match kind {
                    Kind::Scalar => continue,
                    Kind::Object(t) | Kind::List(t) | Kind::Connection(t) => t,
                };
                assert!(
                    TYPES.iter().any(|(t, _)| t == target),
                    "{owner}.{name} returns {target}, which is not described"
                );
            }
        }
    }
}
