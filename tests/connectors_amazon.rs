//! Contract tests of the Amazon Selling Partner API connector against the in-process seller
//! simulator: Login with Amazon tokens, Orders v0 paging, per-operation usage plans, shipment
//! confirmations and listings stock.

mod connectors_helpers;

use std::collections::{HashMap, HashSet};

use connectors_helpers::{
    amazon, assert_listings_match_stock, requests_on, status_of, walk_through_token_expiry,
};
use serde_json::Value;
use switchyard::connectors::amazon::Operation;
use switchyard::connectors::{
    list_all_orders_since, AmazonConnector, ConnectorError, SalesChannel,
};
use switchyard::domain::{
    ChannelOrder, FulfilmentLine, FulfilmentRequest, ListingId, OrderCursor, OrderStatus, Secret,
};
use switchyard::queue::JobError;
use switchyard_sandbox::amazon::OperationLimit;
use switchyard_sandbox::{AmazonSeller, SimStore};

const ORDERS_ROUTE: &str = "GET /orders/v0/orders";
const ITEMS_ROUTE: &str = "GET /orders/v0/orders/{order_id}/orderItems";
const TOKEN_ROUTE: &str = "POST /auth/o2/token";
const CONFIRM_ROUTE: &str = "POST /orders/v0/orders/{order_id}/shipmentConfirmation";

fn responses(store: &dyn SimStore, status: u16) -> u64 {
    store
        .traffic()
        .snapshot()
        .by_status
        .get(&status)
        .copied()
        .unwrap_or(0)
}

#[tokio::test]
async fn orders_and_their_items_are_paged_by_next_token() {
    let rig = amazon(|c| {
        c.order_items_per_page = 1;
        c.generator.max_lines = 3;
    })
    .await;
    let mut config = rig.config.clone();
    config.orders_per_page = 7;
    let connector = AmazonConnector::new(config).expect("connector builds");
    let seller = rig.seller();
    rig.store.create_orders(40);
    let orders = list_all_orders_since(&connector, None, 10)
        .await
        .expect("listing succeeds");
    assert_eq!(orders.len(), 40);
    assert_eq!(
        requests_on(rig.store.as_ref(), ORDERS_ROUTE),
        6,
        "7 orders a page"
    );
    let lines: usize = orders.iter().map(|o| o.lines.len()).sum();
    assert!(lines > 40, "some orders have several items: {lines}");
    assert_eq!(
        requests_on(rig.store.as_ref(), ITEMS_ROUTE) as usize,
        lines,
        "one item a page, each read once"
    );
    for order in &orders {
        let unshipped: u32 = order.lines.iter().map(|l| l.quantity).sum();
        let raw = raw_order(&seller, order);
        assert_eq!(
            raw["NumberOfItemsUnshipped"].as_u64(),
            Some(u64::from(unshipped)),
            "every item of {} is read",
            order.channel_order_id
        );
    }
    assert_eq!(
        requests_on(rig.store.as_ref(), TOKEN_ROUTE),
        1,
        "one token serves the whole walk"
    );
}

/// The simulator's JSON of an order the connector listed.
fn raw_order(seller: &AmazonSeller, order: &ChannelOrder) -> Value {
    seller
        .orders_json(0, seller.order_count())
        .into_iter()
        .find(|o| o["AmazonOrderId"] == order.channel_order_id.as_str())
        .expect("the seller has it")
}

#[tokio::test]
async fn orders_held_as_they_are_cost_no_item_calls() {
    let rig = amazon(|_| {}).await;
    rig.store.create_orders(12);
    let connector = rig.connector();
    let all = list_all_orders_since(&connector, None, 10)
        .await
        .expect("listing succeeds");
    let mut known: HashMap<String, chrono::DateTime<chrono::Utc>> = all[..10]
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
    let expected: HashSet<String> = all[10..]
        .iter()
        .map(|o| o.channel_order_id.clone())
        .chain([stale])
        .collect();
    assert_eq!(read, expected);
    assert_eq!(requests_on(rig.store.as_ref(), ITEMS_ROUTE), 3);
}

#[tokio::test]
async fn an_import_goes_on_when_its_token_expires() {
    let rig = amazon(|_| {}).await;
    let mut config = rig.config.clone();
    config.orders_per_page = 5;
    let connector = AmazonConnector::new(config).expect("connector builds");
    let seller = rig.seller();
    let expire = |_page: usize| seller.expire_access_tokens();
    walk_through_token_expiry(rig.store.as_ref(), &connector, 23, &expire).await;
    // Five pages: the first gets the first token; each later one's first call is refused
    // once and sent again with a new token.
    assert_eq!(responses(rig.store.as_ref(), 403), 4, "one refusal a page");
    assert_eq!(requests_on(rig.store.as_ref(), TOKEN_ROUTE), 1 + 4);
}

#[tokio::test]
async fn a_short_lived_token_is_traded_before_it_expires() {
    let rig = amazon(|c| c.access_token_lifetime_secs = 1).await;
    rig.store.create_orders(4);
    let connector = rig.connector();
    for _ in 0..4 {
        let page = connector
            .list_orders_since(&OrderCursor::Since(None))
            .await
            .expect("listing succeeds");
        assert_eq!(page.orders.len(), 4);
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    }
    assert_eq!(
        responses(rig.store.as_ref(), 403),
        0,
        "no call carried an expired token"
    );
    assert!(requests_on(rig.store.as_ref(), TOKEN_ROUTE) >= 2);
}

#[tokio::test]
async fn a_learnt_usage_plan_keeps_a_sustained_run_free_of_429s() {
    // The seller's getOrderItems plan: 10 a second, 2 deep; the connector assumes the published
    // 0.5 a second, 30 deep, until Amazon's answers say otherwise.
    let rig = amazon(|c| {
        c.rate_limits.get_order_items = OperationLimit {
            rate: 10.0,
            burst: 2,
        };
        c.rate_limits.get_orders = OperationLimit {
            rate: 1000.0,
            burst: 20,
        };
        c.rate_limits.scale = 1.0;
    })
    .await;
    rig.store.create_orders(25);
    let connector = rig.connector();
    let first = list_all_orders_since(&connector, None, 10)
        .await
        .expect("the first run waits out its refusals");
    assert_eq!(first.len(), 25);
    let learnt = rig.store.traffic().snapshot().responses_429;
    assert!(learnt <= 2, "refused {learnt} times while learning");
    let rate = connector
        .throttle(Operation::GetOrderItems)
        .estimate()
        .map(|(_, _, rate)| rate);
    assert_eq!(rate, Some(10.0), "the stated rate is taken");

    rig.store.traffic().reset();
    let again = list_all_orders_since(&connector, None, 10)
        .await
        .expect("the second run");
    assert_eq!(again.len(), 25);
    let snapshot = rig.store.traffic().snapshot();
    assert_eq!(snapshot.responses_429, 0, "{snapshot:?}");
    assert_eq!(requests_on(rig.store.as_ref(), ITEMS_ROUTE), 25);
}

#[tokio::test]
async fn a_wait_longer_than_the_budget_goes_back_to_the_queue() {
    // getOrders at its published plan once the burst is spent: a call a minute.
    let rig = amazon(|c| {
        c.rate_limits.get_orders = OperationLimit {
            rate: 0.0167,
            burst: 1,
        };
        c.rate_limits.scale = 1.0;
    })
    .await;
    let connector = rig.connector();
    connector
        .list_orders_since(&OrderCursor::Since(None))
        .await
        .expect("the burst admits one");
    let started = std::time::Instant::now();
    let err = connector
        .list_orders_since(&OrderCursor::Since(None))
        .await
        .expect_err("a minute is longer than a call may wait");
    assert!(started.elapsed() < std::time::Duration::from_secs(6));
    match &err {
        ConnectorError::RateLimited { retry_after, .. } => assert!(
            *retry_after >= std::time::Duration::from_secs(50),
            "{retry_after:?}"
        ),
        other => panic!("expected a rate limit, got {other:?}"),
    }
    assert!(matches!(JobError::from(err), JobError::RetryAfter { .. }));
}

#[tokio::test]
async fn wrong_credentials_are_auth_errors_with_amazons_words() {
    let rig = amazon(|_| {}).await;
    rig.connector()
        .check_credentials()
        .await
        .expect("the seller's own credentials are accepted");

    let with = |change: &dyn Fn(&mut switchyard::connectors::AmazonConfig)| {
        let mut config = rig.config.clone();
        change(&mut config);
        AmazonConnector::new(config).expect("connector builds")
    };
    let err = with(&|c| c.credentials.refresh_token = Secret::new("Atzr|revoked"))
        .check_credentials()
        .await
        .expect_err("a revoked authorization");
    assert!(
        matches!(&err, ConnectorError::Auth { status: 400, message } if message.contains("invalid_grant")),
        "{err:?}"
    );
    assert!(!format!("{err:?} {err}").contains("revoked"));
    assert!(matches!(JobError::from(err), JobError::Permanent(_)));

    let err = with(&|c| c.credentials.client_secret = Secret::new("amzn1.oa2-cs.v1.wrong"))
        .check_credentials()
        .await
        .expect_err("another app's secret");
    assert!(
        matches!(&err, ConnectorError::Auth { status: 401, message } if message.contains("invalid_client")),
        "{err:?}"
    );

    rig.store.traffic().reset();
    let err = with(&|c| c.credentials.seller_id = "A0THERSELLER0".into())
        .check_credentials()
        .await
        .expect_err("a seller the authorization does not reach");
    assert!(
        matches!(&err, ConnectorError::Auth { status: 403, message } if message.contains("Unauthorized")),
        "{err:?}"
    );
    assert_eq!(
        requests_on(rig.store.as_ref(), TOKEN_ROUTE),
        2,
        "one more token before giving up"
    );

    let err = with(&|c| c.credentials.marketplace_id = "ATVPDKIKX0DER".into())
        .check_credentials()
        .await
        .expect_err("a marketplace the seller does not sell in");
    assert!(
        matches!(&err, ConnectorError::Rejected { status: 400, message }
            if message.contains("ATVPDKIKX0DER") && message.contains("InvalidInput")),
        "{err:?}"
    );
}

#[tokio::test]
async fn listings_are_read_whole_and_stock_reaches_the_seller() {
    let rig = amazon(|_| {}).await;
    let connector = rig.connector();
    let listings = connector.list_products().await.expect("listings");
    assert_listings_match_stock(&listings, rig.store.as_ref());
    let skus: Vec<&str> = listings.iter().filter_map(|l| l.sku.as_deref()).collect();
    let mut sorted = skus.clone();
    sorted.sort_unstable();
    assert_eq!(skus, sorted, "read in SKU order");
    let jacket = listings
        .iter()
        .find(|l| l.sku.as_deref() == Some("RJ-M"))
        .expect("the jacket is listed");
    assert_eq!(jacket.id.product_id, "RJ-M");
    assert!(jacket
        .id
        .inventory_item_id
        .as_deref()
        .is_some_and(|asin| asin.starts_with("B0")));
    assert!(jacket.price.is_some() && jacket.image_url.is_some());

    connector
        .set_stock(&jacket.id, 17)
        .await
        .expect("the patch is accepted");
    assert_eq!(rig.store.stock_by_sku()["RJ-M"], 17);

    let levels: Vec<(ListingId, i64)> = listings.iter().map(|l| (l.id.clone(), 3)).collect();
    let outcomes = connector.set_stocks(&levels).await;
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    assert!(rig.store.stock_by_sku().values().all(|q| *q == 3));

    let unknown = ListingId {
        product_id: "NOPE-1".into(),
        variant_id: None,
        inventory_item_id: None,
    };
    let err = connector
        .set_stock(&unknown, 1)
        .await
        .expect_err("no such SKU");
    assert!(
        matches!(&err, ConnectorError::Rejected { status: 404, message } if message.contains("NOPE-1")),
        "{err:?}"
    );
}

/// An unshipped order with two or more units, and its first line.
async fn order_to_ship(connector: &AmazonConnector) -> ChannelOrder {
    list_all_orders_since(connector, None, 10)
        .await
        .expect("orders")
        .into_iter()
        .find(|o| o.lines.iter().map(|l| l.quantity).sum::<u32>() >= 2)
        .expect("an order with two or more units")
}

#[tokio::test]
async fn a_shipment_is_confirmed_once_even_when_its_answer_is_lost() {
    let rig = amazon(|c| {
        c.generator.fulfilled_ratio = 0.0;
        c.generator.unpaid_ratio = 0.0;
        c.generator.max_quantity = 3;
    })
    .await;
    rig.store.create_orders(20);
    let connector = rig.connector();
    let seller = rig.seller();
    let order = order_to_ship(&connector).await;
    let line = &order.lines[0];

    let partial = FulfilmentRequest {
        channel_order_id: order.channel_order_id.clone(),
        lines: vec![FulfilmentLine {
            channel_line_id: line.channel_line_id.clone(),
            quantity: 1,
        }],
        carrier: Some("Royal Mail".into()),
        tracking_number: Some("RM123456785GB".into()),
        tracking_url: None,
    };
    assert_eq!(
        connector.find_fulfilment(&partial).await.expect("read"),
        None,
        "nothing sent yet"
    );
    let receipt = connector
        .create_fulfilment(&partial)
        .await
        .expect("the package is confirmed");
    let packages = rig.store.fulfilments();
    assert_eq!(packages.len(), 1);
    assert_eq!(packages[0].fulfilment_id, receipt.channel_fulfilment_id);
    assert_eq!(packages[0].order_name, order.channel_order_id);
    assert_eq!(packages[0].carrier.as_deref(), Some("Royal Mail"));
    assert_eq!(
        packages[0].tracking_number.as_deref(),
        Some("RM123456785GB")
    );
    assert_eq!(packages[0].lines[0].quantity, 1);
    let listed = list_all_orders_since(&connector, None, 10)
        .await
        .expect("orders");
    assert_eq!(
        status_of(&listed, &order.channel_order_id),
        Some(OrderStatus::PartiallyShipped)
    );

    // The rest of the order; Amazon records it and the answer is lost on the way back.
    let rest = FulfilmentRequest {
        lines: vec![],
        carrier: Some("Yodel".into()),
        tracking_number: Some("JD0002212345678901".into()),
        ..partial.clone()
    };
    seller.lose_fulfilment_answers(1);
    let err = connector
        .create_fulfilment(&rest)
        .await
        .expect_err("the answer is lost");
    assert!(err.is_retryable(), "{err:?}");
    assert_eq!(rig.store.fulfilments().len(), 2, "yet Amazon has it");

    // The retry asks first, and adopts it.
    let found = connector
        .find_fulfilment(&rest)
        .await
        .expect("read")
        .expect("the package is found");
    let packages = rig.store.fulfilments();
    assert_eq!(packages.len(), 2, "adopted, not sent again");
    assert_eq!(packages[1].fulfilment_id, found.channel_fulfilment_id);
    assert_eq!(packages[1].carrier.as_deref(), Some("Yodel"));
    let listed = list_all_orders_since(&connector, None, 10)
        .await
        .expect("orders");
    assert_eq!(
        status_of(&listed, &order.channel_order_id),
        Some(OrderStatus::Shipped)
    );

    // Sent again all the same, the package is edited under its reference, not added.
    rig.store.traffic().reset();
    let again = connector
        .create_fulfilment(&partial)
        .await
        .expect("an edit of the first package");
    assert_eq!(again, receipt);
    assert_eq!(rig.store.fulfilments().len(), 2);
    assert_eq!(requests_on(rig.store.as_ref(), CONFIRM_ROUTE), 1);

    let too_many = FulfilmentRequest {
        lines: vec![FulfilmentLine {
            channel_line_id: line.channel_line_id.clone(),
            quantity: line.quantity + 1,
        }],
        tracking_number: Some("RM999999995GB".into()),
        ..partial.clone()
    };
    let err = connector
        .create_fulfilment(&too_many)
        .await
        .expect_err("more than was ordered");
    assert!(
        matches!(&err, ConnectorError::Rejected { status: 400, message } if message.contains("InvalidInput")),
        "{err:?}"
    );
    assert!(matches!(JobError::from(err), JobError::Permanent(_)));

    let untracked = FulfilmentRequest {
        tracking_number: None,
        ..partial
    };
    let err = connector
        .create_fulfilment(&untracked)
        .await
        .expect_err("Amazon needs a tracking number");
    assert!(
        matches!(err, ConnectorError::Rejected { status: 422, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn fba_orders_come_in_shipped_and_take_no_shipment() {
    let rig = amazon(|c| c.afn_ratio = 1.0).await;
    rig.store.create_orders(5);
    let connector = rig.connector();
    let orders = list_all_orders_since(&connector, None, 10)
        .await
        .expect("orders");
    assert_eq!(orders.len(), 5);
    assert!(orders.iter().all(|o| o.status == OrderStatus::Shipped));
    assert!(orders.iter().all(|o| o.tags.contains(&"FBA".to_owned())));
    let err = connector
        .create_fulfilment(&FulfilmentRequest {
            channel_order_id: orders[0].channel_order_id.clone(),
            lines: vec![],
            carrier: Some("DPD".into()),
            tracking_number: Some("15501234567890".into()),
            tracking_url: None,
        })
        .await
        .expect_err("Amazon ships it");
    assert!(matches!(err, ConnectorError::Rejected { .. }), "{err:?}");
}

/// The sum of one `Money` field over the order's items, in cents.
fn cents_of(items: &[Value], field: &str) -> i64 {
    items
        .iter()
        .map(|i| {
            let amount = i[field]["Amount"].as_str().unwrap_or("0");
            (amount.parse::<f64>().unwrap_or(0.0) * 100.0).round() as i64
        })
        .sum()
}

fn cents(text: &str) -> i64 {
    (text.parse::<f64>().unwrap_or(f64::NAN) * 100.0).round() as i64
}

#[tokio::test]
async fn totals_taxes_and_promotions_map_as_amazon_states_them() {
    let rig = amazon(|c| c.generator.unpaid_ratio = 0.0).await;
    let seller = rig.seller();
    let ids = rig.store.create_orders(40);
    let connector = rig.connector();
    let orders = list_all_orders_since(&connector, None, 10)
        .await
        .expect("orders");
    let mut promoted = 0;
    for id in ids {
        let amazon_id = seller.amazon_order_id(id);
        let order = orders
            .iter()
            .find(|o| o.channel_order_id == amazon_id)
            .expect("listed");
        let raw = seller.order_json(id).expect("held");
        let items = seller.order_items_json(id).expect("held");
        let t = &order.totals;
        assert_eq!(cents(&t.subtotal), cents_of(&items, "ItemPrice"));
        assert_eq!(cents(&t.discount), cents_of(&items, "PromotionDiscount"));
        assert_eq!(cents(&t.shipping), cents_of(&items, "ShippingPrice"));
        assert_eq!(
            cents(&t.tax),
            cents_of(&items, "ItemTax") + cents_of(&items, "ShippingTax")
        );
        assert_eq!(
            t.total,
            raw["OrderTotal"]["Amount"].as_str().unwrap_or_default()
        );
        assert_eq!(
            cents(&t.total),
            cents(&t.subtotal) - cents(&t.discount) + cents(&t.shipping) + cents(&t.tax),
            "the parts add up to Amazon's total"
        );
        for (line, item) in order.lines.iter().zip(&items) {
            let price = cents_of(std::slice::from_ref(item), "ItemPrice");
            assert_eq!(cents(&line.unit_price) * i64::from(line.quantity), price);
            assert_eq!(
                cents(&line.tax),
                cents_of(std::slice::from_ref(item), "ItemTax")
            );
            assert_eq!(line.sku.as_deref(), item["SellerSKU"].as_str());
        }
        assert_eq!(order.currency, "GBP");
        assert_eq!(
            order.customer.email.as_deref(),
            raw["BuyerInfo"]["BuyerEmail"].as_str()
        );
        assert_eq!(
            order.shipping_address.as_ref().map(|a| a.postcode.clone()),
            Some(
                raw["ShippingAddress"]["PostalCode"]
                    .as_str()
                    .map(str::to_owned)
            )
        );
        if cents(&t.discount) > 0 {
            promoted += 1;
        }
    }
    assert!(promoted > 0, "some orders had a promotion");
}

#[tokio::test]
async fn amazon_sends_no_webhooks_to_verify() {
    let rig = amazon(|_| {}).await;
    let connector = rig.connector();
    assert!(!connector.verify_webhook(&axum::http::HeaderMap::new(), b"{}"));
    assert_eq!(
        connector
            .subscribe_order_webhooks("https://hooks.example/")
            .await,
        Ok(vec![])
    );
}

#[tokio::test]
async fn a_channel_skipping_fba_orders_asks_amazon_for_the_sellers_own_only() {
    let rig = amazon(|c| c.afn_ratio = 0.5).await;
    rig.store.create_orders(24);
    let mut config = rig.config.clone();
    config.orders_per_page = 5;
    let every = list_all_orders_since(&AmazonConnector::new(config.clone()).unwrap(), None, 20)
        .await
        .expect("listing succeeds");
    let fba: HashSet<String> = every
        .iter()
        .filter(|o| o.tags.iter().any(|t| t == "FBA"))
        .map(|o| o.channel_order_id.clone())
        .collect();
    assert_eq!(every.len(), 24);
    assert!(
        !fba.is_empty() && fba.len() < 24,
        "some of each: {} FBA",
        fba.len()
    );
    assert!(every
        .iter()
        .filter(|o| fba.contains(&o.channel_order_id))
        .all(|o| o.status == OrderStatus::Shipped));

    config.skip_fba = true;
    let own = list_all_orders_since(&AmazonConnector::new(config).unwrap(), None, 20)
        .await
        .expect("listing succeeds");
    let ids: HashSet<String> = own.iter().map(|o| o.channel_order_id.clone()).collect();
    let expected: HashSet<String> = every
        .iter()
        .map(|o| o.channel_order_id.clone())
        .filter(|id| !fba.contains(id))
        .collect();
    assert_eq!(ids, expected, "every page, NextToken's too, leaves FBA out");
}
