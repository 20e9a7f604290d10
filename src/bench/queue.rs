//! `switchyard bench queue`: bulk enqueue rate, drain rate of no-op jobs through a worker pool,
//! and idle pickup latency (enqueue to start), each the median over several runs against the
//! configured Redis, under a throwaway key prefix.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use apalis_core::task::data::Data;
use apalis_core::worker::builder::WorkerBuilder;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};

use super::{median, quantile};
use crate::config::Settings;
use crate::queue::{Broker, EnqueueOptions, QueueName, RedisBackend};
use crate::workers::spawn_pool;

#[derive(Debug, Clone)]
pub struct Options {
    pub jobs: usize,
    pub runs: usize,
    pub pickups: usize,
}

pub struct Figures {
    pub enqueue_per_s: f64,
    pub drain_per_s: f64,
    pub pickup_ms: Vec<f64>,
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    let style = ProgressStyle::with_template(&format!(
        "  {what:<14} {{bar:40}} {{pos}}/{{len}} {{per_sec}}"
    ))
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    pb.set_style(style);
    pb
}

async fn bench_settings(base: &Settings) -> Settings {
    let mut s = base.clone();
    s.redis.key_prefix = format!("sybench-{}", ulid::Ulid::new());
    s
}

/// One run of every measurement.
pub async fn run_once(base: &Settings, opts: &Options) -> anyhow::Result<Figures> {
    let settings = bench_settings(base).await;
    let broker = Broker::connect(&settings)
        .await
        .context("connecting to Redis")?;
    let queue = broker.queue("noop")?;

    let payloads: Vec<String> = (0..opts.jobs).map(|_| "{}".to_owned()).collect();
    let pb = bar(opts.jobs as u64, "enqueue");
    let started = Instant::now();
    for chunk in payloads.chunks(1000) {
        queue
            .enqueue_bulk_json(chunk, &EnqueueOptions::default())
            .await?;
        pb.inc(chunk.len() as u64);
    }
    let enqueue_s = started.elapsed().as_secs_f64();
    pb.finish_and_clear();

    let (stop_tx, stop_rx) = watch::channel(false);
    let pb = bar(opts.jobs as u64, "drain");
    let started = Instant::now();
    let pool = tokio::spawn(spawn_pool(&broker, "noop", stop_rx)?);
    loop {
        let processed = queue.processed_total().await?;
        pb.set_position(processed);
        if processed >= opts.jobs as u64 {
            break;
        }
        if started.elapsed() > Duration::from_secs(600) {
            anyhow::bail!(
                "drain did not finish in 10 minutes: {processed} of {}",
                opts.jobs
            );
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let drain_s = started.elapsed().as_secs_f64();
    pb.finish_and_clear();
    let _ = stop_tx.send(true);
    let _ = pool.await;

    let pickup_ms = pickups(&broker, opts.pickups).await?;
    queue.destroy().await?;
    Ok(Figures {
        enqueue_per_s: opts.jobs as f64 / enqueue_s,
        drain_per_s: opts.jobs as f64 / drain_s,
        pickup_ms,
    })
}

#[derive(Debug, Serialize, Deserialize)]
struct Ping {
    seq: u64,
}

async fn on_ping(
    ping: Ping,
    seen: Data<Arc<mpsc::UnboundedSender<(u64, Instant)>>>,
) -> Result<(), crate::queue::JobError> {
    let _ = seen.send((ping.seq, Instant::now()));
    Ok(())
}

/// Enqueues one job at a time to an idle worker and times enqueue-to-start.
async fn pickups(broker: &Broker, n: usize) -> anyhow::Result<Vec<f64>> {
    let name = QueueName::parse("bench-pickup").context("queue name")?;
    let mut policy = broker.settings().policy("noop");
    policy.concurrency = 1;
    policy.batch_size = 1;
    let queue = broker.queue_with_policy(name, policy);
    let (tx, mut rx) = mpsc::unbounded_channel::<(u64, Instant)>();
    let backend = RedisBackend::<Ping>::new(queue.clone());
    let worker = WorkerBuilder::new("bench-pickup")
        .backend(backend)
        .data(Arc::new(tx))
        .build(on_ping);
    let (stop_tx, stop_rx) = watch::channel(false);
    let handle = tokio::spawn(async move {
        worker
            .run_until(async move {
                crate::shutdown::wait(stop_rx).await;
                Ok::<(), std::io::Error>(())
            })
            .await
    });
    // Let the worker reach its idle wait before the first sample.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let pb = bar(n as u64, "idle pickup");
    let mut samples = Vec::with_capacity(n);
    for seq in 0..n as u64 {
        let t0 = Instant::now();
        queue
            .enqueue(&Ping { seq }, &EnqueueOptions::default())
            .await?;
        let (got, t1) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .context("no pickup within 10 s")?
            .context("worker stopped")?;
        anyhow::ensure!(got == seq, "picked up {got}, expected {seq}");
        samples.push((t1 - t0).as_secs_f64() * 1000.0);
        pb.inc(1);
        // Idle again: the next job must wake a blocked worker, not find a busy one.
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    pb.finish_and_clear();
    let _ = stop_tx.send(true);
    let _ = handle.await;
    queue.destroy().await?;
    Ok(samples)
}

pub async fn run(settings: &Settings, opts: &Options) -> anyhow::Result<()> {
    let policy = settings.policy("noop");
    println!(
        "switchyard bench queue: {} no-op jobs, {} runs, {} idle pickups per run (medians over runs)",
        opts.jobs, opts.runs, opts.pickups
    );
    println!(
        "  worker pool: concurrency {}, fetch batch {}, one process, Redis at {}",
        policy.concurrency, policy.batch_size, settings.redis.url
    );
    let mut enq = Vec::new();
    let mut drain = Vec::new();
    let mut p50 = Vec::new();
    let mut p99 = Vec::new();
    for run in 1..=opts.runs {
        let f = run_once(settings, opts).await?;
        let mut sorted = f.pickup_ms.clone();
        sorted.sort_by(|a, b| a.total_cmp(b));
        println!(
            "  run {run}: enqueue {:>9.0} jobs/s  drain {:>9.0} jobs/s  pickup p50 {:.2} ms p99 {:.2} ms",
            f.enqueue_per_s,
            f.drain_per_s,
            quantile(&sorted, 0.5),
            quantile(&sorted, 0.99)
        );
        enq.push(f.enqueue_per_s);
        drain.push(f.drain_per_s);
        p50.push(quantile(&sorted, 0.5));
        p99.push(quantile(&sorted, 0.99));
    }
    println!("switchyard (median of {} runs)", opts.runs);
    println!("  bulk enqueue      {:>10.0} jobs/s", median(&enq));
    println!("  drain (no-op)     {:>10.0} jobs/s", median(&drain));
    println!(
        "  idle pickup       p50 {:.2} ms, p99 {:.2} ms",
        median(&p50),
        median(&p99)
    );
    #[cfg(feature = "bench-apalis-redis")]
    compare_with_peer(settings, opts).await?;
    #[cfg(not(feature = "bench-apalis-redis"))]
    println!(
        "(peer baseline: build with `--features bench-apalis-redis` to measure apalis-redis 1.0.0 in the same run)"
    );
    Ok(())
}

/// The same workload through apalis-redis and switchyard, alternating, on a backlog the peer can
/// drain; plus one attempt at the full backlog to show whether the peer copes with it.
#[cfg(feature = "bench-apalis-redis")]
async fn compare_with_peer(settings: &Settings, opts: &Options) -> anyhow::Result<()> {
    use super::apalis_redis_peer as peer;
    println!("peer baseline, {}", peer::describe(settings));
    if opts.jobs > peer::PEER_MAX_JOBS {
        peer::measure(settings, opts.jobs).await?;
    }
    let jobs = opts.jobs.min(peer::PEER_MAX_JOBS);
    let small = Options {
        jobs,
        runs: 1,
        pickups: 1,
    };
    let (mut ours_enq, mut ours_drain, mut peer_enq, mut peer_drain) =
        (vec![], vec![], vec![], vec![]);
    for _ in 0..opts.runs {
        let (e, d) = peer::measure(settings, jobs).await?;
        peer_enq.push(e);
        peer_drain.push(d.unwrap_or(0.0));
        let f = run_once(settings, &small).await?;
        println!(
            "  switchyard   {jobs:>7} jobs: enqueue {:>9.0} jobs/s  drain {:>9.0} jobs/s",
            f.enqueue_per_s, f.drain_per_s
        );
        ours_enq.push(f.enqueue_per_s);
        ours_drain.push(f.drain_per_s);
    }
    println!(
        "ratio switchyard / apalis-redis at {jobs} jobs (medians of {} runs): enqueue {:.1}x, drain {:.1}x",
        opts.runs,
        median(&ours_enq) / median(&peer_enq),
        median(&ours_drain) / median(&peer_drain)
    );
    Ok(())
}
