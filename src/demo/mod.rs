//! `switchyard demo`: the whole system on one machine with nothing but PostgreSQL and Redis.
//!
//! It starts the simulated Shopify and WooCommerce stores and Amazon and eBay sellers with their
//! order generators on, seeds an account, a store and one channel per simulated store through the
//! store layer (as the API would), subscribes switchyard's inbound endpoint to the shops' order
//! webhooks so new orders arrive in seconds rather than at the next poll (the marketplaces are
//! polled), and runs the API, the worker pools, the import
//! timer and the outbox relay in this process, showing orders landing per channel and the import
//! queue's depth until Ctrl-C (or `--orders` imported). This is the README's "run it" command, so
//! it says plainly what it made and how to look at it.
//!
//! Stock is managed by switchyard: the channels' listings are downloaded into main products,
//! each SKU gets [`DEMO_STOCK`] units, and every sale on one simulated store is pushed to the
//! others as it is imported; the view shows each SKU's figure on every channel converging.
//!
//! Downstream, a signed webhook receiver gets the store's events, a fulfilment-centre plugin
//! ships one SKU's orders, and a simulated Xero organisation receives an invoice for every
//! order once it ships.

mod books;
mod downstream;
mod stock;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use tokio::sync::watch;

use crate::app::Application;
use crate::config::Settings;
use crate::crypto::CredentialsKey;
use crate::domain::ChannelSettings;
use crate::jobs::{ImportOrders, ImportProducts, ImportReason, JobKind};
use crate::queue::{Broker, EnqueueOptions, QueueStats};
use crate::store::channels::{self, ChannelRow, ChannelUpdate};
use crate::store::{accounts, import_state, products, stores, AccountId};
use crate::workers::{import_products, Deps};
use crate::{db, sandbox_cmd, shutdown};
use switchyard_sandbox::{GeneratorConfig, Platform, Sandbox, SandboxHandle, StoreInfo};

/// `switchyard demo`'s arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// New orders each simulated store generates per second.
    #[arg(long, default_value_t = 1.0)]
    pub rate: f64,
    /// Stop once this many orders have been imported in total (default: run until Ctrl-C).
    #[arg(long)]
    pub orders: Option<u64>,
    /// Address of the API (default: `server.listen` from the configuration).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
}

/// How often the progress display reads the database, the queue and the stores' stock.
const REFRESH: Duration = stock::SAMPLE;
/// Once the target is reached, how long the demo waits, its stores making no new orders, for the
/// last orders to be imported and the last stock changes to reach every channel.
const SETTLE: Duration = Duration::from_secs(20);
/// Units of each SKU switchyard holds at the start: enough that the generators' orders do not
/// empty a SKU within an hour at the default rate.
const DEMO_STOCK: i64 = 5_000;
/// Seconds between scheduled imports of the demo channels: the platform minimum, so the timer
/// is visible too, although webhooks bring most orders in first.
const POLL_INTERVAL_SECS: u32 = 30;
/// How long the API and the workers get to stop after the shutdown grace before the demo stops
/// waiting for them.
const STOP_SLACK: Duration = Duration::from_secs(5);

/// Order webhook topics each platform sends; `orders/create` and `order.created` bring new
/// orders, the rest bring payments, edits and cancellations.
fn webhook_topics(platform: Platform) -> &'static [&'static str] {
    match platform {
        Platform::Shopify => &["orders/create", "orders/updated", "orders/cancelled"],
        Platform::WooCommerce => &["order.created", "order.updated"],
        // Not among the demo's channels: their notifications do not come as webhooks here.
        Platform::Amazon | Platform::Ebay => &[],
    }
}

/// Progress bars and tracing lines written to one terminal shred each other, so the demo logs
/// only warnings unless `RUST_LOG` asks for more. sqlx's slow-statement warnings are left out
/// too: under a stream of webhooks, imports of one channel queue on its import lock, and each
/// wait would print as a slow `pg_advisory_lock`. Call before `telemetry::init`.
pub fn quiet_logs(settings: &mut Settings) {
    if std::env::var_os("RUST_LOG").is_none() {
        settings.log.filter = "warn,sqlx::query=error".to_owned();
    }
}

/// What the demo seeded.
struct Seeded {
    account: AccountId,
    token: String,
    store_id: i64,
    channels: Vec<(ChannelRow, StoreInfo)>,
    /// The products' SKUs, once [`prepare_stock`] made them.
    skus: Vec<String>,
    /// The webhook receiver and fulfilment centre, once started.
    downstream: Option<downstream::Downstream>,
    /// The Xero organisation, once connected.
    books: Option<books::Books>,
    /// A hosted page link for a second store, on which a visitor connects a simulated store
    /// as a provider's customer would.
    hosted_link: Option<String>,
}

impl Seeded {
    /// The channels' simulated stores' names, in `channels` order.
    fn channel_names(&self) -> Vec<&str> {
        self.channels
            .iter()
            .map(|(_, info)| info.name.as_str())
            .collect()
    }
}

/// An account with its first token, a store, and one channel per simulated store.
async fn seed(
    pool: &sqlx::PgPool,
    key: &CredentialsKey,
    sandbox: &SandboxHandle,
) -> anyhow::Result<Seeded> {
    let (account, token) = accounts::create_account(pool, "switchyard demo", "demo")
        .await
        .context("creating the demo account")?;
    let store = stores::create(pool, account, "Demo outdoor shop")
        .await
        .context("creating the demo store")?;
    let settings = ChannelSettings {
        poll_interval_secs: POLL_INTERVAL_SECS,
        stock_management: true,
        download_products: true,
        add_to_main_products: true,
        auto_sync_stock: true,
        ..ChannelSettings::default()
    };
    let made =
        sandbox_cmd::connect_channels(pool, key, account, store.id, sandbox, &settings).await?;
    Ok(Seeded {
        account,
        token: token.token,
        store_id: store.id,
        channels: made,
        skus: Vec::new(),
        downstream: None,
        books: None,
        hosted_link: None,
    })
}

/// Downloads every channel's listings (creating the store's main products from them) and gives
/// each product [`DEMO_STOCK`]; the sync jobs the downloads queued push it to every channel once
/// the workers start. Returns the products' SKUs.
async fn prepare_stock(
    pool: &sqlx::PgPool,
    key: &CredentialsKey,
    broker: &Broker,
    seeded: &Seeded,
) -> anyhow::Result<Vec<String>> {
    let deps = Deps::new(pool.clone(), key.clone(), broker.clone());
    for (channel, info) in &seeded.channels {
        let job = ImportProducts {
            channel_id: channel.id,
        };
        import_products::run(job, apalis_core::task::data::Data::new(deps.clone()))
            .await
            .map_err(|e| anyhow::anyhow!("downloading the listings of {}: {e}", info.name))?;
    }
    let products = products::list(
        pool,
        seeded.account,
        Some(seeded.store_id),
        None,
        None,
        1000,
    )
    .await
    .context("listing the demo's products")?;
    for p in &products {
        crate::store::stock::set_api_quantity(
            pool,
            seeded.account,
            p.id,
            DEMO_STOCK,
            &format!("demo-start-{}", p.id),
        )
        .await
        .with_context(|| format!("setting the stock of {}", p.sku))?;
    }
    Ok(products.into_iter().map(|p| p.sku).collect())
}

/// Where the simulated stores can reach the API: a wildcard listen address is reachable on
/// loopback.
fn api_base(listen: SocketAddr, port: u16) -> String {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, port))
}

/// Points every order topic of each simulated store at its channel's inbound endpoint.
fn subscribe_webhooks(
    sandbox: &SandboxHandle,
    seeded: &Seeded,
    api: &str,
) -> anyhow::Result<usize> {
    let mut n = 0;
    for (channel, info) in &seeded.channels {
        let store = sandbox
            .store(&info.name)
            .with_context(|| format!("sandbox store {} is gone", info.name))?;
        for topic in webhook_topics(info.platform) {
            let address = format!("{api}/v1/channels/{}/inbound/{topic}", channel.id);
            store
                .register_webhook(topic, &address)
                .map_err(|e| anyhow::anyhow!("subscribing {} to {topic}: {e}", info.name))?;
            n += 1;
        }
    }
    Ok(n)
}

fn print_banner(seeded: &Seeded, api: &str, sandbox: &SandboxHandle, opts: &Options) {
    println!("switchyard demo");
    println!("  API             {api}  (docs at {api}/docs, ops dashboard at {api}/dashboard)");
    println!("  sandbox         {}", sandbox.url());
    println!(
        "  account {}, store {}, {} channels; each simulated store makes {} orders/s",
        seeded.account.0,
        seeded.store_id,
        seeded.channels.len(),
        opts.rate
    );
    for (channel, info) in &seeded.channels {
        println!(
            "    channel {:>4}  {:<12} {}",
            channel.id, info.name, info.base_url
        );
    }
    println!(
        "  stock           {} products made from the channels' listings, {DEMO_STOCK} units each; \
         every sale is pushed to the other channels",
        seeded.skus.len()
    );
    if let Some(d) = &seeded.downstream {
        println!(
            "  webhooks        a receiver at {} gets the store's order, fulfilment and product \
             events, signed",
            d.webhook_url
        );
        println!(
            "  plugin          a fulfilment centre at {}; a rule sends it every {} order, it ships \
             after 3 s and the tracking goes back to the channel",
            d.centre.endpoint_url(),
            downstream::ROUTED_SKU
        );
    }
    if let Some(link) = &seeded.hosted_link {
        let (shop, woo) =
            sandbox
                .stores()
                .iter()
                .fold((String::new(), String::new()), |(s, w), info| {
                    match info.platform {
                        Platform::Shopify => (info.base_url.clone(), w),
                        Platform::WooCommerce => (s, info.base_url.clone()),
                        Platform::Amazon | Platform::Ebay => (s, w),
                    }
                });
        println!(
            "  hosted page     {link}\n                  open it in a browser to connect a store \
             as a provider's customer would (single use): Shopify at {shop}, WooCommerce at \
             {woo}, or the Xero organisation"
        );
    }
    if let Some(b) = &seeded.books {
        println!(
            "  accounting      Xero organisation {} at {} (connection {}): every order is \
             invoiced there once it ships",
            b.org.tenant_name(),
            b.org.base_url(),
            b.connection_id
        );
    }
    println!(
        "  API token       {}  (shown once; it is stored hashed)",
        seeded.token
    );
    println!(
        "  try             curl -H 'Authorization: Bearer {}' '{api}/v1/orders?limit=5'",
        seeded.token
    );
    match opts.orders {
        Some(n) => println!("Stops after {n} orders are imported, or on Ctrl-C.\n"),
        None => println!("Ctrl-C stops it.\n"),
    }
}

/// The live view: one line per channel, one for the import queue, one per SKU's stock and one
/// for stock convergence.
struct Display {
    bars: Vec<ProgressBar>,
    total: Option<ProgressBar>,
    queue: ProgressBar,
    skus: Vec<(String, ProgressBar)>,
    stock: ProgressBar,
    webhooks: ProgressBar,
    centre: ProgressBar,
    invoices: ProgressBar,
}

impl Display {
    fn new(seeded: &Seeded, target: Option<u64>) -> Display {
        let multi = MultiProgress::new();
        let line = ProgressStyle::with_template("  {prefix:<28} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let bars = seeded
            .channels
            .iter()
            .map(|(channel, info)| {
                let pb = multi.add(ProgressBar::new_spinner());
                pb.set_style(line.clone());
                pb.set_prefix(format!("channel {} {}", channel.id, info.name));
                pb
            })
            .collect();
        let queue = multi.add(ProgressBar::new_spinner());
        queue.set_style(line.clone());
        queue.set_prefix(ImportOrders::QUEUE);
        let skus = seeded
            .skus
            .iter()
            .map(|sku| {
                let pb = multi.add(ProgressBar::new_spinner());
                pb.set_style(line.clone());
                pb.set_prefix(format!("stock {sku}"));
                (sku.clone(), pb)
            })
            .collect();
        let stock = multi.add(ProgressBar::new_spinner());
        stock.set_style(line.clone());
        stock.set_prefix("stock sync");
        let webhooks = multi.add(ProgressBar::new_spinner());
        webhooks.set_style(line.clone());
        webhooks.set_prefix("webhooks");
        let centre = multi.add(ProgressBar::new_spinner());
        centre.set_style(line.clone());
        centre.set_prefix("fulfilment centre");
        let invoices = multi.add(ProgressBar::new_spinner());
        invoices.set_style(line);
        invoices.set_prefix("invoices");
        let total = target.map(|n| {
            let pb = multi.add(ProgressBar::new(n));
            let style =
                ProgressStyle::with_template("  {prefix:<28} {bar:40} {pos}/{len} ({per_sec})")
                    .unwrap_or_else(|_| ProgressStyle::default_bar());
            pb.set_style(style);
            pb.set_prefix("imported");
            pb
        });
        Display {
            bars,
            total,
            queue,
            skus,
            stock,
            webhooks,
            centre,
            invoices,
        }
    }

    fn show_stock(&self, watch: &stock::StockWatch, seeded: &Seeded) {
        for (sku, pb) in &self.skus {
            match watch.last.iter().find(|l| &l.sku == sku) {
                Some(levels) => pb.set_message(stock::sku_line(levels, &seeded.channels)),
                None => pb.set_message("not listed on any channel"),
            }
        }
        self.stock
            .set_message(watch.summary(&seeded.channel_names()));
    }

    fn finish(&self) {
        for pb in self.bars.iter().chain(self.skus.iter().map(|(_, pb)| pb)) {
            pb.finish();
        }
        self.stock.finish();
        self.webhooks.finish();
        self.centre.finish();
        self.invoices.finish();
        self.queue.finish();
        if let Some(pb) = &self.total {
            pb.finish();
        }
    }
}

/// The queue's line; `done_before` is its done count when the demo started, because the
/// counters are the queue's own and outlive any one process.
fn queue_line(s: &QueueStats, done_before: u64) -> String {
    let latency = s
        .mean_start_latency_ms
        .map(|ms| format!(", mean pickup {ms:.1} ms"))
        .unwrap_or_default();
    format!(
        "ready {}  running {}  scheduled {}  dead {}  done {}{latency}",
        s.ready,
        s.running,
        s.scheduled,
        s.dead,
        s.processed_total.saturating_sub(done_before)
    )
}

/// Orders imported per channel so far, in `seeded.channels` order.
async fn imported(pool: &sqlx::PgPool, seeded: &Seeded) -> anyhow::Result<Vec<i64>> {
    let mut out = Vec::with_capacity(seeded.channels.len());
    for (channel, _) in &seeded.channels {
        let health = import_state::import_health(pool, seeded.account, channel.id).await?;
        out.push(health.map_or(0, |h| h.orders_imported));
    }
    Ok(out)
}

/// Refreshes the display until `stop` turns true, or `target` orders are imported and then, the
/// stores' generators paused, every order on the channels is imported and every SKU in step (or
/// [`SETTLE`] has passed); returns what it saw of stock.
async fn watch_progress(
    pool: &sqlx::PgPool,
    broker: &Broker,
    sandbox: &SandboxHandle,
    seeded: &Seeded,
    target: Option<u64>,
    done_before: u64,
    mut stop: watch::Receiver<bool>,
) -> stock::StockWatch {
    let display = Display::new(seeded, target);
    let mut stock_watch = stock::StockWatch::default();
    let mut last = vec![0; seeded.channels.len()];
    let mut settling: Option<Instant> = None;
    loop {
        match imported(pool, seeded).await {
            Ok(counts) => last = counts,
            Err(e) => display
                .queue
                .set_message(format!("reading progress: {e:#}")),
        }
        let mut caught_up = true;
        for ((pb, (_, info)), n) in display.bars.iter().zip(&seeded.channels).zip(&last) {
            let on_channel = sandbox.store(&info.name).map_or(0, |s| s.order_count());
            pb.set_message(format!("{n:>7} imported of {on_channel:>7} on the channel"));
            caught_up &= usize::try_from(*n).is_ok_and(|n| n >= on_channel);
        }
        let total: i64 = last.iter().sum();
        if let Some(pb) = &display.total {
            pb.set_position(u64::try_from(total).unwrap_or(0));
        }
        match broker.queue(ImportOrders::QUEUE) {
            Ok(q) => match q.stats().await {
                Ok(s) => display.queue.set_message(queue_line(&s, done_before)),
                Err(e) => display.queue.set_message(format!("reading the queue: {e}")),
            },
            Err(e) => display.queue.set_message(e.to_string()),
        }
        if let Some(d) = &seeded.downstream {
            display.webhooks.set_message(d.webhook_line());
            display
                .centre
                .set_message(d.centre_line(pool, seeded.store_id).await);
        }
        if let Some(b) = &seeded.books {
            display.invoices.set_message(b.line(pool).await);
        }
        match stock_watch.sample(pool, &seeded.channels, sandbox).await {
            Ok(()) => display.show_stock(&stock_watch, seeded),
            Err(e) => display.stock.set_message(format!("{e:#}")),
        }
        let reached = target.is_some_and(|t| u64::try_from(total).unwrap_or(0) >= t);
        if reached && settling.is_none() {
            pause_generators(sandbox, seeded);
            fetch_last_orders(broker, seeded).await;
            display.queue.suspend(|| {
                println!(
                    "\n{total} orders imported: the stores stop making orders; waiting (at most \
                     {} s) for the last imports and stock pushes",
                    SETTLE.as_secs()
                )
            });
            settling = Some(Instant::now() + SETTLE);
        }
        if let Some(deadline) = settling {
            let (in_step, of) = stock_watch.in_sync();
            if (caught_up && in_step == of) || Instant::now() >= deadline {
                break;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(REFRESH) => {}
            _ = shutdown::wait(stop.clone()) => break,
        }
        if *stop.borrow_and_update() {
            break;
        }
    }
    display.finish();
    stock_watch
}

/// Stops the simulated stores making orders, so what the demo reports at its end can settle.
fn pause_generators(sandbox: &SandboxHandle, seeded: &Seeded) {
    for (_, info) in &seeded.channels {
        if let Some(store) = sandbox.store(&info.name) {
            store.set_generator_config(GeneratorConfig {
                orders_per_second: 0.0,
                ..store.generator_config()
            });
        }
    }
}

/// Asks every channel for an import now: platforms without order webhooks (Amazon, eBay) would
/// otherwise show their last orders only at their next poll.
async fn fetch_last_orders(broker: &Broker, seeded: &Seeded) {
    let queue = match broker.queue(ImportOrders::QUEUE) {
        Ok(q) => q,
        Err(e) => return tracing::warn!(error = %e, "could not ask for the last imports"),
    };
    for (channel, _) in &seeded.channels {
        let job = ImportOrders {
            channel_id: channel.id,
            reason: ImportReason::Manual,
        };
        let options = EnqueueOptions {
            unique_key: Some(format!("import-manual:{}", channel.id)),
            ..EnqueueOptions::default()
        };
        if let Err(e) = queue.enqueue(&job, &options).await {
            tracing::warn!(channel_id = channel.id, error = %e, "could not ask for the last import");
        }
    }
}

/// Marks the demo's channels inactive, so a later `switchyard run` on this database does not
/// poll simulated stores that stopped with the demo.
async fn retire_channels(pool: &sqlx::PgPool, key: &CredentialsKey, seeded: &Seeded) {
    let update = ChannelUpdate {
        active: Some(false),
        ..ChannelUpdate::default()
    };
    for (channel, _) in &seeded.channels {
        if let Err(e) = channels::update(pool, key, seeded.account, channel.id, &update).await {
            tracing::warn!(channel_id = channel.id, error = %e, "could not deactivate a demo channel");
        }
    }
}

async fn print_summary(
    pool: &sqlx::PgPool,
    broker: &Broker,
    sandbox: &SandboxHandle,
    seeded: &Seeded,
    before: &QueueStats,
    ran_for: Duration,
    stock_watch: &stock::StockWatch,
) {
    let counts = imported(pool, seeded)
        .await
        .unwrap_or_else(|_| vec![0; seeded.channels.len()]);
    let total: i64 = counts.iter().sum();
    let secs = ran_for.as_secs_f64().max(f64::EPSILON);
    println!(
        "\nsummary: {total} orders imported in {:.0} s ({:.1} orders/s)",
        secs,
        total as f64 / secs
    );
    for ((channel, info), n) in seeded.channels.iter().zip(&counts) {
        let on_channel = sandbox.store(&info.name).map_or(0, |s| s.order_count());
        println!(
            "  channel {:>4} {:<12} {n:>7} imported, {on_channel:>7} on the channel",
            channel.id, info.name
        );
    }
    if let Ok(queue) = broker.queue(ImportOrders::QUEUE) {
        if let Ok(s) = queue.stats().await {
            println!(
                "  {}: {} imports run, {} failed attempts, {} dead",
                ImportOrders::QUEUE,
                s.processed_total.saturating_sub(before.processed_total),
                s.failed_total.saturating_sub(before.failed_total),
                s.dead
            );
        }
    }
    println!("  stock: {}", stock_watch.summary(&seeded.channel_names()));
    if let Some(d) = &seeded.downstream {
        println!("  webhooks: {}", d.webhook_line());
        println!(
            "  fulfilment centre: {}",
            d.centre_line(pool, seeded.store_id).await
        );
    }
    if let Some(b) = &seeded.books {
        println!("  invoices: {}", b.line(pool).await);
    }
    println!(
        "  the demo's channels are now inactive; account {} and its orders stay in the database",
        seeded.account.0
    );
}

/// A second store of the demo account, and a hosted page link on which a visitor connects one
/// of the simulated stores to it.
async fn hosted_link(
    pool: &sqlx::PgPool,
    account: AccountId,
    settings: &Settings,
) -> anyhow::Result<String> {
    use crate::domain::hosted::{Branding, Inputs};
    use crate::store::hosted_pages::{self, NewHostedPage};

    let store = stores::create(pool, account, "Onboarded through a hosted page").await?;
    let branding = Branding {
        title: "Connect your shop to the demo's fulfilment".to_owned(),
        ..Branding::default()
    };
    let inputs: Inputs = serde_json::from_value(serde_json::json!({
        "stock_management": {"preset": true, "visible": true, "editable": true},
        "download_products": {"preset": true, "visible": true, "editable": true},
        "import_unpaid": {"preset": false, "visible": true, "editable": true},
        "poll_interval_secs": {"preset": 300, "visible": true}
    }))?;
    let new = NewHostedPage {
        store_id: store.id,
        channels: &[
            crate::domain::ChannelKind::Shopify,
            crate::domain::ChannelKind::WooCommerce,
        ],
        accounting: &[crate::domain::accounting::AccountingKind::Xero],
        branding: &branding,
        inputs: &inputs,
        return_url: None,
        expires_at: chrono::Utc::now() + chrono::Duration::days(1),
    };
    let (_, token) = hosted_pages::create(pool, account, &new)
        .await?
        .context("the demo store is gone")?;
    Ok(format!(
        "{}/hosted/{token}",
        settings.server.public_url.trim_end_matches('/')
    ))
}

/// Runs the demo until Ctrl-C, or until `opts.orders` orders are imported.
pub async fn run(mut settings: Settings, opts: Options) -> anyhow::Result<()> {
    if !opts.rate.is_finite() || opts.rate < 0.0 {
        anyhow::bail!("--rate must be a number of orders per second, 0 or more");
    }
    if let Some(listen) = opts.listen {
        settings.server.listen = listen;
    }
    // The simulated platforms, the webhook receiver and the fulfilment centre listen on
    // loopback, which the SSRF guard refuses unless allow-listed; this is the demo's own
    // process, so it is.
    crate::sandbox_cmd::allow_loopback(&mut settings);
    // The hosted page's platforms send the visitor back to the API's public address: the
    // address the demo listens on, unless a port is chosen at random.
    if settings.server.listen.port() != 0 {
        let mut public = settings.server.listen;
        if public.ip().is_unspecified() {
            public.set_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
        }
        settings.server.public_url = format!("http://{public}");
    }
    let (stop_tx, stop) = watch::channel(false);
    let signal = shutdown::on_signal();
    let signalled = stop_tx.clone();
    tokio::spawn(async move {
        shutdown::wait(signal).await;
        let _ = signalled.send(true);
    });

    let pool = db::prepare(&settings.database)
        .await
        .with_context(|| format!("preparing PostgreSQL at {}", settings.database.url))?;
    let broker = Broker::connect(&settings)
        .await
        .with_context(|| format!("connecting to Redis at {}", settings.redis.url))?;
    let key = CredentialsKey::from_hex(&settings.crypto.credentials_key)?;
    // The simulated shop keeps the standard plan's GraphQL limits (sandbox_cmd's default).
    let sandbox_config = sandbox_cmd::config(&sandbox_cmd::Options {
        listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        orders_per_second: opts.rate,
        seed_orders: 0,
    });
    // The simulated shop knows switchyard's Shopify app by these, so the hosted page can
    // install it there.
    if let Some(shop) = sandbox_config.shopify.first() {
        if settings.hosted.shopify_client_id.is_empty() {
            settings.hosted.shopify_client_id = shop.client_id.clone();
            settings.hosted.shopify_client_secret = shop.app_secret.clone();
        }
    }
    let sandbox = Sandbox::start(sandbox_config)
        .await
        .context("starting the simulated stores")?;
    // And the simulated Xero organisation knows the demo's Xero app.
    if let Some(org) = sandbox.xero("demo-xero") {
        if settings.hosted.xero_client_id.is_empty() {
            settings.hosted.xero_client_id = org.client_id().to_owned();
            settings.hosted.xero_client_secret = org.client_secret().to_owned();
            settings.hosted.xero_base_url = Some(org.base_url().to_owned());
        }
    }
    let app = Application::build(settings.clone()).await?;
    let api = api_base(settings.server.listen, app.port());
    let mut seeded = seed(&pool, &key, &sandbox).await?;
    seeded.skus = prepare_stock(&pool, &key, &broker, &seeded).await?;
    subscribe_webhooks(&sandbox, &seeded, &api)?;
    seeded.downstream =
        Some(downstream::start(&pool, &key, seeded.account, seeded.store_id, &api).await?);
    let server = tokio::spawn(app.run_until(stop.clone()));
    // The organisation's consent sends the merchant's browser back to the API: it connects once
    // the API is serving.
    seeded.books = Some(
        books::connect(&pool, &key, seeded.account, seeded.store_id, &sandbox, &api)
            .await
            .context("connecting the store to the simulated Xero organisation")?,
    );
    seeded.hosted_link = Some(
        hosted_link(&pool, seeded.account, &settings)
            .await
            .context("creating the demo's hosted page")?,
    );
    print_banner(&seeded, &api, &sandbox, &opts);

    // The queue's counters outlive processes; the demo reports what it added.
    let before = broker
        .queue(ImportOrders::QUEUE)?
        .stats()
        .await
        .unwrap_or_else(|_| QueueStats::default_for(ImportOrders::QUEUE));
    let started = Instant::now();
    let grace = Duration::from_secs(settings.shutdown.grace_secs) + STOP_SLACK;
    let worker_settings = settings.clone();
    let worker_stop = stop.clone();
    let workers = tokio::spawn(async move {
        crate::runner::run_workers(&worker_settings, Vec::new(), worker_stop).await
    });

    let stock_watch = watch_progress(
        &pool,
        &broker,
        &sandbox,
        &seeded,
        opts.orders,
        before.processed_total,
        stop,
    )
    .await;
    let ran_for = started.elapsed();
    println!(
        "\nstopping: finishing running imports (at most {} s)",
        grace.as_secs()
    );
    let _ = stop_tx.send(true);
    let mut failure = None;
    for (what, task) in [("the API", server), ("the workers", workers)] {
        match tokio::time::timeout(grace, task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => failure = Some(e.context(format!("{what} failed"))),
            Ok(Err(e)) => failure = Some(anyhow::anyhow!("{what} panicked: {e}")),
            Err(_) => tracing::warn!("{what} did not stop within {} s", grace.as_secs()),
        }
    }
    retire_channels(&pool, &key, &seeded).await;
    print_summary(
        &pool,
        &broker,
        &sandbox,
        &seeded,
        &before,
        ran_for,
        &stock_watch,
    )
    .await;
    if let Some(d) = seeded.downstream.take() {
        d.shutdown().await;
    }
    sandbox.shutdown().await;
    failure.map_or(Ok(()), Err)
}
