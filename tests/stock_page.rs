//! A page of imported orders moves stock exactly as its orders would one page each: the same
//! quantities and the same ledger, kits moving their components, lines of unknown or no SKU and
//! excluded orders taking nothing, cancellations putting back what their orders took, and a
//! page committed again moving nothing. Each store here gets its own database (the World).

mod app_helpers;
mod import_helpers;
mod tenant_helpers;

use import_helpers::World;
use switchyard::domain::{
    ChannelOrder, ChannelSettings, CountryFilter, FilterMode, OrderLine, OrderStatus,
};
use switchyard::store::channels::{self, ImportChannel};
use switchyard::store::{order_import, products};
use switchyard_sandbox::SandboxConfig;
use tenant_helpers::{at, line, order};

/// A store with products A, B, C, a kit K of 2 A + 1 C, and a channel in it whose country
/// filter excludes orders shipping to France.
async fn stocked_channel(world: &World) -> ImportChannel {
    let store_id = world.store("page").await;
    let a = world.product(store_id, "A", "A", Some(500)).await;
    world.product(store_id, "B", "B", Some(300)).await;
    let c = world.product(store_id, "C", "C", Some(200)).await;
    let kit = world.product(store_id, "K", "K", None).await;
    products::set_components(&world.pool, world.account, kit.id, &[(a.id, 2), (c.id, 1)])
        .await
        .expect("kit components set");
    let settings = ChannelSettings {
        country_filter: Some(CountryFilter {
            mode: FilterMode::Deny,
            countries: vec!["FR".into()],
        }),
        ..ChannelSettings::default()
    };
    let channel = world.channel(store_id, "demo-shop", settings).await;
    channels::get_for_import(&world.pool, &world.deps.credentials_key, channel.id)
        .await
        .expect("channel read")
        .expect("the channel")
}

/// A line of no SKU at all.
fn no_sku_line(id: &str) -> OrderLine {
    OrderLine {
        sku: None,
        ..line(id, "-", 1)
    }
}

/// Forty orders sharing the SKUs: simple lines, kits, unknown SKUs, lines without a SKU, orders
/// excluded by the country filter (which take nothing), and unpaid ones (which hold their units
/// though they are not work yet).
fn page_of_orders() -> Vec<ChannelOrder> {
    (0..40u32)
        .map(|i| {
            let mut o = order(&format!("P{i:02}"));
            o.lines = vec![line("L1", "A", i % 3 + 1)];
            if i % 2 == 0 {
                o.lines.push(line("L2", "B", 2));
            }
            if i % 5 == 0 {
                o.lines.push(line("L3", "K", i % 4 + 1));
            }
            if i % 7 == 0 {
                o.lines.push(line("L4", "UNKNOWN", 9));
            }
            if i % 11 == 0 {
                o.lines.push(no_sku_line("L5"));
            }
            if i % 6 == 1 {
                o.lines.push(line("L6", "C", 1));
            }
            if i % 9 == 4 {
                if let Some(address) = o.shipping_address.as_mut() {
                    address.country_code = "FR".into();
                }
            }
            if i % 13 == 2 {
                o.status = OrderStatus::Unpaid;
                o.paid_at = None;
            }
            o
        })
        .collect()
}

/// The same orders changed on the channel: later, and some of them cancelled.
fn cancelled_some(page: &[ChannelOrder]) -> Vec<ChannelOrder> {
    page.iter()
        .enumerate()
        .map(|(i, o)| {
            let mut o = o.clone();
            o.channel_updated_at = at(100);
            if i % 4 == 0 {
                o.status = OrderStatus::Cancelled;
            } else if o.status == OrderStatus::Unshipped {
                o.status = OrderStatus::PartiallyShipped;
            }
            o
        })
        .collect()
}

/// Each product's (sku, api quantity) in the channel's store.
async fn quantities(world: &World, ic: &ImportChannel) -> Vec<(String, i32)> {
    sqlx::query_as("SELECT sku, api_quantity FROM products WHERE store_id = $1 ORDER BY sku")
        .bind(ic.channel.store_id)
        .fetch_all(&world.pool)
        .await
        .expect("quantities read")
}

/// The order movements of the channel's store, named by what they are rather than by ids: (sku,
/// cause kind, channel order id, channel line id, delta), in the order they were applied per
/// product.
async fn ledger(world: &World, ic: &ImportChannel) -> Vec<(String, String, String, String, i32)> {
    sqlx::query_as(
        "SELECT p.sku, m.cause_kind, o.channel_order_id, ol.channel_line_id, m.delta \
         FROM stock_movements m \
         JOIN products p ON p.id = m.product_id \
         JOIN order_lines ol ON ol.id::text = m.cause_id \
         JOIN orders o ON o.id = m.order_id AND o.id = ol.order_id \
         WHERE p.store_id = $1 AND m.cause_kind IN ('order_line', 'order_cancel') \
         ORDER BY p.sku, m.id",
    )
    .bind(ic.channel.store_id)
    .fetch_all(&world.pool)
    .await
    .expect("ledger read")
}

/// What each order line of the channel was matched to: (channel order id, line id, sku of the
/// product, kit components as stored).
async fn line_products(
    world: &World,
    ic: &ImportChannel,
) -> Vec<(String, String, Option<String>, serde_json::Value)> {
    sqlx::query_as(
        "SELECT o.channel_order_id, ol.channel_line_id, p.sku, \
                (SELECT COALESCE(jsonb_agg(jsonb_build_object('sku', c->>'sku', \
                                                              'quantity', c->'quantity') \
                                           ORDER BY c->>'sku'), '[]'::jsonb) \
                 FROM jsonb_array_elements(ol.kit_components) c) \
         FROM orders o JOIN order_lines ol ON ol.order_id = o.id \
         LEFT JOIN products p ON p.id = ol.product_id \
         WHERE o.channel_id = $1 ORDER BY o.channel_order_id, ol.channel_line_id",
    )
    .bind(ic.channel.id)
    .fetch_all(&world.pool)
    .await
    .expect("lines read")
}

/// The products a `product.updated` event in the outbox announces, by SKU.
async fn announced(world: &World, ic: &ImportChannel) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT DISTINCT p.sku FROM outbox x \
         JOIN products p ON p.id = (x.payload->>'product_id')::bigint \
         WHERE x.payload->>'type' = 'product.updated' AND p.store_id = $1 ORDER BY p.sku",
    )
    .bind(ic.channel.store_id)
    .fetch_all(&world.pool)
    .await
    .expect("events read")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_moves_stock_as_its_orders_would_one_at_a_time() {
    let world = World::start(SandboxConfig::demo(), false).await;
    let paged = stocked_channel(&world).await;
    let single = stocked_channel(&world).await;
    let orders = page_of_orders();

    let stored = order_import::store_page(&world.pool, &paged, &orders, None).await;
    assert_eq!(stored.expect("page stored"), orders.len());
    for o in &orders {
        order_import::store_page(&world.pool, &single, std::slice::from_ref(o), None)
            .await
            .expect("order stored");
    }

    // Worked out by hand: A takes i % 3 + 1 on every order and 2 a kit on every fifth, C one on
    // every sixth and one a kit, B two on every even order; not on the four orders to France.
    let excluded = |i: i32| i % 9 == 4;
    let (mut a, mut b, mut c, mut kits) = (0, 0, 0, 0);
    for i in (0..40).filter(|i| !excluded(*i)) {
        a += i % 3 + 1;
        b += if i % 2 == 0 { 2 } else { 0 };
        c += i32::from(i % 6 == 1);
        kits += if i % 5 == 0 { i % 4 + 1 } else { 0 };
    }
    let expected = vec![
        ("A".to_owned(), 500 - a - 2 * kits),
        ("B".to_owned(), 300 - b),
        ("C".to_owned(), 200 - c - kits),
        ("K".to_owned(), 0),
    ];
    assert_eq!(quantities(&world, &paged).await, expected);
    assert_eq!(quantities(&world, &single).await, expected);
    let page_ledger = ledger(&world, &paged).await;
    assert_eq!(page_ledger, ledger(&world, &single).await);
    assert!(
        !page_ledger
            .iter()
            .any(|(_, _, order, _, _)| order == "P04" || order == "P13"),
        "excluded orders take nothing: {page_ledger:?}"
    );
    assert!(
        page_ledger
            .iter()
            .any(|(sku, _, order, _, _)| sku == "A" && order == "P02"),
        "an unpaid order holds its units"
    );
    let lines = line_products(&world, &paged).await;
    assert_eq!(lines, line_products(&world, &single).await);
    let kit_line = lines
        .iter()
        .find(|(order, line, _, _)| order == "P00" && line == "L3")
        .expect("the kit line");
    assert_eq!(kit_line.2.as_deref(), Some("K"));
    assert_eq!(
        kit_line.3,
        serde_json::json!([{"sku": "A", "quantity": 2}, {"sku": "C", "quantity": 1}])
    );
    let unknown = lines
        .iter()
        .find(|(order, line, _, _)| order == "P00" && line == "L4")
        .expect("the unknown SKU's line");
    assert_eq!(unknown.2, None);
    assert_eq!(announced(&world, &paged).await, ["A", "B", "C", "K"]);

    // The same page again takes nothing; nor does it changed on the channel.
    let again = order_import::store_page(&world.pool, &paged, &orders, None).await;
    assert_eq!(again.expect("page stored again"), 0);
    let shipped: Vec<ChannelOrder> = orders
        .iter()
        .map(|o| {
            let mut o = o.clone();
            o.channel_updated_at = at(50);
            o.notes = Some("seen again".into());
            o
        })
        .collect();
    let changed = order_import::store_page(&world.pool, &paged, &shipped, None).await;
    assert_eq!(changed.expect("changed page stored"), orders.len());
    assert_eq!(quantities(&world, &paged).await, expected);
    assert_eq!(ledger(&world, &paged).await, page_ledger);

    // Cancellations give back what their orders took, as one order at a time would.
    let cancelled = cancelled_some(&orders);
    order_import::store_page(&world.pool, &paged, &cancelled, None)
        .await
        .expect("cancellations stored");
    for o in &cancelled {
        order_import::store_page(&world.pool, &single, std::slice::from_ref(o), None)
            .await
            .expect("cancellation stored");
    }
    let after_cancel = quantities(&world, &paged).await;
    assert_eq!(after_cancel, quantities(&world, &single).await);
    assert_ne!(after_cancel, expected, "the cancellations gave units back");
    let cancel_ledger = ledger(&world, &paged).await;
    assert_eq!(cancel_ledger, ledger(&world, &single).await);
    assert!(cancel_ledger
        .iter()
        .any(|(_, kind, order, _, _)| kind == "order_cancel" && order == "P00"));

    // And once more, all of it: nothing moves.
    order_import::store_page(&world.pool, &paged, &cancelled, None)
        .await
        .expect("page stored again");
    assert_eq!(quantities(&world, &paged).await, after_cancel);
    assert_eq!(ledger(&world, &paged).await, cancel_ledger);
    world.stop().await;
}
