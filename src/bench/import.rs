//! `switchyard bench import`: orders imported per second end to end, from the simulated
//! platforms' APIs (Shopify's GraphQL, WooCommerce's REST) to committed order rows (with their
//! lines, events and outbox rows), through the real connectors, the real import-orders pool and
//! PostgreSQL. The simulated shop's GraphQL cost bucket is lifted: the bench measures switchyard,
//! and on a standard plan (100 points a second, an order with a few lines reading at about 20)
//! Shopify itself would hold an import to about five orders a second.
//!
//! Each run gets a fresh sandbox, a fresh account, store
//! and channels, and a Redis key prefix of its own. The clock runs from enqueueing one manual
//! import per channel to both jobs done. Each run first reads the same orders from a sandbox of
//! their own without storing them, which shows how much of an import's time is the simulators,
//! HTTP and parsing (all on this machine's cores) rather than the database. Runs use a database of their own (the configured one's
//! name plus `_bench`), because the outbox relay they run takes every outbox row of the database
//! it works on, and must not take another process's.

use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::watch;

use super::median;
use crate::config::{DatabaseSettings, Settings};
use crate::connectors;
use crate::crypto::CredentialsKey;
use crate::db;
use crate::domain::{ChannelSettings, OrderCursor};
use crate::jobs::{ImportOrders, ImportReason, JobKind};
use crate::outbox::relay;
use crate::queue::{Broker, EnqueueOptions, JobStatus, Queue};
use crate::sandbox_cmd::{connect_channels, sandbox_credentials};
use crate::store::{import_state, AccountId};
use crate::workers::{self, Deps};
use switchyard_sandbox::{Sandbox, SandboxConfig};

/// `switchyard bench import`'s arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Orders per run, split evenly between a Shopify and a WooCommerce channel.
    #[arg(long, default_value_t = 10_000)]
    pub orders: usize,
    /// Runs; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Leave the outbox relay off (it runs by default, as in `switchyard run`).
    #[arg(long)]
    pub without_relay: bool,
}

/// The longest one run may take before the bench gives up on it.
const RUN_LIMIT: Duration = Duration::from_secs(600);
/// How often job states are read while a run is timed.
const POLL: Duration = Duration::from_millis(5);

struct RunFigures {
    orders: usize,
    secs: f64,
    /// Reading the same orders from a sandbox of their own, without storing them.
    read_secs: f64,
}

impl RunFigures {
    fn per_s(&self) -> f64 {
        self.orders as f64 / self.secs
    }

    fn read_per_s(&self) -> f64 {
        self.orders as f64 / self.read_secs
    }
}

/// A sandbox holding `shares` orders (Shopify's, then WooCommerce's), its Shopify cost bucket
/// lifted (see the module's note).
async fn sandbox_with(shares: [usize; 2]) -> anyhow::Result<switchyard_sandbox::SandboxHandle> {
    let mut config = SandboxConfig::demo();
    for s in &mut config.shopify {
        s.graphql = switchyard_sandbox::GraphqlPlan::Custom {
            maximum_available: 1e12,
            restore_rate: 1e12,
        };
    }
    let sandbox = Sandbox::start(config)
        .await
        .context("starting the simulated stores")?;
    for (info, n) in sandbox.stores().iter().zip(shares) {
        sandbox
            .store(&info.name)
            .with_context(|| format!("sandbox store {}", info.name))?
            .create_orders(n);
    }
    Ok(sandbox)
}

/// Pages through every order of both simulated stores at once with the real connectors, storing
/// nothing: the part of an import the database has no hand in. Returns the seconds it took.
async fn read_only(settings: &Settings, shares: [usize; 2]) -> anyhow::Result<f64> {
    let sandbox = sandbox_with(shares).await?;
    let http = crate::connectors::http::client_settings(settings);
    let started = Instant::now();
    let mut readers = Vec::new();
    for info in sandbox.stores() {
        let connector = connectors::build(
            &info.base_url,
            &sandbox_credentials(info),
            &ChannelSettings::default(),
            &http,
        )?;
        readers.push(tokio::spawn(async move {
            let mut cursor = OrderCursor::Since(None);
            let mut n = 0;
            loop {
                let page = connector.list_orders_since(&cursor).await?;
                n += page.orders.len();
                match page.next {
                    Some(next) => cursor = next,
                    None => return Ok::<usize, connectors::ConnectorError>(n),
                }
            }
        }));
    }
    let mut read = 0;
    for r in readers {
        read += r.await.context("a reader panicked")??;
    }
    let secs = started.elapsed().as_secs_f64();
    sandbox.shutdown().await;
    let want: usize = shares.iter().sum();
    if read < want {
        anyhow::bail!("the read-only probe saw {read} of {want} orders");
    }
    Ok(secs)
}

/// The configured database with `_bench` appended to its name.
pub(super) fn bench_database(base: &DatabaseSettings) -> anyhow::Result<DatabaseSettings> {
    let mut url = url::Url::parse(&base.url).context("database.url is not a URL")?;
    let name = url.path().trim_start_matches('/');
    if name.is_empty() {
        anyhow::bail!("database.url names no database");
    }
    let bench = format!("/{name}_bench");
    url.set_path(&bench);
    Ok(DatabaseSettings {
        url: url.into(),
        ..base.clone()
    })
}

fn bar(len: u64) -> ProgressBar {
    let pb = ProgressBar::new(len);
    let style = ProgressStyle::with_template("  import         {bar:40} {pos}/{len} {per_sec}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    pb.set_style(style);
    pb
}

/// Orders the two channels have imported so far.
async fn imported(pool: &sqlx::PgPool, account: AccountId, ids: &[i64]) -> anyhow::Result<u64> {
    let mut n = 0;
    for id in ids {
        if let Some(h) = import_state::import_health(pool, account, *id).await? {
            n += u64::try_from(h.orders_imported).unwrap_or(0);
        }
    }
    Ok(n)
}

/// Waits until every job in `ids` is done; a dead one fails the run.
async fn wait_done(
    queue: &Queue,
    ids: &[String],
    progress: impl Fn() -> Option<u64>,
    pb: &ProgressBar,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut pending: Vec<&String> = ids.iter().collect();
    let mut last_progress = Instant::now();
    while !pending.is_empty() {
        let mut still = Vec::with_capacity(pending.len());
        for id in pending {
            let job = queue
                .job(id)
                .await?
                .with_context(|| format!("import job {id} vanished"))?;
            match job.status {
                JobStatus::Done => {}
                JobStatus::Dead => anyhow::bail!(
                    "import job {id} died: {}",
                    job.last_error.unwrap_or_default()
                ),
                _ => still.push(id),
            }
        }
        pending = still;
        if started.elapsed() > RUN_LIMIT {
            anyhow::bail!("imports did not finish in {} s", RUN_LIMIT.as_secs());
        }
        if last_progress.elapsed() > Duration::from_millis(250) {
            if let Some(n) = progress() {
                pb.set_position(n);
            }
            last_progress = Instant::now();
        }
        tokio::time::sleep(POLL).await;
    }
    Ok(())
}

/// One run: a fresh sandbox holding `opts.orders` orders, fresh channels, timed imports.
async fn run_once(
    base: &Settings,
    pool: &sqlx::PgPool,
    opts: &Options,
) -> anyhow::Result<RunFigures> {
    let mut settings = base.clone();
    settings.redis.key_prefix = format!("sybench-import-{}", ulid::Ulid::new());
    let broker = Broker::connect(&settings)
        .await
        .context("connecting to Redis")?;
    let key = CredentialsKey::from_hex(&settings.crypto.credentials_key)?;
    let deps = Deps::new(pool.clone(), key.clone(), broker.clone());
    let shares = [opts.orders / 2, opts.orders - opts.orders / 2];
    let read_secs = read_only(&settings, shares).await?;
    let sandbox = sandbox_with(shares).await?;

    let (account, store_id) = super::bench_store(pool, "import").await?;
    let channels =
        connect_channels(pool, &key, account, store_id, &sandbox, &Default::default()).await?;
    let channel_ids: Vec<i64> = channels.iter().map(|(c, _)| c.id).collect();

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = vec![tokio::spawn(workers::spawn_pool_with(
        &broker,
        ImportOrders::QUEUE,
        Some(deps),
        stop_rx.clone(),
    )?)];
    if !opts.without_relay {
        tasks.push(tokio::spawn(relay::run(
            pool.clone(),
            broker.clone(),
            stop_rx,
        )));
    }
    let queue = broker.queue(ImportOrders::QUEUE)?;
    let pb = bar(opts.orders as u64);
    let watcher = {
        let (pool, ids) = (pool.clone(), channel_ids.clone());
        let seen = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let out = seen.clone();
        let task = tokio::spawn(async move {
            loop {
                if let Ok(n) = imported(&pool, account, &ids).await {
                    seen.store(n, std::sync::atomic::Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        });
        (task, out)
    };

    let started = Instant::now();
    let mut job_ids = Vec::new();
    for id in &channel_ids {
        let job = ImportOrders {
            channel_id: *id,
            reason: ImportReason::Manual,
        };
        job_ids.push(queue.enqueue(&job, &EnqueueOptions::default()).await?.id);
    }
    let outcome = wait_done(
        &queue,
        &job_ids,
        || Some(watcher.1.load(std::sync::atomic::Ordering::Relaxed)),
        &pb,
    )
    .await;
    let secs = started.elapsed().as_secs_f64();
    watcher.0.abort();
    pb.finish_and_clear();

    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(30), t).await;
    }
    sandbox.shutdown().await;
    for q in crate::jobs::QUEUES {
        broker.queue(q)?.destroy().await?;
    }
    // The relay published the run's events under its prefix; they go with it.
    redis::cmd("DEL")
        .arg(relay::events_key(&broker))
        .query_async::<()>(&mut broker.conn())
        .await
        .context("removing the run's event stream")?;
    outcome?;
    let done = imported(pool, account, &channel_ids).await?;
    if done != opts.orders as u64 {
        anyhow::bail!(
            "the imports finished with {done} of {} orders stored",
            opts.orders
        );
    }
    Ok(RunFigures {
        orders: opts.orders,
        secs,
        read_secs,
    })
}

/// Runs the bench and prints its configuration, each run and the median.
pub async fn run(settings: &Settings, opts: &Options) -> anyhow::Result<()> {
    if opts.orders < 2 || opts.runs == 0 {
        anyhow::bail!("--orders must be at least 2 and --runs at least 1");
    }
    let database = bench_database(&settings.database)?;
    let pool = db::prepare(&database)
        .await
        .context("preparing the bench database")?;
    let policy = settings.policy(ImportOrders::QUEUE);
    println!("switchyard bench import");
    println!(
        "  {} orders per run: {} on a Shopify channel (pages of 250), {} on a WooCommerce channel (pages of 100)",
        opts.orders,
        opts.orders / 2,
        opts.orders - opts.orders / 2,
    );
    println!(
        "  import-orders concurrency {}, PostgreSQL pool {} connections, outbox relay {}",
        policy.concurrency,
        database.max_connections,
        if opts.without_relay { "off" } else { "on" },
    );
    println!("  database {}, Redis {}", database.url, settings.redis.url);
    if cfg!(debug_assertions) {
        println!("  debug build: figures are not representative; use --release");
    }
    let (mut figures, mut reads) = (Vec::new(), Vec::new());
    for i in 1..=opts.runs {
        let f = run_once(settings, &pool, opts).await?;
        println!(
            "  run {i}: {} orders in {:.2} s = {:.0} orders/s  (reading alone: {:.2} s = {:.0} orders/s)",
            f.orders,
            f.secs,
            f.per_s(),
            f.read_secs,
            f.read_per_s()
        );
        figures.push(f.per_s());
        reads.push(f.read_per_s());
    }
    println!(
        "  median over {} runs: {:.0} orders/s imported  (reading alone, no database: {:.0} orders/s)",
        figures.len(),
        median(&figures),
        median(&reads)
    );
    Ok(())
}
