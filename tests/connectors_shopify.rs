//! Contract tests of the Shopify connector against the in-process sandbox: every operation, and
//! every fault the sandbox can inject, observed through the shop's own state and traffic.

mod connectors_helpers;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use connectors_helpers::{
    assert_listings_match_stock, count_status, forged, list_around_a_change, next_webhook,
    requests_on, shopify, status_of, tampered, webhook_receiver,
};
use switchyard::connectors::{
    list_all_orders_since, ConnectorError, SalesChannel, ShopifyConnector,
};
use switchyard::domain::{FulfilmentLine, FulfilmentRequest, OrderCursor, OrderStatus, Secret};
use switchyard::queue::JobError;
use switchyard_sandbox::FaultKnobs;

const ORDERS_ROUTE: &str = "GET /admin/api/{version}/orders.json";

#[tokio::test]
async fn pages_through_600_orders_following_link_headers() {
    let rig = shopify(|_| {}).await;
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
        3,
        "250 + 250 + 100"
    );
    let ordered = orders
        .windows(2)
        .all(|w| w[0].channel_updated_at <= w[1].channel_updated_at);
    assert!(ordered, "oldest change first");

    // One order, field by field, against the shop's own JSON.
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
    assert_eq!(first.currency, "USD");
    assert_eq!(
        first.lines.len(),
        raw["line_items"].as_array().map_or(0, Vec::len)
    );
    assert_eq!(
        first.lines[0].sku.as_deref(),
        raw["line_items"][0]["sku"].as_str()
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
    assert!(paid > 400 && unpaid > 20, "paid {paid}, unpaid {unpaid}");
}

#[tokio::test]
async fn a_since_cursor_lists_only_later_changes() {
    let rig = shopify(|_| {}).await;
    rig.store.create_orders(5);
    let run = list_around_a_change(rig.store.as_ref(), &rig.connector()).await;
    assert_eq!(run.first.orders.len(), 5);
    assert_eq!(run.first.next, None, "one page");
    assert_eq!(run.after, run.later);
    // The cursor is inclusive: the checkpoint's own second is listed again.
    assert_eq!(run.again.orders.len(), 8);
}

#[tokio::test]
async fn a_wrong_token_is_a_permanent_auth_error_with_shopifys_message() {
    let rig = shopify(|_| {}).await;
    rig.connector()
        .check_credentials()
        .await
        .expect("the right token is accepted");

    let mut config = rig.config.clone();
    config.access_token = Secret::new("shpat_wrong");
    let connector = ShopifyConnector::new(config).expect("connector builds");
    let err = connector
        .check_credentials()
        .await
        .expect_err("a wrong token is refused");
    match &err {
        ConnectorError::Auth { status, message } => {
            assert_eq!(*status, 401);
            assert!(
                message.contains("Invalid API key or access token"),
                "{message}"
            );
        }
        other => panic!("expected an auth error, got {other:?}"),
    }
    assert!(!format!("{err:?} {err}").contains("shpat_wrong"));
    assert!(matches!(JobError::from(err), JobError::Permanent(_)));
}

#[tokio::test]
async fn a_429_burst_is_waited_out_and_the_call_succeeds() {
    let rig = shopify(|_| {}).await;
    rig.store.create_orders(3);
    rig.faults(FaultKnobs {
        burst_429: 2,
        retry_after_secs: 0.5,
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
        "waited Retry-After twice, took {:?}",
        started.elapsed()
    );
    let traffic = rig.store.traffic().snapshot();
    assert_eq!(traffic.responses_429, 2);
    assert_eq!(requests_on(rig.store.as_ref(), ORDERS_ROUTE), 3);
}

#[tokio::test]
async fn a_retry_after_longer_than_the_wait_budget_goes_back_to_the_queue() {
    let mut rig = shopify(|_| {}).await;
    rig.config.throttle.max_wait = Duration::from_secs(1);
    rig.faults(FaultKnobs {
        burst_429: 1,
        retry_after_secs: 5.0,
        ..FaultKnobs::default()
    });
    let started = Instant::now();
    let err = rig
        .connector()
        .list_orders_since(&OrderCursor::Since(None))
        .await
        .expect_err("the wait is too long to hold");
    assert!(started.elapsed() < Duration::from_millis(1500));
    assert!(
        matches!(err, ConnectorError::RateLimited { retry_after, .. } if retry_after == Duration::from_secs(5)),
        "{err:?}"
    );
    assert!(matches!(
        JobError::from(err),
        JobError::RetryAfter { after, .. } if after == Duration::from_secs(5)
    ));
}

#[tokio::test]
async fn server_errors_are_transient_and_a_retry_succeeds() {
    let rig = shopify(|_| {}).await;
    let connector = rig.connector();
    rig.faults(FaultKnobs {
        error_5xx_ratio: 1.0,
        ..FaultKnobs::default()
    });
    let err = connector
        .list_products()
        .await
        .expect_err("the shop is failing");
    assert!(
        matches!(
            err,
            ConnectorError::Transient {
                status: Some(503),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(matches!(JobError::from(err), JobError::Retry(_)));

    rig.faults(FaultKnobs::default());
    let listings = connector.list_products().await.expect("the retry succeeds");
    assert_eq!(listings.len(), 10);
}

#[tokio::test]
async fn a_hung_request_times_out_as_a_transient_error() {
    let rig = shopify(|_| {}).await;
    let connector = rig.connector();
    rig.faults(FaultKnobs {
        hang_ratio: 1.0,
        ..FaultKnobs::default()
    });
    let started = Instant::now();
    let err = connector
        .check_credentials()
        .await
        .expect_err("the request hangs");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "gave up after {took:?}");
    assert!(
        matches!(&err, ConnectorError::Transient { status: None, message } if message.contains("timed out")),
        "{err:?}"
    );
    rig.faults(FaultKnobs::default());
    connector
        .check_credentials()
        .await
        .expect("the retry succeeds");
}

#[tokio::test]
async fn a_truncated_body_is_a_clear_malformed_error() {
    let rig = shopify(|_| {}).await;
    rig.store.create_orders(20);
    rig.faults(FaultKnobs {
        malformed_ratio: 1.0,
        ..FaultKnobs::default()
    });
    let err = rig
        .connector()
        .list_orders_since(&OrderCursor::Since(None))
        .await
        .expect_err("half a body does not parse");
    assert!(
        matches!(&err, ConnectorError::Malformed(m) if m.contains("orders page")),
        "{err:?}"
    );
    assert!(matches!(JobError::from(err), JobError::Retry(_)));
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
            "GET /admin/api/{version}/locations.json"
        ),
        1,
        "the location is learnt once"
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

/// Three tasks share one connector against a small, fast bucket (10, draining 10/s, so the test
/// takes seconds rather than the minute Shopify's 40 at 2/s would): once the throttle has learnt
/// the bucket from the first responses, not one call is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sustained_load_never_overflows_the_bucket() {
    let mut rig = shopify(|c| {
        c.bucket_capacity = 10;
        c.leak_per_second = 10.0;
    })
    .await;
    rig.config.throttle.leak_per_second = 10.0;
    rig.config.throttle.max_wait = Duration::from_secs(20);
    rig.config.http.request_timeout = Duration::from_secs(5);
    rig.store.create_orders(5);
    let connector = Arc::new(rig.connector());

    for _ in 0..3 {
        connector.check_credentials().await.expect("warm-up call");
    }
    assert_eq!(
        connector
            .throttle()
            .estimate()
            .map(|(_, capacity)| capacity),
        Some(10),
        "the bucket size is learnt from the header"
    );
    rig.store.traffic().reset();

    let started = Instant::now();
    let tasks: Vec<_> = (0..3)
        .map(|task| {
            let connector: Arc<dyn SalesChannel> = connector.clone();
            tokio::spawn(async move {
                for call in 0..49 {
                    let result = if (task + call) % 2 == 0 {
                        connector.check_credentials().await
                    } else {
                        connector
                            .list_orders_since(&OrderCursor::Since(None))
                            .await
                            .map(|_| ())
                    };
                    result.map_err(|e| format!("task {task} call {call}: {e}"))?;
                }
                Ok::<(), String>(())
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task runs").expect("every call succeeds");
    }

    let traffic = rig.store.traffic().snapshot();
    assert_eq!(traffic.requests_total, 147, "no call needed a retry");
    assert_eq!(traffic.responses_429, 0, "{traffic:?}");
    // 147 calls through a bucket of 10 draining 10/s cannot take much less than 13 s; a throttle
    // that did not wait would have finished in well under a second (and been refused).
    assert!(
        started.elapsed() >= Duration::from_secs(12),
        "took {:?}",
        started.elapsed()
    );
}
