"""Shopify's official Python library (ShopifyAPI), unchanged, against the GraphQL simulator.

Usage: shopify_graphql.py BASE_URL SHOP_DOMAIN ACCESS_TOKEN API_VERSION

The library builds its endpoint from the active session's site; a session only accepts a
`*.myshopify.com` shop, so the script opens one for the shop's domain and then points the
resource site at the simulator with `ShopifyResource.set_site`, the library's own setting.
Through `shopify.GraphQL().execute` it reads a page of orders, sets a stock level with
`inventorySetQuantities` and ships an order with `fulfillmentCreate`. Prints a JSON summary
for the Rust test to check.
"""

import json
import sys

import shopify

base, domain, token, version = sys.argv[1:5]

if version not in shopify.ApiVersion.versions:
    shopify.ApiVersion.define_version(shopify.Release(version))

session = shopify.Session(domain, version, token)
shopify.ShopifyResource.activate_session(session)
shopify.ShopifyResource.set_site(f"{base}/admin/api/{version}")


def run(query, variables=None):
    answer = json.loads(shopify.GraphQL().execute(query, variables=variables))
    if "errors" in answer:
        raise SystemExit(f"GraphQL errors: {answer['errors']}")
    return answer


orders = run(
    """query Orders($first: Int!) {
      orders(first: $first, sortKey: ID) {
        edges { cursor node { id name displayFulfillmentStatus
          fulfillmentOrders(first: 1) { nodes { id status } } } }
        pageInfo { hasNextPage endCursor }
      }
    }""",
    {"first": 2},
)
edges = orders["data"]["orders"]["edges"]

catalog = run(
    """{ location { id }
         productVariants(first: 1) { nodes { sku inventoryItem { id
           inventoryLevel(locationId: "%s") { quantities(names: ["available"]) { quantity } } } } } }"""
    % run("{ location { id } }")["data"]["location"]["id"]
)
location = catalog["data"]["location"]["id"]
variant = catalog["data"]["productVariants"]["nodes"][0]
current = variant["inventoryItem"]["inventoryLevel"]["quantities"][0]["quantity"]
stock = run(
    """mutation Set($input: InventorySetQuantitiesInput!) {
      inventorySetQuantities(input: $input) {
        inventoryAdjustmentGroup { changes(quantityNames: ["available"]) { delta quantityAfterChange } }
        userErrors { code field message }
      }
    }""",
    {
        "input": {
            "name": "available",
            "reason": "correction",
            "referenceDocumentUri": "logistics://switchyard/stock/1",
            "quantities": [
                {
                    "inventoryItemId": variant["inventoryItem"]["id"],
                    "locationId": location,
                    "quantity": 3,
                    "compareQuantity": current,
                }
            ],
        }
    },
)["data"]["inventorySetQuantities"]

fulfillment_order = edges[0]["node"]["fulfillmentOrders"]["nodes"][0]["id"]
shipped = run(
    """mutation Ship($fulfillment: FulfillmentInput!) {
      fulfillmentCreate(fulfillment: $fulfillment) {
        fulfillment { id status trackingInfo { number company } }
        userErrors { field message }
      }
    }""",
    {
        "fulfillment": {
            "lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fulfillment_order}],
            "trackingInfo": {"number": "PY-123", "company": "DHL Express"},
            "notifyCustomer": False,
        }
    },
)["data"]["fulfillmentCreate"]

print(
    json.dumps(
        {
            "order_ids": [e["node"]["id"] for e in edges],
            "has_next_page": orders["data"]["orders"]["pageInfo"]["hasNextPage"],
            "cost": orders["extensions"]["cost"]["requestedQueryCost"],
            "sku": variant["sku"],
            "stock_errors": stock["userErrors"],
            "stock_after": stock["inventoryAdjustmentGroup"]["changes"][0]["quantityAfterChange"],
            "fulfillment_errors": shipped["userErrors"],
            "fulfillment_status": shipped["fulfillment"]["status"],
            "tracking": shipped["fulfillment"]["trackingInfo"][0],
        }
    )
)
