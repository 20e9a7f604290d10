//! Amazon and eBay channels end to end, through the real import-orders and sync-stock workers,
//! PostgreSQL and Redis, against the sandbox's sellers at their platforms' published rate
//! limits: every order imported once (Amazon's FBA orders stored, never work), and a sale on any
//! channel reaching the marketplaces' listings and theirs reaching the others. Shipments pushed
//! to them are in tests/fulfilment.rs.

mod app_helpers;
mod import_helpers;

use std::collections::{BTreeMap, BTreeSet};

use import_helpers::{paid_open, stock_settings, wait_for_level, World};
use switchyard::domain::ChannelSettings;
use switchyard::jobs::{ImportProducts, JobKind};
use switchyard::queue::JobStatus;
use switchyard::store::products::{self, NewProduct};
use switchyard_sandbox::{AmazonSellerConfig, EbaySellerConfig, SandboxConfig, SimStore};

const SHOP: &str = "demo-shop";
const AMAZON: &str = "uk-seller";
const EBAY: &str = "ebay-seller";
const X: &str = "MS-1";

/// The demo shop and store, an Amazon seller and an eBay seller.
fn config(amazon_fba_share: f64) -> SandboxConfig {
    let mut config = SandboxConfig::demo();
    let mut amazon = AmazonSellerConfig::new(AMAZON);
    amazon.afn_ratio = amazon_fba_share;
    config.amazon.push(amazon);
    config.ebay.push(EbaySellerConfig::new(EBAY));
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_marketplace_order_is_imported_once_and_fba_orders_are_not_work() {
    let world = World::start(config(0.5), true).await;
    let store = world.store("brand").await;
    for (name, n) in [(AMAZON, 24), (EBAY, 40)] {
        let sim = world.sandbox.store(name).expect("a seller");
        let created: BTreeSet<String> = sim
            .create_orders(n)
            .into_iter()
            .map(|id| sim.channel_order_id(id))
            .collect();
        let channel = world.channel(store, name, ChannelSettings::default()).await;
        let job = world.import(channel.id).await;
        assert_eq!(job.status, JobStatus::Done, "{name}: {job:?}");
        let stored = world.orders(channel.id).await;
        let ids: BTreeSet<String> = stored.iter().map(|o| o.0.clone()).collect();
        assert_eq!(ids, created, "{name}: every order, once");

        // A second import within the overlap changes nothing.
        assert_eq!(world.import(channel.id).await.status, JobStatus::Done);
        assert_eq!(world.orders(channel.id).await, stored, "{name}");

        let by_status: BTreeMap<(&str, &str), usize> =
            stored.iter().fold(BTreeMap::new(), |mut m, o| {
                *m.entry((o.1.as_str(), o.2.as_str())).or_default() += 1;
                m
            });
        assert!(
            by_status
                .get(&("unshipped", "pending"))
                .is_some_and(|n| *n > 0),
            "{name}: paid orders are work: {by_status:?}"
        );
        if name == AMAZON {
            let fba = stored.iter().filter(|o| o.1 == "shipped").count();
            assert!(
                fba > 0,
                "some orders are fulfilled by Amazon: {by_status:?}"
            );
            assert!(
                stored
                    .iter()
                    .filter(|o| o.1 == "shipped")
                    .all(|o| o.2 == "excluded"
                        && o.3.as_deref()
                            == Some("already shipped on the channel when first seen")),
                "FBA orders are stored, excluded: {stored:?}"
            );
        }
    }
    world.stop().await;
}

/// Creates `n` orders of [`X`] on `sim`: the units they took, as the platform's own level of
/// [`X`] shows (each platform takes an order's units when it is placed).
fn sell(sim: &dyn SimStore, n: usize) -> i64 {
    let level = || {
        sim.stock_by_sku()
            .get(X)
            .copied()
            .expect("the SKU is listed")
    };
    let before = level();
    sim.set_generator_config(paid_open(&[X]));
    sim.create_orders(n);
    before - level()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sale_anywhere_reaches_the_marketplaces_and_theirs_reach_the_shop() {
    let world = World::start(config(0.0), true).await;
    let store = world.store("brand").await;
    products::create(
        &world.pool,
        world.account,
        &NewProduct {
            store_id: store,
            sku: X,
            title: "Merino Socks",
            api_quantity: Some(100),
        },
    )
    .await
    .unwrap();
    let mut channels = BTreeMap::new();
    for name in [SHOP, AMAZON, EBAY] {
        let ch = world.channel(store, name, stock_settings()).await;
        let job = world
            .run_job(ImportProducts::QUEUE, &ImportProducts { channel_id: ch.id })
            .await;
        assert_eq!(job.status, JobStatus::Done, "{name}: {job:?}");
        channels.insert(name, ch);
    }
    let sim = |name: &str| world.sandbox.store(name).expect("a sandbox store");
    for name in [SHOP, AMAZON, EBAY] {
        wait_for_level(sim(name).as_ref(), X, 100).await;
    }

    // Sold on the shop: the marketplaces' listings follow.
    let sold_on_shop = sell(sim(SHOP).as_ref(), 2);
    assert!(sold_on_shop > 0);
    assert_eq!(
        world.import(channels[SHOP].id).await.status,
        JobStatus::Done
    );
    let left = 100 - sold_on_shop;
    for name in [AMAZON, EBAY] {
        wait_for_level(sim(name).as_ref(), X, left).await;
    }

    // Sold on each marketplace: the other channels follow.
    let mut left = left;
    for name in [AMAZON, EBAY] {
        let sold = sell(sim(name).as_ref(), 1);
        assert!(sold > 0, "{name}: the order took {X}");
        assert_eq!(
            world.import(channels[name].id).await.status,
            JobStatus::Done
        );
        left -= sold;
        for other in [SHOP, AMAZON, EBAY] {
            wait_for_level(sim(other).as_ref(), X, left).await;
        }
    }
    world.stop().await;
}
