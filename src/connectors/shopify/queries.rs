//! The GraphQL documents the connector sends, each sized so its requested cost stays under
//! Shopify's single-query maximum (1,000 points) with room to spare: a connection costs 2 plus
//! its page size times one node, an object 1, a scalar nothing.

use super::graphql::Operation;

/// Orders per page, and line items read with each (an order with more reads the rest with
/// [`ORDER_LINES`]). Requested cost about 2 + 10 x 75.
pub const ORDERS_PER_PAGE: u32 = 10;
/// Variants per page of [`VARIANTS`] (11 points each: 2 + 80 x 11 = 882 requested).
pub const VARIANTS_PER_PAGE: u32 = 80;
/// Shopify's cap on an input array, and so on the quantities of one `inventorySetQuantities`.
pub const QUANTITIES_PER_CALL: usize = 250;

pub const SHOP: Operation = Operation {
    name: "Shop",
    document: "query Shop { shop { name } }",
};

pub const PRIMARY_LOCATION: Operation = Operation {
    name: "PrimaryLocation",
    document: "query PrimaryLocation { location { id isActive } }",
};

pub const LOCATION: Operation = Operation {
    name: "Location",
    document: "query Location($id: ID!) { location(id: $id) { id isActive } }",
};

/// The fields of an order line, spread into every document that reads lines.
macro_rules! line_fragment {
    () => {
        "
fragment Line on LineItem {
  id sku name title quantity
  originalUnitPriceSet { shopMoney { amount } }
  taxLines { priceSet { shopMoney { amount } } }
}"
    };
}

macro_rules! address_fragment {
    () => {
        "
fragment Address on MailingAddress {
  name firstName lastName company address1 address2 city province provinceCode zip
  countryCodeV2 phone
}"
    };
}

/// The fields of a variant, shared by the paged query and the bulk operation.
macro_rules! variant_fields {
    () => {
        "
  id sku title price inventoryQuantity
  image { url }
  product { id title featuredImage { url } }
  inventoryItem {
    id tracked harmonizedSystemCode countryCodeOfOrigin
    measurement { weight { value unit } }
    inventoryLevel(locationId: $location) { quantities(names: [\"available\"]) { name quantity } }
  }"
    };
}

/// The fields of an order, with its first 10 lines.
macro_rules! order_fragment {
    () => {
        "
fragment Order on Order {
  id name email phone note tags createdAt processedAt updatedAt cancelledAt currencyCode
  displayFinancialStatus displayFulfillmentStatus
  totalPriceSet { shopMoney { amount } }
  totalTaxSet { shopMoney { amount } }
  totalShippingPriceSet { shopMoney { amount } }
  totalDiscountsSet { shopMoney { amount } }
  customer { firstName lastName email phone }
  shippingAddress { ...Address }
  billingAddress { ...Address }
  lineItems(first: 10) { pageInfo { hasNextPage endCursor } nodes { ...Line } }
}"
    };
}

pub const ORDERS: Operation = Operation {
    name: "Orders",
    document: concat!(
        "query Orders($first: Int!, $after: String, $query: String) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes { ...Order }
  }
}",
        order_fragment!(),
        line_fragment!(),
        address_fragment!()
    ),
};

/// Orders listed by id and change time only (one point each), so an import re-reading its
/// overlap reads in full only the orders it does not hold as they are.
pub const ORDER_STAMPS: Operation = Operation {
    name: "OrderStamps",
    document: "query OrderStamps($first: Int!, $after: String, $query: String) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes { id updatedAt }
  }
}",
};

/// Stamps per page of [`ORDER_STAMPS`].
pub const STAMPS_PER_PAGE: u32 = 100;

/// Orders read in full by id, [`ORDERS_PER_PAGE`] a call.
pub const ORDERS_BY_ID: Operation = Operation {
    name: "OrdersById",
    document: concat!(
        "query OrdersById($ids: [ID!]!) {
  nodes(ids: $ids) { ...Order }
}",
        order_fragment!(),
        line_fragment!(),
        address_fragment!()
    ),
};

pub const ORDER_LINES: Operation = Operation {
    name: "OrderLines",
    document: concat!(
        "query OrderLines($id: ID!, $after: String) {
  order(id: $id) {
    lineItems(first: 100, after: $after) { pageInfo { hasNextPage endCursor } nodes { ...Line } }
  }
}",
        line_fragment!()
    ),
};

pub const VARIANTS_COUNT: Operation = Operation {
    name: "VariantsCount",
    document: "query VariantsCount { productVariantsCount { count } }",
};

pub const VARIANTS: Operation = Operation {
    name: "Variants",
    document: concat!(
        "query Variants($first: Int!, $after: String, $location: ID!) {
  productVariants(first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes {",
        variant_fields!(),
        "
    }
  }
}"
    ),
};

/// The bulk operation's query: every variant, no paging (Shopify pages a bulk operation itself).
/// `$location` is written into the text, as a bulk query takes no variables.
pub fn bulk_variants(location: &str) -> String {
    let fields = variant_fields!().replace("$location", &format!("{location:?}"));
    format!("{{ productVariants {{ edges {{ node {{{fields}\n  }} }} }} }}")
}

pub const BULK_RUN: Operation = Operation {
    name: "BulkRun",
    document: "mutation BulkRun($query: String!) {
  bulkOperationRunQuery(query: $query) {
    bulkOperation { id status }
    userErrors { field message code }
  }
}",
};

pub const BULK_STATUS: Operation = Operation {
    name: "BulkStatus",
    document: "query BulkStatus($id: ID!) {
  node(id: $id) { ... on BulkOperation { id status errorCode objectCount url } }
}",
};

pub const SET_QUANTITIES: Operation = Operation {
    name: "SetQuantities",
    document: "mutation SetQuantities($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input) {
    inventoryAdjustmentGroup { id }
    userErrors { field message code }
  }
}",
};

pub const FULFILLMENT_ORDERS: Operation = Operation {
    name: "FulfillmentOrders",
    document: "query FulfillmentOrders($id: ID!) {
  order(id: $id) {
    fulfillmentOrders(first: 5) {
      nodes {
        id status
        lineItems(first: 50) { nodes { id remainingQuantity lineItem { id } } }
      }
    }
  }
}",
};

pub const FULFILLMENT_CREATE: Operation = Operation {
    name: "FulfillmentCreate",
    document: "mutation FulfillmentCreate($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status }
    userErrors { field message }
  }
}",
};

pub const FULFILLMENTS: Operation = Operation {
    name: "Fulfillments",
    document: "query Fulfillments($id: ID!) {
  order(id: $id) {
    fulfillments(first: 10) {
      id status
      trackingInfo(first: 1) { number }
      fulfillmentLineItems(first: 20) { nodes { quantity lineItem { id } } }
    }
  }
}",
};

pub const WEBHOOK_CREATE: Operation = Operation {
    name: "WebhookCreate",
    document: "mutation WebhookCreate($topic: WebhookSubscriptionTopic!, $uri: String!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: { uri: $uri, format: JSON }) {
    webhookSubscription { id }
    userErrors { field message }
  }
}",
};

pub const WEBHOOK_DELETE: Operation = Operation {
    name: "WebhookDelete",
    document: "mutation WebhookDelete($id: ID!) {
  webhookSubscriptionDelete(id: $id) {
    deletedWebhookSubscriptionId
    userErrors { field message }
  }
}",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bulk_query_names_the_location_in_its_text() {
        let query = bulk_variants("gid://shopify/Location/7");
        assert!(query.contains(r#"inventoryLevel(locationId: "gid://shopify/Location/7")"#));
        assert!(!query.contains('$'), "{query}");
        assert!(query.starts_with("{ productVariants { edges { node {"));
    }
}
