//! A channel's import breaker: a platform that keeps failing opens it, and while it is open no
//! import calls that platform, so the channel holds no import slot that another channel's
//! imports need. One probe after the wait; its success closes the breaker. Every opening and
//! closing is announced.

mod app_helpers;
mod import_helpers;

use std::time::{Duration, Instant};

use import_helpers::World;
use serde_json::Value;
use switchyard::config::{QueueOverrides, Settings};
use switchyard::domain::breaker::BreakerState;
use switchyard::jobs::{ImportOrders, ImportReason, JobKind};
use switchyard::outbox::relay;
use switchyard::queue::{EnqueueOptions, JobStatus};
use switchyard::store::import_state::{self, ImportHealth};
use switchyard_sandbox::config::WooStoreConfig;
use switchyard_sandbox::{FaultKnobs, SandboxConfig, SimStore};

/// Import runs failed in a row that open a breaker in these tests.
const BREAKER_FAILURES: u32 = 2;

fn settings(import_slots: usize, probe_secs: u64, probe_cap_secs: u64) -> Settings {
    let mut settings = app_helpers::settings_with_own_database();
    settings.queues.insert(
        "import_orders".into(),
        QueueOverrides {
            concurrency: Some(import_slots),
            max_attempts: Some(8),
            ..QueueOverrides::default()
        },
    );
    settings.connectors.breaker_failures = BREAKER_FAILURES;
    settings.connectors.breaker_probe_secs = probe_secs;
    settings.connectors.breaker_probe_cap_secs = probe_cap_secs;
    // A hung platform call gives up after half a second, so the failing runs end in seconds.
    settings.connectors.request_timeout_ms = 500;
    settings
}

fn woo_stores(names: &[&str]) -> SandboxConfig {
    SandboxConfig {
        woocommerce: names.iter().map(|n| WooStoreConfig::new(n)).collect(),
        ..SandboxConfig::default()
    }
}

async fn health(world: &World, channel_id: i64) -> ImportHealth {
    import_state::import_health(&world.pool, world.account, channel_id)
        .await
        .unwrap()
        .expect("the account's channel")
}

/// Waits until channel `channel_id`'s health satisfies `done`.
async fn wait_for_health(
    world: &World,
    channel_id: i64,
    what: &str,
    done: impl Fn(&ImportHealth) -> bool,
) -> ImportHealth {
    let start = Instant::now();
    loop {
        let h = health(world, channel_id).await;
        if done(&h) {
            return h;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "channel {channel_id}: {what}: {h:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn enqueue_import(world: &World, channel_id: i64) -> String {
    let job = ImportOrders {
        channel_id,
        reason: ImportReason::Manual,
    };
    world
        .broker
        .queue(ImportOrders::QUEUE)
        .unwrap()
        .enqueue(&job, &EnqueueOptions::default())
        .await
        .unwrap()
        .id
}

fn calls(store: &dyn SimStore) -> u64 {
    store.traffic().snapshot().requests_total
}

/// The breaker events announced so far: (type, channel id, breaker state in the event's data).
async fn breaker_events(world: &World) -> Vec<(String, i64, String)> {
    world.relayed().await;
    relay::read_events(&world.broker, 10_000)
        .await
        .unwrap()
        .iter()
        .filter(|e| {
            e["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("channel.breaker_"))
        })
        .map(|e: &Value| {
            (
                e["type"].as_str().unwrap_or_default().to_owned(),
                e["channel_id"].as_i64().unwrap_or_default(),
                e["data"]["breaker"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_whose_platform_always_fails_do_not_hold_up_another_channels_imports() {
    // Two import slots for four channels; no probe within the test, so an open breaker stays
    // open throughout.
    let world = World::start_with(
        settings(2, 3600, 3600),
        woo_stores(&["hangs", "errors", "healthy"]),
        true,
    )
    .await;
    let hangs = world.sandbox.store("hangs").unwrap();
    hangs.faults().set(FaultKnobs {
        hang_ratio: 1.0,
        ..FaultKnobs::default()
    });
    let errors = world.sandbox.store("errors").unwrap();
    errors.faults().set(FaultKnobs {
        error_5xx_ratio: 1.0,
        ..FaultKnobs::default()
    });
    let healthy = world.sandbox.store("healthy").unwrap();
    let failing = vec![
        world.default_channel("hangs").await.id,
        world.default_channel("hangs").await.id,
        world.default_channel("errors").await.id,
    ];
    let good = world.default_channel("healthy").await.id;

    // Each failing channel's import fails, retries, fails again and opens the breaker.
    let mut first = Vec::new();
    for &id in &failing {
        first.push(enqueue_import(&world, id).await);
    }
    for job in &first {
        let dead = world.wait_for_job(ImportOrders::QUEUE, job).await;
        assert_eq!(dead.status, JobStatus::Dead, "{dead:?}");
        let error = dead.last_error.clone().unwrap_or_default();
        assert!(error.contains("the channel's breaker is open"), "{error}");
    }
    for &id in &failing {
        let h = wait_for_health(&world, id, "breaker opens", |h| {
            h.breaker == BreakerState::Open
        })
        .await;
        assert_eq!(h.consecutive_failures, i64::from(BREAKER_FAILURES));
        assert!(
            h.breaker_opened_at.is_some() && h.next_probe_at.is_some(),
            "{h:?}"
        );
    }
    let (hang_calls, error_calls) = (calls(hangs.as_ref()), calls(errors.as_ref()));

    // Round after round, the failing channels' imports are asked for ahead of the healthy
    // channel's, as many as there are slots and more: each healthy import still completes with
    // its new orders, and no failing platform is called again.
    let mut expected = 0;
    for round in 0..5 {
        healthy.create_orders(3);
        expected += 3;
        let mut asked = Vec::new();
        for &id in &failing {
            asked.push(enqueue_import(&world, id).await);
        }
        let job = enqueue_import(&world, good).await;
        let done = world.wait_for_job(ImportOrders::QUEUE, &job).await;
        assert_eq!(done.status, JobStatus::Done, "round {round}: {done:?}");
        assert_eq!(world.orders(good).await.len(), expected, "round {round}");
        for job in &asked {
            let skipped = world.wait_for_job(ImportOrders::QUEUE, job).await;
            assert_eq!(
                skipped.status,
                JobStatus::Done,
                "round {round}: {skipped:?}"
            );
        }
    }
    assert_eq!(
        calls(hangs.as_ref()),
        hang_calls,
        "calls to the hung platform"
    );
    assert_eq!(
        calls(errors.as_ref()),
        error_calls,
        "calls to the failing platform"
    );
    for &id in &failing {
        let h = health(&world, id).await;
        assert_eq!(
            (h.breaker, h.consecutive_failures),
            (BreakerState::Open, i64::from(BREAKER_FAILURES)),
            "{h:?}"
        );
    }
    let h = health(&world, good).await;
    assert_eq!(
        (h.breaker, h.consecutive_failures),
        (BreakerState::Closed, 0)
    );
    assert_eq!(h.orders_imported, expected as i64);

    let events = breaker_events(&world).await;
    let mut opened: Vec<i64> = events
        .iter()
        .filter(|(t, _, state)| t == "channel.breaker_opened" && state == "open")
        .map(|(_, id, _)| *id)
        .collect();
    opened.sort_unstable();
    assert_eq!(opened, failing, "{events:?}");
    assert_eq!(events.len(), failing.len(), "nothing closed: {events:?}");

    // Closed by hand once the platform is back, the breaker lets the next import through.
    errors.faults().set(FaultKnobs::default());
    let reset = import_state::reset_breaker(&world.pool, world.account, failing[2])
        .await
        .unwrap()
        .expect("the account's channel");
    assert_eq!(
        (
            reset.breaker,
            reset.consecutive_failures,
            reset.next_probe_at
        ),
        (BreakerState::Closed, 0, None)
    );
    let job = enqueue_import(&world, failing[2]).await;
    let done = world.wait_for_job(ImportOrders::QUEUE, &job).await;
    assert_eq!(done.status, JobStatus::Done, "{done:?}");
    assert!(calls(errors.as_ref()) > error_calls);
    let events = breaker_events(&world).await;
    assert_eq!(
        events.last(),
        Some(&(
            "channel.breaker_closed".to_owned(),
            failing[2],
            "closed".to_owned()
        ))
    );
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_breaker_probes_once_per_wait_and_a_successful_probe_closes_it() {
    // The probe waits 1 s, then 2 s after a failed probe.
    let world = World::start_with(settings(2, 1, 8), woo_stores(&["flaky"]), true).await;
    let flaky = world.sandbox.store("flaky").unwrap();
    flaky.create_orders(4);
    flaky.faults().set(FaultKnobs {
        error_5xx_ratio: 1.0,
        ..FaultKnobs::default()
    });
    let channel = world.default_channel("flaky").await.id;
    let job = enqueue_import(&world, channel).await;
    let dead = world.wait_for_job(ImportOrders::QUEUE, &job).await;
    assert_eq!(dead.status, JobStatus::Dead, "{dead:?}");
    let opened = health(&world, channel).await;
    assert_eq!(opened.breaker, BreakerState::Open, "{opened:?}");
    // Two runs of five tries of the first page each.
    assert_eq!(calls(flaky.as_ref()), 10);

    // The probe is queued by the breaker itself: one call, which fails, and the breaker opens
    // again, for longer, still dating from its first opening.
    let reopened = wait_for_health(&world, channel, "the first probe fails", |h| {
        h.consecutive_failures == 3
    })
    .await;
    assert_eq!(reopened.breaker, BreakerState::Open, "{reopened:?}");
    assert_eq!(reopened.breaker_opened_at, opened.breaker_opened_at);
    assert!(
        reopened.next_probe_at > opened.next_probe_at,
        "{reopened:?}"
    );
    assert_eq!(calls(flaky.as_ref()), 11, "a probe is one call");
    assert_eq!(
        breaker_events(&world).await,
        vec![(
            "channel.breaker_opened".to_owned(),
            channel,
            "open".to_owned()
        )]
    );

    // The platform recovers: the next probe imports and closes the breaker.
    flaky.faults().set(FaultKnobs::default());
    let closed = wait_for_health(&world, channel, "the breaker closes", |h| {
        h.breaker == BreakerState::Closed
    })
    .await;
    assert_eq!(closed.consecutive_failures, 0);
    assert_eq!(
        (
            closed.breaker_opened_at,
            closed.next_probe_at,
            closed.last_error
        ),
        (None, None, None)
    );
    assert_eq!(world.orders(channel).await.len(), 4);
    assert_eq!(
        breaker_events(&world).await,
        vec![
            (
                "channel.breaker_opened".to_owned(),
                channel,
                "open".to_owned()
            ),
            (
                "channel.breaker_closed".to_owned(),
                channel,
                "closed".to_owned()
            ),
        ]
    );
    world.stop().await;
}
