//! `switchyard bench stock`: how long a sale on one channel takes to show as the new stock level
//! on the others. An order is placed on a simulated Shopify shop; its webhook reaches
//! switchyard's API, which imports the order, decrements stock and pushes the new level to a
//! WooCommerce store and a second Shopify shop. Latency is from placing the order to the level
//! being visible on both, over many orders, paced so the platforms' rate limits are respected
//! as in steady trading.

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
use switchyard_sandbox::{GeneratorConfig, Sandbox, SandboxConfig, ShopifyStoreConfig, SimStore};

/// The catalogue SKU sold in the bench.
const SKU: &str = "MS-1";

#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Orders per run.
    #[arg(long, default_value_t = 40)]
    pub orders: usize,
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Pause between one order's level showing everywhere and the next order.
    #[arg(long, default_value_t = 700)]
    pub pace_ms: u64,
    /// Sustained trade on standard-plan shops instead: orders at `--rate` a second round robin
    /// on two Shopify shops and a WooCommerce store, over `--skus` SKUs, for `--seconds`; each
    /// run beside a baseline that pushes stock at once.
    #[arg(long)]
    pub standard_plan: bool,
    /// With `--standard-plan`: SKUs sold.
    #[arg(long, default_value_t = 50)]
    pub skus: usize,
    /// With `--standard-plan`: orders a second across the channels.
    #[arg(long, default_value_t = 10.0)]
    pub rate: f64,
    /// With `--standard-plan`: seconds of trade per run.
    #[arg(long, default_value_t = 30)]
    pub seconds: u64,
}

async fn wait_level(stores: &[&dyn SimStore], level: i64, limit: Duration) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        if stores
            .iter()
            .all(|s| s.stock_by_sku().get(SKU).copied() == Some(level))
        {
            return Ok(());
        }
        if start.elapsed() > limit {
            anyhow::bail!("stock of {SKU} did not reach {level} within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn run_once(base: &Settings, opts: &Options) -> anyhow::Result<Vec<f64>> {
    let mut settings = base.clone();
    settings.redis.key_prefix = format!("sybench-stock-{}", ulid::Ulid::new());
    settings.database = bench_database(&base.database)?;
    settings.server.listen = "127.0.0.1:0".parse().context("listen address")?;
    let app = Application::build(settings.clone()).await?;
    let port = app.port();
    let pool = crate::db::prepare(&settings.database).await?;
    let broker = Broker::connect(&settings).await?;
    let key = CredentialsKey::from_hex(&settings.crypto.credentials_key)?;
    let deps = Deps::new(pool.clone(), key.clone(), broker.clone());

    let mut config = SandboxConfig::demo();
    config.shopify.push(ShopifyStoreConfig::new("other-shop"));
    let sandbox = Sandbox::start(config).await?;
    let (account, store_id) = super::bench_store(&pool, "stock").await?;
    products::create(
        &pool,
        account,
        &NewProduct {
            store_id,
            sku: SKU,
            title: "Merino Socks",
            api_quantity: Some(1_000_000),
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("creating the product: {e}"))?;
    let stock = ChannelSettings {
        stock_management: true,
        auto_sync_stock: true,
        ..ChannelSettings::default()
    };
    let ids: Vec<(String, i64)> =
        connect_channels(&pool, &key, account, store_id, &sandbox, &stock)
            .await?
            .into_iter()
            .map(|(channel, info)| (info.name, channel.id))
            .collect();

    let running = super::Running::start(app, &pool, &broker, &deps)?;

    let products_queue = broker.queue(ImportProducts::QUEUE)?;
    for (_, id) in &ids {
        products_queue
            .enqueue(
                &ImportProducts { channel_id: *id },
                &EnqueueOptions::default(),
            )
            .await?;
    }
    let sim = |name: &str| sandbox.store(name).context("sandbox store");
    let (a, b, c) = (sim("demo-shop")?, sim("demo-woo")?, sim("other-shop")?);
    let others: [&dyn SimStore; 2] = [b.as_ref(), c.as_ref()];
    wait_level(&others, 1_000_000, Duration::from_secs(30)).await?;

    let a_id = ids
        .iter()
        .find(|(n, _)| n == "demo-shop")
        .map(|(_, id)| *id)
        .context("channel")?;
    let hook = format!("http://127.0.0.1:{port}/v1/channels/{a_id}/inbound/orders/create");
    a.register_webhook("orders/create", &hook)
        .map_err(|e| anyhow::anyhow!(e))?;
    a.set_generator_config(GeneratorConfig {
        sku_mix: [(SKU.to_owned(), 1)].into(),
        max_lines: 1,
        max_quantity: 1,
        unpaid_ratio: 0.0,
        fulfilled_ratio: 0.0,
        cancel_ratio: 0.0,
        update_ratio: 0.0,
        ..GeneratorConfig::default()
    });

    let mut level = 1_000_000;
    let mut samples = Vec::with_capacity(opts.orders);
    for _ in 0..opts.orders {
        let t0 = Instant::now();
        a.create_orders(1);
        level -= 1;
        wait_level(&others, level, Duration::from_secs(30)).await?;
        samples.push(t0.elapsed().as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(opts.pace_ms)).await;
    }

    running.stop().await;
    sandbox.shutdown().await;
    Ok(samples)
}

pub async fn run(settings: &Settings, opts: &Options) -> anyhow::Result<()> {
    if opts.standard_plan {
        let load = super::stock_load::Load {
            skus: opts.skus,
            rate: opts.rate,
            seconds: opts.seconds,
        };
        return super::stock_load::run(settings, &load, opts.runs).await;
    }
    println!(
        "switchyard bench stock: {} orders per run, {} runs; an order placed on a Shopify shop, its level \
         read back from a WooCommerce store and another Shopify shop (webhook-triggered import)",
        opts.orders, opts.runs
    );
    let mut p50 = Vec::new();
    let mut p99 = Vec::new();
    for run in 1..=opts.runs.max(1) {
        let mut s = run_once(settings, opts).await?;
        s.sort_by(|a, b| a.total_cmp(b));
        let (m, q) = (quantile(&s, 0.5), quantile(&s, 0.99));
        println!(
            "  run {run}: propagation p50 {m:.0} ms, p99 {q:.0} ms, max {:.0} ms",
            s.last().copied().unwrap_or(0.0)
        );
        p50.push(m);
        p99.push(q);
    }
    println!(
        "median of {} runs: p50 {:.0} ms, p99 {:.0} ms",
        opts.runs.max(1),
        median(&p50),
        median(&p99)
    );
    Ok(())
}
