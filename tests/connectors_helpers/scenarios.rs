//! What every sales-channel connector must survive against its simulator, whatever the platform:
//! each scenario takes the store and a connector to it, sets the store's faults, asserts what a
//! merchant would notice, and leaves the faults off again. A platform's test file calls them and
//! adds its own checks (the platform's words in an error, the requests its paging took).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use switchyard::connectors::{list_all_orders_since, ConnectorError, SalesChannel};
use switchyard::domain::{ChannelOrder, OrderCursor};
use switchyard::queue::JobError;
use switchyard_sandbox::{FaultKnobs, SimStore};

/// Creates `n` orders and lists every order from the start: each comes exactly once. The orders,
/// for the platform's own checks.
pub async fn every_order_once(
    store: &dyn SimStore,
    channel: &dyn SalesChannel,
    n: usize,
) -> Vec<ChannelOrder> {
    store.create_orders(n);
    let orders = list_all_orders_since(channel, None, 1000)
        .await
        .expect("listing succeeds");
    let ids: HashSet<&str> = orders.iter().map(|o| o.channel_order_id.as_str()).collect();
    assert_eq!(orders.len(), n, "every order is listed");
    assert_eq!(ids.len(), n, "no order is listed twice");
    orders
}

/// One 429 with a `Retry-After` of a second: the call waits it out and succeeds, and the store
/// served exactly that one refusal.
pub async fn a_429_is_waited_out(store: &dyn SimStore, channel: &dyn SalesChannel) {
    store.traffic().reset();
    store.faults().set(FaultKnobs {
        burst_429: 1,
        retry_after_secs: 1.0,
        ..FaultKnobs::default()
    });
    let started = Instant::now();
    channel
        .list_orders_since(&OrderCursor::Since(None))
        .await
        .expect("succeeds after the Retry-After");
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "waited {:?}",
        started.elapsed()
    );
    assert_eq!(store.traffic().snapshot().responses_429, 1);
    store.faults().set(FaultKnobs::default());
}

/// Every call answering 5xx fails as transient, carrying the status, which the queue retries;
/// once the store recovers the same call succeeds. The error, for the platform's own words.
pub async fn a_5xx_is_transient_then_the_retry_succeeds(
    store: &dyn SimStore,
    channel: &dyn SalesChannel,
) -> ConnectorError {
    store.faults().set(FaultKnobs {
        error_5xx_ratio: 1.0,
        ..FaultKnobs::default()
    });
    let err = channel
        .list_orders_since(&OrderCursor::Since(None))
        .await
        .expect_err("the store is failing");
    assert!(
        matches!(&err, ConnectorError::Transient { status: Some(s), .. } if *s >= 500),
        "{err:?}"
    );
    assert!(matches!(JobError::from(err.clone()), JobError::Retry(_)));
    store.faults().set(FaultKnobs::default());
    channel
        .list_orders_since(&OrderCursor::Since(None))
        .await
        .expect("the retry succeeds");
    err
}

/// A request the store never answers ends at the client's timeout (the harness's one second)
/// as a transient error without a status; the next call, answered, succeeds.
pub async fn a_hung_request_times_out(store: &dyn SimStore, channel: &dyn SalesChannel) {
    store.faults().set(FaultKnobs {
        hang_ratio: 1.0,
        ..FaultKnobs::default()
    });
    let started = Instant::now();
    let err = channel
        .list_orders_since(&OrderCursor::Since(None))
        .await
        .expect_err("the request hangs");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(&err, ConnectorError::Transient { status: None, message } if message.contains("timed out")),
        "{err:?}"
    );
    store.faults().set(FaultKnobs::default());
    channel
        .list_orders_since(&OrderCursor::Since(None))
        .await
        .expect("the retry succeeds");
}

/// A body cut in half is a malformed answer naming what was being read (`what`), which the
/// queue retries.
pub async fn a_truncated_body_is_malformed(
    store: &dyn SimStore,
    channel: &dyn SalesChannel,
    what: &str,
) {
    store.create_orders(5);
    store.faults().set(FaultKnobs {
        malformed_ratio: 1.0,
        ..FaultKnobs::default()
    });
    let err = channel
        .list_orders_since(&OrderCursor::Since(None))
        .await
        .expect_err("half a body does not parse");
    assert!(
        matches!(&err, ConnectorError::Malformed(m) if m.contains(what)),
        "{err:?}"
    );
    assert!(matches!(JobError::from(err), JobError::Retry(_)));
    store.faults().set(FaultKnobs::default());
}

/// Walks `n` new orders page by page with `expire` making the platform's access tokens run out
/// after the first page, as a long import meets it: the walk goes on and every order comes once.
pub async fn a_walk_survives_token_expiry(
    store: &dyn SimStore,
    channel: &dyn SalesChannel,
    n: usize,
    expire: impl Fn(),
) {
    store.create_orders(n);
    let mut cursor = OrderCursor::Since(None);
    let mut ids = HashSet::new();
    let mut pages = 0;
    loop {
        let page = channel
            .list_orders_since(&cursor)
            .await
            .unwrap_or_else(|e| panic!("page {pages} after the tokens expired: {e}"));
        pages += 1;
        ids.extend(page.orders.into_iter().map(|o| o.channel_order_id));
        if pages == 1 {
            expire();
        }
        match page.next {
            Some(next) => cursor = next,
            None => break,
        }
    }
    assert!(pages > 1, "the walk took one page; expiry met nothing");
    assert_eq!(ids.len(), n, "every order, once");
}
