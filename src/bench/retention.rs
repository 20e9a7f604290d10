//! `switchyard bench retention`: what the prune job costs webhook delivery. The tables are filled
//! past retention (settled deliveries 40 days old, each with its event and an attempt), then a
//! burst of events is delivered twice per run: once with nothing else running, once while a
//! prune job deletes the old rows beside it. Both phases start from the same fill, and their
//! order alternates between runs so that neither always has the warmer cache.
//!
//! Throughput is from the first event written to the outbox to the last delivery the receiver
//! verified, as in `bench webhooks`; the figure to watch is the ratio of the two phases.

use std::time::{Duration, Instant};

use anyhow::Context;
use sqlx::PgPool;
use tokio::sync::watch;

use super::import::bench_database;
use super::median;
use super::webhooks::DeliveryRig;
use crate::config::Settings;
use crate::jobs::{DeliverWebhook, JobKind, Prune};
use crate::queue::EnqueueOptions;

#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Events delivered in each phase of a run: enough for several seconds of delivery, so
    /// that a phase is not over before the machine's other load has evened out.
    #[arg(long, default_value_t = 30_000)]
    pub events: usize,
    /// Settled deliveries past retention in the tables when each phase starts.
    #[arg(long, default_value_t = 200_000)]
    pub old_deliveries: i64,
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Webhook requests in flight at once, and deliver-webhook jobs run at once.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
}

/// Writes `n` deliveries of `webhook` settled 40 days ago (every third failed), each with its
/// own event and one attempt, in one statement.
pub async fn fill_old_deliveries(
    pool: &PgPool,
    store_id: i64,
    webhook: i64,
    n: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH e AS ( \
             INSERT INTO webhook_events (store_id, type, msg_id, payload, created_at) \
             SELECT $1, 'order.created', 'msg_old' || g, '{}', now() - interval '40 days' \
             FROM generate_series(1, $3) g RETURNING id), \
         d AS ( \
             INSERT INTO webhook_deliveries (webhook_id, event_id, status, attempts, \
                 round_attempts, last_attempt_at, created_at) \
             SELECT $2, id, CASE WHEN id % 3 = 0 THEN 'failed' ELSE 'delivered' END, 1, 1, \
                 now() - interval '40 days', now() - interval '40 days' FROM e RETURNING id) \
         INSERT INTO webhook_attempts (delivery_id, attempt, succeeded, response_code, \
             duration_ms, created_at) \
         SELECT id, 1, true, 200, 9, now() - interval '40 days' FROM d",
    )
    .bind(store_id)
    .bind(webhook)
    .bind(n)
    .execute(pool)
    .await?;
    Ok(())
}

/// Tops the old settled deliveries up to `n`.
async fn top_up(pool: &PgPool, store_id: i64, webhook: i64, n: i64) -> anyhow::Result<()> {
    let have = i64::try_from(old_left(pool, webhook).await?).unwrap_or(i64::MAX);
    if have < n {
        fill_old_deliveries(pool, store_id, webhook, n - have).await?;
    }
    // Fresh statistics, as autovacuum would have them on a table that grew this much.
    sqlx::query("ANALYZE webhook_deliveries, webhook_events, webhook_attempts")
        .execute(pool)
        .await?;
    Ok(())
}

/// What one phase measured.
struct Phase {
    per_sec: f64,
    /// Old deliveries the prune deleted while the burst was delivered, and whether it was still
    /// at work when the last delivery arrived.
    pruned_during: u64,
    prune_outlasted_burst: bool,
}

/// Settled deliveries of `webhook` past retention still in the table.
async fn old_left(pool: &PgPool, webhook: i64) -> anyhow::Result<u64> {
    let left: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM webhook_deliveries \
         WHERE webhook_id = $1 AND created_at < now() - interval '30 days'",
    )
    .bind(webhook)
    .fetch_one(pool)
    .await?;
    Ok(u64::try_from(left).unwrap_or_default())
}

/// Delivers a burst of `n` events from `from` on, with a prune job at work beside it when
/// `prune` is set; returns once no prune is at work any more.
async fn phase(rig: &DeliveryRig, from: usize, n: usize, prune: bool) -> anyhow::Result<Phase> {
    let queue = rig.broker.queue(Prune::QUEUE)?;
    let old_before = old_left(&rig.pool, rig.webhook).await?;
    if prune {
        queue.enqueue(&Prune {}, &EnqueueOptions::default()).await?;
        let start = Instant::now();
        while queue.stats().await?.running == 0 {
            if start.elapsed() > Duration::from_secs(30) {
                anyhow::bail!("the prune job never started");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let per_sec = rig.burst(from, n).await?;
    let prune_outlasted_burst = queue.stats().await?.running > 0;
    let pruned_during = old_before.saturating_sub(old_left(&rig.pool, rig.webhook).await?);
    let start = Instant::now();
    loop {
        let s = queue.stats().await?;
        if s.ready + s.running == 0 {
            break;
        }
        if start.elapsed() > Duration::from_secs(600) {
            anyhow::bail!("the prune job never finished");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(Phase {
        per_sec,
        pruned_during,
        prune_outlasted_burst,
    })
}

/// One run: (alone, while pruning), in the order `prune_first` says.
async fn run_once(
    base: &Settings,
    opts: &Options,
    prune_first: bool,
) -> anyhow::Result<(Phase, Phase)> {
    let mut settings = base.clone();
    let mut database = bench_database(&base.database)?;
    // A database of its own: the prune deletes every old row of the database it runs on.
    database.url = format!("{}_retention", database.url);
    settings.database = database;
    // Long enough that a prune never stops for its budget during a phase.
    settings.retention.budget_secs = 600;
    let rig = DeliveryRig::start(settings, "retention", opts.concurrency).await?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let tasks = rig.spawn_workers(&[DeliverWebhook::QUEUE, Prune::QUEUE], stop_rx)?;
    let (mut alone, mut pruning) = (None, None);
    for (i, prune) in [prune_first, !prune_first].into_iter().enumerate() {
        top_up(&rig.pool, rig.store_id, rig.webhook, opts.old_deliveries).await?;
        let measured = phase(&rig, i * opts.events, opts.events, prune).await?;
        if prune {
            pruning = Some(measured);
        } else {
            alone = Some(measured);
        }
    }
    rig.stop(stop_tx, tasks).await?;
    alone.zip(pruning).context("a phase is missing")
}

pub async fn run(settings: &Settings, opts: &Options) -> anyhow::Result<()> {
    let r = &settings.retention;
    println!(
        "switchyard bench retention: {} events delivered per phase, {} settled deliveries past \
         retention in the tables at each phase's start, {} runs; prune batches of {} rows, {} ms \
         apart; {} webhook requests in flight",
        opts.events,
        opts.old_deliveries,
        opts.runs,
        r.batch_rows,
        r.batch_pause_ms,
        opts.concurrency
    );
    let (mut without, mut with, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for run in 1..=opts.runs.max(1) {
        let (a, b) = run_once(settings, opts, run % 2 == 0).await?;
        let ratio = b.per_sec / a.per_sec.max(f64::MIN_POSITIVE);
        println!(
            "  run {run}: {:.0} deliveries/s alone, {:.0} deliveries/s while pruning = {ratio:.3} \
             ({} old deliveries pruned during the burst; prune still at work when it ended: {})",
            a.per_sec,
            b.per_sec,
            b.pruned_during,
            if b.prune_outlasted_burst { "yes" } else { "no" }
        );
        without.push(a.per_sec);
        with.push(b.per_sec);
        ratios.push(ratio);
    }
    println!(
        "median of {} runs: {:.0} deliveries/s alone, {:.0} deliveries/s while pruning; ratio \
         {:.3} (pruning costs {:.1} % of delivery throughput)",
        opts.runs.max(1),
        median(&without),
        median(&with),
        median(&ratios),
        (1.0 - median(&ratios)) * 100.0
    );
    Ok(())
}
