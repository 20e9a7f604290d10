//! Order import under faults: platform errors, rate limits and hung requests, and a worker
//! process killed mid-import. Every order must end up imported exactly once.

mod import_helpers;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use import_helpers::World;
use switchyard::domain::ChannelSettings;
use switchyard::queue::{EnqueueOptions, JobStatus};
use switchyard::workers::{ImportOrders, ImportReason, JobKind};
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
    let world = World::start(SandboxConfig::demo(), true).await;
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
        assert!(traffic.responses_429 > 0, "the 429s were live: {traffic:?}");
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
    let store = world.store("brand").await;
    let channel = world
        .channel(store, "demo-woo", ChannelSettings::default())
        .await;

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
