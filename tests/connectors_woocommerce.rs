//! What only the WooCommerce connector does, against the in-process sandbox, which serves plain
//! HTTP and so checks every request's OAuth 1.0a signature as WooCommerce does. The contract
//! every connector keeps (faults, credentials, the since bound) is tests/connectors_contract.rs.

mod connectors_helpers;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use connectors_helpers::{
    assert_listings_match_stock, count_status, forged, next_webhook, requests_on, status_of,
    tampered, webhook_receiver, woocommerce,
};
use switchyard::connectors::{list_all_orders_since, ConnectorError, SalesChannel, WooConnector};
use switchyard::domain::{FulfilmentLine, FulfilmentRequest, OrderCursor, OrderStatus, Secret};
use switchyard_sandbox::FaultKnobs;

const ORDERS_ROUTE: &str = "GET /wp-json/wc/v3/orders";

#[tokio::test]
async fn pages_through_600_orders_by_total_pages() {
    let rig = woocommerce(|_| {}).await;
    rig.store.create_orders(600);
    let connector = rig.connector();

    let orders = list_all_orders_since(&connector, None, 100)
        .await
        .expect("listing succeeds");

    let ids: HashSet<&str> = orders.iter().map(|o| o.channel_order_id.as_str()).collect();
    assert_eq!(orders.len(), 600);
    assert_eq!(ids.len(), 600, "no order is listed twice");
    assert_eq!(
        requests_on(rig.store.as_ref(), ORDERS_ROUTE),
        6,
        "100 a page"
    );

    let first = &orders[0];
    let raw = rig
        .store
        .order_json(first.channel_order_id.parse().expect("numeric id"))
        .expect("the store has it");
    assert_eq!(
        first.totals.total,
        raw["total"].as_str().unwrap_or_default()
    );
    assert_eq!(
        first.totals.tax,
        raw["total_tax"].as_str().unwrap_or_default()
    );
    assert_eq!(first.currency, "GBP");
    assert_eq!(
        first.order_number,
        raw["number"].as_str().unwrap_or_default()
    );
    assert_eq!(
        first.customer.email.as_deref(),
        raw["billing"]["email"].as_str()
    );
    assert_eq!(
        first.lines[0].tax,
        raw["line_items"][0]["total_tax"]
            .as_str()
            .unwrap_or_default()
    );
    let paid = count_status(&orders, OrderStatus::Unshipped);
    let unpaid = count_status(&orders, OrderStatus::Unpaid);
    assert!(paid > 400 && unpaid > 20, "paid {paid}, unpaid {unpaid}");
    assert!(orders
        .iter()
        .filter(|o| o.status == OrderStatus::Unpaid)
        .all(|o| o.paid_at.is_none()));
}

#[tokio::test]
async fn an_unknown_key_is_an_auth_error_with_woocommerces_message() {
    // A wrong secret is the shared contract's case (tests/connectors_contract.rs); an unknown
    // key is refused before any signature is checked.
    let rig = woocommerce(|_| {}).await;
    let mut wrong_key = rig.config.clone();
    wrong_key.consumer_key = Secret::new("ck_wrong");
    let err = WooConnector::new(wrong_key)
        .expect("connector builds")
        .check_credentials()
        .await
        .expect_err("an unknown key is refused");
    assert!(
        matches!(&err, ConnectorError::Auth { status: 401, message } if message.contains("Consumer key is invalid.")),
        "{err:?}"
    );
    assert!(!format!("{err:?} {err}").contains("ck_wrong"));
}

#[tokio::test]
async fn a_429_is_waited_out_and_the_resent_call_is_signed_afresh() {
    let rig = woocommerce(|_| {}).await;
    rig.store.create_orders(3);
    rig.faults(FaultKnobs {
        burst_429: 1,
        retry_after_secs: 1.0,
        ..FaultKnobs::default()
    });
    let started = Instant::now();
    let page = rig
        .connector()
        .list_orders_since(&OrderCursor::Since(None))
        .await
        .expect("succeeds after the Retry-After");
    assert_eq!(page.orders.len(), 3);
    assert!(started.elapsed() >= Duration::from_millis(950));
    let traffic = rig.store.traffic().snapshot();
    assert_eq!(traffic.responses_429, 1);
    assert_eq!(traffic.by_status.get(&401), None, "no nonce was reused");
}

#[tokio::test]
async fn set_stock_reaches_simple_products_and_variations() {
    let rig = woocommerce(|_| {}).await;
    let connector = rig.connector();
    let listings = connector.list_products().await.expect("listings");
    assert_listings_match_stock(&listings, rig.store.as_ref());
    let find = |sku: &str| {
        listings
            .iter()
            .find(|l| l.sku.as_deref() == Some(sku))
            .unwrap_or_else(|| panic!("{sku} is listed"))
    };
    let socks = find("MS-1");
    let jacket = find("RJ-L");
    assert_eq!(socks.id.variant_id, None);
    assert!(jacket.id.variant_id.is_some());
    assert_eq!(jacket.title, "Rain Jacket - L");

    connector
        .set_stock(&socks.id, 11)
        .await
        .expect("simple product");
    connector.set_stock(&jacket.id, 4).await.expect("variation");
    let stock = rig.store.stock_by_sku();
    assert_eq!(stock.get("MS-1"), Some(&11));
    assert_eq!(stock.get("RJ-L"), Some(&4));
    assert_eq!(
        stock.get("RJ-M"),
        find("RJ-M").quantity.as_ref(),
        "siblings untouched"
    );
}

#[tokio::test]
async fn every_changed_level_goes_in_a_batch_per_product_kind_not_a_call_each() {
    let rig = woocommerce(|_| {}).await;
    let connector = rig.connector();
    let listings = connector.list_products().await.expect("listings");
    let before = rig.store.traffic().snapshot();
    let mut levels: Vec<_> = listings
        .iter()
        .enumerate()
        .map(|(i, l)| (l.id.clone(), 100 + i as i64))
        .collect();
    // One that WooCommerce does not have: refused alone, the rest apply.
    let mut gone = levels[0].0.clone();
    gone.product_id = "999999".into();
    gone.variant_id = None;
    levels.push((gone, 1));
    let outcomes = connector.set_stocks(&levels).await;
    assert_eq!(outcomes.len(), levels.len());
    let (refused, applied): (Vec<_>, Vec<_>) = outcomes.iter().partition(|o| o.is_err());
    assert_eq!(refused.len(), 1);
    assert!(
        matches!(outcomes.last(), Some(Err(ConnectorError::Rejected { message, .. })) if message.contains("woocommerce_rest_product_invalid_id")),
        "{:?}",
        outcomes.last()
    );
    assert_eq!(applied.len(), listings.len());
    let stock = rig.store.stock_by_sku();
    for (listing, (_, quantity)) in listings.iter().zip(&levels) {
        let sku = listing.sku.as_deref().expect("a sku");
        assert_eq!(stock.get(sku), Some(quantity), "{sku}");
    }
    let after = rig.store.traffic().snapshot();
    let calls = |s: &switchyard_sandbox::TrafficStats| {
        s.by_route
            .iter()
            .filter(|(r, _)| r.starts_with("POST ") || r.starts_with("PUT "))
            .map(|(_, n)| *n)
            .sum::<u64>()
    };
    let parents: HashSet<&str> = listings
        .iter()
        .filter(|l| l.id.variant_id.is_some())
        .map(|l| l.id.product_id.as_str())
        .collect();
    assert_eq!(
        calls(&after) - calls(&before),
        1 + parents.len() as u64,
        "one products/batch and one variations/batch per variable product, for {} levels",
        levels.len()
    );
}

#[tokio::test]
async fn fulfilment_adds_tracking_once_and_completes_the_order() {
    let rig = woocommerce(|c| {
        c.generator.fulfilled_ratio = 0.0;
        c.generator.unpaid_ratio = 0.0;
    })
    .await;
    rig.store.create_orders(30);
    let connector = rig.connector();
    let orders = list_all_orders_since(&connector, None, 10)
        .await
        .expect("orders");
    let multi = orders
        .iter()
        .find(|o| o.lines.len() >= 2)
        .expect("an order with two lines");
    let single = orders
        .iter()
        .find(|o| o.channel_order_id != multi.channel_order_id)
        .expect("another order");

    // Part of an order: tracking recorded, status left for the final shipment.
    let partial = FulfilmentRequest {
        channel_order_id: multi.channel_order_id.clone(),
        lines: vec![FulfilmentLine {
            channel_line_id: multi.lines[0].channel_line_id.clone(),
            quantity: multi.lines[0].quantity,
        }],
        carrier: Some("Royal Mail".into()),
        tracking_number: Some("RM123456785GB".into()),
        tracking_url: None,
    };
    connector
        .create_fulfilment(&partial)
        .await
        .expect("partial shipment");
    let listed = list_all_orders_since(&connector, None, 10)
        .await
        .expect("orders");
    assert_eq!(
        status_of(&listed, &multi.channel_order_id),
        Some(OrderStatus::Unshipped)
    );

    // A whole order, sent twice as a retried job would: one tracking, order completed.
    let whole = FulfilmentRequest {
        channel_order_id: single.channel_order_id.clone(),
        lines: vec![],
        carrier: Some("DPD".into()),
        tracking_number: Some("15501234567890".into()),
        tracking_url: Some("https://track.dpd.co.uk/parcels/15501234567890".into()),
    };
    let first = connector.create_fulfilment(&whole).await.expect("shipped");
    let second = connector.create_fulfilment(&whole).await.expect("retried");
    assert_eq!(first, second);

    let recorded = rig.store.fulfilments();
    assert_eq!(recorded.len(), 2, "{recorded:?}");
    let rm = recorded
        .iter()
        .find(|f| f.order_id.to_string() == multi.channel_order_id)
        .expect("partial tracking recorded");
    assert_eq!(rm.carrier.as_deref(), Some("Royal Mail"));
    assert_eq!(rm.tracking_number.as_deref(), Some("RM123456785GB"));
    let dpd = recorded
        .iter()
        .find(|f| f.order_id.to_string() == single.channel_order_id)
        .expect("whole-order tracking recorded");
    assert_eq!(dpd.fulfilment_id, first.channel_fulfilment_id);
    assert_eq!(dpd.carrier.as_deref(), Some("DPD"));
    assert_eq!(
        dpd.tracking_url.as_deref(),
        Some("https://track.dpd.co.uk/parcels/15501234567890")
    );
    let listed = list_all_orders_since(&connector, None, 10)
        .await
        .expect("orders");
    assert_eq!(
        status_of(&listed, &single.channel_order_id),
        Some(OrderStatus::Shipped)
    );

    let err = connector
        .create_fulfilment(&FulfilmentRequest {
            channel_order_id: "999999".into(),
            ..whole
        })
        .await
        .expect_err("no such order");
    assert!(
        matches!(&err, ConnectorError::Rejected { status: 404, message } if message.contains("Invalid ID")),
        "{err:?}"
    );
}

#[tokio::test]
async fn webhooks_verify_when_signed_and_fail_when_forged_or_tampered() {
    let rig = woocommerce(|_| {}).await;
    let (url, mut received) = webhook_receiver().await;
    rig.store
        .register_webhook("order.created", &url)
        .expect("subscribed");
    rig.store.create_orders(1);
    let hook = next_webhook(&mut received).await;
    let connector = rig.connector();

    assert!(connector.verify_webhook(&hook.headers, &hook.body));

    assert!(!connector.verify_webhook(&hook.headers, &tampered(&hook.body)));
    let forged = forged(&hook.headers, "x-wc-webhook-signature");
    assert!(!connector.verify_webhook(&forged, &hook.body));

    let mut no_secret = rig.config.clone();
    no_secret.webhook_secret = None;
    let unconfigured = WooConnector::new(no_secret).expect("connector builds");
    assert!(
        !unconfigured.verify_webhook(&hook.headers, &hook.body),
        "without a secret nothing verifies"
    );
}

#[test]
fn https_stores_get_basic_auth_and_other_schemes_are_refused() {
    use switchyard::connectors::WooConfig;
    let https = WooConfig::new(
        "https://shop.example",
        Secret::new("ck_1"),
        Secret::new("cs_1"),
    );
    let connector = WooConnector::new(https).expect("https is fine");
    let shown = format!("{connector:?}");
    assert!(shown.contains("Basic"), "{shown}");
    assert!(
        !shown.contains("cs_1") && !shown.contains("Y2tfMTpjc18x"),
        "{shown}"
    );
    let ftp = WooConfig::new("ftp://shop.example", Secret::new("ck"), Secret::new("cs"));
    assert!(matches!(
        WooConnector::new(ftp),
        Err(ConnectorError::Invalid(_))
    ));
}
