//! The outbox relay: rows committed by a domain transaction reach Redis even when no relay was
//! running at the time (the process died between commit and push), and leave the outbox; the
//! webhook fan-out's jobs reach Redis straight after its commit, or from their fallback row
//! when that push never happened. Each test runs on a database of its own, so no other test's
//! relay takes its rows.

mod app_helpers;
mod queue_helpers;

use std::time::Duration;

use app_helpers::{drop_database, key, settings_with_own_database};
use queue_helpers::{broker_with, eventually, until_stats};
use serde_json::json;
use sqlx::PgPool;
use switchyard::config::Settings;
use switchyard::jobs::{DeliverWebhook, JobKind};
use switchyard::outbox::relay;
use switchyard::queue::{Broker, JobStatus, Queue};
use switchyard::store::outbox::{self, OutboxItem};
use switchyard::store::webhooks::{self, EventRow, FanOut, NewWebhook, OwnedAttempt};
use switchyard::store::{accounts, stores, AccountId};
use switchyard::{db, jobs::Noop};

/// Settings, a pool and a broker on a database of the test's own.
async fn own_database() -> (Settings, PgPool, Broker) {
    let mut settings = settings_with_own_database();
    // Small enough that one endpoint's three deliveries need two jobs.
    settings.webhooks.deliveries_per_job = 2;
    let pool = db::prepare(&settings.database)
        .await
        .expect("a database of its own");
    let broker = broker_with(&settings).await;
    (settings, pool, broker)
}

/// Removes the test's queue, events stream and database.
async fn tear_down(settings: &Settings, pool: PgPool, broker: &Broker, queue: Queue) {
    queue.destroy().await.unwrap();
    let _ = redis::AsyncCommands::del::<_, ()>(&mut broker.conn(), relay::events_key(broker)).await;
    pool.close().await;
    drop_database(settings).await;
}

async fn until_outbox_empty(pool: &PgPool, limit: Duration) {
    eventually(limit, "the outbox to empty", || async {
        let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
            .fetch_one(pool)
            .await
            .unwrap();
        (rows == 0).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_committed_while_no_relay_ran_are_pushed_once_one_starts() {
    let (settings, pool, broker) = own_database().await;

    // A domain transaction writes its jobs and events and commits; nothing relays yet.
    let mut tx = pool.begin().await.unwrap();
    for item in [
        OutboxItem::job(&Noop::default(), None).unwrap(),
        OutboxItem::job(&Noop::default(), Some("sync-stock:1".into())).unwrap(),
        OutboxItem::job(&Noop::default(), Some("sync-stock:1".into())).unwrap(),
        OutboxItem::Event {
            payload: json!({"type": "order.created", "order_id": 42}),
        },
    ] {
        outbox::push_in_tx(&mut tx, &item).await.unwrap();
    }
    tx.commit().await.unwrap();
    let queue = broker.queue("noop").unwrap();
    assert_eq!(queue.stats().await.unwrap().enqueued_total, 0);

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(relay::run(pool.clone(), broker.clone(), stop_rx));
    until_outbox_empty(&pool, Duration::from_secs(10)).await;
    // Two jobs: the second unique one coalesced with the first while it waited.
    assert_eq!(queue.stats().await.unwrap().ready, 2);
    let events = relay::read_events(&broker, 10).await.unwrap();
    assert_eq!(
        events,
        vec![json!({"type": "order.created", "order_id": 42})]
    );

    // A row written while the relay runs is pushed promptly (woken by NOTIFY, not the poll).
    let mut tx = pool.begin().await.unwrap();
    outbox::push_in_tx(&mut tx, &OutboxItem::job(&Noop::default(), None).unwrap())
        .await
        .unwrap();
    outbox::notify_in_tx(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    until_stats(
        &queue,
        Duration::from_millis(900),
        "the new row to be relayed",
        |s| s.ready == 3,
    )
    .await;

    let _ = stop_tx.send(true);
    let _ = running.await;
    tear_down(&settings, pool, &broker, queue).await;
}

/// A store with one webhook subscribed to `order.created`.
struct Hooked {
    account: AccountId,
    store: i64,
    webhook: i64,
}

async fn store_with_webhook(settings: &Settings, pool: &PgPool) -> Hooked {
    let key = key(settings);
    let (account, _) = accounts::create_account(pool, "relay", "t").await.unwrap();
    let store = stores::create(pool, account, "s").await.unwrap();
    let triggers = vec!["order.created".to_owned()];
    let webhook = webhooks::create(
        pool,
        &key,
        account,
        &NewWebhook {
            store_id: store.id,
            url: "http://127.0.0.1:9/hook",
            description: None,
            triggers: &triggers,
            enabled: true,
            secret: &switchyard::webhooks::generate_secret(),
        },
    )
    .await
    .unwrap();
    Hooked {
        account,
        store: store.id,
        webhook: webhook.id,
    }
}

async fn deliveries(pool: &PgPool) -> Vec<i64> {
    sqlx::query_scalar("SELECT id FROM webhook_deliveries ORDER BY id")
        .fetch_all(pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fan_out_queues_its_deliveries_at_once_and_leaves_no_fallback_behind() {
    let (settings, pool, broker) = own_database().await;
    let hooked = store_with_webhook(&settings, &pool).await;
    let store = hooked.store;
    let queue = broker.queue(DeliverWebhook::QUEUE).unwrap();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(relay::run(pool.clone(), broker.clone(), stop_rx));

    let mut tx = pool.begin().await.unwrap();
    for i in 0..3 {
        let event = OutboxItem::Event {
            payload: json!({"type": "order.created", "store_id": store, "data": {"id": i}}),
        };
        outbox::push_in_tx(&mut tx, &event).await.unwrap();
    }
    // Another store's event, an event nobody subscribes to and events without an integer
    // store make no delivery, and stop nothing.
    for payload in [
        json!({"type": "order.created", "store_id": store + 1000, "data": {}}),
        json!({"type": "product.created", "store_id": store, "data": {}}),
        json!({"type": "order.created", "store_id": store.to_string()}),
        json!({"type": "order.created", "store_id": 1e30}),
        json!({"type": 7, "store_id": store}),
    ] {
        outbox::push_in_tx(&mut tx, &OutboxItem::Event { payload })
            .await
            .unwrap();
    }
    outbox::notify_in_tx(&mut tx).await.unwrap();
    tx.commit().await.unwrap();

    // Far sooner than the fallback's 30 s: the relay pushed the jobs itself. The endpoint's
    // three deliveries share jobs, two at most to a job.
    until_stats(&queue, Duration::from_secs(5), "two delivery jobs", |s| {
        s.ready == 2
    })
    .await;
    let made = deliveries(&pool).await;
    assert_eq!(made.len(), 3);
    let mut jobs: Vec<serde_json::Value> = queue
        .list(JobStatus::Ready, 0, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.payload)
        .collect();
    jobs.sort_by_key(|p| p["delivery_ids"][0].as_i64());
    assert_eq!(
        jobs,
        vec![
            json!({"delivery_ids": [made[0], made[1]]}),
            json!({"delivery_ids": [made[2]]})
        ]
    );
    // The fallback row is gone once the relay has pushed its jobs, so they can never be pushed
    // a second time.
    until_outbox_empty(&pool, Duration::from_secs(5)).await;

    // Deleting the webhook deletes its deliveries and their attempts.
    let attempt = OwnedAttempt {
        delivery_id: made[0],
        webhook_id: hooked.webhook,
        succeeded: true,
        response_code: Some(200),
        duration_ms: 3,
        response_excerpt: Some("ok".into()),
        error: None,
        status: "delivered",
        next_attempt_at: None,
        disable: None,
    };
    webhooks::record_attempts(&pool, &[&attempt]).await.unwrap();
    let attempts = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM webhook_attempts")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    assert_eq!(attempts().await, 1);
    assert!(webhooks::delete(&pool, hooked.account, hooked.webhook)
        .await
        .unwrap());
    assert!(deliveries(&pool).await.is_empty());
    assert_eq!(attempts().await, 0);

    let _ = stop_tx.send(true);
    let _ = running.await;
    tear_down(&settings, pool, &broker, queue).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_whose_push_never_happened_are_queued_from_their_fallback_row() {
    let (settings, pool, broker) = own_database().await;
    let store = store_with_webhook(&settings, &pool).await.store;
    let queue = broker.queue(DeliverWebhook::QUEUE).unwrap();

    // A relay's transaction fans an event out and commits, and its process dies before it
    // pushes the jobs.
    let payload = json!({"type": "order.created", "store_id": store, "data": {"id": 1}});
    let mut tx = pool.begin().await.unwrap();
    let event = outbox::push_in_tx(&mut tx, &OutboxItem::Event { payload })
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let defer = Duration::from_millis(1500);
    let mut tx = pool.begin().await.unwrap();
    let row = EventRow {
        outbox_id: event,
        store_id: store,
        event_type: "order.created",
    };
    let fanned = webhooks::fan_out_in_tx(&mut tx, &[row], 20, defer)
        .await
        .unwrap();
    outbox::delete(&mut tx, &[event]).await.unwrap();
    tx.commit().await.unwrap();
    let committed = std::time::Instant::now();
    let made = deliveries(&pool).await;
    assert_eq!(made.len(), 1);
    let Some(FanOut { jobs, .. }) = fanned else {
        panic!("the fan-out made no jobs: {fanned:?}");
    };
    assert_eq!(
        serde_json::to_value(&jobs).unwrap(),
        json!([{ "delivery_ids": [made[0]] }])
    );

    // Until the deferral has passed no relay takes the fallback row...
    let mut look = pool.begin().await.unwrap();
    assert!(outbox::take_batch(&mut look, 100).await.unwrap().is_empty());
    look.rollback().await.unwrap();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(relay::run(pool.clone(), broker.clone(), stop_rx));
    tokio::time::sleep(Duration::from_millis(500)).await;
    if committed.elapsed() < defer {
        assert_eq!(queue.stats().await.unwrap().ready, 0);
    }
    // ...and then one does, once.
    until_stats(&queue, Duration::from_secs(5), "the fallback's job", |s| {
        s.ready == 1
    })
    .await;
    assert!(committed.elapsed() >= defer);
    until_outbox_empty(&pool, Duration::from_secs(5)).await;
    assert_eq!(queue.stats().await.unwrap().ready, 1);

    let _ = stop_tx.send(true);
    let _ = running.await;
    tear_down(&settings, pool, &broker, queue).await;
}
