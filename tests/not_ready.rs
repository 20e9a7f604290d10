//! Orders the channel says are not ready for despatch, told apart from unpaid ones: held with
//! `import_not_ready`, excluded without it, and work once the channel lifts its hold, on the
//! sandbox platforms through the real import pool.

mod app_helpers;
mod import_helpers;

use import_helpers::{orders_of, World};
use switchyard::domain::ChannelSettings;
use switchyard::queue::JobStatus;
use switchyard::store::channels::ChannelRow;
use switchyard_sandbox::{GeneratorConfig, SandboxConfig, SimStore};

/// A SKU the demo shops sell.
const SKU: &str = "MS-1";

fn settings(import_unpaid: bool, import_not_ready: bool) -> ChannelSettings {
    ChannelSettings {
        import_unpaid,
        import_not_ready,
        ..ChannelSettings::default()
    }
}

/// (sync status, reason) of the channel's copy of the sandbox order `id`.
async fn held_as(
    world: &World,
    channel_id: i64,
    store: &dyn SimStore,
    id: u64,
) -> (String, Option<String>) {
    sqlx::query_as(
        "SELECT sync_status::text, excluded_reason FROM orders \
         WHERE channel_id = $1 AND channel_order_id = $2",
    )
    .bind(channel_id)
    .bind(store.channel_order_id(id))
    .fetch_one(&world.pool)
    .await
    .unwrap()
}

/// Units the order has taken from the store's products (its stock movements, negated).
async fn units_taken(world: &World, channel_id: i64, store: &dyn SimStore, id: u64) -> i64 {
    sqlx::query_scalar(
        "SELECT COALESCE(-sum(m.delta), 0)::bigint FROM stock_movements m \
         JOIN orders o ON o.id = m.order_id \
         WHERE o.channel_id = $1 AND o.channel_order_id = $2",
    )
    .bind(channel_id)
    .bind(store.channel_order_id(id))
    .fetch_one(&world.pool)
    .await
    .unwrap()
}

/// Units of `SKU` the sandbox order `id` holds, in either platform's JSON.
fn units_ordered(store: &dyn SimStore, id: u64) -> i64 {
    let order = store.order_json(id).unwrap();
    order["line_items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["sku"] == SKU)
        .map(|l| l["quantity"].as_i64().unwrap())
        .sum()
}

/// Imports each of `channels` again and expects the sandbox order `id` to be work on each.
async fn pending_after_import(
    world: &World,
    channels: &[ChannelRow],
    store: &dyn SimStore,
    id: u64,
) {
    for c in channels {
        assert_eq!(world.import_changes(c.id).await.status, JobStatus::Done);
        let (sync, reason) = held_as(world, c.id, store, id).await;
        assert_eq!(
            (sync.as_str(), reason),
            ("pending", None),
            "channel {}",
            c.id
        );
    }
}

/// Channels on `sandbox_store`, one per `(import_unpaid, import_not_ready)`, in one store that
/// has a product of `SKU` (so their orders move stock), each imported once.
async fn imported<const N: usize>(
    world: &World,
    sandbox_store: &str,
    settings_of: [(bool, bool); N],
) -> [ChannelRow; N] {
    let store = world.store("brand").await;
    world.product(store, SKU, "Merino Socks", Some(100)).await;
    let mut channels = Vec::with_capacity(N);
    for (unpaid, not_ready) in settings_of {
        let channel = world
            .channel(store, sandbox_store, settings(unpaid, not_ready))
            .await;
        assert_eq!(world.import(channel.id).await.status, JobStatus::Done);
        channels.push(channel);
    }
    channels
        .try_into()
        .unwrap_or_else(|_| unreachable!("N channels"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn woocommerce_on_hold_follows_import_not_ready_and_pending_follows_import_unpaid() {
    let world = World::start(SandboxConfig::demo(), true).await;
    let woo = world.sandbox.store("demo-woo").unwrap();
    woo.set_generator_config(orders_of(SKU));
    let on_hold = woo.create_orders(1)[0];
    assert!(
        woo.hold_order(on_hold),
        "a processing order can be put on hold"
    );
    assert_eq!(woo.order_json(on_hold).unwrap()["status"], "on-hold");
    woo.set_generator_config(GeneratorConfig {
        unpaid_ratio: 1.0,
        ..orders_of(SKU)
    });
    let pending = woo.create_orders(1)[0];
    assert_eq!(woo.order_json(pending).unwrap()["status"], "pending");

    let [not_ready, unpaid, neither] = imported(
        &world,
        "demo-woo",
        [(false, true), (true, false), (false, false)],
    )
    .await;

    let (sync, reason) = held_as(&world, not_ready.id, woo.as_ref(), on_hold).await;
    assert_eq!(sync, "on_hold");
    assert!(
        reason
            .as_deref()
            .is_some_and(|r| r.contains("on hold on WooCommerce")),
        "{reason:?}"
    );
    for c in [&unpaid, &neither] {
        let (sync, reason) = held_as(&world, c.id, woo.as_ref(), on_hold).await;
        assert_eq!(
            sync, "excluded",
            "import_unpaid does not admit an on-hold order"
        );
        assert!(reason.is_some_and(|r| r.contains("not ready for despatch")));
    }
    let (sync, _) = held_as(&world, unpaid.id, woo.as_ref(), pending).await;
    assert_eq!(sync, "pending", "a pending order follows import_unpaid");
    for c in [&not_ready, &neither] {
        let (sync, reason) = held_as(&world, c.id, woo.as_ref(), pending).await;
        assert_eq!(
            sync, "excluded",
            "import_not_ready does not admit an unpaid order"
        );
        assert!(reason.is_some_and(|r| r.contains("not paid")));
    }
    // Held or excluded, the on-hold order reserves its units as an unpaid one does.
    let ordered = units_ordered(woo.as_ref(), on_hold);
    for c in [&not_ready, &unpaid, &neither] {
        let taken = units_taken(&world, c.id, woo.as_ref(), on_hold).await;
        assert_eq!(taken, ordered, "channel {}", c.id);
    }

    // The merchant confirms the payment: the order is work on every channel.
    assert!(woo.release_order(on_hold));
    pending_after_import(&world, &[not_ready, unpaid, neither], woo.as_ref(), on_hold).await;
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shopify_order_on_hold_is_held_and_becomes_pending_when_the_hold_is_released() {
    let world = World::start(SandboxConfig::demo(), true).await;
    let shop = world.sandbox.store("demo-shop").unwrap();
    shop.set_generator_config(orders_of(SKU));
    let ids = shop.create_orders(2);
    let (held, ready) = (ids[0], ids[1]);
    assert!(shop.hold_order(held));
    let order = shop.order_json(held).unwrap();
    assert_eq!(
        order["financial_status"], "paid",
        "a hold says nothing of payment"
    );

    let [with, without] = imported(&world, "demo-shop", [(false, true), (true, false)]).await;
    for c in [&with, &without] {
        let (sync, _) = held_as(&world, c.id, shop.as_ref(), ready).await;
        assert_eq!(sync, "pending", "the order beside it is work");
    }
    let (sync, reason) = held_as(&world, with.id, shop.as_ref(), held).await;
    assert_eq!(sync, "on_hold");
    assert!(
        reason
            .as_deref()
            .is_some_and(|r| r.contains("on hold on Shopify")),
        "{reason:?}"
    );
    let (sync, reason) = held_as(&world, without.id, shop.as_ref(), held).await;
    assert_eq!(sync, "excluded");
    assert!(reason.is_some_and(|r| r.contains("not ready for despatch")));
    // Paid but held, the order reserves its units on both channels, work or not: the shop
    // holds them for it.
    let ordered = units_ordered(shop.as_ref(), held);
    assert!(ordered > 0);
    for c in [&with, &without] {
        let taken = units_taken(&world, c.id, shop.as_ref(), held).await;
        assert_eq!(taken, ordered, "channel {}", c.id);
    }

    // Imported again while still held, nothing changes.
    assert_eq!(world.import_changes(with.id).await.status, JobStatus::Done);
    assert_eq!(
        held_as(&world, with.id, shop.as_ref(), held).await.0,
        "on_hold"
    );

    assert!(shop.release_order(held));
    let channel = with.id;
    pending_after_import(&world, &[with, without], shop.as_ref(), held).await;

    // A hold the merchant puts on an order already imported, before anyone started on it,
    // holds it here too.
    assert!(shop.hold_order(ready));
    assert_eq!(world.import_changes(channel).await.status, JobStatus::Done);
    let (sync, reason) = held_as(&world, channel, shop.as_ref(), ready).await;
    assert_eq!(sync, "on_hold", "{reason:?}");
    world.stop().await;
}
