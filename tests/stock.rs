//! Smart stock control end to end: a sale on one channel changes the level of the product, and
//! of kits containing it, on every other channel; a cancellation puts it back.

mod app_helpers;
mod import_helpers;

use std::collections::BTreeMap;
use std::sync::Arc;

use import_helpers::{paid_open, stock_settings, stock_writes, wait_for_level, World};
use switchyard::jobs::{ImportProducts, JobKind};
use switchyard::queue::JobStatus;
use switchyard::store::channels::ChannelRow;
use switchyard::store::products;
use switchyard_sandbox::{GeneratorConfig, SandboxConfig, ShopifyStoreConfig, SimStore};

const X: &str = "MS-1";
/// Sold as a kit of 2 x X.
const KIT: &str = "WB-1";

/// The sandbox stores a stock test sells on: the demo shop and store, and a second shop.
const SHOPS: [&str; 3] = ["demo-shop", "demo-woo", "other-shop"];

/// A world on the demo sandbox with a second Shopify shop, and a store in it.
async fn three_shops() -> (World, i64) {
    let mut config = SandboxConfig::demo();
    config.shopify.push(ShopifyStoreConfig::new("other-shop"));
    // Shopify Plus limits: these tests read backlogs of a thousand orders at once, which a
    // standard plan's 100 points a second would take minutes over.
    for shop in &mut config.shopify {
        shop.graphql = switchyard_sandbox::GraphqlPlan::Plus;
    }
    let world = World::start(config, true).await;
    let store = world.store("brand").await;
    (world, store)
}

/// A stock-managed channel in `store` on each of [`SHOPS`], its listings downloaded, and the
/// sandbox store behind each.
async fn stock_channels(world: &World, store: i64) -> ([ChannelRow; 3], [Arc<dyn SimStore>; 3]) {
    let mut channels = Vec::new();
    for name in SHOPS {
        let ch = world.channel(store, name, stock_settings()).await;
        let job = world
            .run_job(ImportProducts::QUEUE, &ImportProducts { channel_id: ch.id })
            .await;
        assert_eq!(job.status, JobStatus::Done, "{job:?}");
        channels.push(ch);
    }
    let sims = SHOPS.map(|name| world.sandbox.store(name).expect("a sandbox store"));
    let channels = channels.try_into().expect("a channel per shop");
    (channels, sims)
}

/// The sum of a product's `api` stock movements.
async fn api_ledger(world: &World, product_id: i64) -> i64 {
    sqlx::query_scalar(
        "SELECT COALESCE(sum(delta), 0)::bigint FROM stock_movements WHERE product_id = $1 AND field = 'api'",
    )
    .bind(product_id)
    .fetch_one(&world.pool)
    .await
    .unwrap()
}

/// Quantities per SKU over a store's orders (platform JSON of either kind).
fn sold(orders: &[serde_json::Value]) -> BTreeMap<String, i64> {
    let mut by_sku = BTreeMap::new();
    for o in orders {
        for l in o["line_items"].as_array().unwrap() {
            *by_sku
                .entry(l["sku"].as_str().unwrap().to_owned())
                .or_default() += l["quantity"].as_i64().unwrap();
        }
    }
    by_sku
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sale_on_one_channel_reaches_the_others_and_a_cancellation_restores_it() {
    let (world, store) = three_shops().await;
    let x = world.product(store, X, "Merino Socks", Some(100)).await;
    let kit = world.product(store, KIT, "Sock bundle", None).await;
    products::set_components(&world.pool, world.account, kit.id, &[(x.id, 2)])
        .await
        .unwrap();

    let ([a, _, _], [shop_a, woo_b, shop_c]) = stock_channels(&world, store).await;
    // The first sync brings every channel to switchyard's figures.
    for s in [&woo_b, &shop_c] {
        wait_for_level(s.as_ref(), X, 100).await;
        wait_for_level(s.as_ref(), KIT, 50).await;
    }

    // Orders on A for X and for the kit only, paid and open.
    shop_a.set_generator_config(paid_open(&[X, KIT]));
    let ids = shop_a.create_orders(3);
    assert_eq!(world.import(a.id).await.status, JobStatus::Done);
    let orders: Vec<_> = ids
        .iter()
        .map(|id| shop_a.order_json(*id).unwrap())
        .collect();
    let by_sku = sold(&orders);
    let x_left =
        100 - by_sku.get(X).copied().unwrap_or(0) - 2 * by_sku.get(KIT).copied().unwrap_or(0);
    assert!(x_left < 100, "the orders took stock: {by_sku:?}");
    for s in [&woo_b, &shop_c] {
        wait_for_level(s.as_ref(), X, x_left).await;
        wait_for_level(s.as_ref(), KIT, x_left / 2).await;
    }

    // Cancelled before despatch: the stock comes back everywhere.
    for id in &ids {
        assert!(shop_a.cancel_order(*id));
    }
    assert_eq!(world.import_changes(a.id).await.status, JobStatus::Done);
    for s in [&woo_b, &shop_c] {
        wait_for_level(s.as_ref(), X, 100).await;
        wait_for_level(s.as_ref(), KIT, 50).await;
    }
    let ledger = api_ledger(&world, x.id).await;
    assert_eq!(ledger, 100, "the ledger nets back to the opening stock");
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unpaid_order_reserves_its_units_everywhere_until_it_is_paid_or_cancelled() {
    // The channel takes the units of an order placed unpaid at once. switchyard keeps that order
    // out of work (`import_unpaid` is off), but counts its units, or the other channels would
    // sell them again and the channel it came from would drift from switchyard's figure.
    let (world, store) = three_shops().await;
    let x = world.product(store, X, "Merino Socks", Some(100)).await;
    let ([a, _, _], [shop_a, woo_b, shop_c]) = stock_channels(&world, store).await;
    for s in [&woo_b, &shop_c] {
        wait_for_level(s.as_ref(), X, 100).await;
    }
    shop_a.set_generator_config(GeneratorConfig {
        unpaid_ratio: 1.0,
        max_lines: 1,
        ..paid_open(&[X])
    });
    let id = shop_a.create_orders(1)[0];
    let taken = sold(&[shop_a.order_json(id).unwrap()])[X];
    assert_eq!(world.import(a.id).await.status, JobStatus::Done);
    let sync: String =
        sqlx::query_scalar("SELECT sync_status::text FROM orders WHERE channel_id = $1")
            .bind(a.id)
            .fetch_one(&world.pool)
            .await
            .unwrap();
    assert_eq!(
        sync, "excluded",
        "unpaid orders are not work on this channel"
    );
    for s in [&shop_a, &woo_b, &shop_c] {
        wait_for_level(s.as_ref(), X, 100 - taken).await;
    }

    // Paid: the order becomes work, and its units are not counted a second time.
    assert!(shop_a.update_order(id));
    assert_eq!(world.import_changes(a.id).await.status, JobStatus::Done);
    assert_eq!(api_ledger(&world, x.id).await, 100 - taken);

    // Cancelled: the units come back everywhere.
    assert!(shop_a.cancel_order(id));
    assert_eq!(world.import_changes(a.id).await.status, JobStatus::Done);
    for s in [&shop_a, &woo_b, &shop_c] {
        wait_for_level(s.as_ref(), X, 100).await;
    }
    assert_eq!(api_ledger(&world, x.id).await, 100);
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_orders_for_one_sku_coalesce_into_a_few_pushes_without_a_429() {
    let (world, store) = three_shops().await;
    let x = world.product(store, X, "Merino Socks", Some(5_000)).await;
    let ([a, _, _], [shop_a, woo_b, shop_c]) = stock_channels(&world, store).await;
    for s in [&woo_b, &shop_c] {
        wait_for_level(s.as_ref(), X, 5_000).await;
        s.traffic().reset();
    }

    shop_a.set_generator_config(GeneratorConfig {
        max_lines: 1,
        ..paid_open(&[X])
    });
    let ids = shop_a.create_orders(1_000);
    assert_eq!(world.import(a.id).await.status, JobStatus::Done);
    let sold: i64 = sold(
        &ids.iter()
            .map(|id| shop_a.order_json(*id).unwrap())
            .collect::<Vec<_>>(),
    )
    .values()
    .sum();
    let ledger: i64 = sqlx::query_scalar("SELECT api_quantity::bigint FROM products WHERE id = $1")
        .bind(x.id)
        .fetch_one(&world.pool)
        .await
        .unwrap();
    assert_eq!(ledger, 5_000 - sold, "each order line counted once");
    let pages = shop_a
        .traffic()
        .snapshot()
        .by_route
        .get("POST /admin/api/{version}/graphql.json orders")
        .copied()
        .unwrap_or_default();
    for s in [&woo_b, &shop_c] {
        wait_for_level(s.as_ref(), X, ledger).await;
        let writes = stock_writes(s.as_ref());
        let traffic = s.traffic().snapshot();
        println!(
            "{}: {writes} stock writes for 1,000 orders in {pages} pages",
            s.name()
        );
        // One import causes at most a push per page (fewer: a push gathers what changed while it
        // waited), never one per order.
        assert!(
            (1..=pages).contains(&writes),
            "{}: {writes} stock writes for {pages} pages",
            s.name()
        );
        assert_eq!(traffic.responses_429, 0, "{}: {traffic:?}", s.name());
    }
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sales_on_three_channels_under_faults_converge_on_the_ledger() {
    let (world, store) = three_shops().await;
    let x = world.product(store, X, "Merino Socks", Some(5_000)).await;
    let (channels, sims) = stock_channels(&world, store).await;
    for s in &sims {
        wait_for_level(s.as_ref(), X, 5_000).await;
        s.set_generator_config(GeneratorConfig {
            max_lines: 1,
            ..paid_open(&[X])
        });
        s.faults().set(switchyard_sandbox::FaultKnobs {
            burst_429: 3,
            retry_after_secs: 1.0,
            error_5xx_ratio: 0.2,
            ..Default::default()
        });
    }
    let mut lines = 0i64;
    let mut sold = 0i64;
    for s in &sims {
        let ids = s.create_orders(150);
        let orders: Vec<_> = ids.iter().map(|id| s.order_json(*id).unwrap()).collect();
        lines += orders.len() as i64;
        sold += self::sold(&orders).values().sum::<i64>();
    }
    let (ra, rb, rc) = tokio::join!(
        world.import(channels[0].id),
        world.import(channels[1].id),
        world.import(channels[2].id)
    );
    for r in [ra, rb, rc] {
        assert_eq!(r.status, JobStatus::Done, "{r:?}");
    }
    let ledger = api_ledger(&world, x.id).await;
    assert_eq!(ledger, 5_000 - sold, "every sale counted, none twice");
    let movements: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM stock_movements WHERE product_id = $1 AND cause_kind = 'order_line'",
    )
    .bind(x.id)
    .fetch_one(&world.pool)
    .await
    .unwrap();
    assert_eq!(movements, lines, "one movement per order line");
    for s in &sims {
        wait_for_level(s.as_ref(), X, ledger).await;
    }
    world.stop().await;
}
