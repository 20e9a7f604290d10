//! What only the Shopify connector does, against the in-process sandbox: GraphQL paging and
//! mapping, the query-cost throttle, bulk operations, locations, webhooks. The contract every
//! connector keeps (faults, credentials, the since bound) is tests/connectors_contract.rs.

mod connectors_helpers;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use connectors_helpers::{
    assert_listings_match_stock, count_status, forged, next_webhook, requests_on, shopify,
    status_of, tampered, webhook_receiver, StoreApi,
};
use switchyard::connectors::{
    list_all_orders_since, ConnectorError, SalesChannel, ShopifyConnector,
};
use switchyard::domain::{FulfilmentLine, FulfilmentRequest, OrderCursor, OrderStatus, Secret};
use switchyard::queue::JobError;
use switchyard_sandbox::{FaultKnobs, GraphqlPlan, ProductConfig, VariantConfig};

/// GraphQL calls are counted by their root field.
const ORDERS_ROUTE: &str = "POST /admin/api/{version}/graphql.json orders";
const SET_ROUTE: &str = "POST /admin/api/{version}/graphql.json inventorySetQuantities";

#[tokio::test]
async fn pages_through_orders_following_end_cursors() {
    let rig = shopify(|c| c.generator.max_lines = 3).await;
    rig.store.create_orders(125);
    let connector = rig.connector();

    let orders = list_all_orders_since(&connector, None, 100)
        .await
        .expect("listing succeeds");

    let ids: HashSet<&str> = orders.iter().map(|o| o.channel_order_id.as_str()).collect();
    assert_eq!(orders.len(), 125);
    assert_eq!(ids.len(), 125, "no order is listed twice");
    assert_eq!(
        requests_on(rig.store.as_ref(), ORDERS_ROUTE),
        13,
        "twelve pages of 10 and one of 5"
    );
    let ordered = orders
        .windows(2)
        .all(|w| w[0].channel_updated_at <= w[1].channel_updated_at);
    assert!(ordered, "oldest change first");

    // One order, field by field, against the shop's own (REST) JSON: the ids are the same.
    let first = &orders[0];
    let raw = rig
        .store
        .order_json(first.channel_order_id.parse().expect("numeric id"))
        .expect("the shop has it");
    assert_eq!(first.order_number, raw["name"].as_str().unwrap_or_default());
    assert_eq!(
        first.totals.total,
        raw["total_price"].as_str().unwrap_or_default()
    );
    assert_eq!(
        first.totals.subtotal,
        raw["total_line_items_price"].as_str().unwrap_or_default()
    );
    assert_eq!(first.currency, "USD");
    assert_eq!(
        first.lines.len(),
        raw["line_items"].as_array().map_or(0, Vec::len)
    );
    assert_eq!(
        first.lines[0].sku.as_deref(),
        raw["line_items"][0]["sku"].as_str()
    );
    assert_eq!(
        first.lines[0].channel_line_id,
        raw["line_items"][0]["id"].to_string()
    );
    let shipping = first.shipping_address.as_ref().expect("a shipping address");
    assert_eq!(
        shipping.country_code,
        raw["shipping_address"]["country_code"]
            .as_str()
            .unwrap_or_default()
    );
    let paid = count_status(&orders, OrderStatus::Unshipped);
    let unpaid = count_status(&orders, OrderStatus::Unpaid);
    assert!(paid > 80 && unpaid > 3, "paid {paid}, unpaid {unpaid}");
}

/// `n` single-variant products, `W-0`, `W-1`, ..., each with 50 in stock.
fn wide_catalogue(n: usize) -> Vec<ProductConfig> {
    (0..n)
        .map(|i| ProductConfig {
            title: format!("Widget {i}"),
            option_name: None,
            variants: vec![VariantConfig {
                sku: format!("W-{i}"),
                option: None,
                price: "4.50".into(),
                stock: 50,
            }],
            details: Default::default(),
        })
        .collect()
}

#[tokio::test]
async fn an_order_with_more_lines_than_a_page_holds_is_read_whole() {
    let rig = shopify(|c| {
        c.catalog = wide_catalogue(30);
        c.generator.max_lines = 40;
    })
    .await;
    rig.store.create_orders(6);
    let orders = list_all_orders_since(&rig.connector(), None, 10)
        .await
        .expect("listing succeeds");
    assert_eq!(orders.len(), 6);
    let mut long = 0;
    for order in &orders {
        let raw = rig
            .store
            .order_json(order.channel_order_id.parse().expect("numeric id"))
            .expect("the shop has it");
        let lines = raw["line_items"].as_array().map_or(0, Vec::len);
        assert_eq!(
            order.lines.len(),
            lines,
            "every line of {}",
            order.order_number
        );
        assert_eq!(
            order.totals.subtotal,
            raw["total_line_items_price"].as_str().unwrap_or_default()
        );
        long += usize::from(lines > 10);
    }
    assert!(long > 0, "some order has more than ten lines");
    assert_eq!(
        requests_on(
            rig.store.as_ref(),
            "POST /admin/api/{version}/graphql.json order"
        ) as usize,
        long,
        "one call for the rest of each long order's lines"
    );
}

#[tokio::test]
async fn a_burst_of_throttled_answers_is_waited_out_and_the_call_succeeds() {
    let rig = shopify(|_| {}).await;
    rig.store.create_orders(3);
    // The shop answers THROTTLED (HTTP 200) twice, whatever its bucket says.
    rig.faults(FaultKnobs {
        burst_429: 2,
        ..FaultKnobs::default()
    });
    let connector = rig.connector();
    let started = Instant::now();
    let page = connector
        .list_orders_since(&OrderCursor::Since(None))
        .await
        .expect("succeeds after waiting out the burst");
    assert_eq!(page.orders.len(), 3);
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "waited twice, took {:?}: {:?}",
        started.elapsed(),
        rig.store.traffic().snapshot()
    );
    let traffic = rig.store.traffic().snapshot();
    assert_eq!(traffic.graphql_throttled, 2);
    assert_eq!(
        requests_on(rig.store.as_ref(), ORDERS_ROUTE),
        3,
        "two refused, then answered"
    );
}

#[tokio::test]
async fn set_stock_reaches_the_shop() {
    let rig = shopify(|_| {}).await;
    let connector = rig.connector();
    let listings = connector.list_products().await.expect("listings");
    assert_listings_match_stock(&listings, rig.store.as_ref());
    let jacket = listings
        .iter()
        .find(|l| l.sku.as_deref() == Some("RJ-M"))
        .expect("RJ-M is listed");
    assert_eq!(jacket.title, "Rain Jacket - M");

    connector.set_stock(&jacket.id, 7).await.expect("stock set");
    connector
        .set_stock(&jacket.id, 3)
        .await
        .expect("stock set again");
    assert_eq!(rig.store.stock_by_sku().get("RJ-M"), Some(&3));
    assert_eq!(
        requests_on(
            rig.store.as_ref(),
            "POST /admin/api/{version}/graphql.json location"
        ),
        1,
        "the location is learnt once"
    );
}

#[tokio::test]
async fn many_levels_go_in_calls_of_250() {
    // Plus limits: reading 300 variants costs about 3,300 points, more than a standard bucket.
    let rig = shopify(|c| {
        c.catalog = wide_catalogue(300);
        c.graphql = GraphqlPlan::Plus;
    })
    .await;
    let connector = rig.connector();
    let listings = connector.list_products().await.expect("listings");
    assert_eq!(listings.len(), 300);
    rig.store.traffic().reset();

    let levels: Vec<_> = listings
        .iter()
        .enumerate()
        .map(|(i, l)| (l.id.clone(), i as i64 % 17))
        .collect();
    let outcomes = connector.set_stocks(&levels).await;
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    assert_eq!(requests_on(rig.store.as_ref(), SET_ROUTE), 2, "250 + 50");
    let stock = rig.store.stock_by_sku();
    for (listing, (_, quantity)) in listings.iter().zip(&levels) {
        let sku = listing.sku.as_deref().expect("a SKU");
        assert_eq!(stock.get(sku), Some(quantity), "{sku}");
    }

    // An unknown item fails its whole call (Shopify applies all or nothing) with the shop's
    // words, and the calls after it are not sent.
    let mut unknown = levels[0].0.clone();
    unknown.inventory_item_id = Some("999999".into());
    let mut broken = levels.clone();
    broken[1] = (unknown, 5);
    rig.store.traffic().reset();
    let outcomes = connector.set_stocks(&broken).await;
    assert_eq!(outcomes.len(), 300);
    assert!(outcomes.iter().all(Result::is_err));
    assert!(
        matches!(&outcomes[0], Err(ConnectorError::Rejected { status: 422, message })
            if message.contains("INVALID_INVENTORY_ITEM")),
        "{:?}",
        outcomes[0]
    );
    assert_eq!(requests_on(rig.store.as_ref(), SET_ROUTE), 1);
    assert_eq!(
        rig.store.stock_by_sku().get("W-0"),
        Some(&0),
        "nothing of it applied"
    );
}

/// A shop with two locations, Warehouse (the primary) and Shopfront.
async fn two_location_shop() -> (
    connectors_helpers::Rig<switchyard::connectors::ShopifyConfig>,
    StoreApi,
    u64,
    u64,
) {
    let rig = shopify(|c| c.locations = vec!["Warehouse".into(), "Shopfront".into()]).await;
    let shop = rig
        .sandbox
        .shopify(connectors_helpers::SHOP)
        .expect("the shop");
    let admin = StoreApi::shopify(&shop);
    let locations = admin.get_json("locations.json").await;
    let id = |i: usize| {
        locations["locations"][i]["id"]
            .as_u64()
            .expect("a location id")
    };
    let (warehouse, shopfront) = (id(0), id(1));
    (rig, admin, warehouse, shopfront)
}

/// The listing of `sku` (read through `connector`) and its inventory item's id.
async fn listing_of(
    connector: &ShopifyConnector,
    sku: &str,
) -> (switchyard::domain::Listing, String) {
    let listing = connector
        .list_products()
        .await
        .expect("listings")
        .into_iter()
        .find(|l| l.sku.as_deref() == Some(sku))
        .expect("the SKU is listed");
    let item = listing
        .id
        .inventory_item_id
        .clone()
        .expect("an inventory item");
    (listing, item)
}

/// The `available` level of `item` at each location, read through the shop's REST API.
async fn levels_of(admin: &StoreApi, item: &str) -> BTreeMap<u64, i64> {
    let levels = admin
        .get_json(&format!("inventory_levels.json?inventory_item_ids={item}"))
        .await;
    levels["inventory_levels"]
        .as_array()
        .expect("levels")
        .iter()
        .map(|l| {
            (
                l["location_id"].as_u64().expect("location"),
                l["available"].as_i64().unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::test]
async fn stock_is_read_and_set_at_the_primary_location_by_default() {
    let (rig, admin, warehouse, shopfront) = two_location_shop().await;
    let connector = rig.connector();
    let (socks, item) = listing_of(&connector, "MS-1").await;
    let before = levels_of(&admin, &item).await;
    assert_eq!(socks.quantity, before.get(&warehouse).copied());

    connector.set_stock(&socks.id, 4).await.expect("set");
    let after = levels_of(&admin, &item).await;
    assert_eq!(after.get(&warehouse), Some(&4));
    assert_eq!(
        after.get(&shopfront),
        before.get(&shopfront),
        "the other location is untouched"
    );
}

#[tokio::test]
async fn a_chosen_location_is_the_only_one_read_and_set() {
    let (mut rig, admin, warehouse, shopfront) = two_location_shop().await;
    // Different levels at the two, so a read of the wrong one shows.
    let primary = rig.connector();
    let (socks, item) = listing_of(&primary, "MS-1").await;
    primary
        .set_stock(&socks.id, 11)
        .await
        .expect("set at the warehouse");

    rig.config.location_id = Some(shopfront);
    let connector = rig.connector();
    connector
        .check_settings()
        .await
        .expect("the location exists");
    let at_shopfront = levels_of(&admin, &item).await[&shopfront];
    let (socks, _) = listing_of(&connector, "MS-1").await;
    assert_eq!(socks.quantity, Some(at_shopfront), "read at the shopfront");

    connector.set_stock(&socks.id, 2).await.expect("set");
    let after = levels_of(&admin, &item).await;
    assert_eq!(after.get(&shopfront), Some(&2));
    assert_eq!(
        after.get(&warehouse),
        Some(&11),
        "the warehouse is untouched"
    );

    rig.config.location_id = Some(warehouse + 1);
    let err = rig
        .connector()
        .check_settings()
        .await
        .expect_err("no such location");
    assert!(
        matches!(&err, ConnectorError::Rejected { message, .. } if message.contains("location_id")),
        "{err:?}"
    );
}

#[tokio::test]
async fn fulfilments_are_recorded_with_tracking_and_move_the_order_status() {
    let rig = shopify(|c| {
        c.generator.fulfilled_ratio = 0.0;
        c.generator.max_lines = 3;
        c.generator.max_quantity = 3;
    })
    .await;
    rig.store.create_orders(30);
    let connector = rig.connector();
    let orders = list_all_orders_since(&connector, None, 10)
        .await
        .expect("orders");
    let order = orders
        .iter()
        .find(|o| o.lines.iter().map(|l| l.quantity).sum::<u32>() >= 2)
        .expect("an order with two or more units");
    let first_line = &order.lines[0];

    let partial = FulfilmentRequest {
        channel_order_id: order.channel_order_id.clone(),
        lines: vec![FulfilmentLine {
            channel_line_id: first_line.channel_line_id.clone(),
            quantity: 1,
        }],
        carrier: Some("UPS".into()),
        tracking_number: Some("1Z999AA10123456784".into()),
        tracking_url: None,
    };
    let receipt = connector
        .create_fulfilment(&partial)
        .await
        .expect("partial fulfilment");
    let recorded = rig.store.fulfilments();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].fulfilment_id, receipt.channel_fulfilment_id);
    assert_eq!(recorded[0].order_id.to_string(), order.channel_order_id);
    assert_eq!(recorded[0].carrier.as_deref(), Some("UPS"));
    assert_eq!(
        recorded[0].tracking_number.as_deref(),
        Some("1Z999AA10123456784")
    );
    assert_eq!(recorded[0].lines.len(), 1);
    assert_eq!(
        recorded[0].lines[0].sku,
        first_line.sku.clone().unwrap_or_default()
    );
    assert_eq!(recorded[0].lines[0].quantity, 1);

    let listed = list_all_orders_since(&connector, None, 10)
        .await
        .expect("orders");
    assert_eq!(
        status_of(&listed, &order.channel_order_id),
        Some(OrderStatus::PartiallyShipped)
    );

    // Asking for more than is left is refused before anything is posted.
    let too_many = FulfilmentRequest {
        lines: vec![FulfilmentLine {
            channel_line_id: first_line.channel_line_id.clone(),
            quantity: first_line.quantity + 1,
        }],
        ..partial.clone()
    };
    let err = connector
        .create_fulfilment(&too_many)
        .await
        .expect_err("over-shipping is refused");
    assert!(matches!(err, ConnectorError::Rejected { .. }), "{err:?}");
    assert!(matches!(JobError::from(err), JobError::Permanent(_)));

    // No lines: ship the rest.
    let rest = FulfilmentRequest {
        lines: vec![],
        tracking_number: Some("1Z999AA10123456785".into()),
        tracking_url: Some("https://track.example/1Z999AA10123456785".into()),
        ..partial
    };
    connector
        .create_fulfilment(&rest)
        .await
        .expect("the rest ships");
    let recorded = rig.store.fulfilments();
    assert_eq!(recorded.len(), 2);
    assert_eq!(
        recorded[1].tracking_url.as_deref(),
        Some("https://track.example/1Z999AA10123456785")
    );
    let listed = list_all_orders_since(&connector, None, 10)
        .await
        .expect("orders");
    assert_eq!(
        status_of(&listed, &order.channel_order_id),
        Some(OrderStatus::Shipped)
    );
}

#[tokio::test]
async fn webhooks_verify_when_signed_and_fail_when_forged_or_tampered() {
    let rig = shopify(|_| {}).await;
    let (url, mut received) = webhook_receiver().await;
    rig.store
        .register_webhook("orders/create", &url)
        .expect("subscribed");
    rig.store.create_orders(1);
    let hook = next_webhook(&mut received).await;
    let connector = rig.connector();

    assert!(connector.verify_webhook(&hook.headers, &hook.body));

    assert!(!connector.verify_webhook(&hook.headers, &tampered(&hook.body)));
    let forged = forged(&hook.headers, "x-shopify-hmac-sha256");
    assert!(!connector.verify_webhook(&forged, &hook.body));

    let mut unsigned = hook.headers.clone();
    unsigned.remove("x-shopify-hmac-sha256");
    assert!(!connector.verify_webhook(&unsigned, &hook.body));

    let mut config = rig.config.clone();
    config.app_secret = Secret::new("shpss_another_app");
    let other_app = ShopifyConnector::new(config).expect("connector builds");
    assert!(!other_app.verify_webhook(&hook.headers, &hook.body));
}

/// Three tasks share one connector against a small, fast bucket (1,000 points restoring 250 a
/// second, so the test takes seconds; an orders page asks for about 750 and spends far less):
/// once the throttle has learnt the bucket from the first answers, not one query is throttled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sustained_load_is_never_throttled_once_the_bucket_is_learnt() {
    let mut rig = shopify(|c| {
        c.graphql = GraphqlPlan::Custom {
            maximum_available: 1000.0,
            restore_rate: 250.0,
        };
    })
    .await;
    rig.config.throttle.max_wait = Duration::from_secs(20);
    rig.config.http.request_timeout = Duration::from_secs(5);
    rig.store.create_orders(5);
    let connector = Arc::new(rig.connector());

    connector.check_credentials().await.expect("warm-up call");
    connector
        .list_orders_since(&OrderCursor::Since(None))
        .await
        .expect("warm-up call");
    let (_, capacity, rate) = connector.throttle().estimate().expect("a bucket");
    assert_eq!(
        (capacity, rate),
        (1000.0, 250.0),
        "the bucket is learnt from the answers"
    );
    rig.store.traffic().reset();

    let started = Instant::now();
    let tasks: Vec<_> = (0..3)
        .map(|task| {
            let connector: Arc<dyn SalesChannel> = connector.clone();
            tokio::spawn(async move {
                for call in 0..12 {
                    connector
                        .list_orders_since(&OrderCursor::Since(None))
                        .await
                        .map_err(|e| format!("task {task} call {call}: {e}"))?;
                }
                Ok::<(), String>(())
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task runs").expect("every call succeeds");
    }

    let traffic = rig.store.traffic().snapshot();
    assert_eq!(traffic.requests_total, 36, "no call needed a retry");
    assert_eq!(traffic.graphql_throttled, 0, "{traffic:?}");
    // Each page must find its requested cost (about 750) in a bucket of 1,000 restoring 250/s,
    // so 36 pages cannot go through in much under three seconds; a throttle that did not wait
    // would have been refused.
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_throttled_query_waits_for_its_cost_to_be_restored() {
    let mut rig = shopify(|c| {
        c.graphql = GraphqlPlan::Custom {
            maximum_available: 1000.0,
            restore_rate: 500.0,
        };
    })
    .await;
    rig.store.create_orders(3);
    rig.config.throttle.max_wait = Duration::from_secs(10);
    // Another app's connector (its own throttle) empties the bucket behind this one's back.
    let other = rig.connector();
    let connector = rig.connector();
    connector
        .list_orders_since(&OrderCursor::Since(None))
        .await
        .expect("the cost of a page is learnt");
    tokio::time::sleep(Duration::from_secs(2)).await;
    rig.store.traffic().reset();
    let (drain, page) = tokio::join!(
        async {
            for _ in 0..3 {
                let _ = other.list_orders_since(&OrderCursor::Since(None)).await;
            }
        },
        async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            connector.list_orders_since(&OrderCursor::Since(None)).await
        }
    );
    let () = drain;
    assert_eq!(page.expect("succeeds after the wait").orders.len(), 3);
    let traffic = rig.store.traffic().snapshot();
    assert!(traffic.graphql_throttled >= 1, "{traffic:?}");
}

#[tokio::test]
async fn a_throttle_longer_than_the_wait_budget_goes_back_to_the_queue() {
    let mut rig = shopify(|c| {
        c.graphql = GraphqlPlan::Custom {
            maximum_available: 1000.0,
            restore_rate: 10.0,
        };
    })
    .await;
    rig.config.throttle.max_wait = Duration::from_secs(1);
    rig.store.create_orders(40);
    let connector = rig.connector();
    // Each full page spends a few hundred points of the 1,000; the bucket restores 10 a second.
    let mut pages = 0;
    let err = loop {
        match connector.list_orders_since(&OrderCursor::Since(None)).await {
            Ok(_) => pages += 1,
            Err(e) => break e,
        }
        assert!(pages < 10, "the bucket never ran dry");
    };
    assert!(pages >= 1, "the first page fits the full bucket");
    let ConnectorError::RateLimited { retry_after, .. } = err.clone() else {
        panic!("expected a rate limit, got {err:?}");
    };
    assert!(retry_after > Duration::from_secs(5), "{retry_after:?}");
    assert!(matches!(JobError::from(err), JobError::RetryAfter { .. }));
}

#[tokio::test]
async fn a_large_catalogue_is_downloaded_by_one_bulk_operation() {
    let mut rig = shopify(|c| c.catalog = wide_catalogue(40)).await;
    rig.config.bulk_above = 25;
    let connector = rig.connector();
    let listings = connector.list_products().await.expect("listings");
    assert_eq!(listings.len(), 40);
    assert_listings_match_stock(&listings, rig.store.as_ref());
    let graphql = |field: &str| {
        requests_on(
            rig.store.as_ref(),
            &format!("POST /admin/api/{{version}}/graphql.json {field}"),
        )
    };
    assert_eq!(graphql("bulkOperationRunQuery"), 1);
    assert_eq!(graphql("productVariants"), 0, "no page was read");

    rig.config.bulk_above = 100;
    let paged = rig.connector().list_products().await.expect("listings");
    assert_eq!(
        paged
            .iter()
            .map(|l| (&l.sku, l.quantity))
            .collect::<Vec<_>>(),
        listings
            .iter()
            .map(|l| (&l.sku, l.quantity))
            .collect::<Vec<_>>(),
        "paging and the bulk operation read the same catalogue"
    );
}

#[tokio::test]
async fn order_webhooks_are_subscribed_and_removed() {
    let rig = shopify(|_| {}).await;
    let (url, mut received) = webhook_receiver().await;
    let connector = rig.connector();
    let address = format!("{url}/");
    let ids = connector
        .subscribe_order_webhooks(&address)
        .await
        .expect("subscribed");
    assert_eq!(ids.len(), 3, "created, updated, cancelled");
    rig.store.create_orders(1);
    let hook = next_webhook(&mut received).await;
    assert_eq!(hook.headers["x-shopify-topic"], "orders/create");
    assert!(connector.verify_webhook(&hook.headers, &hook.body));

    connector.unsubscribe_webhooks(&ids).await.expect("removed");
    rig.store.create_orders(1);
    let more = tokio::time::timeout(Duration::from_millis(700), received.recv()).await;
    assert!(
        more.is_err(),
        "no delivery after the subscriptions are removed"
    );
    connector
        .unsubscribe_webhooks(&ids)
        .await
        .expect("removing them again is no error");
}

#[tokio::test]
async fn a_re_read_reads_in_full_only_the_orders_not_held_as_they_are() {
    let rig = shopify(|_| {}).await;
    rig.store.create_orders(30);
    let connector = rig.connector();
    let all = list_all_orders_since(&connector, None, 10)
        .await
        .expect("listing succeeds");
    // Held: 25 of them, one of those with an older change time than the shop's.
    let mut known: std::collections::HashMap<String, chrono::DateTime<chrono::Utc>> = all[..25]
        .iter()
        .map(|o| (o.channel_order_id.clone(), o.channel_updated_at))
        .collect();
    let stale = all[3].channel_order_id.clone();
    known.insert(
        stale.clone(),
        all[3].channel_updated_at - chrono::Duration::seconds(60),
    );
    rig.store.traffic().reset();

    let page = connector
        .list_orders_since_known(&OrderCursor::Since(None), &known)
        .await
        .expect("listing succeeds");
    let read: HashSet<String> = page
        .orders
        .iter()
        .map(|o| o.channel_order_id.clone())
        .collect();
    let expected: HashSet<String> = all[25..]
        .iter()
        .map(|o| o.channel_order_id.clone())
        .chain([stale])
        .collect();
    assert_eq!(read, expected);
    assert_eq!(page.next, None, "30 stamps fit one page");
    assert_eq!(
        requests_on(rig.store.as_ref(), ORDERS_ROUTE),
        1,
        "one listing of stamps"
    );
    assert_eq!(
        requests_on(
            rig.store.as_ref(),
            "POST /admin/api/{version}/graphql.json nodes"
        ),
        1,
        "six orders read in full in one call"
    );
}
