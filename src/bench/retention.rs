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
use super::webhooks::write_events;
use crate::config::{QueueOverrides, Settings};
use crate::crypto::CredentialsKey;
use crate::jobs::{DeliverWebhook, JobKind, Prune};
use crate::outbox::relay;
use crate::queue::{Broker, EnqueueOptions};
use crate::store::webhooks::{self, NewWebhook};
use crate::workers::{self, Deps};
use switchyard_sandbox::webhook_receiver::WebhookReceiver;

#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Events delivered in each phase of a run.
    #[arg(long, default_value_t = 10_000)]
    pub events: usize,
    /// Settled deliveries past retention in the tables when each phase starts.
    #[arg(long, default_value_t = 200_000)]
    pub old_deliveries: i64,
    #[arg(long, default_value_t = 3)]
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
    let have: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM webhook_deliveries \
         WHERE webhook_id = $1 AND created_at < now() - interval '30 days'",
    )
    .bind(webhook)
    .fetch_one(pool)
    .await?;
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
    /// Rows the prune deleted while the burst was delivered, and whether it was still at work
    /// when the last delivery arrived.
    pruned_during: u64,
    prune_outlasted_burst: bool,
}

/// Everything one run needs.
struct Bench {
    pool: PgPool,
    broker: Broker,
    receiver: WebhookReceiver,
    store_id: i64,
    webhook: i64,
    written: usize,
}

impl Bench {
    /// Delivers a burst of `n` events, with a prune job at work beside it when `prune` is set.
    async fn phase(&mut self, n: usize, prune: bool) -> anyhow::Result<Phase> {
        let queue = self.broker.queue(Prune::QUEUE)?;
        let old_before = self.old_left().await?;
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
        self.receiver.clear();
        let t0 = Instant::now();
        let (from, to) = (self.written, self.written + n);
        let mut at = from;
        while at < to {
            let next = (at + 500).min(to);
            write_events(&self.pool, self.store_id, at, next).await?;
            at = next;
        }
        self.written = to;
        let limit = Duration::from_secs(120 + n as u64 / 500);
        let got = self.receiver.wait_for(n, limit).await;
        let elapsed = t0.elapsed();
        if got.len() < n {
            anyhow::bail!(
                "only {} of {n} deliveries arrived within {limit:?}",
                got.len()
            );
        }
        let unverified = got.iter().filter(|r| !r.verified).count();
        if unverified > 0 {
            anyhow::bail!("{unverified} deliveries did not verify");
        }
        let still_pruning = queue.stats().await?.running > 0;
        let pruned_during = old_before.saturating_sub(self.old_left().await?);
        // The next phase starts with no prune at work.
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
            per_sec: n as f64 / elapsed.as_secs_f64(),
            pruned_during,
            prune_outlasted_burst: still_pruning,
        })
    }

    /// Settled deliveries past retention still in the table.
    async fn old_left(&self) -> anyhow::Result<u64> {
        let left: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM webhook_deliveries \
             WHERE webhook_id = $1 AND created_at < now() - interval '30 days'",
        )
        .bind(self.webhook)
        .fetch_one(&self.pool)
        .await?;
        Ok(u64::try_from(left).unwrap_or_default())
    }
}

async fn run_once(
    base: &Settings,
    opts: &Options,
    prune_first: bool,
) -> anyhow::Result<(Phase, Phase)> {
    let mut settings = base.clone();
    settings.redis.key_prefix = format!("sybench-retention-{}", ulid::Ulid::new());
    let mut database = bench_database(&base.database)?;
    database.url = format!("{}_retention", database.url);
    settings.database = database;
    settings.webhooks.max_in_flight = opts.concurrency.max(1);
    // Long enough that a prune never stops for its budget during a phase.
    settings.retention.budget_secs = 600;
    let deliver = DeliverWebhook::QUEUE.replace('-', "_");
    let overrides = QueueOverrides {
        concurrency: Some(opts.concurrency.max(1)),
        batch_size: Some(opts.concurrency.clamp(1, 1000)),
        ..settings.queues.get(&deliver).cloned().unwrap_or_default()
    };
    settings.queues.insert(deliver, overrides);
    let pool = crate::db::prepare(&settings.database).await?;
    let broker = Broker::connect(&settings).await?;
    let key = CredentialsKey::from_hex(&settings.crypto.credentials_key)?;
    let deps = Deps::new(pool.clone(), key.clone(), broker.clone());
    let (account, store_id) = super::bench_store(&pool, "retention").await?;
    let secret = crate::webhooks::generate_secret();
    let receiver = WebhookReceiver::start(vec![secret.clone()]).await?;
    receiver.keep_bodies(false);
    let triggers = vec!["order.created".to_owned()];
    let webhook = webhooks::create(
        &pool,
        &key,
        account,
        &NewWebhook {
            store_id,
            url: &receiver.url(),
            description: Some("bench"),
            triggers: &triggers,
            enabled: true,
            secret: &secret,
        },
    )
    .await?
    .id;

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    for queue in [DeliverWebhook::QUEUE, Prune::QUEUE] {
        let pool = workers::spawn_pool_with(&broker, queue, Some(deps.clone()), stop_rx.clone())?;
        tasks.push(tokio::spawn(pool));
    }
    tasks.push(tokio::spawn(relay::run(
        pool.clone(),
        broker.clone(),
        stop_rx,
    )));

    let mut bench = Bench {
        pool: pool.clone(),
        broker: broker.clone(),
        receiver,
        store_id,
        webhook,
        written: 0,
    };
    let mut phases = Vec::new();
    for prune in [prune_first, !prune_first] {
        top_up(&pool, store_id, webhook, opts.old_deliveries).await?;
        phases.push((prune, bench.phase(opts.events, prune).await?));
    }

    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(40), t).await;
    }
    bench.receiver.shutdown().await;
    for q in crate::jobs::QUEUES {
        if let Ok(queue) = broker.queue(q) {
            let _ = queue.destroy().await;
        }
    }
    sqlx::query("DELETE FROM webhooks WHERE account_id = $1")
        .bind(account.0)
        .execute(&pool)
        .await
        .context("cleaning up")?;
    sqlx::query("DELETE FROM webhook_events WHERE store_id = $1")
        .bind(store_id)
        .execute(&pool)
        .await
        .context("cleaning up")?;
    let (mut with, mut without) = (None, None);
    for (prune, phase) in phases {
        if prune {
            with = Some(phase);
        } else {
            without = Some(phase);
        }
    }
    match (without, with) {
        (Some(without), Some(with)) => Ok((without, with)),
        _ => anyhow::bail!("a phase is missing"),
    }
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
