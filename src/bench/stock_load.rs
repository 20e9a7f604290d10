//! `switchyard bench stock --standard-plan`: stock under sustained trade on standard-plan
//! shops. Orders arrive at a steady rate, round robin on two Shopify shops (the standard plan:
//! 2,000 GraphQL points restoring 100 a second) and a WooCommerce store, each of one unit of one
//! of many SKUs. Each order's webhook reaches switchyard's API, which stores the order it carries,
//! moves the SKU's stock and pushes the new level to every channel. Reported: how long each
//! order's new level took to show on the other two channels (p50, p99, slowest), and how many
//! stock-writing platform calls each changed level cost (a level per channel per order). Every
//! run is made twice in one command: with `connectors.stock_push_interval_ms` as configured, and
//! with every change pushed at once (0), the baseline the figures are compared with.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;

use super::import::bench_database;
use super::{median, quantile};
use crate::app::Application;
use crate::config::Settings;
use crate::crypto::CredentialsKey;
use crate::domain::ChannelSettings;
use crate::jobs::{ImportProducts, JobKind};
use crate::queue::{Broker, EnqueueOptions};
use crate::sandbox_cmd::connect_channels;
use crate::store::products::{self, NewProduct};
use crate::workers::Deps;
use switchyard_sandbox::{
    GeneratorConfig, ProductConfig, Sandbox, SandboxConfig, ShopifyStoreConfig, SimStore,
    TrafficStats, VariantConfig,
};

/// What switchyard holds of each SKU at the start.
const START: i64 = 1_000_000;
/// Longest an order's level may take to show everywhere before the run fails.
const SETTLE: Duration = Duration::from_secs(60);
/// How often the stores' levels are read.
const SAMPLE: Duration = Duration::from_millis(5);

/// The standard-plan load's shape.
#[derive(Debug, Clone)]
pub struct Load {
    pub skus: usize,
    /// Orders a second, across the three channels.
    pub rate: f64,
    pub seconds: u64,
}

/// One run's figures.
#[derive(Debug, Clone)]
pub struct Figures {
    /// Milliseconds from placing each order to its level showing on the other channels, sorted.
    pub latencies: Vec<f64>,
    pub orders: usize,
    /// Stock-writing calls to the platforms.
    pub writes: u64,
    /// Refusals: GraphQL THROTTLED answers and HTTP 429s.
    pub refused: u64,
}

/// The channels an order's level changes on: two Shopify shops and a WooCommerce store.
const CHANNELS: usize = 3;

impl Figures {
    /// Calls per changed level: each order changes its SKU's level on every channel.
    pub fn calls_per_level(&self) -> f64 {
        self.writes as f64 / (self.orders * CHANNELS).max(1) as f64
    }

    pub fn p50(&self) -> f64 {
        quantile(&self.latencies, 0.5)
    }

    pub fn p99(&self) -> f64 {
        quantile(&self.latencies, 0.99)
    }
}

/// A catalogue of `n` single-variant products, `LD-00`, `LD-01`, ... with `stock` each.
fn catalogue(n: usize, stock: i64) -> Vec<ProductConfig> {
    (0..n)
        .map(|i| ProductConfig {
            title: format!("Load item {i:02}"),
            option_name: None,
            variants: vec![VariantConfig {
                sku: format!("LD-{i:02}"),
                option: None,
                price: "9.00".into(),
                stock,
            }],
            details: Default::default(),
        })
        .collect()
}

/// Stock-writing calls in a store's traffic: Shopify's `inventorySetQuantities` (or the REST
/// level set), WooCommerce's product and variation updates and batches.
fn stock_writes(traffic: &TrafficStats) -> u64 {
    traffic
        .by_route
        .iter()
        .filter(|(route, _)| {
            route.ends_with("inventorySetQuantities")
                || route.ends_with("inventory_levels/set.json")
                || ((route.starts_with("POST ") || route.starts_with("PUT "))
                    && route.contains("/wc/v3/products"))
        })
        .map(|(_, n)| *n)
        .sum()
}

/// An order's level to see on the channels it was not placed on.
struct Expected {
    placed: Instant,
    origin: usize,
    sku: String,
    level: i64,
}

/// Runs the load once with pushes to a channel at least `interval_ms` apart.
pub async fn run_once(base: &Settings, load: &Load, interval_ms: u64) -> anyhow::Result<Figures> {
    let mut settings = base.clone();
    settings.redis.key_prefix = format!("sybench-stockload-{}", ulid::Ulid::new());
    settings.database = bench_database(&base.database)?;
    settings.server.listen = "127.0.0.1:0".parse().context("listen address")?;
    settings.connectors.stock_push_interval_ms = interval_ms;
    let app = Application::build(settings.clone()).await?;
    let port = app.port();
    let pool = crate::db::prepare(&settings.database).await?;
    let broker = Broker::connect(&settings).await?;
    let key = CredentialsKey::from_hex(&settings.crypto.credentials_key)?;
    let deps = Deps::new(pool.clone(), key.clone(), broker.clone());

    let mut config = SandboxConfig::demo();
    config.shopify.push(ShopifyStoreConfig::new("other-shop"));
    // Above what switchyard holds, so its first push shows on every store.
    let quiet = GeneratorConfig {
        orders_per_second: 0.0,
        max_lines: 1,
        max_quantity: 1,
        unpaid_ratio: 0.0,
        fulfilled_ratio: 0.0,
        cancel_ratio: 0.0,
        update_ratio: 0.0,
        sku_mix: (0..load.skus).map(|i| (format!("LD-{i:02}"), 1)).collect(),
        ..GeneratorConfig::default()
    };
    for shop in &mut config.shopify {
        shop.catalog = catalogue(load.skus, START * 2);
        shop.generator = quiet.clone();
    }
    for store in &mut config.woocommerce {
        store.catalog = catalogue(load.skus, START * 2);
        store.generator = quiet.clone();
    }
    let sandbox = Sandbox::start(config).await?;
    let (account, store_id) = super::bench_store(&pool, "stock-load").await?;
    for i in 0..load.skus {
        let sku = format!("LD-{i:02}");
        products::create(
            &pool,
            account,
            &NewProduct {
                store_id,
                sku: &sku,
                title: "Load item",
                api_quantity: Some(START),
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("creating {sku}: {e}"))?;
    }
    let stock = ChannelSettings {
        stock_management: true,
        auto_sync_stock: true,
        ..ChannelSettings::default()
    };
    let channels = connect_channels(&pool, &key, account, store_id, &sandbox, &stock).await?;

    let running = super::Running::start(app, &pool, &broker, &deps)?;

    let products_queue = broker.queue(ImportProducts::QUEUE)?;
    let mut stores: Vec<Arc<dyn SimStore>> = Vec::new();
    for (channel, info) in &channels {
        products_queue
            .enqueue(
                &ImportProducts {
                    channel_id: channel.id,
                },
                &EnqueueOptions::default(),
            )
            .await?;
        let store = sandbox.store(&info.name).context("sandbox store")?;
        let topic = match info.platform {
            switchyard_sandbox::Platform::Shopify => "orders/create",
            switchyard_sandbox::Platform::WooCommerce => "order.created",
            other => anyhow::bail!("the bench has no {other:?} store"),
        };
        let hook = format!(
            "http://127.0.0.1:{port}/v1/channels/{}/inbound/{topic}",
            channel.id
        );
        store
            .register_webhook(topic, &hook)
            .map_err(|e| anyhow::anyhow!(e))?;
        stores.push(store);
    }
    wait_all_at(&stores, load.skus, START, SETTLE).await?;
    for s in &stores {
        s.traffic().reset();
    }

    let pending: Arc<Mutex<Vec<Expected>>> = Arc::default();
    let latencies: Arc<Mutex<Vec<f64>>> = Arc::default();
    let sampler = tokio::spawn(sample(stores.clone(), pending.clone(), latencies.clone()));
    let orders = (load.rate * load.seconds as f64).round() as usize;
    let mut sold: HashMap<String, i64> = HashMap::new();
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / load.rate.max(0.1)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    for i in 0..orders {
        ticker.tick().await;
        let origin = i % stores.len();
        let store = &stores[origin];
        let placed = Instant::now();
        let id = store
            .create_orders(1)
            .first()
            .copied()
            .context("an order was made")?;
        let sku = store
            .order_json(id)
            .and_then(|o| o["line_items"][0]["sku"].as_str().map(str::to_owned))
            .context("the order has a SKU")?;
        let n = sold.entry(sku.clone()).or_default();
        *n += 1;
        let level = START - *n;
        lock(&pending).push(Expected {
            placed,
            origin,
            sku,
            level,
        });
    }
    let deadline = Instant::now() + SETTLE;
    while !lock(&pending).is_empty() {
        if Instant::now() > deadline {
            anyhow::bail!(
                "{} orders' levels did not show everywhere within {SETTLE:?}",
                lock(&pending).len()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sampler.abort();
    let traffic: Vec<TrafficStats> = stores.iter().map(|s| s.traffic().snapshot()).collect();

    running.stop().await;
    sandbox.shutdown().await;
    let mut latencies = lock(&latencies).clone();
    latencies.sort_by(|a, b| a.total_cmp(b));
    Ok(Figures {
        latencies,
        orders,
        writes: traffic.iter().map(stock_writes).sum(),
        refused: traffic
            .iter()
            .map(|t| t.graphql_throttled + t.responses_429)
            .sum(),
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Reads every store's levels each [`SAMPLE`] and settles each expected level once the stores
/// other than its order's show it (or lower: later sales of the SKU count too).
async fn sample(
    stores: Vec<Arc<dyn SimStore>>,
    pending: Arc<Mutex<Vec<Expected>>>,
    latencies: Arc<Mutex<Vec<f64>>>,
) {
    loop {
        let levels: Vec<BTreeMap<String, i64>> = stores.iter().map(|s| s.stock_by_sku()).collect();
        let now = Instant::now();
        let mut settled = Vec::new();
        lock(&pending).retain(|e| {
            let shown = levels.iter().enumerate().all(|(i, l)| {
                i == e.origin || l.get(&e.sku).is_some_and(|&level| level <= e.level)
            });
            if shown {
                settled.push((now - e.placed).as_secs_f64() * 1000.0);
            }
            !shown
        });
        lock(&latencies).extend(settled);
        tokio::time::sleep(SAMPLE).await;
    }
}

/// Waits until every store shows `level` for each of the `skus` SKUs.
async fn wait_all_at(
    stores: &[Arc<dyn SimStore>],
    skus: usize,
    level: i64,
    limit: Duration,
) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        let at = stores.iter().all(|s| {
            let stock = s.stock_by_sku();
            (0..skus).all(|i| stock.get(&format!("LD-{i:02}")) == Some(&level))
        });
        if at {
            return Ok(());
        }
        if start.elapsed() > limit {
            anyhow::bail!("the first push did not reach every store within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs `runs` pairs (paced as configured, then at once) and prints the figures.
pub async fn run(settings: &Settings, load: &Load, runs: usize) -> anyhow::Result<()> {
    let interval = settings.connectors.stock_push_interval_ms;
    println!(
        "switchyard bench stock --standard-plan: {} SKUs, {} orders/s for {} s round robin on two \
         standard-plan Shopify shops and a WooCommerce store; {runs} runs with pushes at least \
         {interval} ms apart per channel, each beside a baseline run pushing every change at once",
        load.skus, load.rate, load.seconds
    );
    let mut paced = Vec::new();
    let mut baseline = Vec::new();
    for run in 1..=runs.max(1) {
        for (label, ms, figures) in [
            ("paced", interval, &mut paced),
            ("baseline", 0, &mut baseline),
        ] {
            let f = run_once(settings, load, ms).await?;
            println!(
                "  run {run} {label:8} ({ms} ms): {} orders, propagation p50 {:.0} ms, p99 \
                 {:.0} ms, slowest {:.0} ms; {} stock calls, {:.3} per changed level; {} \
                 refused",
                f.orders,
                f.p50(),
                f.p99(),
                f.latencies.last().copied().unwrap_or(f64::NAN),
                f.writes,
                f.calls_per_level(),
                f.refused
            );
            figures.push(f);
        }
    }
    let med = |runs: &[Figures], of: fn(&Figures) -> f64| {
        median(&runs.iter().map(of).collect::<Vec<_>>())
    };
    println!(
        "median of {} runs, paced: p50 {:.0} ms, p99 {:.0} ms, {:.3} calls per changed level \
         ({:.2}x the baseline's calls; p99 {:.2}x the baseline's)",
        paced.len(),
        med(&paced, Figures::p50),
        med(&paced, Figures::p99),
        med(&paced, Figures::calls_per_level),
        med(&paced, Figures::calls_per_level) / med(&baseline, Figures::calls_per_level),
        med(&paced, Figures::p99) / med(&baseline, Figures::p99),
    );
    Ok(())
}
