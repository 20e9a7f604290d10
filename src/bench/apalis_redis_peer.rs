//! The peer baseline for `switchyard bench queue`: the same workload through apalis-redis 1.0.0,
//! on the same Redis, in the same run. It is tuned as far as its documentation allows: the same
//! fetch batch and concurrency as switchyard's pool, results not persisted, pubsub events off.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use apalis_core::backend::TaskSink;
use apalis_core::error::BoxDynError;
use apalis_core::task::data::Data;
use apalis_core::worker::builder::WorkerBuilder;
use apalis_redis::{Config, RedisStorage};
use serde::{Deserialize, Serialize};
use tower::limit::ConcurrencyLimitLayer;

use crate::config::Settings;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PeerJob {}

async fn count(_: PeerJob, done: Data<Arc<AtomicUsize>>) -> Result<(), BoxDynError> {
    done.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

struct PeerFigures {
    enqueue_per_s: f64,
    drain_per_s: Option<f64>,
    drained: usize,
}

async fn run_once(settings: &Settings, jobs: usize) -> anyhow::Result<PeerFigures> {
    let policy = settings.policy("noop");
    let conn = apalis_redis::connect(settings.redis.url.as_str())
        .await
        .context("apalis-redis connect")?;
    let queue = format!("sybench-peer-{}", ulid::Ulid::new());
    let config = Config::default()
        .queue(&queue)
        .batch_size(policy.batch_size)
        .persist_results(false)
        .emit_events(false);
    let mut storage = RedisStorage::<PeerJob>::new(conn).with_config(config);

    let started = Instant::now();
    let mut left = jobs;
    while left > 0 {
        let n = left.min(1000);
        storage
            .push_bulk((0..n).map(|_| PeerJob {}).collect())
            .await
            .map_err(|e| anyhow::anyhow!("apalis-redis push: {e}"))?;
        left -= n;
    }
    let enqueue_s = started.elapsed().as_secs_f64();

    let done = Arc::new(AtomicUsize::new(0));
    let worker = WorkerBuilder::new(format!("{queue}-worker"))
        .backend(storage)
        .data(done.clone())
        .layer(ConcurrencyLimitLayer::new(policy.concurrency))
        .build(count);
    let started = Instant::now();
    let limit = Duration::from_secs(120);
    let watcher = done.clone();
    let run = worker.run_until(async move {
        while watcher.load(Ordering::Relaxed) < jobs && started.elapsed() < limit {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        Ok::<(), std::io::Error>(())
    });
    if let Err(e) = tokio::time::timeout(limit + Duration::from_secs(30), run).await {
        tracing::warn!(error = %e, "apalis-redis worker did not stop");
    }
    let drained = done.load(Ordering::Relaxed);
    let drain_s = started.elapsed().as_secs_f64();
    remove_keys(&settings.redis.url, &queue).await?;
    Ok(PeerFigures {
        enqueue_per_s: jobs as f64 / enqueue_s,
        drain_per_s: (drained >= jobs).then_some(jobs as f64 / drain_s),
        drained,
    })
}

/// Deletes every key the peer left under its queue name.
async fn remove_keys(url: &str, queue: &str) -> anyhow::Result<()> {
    let client = redis::Client::open(url)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    crate::queue::delete_matching(&mut conn, &format!("*{queue}*")).await?;
    Ok(())
}

/// apalis-redis 1.0.0's fetch script fails ("too many results to unpack") once 8,000 or more
/// jobs are due, so the ratio is measured on a backlog it can drain.
pub const PEER_MAX_JOBS: usize = 7_500;

/// One peer run at `jobs`; prints it and returns (enqueue, drain) jobs/s, drain None if it did not
/// finish.
pub async fn measure(settings: &Settings, jobs: usize) -> anyhow::Result<(f64, Option<f64>)> {
    let f = run_once(settings, jobs).await?;
    match f.drain_per_s {
        Some(d) => println!(
            "  apalis-redis {jobs:>7} jobs: enqueue {:>9.0} jobs/s  drain {:>9.0} jobs/s",
            f.enqueue_per_s, d
        ),
        None => println!(
            "  apalis-redis {jobs:>7} jobs: enqueue {:>9.0} jobs/s  drain failed: {} of {jobs} ran",
            f.enqueue_per_s, f.drained
        ),
    }
    Ok((f.enqueue_per_s, f.drain_per_s))
}

/// Describes how the peer is configured.
pub fn describe(settings: &Settings) -> String {
    let policy = settings.policy("noop");
    format!(
        "apalis-redis 1.0.0: batch_size {}, concurrency {} (tower ConcurrencyLimit), persist_results off, emit_events off",
        policy.batch_size, policy.concurrency
    )
}
