//! The Shopify simulator's GraphQL Admin API over real HTTP: paging and search, calculated cost
//! and the cost bucket, stock and fulfillment mutations seen through REST, webhook subscriptions,
//! bulk operations, Shopify's error shapes, and the official Python library as a client.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use switchyard_sandbox::{
    GeneratorConfig, GraphqlPlan, ProductConfig, SandboxConfig, ShopifyStore, ShopifyStoreConfig,
    SimStore, VariantConfig,
};

use common::python::{python_with, run_script, SHOPIFY_PYTHON};
use common::{next_webhook, start_with, webhook_receiver, StoreApi};

/// A sandbox with one shop, configured by `edit`, whose generator makes plain new orders.
async fn shop_with(
    edit: impl FnOnce(&mut ShopifyStoreConfig),
) -> (
    switchyard_sandbox::SandboxHandle,
    std::sync::Arc<ShopifyStore>,
) {
    let mut cfg = ShopifyStoreConfig::new("gql-shop");
    cfg.generator = GeneratorConfig {
        update_ratio: 0.0,
        cancel_ratio: 0.0,
        ..GeneratorConfig::default()
    };
    edit(&mut cfg);
    let sandbox = start_with(SandboxConfig {
        shopify: vec![cfg],
        ..SandboxConfig::default()
    })
    .await;
    let shop = sandbox.shopify("gql-shop").expect("shop");
    (sandbox, shop)
}

/// Posts a GraphQL document and reads the (HTTP 200) answer.
async fn gql(admin: &StoreApi, query: &str, variables: Value) -> Value {
    let resp = admin
        .post(
            "graphql.json",
            &json!({ "query": query, "variables": variables }),
        )
        .await;
    assert_eq!(resp.status(), 200, "GraphQL answers 200");
    resp.json().await.expect("json")
}

fn cost(answer: &Value) -> &Value {
    &answer["extensions"]["cost"]
}

const ORDERS_PAGE: &str = r#"
query Page($after: String, $q: String) {
  orders(first: 25, after: $after, query: $q, sortKey: UPDATED_AT) {
    edges { cursor node { id legacyResourceId updatedAt } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}"#;

/// Every order id the search matches, walking pages of 25 by `endCursor`.
async fn walk_orders(admin: &StoreApi, q: &str) -> (Vec<u64>, usize) {
    let mut after = Value::Null;
    let mut ids = Vec::new();
    let mut pages = 0;
    loop {
        let answer = gql(admin, ORDERS_PAGE, json!({ "after": after, "q": q })).await;
        let orders = &answer["data"]["orders"];
        for edge in orders["edges"].as_array().expect("edges") {
            let legacy = edge["node"]["legacyResourceId"]
                .as_str()
                .expect("legacy id");
            ids.push(legacy.parse::<u64>().expect("numeric"));
            assert_eq!(
                edge["node"]["id"],
                json!(format!("gid://shopify/Order/{legacy}"))
            );
        }
        assert_eq!(orders["pageInfo"]["hasPreviousPage"], json!(pages > 0));
        pages += 1;
        if orders["pageInfo"]["hasNextPage"] != json!(true) {
            return (ids, pages);
        }
        after = orders["pageInfo"]["endCursor"].clone();
    }
}

#[tokio::test]
async fn pages_orders_updated_since_a_time_without_skipping_or_repeating() {
    let (sandbox, shop) = shop_with(|_| {}).await;
    let created: HashSet<u64> = shop.create_orders(110).into_iter().collect();
    let admin = StoreApi::shopify(&shop);
    let since = shop
        .order_json(*created.iter().min().expect("orders"))
        .expect("order")["updated_at"]
        .as_str()
        .expect("updated_at")
        .to_owned();

    // Every order was created within the same second or two: `>=` includes the boundary.
    let (ids, pages) = walk_orders(&admin, &format!("updated_at:>='{since}'")).await;
    assert_eq!(pages, 5, "110 orders in pages of 25");
    assert_eq!(ids.len(), 110, "no order repeated");
    assert_eq!(ids.iter().copied().collect::<HashSet<_>>(), created);

    // An order updated between two page calls moves to the end, as on Shopify.
    let first = gql(
        &admin,
        ORDERS_PAGE,
        json!({ "q": format!("updated_at:>='{since}'") }),
    )
    .await;
    let cursor = first["data"]["orders"]["pageInfo"]["endCursor"].clone();
    let early: u64 = first["data"]["orders"]["edges"][0]["node"]["legacyResourceId"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("id");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(shop.update_order(early));
    let rest = gql(
        &admin,
        ORDERS_PAGE,
        json!({ "after": cursor, "q": format!("updated_at:>='{since}'") }),
    )
    .await;
    assert_eq!(
        rest["data"]["orders"]["edges"].as_array().map(Vec::len),
        Some(25)
    );

    // A strict `>` past the newest update finds only the order just updated.
    let newest = shop.order_json(early).expect("order")["updated_at"]
        .as_str()
        .expect("time")
        .to_owned();
    let (ids, _) = walk_orders(&admin, &format!("updated_at:>='{newest}'")).await;
    assert_eq!(ids, vec![early]);
    let (ids, _) = walk_orders(&admin, &format!("updated_at:>'{newest}'")).await;
    assert!(ids.is_empty());
    sandbox.shutdown().await;
}

#[tokio::test]
async fn reports_requested_and_actual_cost_for_an_orders_page() {
    let (sandbox, shop) = shop_with(|_| {}).await;
    shop.create_orders(3);
    let admin = StoreApi::shopify(&shop);
    let answer = gql(
        &admin,
        "{ orders(first: 10) { nodes { id totalPriceSet { shopMoney { amount currencyCode } } lineItems(first: 5) { nodes { sku quantity } } } } }",
        Value::Null,
    )
    .await;
    // Requested: 2 + 10 x (order 1 + money bag 1 + money 1 + lines 2 + 5 x 1) = 102.
    assert_eq!(cost(&answer)["requestedQueryCost"], json!(102));
    let lines: u64 = answer["data"]["orders"]["nodes"]
        .as_array()
        .expect("orders")
        .iter()
        .map(|o| {
            o["lineItems"]["nodes"]
                .as_array()
                .map_or(0, |l| l.len() as u64)
        })
        .sum();
    let actual = 2 + 3 * (1 + 2 + 2) + lines;
    assert_eq!(cost(&answer)["actualQueryCost"], json!(actual));
    let status = &cost(&answer)["throttleStatus"];
    assert_eq!(status["maximumAvailable"], json!(2000.0));
    assert_eq!(status["restoreRate"], json!(100.0));
    assert!(status["currentlyAvailable"].as_f64().expect("float") >= 2000.0 - actual as f64);
    let amount = answer["data"]["orders"]["nodes"][0]["totalPriceSet"]["shopMoney"]["amount"]
        .as_str()
        .expect("decimal string");
    assert!(amount.contains('.') && amount.split('.').nth(1).map(str::len) == Some(2));
    sandbox.shutdown().await;
}

const DELETE_UNKNOWN_HOOK: &str = r#"mutation { webhookSubscriptionDelete(id: "gid://shopify/WebhookSubscription/1") { deletedWebhookSubscriptionId userErrors { field message } } }"#;

#[tokio::test]
async fn the_cost_bucket_drains_throttles_and_restores() {
    let (sandbox, shop) = shop_with(|cfg| {
        cfg.graphql = GraphqlPlan::Custom {
            maximum_available: 30.0,
            restore_rate: 20.0,
        };
    })
    .await;
    let admin = StoreApi::shopify(&shop);
    // A mutation costs 10, its userErrors list 2 + 1 per error: 13 requested and used.
    for _ in 0..2 {
        let answer = gql(&admin, DELETE_UNKNOWN_HOOK, Value::Null).await;
        assert_eq!(cost(&answer)["requestedQueryCost"], json!(13));
        assert_eq!(cost(&answer)["actualQueryCost"], json!(13));
    }
    let answer = gql(&admin, DELETE_UNKNOWN_HOOK, Value::Null).await;
    assert_eq!(answer["errors"][0]["message"], json!("Throttled"));
    assert_eq!(
        answer["errors"][0]["extensions"]["code"],
        json!("THROTTLED")
    );
    assert!(
        answer.get("data").is_none(),
        "a throttled answer has no data"
    );
    assert_eq!(cost(&answer)["requestedQueryCost"], json!(13));
    assert_eq!(cost(&answer)["actualQueryCost"], Value::Null);
    let status = &cost(&answer)["throttleStatus"];
    assert_eq!(status["maximumAvailable"], json!(30.0));
    assert!(status["currentlyAvailable"].as_f64().expect("float") < 13.0);
    assert_eq!(shop.traffic().snapshot().graphql_throttled, 1);

    tokio::time::sleep(Duration::from_millis(700)).await;
    let answer = gql(&admin, DELETE_UNKNOWN_HOOK, Value::Null).await;
    assert!(answer.get("data").is_some(), "restored enough: {answer}");
    let by_route = shop.traffic().snapshot().by_route;
    assert_eq!(
        by_route.get("POST /admin/api/{version}/graphql.json webhookSubscriptionDelete"),
        Some(&4)
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn refuses_a_query_above_the_single_query_maximum() {
    let (sandbox, shop) = shop_with(|_| {}).await;
    let admin = StoreApi::shopify(&shop);
    let answer = gql(
        &admin,
        "{ orders(first: 250) { nodes { id lineItems(first: 250) { nodes { id } } } } }",
        Value::Null,
    )
    .await;
    let error = &answer["errors"][0];
    let expected = 2 + 250 * (1 + 2 + 250);
    assert_eq!(error["extensions"]["code"], json!("MAX_COST_EXCEEDED"));
    assert_eq!(error["extensions"]["cost"], json!(expected));
    assert_eq!(error["extensions"]["maxCost"], json!(1000));
    assert!(error["message"]
        .as_str()
        .expect("message")
        .starts_with(&format!(
            "Query cost is {expected}, which exceeds the single query max cost limit (1000)"
        )));
    assert!(answer.get("data").is_none());
    assert_eq!(
        cost(&answer)["throttleStatus"]["currentlyAvailable"],
        json!(2000.0),
        "nothing charged"
    );
    sandbox.shutdown().await;
}

/// A catalogue of one product with `n` variants, stocked at every location.
fn wide_catalog(n: usize) -> Vec<ProductConfig> {
    vec![ProductConfig {
        title: "Sample Pack".into(),
        option_name: Some("Flavour".into()),
        variants: (0..n)
            .map(|i| VariantConfig {
                sku: format!("SP-{i:03}"),
                option: Some(format!("F{i}")),
                price: "1.00".into(),
                stock: 10,
            })
            .collect(),
        details: Default::default(),
    }]
}

const SET_QUANTITIES: &str = r#"
mutation Set($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input) {
    inventoryAdjustmentGroup { id reason changes(quantityNames: ["available"]) { name delta quantityAfterChange item { id } location { id } } }
    userErrors { code field message }
  }
}"#;

/// `(inventory item gid, [location gids])` of every variant, read through GraphQL.
async fn levels(admin: &StoreApi) -> (Vec<String>, Vec<String>) {
    let answer = gql(
        admin,
        "{ locations(first: 5) { nodes { id isPrimary } } productVariants(first: 250) { nodes { sku inventoryItem { id } } } }",
        Value::Null,
    )
    .await;
    let locations = answer["data"]["locations"]["nodes"]
        .as_array()
        .expect("locations")
        .iter()
        .map(|l| l["id"].as_str().expect("id").to_owned())
        .collect();
    let items = answer["data"]["productVariants"]["nodes"]
        .as_array()
        .expect("variants")
        .iter()
        .map(|v| v["inventoryItem"]["id"].as_str().expect("id").to_owned())
        .collect();
    (items, locations)
}

/// The REST view of one level's `available`.
async fn rest_available(admin: &StoreApi, item: &str, location: &str) -> i64 {
    let id = |gid: &str| gid.rsplit('/').next().unwrap_or("").to_owned();
    let body = admin
        .get_json(&format!(
            "inventory_levels.json?inventory_item_ids={}&location_ids={}",
            id(item),
            id(location)
        ))
        .await;
    body["inventory_levels"][0]["available"]
        .as_i64()
        .expect("available")
}

#[tokio::test]
async fn sets_stock_in_batches_of_up_to_250_all_or_nothing_per_location() {
    let (sandbox, shop) = shop_with(|cfg| {
        cfg.locations = vec!["Main warehouse".into(), "Overflow".into()];
        cfg.catalog = wide_catalog(125);
        cfg.graphql = GraphqlPlan::Plus;
    })
    .await;
    let admin = StoreApi::shopify(&shop);
    let (items, locations) = levels(&admin).await;
    assert_eq!((items.len(), locations.len()), (125, 2));

    // 250 levels (125 items at 2 locations) in one call.
    let quantities: Vec<Value> = items
        .iter()
        .flat_map(|item| {
            locations.iter().enumerate().map(move |(i, location)| {
                json!({"inventoryItemId": item, "locationId": location,
                       "quantity": 40 + i as i64, "compareQuantity": if i == 0 { 10 } else { 0 }})
            })
        })
        .collect();
    assert_eq!(quantities.len(), 250);
    let input = json!({"name": "available", "reason": "correction", "quantities": quantities});
    let answer = gql(&admin, SET_QUANTITIES, json!({ "input": input })).await;
    let result = &answer["data"]["inventorySetQuantities"];
    assert_eq!(result["userErrors"], json!([]), "{answer}");
    let changes = result["inventoryAdjustmentGroup"]["changes"]
        .as_array()
        .expect("changes");
    assert_eq!(changes.len(), 250);
    assert_eq!(changes[0]["delta"], json!(30));
    assert_eq!(changes[0]["quantityAfterChange"], json!(40));
    assert_eq!(rest_available(&admin, &items[7], &locations[0]).await, 40);
    assert_eq!(rest_available(&admin, &items[7], &locations[1]).await, 41);
    assert_eq!(shop.stock_by_sku()["SP-007"], 81, "summed over locations");

    // 251 is refused before anything runs.
    let mut too_many = quantities.clone();
    too_many.push(quantities[0].clone());
    let input = json!({"name": "available", "reason": "correction", "ignoreCompareQuantity": true, "quantities": too_many});
    let answer = gql(&admin, SET_QUANTITIES, json!({ "input": input })).await;
    assert_eq!(
        answer["errors"][0]["extensions"]["code"],
        json!("MAX_INPUT_SIZE_EXCEEDED")
    );
    assert!(answer.get("data").is_none());

    // One stale compareQuantity: a user error, and no level moves (not even the good one).
    let input = json!({"name": "available", "reason": "correction", "quantities": [
        {"inventoryItemId": items[0], "locationId": locations[1], "quantity": 5, "compareQuantity": 41},
        {"inventoryItemId": items[1], "locationId": locations[1], "quantity": 5, "compareQuantity": 999},
    ]});
    let answer = gql(&admin, SET_QUANTITIES, json!({ "input": input })).await;
    let result = &answer["data"]["inventorySetQuantities"];
    assert_eq!(result["inventoryAdjustmentGroup"], Value::Null);
    assert_eq!(
        result["userErrors"][0]["code"],
        json!("COMPARE_QUANTITY_STALE")
    );
    assert_eq!(
        result["userErrors"][0]["field"],
        json!(["input", "quantities", "1", "compareQuantity"])
    );
    assert_eq!(rest_available(&admin, &items[0], &locations[1]).await, 41);

    // Setting one location leaves the other alone.
    let input = json!({"name": "available", "reason": "correction", "quantities": [
        {"inventoryItemId": items[0], "locationId": locations[1], "quantity": 7, "compareQuantity": 41},
    ]});
    let answer = gql(&admin, SET_QUANTITIES, json!({ "input": input })).await;
    assert_eq!(
        answer["data"]["inventorySetQuantities"]["userErrors"],
        json!([])
    );
    assert_eq!(rest_available(&admin, &items[0], &locations[1]).await, 7);
    assert_eq!(rest_available(&admin, &items[0], &locations[0]).await, 40);

    // Without compareQuantity (and no ignore), and with unknown ids: the codes Shopify gives.
    let input = json!({"name": "available", "reason": "correction", "quantities": [
        {"inventoryItemId": items[0], "locationId": locations[1], "quantity": 1},
        {"inventoryItemId": "gid://shopify/InventoryItem/1", "locationId": locations[1], "quantity": 1, "compareQuantity": 0},
        {"inventoryItemId": items[0], "locationId": "gid://shopify/Location/1", "quantity": 1, "compareQuantity": 0},
    ]});
    let answer = gql(&admin, SET_QUANTITIES, json!({ "input": input })).await;
    let codes: Vec<&str> = answer["data"]["inventorySetQuantities"]["userErrors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["code"].as_str())
        .collect();
    assert_eq!(
        codes,
        vec![
            "COMPARE_QUANTITY_REQUIRED",
            "INVALID_INVENTORY_ITEM",
            "INVALID_LOCATION"
        ]
    );

    let writes = shop.traffic().snapshot().by_route
        ["POST /admin/api/{version}/graphql.json inventorySetQuantities"];
    assert_eq!(writes, 5);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn adjusts_stock_by_deltas_and_reads_named_quantities() {
    let (sandbox, shop) = shop_with(|_| {}).await;
    let admin = StoreApi::shopify(&shop);
    let (items, locations) = levels(&admin).await;
    let answer = gql(
        &admin,
        r#"mutation($input: InventoryAdjustQuantitiesInput!) { inventoryAdjustQuantities(input: $input) {
             inventoryAdjustmentGroup { changes { name delta quantityAfterChange } } userErrors { code } } }"#,
        json!({"input": {"name": "available", "reason": "received", "changes": [
            {"delta": -3, "inventoryItemId": items[0], "locationId": locations[0]}]}}),
    )
    .await;
    let changes =
        &answer["data"]["inventoryAdjustQuantities"]["inventoryAdjustmentGroup"]["changes"];
    assert_eq!(
        changes[0],
        json!({"name": "available", "delta": -3, "quantityAfterChange": 37})
    );
    assert_eq!(changes[1]["name"], json!("on_hand"));
    let level = gql(
        &admin,
        "query($item: ID!, $loc: ID!) { inventoryItem(id: $item) { sku inventoryLevel(locationId: $loc) { quantities(names: [\"available\", \"on_hand\"]) { name quantity } } } }",
        json!({"item": items[0], "loc": locations[0]}),
    )
    .await;
    assert_eq!(
        level["data"]["inventoryItem"]["inventoryLevel"]["quantities"],
        json!([{"name": "available", "quantity": 37}, {"name": "on_hand", "quantity": 37}])
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn fulfillment_create_ships_with_tracking_seen_in_graphql_and_rest() {
    let (sandbox, shop) = shop_with(|cfg| {
        cfg.generator.fulfilled_ratio = 0.0;
    })
    .await;
    let id = shop.create_orders(1)[0];
    let admin = StoreApi::shopify(&shop);
    let order_query = r#"query($id: ID!) { order(id: $id) {
        displayFulfillmentStatus
        fulfillmentOrders(first: 5) { nodes { id status lineItems(first: 10) { nodes { id remainingQuantity } } } }
        fulfillments(first: 5) { status trackingInfo(first: 1) { number company url } fulfillmentLineItems(first: 10) { nodes { quantity lineItem { sku } } } }
    } }"#;
    let gid = format!("gid://shopify/Order/{id}");
    let before = gql(&admin, order_query, json!({ "id": gid })).await;
    let order = &before["data"]["order"];
    assert_eq!(order["displayFulfillmentStatus"], json!("UNFULFILLED"));
    let fo = &order["fulfillmentOrders"]["nodes"][0];
    assert_eq!(fo["status"], json!("OPEN"));
    let answer = gql(
        &admin,
        r#"mutation($f: FulfillmentInput!) { fulfillmentCreate(fulfillment: $f) {
            fulfillment { id status trackingInfo { number company url } } userErrors { field message } } }"#,
        json!({"f": {
            "lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo["id"]}],
            "trackingInfo": {"number": "1Z999", "company": "UPS"},
            "notifyCustomer": false
        }}),
    )
    .await;
    let created = &answer["data"]["fulfillmentCreate"];
    assert_eq!(created["userErrors"], json!([]), "{answer}");
    assert_eq!(created["fulfillment"]["status"], json!("SUCCESS"));
    assert_eq!(
        created["fulfillment"]["trackingInfo"][0]["number"],
        json!("1Z999")
    );

    let after = gql(&admin, order_query, json!({ "id": gid })).await;
    let order = &after["data"]["order"];
    assert_eq!(order["displayFulfillmentStatus"], json!("FULFILLED"));
    assert_eq!(
        order["fulfillmentOrders"]["nodes"][0]["status"],
        json!("CLOSED")
    );
    assert_eq!(
        order["fulfillments"][0]["trackingInfo"][0]["company"],
        json!("UPS")
    );
    let rest = admin
        .get_json(&format!("orders/{id}/fulfillments.json"))
        .await;
    assert_eq!(rest["fulfillments"][0]["tracking_number"], json!("1Z999"));
    assert_eq!(
        rest["fulfillments"][0]["admin_graphql_api_id"],
        created["fulfillment"]["id"]
    );

    // The order is closed for fulfilment now: a user error, nothing recorded.
    let again = gql(
        &admin,
        r#"mutation($f: FulfillmentInput!) { fulfillmentCreate(fulfillment: $f) { fulfillment { id } userErrors { field message } } }"#,
        json!({"f": {"lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo["id"]}]}}),
    )
    .await;
    assert_eq!(
        again["data"]["fulfillmentCreate"]["fulfillment"],
        Value::Null
    );
    assert!(
        again["data"]["fulfillmentCreate"]["userErrors"][0]["message"]
            .as_str()
            .expect("message")
            .contains("unfulfillable status")
    );
    assert_eq!(shop.fulfilments().len(), 1);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_fulfillment_hold_shows_on_the_order_refuses_shipping_and_is_released() {
    let (sandbox, shop) = shop_with(|cfg| {
        cfg.generator.fulfilled_ratio = 0.0;
    })
    .await;
    let id = shop.create_orders(1)[0];
    let admin = StoreApi::shopify(&shop);
    let order_query = r#"query($id: ID!) { order(id: $id) { updatedAt displayFulfillmentStatus
        fulfillmentOrders(first: 5) { nodes { id status fulfillmentHolds { reason reasonNotes } } } } }"#;
    let gid = format!("gid://shopify/Order/{id}");
    let before = gql(&admin, order_query, json!({ "id": gid })).await;
    let fo = before["data"]["order"]["fulfillmentOrders"]["nodes"][0]["id"].clone();
    let hold = r#"mutation($id: ID!, $h: FulfillmentOrderHoldInput!) {
        fulfillmentOrderHold(id: $id, fulfillmentHold: $h) {
            fulfillmentOrder { id status } fulfillmentHold { reason reasonNotes }
            remainingFulfillmentOrder { id } userErrors { field message } } }"#;
    let held = gql(
        &admin,
        hold,
        json!({"id": fo, "h": {"reason": "HIGH_RISK_OF_FRAUD", "reasonNotes": "Check the card"}}),
    )
    .await;
    let payload = &held["data"]["fulfillmentOrderHold"];
    assert_eq!(payload["userErrors"], json!([]), "{held}");
    assert_eq!(payload["fulfillmentOrder"]["status"], json!("ON_HOLD"));
    assert_eq!(
        payload["fulfillmentHold"],
        json!({"reason": "HIGH_RISK_OF_FRAUD", "reasonNotes": "Check the card"})
    );
    assert_eq!(payload["remainingFulfillmentOrder"], Value::Null);

    let order = gql(&admin, order_query, json!({ "id": gid })).await;
    let order = &order["data"]["order"];
    assert_eq!(order["displayFulfillmentStatus"], json!("ON_HOLD"));
    assert_eq!(
        order["fulfillmentOrders"]["nodes"][0]["fulfillmentHolds"][0]["reason"],
        json!("HIGH_RISK_OF_FRAUD")
    );
    let rest = admin
        .get_json(&format!("orders/{id}/fulfillment_orders.json"))
        .await;
    assert_eq!(rest["fulfillment_orders"][0]["status"], json!("on_hold"));
    assert_eq!(
        rest["fulfillment_orders"][0]["fulfillment_holds"][0]["reason"],
        json!("high_risk_of_fraud")
    );
    // Held, it cannot ship, nor be held twice.
    let ship = gql(
        &admin,
        r#"mutation($f: FulfillmentInput!) { fulfillmentCreate(fulfillment: $f) { fulfillment { id } userErrors { field message } } }"#,
        json!({"f": {"lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo}]}}),
    )
    .await;
    assert_eq!(
        ship["data"]["fulfillmentCreate"]["fulfillment"],
        Value::Null
    );
    let twice = gql(&admin, hold, json!({"id": fo, "h": {"reason": "OTHER"}})).await;
    assert_eq!(
        twice["data"]["fulfillmentOrderHold"]["userErrors"][0]["field"],
        json!(["id"])
    );

    let release = r#"mutation($id: ID!) { fulfillmentOrderReleaseHold(id: $id) {
        fulfillmentOrder { status } userErrors { field message } } }"#;
    let released = gql(&admin, release, json!({ "id": fo })).await;
    let payload = &released["data"]["fulfillmentOrderReleaseHold"];
    assert_eq!(payload["userErrors"], json!([]), "{released}");
    assert_eq!(payload["fulfillmentOrder"]["status"], json!("OPEN"));
    let order = gql(&admin, order_query, json!({ "id": gid })).await;
    assert_eq!(
        order["data"]["order"]["displayFulfillmentStatus"],
        json!("UNFULFILLED")
    );
    let again = gql(&admin, release, json!({ "id": fo })).await;
    assert!(
        again["data"]["fulfillmentOrderReleaseHold"]["userErrors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("not on hold"))
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn webhook_subscriptions_deliver_signed_orders_until_deleted() {
    let (sandbox, shop) = shop_with(|_| {}).await;
    let admin = StoreApi::shopify(&shop);
    let (url, mut rx) = webhook_receiver().await;
    let answer = gql(
        &admin,
        r#"mutation($uri: String!) { webhookSubscriptionCreate(topic: ORDERS_CREATE, webhookSubscription: {uri: $uri, format: JSON}) {
            webhookSubscription { id topic uri format } userErrors { field message } } }"#,
        json!({ "uri": url }),
    )
    .await;
    let sub = &answer["data"]["webhookSubscriptionCreate"]["webhookSubscription"];
    assert_eq!(sub["topic"], json!("ORDERS_CREATE"));
    assert_eq!(sub["uri"], json!(url));
    let rest = admin.get_json("webhooks.json").await;
    assert_eq!(
        rest["webhooks"][0]["topic"],
        json!("orders/create"),
        "one store of subscriptions"
    );

    let id = shop.create_orders(1)[0];
    let hook = next_webhook(&mut rx).await;
    assert_eq!(hook.headers["x-shopify-topic"], "orders/create");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(shop.app_secret().as_bytes()).expect("key");
    mac.update(&hook.body);
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    assert_eq!(hook.headers["x-shopify-hmac-sha256"], expected.as_str());
    let body: Value = serde_json::from_slice(&hook.body).expect("json");
    assert_eq!(body["id"], json!(id));
    assert_eq!(
        body["admin_graphql_api_id"],
        json!(format!("gid://shopify/Order/{id}"))
    );

    let deleted = gql(
        &admin,
        "mutation($id: ID!) { webhookSubscriptionDelete(id: $id) { deletedWebhookSubscriptionId userErrors { message } } }",
        json!({ "id": sub["id"] }),
    )
    .await;
    assert_eq!(
        deleted["data"]["webhookSubscriptionDelete"]["deletedWebhookSubscriptionId"],
        sub["id"]
    );
    shop.create_orders(1);
    let nothing = tokio::time::timeout(Duration::from_millis(500), rx.recv()).await;
    assert!(
        nothing.is_err(),
        "no delivery after the subscription is deleted"
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_bulk_query_of_products_and_variants_yields_jsonl_with_parent_ids() {
    let (sandbox, shop) = shop_with(|_| {}).await;
    let admin = StoreApi::shopify(&shop);
    let run = gql(
        &admin,
        r#"mutation($q: String!) { bulkOperationRunQuery(query: $q) { bulkOperation { id status } userErrors { field message code } } }"#,
        json!({ "q": "{ products { edges { node { id title variants { edges { node { id sku } } } } } } }" }),
    )
    .await;
    let op = &run["data"]["bulkOperationRunQuery"];
    assert_eq!(op["userErrors"], json!([]), "{run}");
    assert_eq!(op["bulkOperation"]["status"], json!("CREATED"));
    // 10 for the mutation, 1 for the operation, 2 + 1 for a list of at most one user error.
    assert_eq!(cost(&run)["requestedQueryCost"], json!(10 + 1 + 3));

    let second = gql(
        &admin,
        r#"mutation { bulkOperationRunQuery(query: "{ products { nodes { id } } }") { userErrors { code } } }"#,
        Value::Null,
    )
    .await;
    assert_eq!(
        second["data"]["bulkOperationRunQuery"]["userErrors"][0]["code"],
        json!("OPERATION_IN_PROGRESS")
    );

    let mut current = Value::Null;
    for _ in 0..50 {
        let answer = gql(
            &admin,
            "{ currentBulkOperation(type: QUERY) { id status objectCount rootObjectCount fileSize url } }",
            Value::Null,
        )
        .await;
        current = answer["data"]["currentBulkOperation"].clone();
        if current["status"] == json!("COMPLETED") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(current["status"], json!("COMPLETED"), "{current}");
    assert_eq!(current["id"], op["bulkOperation"]["id"]);
    assert_eq!(current["rootObjectCount"], json!("5"));
    assert_eq!(
        current["objectCount"],
        json!("15"),
        "5 products and 10 variants"
    );

    // The result needs no token, like a signed storage URL.
    let url = current["url"].as_str().expect("url");
    let body = common::client()
        .get(url)
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    let lines: Vec<Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 15);
    assert_eq!(current["fileSize"], json!(body.len().to_string()));
    let mut parent = Value::Null;
    for line in &lines {
        match line.get("__parentId") {
            None => {
                assert!(line["id"]
                    .as_str()
                    .expect("id")
                    .starts_with("gid://shopify/Product/"));
                assert!(
                    line.get("variants").is_none(),
                    "nested connections are lines of their own"
                );
                parent = line["id"].clone();
            }
            Some(p) => {
                assert_eq!(*p, parent, "a variant follows its product");
                assert!(line["sku"].is_string());
            }
        }
    }
    sandbox.shutdown().await;
}

#[tokio::test]
async fn answers_errors_in_shopifys_shapes() {
    let (sandbox, shop) = shop_with(|_| {}).await;
    let admin = StoreApi::shopify(&shop);

    let answer = gql(&admin, "{ shop { name ", Value::Null).await;
    assert!(answer["errors"][0]["message"]
        .as_str()
        .expect("message")
        .starts_with("syntax error, unexpected"));
    assert!(answer["errors"][0]["locations"][0]["line"].is_number());

    let answer = gql(
        &admin,
        "{ orders(first: 1) { nodes { id colour } } }",
        Value::Null,
    )
    .await;
    assert_eq!(
        answer["errors"][0]["message"],
        json!("Field 'colour' doesn't exist on type 'Order'")
    );
    assert_eq!(
        answer["errors"][0]["extensions"]["code"],
        json!("undefinedField")
    );
    assert_eq!(
        answer["errors"][0]["extensions"]["typeName"],
        json!("Order")
    );
    assert!(answer.get("data").is_none());

    let answer = gql(
        &admin,
        "query($id: ID!) { order(id: $id) { id } }",
        json!({}),
    )
    .await;
    assert_eq!(
        answer["errors"][0]["extensions"]["code"],
        json!("INVALID_VARIABLE")
    );

    let answer = gql(&admin, "{ orders { nodes { id } } }", Value::Null).await;
    assert_eq!(
        answer["errors"][0]["message"],
        json!("you must provide one of first or last")
    );

    let resp = admin
        .post("graphql.json", &json!({ "variables": {} }))
        .await;
    assert_eq!(resp.status(), 400, "no query");

    let resp = common::client()
        .post(admin.url("graphql.json"))
        .json(&json!({ "query": "{ shop { name } }" }))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 401);

    // Fragments, aliases, __typename and node lookups.
    shop.create_orders(1);
    let answer = gql(
        &admin,
        r#"query { shop { ...S } orders(first: 1) { nodes { __typename ref: id } } }
           fragment S on Shop { name myshopifyDomain currencyCode }"#,
        Value::Null,
    )
    .await;
    assert_eq!(
        answer["data"]["shop"]["myshopifyDomain"],
        json!("gql-shop.myshopify.com")
    );
    let order = &answer["data"]["orders"]["nodes"][0];
    assert_eq!(order["__typename"], json!("Order"));
    let node = gql(
        &admin,
        "query($id: ID!) { node(id: $id) { __typename id ... on Order { name } ... on Product { title } } }",
        json!({ "id": order["ref"] }),
    )
    .await;
    assert_eq!(node["data"]["node"]["__typename"], json!("Order"));
    assert_eq!(node["data"]["node"]["name"], json!("#1001"));
    assert!(node["data"]["node"].get("title").is_none());
    sandbox.shutdown().await;
}

#[tokio::test]
async fn an_injected_burst_answers_throttled_with_the_bucket_status() {
    let (sandbox, shop) = shop_with(|_| {}).await;
    let admin = StoreApi::shopify(&shop);
    shop.faults().add_429_burst(1);
    let answer = gql(&admin, "{ shop { name } }", Value::Null).await;
    assert_eq!(
        answer["errors"][0]["extensions"]["code"],
        json!("THROTTLED")
    );
    assert_eq!(cost(&answer)["requestedQueryCost"], json!(1));
    assert_eq!(
        cost(&answer)["throttleStatus"]["maximumAvailable"],
        json!(2000.0)
    );
    let answer = gql(&admin, "{ shop { name } }", Value::Null).await;
    assert_eq!(answer["data"]["shop"]["name"], json!("gql-shop"));
    let stats = shop.traffic().snapshot();
    assert_eq!(stats.graphql_throttled, 1);
    assert_eq!(
        stats.by_route["POST /admin/api/{version}/graphql.json shop"],
        2
    );
    assert_eq!(
        shop.bucket_level(),
        0,
        "the REST leaky bucket is not charged"
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn shopifys_official_python_library_works_unchanged() {
    let (sandbox, shop) = shop_with(|cfg| {
        cfg.generator.fulfilled_ratio = 0.0;
    })
    .await;
    let ids = shop.create_orders(3);
    let python = tokio::task::spawn_blocking(|| python_with(&[SHOPIFY_PYTHON]))
        .await
        .expect("installed");
    let args = [
        shop.base_url().to_owned(),
        shop.domain().to_owned(),
        shop.access_token().to_owned(),
        "2025-07".to_owned(),
    ];
    let out = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_script(&python, "shopify_graphql.py", &args)
    })
    .await
    .expect("ran");
    let summary: Value = serde_json::from_str(out.trim()).expect("the script prints JSON");
    assert_eq!(
        summary["order_ids"],
        json!([
            format!("gid://shopify/Order/{}", ids[0]),
            format!("gid://shopify/Order/{}", ids[1])
        ])
    );
    assert_eq!(summary["has_next_page"], json!(true));
    assert_eq!(summary["stock_errors"], json!([]));
    assert_eq!(summary["stock_after"], json!(3));
    let sku = summary["sku"].as_str().expect("sku");
    assert_eq!(shop.stock_by_sku()[sku], 3);
    assert_eq!(summary["fulfillment_errors"], json!([]));
    assert_eq!(summary["fulfillment_status"], json!("SUCCESS"));
    assert_eq!(
        summary["tracking"],
        json!({"number": "PY-123", "company": "DHL Express"})
    );
    let shipped = shop.fulfilments();
    assert_eq!(shipped.len(), 1);
    assert_eq!(shipped[0].order_id, ids[0]);
    sandbox.shutdown().await;
}
