//! Order import under faults: platform errors, rate limits and hung requests, and a worker
//! process killed mid-import. Every order must end up imported exactly once. A platform that
//! never recovers must be backed off from and end in the dead letters.

mod app_helpers;
mod import_helpers;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use import_helpers::World;
use switchyard::config::QueueOverrides;
use switchyard::domain::ChannelSettings;
use switchyard::jobs::{ImportOrders, ImportReason, JobKind};
use switchyard::queue::{EnqueueOptions, JobStatus};
use switchyard::workers::scheduler;
use switchyard_sandbox::{FaultKnobs, SandboxConfig, SimStore};

fn sandbox_ids(store: &dyn SimStore) -> BTreeSet<String> {
    store
        .orders_json(0, store.order_count())
        .iter()
        .map(|o| o["id"].as_u64().unwrap().to_string())
        .collect()
}

async fn stored_ids(world: &World, channel_id: i64) -> Vec<String> {
    world
        .orders(channel_id)
        .await
        .into_iter()
        .map(|o| o.0)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_orders_under_faults_are_each_imported_exactly_once() {
    // The faults are the point here, not Shopify's cost limit (5,000 orders read at about 20
    // points each would take a standard plan most of an hour).
    let mut config = SandboxConfig::demo();
    for shop in &mut config.shopify {
        shop.graphql = switchyard_sandbox::GraphqlPlan::Custom {
            maximum_available: 1e9,
            restore_rate: 1e9,
        };
    }
    let world = World::start(config, true).await;
    let shop = world.sandbox.store("demo-shop").unwrap();
    let woo = world.sandbox.store("demo-woo").unwrap();
    shop.create_orders(5_000);
    woo.create_orders(5_000);
    let faults = FaultKnobs {
        burst_429: 3,
        retry_after_secs: 1.0,
        error_5xx_ratio: 0.2,
        hang_ratio: 0.02,
        ..FaultKnobs::default()
    };
    shop.faults().set(faults.clone());
    woo.faults().set(faults);

    let store = world.store("brand").await;
    let s = world
        .channel(store, "demo-shop", ChannelSettings::default())
        .await;
    let w = world
        .channel(store, "demo-woo", ChannelSettings::default())
        .await;
    let (js, jw) = tokio::join!(world.import(s.id), world.import(w.id));
    assert_eq!(js.status, JobStatus::Done, "{js:?}");
    assert_eq!(jw.status, JobStatus::Done, "{jw:?}");

    for (store, channel) in [(&shop, s.id), (&woo, w.id)] {
        let stored = stored_ids(&world, channel).await;
        let unique: BTreeSet<String> = stored.iter().cloned().collect();
        assert_eq!(stored.len(), 5_000, "channel {channel}: count");
        assert_eq!(
            unique.len(),
            stored.len(),
            "channel {channel}: an order twice"
        );
        assert_eq!(
            unique,
            sandbox_ids(store.as_ref()),
            "channel {channel}: per order"
        );
        let traffic = store.traffic().snapshot();
        assert!(
            traffic.responses_5xx > 0,
            "the faults were live: {traffic:?}"
        );
        // Shopify's GraphQL refuses with THROTTLED (HTTP 200), WooCommerce with 429.
        assert!(
            traffic.responses_429 + traffic.graphql_throttled > 0,
            "the refusals were live: {traffic:?}"
        );
    }
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_process_killed_mid_import_loses_and_duplicates_no_order() {
    // No in-process workers: the import runs in `switchyard work` child processes.
    let world = World::start(SandboxConfig::demo(), false).await;
    let woo = world.sandbox.store("demo-woo").unwrap();
    woo.create_orders(3_000);
    // Slow pages, so the kill lands mid-walk: 30 pages of 100 at 150 ms and more each.
    woo.faults().set(FaultKnobs {
        latency_ms: 150,
        ..FaultKnobs::default()
    });
    let channel = world.default_channel("demo-woo").await;

    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .args(["work", "--queues", "import-orders"])
            .env("SWITCHYARD_ENV", "test")
            .env(
                "SWITCHYARD_CONFIG_DIR",
                concat!(env!("CARGO_MANIFEST_DIR"), "/config"),
            )
            .env(
                "SWITCHYARD__REDIS__KEY_PREFIX",
                &world.settings.redis.key_prefix,
            )
            .env("SWITCHYARD__QUEUES__IMPORT_ORDERS__LEASE_SECS", "2")
            // The test database holds other tests' channels: keep this process's import timer
            // from scheduling them, so only the test's own import runs here.
            .env("SWITCHYARD__TIMERS__IMPORT_SCAN_SECS", "86400")
            .env("DATABASE_URL", &world.settings.database.url)
            .env("REDIS_URL", &world.settings.redis.url)
            .env("SWITCHYARD__TIMERS__IMPORT_PRODUCTS_SECS", "86400")
            .env("SWITCHYARD__LOG__FILTER", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("switchyard starts")
    };
    let mut first = spawn();
    let queue = world.broker.queue(ImportOrders::QUEUE).unwrap();
    let job = queue
        .enqueue(
            &ImportOrders {
                channel_id: channel.id,
                reason: ImportReason::Manual,
            },
            &EnqueueOptions::default(),
        )
        .await
        .unwrap();

    // Kill it once some pages are committed and more are still to come.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let n = world.orders(channel.id).await.len();
        if n >= 300 {
            assert!(n < 3_000, "the import finished before the kill ({n})");
            break;
        }
        assert!(Instant::now() < deadline, "the import never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill().expect("SIGKILL");
    first.wait().ok();
    let at_kill = world.orders(channel.id).await.len();

    let mut second = spawn();
    let deadline = Instant::now() + Duration::from_secs(120);
    let done = loop {
        let j = queue.job(&job.id).await.unwrap().unwrap();
        if j.status == JobStatus::Done {
            break j;
        }
        assert!(
            Instant::now() < deadline,
            "the second process never finished: {j:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // The taken-over run may have left a follow-up for the rest: let the queue settle.
    world.settle(ImportOrders::QUEUE).await;
    second.kill().ok();
    second.wait().ok();

    assert!(
        done.attempts >= 2,
        "the lost attempt was taken over: {done:?}"
    );
    let stored = stored_ids(&world, channel.id).await;
    let unique: BTreeSet<String> = stored.iter().cloned().collect();
    assert!(at_kill < 3_000);
    assert_eq!(stored.len(), 3_000, "count");
    assert_eq!(unique.len(), stored.len(), "an order twice");
    assert_eq!(unique, sandbox_ids(woo.as_ref()), "per order");
    world.stop().await;
}

/// Tries of one page before an import run fails (the worker's `PAGE_TRIES`): against a platform
/// that always fails, every run is this many calls.
const CALLS_PER_RUN: usize = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_whose_platform_always_fails_backs_off_and_dead_letters_however_its_imports_race()
{
    let max_attempts = 4;
    let mut settings = app_helpers::settings_with_own_database();
    // No jitter, so each delay between runs is exact: 200, 400, 800 ms (config/test.toml).
    settings.queues.insert(
        "import_orders".into(),
        QueueOverrides {
            max_attempts: Some(max_attempts),
            backoff_jitter: Some(0.0),
            ..QueueOverrides::default()
        },
    );
    let world = World::start_with(settings, SandboxConfig::demo(), true).await;
    let woo = world.sandbox.store("demo-woo").unwrap();
    woo.faults().set(FaultKnobs {
        error_5xx_ratio: 1.0,
        ..FaultKnobs::default()
    });
    let channel = world.default_channel("demo-woo").await;

    // When each platform call arrives.
    let calls = Arc::new(Mutex::new(Vec::<Instant>::new()));
    let sampler = {
        let (woo, calls) = (woo.clone(), calls.clone());
        tokio::spawn(async move {
            let mut seen = woo.traffic().snapshot().requests_total;
            loop {
                let now = woo.traffic().snapshot().requests_total;
                for _ in seen..now {
                    calls.lock().unwrap().push(Instant::now());
                }
                seen = now;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };

    // The timer's import, and manual and webhook imports asked for again and again, as the API
    // enqueues them, until one of the channel's imports is dead.
    let queue = world.broker.queue(ImportOrders::QUEUE).unwrap();
    let started = Instant::now();
    let dead = loop {
        let now = chrono::Utc::now().timestamp() as u64;
        scheduler::enqueue_due_imports(&world.deps, now)
            .await
            .unwrap();
        for (reason, key) in [
            (ImportReason::Manual, "import-manual"),
            (ImportReason::ChannelWebhook, "import-webhook"),
        ] {
            let job = ImportOrders {
                channel_id: channel.id,
                reason,
            };
            let opts = EnqueueOptions {
                unique_key: Some(format!("{key}:{}", channel.id)),
                ..EnqueueOptions::default()
            };
            queue.enqueue(&job, &opts).await.unwrap();
        }
        for done in queue.list(JobStatus::Done, 0, 10_000).await.unwrap() {
            assert!(
                done.last_error.is_none(),
                "a failed attempt reported as done: {done:?}"
            );
        }
        if let Some(dead) = queue.list(JobStatus::Dead, 0, 1).await.unwrap().pop() {
            break dead;
        }
        let made = calls.lock().unwrap().len();
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "nothing dead-lettered after {made} platform calls"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let calls = calls.lock().unwrap().clone();
    sampler.abort();

    assert_eq!(dead.attempts, max_attempts, "{dead:?}");
    let error = dead.last_error.clone().unwrap_or_default();
    assert!(error.contains("channel unavailable"), "{error}");
    assert!(
        error.contains(&format!("{max_attempts} failed imports in a row")),
        "{error}"
    );
    // Each failure counted once, across every job that asked: max_attempts runs, no more.
    let runs: Vec<&[Instant]> = calls.chunks(CALLS_PER_RUN).collect();
    assert_eq!(
        calls.len(),
        max_attempts as usize * CALLS_PER_RUN,
        "platform calls before the dead letter"
    );
    // And each wait between runs is longer than the one before.
    let waits: Vec<Duration> = runs
        .windows(2)
        .map(|w| w[1][0] - w[0][CALLS_PER_RUN - 1])
        .collect();
    assert!(
        waits.windows(2).all(|w| w[1] > w[0]),
        "waits between runs: {waits:?}"
    );
    world.stop().await;
}
