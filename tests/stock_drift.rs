//! Channel drift end to end: stock set by hand in a simulated platform's admin is set back to
//! switchyard's figure by the stock reconciliation (timer or on demand) on every channel kind,
//! and recorded in the ledger; a sale the channel took but switchyard had not imported yet is not
//! put back on sale; a listing already in step is not written to.

mod app_helpers;
mod import_helpers;

use std::sync::Arc;

use app_helpers::spawn_server_with;
use import_helpers::{orders_of, stock_settings, stock_writes, wait_for_level, World};
use reqwest::StatusCode;
use serde_json::Value;
use switchyard::domain::ChannelSettings;
use switchyard::jobs::{ImportProducts, JobKind, ReconcileStock};
use switchyard::outbox::relay;
use switchyard::queue::{JobInfo, JobStatus};
use switchyard::store::channels::ChannelRow;
use switchyard::store::stock::{self, Movement, StockField};
use switchyard::store::{accounts, stock_drift};
use switchyard::workers::scheduler::enqueue_due_reconciles;
use switchyard_sandbox::{AmazonSellerConfig, EbaySellerConfig, SandboxConfig, SimStore};

const SHOP: &str = "demo-shop";
const WOO: &str = "demo-woo";
const AMAZON: &str = "uk-seller";
const EBAY: &str = "ebay-seller";
/// Sold on every simulated platform.
const X: &str = "MS-1";
/// Another SKU every platform sells, left alone.
const Y: &str = "HL-1";

/// The demo shop and store, an Amazon seller (no FBA) and an eBay seller.
fn config() -> SandboxConfig {
    let mut config = SandboxConfig::demo();
    let mut amazon = AmazonSellerConfig::new(AMAZON);
    amazon.afn_ratio = 0.0;
    config.amazon.push(amazon);
    config.ebay.push(EbaySellerConfig::new(EBAY));
    config
}

/// A stock-managed channel on `sim` with `buffer`, its listings downloaded, and the sandbox
/// store behind it.
async fn stock_channel(
    world: &World,
    store: i64,
    sim: &str,
    buffer: u32,
) -> (ChannelRow, Arc<dyn SimStore>) {
    let settings = ChannelSettings {
        stock_buffer: buffer,
        ..stock_settings()
    };
    let channel = world.channel(store, sim, settings).await;
    let job = world
        .run_job(
            ImportProducts::QUEUE,
            &ImportProducts {
                channel_id: channel.id,
            },
        )
        .await;
    assert_eq!(job.status, JobStatus::Done, "{sim}: {job:?}");
    (channel, world.sandbox.store(sim).expect("a sandbox store"))
}

/// A reconciliation of `channel_id`, run to its end.
async fn reconcile(world: &World, channel_id: i64) -> JobInfo {
    let job = world
        .run_job(ReconcileStock::QUEUE, &ReconcileStock { channel_id })
        .await;
    assert_eq!(job.status, JobStatus::Done, "{job:?}");
    job
}

/// The product's `channel_drift` movements, oldest first.
async fn drift_movements(world: &World, product_id: i64) -> Vec<Movement> {
    stock::movements(&world.pool, world.account, product_id, None, 200)
        .await
        .unwrap()
        .expect("the account's product")
        .into_iter()
        .filter(|m| m.cause_kind == stock::CAUSE_CHANNEL_DRIFT)
        .collect()
}

/// The product's API quantity and the sum of its `api` movements.
async fn api_figures(world: &World, product_id: i64) -> (i64, i64) {
    sqlx::query_as(
        "SELECT p.api_quantity::bigint, \
                (SELECT COALESCE(sum(delta), 0)::bigint FROM stock_movements \
                 WHERE product_id = p.id AND field = 'api') \
         FROM products p WHERE p.id = $1",
    )
    .bind(product_id)
    .fetch_one(&world.pool)
    .await
    .unwrap()
}

fn level(sim: &dyn SimStore, sku: &str) -> i64 {
    sim.stock_by_sku()[sku]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_edit_on_every_kind_is_set_back_within_one_reconcile_period_and_ledgered() {
    let world = World::start(config(), true).await;
    let store = world.store("brand").await;
    let x = world.product(store, X, X, Some(100)).await;
    let y = world.product(store, Y, Y, Some(30)).await;
    // WooCommerce holds two units back: its expected figure is 98.
    let mut channels = Vec::new();
    for (sim, buffer) in [(SHOP, 0), (WOO, 2), (AMAZON, 0), (EBAY, 0)] {
        let (channel, store_sim) = stock_channel(&world, store, sim, buffer).await;
        let buffer = i64::from(buffer);
        wait_for_level(store_sim.as_ref(), X, 100 - buffer).await;
        wait_for_level(store_sim.as_ref(), Y, 30 - buffer).await;
        channels.push((channel, store_sim, buffer));
    }

    // The timer's tick in one period enqueues each channel's reconciliation once; nothing has
    // drifted, so nothing is set back.
    let period = u64::from(ChannelSettings::default().stock_reconcile_interval_secs);
    let start = 1_000 * period + 7;
    assert_eq!(enqueue_due_reconciles(&world.deps, start).await.unwrap(), 4);
    world.settle(ReconcileStock::QUEUE).await;
    assert_eq!(drift_movements(&world, x.id).await, Vec::new());

    // The merchant edits X by hand in each platform's admin.
    for (_, sim, _) in &channels {
        assert!(sim.set_stock(X, 37), "{}", sim.name());
    }
    // Later in the same period: already reconciled in it.
    let later = start + period - 8;
    assert_eq!(enqueue_due_reconciles(&world.deps, later).await.unwrap(), 0);
    // The next period's first tick sets every edit back.
    let next = start + period - 7;
    assert_eq!(enqueue_due_reconciles(&world.deps, next).await.unwrap(), 4);
    world.settle(ReconcileStock::QUEUE).await;
    for (_, sim, buffer) in &channels {
        assert_eq!(level(sim.as_ref(), X), 100 - buffer, "{}", sim.name());
        assert_eq!(level(sim.as_ref(), Y), 30 - buffer, "{}", sim.name());
    }

    // One ledger row per channel: the channel's figure, found and expected; the product's own
    // quantity untouched.
    let rows = drift_movements(&world, x.id).await;
    assert_eq!(rows.len(), 4, "{rows:?}");
    for (channel, sim, buffer) in &channels {
        let row = rows
            .iter()
            .find(|m| m.channel_id == Some(channel.id))
            .unwrap_or_else(|| panic!("{}: no correction in {rows:?}", sim.name()));
        assert_eq!(row.field, StockField::Channel);
        assert_eq!(row.found, Some(37), "{}", sim.name());
        assert_eq!(row.quantity_after, 100 - buffer, "{}", sim.name());
        assert_eq!(row.delta, 100 - buffer - 37, "{}", sim.name());
        let listed = stock_drift::for_channel(&world.pool, world.account, channel.id, None, 50)
            .await
            .unwrap()
            .expect("the account's channel");
        assert_eq!(listed.len(), 1, "{}: {listed:?}", sim.name());
        assert_eq!(listed[0].id, row.id);
        assert_eq!(
            (listed[0].sku.as_str(), listed[0].found, listed[0].expected),
            (X, 37, 100 - buffer)
        );
    }
    assert_eq!(drift_movements(&world, y.id).await, Vec::new());
    assert_eq!(api_figures(&world, x.id).await, (100, 100));

    // Each correction was announced.
    let events = relay::read_events(&world.broker, 10_000).await.unwrap();
    let announced: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "stock_drift.corrected")
        .collect();
    assert_eq!(announced.len(), 4, "{announced:?}");
    for e in announced {
        assert_eq!(e["store_id"], store);
        assert_eq!(e["data"]["found"], 37);
        assert_eq!(e["data"]["product_id"], x.id);
        assert_eq!(e["stock_drift_id"], e["data"]["id"]);
    }
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sale_not_yet_imported_when_the_listings_are_read_is_not_put_back_on_sale() {
    let world = World::start(SandboxConfig::demo(), true).await;
    let store = world.store("brand").await;
    // One SKU sold on each channel, so each round starts in step.
    let (x, y) = (
        world.product(store, X, X, Some(100)).await,
        world.product(store, Y, Y, Some(100)).await,
    );
    let mut channels = Vec::new();
    for (name, p) in [(SHOP, x), (WOO, y)] {
        let (channel, sim) = stock_channel(&world, store, name, 0).await;
        channels.push((channel, sim, p));
    }
    for (_, _, p) in &channels {
        for (_, sim, _) in &channels {
            wait_for_level(sim.as_ref(), &p.sku, 100).await;
        }
    }
    for (channel, sim, p) in &channels {
        let name = sim.name();
        // A sale on the channel, which takes its units at checkout; switchyard has not
        // imported it yet, so the channel now holds fewer than switchyard expects.
        sim.set_generator_config(orders_of(&p.sku));
        assert_eq!(sim.create_orders(1).len(), 1);
        let left = level(sim.as_ref(), &p.sku);
        assert!(left < 100, "{name}: the sale took stock");

        reconcile(&world, channel.id).await;
        assert_eq!(
            level(sim.as_ref(), &p.sku),
            left,
            "{name}: the sold units stay sold"
        );
        // The reconciliation imported the sale before comparing.
        assert_eq!(api_figures(&world, p.id).await, (left, left), "{name}");
        // And the other channel follows.
        for (_, other, _) in &channels {
            wait_for_level(other.as_ref(), &p.sku, left).await;
        }
    }
    for (_, _, p) in &channels {
        assert_eq!(drift_movements(&world, p.id).await, Vec::new(), "{}", p.sku);
    }
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_already_at_the_expected_level_gets_no_write_and_no_row() {
    let world = World::start(SandboxConfig::demo(), true).await;
    let store = world.store("brand").await;
    let x = world.product(store, X, X, Some(100)).await;
    for (name, buffer) in [(SHOP, 0), (WOO, 3)] {
        let (channel, sim) = stock_channel(&world, store, name, buffer).await;
        wait_for_level(sim.as_ref(), X, 100 - i64::from(buffer)).await;
        sim.traffic().reset();
        reconcile(&world, channel.id).await;
        assert_eq!(stock_writes(sim.as_ref()), 0, "{name}: no stock written");
        let listed = stock_drift::for_channel(&world.pool, world.account, channel.id, None, 50)
            .await
            .unwrap()
            .expect("the account's channel");
        assert_eq!(listed, Vec::new(), "{name}");
    }
    assert_eq!(drift_movements(&world, x.id).await, Vec::new());
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_on_demand_answers_202_runs_and_hides_other_accounts_channels() {
    let world = World::start(SandboxConfig::demo(), true).await;
    let token = accounts::create_token(&world.pool, world.account, "test")
        .await
        .unwrap()
        .token;
    let api = spawn_server_with(world.settings.clone()).await;
    let store = world.store("brand").await;
    let x = world.product(store, X, X, Some(100)).await;
    let (channel, sim) = stock_channel(&world, store, SHOP, 0).await;
    wait_for_level(sim.as_ref(), X, 100).await;
    assert!(sim.set_stock(X, 55));

    let path = format!("/v1/channels/{}/stock/reconcile", channel.id);
    let res = api.post(&path, &token, Value::Null).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let accepted: Value = res.json().await.unwrap();
    assert_eq!(accepted["queue"], ReconcileStock::QUEUE);
    let job_id = accepted["job_id"].as_str().expect("a job id");
    let job = world.wait_for_job(ReconcileStock::QUEUE, job_id).await;
    assert_eq!(job.status, JobStatus::Done, "{job:?}");
    assert_eq!(level(sim.as_ref(), X), 100);
    // The job took its turn as the account's: the queue's fetches are fair between accounts.
    let job_key = format!(
        "{{{}:{}}}:job:{job_id}",
        world.settings.redis.key_prefix,
        ReconcileStock::QUEUE
    );
    let tenant: Option<String> =
        redis::AsyncCommands::hget(&mut world.broker.conn(), &job_key, "tenant")
            .await
            .unwrap();
    assert_eq!(tenant, Some(world.account.0.to_string()));

    let drift_path = format!("/v1/channels/{}/stock/drift", channel.id);
    let res = api.get(&drift_path, &token).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page: Value = res.json().await.unwrap();
    let items = page["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{page}");
    assert_eq!(items[0]["found"], 55);
    assert_eq!(items[0]["expected"], 100);
    assert_eq!(items[0]["delta"], 45);
    assert!(items[0]["channel_product_id"].is_i64(), "{page}");

    // The product's movements show it, as a movement of the channel's figure.
    let res = api
        .get(&format!("/v1/products/{}/movements", x.id), &token)
        .await;
    let movements: Value = res.json().await.unwrap();
    let drift: Vec<&Value> = movements["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|m| m["cause_kind"] == "channel_drift")
        .collect();
    assert_eq!(drift.len(), 1, "{movements}");
    assert_eq!(drift[0]["field"], "channel");
    assert_eq!(drift[0]["channel_id"], channel.id);
    assert_eq!(drift[0]["found"], 55);
    assert_eq!(drift[0]["quantity_after"], 100);
    assert_eq!(drift[0]["id"], items[0]["id"]);

    // An unknown channel, and another account's, are not found.
    let res = api
        .post(
            "/v1/channels/999999999/stock/reconcile",
            &token,
            Value::Null,
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let (_, other) = accounts::create_account(&world.pool, &format!("other-{job_id}"), "t")
        .await
        .unwrap();
    let res = api.post(&path, &other.token, Value::Null).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = api.get(&drift_path, &other.token).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    api.stop().await;
    world.stop().await;
}
