//! `switchyard bench import`: orders imported per second end to end, from the simulated
//! platforms' APIs (Shopify's GraphQL, WooCommerce's REST, Amazon's SP-API, eBay's Sell APIs) to
//! committed order rows (with their lines, events and outbox rows), through the real connectors,
//! the real import-orders pool and PostgreSQL, for each channel kind on its own. The limits each
//! kind's simulated store is given are in [`import_limits`](super::import_limits).
//!
//! Each kind's import in a run gets a fresh sandbox holding one store of that kind, a fresh
//! account, store and channel, and a Redis key prefix of its own. The clock runs from enqueueing
//! one manual import to that job done. Beside each import, the same orders are first read from a
//! sandbox of their own without storing them, which shows how much of an import's time is the
//! simulator, HTTP and parsing (all on this machine's cores) rather than the database. Amazon's
//! reading is held to the same usage plans as its import, so its baseline is the plans' ceiling
//! instead: the least time the scaled plans admit the import's calls in. Runs use a database of
//! their own (the configured one's name plus `_bench`), because the outbox relay they run takes
//! every outbox row of the database it works on, and must not take another process's.
//!
//! Each kind is imported twice in a run: into a store that manages none of the orders' SKUs,
//! and into one whose catalogue holds every SKU the simulated store sells, so every order line
//! takes stock (its ledger movements, its products' quantities, the `product.updated` events).
//! The managed import's speed as a share of the unmanaged one's, in the same run, is what stock
//! costs an import.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::watch;

use super::import_limits::{self, parse_kind, PlanUse, Usage, KINDS};
use super::median;
use crate::config::{DatabaseSettings, Settings};
use crate::connectors;
use crate::crypto::CredentialsKey;
use crate::db;
use crate::domain::{ChannelKind, ChannelSettings, OrderCursor};
use crate::jobs::{ImportOrders, ImportReason, JobKind};
use crate::outbox::relay;
use crate::queue::{Broker, EnqueueOptions, JobStatus, Queue};
use crate::sandbox_cmd::{connect_channels, sandbox_credentials};
use crate::store::products::{self, NewProduct};
use crate::store::{import_state, AccountId};
use crate::workers::{self, Deps};
use switchyard_sandbox::{Sandbox, SandboxConfig, SandboxHandle};

/// `switchyard bench import`'s arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Orders per run, split evenly between the kinds measured.
    #[arg(long, default_value_t = 10_000)]
    pub orders: usize,
    /// Runs; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// The channel kinds measured, comma-separated, each on its own.
    #[arg(long, value_delimiter = ',', value_parser = parse_kind, default_value = "shopify,woocommerce,amazon,ebay")]
    pub kinds: Vec<ChannelKind>,
    /// Leave the outbox relay off (it runs by default, as in `switchyard run`).
    #[arg(long)]
    pub without_relay: bool,
    /// Import each kind only into a store managing none of its SKUs, without the managed
    /// import beside it.
    #[arg(long)]
    pub without_managed: bool,
}

/// The longest one import may take before the bench gives up on it.
const RUN_LIMIT: Duration = Duration::from_secs(600);
/// How often job states are read while an import is timed.
const POLL: Duration = Duration::from_millis(5);

/// What an import is measured against.
#[derive(Debug, Clone, Copy)]
enum Baseline {
    /// Seconds reading the same orders alone, storing nothing.
    ReadAlone(f64),
    /// The least seconds the channel's usage plans admit the import's calls in (Amazon's).
    Ceiling(f64),
}

/// One kind's import in one run.
struct KindRun {
    kind: ChannelKind,
    /// Every SKU the orders carry was one of the store's products.
    managed: bool,
    orders: usize,
    secs: f64,
    baseline: Baseline,
    usage: Usage,
}

impl KindRun {
    fn per_s(&self) -> f64 {
        self.orders as f64 / self.secs
    }

    /// The import's speed as a share of the baseline's; `None` when the baseline took no time
    /// (every Amazon call within its plan's burst).
    fn of_baseline(&self) -> Option<f64> {
        let secs = match self.baseline {
            Baseline::ReadAlone(secs) | Baseline::Ceiling(secs) => secs,
        };
        (secs > 0.0).then(|| secs / self.secs)
    }
}

/// `orders` split between `kinds`: evenly, the first kinds taking one more of what is left over.
fn shares(orders: usize, kinds: usize) -> Vec<usize> {
    (0..kinds)
        .map(|i| orders / kinds + usize::from(i < orders % kinds))
        .collect()
}

/// Every SKU the stores of `config` sell.
fn catalogue_skus(config: &SandboxConfig) -> Vec<String> {
    let catalogues = config
        .shopify
        .iter()
        .map(|s| &s.catalog)
        .chain(config.woocommerce.iter().map(|s| &s.catalog))
        .chain(config.amazon.iter().map(|s| &s.catalog))
        .chain(config.ebay.iter().map(|s| &s.catalog));
    let skus: BTreeSet<String> = catalogues
        .flatten()
        .flat_map(|p| p.variants.iter().map(|v| v.sku.clone()))
        .collect();
    skus.into_iter().collect()
}

/// Makes every SKU of `config`'s stores one of the store's products, with stock enough for any
/// run.
async fn manage_skus(
    pool: &sqlx::PgPool,
    account: AccountId,
    store_id: i64,
    config: &SandboxConfig,
) -> anyhow::Result<()> {
    for sku in catalogue_skus(config) {
        let new = NewProduct {
            store_id,
            sku: &sku,
            title: &sku,
            api_quantity: Some(1_000_000_000),
        };
        products::create(pool, account, &new)
            .await
            .map_err(|e| anyhow::anyhow!("creating product {sku}: {e}"))?;
    }
    Ok(())
}

/// A sandbox started from `config`, its one store holding `orders` orders.
async fn sandbox_with(config: SandboxConfig, orders: usize) -> anyhow::Result<SandboxHandle> {
    let sandbox = Sandbox::start(config)
        .await
        .context("starting the simulated store")?;
    for info in sandbox.stores() {
        sandbox
            .store(&info.name)
            .with_context(|| format!("sandbox store {}", info.name))?
            .create_orders(orders);
    }
    Ok(sandbox)
}

/// Pages through every order of a store of `kind` holding `orders` with the real connector,
/// storing nothing: the part of an import the database has no hand in. Returns the seconds it
/// took.
async fn read_only(settings: &Settings, kind: ChannelKind, orders: usize) -> anyhow::Result<f64> {
    let sandbox = sandbox_with(import_limits::sandbox_config(kind, orders), orders).await?;
    let info = sandbox
        .stores()
        .first()
        .context("the sandbox has no store")?;
    let connector = connectors::build(
        &info.base_url,
        &sandbox_credentials(info),
        &ChannelSettings::default(),
        &connectors::http::client_settings(settings),
    )?;
    let started = Instant::now();
    let mut cursor = OrderCursor::Since(None);
    let mut read = 0;
    loop {
        let page = connector.list_orders_since(&cursor).await?;
        read += page.orders.len();
        match page.next {
            Some(next) => cursor = next,
            None => break,
        }
    }
    let secs = started.elapsed().as_secs_f64();
    sandbox.shutdown().await;
    if read < orders {
        anyhow::bail!(
            "reading {} alone saw {read} of {orders} orders",
            kind.as_str()
        );
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

fn bar(kind: ChannelKind, len: u64) -> ProgressBar {
    let pb = ProgressBar::new(len);
    let style = ProgressStyle::with_template("    {prefix:12}  {bar:40} {pos}/{len} {per_sec}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    pb.set_style(style);
    pb.set_prefix(kind.as_str());
    pb
}

/// Orders channel `id` has imported so far.
async fn imported(pool: &sqlx::PgPool, account: AccountId, id: i64) -> anyhow::Result<u64> {
    let health = import_state::import_health(pool, account, id).await?;
    Ok(health.map_or(0, |h| u64::try_from(h.orders_imported).unwrap_or(0)))
}

/// Waits until job `id` is done; a dead one fails the run.
async fn wait_done(
    queue: &Queue,
    id: &str,
    progress: impl Fn() -> u64,
    pb: &ProgressBar,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut last_progress = Instant::now();
    loop {
        let job = queue
            .job(id)
            .await?
            .with_context(|| format!("import job {id} vanished"))?;
        match job.status {
            JobStatus::Done => return Ok(()),
            JobStatus::Dead => anyhow::bail!(
                "import job {id} died: {}",
                job.last_error.unwrap_or_default()
            ),
            _ => {}
        }
        if started.elapsed() > RUN_LIMIT {
            anyhow::bail!("the import did not finish in {} s", RUN_LIMIT.as_secs());
        }
        if last_progress.elapsed() > Duration::from_millis(250) {
            pb.set_position(progress());
            last_progress = Instant::now();
        }
        tokio::time::sleep(POLL).await;
    }
}

/// One kind's import in one run: a fresh sandbox holding `orders` orders, a fresh store (with
/// every SKU a product when `managed`) and channel, and the timed import, against `read_secs`
/// (the orders read alone) or, without it, the usage plans' ceiling.
async fn run_kind(
    base: &Settings,
    pool: &sqlx::PgPool,
    opts: &Options,
    (kind, managed): (ChannelKind, bool),
    orders: usize,
    read_secs: Option<f64>,
) -> anyhow::Result<KindRun> {
    let mut settings = base.clone();
    settings.redis.key_prefix = format!("sybench-import-{}", ulid::Ulid::new());
    let broker = Broker::connect(&settings)
        .await
        .context("connecting to Redis")?;
    let key = CredentialsKey::from_hex(&settings.crypto.credentials_key)?;
    let deps = Deps::new(pool.clone(), key.clone(), broker.clone());
    let config = import_limits::sandbox_config(kind, orders);
    let sandbox = sandbox_with(config.clone(), orders).await?;

    let (account, store_id) = super::bench_store(pool, "import").await?;
    if managed {
        manage_skus(pool, account, store_id, &config).await?;
    }
    let channels =
        connect_channels(pool, &key, account, store_id, &sandbox, &Default::default()).await?;
    let (channel, info) = channels.first().context("no channel was made")?;
    let channel_id = channel.id;
    let store = sandbox
        .store(&info.name)
        .with_context(|| format!("sandbox store {}", info.name))?;

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
    let pb = bar(kind, orders as u64);
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let watcher = {
        let (pool, seen) = (pool.clone(), seen.clone());
        tokio::spawn(async move {
            loop {
                if let Ok(n) = imported(&pool, account, channel_id).await {
                    seen.store(n, std::sync::atomic::Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };

    let started = Instant::now();
    let job = ImportOrders {
        channel_id,
        reason: ImportReason::Manual,
    };
    let job_id = queue.enqueue(&job, &EnqueueOptions::default()).await?.id;
    let outcome = wait_done(
        &queue,
        &job_id,
        || seen.load(std::sync::atomic::Ordering::Relaxed),
        &pb,
    )
    .await;
    let secs = started.elapsed().as_secs_f64();
    watcher.abort();
    pb.finish_and_clear();
    let usage = Usage::read(&config, &store.traffic().snapshot());

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
    let done = imported(pool, account, channel_id).await?;
    if done != orders as u64 {
        anyhow::bail!(
            "the {} import finished with {done} of {orders} orders stored",
            kind.as_str()
        );
    }
    let baseline = match read_secs {
        Some(secs) => Baseline::ReadAlone(secs),
        None => Baseline::Ceiling(usage.ceiling_secs()),
    };
    Ok(KindRun {
        kind,
        managed,
        orders,
        secs,
        baseline,
        usage,
    })
}

/// How one kind's import went in one run: the figure, against its baseline, and what the store
/// saw of its limits.
fn run_line(r: &KindRun) -> String {
    let baseline = match (r.baseline, r.of_baseline()) {
        (Baseline::ReadAlone(secs), Some(x)) => format!(
            "{x:.2}x reading alone ({secs:.2} s = {:.0} orders/s)",
            r.orders as f64 / secs
        ),
        (Baseline::Ceiling(secs), Some(x)) => {
            format!("{x:.2}x the scaled plans' ceiling ({secs:.2} s)")
        }
        (_, None) => "every call within its plan's burst".to_owned(),
    };
    let mut line = format!(
        "{:22} {} orders in {:.2} s = {:.0} orders/s, {baseline}",
        label(r),
        r.orders,
        r.secs,
        r.per_s()
    );
    for plan in &r.usage.plans {
        line.push_str(&format!("; {}", plan_use(plan, r.secs)));
    }
    if let Some((calls, limit)) = r.usage.fulfillment_calls {
        line.push_str(&format!(
            "; sell.fulfillment calls: {calls}, {:.1} a second (the seller admits {limit} in any \
             one second)",
            calls as f64 / r.secs
        ));
    }
    line.push_str(&format!("; 429s: {}", r.usage.refused));
    line
}

/// A run's kind, and whether its SKUs were managed.
fn label(r: &KindRun) -> String {
    let stock = if r.managed { "managed" } else { "unmanaged" };
    format!("{} {stock}", r.kind.as_str())
}

/// The managed imports' speed as a share of the unmanaged ones' in the same runs: the median
/// of each run's ratio, with both medians.
fn managed_line(unmanaged: &[KindRun], managed: &[KindRun]) -> Option<String> {
    let first = unmanaged.first()?;
    let ratios: Vec<f64> = unmanaged
        .iter()
        .zip(managed)
        .map(|(u, m)| m.per_s() / u.per_s())
        .collect();
    if ratios.is_empty() {
        return None;
    }
    let per_s = |runs: &[KindRun]| median(&runs.iter().map(KindRun::per_s).collect::<Vec<_>>());
    Some(format!(
        "{:22} managed {:.0} orders/s against unmanaged {:.0} orders/s: {:.2}x",
        first.kind.as_str(),
        per_s(managed),
        per_s(unmanaged),
        median(&ratios)
    ))
}

/// One Amazon operation's calls against its scaled plan.
fn plan_use(plan: &PlanUse, secs: f64) -> String {
    let (name, calls, burst) = (plan.operation, plan.calls, plan.plan.burst);
    match plan.of_rate(secs) {
        Some(x) => format!(
            "{name} calls: {calls}, {:.2} a second beyond its burst of {burst} = {x:.2}x its rate",
            x * plan.plan.rate
        ),
        None => format!("{name} calls: {calls}, within its burst of {burst}"),
    }
}

/// One kind's medians over the runs.
fn median_line(runs: &[KindRun]) -> String {
    let Some(first) = runs.first() else {
        return String::new();
    };
    let per_s: Vec<f64> = runs.iter().map(KindRun::per_s).collect();
    let mut line = format!(
        "{:22} {:.0} orders/s imported",
        label(first),
        median(&per_s)
    );
    let ratios: Vec<f64> = runs.iter().filter_map(KindRun::of_baseline).collect();
    if !ratios.is_empty() {
        let against = match first.baseline {
            Baseline::ReadAlone(_) => {
                let reads: Vec<f64> = runs
                    .iter()
                    .filter_map(|r| match r.baseline {
                        Baseline::ReadAlone(secs) => Some(r.orders as f64 / secs),
                        Baseline::Ceiling(_) => None,
                    })
                    .collect();
                format!("reading alone ({:.0} orders/s)", median(&reads))
            }
            Baseline::Ceiling(_) => "the scaled plans' ceiling".to_owned(),
        };
        line.push_str(&format!(", {:.2}x {against}", median(&ratios)));
    }
    for (i, plan) in first.usage.plans.iter().enumerate() {
        let of_rate: Vec<f64> = runs
            .iter()
            .filter_map(|r| r.usage.plans.get(i)?.of_rate(r.secs))
            .collect();
        if !of_rate.is_empty() {
            line.push_str(&format!(
                "; {} {:.2}x its rate",
                plan.operation,
                median(&of_rate)
            ));
        }
    }
    let refused: u64 = runs.iter().map(|r| r.usage.refused).sum();
    line.push_str(&format!("; 429s over the runs: {refused}"));
    line
}

/// The kinds measured and their shares, as the header says them.
fn describe(kinds: &[ChannelKind], shares: &[usize]) -> String {
    let described: Vec<String> = kinds
        .iter()
        .zip(shares)
        .map(|(kind, n)| {
            let how = match kind {
                ChannelKind::Shopify => "GraphQL pages of 250, cost bucket lifted",
                ChannelKind::WooCommerce => "pages of 100",
                ChannelKind::Amazon => "pages of 30, a getOrderItems call an order",
                ChannelKind::Ebay => "pages of 200",
            };
            format!("{n} on {} ({how})", kind.as_str())
        })
        .collect();
    described.join(", ")
}

/// Runs the bench and prints its configuration, each run and the medians.
pub async fn run(settings: &Settings, opts: &Options) -> anyhow::Result<()> {
    if opts.runs == 0 || opts.kinds.is_empty() {
        anyhow::bail!("--runs must be at least 1 and --kinds name a kind");
    }
    if let Some(twice) = KINDS
        .iter()
        .find(|k| opts.kinds.iter().filter(|o| o == k).count() > 1)
    {
        anyhow::bail!("--kinds names {} twice", twice.as_str());
    }
    if opts.orders < opts.kinds.len() {
        anyhow::bail!(
            "--orders must be at least one for each of the {} kinds",
            opts.kinds.len()
        );
    }
    let database = bench_database(&settings.database)?;
    let pool = db::prepare(&database)
        .await
        .context("preparing the bench database")?;
    let policy = settings.policy(ImportOrders::QUEUE);
    let shares = shares(opts.orders, opts.kinds.len());
    println!("switchyard bench import");
    println!(
        "  {} orders per run, each kind imported on its own: {}",
        opts.orders,
        describe(&opts.kinds, &shares)
    );
    for (kind, n) in opts.kinds.iter().zip(&shares) {
        let config = import_limits::sandbox_config(*kind, *n);
        if let Some(limits) = import_limits::describe(&config, *n) {
            println!("  {limits}");
        }
    }
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
    if !opts.without_managed {
        println!(
            "  each kind imported twice: into a store managing none of its SKUs, then into one \
             whose products are every SKU its orders carry"
        );
    }
    // Per kind: the unmanaged runs, and the managed ones.
    let mut by_kind: Vec<(Vec<KindRun>, Vec<KindRun>)> = opts
        .kinds
        .iter()
        .map(|_| (Vec::new(), Vec::new()))
        .collect();
    for i in 1..=opts.runs {
        println!("  run {i}");
        for ((kind, n), (unmanaged, managed)) in opts.kinds.iter().zip(&shares).zip(&mut by_kind) {
            let read_secs = match kind {
                ChannelKind::Amazon => None,
                _ => Some(read_only(settings, *kind, *n).await?),
            };
            let r = run_kind(settings, &pool, opts, (*kind, false), *n, read_secs).await?;
            println!("    {}", run_line(&r));
            unmanaged.push(r);
            if !opts.without_managed {
                let r = run_kind(settings, &pool, opts, (*kind, true), *n, read_secs).await?;
                println!("    {}", run_line(&r));
                managed.push(r);
            }
        }
    }
    println!("  median over {} runs", opts.runs);
    for (unmanaged, managed) in &by_kind {
        println!("    {}", median_line(unmanaged));
        if !managed.is_empty() {
            println!("    {}", median_line(managed));
        }
    }
    if !opts.without_managed {
        println!("  managed against unmanaged, median of each run's ratio");
        for (unmanaged, managed) in &by_kind {
            if let Some(line) = managed_line(unmanaged, managed) {
                println!("    {line}");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_are_shared_evenly_the_first_kinds_taking_the_rest() {
        assert_eq!(shares(2000, 4), [500, 500, 500, 500]);
        assert_eq!(shares(10, 4), [3, 3, 2, 2]);
        assert_eq!(shares(7, 1), [7]);
        assert_eq!(shares(10, 4).iter().sum::<usize>(), 10);
    }
}
