//! The store layer against the real PostgreSQL: idempotent order upserts, status history, lines,
//! list filters and cursor paging, import state and the outbox.

mod app_helpers;
mod tenant_helpers;

use std::collections::HashSet;
use std::time::Duration;

use app_helpers::{key, settings};
use sqlx::PgPool;
use switchyard::domain::{decide, ChannelSettings, Decision};
use switchyard::domain::{OrderCursor, OrderStatus, SyncStatus};
use switchyard::jobs::{ImportOrders, ImportReason};
use switchyard::store::channels;
use switchyard::store::import_state::{self, RunOutcome};
use switchyard::store::orders::{self, OrderFilter, StoredOrder};
use switchyard::store::outbox::{self, OutboxItem, Taken};
use switchyard::store::AccountId;
use tenant_helpers::{
    at, channel, channel_with, line, order, order_events, pool, stored_order, tenant,
    tenant_with_channel, unique, upsert,
};

async fn updated_at(pool: &PgPool, order_id: i64) -> chrono::DateTime<chrono::Utc> {
    sqlx::query_scalar("SELECT updated_at FROM orders WHERE id = $1")
        .bind(order_id)
        .fetch_one(pool)
        .await
        .expect("order read")
}

/// The id of a stored order's line `channel_line_id`.
fn line_id(stored: &StoredOrder, channel_line_id: &str) -> Option<i64> {
    stored
        .order
        .order
        .lines
        .iter()
        .find(|l| l.channel_line_id == channel_line_id)
        .and_then(|l| l.id)
}

/// A filter of up to 200 orders, narrowed by the test.
fn up_to_200() -> OrderFilter {
    OrderFilter {
        limit: 200,
        ..OrderFilter::default()
    }
}

/// The orders `account` lists with `filter`, one page.
async fn listed(pool: &PgPool, account: AccountId, filter: &OrderFilter) -> Vec<StoredOrder> {
    orders::list_orders(pool, account, filter)
        .await
        .expect("orders listed")
        .orders
}

#[tokio::test]
async fn importing_the_same_order_twice_changes_nothing() {
    let pool = pool().await;
    let (t, ch) = tenant_with_channel(&pool).await;
    let o = order(&unique("o"));

    let first = upsert(&pool, &ch, &o, &Decision::Import).await;
    assert!(first.created && first.changed);
    assert_eq!(first.sync_status, SyncStatus::Pending);
    let stamp = updated_at(&pool, first.order_id).await;

    let second = upsert(&pool, &ch, &o, &Decision::Import).await;
    assert_eq!(second.order_id, first.order_id);
    assert!(!second.created && !second.changed, "{second:?}");
    assert_eq!(second.status_change, None);
    assert_eq!(
        updated_at(&pool, first.order_id).await,
        stamp,
        "no updated_at bump"
    );

    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM orders WHERE channel_id = $1")
        .bind(ch.id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, 1);
    let lines: i64 = sqlx::query_scalar("SELECT count(*) FROM order_lines WHERE order_id = $1")
        .bind(first.order_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(lines, 2, "lines are not duplicated");
    assert_eq!(
        order_events(&pool, first.order_id).await,
        vec![("created".to_owned(), None, "unshipped".to_owned())]
    );

    let stored = stored_order(&pool, t.account, first.order_id).await;
    assert_eq!(stored.order.order.channel_order_id, o.channel_order_id);
    assert_eq!(stored.order.order.totals, o.totals);
    assert_eq!(stored.order.order.shipping_address, o.shipping_address);
    assert_eq!(stored.order.store_id, ch.store_id);
    assert_eq!(stored.order.order.lines.len(), 2);
    assert!(stored.order.order.lines.iter().all(|l| l.id.is_some()));
}

#[tokio::test]
async fn status_changes_are_recorded_as_events() {
    let pool = pool().await;
    let key = key(&settings());
    let t = tenant(&pool).await;
    let settings = ChannelSettings::default();
    let ch = channel_with(&pool, &key, t.account, settings.clone()).await;

    let mut o = order(&unique("o"));
    o.status = OrderStatus::Unpaid;
    o.paid_at = None;
    let decision = decide(&settings, &o);
    assert!(matches!(decision, Decision::Exclude { .. }));
    let first = upsert(&pool, &ch, &o, &decision).await;
    assert_eq!(first.sync_status, SyncStatus::Excluded, "kept, not dropped");
    let stored = stored_order(&pool, t.account, first.order_id).await;
    assert!(stored
        .excluded_reason
        .is_some_and(|r| r.contains("not paid")));

    // Paid later: the excluded order becomes work.
    o.status = OrderStatus::Unshipped;
    o.paid_at = Some(at(60));
    o.channel_updated_at = at(60);
    let paid = upsert(&pool, &ch, &o, &decide(&settings, &o)).await;
    assert!(paid.changed && !paid.created);
    assert_eq!(
        paid.status_change,
        Some((OrderStatus::Unpaid, OrderStatus::Unshipped))
    );
    assert_eq!(paid.sync_status, SyncStatus::Pending);
    let stored = stored_order(&pool, t.account, first.order_id).await;
    assert_eq!(stored.excluded_reason, None);

    // Cancelled before anyone worked on it: the status and history show it, and the order is
    // no longer work (docs/order-states.md).
    o.status = OrderStatus::Cancelled;
    o.channel_updated_at = at(120);
    let cancelled = upsert(&pool, &ch, &o, &decide(&settings, &o)).await;
    assert_eq!(
        cancelled.status_change,
        Some((OrderStatus::Unshipped, OrderStatus::Cancelled))
    );
    assert_eq!(cancelled.sync_status, SyncStatus::Excluded);
    let stored = stored_order(&pool, t.account, first.order_id).await;
    assert_eq!(
        stored.excluded_reason.as_deref(),
        Some("cancelled on the channel")
    );

    let events: Vec<(String, Option<String>, String)> = order_events(&pool, first.order_id).await;
    assert_eq!(
        events,
        vec![
            ("created".to_owned(), None, "unpaid".to_owned()),
            (
                "paid".to_owned(),
                Some("unpaid".to_owned()),
                "unshipped".to_owned()
            ),
            (
                "cancelled".to_owned(),
                Some("unshipped".to_owned()),
                "cancelled".to_owned()
            ),
        ]
    );
    let api_events = orders::events(&pool, t.account, first.order_id)
        .await
        .unwrap();
    let kinds: Vec<(&str, Option<SyncStatus>)> = api_events
        .iter()
        .map(|e| (e.kind.as_str(), e.to_sync_status))
        .collect();
    assert_eq!(
        kinds,
        [
            ("created", Some(SyncStatus::Excluded)),
            ("paid", None),
            ("taken_as_work", Some(SyncStatus::Pending)),
            ("cancelled", None),
            ("excluded", Some(SyncStatus::Excluded)),
        ],
        "channel moves and sync moves, in order"
    );
    let other = tenant(&pool).await;
    assert!(orders::events(&pool, other.account, first.order_id)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn changed_lines_are_updated_in_place_and_removed_lines_go() {
    let pool = pool().await;
    let (t, ch) = tenant_with_channel(&pool).await;
    let mut o = order(&unique("o"));
    let first = upsert(&pool, &ch, &o, &Decision::Import).await;
    let before = stored_order(&pool, t.account, first.order_id).await;
    let l1_id = line_id(&before, "L1");

    o.lines = vec![line("L1", "SKU-A", 3), line("L3", "SKU-C", 1)];
    o.channel_updated_at = at(30);
    let edited = upsert(&pool, &ch, &o, &Decision::Import).await;
    assert!(edited.changed);
    assert_eq!(edited.status_change, None);
    assert!(
        order_events(&pool, first.order_id).await.len() == 1,
        "no status change, no event"
    );

    let after = stored_order(&pool, t.account, first.order_id).await;
    let mut lines: Vec<(String, u32)> = after
        .order
        .order
        .lines
        .iter()
        .map(|l| (l.channel_line_id.clone(), l.quantity))
        .collect();
    lines.sort();
    assert_eq!(lines, vec![("L1".to_owned(), 3), ("L3".to_owned(), 1)]);
    let l1_after = line_id(&after, "L1");
    assert_eq!(l1_after, l1_id, "a line keeps its id across updates");
}

#[tokio::test]
async fn lists_filter_and_page_by_cursor_within_the_account() {
    let pool = pool().await;
    let key = key(&settings());
    let t = tenant(&pool).await;
    let a = channel(&pool, &key, t.account).await;
    let b = channel(&pool, &key, t.account).await;
    let other = tenant(&pool).await;
    let foreign = channel(&pool, &key, other.account).await;

    let mut tx = pool.begin().await.unwrap();
    for i in 0..7 {
        let mut o = order(&format!("a-{i}"));
        if i % 2 == 0 {
            o.status = OrderStatus::Unpaid;
        }
        let d = decide(&ChannelSettings::default(), &o);
        orders::upsert_order(&mut tx, &a, &o, &d).await.unwrap();
    }
    for i in 0..3 {
        orders::upsert_order(&mut tx, &b, &order(&format!("b-{i}")), &Decision::Import)
            .await
            .unwrap();
    }
    orders::upsert_order(&mut tx, &foreign, &order("f-0"), &Decision::Import)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // All ten, in pages of three, each order once.
    let mut seen = Vec::new();
    let mut filter = OrderFilter {
        limit: 3,
        ..OrderFilter::default()
    };
    let mut pages = 0;
    loop {
        let page = orders::list_orders(&pool, t.account, &filter)
            .await
            .unwrap();
        pages += 1;
        assert!(page.orders.len() <= 3);
        seen.extend(page.orders.iter().map(|o| o.order.id));
        match page.next_cursor {
            Some(c) => filter.after = switchyard::domain::PageCursor::decode(&c),
            None => break,
        }
        assert!(pages < 10, "paging ends");
    }
    assert_eq!(pages, 4);
    assert_eq!(seen.len(), 10);
    assert_eq!(
        seen.iter().collect::<HashSet<_>>().len(),
        10,
        "no order twice"
    );

    let by_channel = OrderFilter {
        channel_id: Some(b.id),
        ..up_to_200()
    };
    assert_eq!(listed(&pool, t.account, &by_channel).await.len(), 3);
    let by_store = OrderFilter {
        store_id: Some(a.store_id),
        ..up_to_200()
    };
    assert_eq!(listed(&pool, t.account, &by_store).await.len(), 7);
    let unpaid = OrderFilter {
        status: Some(OrderStatus::Unpaid),
        ..up_to_200()
    };
    let page = listed(&pool, t.account, &unpaid).await;
    assert_eq!(page.len(), 4);
    assert!(page
        .iter()
        .all(|o| o.order.order.status == OrderStatus::Unpaid));
    let excluded = OrderFilter {
        sync_status: Some(SyncStatus::Excluded),
        ..up_to_200()
    };
    assert_eq!(listed(&pool, t.account, &excluded).await.len(), 4);
    let future = OrderFilter {
        updated_since: Some(chrono::Utc::now() + chrono::TimeDelta::hours(1)),
        ..up_to_200()
    };
    assert!(listed(&pool, t.account, &future).await.is_empty());
    // Another account's channel filter finds nothing.
    let foreign_filter = OrderFilter {
        channel_id: Some(foreign.id),
        ..up_to_200()
    };
    assert!(listed(&pool, t.account, &foreign_filter).await.is_empty());
}

#[tokio::test]
async fn import_state_keeps_the_cursor_and_the_last_runs() {
    let pool = pool().await;
    let (t, ch) = tenant_with_channel(&pool).await;
    assert_eq!(import_state::load_cursor(&pool, ch.id).await.unwrap(), None);
    let health = import_state::import_health(&pool, t.account, ch.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((health.last_run_at, health.orders_imported), (None, 0));

    let cursor = OrderCursor::Since(Some(at(300)));
    let mut tx = pool.begin().await.unwrap();
    import_state::save_cursor_in_tx(&mut tx, ch.id, &cursor, 5)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(
        import_state::load_cursor(&pool, ch.id).await.unwrap(),
        None,
        "rolled back with its page"
    );

    let mut tx = pool.begin().await.unwrap();
    import_state::save_cursor_in_tx(&mut tx, ch.id, &cursor, 5)
        .await
        .unwrap();
    import_state::save_cursor_in_tx(&mut tx, ch.id, &cursor, 2)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        import_state::load_cursor(&pool, ch.id).await.unwrap(),
        Some(cursor)
    );

    import_state::record_run(&pool, ch.id, &RunOutcome::Success)
        .await
        .unwrap();
    let failed = RunOutcome::Failed {
        error: "Invalid API key".into(),
        backoff: import_state::Backoff {
            failures: 1,
            retry_job: Some("01J0000000000000000000000".into()),
            wait: Duration::from_secs(60),
            ..import_state::Backoff::default()
        },
    };
    import_state::record_run(&pool, ch.id, &failed)
        .await
        .unwrap();
    let health = import_state::import_health(&pool, t.account, ch.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(health.orders_imported, 7);
    assert_eq!(health.last_error.as_deref(), Some("Invalid API key"));
    assert!(health.last_success_at.is_some() && health.last_run_at >= health.last_success_at);
    assert_eq!(health.consecutive_failures, 1);
    assert!(health.backoff_until > health.last_run_at, "{health:?}");
    let backoff = import_state::backoff(&pool, ch.id).await.unwrap();
    assert_eq!(backoff.failures, 1);
    assert_eq!(
        backoff.retry_job.as_deref(),
        Some("01J0000000000000000000000")
    );
    assert!(backoff.wait > Duration::from_secs(50), "{backoff:?}");
    let other = tenant(&pool).await;
    assert_eq!(
        import_state::import_health(&pool, other.account, ch.id)
            .await
            .unwrap(),
        None
    );

    // Just ran: not due; a channel that never ran is.
    let key = key(&settings());
    let fresh = channel(&pool, &key, t.account).await;
    let due: Vec<i64> = channels::active_channels_due(&pool)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.channel_id)
        .collect();
    assert!(due.contains(&fresh.id));
    assert!(!due.contains(&ch.id));

    let for_import = channels::get_for_import(&pool, &key, ch.id)
        .await
        .unwrap()
        .expect("exists");
    assert_eq!(for_import.channel.id, ch.id);
    assert_eq!(
        for_import.credentials.kind(),
        switchyard::domain::ChannelKind::Shopify
    );
}

#[tokio::test]
async fn outbox_rows_commit_with_their_transaction_and_are_taken_once() {
    let pool = pool().await;
    let marker = unique("evt");
    let job = OutboxItem::job(
        &ImportOrders {
            channel_id: 77,
            reason: ImportReason::Manual,
        },
        Some(marker.clone()),
    )
    .unwrap();
    let event = OutboxItem::Event {
        payload: serde_json::json!({"type": "order.created", "marker": marker}),
    };

    let mut tx = pool.begin().await.unwrap();
    outbox::push_in_tx(&mut tx, &job).await.unwrap();
    tx.rollback().await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    let job_id = outbox::push_in_tx(&mut tx, &job).await.unwrap();
    let event_id = outbox::push_in_tx(&mut tx, &event).await.unwrap();
    tx.commit().await.unwrap();

    // Other tests share the outbox, so take everything and look for ours.
    let mut relay = pool.begin().await.unwrap();
    let batch = outbox::take_batch(&mut relay, 10_000).await.unwrap();
    let ours: Vec<OutboxItem> = batch
        .iter()
        .filter(|(id, _)| *id == job_id || *id == event_id)
        .map(|(_, taken)| as_written(taken))
        .collect();
    assert_eq!(ours.len(), 2, "the rolled-back push left nothing");
    assert!(ours.contains(&job));
    assert!(ours.contains(&event));

    // While the first relay holds them, a second takes none of them.
    let mut second = pool.begin().await.unwrap();
    let other = outbox::take_batch(&mut second, 10_000).await.unwrap();
    assert!(other.iter().all(|(id, _)| *id != job_id && *id != event_id));
    second.rollback().await.unwrap();

    assert_eq!(
        outbox::delete(&mut relay, &[job_id, event_id])
            .await
            .unwrap(),
        2
    );
    relay.commit().await.unwrap();
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE id = ANY($1)")
        .bind(vec![job_id, event_id])
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
}

/// A taken outbox row as the item that was written (jobs and events, as this file writes them).
fn as_written(taken: &Taken) -> OutboxItem {
    let json = |text: &str| serde_json::from_str(text).expect("the payload is JSON");
    match taken {
        Taken::Job {
            queue,
            payload,
            unique_key,
        } => OutboxItem::Job {
            queue: queue.clone(),
            payload: json(payload),
            unique_key: unique_key.clone(),
        },
        Taken::Event { payload, .. } => OutboxItem::Event {
            payload: json(payload),
        },
        other => panic!("this test writes no {other:?}"),
    }
}
