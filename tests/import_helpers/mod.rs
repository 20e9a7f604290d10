//! Harness for the order-import tests: the sandbox platforms, an account with stores, channels on
//! the sandbox stores, and the real import-orders pool and outbox relay, under a Redis key prefix
//! of the test's own.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::PgPool;
use switchyard::config::Settings;
use switchyard::domain::ChannelSettings;
use switchyard::jobs::{ImportOrders, ImportReason, JobKind};
use switchyard::outbox::relay;
use switchyard::queue::{Broker, EnqueueOptions, JobInfo, JobStatus};
use switchyard::store::channels::{self, ChannelRow, NewChannel};
use switchyard::store::products::{self, NewProduct, ProductRow};
use switchyard::store::{accounts, stores, AccountId};
use switchyard::workers::{self, Deps};
use switchyard::{db, sandbox_cmd};
use switchyard_sandbox::{GeneratorConfig, Sandbox, SandboxConfig, SandboxHandle, SimStore};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app_helpers::{drop_database, key, settings_with_own_database};

pub struct World {
    pub settings: Settings,
    pub pool: PgPool,
    pub broker: Broker,
    pub deps: Arc<Deps>,
    pub sandbox: SandboxHandle,
    pub account: AccountId,
    stop_tx: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl World {
    /// Starts the sandbox with `config`, and the import pool and relay unless `workers` is false.
    pub async fn start(config: SandboxConfig, workers: bool) -> World {
        World::start_with(settings_with_own_database(), config, workers).await
    }

    /// [`World::start`] with `settings` (from [`settings_with_own_database`], changed by the test).
    pub async fn start_with(settings: Settings, config: SandboxConfig, workers: bool) -> World {
        let pool = db::prepare(&settings.database)
            .await
            .expect("test database");
        let broker = Broker::connect(&settings).await.expect("Redis");
        let deps = Deps::new(pool.clone(), key(&settings), broker.clone());
        let sandbox = Sandbox::start(config).await.expect("sandbox starts");
        let (account, _) =
            accounts::create_account(&pool, &format!("acct-{}", ulid::Ulid::new()), "t")
                .await
                .unwrap();
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut tasks = Vec::new();
        if workers {
            for queue in switchyard::jobs::QUEUES
                .iter()
                .filter(|q| workers::needs_deps(q))
            {
                let run =
                    workers::spawn_pool_with(&broker, queue, Some(deps.clone()), stop_rx.clone())
                        .expect("domain pool");
                tasks.push(tokio::spawn(run));
            }
            tasks.push(tokio::spawn(relay::run(
                pool.clone(),
                broker.clone(),
                stop_rx,
            )));
        }
        World {
            settings,
            pool,
            broker,
            deps,
            sandbox,
            account,
            stop_tx,
            tasks,
        }
    }

    pub async fn store(&self, name: &str) -> i64 {
        stores::create(
            &self.pool,
            self.account,
            &format!("{name}-{}", ulid::Ulid::new()),
        )
        .await
        .unwrap()
        .id
    }

    /// A product of `store_id`, its opening `api_quantity` in the ledger.
    pub async fn product(
        &self,
        store_id: i64,
        sku: &str,
        title: &str,
        api_quantity: Option<i64>,
    ) -> ProductRow {
        products::create(
            &self.pool,
            self.account,
            &NewProduct {
                store_id,
                sku,
                title,
                api_quantity,
            },
        )
        .await
        .unwrap()
    }

    /// A channel in `store_id` on the sandbox store `sandbox_store`.
    pub async fn channel(
        &self,
        store_id: i64,
        sandbox_store: &str,
        settings: ChannelSettings,
    ) -> ChannelRow {
        let info = self
            .sandbox
            .store_info(sandbox_store)
            .expect("sandbox store");
        let credentials = sandbox_cmd::sandbox_credentials(info);
        channels::create(
            &self.pool,
            &self.deps.credentials_key,
            self.account,
            &NewChannel {
                store_id,
                name: sandbox_store,
                base_url: &info.base_url,
                credentials: &credentials,
                settings: &settings,
            },
        )
        .await
        .expect("channel created")
    }

    /// A channel with default settings on the sandbox store `sandbox_store`, in a store of its
    /// own.
    pub async fn default_channel(&self, sandbox_store: &str) -> ChannelRow {
        let store_id = self.store("brand").await;
        self.channel(store_id, sandbox_store, ChannelSettings::default())
            .await
    }

    /// Enqueues a manual import of `channel_id` and waits until it finished (or died).
    /// An import of a channel that finds another running leaves a follow-up and finishes, so
    /// this also waits for the import queue to settle.
    pub async fn import(&self, channel_id: i64) -> JobInfo {
        let job = ImportOrders {
            channel_id,
            reason: ImportReason::Manual,
        };
        let done = self.run_job(ImportOrders::QUEUE, &job).await;
        self.settle(ImportOrders::QUEUE).await;
        done
    }

    /// [`World::import`] of changes made on the channel since the last import: they land a
    /// second later than that import's cursor, as on a real channel.
    pub async fn import_changes(&self, channel_id: i64) -> JobInfo {
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        self.import(channel_id).await
    }

    /// Waits until `queue` has nothing waiting, scheduled or running.
    pub async fn settle(&self, queue: &str) {
        let queue = self.broker.queue(queue).unwrap();
        let start = Instant::now();
        loop {
            let s = queue.stats().await.unwrap();
            if s.ready + s.scheduled + s.running == 0 {
                return;
            }
            assert!(start.elapsed() < Duration::from_secs(120), "{s:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Enqueues `job` on `queue` and waits until it finished (or died).
    pub async fn run_job<T: serde::Serialize>(&self, queue: &str, job: &T) -> JobInfo {
        let job = self
            .broker
            .queue(queue)
            .unwrap()
            .enqueue(job, &EnqueueOptions::default())
            .await
            .unwrap();
        self.wait_for_job(queue, &job.id).await
    }

    /// Waits until job `id` of `queue` finished (or died).
    pub async fn wait_for_job(&self, queue: &str, id: &str) -> JobInfo {
        let queue = self.broker.queue(queue).unwrap();
        let start = Instant::now();
        loop {
            let j = queue.job(id).await.unwrap().expect("job exists");
            if matches!(j.status, JobStatus::Done | JobStatus::Dead) {
                return j;
            }
            assert!(
                start.elapsed() < Duration::from_secs(240),
                "job did not finish: {j:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// (channel order id, status, sync status, excluded reason, store id) of a channel's orders.
    pub async fn orders(
        &self,
        channel_id: i64,
    ) -> Vec<(String, String, String, Option<String>, i64)> {
        sqlx::query_as(
            "SELECT channel_order_id, status, sync_status, excluded_reason, store_id \
             FROM orders WHERE channel_id = $1 ORDER BY channel_order_id",
        )
        .bind(channel_id)
        .fetch_all(&self.pool)
        .await
        .unwrap()
    }

    /// Waits until the outbox is empty: the relay pushed (and deleted) everything the import
    /// wrote.
    pub async fn relayed(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
                .fetch_one(&self.pool)
                .await
                .unwrap();
            if left == 0 {
                return;
            }
            assert!(Instant::now() < deadline, "{left} outbox rows left");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn stop(self) {
        // Other tests' worker processes run import timers over the shared test database: leave
        // no active channel pointing at a sandbox that is about to stop.
        let _ = sqlx::query("UPDATE channels SET active = false WHERE account_id = $1")
            .bind(self.account.0)
            .execute(&self.pool)
            .await;
        let _ = self.stop_tx.send(true);
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(20), t).await;
        }
        self.sandbox.shutdown().await;
        self.pool.close().await;
        drop_database(&self.settings).await;
        for q in switchyard::jobs::QUEUES {
            if let Ok(queue) = self.broker.queue(q) {
                let _ = queue.destroy().await;
            }
        }
    }
}

/// Settings of a channel whose listings are downloaded and whose stock switchyard keeps.
pub fn stock_settings() -> ChannelSettings {
    ChannelSettings {
        stock_management: true,
        auto_sync_stock: true,
        download_products: true,
        ..ChannelSettings::default()
    }
}

/// Orders that are all paid and open (not shipped), with no later changes.
pub fn all_paid_open() -> GeneratorConfig {
    GeneratorConfig {
        unpaid_ratio: 0.0,
        fulfilled_ratio: 0.0,
        cancel_ratio: 0.0,
        update_ratio: 0.0,
        ..GeneratorConfig::default()
    }
}

/// [`all_paid_open`] orders of only these SKUs: each one takes stock.
pub fn paid_open(skus: &[&str]) -> GeneratorConfig {
    GeneratorConfig {
        sku_mix: skus.iter().map(|s| ((*s).to_owned(), 1)).collect(),
        ..all_paid_open()
    }
}

/// [`paid_open`] orders of one line of `sku`.
pub fn orders_of(sku: &str) -> GeneratorConfig {
    GeneratorConfig {
        max_lines: 1,
        ..paid_open(&[sku])
    }
}

/// Requests that set stock, whatever the platform calls them.
pub fn stock_writes(store: &dyn SimStore) -> u64 {
    store
        .traffic()
        .snapshot()
        .by_route
        .iter()
        .filter(|(route, _)| {
            route.ends_with("inventorySetQuantities")
                || route.contains("inventory_levels/set")
                || route.starts_with("PUT /wp-json/wc/v3/products")
                || (route.starts_with("POST /wp-json/wc/v3/products") && route.ends_with("/batch"))
        })
        .map(|(_, n)| *n)
        .sum()
}

/// Waits up to 20 s for the simulated store to show `level` of `sku`.
pub async fn wait_for_level(store: &dyn SimStore, sku: &str, level: i64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now = store.stock_by_sku().get(sku).copied();
        if now == Some(level) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{}: {sku} is {now:?}, expected {level}",
            store.name()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
