//! `switchyard bench webhooks`: signed deliveries per second to a local receiver, and the latency
//! from an event's commit to its delivery. Events are written to the outbox as a domain
//! transaction would; the relay fans them out, the deliver-webhook pool signs and POSTs them, and
//! the sandbox's receiver verifies every signature with the independent verifier.
//!
//! Three phases per run: the baseline, the same number of signed POSTs from a bare client to the
//! same receiver (run in the same command, so that the shared machine's load of the moment
//! weighs on both); a burst of events written as fast as the outbox takes them (throughput: from
//! the first event written to the last delivery received, also given as a ratio of the
//! baseline); then events paced at a steady rate (latency: the receiver's clock at arrival less
//! the event's commit time in the body).

use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::import::bench_database;
use super::{median, quantile};
use crate::config::{QueueOverrides, Settings};
use crate::crypto::CredentialsKey;
use crate::jobs::{DeliverWebhook, JobKind};
use crate::outbox::relay;
use crate::queue::Broker;
use crate::store::outbox::{self, OutboxItem};
use crate::store::webhooks::{self, NewWebhook};
use crate::store::AccountId;
use crate::workers::{self, Deps};
use switchyard_sandbox::webhook_receiver::WebhookReceiver;

#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Events written in the throughput burst of each run.
    #[arg(long, default_value_t = 20_000)]
    pub events: usize,
    /// Events of the latency phase, and their rate per second.
    #[arg(long, default_value_t = 3_000)]
    pub paced_events: usize,
    #[arg(long, default_value_t = 1_000)]
    pub paced_rate: usize,
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Webhook requests in flight at once (`webhooks.max_in_flight`), and deliver-webhook jobs
    /// run at once; the bare client keeps as many requests in flight.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
}

struct RunFigures {
    per_sec: f64,
    /// The same receiver's rate from a bare client: the baseline `per_sec` is a fraction of.
    bare_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// A unified order of typical size, as an `order.created` event carries it.
fn sample_order(i: usize, store_id: i64) -> Value {
    json!({
        "id": i, "store_id": store_id, "channel_id": 1, "channel_kind": "shopify",
        "channel_order_id": format!("{}", 5_000_000 + i), "order_number": format!("#{}", 1000 + i),
        "status": "unshipped", "sync_status": "pending", "currency": "GBP",
        "totals": {"subtotal": "37.50", "shipping": "4.00", "tax": "7.50", "discount": "0.00", "total": "49.00"},
        "customer": {"name": "Ada Lovelace", "email": "ada@example.com", "phone": null},
        "shipping_address": {"name": "Ada Lovelace", "company": null, "line1": "1 Analytical Row",
            "line2": null, "city": "London", "region": null, "postcode": "N1 1AA", "country_code": "GB"},
        "billing_address": null,
        "lines": [
            {"id": null, "channel_line_id": "L1", "sku": "MS-1", "title": "Merino Socks", "quantity": 1,
             "unit_price": "12.50", "tax": "2.50", "product_id": null, "kit_components": []},
            {"id": null, "channel_line_id": "L2", "sku": "TS-2", "title": "T-shirt", "quantity": 2,
             "unit_price": "12.50", "tax": "5.00", "product_id": null, "kit_components": []}
        ],
        "placed_at": "2026-01-01T10:00:00Z", "paid_at": "2026-01-01T10:00:10Z",
        "updated_at": "2026-01-01T10:00:10Z", "tags": ["vip"], "notes": null, "excluded_reason": null
    })
}

/// The baseline, run in the same command so that the machine's load of the moment weighs on
/// both: `n` signed POSTs of an `order.created` body to the receiver from the deliveries' own
/// HTTP client at the same concurrency, with nothing behind them (no database, no queue).
/// Returns requests per second.
async fn bare_http(
    settings: &Settings,
    receiver: &WebhookReceiver,
    secret: &str,
    n: usize,
    concurrency: usize,
) -> anyhow::Result<f64> {
    use futures::StreamExt;
    let client = crate::webhooks::WebhookClient::new(settings)?;
    let data = sample_order(0, 0).to_string();
    let url = receiver.url();
    let started = Instant::now();
    let answers: Vec<Option<u16>> = futures::stream::iter(0..n)
        .map(|i| {
            let (client, url, data) = (&client, &url, &data);
            async move {
                let body = crate::webhooks::body("order.created", chrono::Utc::now(), data);
                let id = format!("msg_bare{i}");
                client
                    .send_signed(url, &id, &[secret], body)
                    .await
                    .ok()?
                    .status
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let elapsed = started.elapsed();
    let ok = answers.iter().filter(|s| **s == Some(200)).count();
    if ok < n {
        anyhow::bail!("the bare client got {ok} answers of 200 to {n} requests");
    }
    Ok(n as f64 / elapsed.as_secs_f64())
}

/// Writes events `from..to` to the outbox in one transaction.
pub(super) async fn write_events(
    pool: &PgPool,
    store_id: i64,
    from: usize,
    to: usize,
) -> anyhow::Result<()> {
    let items = (from..to)
        .map(|i| OutboxItem::Event {
            payload: json!({
                "type": "order.created", "store_id": store_id, "order_id": i,
                "data": sample_order(i, store_id),
            }),
        })
        .collect::<Vec<_>>();
    let mut tx = pool.begin().await?;
    outbox::push_many_in_tx(&mut tx, &items).await?;
    outbox::notify_in_tx(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}

/// What a delivery benchmark's run works with: queues under a key prefix of its own, the bench
/// database, and one store whose one endpoint, subscribed to `order.created`, is a loopback
/// receiver that verifies every signature.
pub(super) struct DeliveryRig {
    pub settings: Settings,
    pub pool: PgPool,
    pub broker: Broker,
    pub deps: std::sync::Arc<Deps>,
    pub account: AccountId,
    pub store_id: i64,
    pub webhook: i64,
    pub secret: String,
    pub receiver: WebhookReceiver,
}

impl DeliveryRig {
    /// Sets up `bench`'s run on `settings` (their database already chosen), with `concurrency`
    /// webhook requests in flight and deliver-webhook jobs run at once.
    pub(super) async fn start(
        mut settings: Settings,
        bench: &str,
        concurrency: usize,
    ) -> anyhow::Result<DeliveryRig> {
        settings.redis.key_prefix = format!("sybench-{bench}-{}", ulid::Ulid::new());
        settings.webhooks.max_in_flight = concurrency.max(1);
        let deliver = DeliverWebhook::QUEUE.replace('-', "_");
        let overrides = QueueOverrides {
            concurrency: Some(concurrency.max(1)),
            batch_size: Some(concurrency.clamp(1, 1000)),
            ..settings.queues.get(&deliver).cloned().unwrap_or_default()
        };
        settings.queues.insert(deliver, overrides);
        let pool = crate::db::prepare(&settings.database).await?;
        let broker = Broker::connect(&settings).await?;
        let key = CredentialsKey::from_hex(&settings.crypto.credentials_key)?;
        let deps = Deps::new(pool.clone(), key.clone(), broker.clone());
        let (account, store_id) = super::bench_store(&pool, bench).await?;
        let secret = crate::webhooks::generate_secret();
        let receiver = WebhookReceiver::start(vec![secret.clone()]).await?;
        // A merchant's receiver verifies, parses and answers; it does not hold every body.
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
        Ok(DeliveryRig {
            settings,
            pool,
            broker,
            deps,
            account,
            store_id,
            webhook,
            secret,
            receiver,
        })
    }

    /// Runs the pools of `queues` and the outbox relay until `stop` turns true.
    pub(super) fn spawn_workers(
        &self,
        queues: &[&str],
        stop: watch::Receiver<bool>,
    ) -> anyhow::Result<Vec<JoinHandle<()>>> {
        let mut tasks = Vec::new();
        for queue in queues {
            let deps = Some(self.deps.clone());
            let run = workers::spawn_pool_with(&self.broker, queue, deps, stop.clone())?;
            tasks.push(tokio::spawn(run));
        }
        let relay = relay::run(self.pool.clone(), self.broker.clone(), stop);
        tasks.push(tokio::spawn(relay));
        Ok(tasks)
    }

    /// Writes events `from..from + n` to the outbox, 500 to a transaction, and waits until the
    /// receiver verified all `n`. Returns deliveries per second, from the first write to the last
    /// delivery.
    pub(super) async fn burst(&self, from: usize, n: usize) -> anyhow::Result<f64> {
        self.receiver.clear();
        let t0 = Instant::now();
        let mut written = from;
        while written < from + n {
            let to = (written + 500).min(from + n);
            write_events(&self.pool, self.store_id, written, to).await?;
            written = to;
        }
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
        self.receiver.clear();
        Ok(n as f64 / elapsed.as_secs_f64())
    }

    /// Stops `tasks` (through `stop`), the receiver, and removes the run's queues and rows.
    pub(super) async fn stop(
        self,
        stop: watch::Sender<bool>,
        tasks: Vec<JoinHandle<()>>,
    ) -> anyhow::Result<()> {
        let _ = stop.send(true);
        for t in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(40), t).await;
        }
        self.receiver.shutdown().await;
        for q in crate::jobs::QUEUES {
            if let Ok(queue) = self.broker.queue(q) {
                let _ = queue.destroy().await;
            }
        }
        // The webhook's deliveries and attempts go with it; the events stay until deleted too.
        sqlx::query("DELETE FROM webhooks WHERE account_id = $1")
            .bind(self.account.0)
            .execute(&self.pool)
            .await
            .context("cleaning up")?;
        sqlx::query("DELETE FROM webhook_events WHERE store_id = $1")
            .bind(self.store_id)
            .execute(&self.pool)
            .await
            .context("cleaning up")?;
        Ok(())
    }
}

async fn run_once(base: &Settings, opts: &Options) -> anyhow::Result<RunFigures> {
    let mut settings = base.clone();
    settings.database = bench_database(&base.database)?;
    let rig = DeliveryRig::start(settings, "webhooks", opts.concurrency).await?;
    let bare_per_sec = bare_http(
        &rig.settings,
        &rig.receiver,
        &rig.secret,
        opts.events.min(20_000),
        opts.concurrency,
    )
    .await?;
    rig.receiver.clear();

    let (stop_tx, stop_rx) = watch::channel(false);
    let tasks = rig.spawn_workers(&[DeliverWebhook::QUEUE], stop_rx)?;
    // Throughput: a burst.
    let per_sec = rig.burst(0, opts.events).await?;

    // Latency: paced batches of 10.
    let batch = 10;
    let interval = Duration::from_secs_f64(batch as f64 / opts.paced_rate.max(1) as f64);
    let mut ticker = tokio::time::interval(interval);
    let mut sent = 0;
    while sent < opts.paced_events {
        ticker.tick().await;
        let to = (sent + batch).min(opts.paced_events);
        write_events(
            &rig.pool,
            rig.store_id,
            opts.events + sent,
            opts.events + to,
        )
        .await?;
        sent = to;
    }
    let got = rig
        .receiver
        .wait_for(opts.paced_events, Duration::from_secs(60))
        .await;
    let unverified = got.iter().filter(|r| !r.verified).count();
    if unverified > 0 {
        anyhow::bail!("{unverified} deliveries did not verify");
    }
    let mut lat: Vec<f64> = got
        .iter()
        .filter_map(|r| Some((r.received_at - r.event_at?).num_microseconds()? as f64 / 1000.0))
        .collect();
    lat.sort_by(|a, b| a.total_cmp(b));

    rig.stop(stop_tx, tasks).await?;
    Ok(RunFigures {
        per_sec,
        bare_per_sec,
        p50_ms: quantile(&lat, 0.5),
        p99_ms: quantile(&lat, 0.99),
    })
}

pub async fn run(settings: &Settings, opts: &Options) -> anyhow::Result<()> {
    println!(
        "switchyard bench webhooks: {} events burst + {} paced at {}/s per run, {} runs; one \
         endpoint on a loopback receiver that verifies every signature; {} requests in flight, \
         at most {} to the endpoint (webhooks.max_in_flight_per_endpoint; busy retry {} ms), up \
         to {} deliveries to a job",
        opts.events,
        opts.paced_events,
        opts.paced_rate,
        opts.runs,
        opts.concurrency,
        settings.webhooks.max_in_flight_per_endpoint,
        settings.webhooks.endpoint_busy_retry_ms,
        settings.webhooks.deliveries_per_job
    );
    let (mut rates, mut ratios, mut p50, mut p99) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for run in 1..=opts.runs.max(1) {
        let f = run_once(settings, opts).await?;
        let ratio = f.per_sec / f.bare_per_sec.max(f64::MIN_POSITIVE);
        println!(
            "  run {run}: {:.0} deliveries/s = {ratio:.2} x a bare client's {:.0} requests/s to the \
             same receiver; event-to-delivery p50 {:.1} ms, p99 {:.1} ms",
            f.per_sec, f.bare_per_sec, f.p50_ms, f.p99_ms
        );
        rates.push(f.per_sec);
        ratios.push(ratio);
        p50.push(f.p50_ms);
        p99.push(f.p99_ms);
    }
    println!(
        "median of {} runs: {:.0} deliveries/s ({:.2} x the bare client); event-to-delivery p50 \
         {:.1} ms, p99 {:.1} ms",
        opts.runs.max(1),
        median(&rates),
        median(&ratios),
        median(&p50),
        median(&p99)
    );
    Ok(())
}
