//! What every sales-channel connector must do against its simulator, whatever the platform: each
//! scenario takes the simulated store and a connector to it, sets the store up, and asserts what a
//! merchant would notice. `order_id` turns the simulator's order number into the id the platform
//! shows (the same digits on Shopify and WooCommerce, `202-...` on Amazon).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use switchyard::connectors::{list_all_orders_since, ConnectorError, SalesChannel};
use switchyard::domain::{ChannelOrder, OrderCursor};
use switchyard::queue::JobError;
use switchyard_sandbox::{FaultKnobs, SimStore};

/// The channel's ids of `ids`.
fn channel_ids(ids: Vec<u64>, order_id: &dyn Fn(u64) -> String) -> HashSet<String> {
    ids.into_iter().map(order_id).collect()
}

fn listed(orders: &[ChannelOrder]) -> HashSet<String> {
    orders.iter().map(|o| o.channel_order_id.clone()).collect()
}

/// `n` new orders, listed from the start across pages: each exactly once.
pub async fn every_order_is_listed_once(
    store: &dyn SimStore,
    connector: &dyn SalesChannel,
    order_id: &dyn Fn(u64) -> String,
    n: usize,
) -> Vec<ChannelOrder> {
    let created = channel_ids(store.create_orders(n), order_id);
    let orders = list_all_orders_since(connector, None, 1000)
        .await
        .expect("listing succeeds");
    assert_eq!(orders.len(), n, "no order is listed twice");
    assert_eq!(listed(&orders), created);
    orders
}

/// A since-cursor lists the orders changed at or after it: the second of the last checkpoint
/// again (changes are stamped in whole seconds), and nothing before.
pub async fn the_since_bound_is_inclusive(
    store: &dyn SimStore,
    connector: &dyn SalesChannel,
    order_id: &dyn Fn(u64) -> String,
) {
    let first = channel_ids(store.create_orders(4), order_id);
    let page = connector
        .list_orders_since(&OrderCursor::Since(None))
        .await
        .expect("first listing");
    assert_eq!(listed(&page.orders), first);
    let checkpoint = page.max_updated_at().expect("orders have times");
    let at_checkpoint: HashSet<String> = page
        .orders
        .iter()
        .filter(|o| o.channel_updated_at == checkpoint)
        .map(|o| o.channel_order_id.clone())
        .collect();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let later = channel_ids(store.create_orders(3), order_id);
    let after = connector
        .list_orders_since(&OrderCursor::Since(Some(
            checkpoint + chrono::Duration::seconds(1),
        )))
        .await
        .expect("listing past the checkpoint");
    assert_eq!(listed(&after.orders), later);
    let again = connector
        .list_orders_since(&OrderCursor::Since(Some(checkpoint)))
        .await
        .expect("listing from the checkpoint");
    let expected: HashSet<String> = later.union(&at_checkpoint).cloned().collect();
    assert_eq!(
        listed(&again.orders),
        expected,
        "the checkpoint's own second is listed again"
    );
}

/// A burst of `burst` 429s, each with `retry_after_secs` (0: none, as Amazon sends them), is
/// waited out within the call, which then succeeds.
pub async fn a_429_burst_is_waited_out(
    store: &dyn SimStore,
    connector: &dyn SalesChannel,
    burst: u32,
    retry_after_secs: f64,
) {
    store.create_orders(3);
    store.faults().set(FaultKnobs {
        burst_429: burst,
        retry_after_secs,
        ..FaultKnobs::default()
    });
    let page = connector
        .list_orders_since(&OrderCursor::Since(None))
        .await
        .expect("succeeds once the burst is waited out");
    assert_eq!(page.orders.len(), 3);
    assert_eq!(u64::from(burst), store.traffic().snapshot().responses_429);
}

/// A channel answering 5xx is unavailable, which the queue retries; once it recovers the same
/// call succeeds.
pub async fn server_errors_are_transient_and_a_retry_succeeds(
    store: &dyn SimStore,
    connector: &dyn SalesChannel,
) {
    store.faults().set(FaultKnobs {
        error_5xx_ratio: 1.0,
        ..FaultKnobs::default()
    });
    let err = connector
        .list_products()
        .await
        .expect_err("the channel is failing");
    assert!(
        matches!(err, ConnectorError::Transient { status: Some(s), .. } if s >= 500),
        "{err:?}"
    );
    assert!(matches!(JobError::from(err), JobError::Retry(_)));
    store.faults().set(FaultKnobs::default());
    let listings = connector.list_products().await.expect("the retry succeeds");
    assert_eq!(listings.len(), store.stock_by_sku().len());
}

/// A request that never answers is given up after the client's timeout (a second in these
/// tests) as a transient error, not a stuck worker.
pub async fn a_hung_request_times_out(store: &dyn SimStore, connector: &dyn SalesChannel) {
    store.faults().set(FaultKnobs {
        hang_ratio: 1.0,
        ..FaultKnobs::default()
    });
    let started = Instant::now();
    let err = connector
        .list_orders_since(&OrderCursor::Since(None))
        .await
        .expect_err("the request hangs");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "gave up after {took:?}");
    assert!(
        matches!(&err, ConnectorError::Transient { status: None, message } if message.contains("timed out")),
        "{err:?}"
    );
    store.faults().set(FaultKnobs::default());
    connector
        .list_orders_since(&OrderCursor::Since(None))
        .await
        .expect("the retry succeeds");
}

/// A body cut short is a malformed answer naming the call (`call` begins the message), which the
/// queue retries.
pub async fn a_truncated_body_is_malformed(
    store: &dyn SimStore,
    connector: &dyn SalesChannel,
    call: &str,
) {
    store.create_orders(20);
    store.faults().set(FaultKnobs {
        malformed_ratio: 1.0,
        ..FaultKnobs::default()
    });
    let err = connector
        .list_orders_since(&OrderCursor::Since(None))
        .await
        .expect_err("half a body does not parse");
    assert!(
        matches!(&err, ConnectorError::Malformed(m) if m.starts_with(call)),
        "{err:?}"
    );
    assert!(matches!(JobError::from(err), JobError::Retry(_)));
    store.faults().set(FaultKnobs::default());
}

/// An import walking `n` orders page by page goes on when the access token runs out under it:
/// `expire` makes every token issued so far expire, and is called before each page.
pub async fn an_import_survives_token_expiry(
    store: &dyn SimStore,
    connector: &dyn SalesChannel,
    order_id: &dyn Fn(u64) -> String,
    n: usize,
    expire: &dyn Fn(),
) {
    let created = channel_ids(store.create_orders(n), order_id);
    let mut cursor = OrderCursor::Since(None);
    let mut orders = Vec::new();
    let mut pages = 0;
    loop {
        expire();
        let page = connector
            .list_orders_since(&cursor)
            .await
            .expect("the page is read with a fresh token");
        orders.extend(page.orders);
        pages += 1;
        match page.next {
            Some(next) => cursor = next,
            None => break,
        }
    }
    assert!(pages > 1, "the import spans pages");
    assert_eq!(orders.len(), n, "no order is listed twice");
    assert_eq!(listed(&orders), created);
}
