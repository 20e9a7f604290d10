//! The contract every sales-channel connector keeps, written once and run against each
//! platform's simulator: paging through many pages, the inclusive bound of an updated-since
//! listing, refused credentials, rate-limit refusals waited out, server errors and hung requests
//! as retryable failures, truncated answers as malformed ones, stock reaching the platform, and a
//! shipment whose answer was lost found again rather than sent twice.
//!
//! A new connector joins by a constructor on [`Subject`] and a line in [`scenarios!`]; what only
//! its platform does (Shopify's query cost, WooCommerce's OAuth signatures) is tested in its own
//! `connectors_{platform}.rs`.

mod connectors_helpers;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use connectors_helpers::{
    amazon, assert_listings_match_stock, ebay, list_around_a_change, requests_on, shopify,
    woocommerce,
};
use switchyard::connectors::{
    list_all_orders_since, AmazonConnector, ConnectorError, EbayConnector, SalesChannel,
    ShopifyConnector, WooConnector,
};
use switchyard::domain::{FulfilmentLine, FulfilmentRequest, OrderCursor, Secret};
use switchyard::queue::JobError;
use switchyard_sandbox::{FaultKnobs, SandboxHandle, SimStore};

/// One platform as the scenarios see it: its simulator, a connector to it, and what differs
/// between platforms only in number or name.
struct Subject {
    /// Kept so the simulator serves for as long as the scenario runs.
    _sandbox: SandboxHandle,
    store: Arc<dyn SimStore>,
    connector: Arc<dyn SalesChannel>,
    /// The same channel with one credential the platform refuses, and that credential, which no
    /// error may repeat.
    refused: (Arc<dyn SalesChannel>, &'static str),
    /// What the platform says when it refuses them.
    refusal: &'static str,
    /// Orders a listing page holds, and the traffic route each page is counted under.
    page_size: usize,
    orders_route: &'static str,
    /// The `Retry-After` the platform's 429s carry, in seconds; 0 for none (Amazon's).
    retry_after_secs: f64,
}

impl Subject {
    async fn shopify() -> Subject {
        let rig = shopify(|_| {}).await;
        let mut refused = rig.config.clone();
        refused.access_token = Secret::new("shpat_wrong");
        Subject {
            connector: Arc::new(rig.connector()),
            refused: (
                Arc::new(ShopifyConnector::new(refused).expect("connector builds")),
                "shpat_wrong",
            ),
            refusal: "Invalid API key or access token",
            page_size: 10,
            orders_route: "POST /admin/api/{version}/graphql.json orders",
            retry_after_secs: 1.0,
            store: rig.store,
            _sandbox: rig.sandbox,
        }
    }

    async fn woocommerce() -> Subject {
        let rig = woocommerce(|_| {}).await;
        let mut refused = rig.config.clone();
        refused.consumer_secret = Secret::new("cs_wrong");
        Subject {
            connector: Arc::new(rig.connector()),
            refused: (
                Arc::new(WooConnector::new(refused).expect("connector builds")),
                "cs_wrong",
            ),
            refusal: "Invalid signature - provided signature does not match.",
            page_size: 100,
            orders_route: "GET /wp-json/wc/v3/orders",
            retry_after_secs: 1.0,
            store: rig.store,
            _sandbox: rig.sandbox,
        }
    }

    async fn amazon() -> Subject {
        let rig = amazon(|_| {}).await;
        let mut refused = rig.config.clone();
        refused.credentials.refresh_token = Secret::new("Atzr|revoked");
        Subject {
            connector: Arc::new(rig.connector()),
            refused: (
                Arc::new(AmazonConnector::new(refused).expect("connector builds")),
                "Atzr|revoked",
            ),
            refusal: "invalid_grant",
            page_size: rig.config.orders_per_page as usize,
            orders_route: "GET /orders/v0/orders",
            retry_after_secs: 0.0,
            store: rig.store,
            _sandbox: rig.sandbox,
        }
    }

    async fn ebay() -> Subject {
        let rig = ebay(|_| {}).await;
        let mut refused = rig.config.clone();
        refused.refresh_token = Secret::new("v^1.1#i^1#r^1#not-granted");
        Subject {
            connector: Arc::new(rig.connector()),
            refused: (
                Arc::new(EbayConnector::new(refused).expect("connector builds")),
                "not-granted",
            ),
            refusal: "invalid_grant",
            page_size: 200,
            orders_route: "GET /sell/fulfillment/v1/order",
            retry_after_secs: 1.0,
            store: rig.store,
            _sandbox: rig.sandbox,
        }
    }

    fn faults(&self, knobs: FaultKnobs) {
        self.store.faults().set(knobs);
    }
}

/// A test per scenario and platform: `scenario::platform`.
macro_rules! scenarios {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            #[tokio::test]
            async fn shopify() {
                super::$scenario(super::Subject::shopify().await).await;
            }

            #[tokio::test]
            async fn woocommerce() {
                super::$scenario(super::Subject::woocommerce().await).await;
            }

            #[tokio::test]
            async fn amazon() {
                super::$scenario(super::Subject::amazon().await).await;
            }

            #[tokio::test]
            async fn ebay() {
                super::$scenario(super::Subject::ebay().await).await;
            }
        }
    )*};
}

scenarios!(
    pages_through_every_order_once_oldest_change_first,
    an_updated_since_listing_includes_its_bound,
    refused_credentials_are_a_permanent_auth_error,
    a_burst_of_rate_limit_refusals_is_waited_out,
    server_errors_are_transient_and_a_retry_succeeds,
    a_hung_request_times_out_as_a_transient_error,
    a_truncated_answer_is_a_malformed_error_to_retry,
    a_stock_level_reaches_the_platform,
    a_shipment_whose_answer_was_lost_is_made_once,
);

async fn pages_through_every_order_once_oldest_change_first(s: Subject) {
    let n = 2 * s.page_size + 5;
    s.store.create_orders(n);
    let orders = list_all_orders_since(s.connector.as_ref(), None, 100)
        .await
        .expect("listing succeeds");
    let ids: HashSet<&str> = orders.iter().map(|o| o.channel_order_id.as_str()).collect();
    assert_eq!(orders.len(), n);
    assert_eq!(ids.len(), n, "no order is listed twice");
    assert_eq!(
        requests_on(s.store.as_ref(), s.orders_route),
        3,
        "two full pages and one of 5"
    );
    let ordered = orders
        .windows(2)
        .all(|w| w[0].channel_updated_at <= w[1].channel_updated_at);
    assert!(ordered, "oldest change first");
}

async fn an_updated_since_listing_includes_its_bound(s: Subject) {
    s.store.create_orders(5);
    let run = list_around_a_change(s.store.as_ref(), s.connector.as_ref()).await;
    assert_eq!(run.first.orders.len(), 5);
    assert_eq!(run.first.next, None, "one page");
    assert_eq!(
        run.after, run.later,
        "only the later orders, from past the bound"
    );
    // Inclusive: the orders changed in the bound's own second are listed again.
    assert_eq!(run.again.orders.len(), 8);
}

async fn refused_credentials_are_a_permanent_auth_error(s: Subject) {
    s.connector
        .check_credentials()
        .await
        .expect("the right credentials are accepted");
    let (refused, secret) = &s.refused;
    let err = refused
        .check_credentials()
        .await
        .expect_err("a wrong credential is refused");
    assert!(
        matches!(&err, ConnectorError::Auth { message, .. } if message.contains(s.refusal)),
        "{err:?}"
    );
    assert!(!format!("{err:?} {err}").contains(secret), "{err:?}");
    assert!(matches!(JobError::from(err), JobError::Permanent(_)));
}

async fn a_burst_of_rate_limit_refusals_is_waited_out(s: Subject) {
    s.store.create_orders(3);
    s.faults(FaultKnobs {
        burst_429: 2,
        retry_after_secs: s.retry_after_secs,
        ..FaultKnobs::default()
    });
    let page = s
        .connector
        .list_orders_since(&OrderCursor::Since(None))
        .await
        .expect("succeeds after waiting out the refusals");
    assert_eq!(page.orders.len(), 3);
    let traffic = s.store.traffic().snapshot();
    // Shopify's GraphQL refuses with `THROTTLED` in a 200, the others with a 429.
    assert_eq!(traffic.responses_429 + traffic.graphql_throttled, 2);
    assert_eq!(
        requests_on(s.store.as_ref(), s.orders_route),
        3,
        "two refused, then answered"
    );
}

async fn server_errors_are_transient_and_a_retry_succeeds(s: Subject) {
    s.faults(FaultKnobs {
        error_5xx_ratio: 1.0,
        ..FaultKnobs::default()
    });
    let err = s
        .connector
        .list_products()
        .await
        .expect_err("the platform is failing");
    assert!(
        matches!(
            &err,
            ConnectorError::Transient {
                status: Some(500..=599),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(matches!(JobError::from(err), JobError::Retry(_)));
    s.faults(FaultKnobs::default());
    let listings = s
        .connector
        .list_products()
        .await
        .expect("the retry succeeds");
    assert_listings_match_stock(&listings, s.store.as_ref());
}

async fn a_hung_request_times_out_as_a_transient_error(s: Subject) {
    s.faults(FaultKnobs {
        hang_ratio: 1.0,
        ..FaultKnobs::default()
    });
    let started = Instant::now();
    let err = s
        .connector
        .list_orders_since(&OrderCursor::Since(None))
        .await
        .expect_err("the request hangs");
    let took = started.elapsed();
    // The harness's client gives up after a second; a connector that retried a timeout on its
    // own would take several.
    assert!(took < Duration::from_secs(3), "gave up after {took:?}");
    assert!(
        matches!(&err, ConnectorError::Transient { status: None, message } if message.contains("timed out")),
        "{err:?}"
    );
    s.faults(FaultKnobs::default());
    s.connector
        .list_orders_since(&OrderCursor::Since(None))
        .await
        .expect("the retry succeeds");
}

async fn a_truncated_answer_is_a_malformed_error_to_retry(s: Subject) {
    s.store.create_orders(20);
    s.faults(FaultKnobs {
        malformed_ratio: 1.0,
        ..FaultKnobs::default()
    });
    let err = s
        .connector
        .list_orders_since(&OrderCursor::Since(None))
        .await
        .expect_err("half a body does not parse");
    assert!(matches!(&err, ConnectorError::Malformed(_)), "{err:?}");
    assert!(matches!(JobError::from(err), JobError::Retry(_)));
}

async fn a_stock_level_reaches_the_platform(s: Subject) {
    let listings = s.connector.list_products().await.expect("listings");
    assert_listings_match_stock(&listings, s.store.as_ref());
    let before = s.store.stock_by_sku();
    let target = &listings[0];
    let sku = target.sku.clone().expect("a SKU");
    let level = before[&sku] + 7;
    s.connector
        .set_stock(&target.id, level)
        .await
        .expect("the level is set");
    let mut expected = before;
    expected.insert(sku, level);
    assert_eq!(s.store.stock_by_sku(), expected, "that SKU moved, no other");
}

async fn a_shipment_whose_answer_was_lost_is_made_once(s: Subject) {
    s.store.create_orders(5);
    let orders = list_all_orders_since(s.connector.as_ref(), None, 10)
        .await
        .expect("orders");
    let order = &orders[0];
    let request = FulfilmentRequest {
        channel_order_id: order.channel_order_id.clone(),
        lines: order
            .lines
            .iter()
            .map(|l| FulfilmentLine {
                channel_line_id: l.channel_line_id.clone(),
                quantity: l.quantity,
            })
            .collect(),
        carrier: Some("UPS".into()),
        tracking_number: Some("1Z999AA10123456784".into()),
        tracking_url: None,
    };
    assert_eq!(
        s.connector
            .find_fulfilment(&request)
            .await
            .expect("the platform answers"),
        None,
        "nothing shipped yet"
    );
    s.store.lose_fulfilment_answers(1);
    let err = s
        .connector
        .create_fulfilment(&request)
        .await
        .expect_err("the answer is lost");
    assert!(matches!(JobError::from(err), JobError::Retry(_)));
    // The push's retry, as the worker makes it: adopt what the platform holds, or finish it
    // (WooCommerce's shipment is a tracking entry and the order's completion: its creation
    // skips the entry already there).
    let receipt = match s
        .connector
        .find_fulfilment(&request)
        .await
        .expect("the platform answers")
    {
        Some(found) => found,
        None => s
            .connector
            .create_fulfilment(&request)
            .await
            .expect("the retry finishes the shipment"),
    };
    let recorded = s.store.fulfilments();
    assert_eq!(recorded.len(), 1, "shipped once: {recorded:?}");
    assert_eq!(recorded[0].fulfilment_id, receipt.channel_fulfilment_id);
    assert_eq!(
        recorded[0].tracking_number.as_deref(),
        Some("1Z999AA10123456784")
    );
    let again = s
        .connector
        .find_fulfilment(&request)
        .await
        .expect("the platform answers");
    assert_eq!(again, Some(receipt), "found as made from now on");
}
