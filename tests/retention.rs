//! Retention: once a prune job has run, settled records past their retention are gone and the
//! recent and pending ones are all still there, while webhook deliveries go on around it. Each
//! test has a database of its own (`settings_with_own_database`), filled with old rows directly.

mod app_helpers;
mod import_helpers;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use import_helpers::World;
use serde_json::json;
use sqlx::PgPool;
use switchyard::bench::retention::fill_old_deliveries;
use switchyard::jobs::{JobKind, Prune};
use switchyard::queue::{EnqueueOptions, JobStatus};
use switchyard::store::outbox::{self, OutboxItem};
use switchyard::store::webhooks::{self, NewWebhook};
use switchyard::workers::scheduler;
use switchyard_sandbox::webhook_receiver::WebhookReceiver;
use switchyard_sandbox::SandboxConfig;

/// Old settled deliveries (each with an attempt and an event of its own) put in the tables: more
/// than a few delete statements' worth at the test's batch size.
const OLD_DELIVERIES: i64 = 6_000;

/// A delivery of `webhook` and its event, made `age_days` ago, last attempted
/// `attempted_days_ago`, with `attempts` attempt rows; returns (event, delivery).
async fn delivery(
    pool: &PgPool,
    store_id: i64,
    webhook: i64,
    status: &str,
    age_days: i32,
    attempted_days_ago: i32,
    attempts: i32,
) -> (i64, i64) {
    let event: i64 = sqlx::query_scalar(
        "INSERT INTO webhook_events (store_id, type, msg_id, payload, created_at) \
         VALUES ($1, 'order.created', 'msg_' || gen_random_uuid(), '{}', \
                 now() - make_interval(days => $2)) RETURNING id",
    )
    .bind(store_id)
    .bind(age_days)
    .fetch_one(pool)
    .await
    .unwrap();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO webhook_deliveries (webhook_id, event_id, status, attempts, round_attempts, \
             last_attempt_at, created_at) \
         VALUES ($1, $2, $3, $4, $4, now() - make_interval(days => $5), \
                 now() - make_interval(days => $6)) RETURNING id",
    )
    .bind(webhook)
    .bind(event)
    .bind(status)
    .bind(attempts)
    .bind(attempted_days_ago)
    .bind(age_days)
    .fetch_one(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO webhook_attempts (delivery_id, attempt, succeeded, response_code, \
             duration_ms, created_at) \
         SELECT $1, g, false, 500, 12, now() - make_interval(days => $2) \
         FROM generate_series(1, $3) g",
    )
    .bind(id)
    .bind(attempted_days_ago)
    .bind(attempts)
    .execute(pool)
    .await
    .unwrap();
    (event, id)
}

async fn count(pool: &PgPool, sql: &str, ids: &[i64]) -> i64 {
    sqlx::query_scalar(sql)
        .bind(ids)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// A saved idempotency key, saved `hours` ago.
async fn idempotency_key(pool: &PgPool, key: &str, hours: i32) {
    sqlx::query(
        "INSERT INTO idempotency_keys (scope, key, request_hash, status, created_at) \
         VALUES ('ops', $1, '\\x00', 201, now() - make_interval(hours => $2))",
    )
    .bind(key)
    .bind(hours)
    .execute(pool)
    .await
    .unwrap();
}

/// Writes `order.created` events of `store_id` to the outbox, five to a transaction, until
/// `stop`; counts them in `written`.
async fn keep_writing_events(
    pool: PgPool,
    store_id: i64,
    written: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::Relaxed) {
        let n = written.load(Ordering::Relaxed);
        let items: Vec<OutboxItem> = (n..n + 5)
            .map(|i| OutboxItem::Event {
                payload: json!({"type": "order.created", "store_id": store_id, "order_id": i,
                                "data": {"n": i}}),
            })
            .collect();
        let mut tx = pool.begin().await.unwrap();
        outbox::push_many_in_tx(&mut tx, &items).await.unwrap();
        outbox::notify_in_tx(&mut tx).await.unwrap();
        tx.commit().await.unwrap();
        written.fetch_add(items.len(), Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_settled_rows_are_pruned_and_recent_and_pending_ones_kept_while_deliveries_go_on() {
    let metrics = switchyard::telemetry::install_metrics();
    let mut settings = app_helpers::settings_with_own_database();
    // Many short statements, so the prune runs among the deliveries rather than in one go.
    settings.retention.batch_rows = 250;
    settings.retention.batch_pause_ms = 2;
    let world = World::start_with(settings, SandboxConfig::demo(), true).await;
    let pool = world.pool.clone();

    // Orders as an import leaves them, each with its `created` history row; half of those rows
    // moved a year and more into the past.
    let shop = world.sandbox.store("demo-shop").unwrap();
    shop.create_orders(20);
    let channel = world.default_channel("demo-shop").await;
    assert_eq!(world.import(channel.id).await.status, JobStatus::Done);
    let history: Vec<i64> = sqlx::query_scalar(
        "SELECT e.id FROM order_events e JOIN orders o ON o.id = e.order_id \
         WHERE o.channel_id = $1 ORDER BY e.id",
    )
    .bind(channel.id)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(history.len() >= 20, "{history:?}");
    let (old_history, recent_history) = history.split_at(history.len() / 2);
    sqlx::query("UPDATE order_events SET at = now() - interval '400 days' WHERE id = ANY($1)")
        .bind(old_history)
        .execute(&pool)
        .await
        .unwrap();
    let orders_before: i64 =
        sqlx::query_scalar("SELECT count(*) FROM orders WHERE channel_id = $1")
            .bind(channel.id)
            .fetch_one(&pool)
            .await
            .unwrap();

    // An endpoint with deliveries of every age and state.
    let store_id = world.store("hooks").await;
    let receiver = WebhookReceiver::start(Vec::new()).await.unwrap();
    let triggers = vec!["order.created".to_owned()];
    let hook = webhooks::create(
        &pool,
        &world.deps.credentials_key,
        world.account,
        &NewWebhook {
            store_id,
            url: &receiver.url(),
            description: None,
            triggers: &triggers,
            enabled: true,
            secret: &switchyard::webhooks::generate_secret(),
        },
    )
    .await
    .unwrap()
    .id;
    fill_old_deliveries(&pool, store_id, hook, OLD_DELIVERIES)
        .await
        .unwrap();
    // Kept: still being tried however old; settled, but attempted again lately (a replay);
    // settled lately.
    let pending = delivery(&pool, store_id, hook, "pending", 40, 40, 3).await;
    let replayed = delivery(&pool, store_id, hook, "delivered", 40, 1, 2).await;
    let recent = delivery(&pool, store_id, hook, "failed", 2, 2, 4).await;
    let kept_deliveries = [pending.1, replayed.1, recent.1];
    let kept_events = [pending.0, replayed.0, recent.0];
    // Events no delivery points at (their endpoint was deleted): the old one goes.
    let orphan = |days: i32| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "INSERT INTO webhook_events (store_id, type, msg_id, payload, created_at) \
                 VALUES ($1, 'order.created', 'msg_orphan', '{}', now() - make_interval(days => $2)) \
                 RETURNING id",
            )
            .bind(store_id)
            .bind(days)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let (old_orphan, young_orphan) = (orphan(40).await, orphan(1).await);
    // Saved answers: past their 24 hours and the margin; past the 24 hours only; live.
    idempotency_key(&pool, "long-gone", 72).await;
    idempotency_key(&pool, "in-the-margin", 30).await;
    idempotency_key(&pool, "live", 0).await;

    // Deliveries flow before, during and after the prune.
    let written = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn(keep_writing_events(
        pool.clone(),
        store_id,
        written.clone(),
        stop.clone(),
    ));
    let start = Instant::now();
    while receiver.count() < 20 {
        assert!(start.elapsed() < Duration::from_secs(20), "no deliveries");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The timer's tick enqueues one prune per slot, however often it ticks.
    let now = chrono::Utc::now().timestamp() as u64;
    assert!(scheduler::enqueue_prune(&world.deps, now).await.unwrap());
    assert!(!scheduler::enqueue_prune(&world.deps, now).await.unwrap());
    let received_at_start = receiver.count();
    world.settle(Prune::QUEUE).await;
    let received_during = receiver.count() - received_at_start;
    let prune_queue = world.broker.queue(Prune::QUEUE).unwrap();
    let stats = prune_queue.stats().await.unwrap();
    let outcome = (stats.processed_total, stats.dead, stats.failed_total);
    assert_eq!(outcome, (1, 0, 0), "one run, which succeeded: {stats:?}");

    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    let written = written.load(Ordering::Relaxed);
    let got = receiver.wait_for(written, Duration::from_secs(30)).await;
    assert_eq!(got.len(), written, "every event written is delivered");
    // An attempt is recorded just after its answer arrives.
    let start = Instant::now();
    loop {
        let undelivered: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id \
             WHERE e.created_at > now() - interval '1 hour' AND d.status <> 'delivered'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        if undelivered == 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{undelivered} deliveries made meanwhile never settled"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The old settled deliveries, their attempts and events are gone.
    let old: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM webhook_events WHERE msg_id LIKE 'msg_old%') \
              + (SELECT count(*) FROM webhook_deliveries WHERE created_at < now() - interval '30 days' \
                 AND status <> 'pending' AND last_attempt_at < now() - interval '30 days') \
              + (SELECT count(*) FROM webhook_attempts WHERE created_at < now() - interval '39 days' \
                 AND succeeded)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(old, 0, "old settled webhook rows remain");
    // The pending, the replayed and the recent ones stay whole.
    let sql = "SELECT count(*) FROM webhook_deliveries WHERE id = ANY($1)";
    assert_eq!(count(&pool, sql, &kept_deliveries).await, 3);
    let sql = "SELECT count(*) FROM webhook_attempts WHERE delivery_id = ANY($1)";
    assert_eq!(count(&pool, sql, &kept_deliveries).await, 3 + 2 + 4);
    let sql = "SELECT count(*) FROM webhook_events WHERE id = ANY($1)";
    assert_eq!(count(&pool, sql, &kept_events).await, 3);
    assert_eq!(count(&pool, sql, &[old_orphan, young_orphan]).await, 1);
    assert_eq!(count(&pool, sql, &[young_orphan]).await, 1);

    // A year's history stays, older moves go; the orders themselves all stay.
    let sql = "SELECT count(*) FROM order_events WHERE id = ANY($1)";
    assert_eq!(count(&pool, sql, old_history).await, 0);
    assert_eq!(
        count(&pool, sql, recent_history).await,
        recent_history.len() as i64
    );
    let orders_after: i64 = sqlx::query_scalar("SELECT count(*) FROM orders WHERE channel_id = $1")
        .bind(channel.id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(orders_after, orders_before);

    let keys: Vec<String> = sqlx::query_scalar("SELECT key FROM idempotency_keys ORDER BY key")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(keys, ["in-the-margin", "live"]);

    // The relay leaves no outbox row behind for a prune to find.
    let start = Instant::now();
    loop {
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
            .fetch_one(&pool)
            .await
            .unwrap();
        if left == 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{left} outbox rows stay"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let text = metrics.render();
    let pruned = |table: &str| -> u64 {
        let series = format!("switchyard_pruned_rows_total{{table=\"{table}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&series)?.parse().ok())
            .unwrap_or_else(|| panic!("no {series}in {text}"))
    };
    assert!(pruned("webhook_deliveries") >= OLD_DELIVERIES as u64);
    assert!(pruned("webhook_attempts") >= OLD_DELIVERIES as u64);
    // The old deliveries' events and the old orphan.
    assert!(pruned("webhook_events") > OLD_DELIVERIES as u64);
    assert!(pruned("order_events") >= old_history.len() as u64);
    assert!(pruned("idempotency_keys") >= 1);
    eprintln!("{received_during} deliveries arrived while the prune ran");

    receiver.shutdown().await;
    world.stop().await;
}

/// A prune job enqueued by hand (as `POST /v1/queues/prune/jobs` would) with nothing to delete
/// finishes and deletes nothing recent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prune_with_nothing_past_retention_deletes_nothing() {
    let world = World::start(SandboxConfig::demo(), true).await;
    idempotency_key(&world.pool, "live", 1).await;
    let job = world
        .broker
        .queue(Prune::QUEUE)
        .unwrap()
        .enqueue(&Prune {}, &EnqueueOptions::default())
        .await
        .unwrap();
    let done = world.wait_for_job(Prune::QUEUE, &job.id).await;
    assert_eq!(done.status, JobStatus::Done, "{done:?}");
    let keys: i64 = sqlx::query_scalar("SELECT count(*) FROM idempotency_keys")
        .fetch_one(&world.pool)
        .await
        .unwrap();
    assert_eq!(keys, 1);
    world.stop().await;
}
