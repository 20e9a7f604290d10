//! The import window: where a new channel's first import starts (`import_start`), and the
//! overlap every later import reads again, which must cost no write for orders held as they are.

mod app_helpers;
mod import_helpers;

use chrono::{Duration, Utc};
use import_helpers::{all_paid_open, World};
use switchyard::connectors::{build, http::client_settings};
use switchyard::domain::{ChannelSettings, ImportStart, OrderCursor};
use switchyard::queue::JobStatus;
use switchyard::store::{channels, order_import};
use switchyard_sandbox::SandboxConfig;

/// The tables an import writes to, each with a row-level trigger counting its writes.
const WRITTEN: [&str; 5] = [
    "orders",
    "order_lines",
    "order_events",
    "outbox",
    "stock_movements",
];

/// Counts every row inserted, updated or deleted in [`WRITTEN`] from now on (the test's database
/// is its own, so every write counted is the import's).
async fn count_writes(world: &World) {
    let pool = &world.pool;
    sqlx::query("CREATE TABLE test_writes (tbl text NOT NULL, op text NOT NULL, row_id text)")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query(
        "CREATE FUNCTION test_count_write() RETURNS trigger LANGUAGE plpgsql AS $$ \
         DECLARE r jsonb := CASE WHEN TG_OP = 'DELETE' THEN to_jsonb(OLD) ELSE to_jsonb(NEW) END; \
         BEGIN \
           INSERT INTO test_writes VALUES (TG_TABLE_NAME, TG_OP, COALESCE(r->>'order_id', r->>'id')); \
           RETURN NULL; \
         END $$",
    )
    .execute(pool)
    .await
    .unwrap();
    for table in WRITTEN {
        sqlx::query(&format!(
            "CREATE TRIGGER test_count_{table} AFTER INSERT OR UPDATE OR DELETE ON {table} \
             FOR EACH ROW EXECUTE FUNCTION test_count_write()"
        ))
        .execute(pool)
        .await
        .unwrap();
    }
}

/// The writes counted since the last call, as (table, operation, row) and forgets them.
async fn take_writes(world: &World) -> Vec<(String, String, Option<String>)> {
    sqlx::query_as("DELETE FROM test_writes RETURNING tbl, op, row_id")
        .fetch_all(&world.pool)
        .await
        .unwrap()
}

/// Sandbox order ids as the channel order ids switchyard stores, sorted.
fn sorted<'a>(ids: impl IntoIterator<Item = &'a u64>) -> Vec<String> {
    let mut ids: Vec<String> = ids.into_iter().map(u64::to_string).collect();
    ids.sort();
    ids
}

/// The channel order ids stored for the channel, sorted.
async fn stored_ids(world: &World, channel_id: i64) -> Vec<String> {
    let mut ids: Vec<String> = world
        .orders(channel_id)
        .await
        .into_iter()
        .map(|o| o.0)
        .collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_channel_imports_only_the_orders_changed_since_its_import_start() {
    let world = World::start(SandboxConfig::demo(), true).await;
    let woo = world.sandbox.store("demo-woo").unwrap();
    woo.set_generator_config(all_paid_open());
    // Years of history that switchyard never saw, then some orders of the last days.
    let now = Utc::now();
    let history = woo.create_orders_at(10_000, now - Duration::days(400));
    assert_eq!(history.len(), 10_000);
    let last_month = woo.create_orders_at(4, now - Duration::days(20));
    let this_week = woo.create_orders_at(3, now - Duration::days(2));
    let today = woo.create_orders(2);
    let store = world.store("brand").await;

    let week = ChannelSettings {
        import_start: ImportStart::Days(7),
        ..ChannelSettings::default()
    };
    let channel = world.channel(store, "demo-woo", week).await;
    assert_eq!(world.import(channel.id).await.status, JobStatus::Done);
    let expected = sorted(this_week.iter().chain(&today));
    assert_eq!(stored_ids(&world, channel.id).await, expected);

    // Unset, the start is 30 days back: last month's orders too, still none of the history.
    let default = world
        .channel(store, "demo-woo", ChannelSettings::default())
        .await;
    assert_eq!(world.import(default.id).await.status, JobStatus::Done);
    let expected = sorted(last_month.iter().chain(&this_week).chain(&today));
    assert_eq!(stored_ids(&world, default.id).await, expected);

    // Once a channel has imported, its cursor decides: a new order is read, the history still
    // never is.
    let later = woo.create_orders(1);
    assert_eq!(
        world.import_changes(channel.id).await.status,
        JobStatus::Done
    );
    let stored = stored_ids(&world, channel.id).await;
    assert_eq!(stored.len(), 6, "{stored:?}");
    assert!(stored.contains(&later[0].to_string()));
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_import_start_applies_to_shopify_too() {
    let world = World::start(SandboxConfig::demo(), true).await;
    let shop = world.sandbox.store("demo-shop").unwrap();
    shop.set_generator_config(all_paid_open());
    let now = Utc::now();
    shop.create_orders_at(200, now - Duration::days(90));
    let recent = shop.create_orders_at(3, now - Duration::days(10));
    let store = world.store("brand").await;
    let settings = ChannelSettings {
        import_start: ImportStart::Since(now - Duration::days(11)),
        ..ChannelSettings::default()
    };
    let channel = world.channel(store, "demo-shop", settings).await;
    assert_eq!(world.import(channel.id).await.status, JobStatus::Done);
    assert_eq!(stored_ids(&world, channel.id).await, sorted(&recent));
    world.stop().await;
}

/// A re-import within the overlap on `sandbox_store`. Orders changed a minute ago were read long
/// after their change and are held as they are: read again, they are written not at all. Orders
/// changed just now are read again within their change's settling time
/// ([`switchyard::store::orders::SETTLED_AFTER`]): the read that settles one marks it once, and
/// no other read writes it. Once all are settled, a re-import of all ten writes nothing, and an
/// order changed on the channel meanwhile is the only one written.
async fn a_reimport_within_the_overlap_writes_nothing_on(sandbox_store: &str) {
    let world = World::start(SandboxConfig::demo(), true).await;
    let shop = world.sandbox.store(sandbox_store).unwrap();
    shop.set_generator_config(all_paid_open());
    shop.create_orders_at(5, Utc::now() - Duration::seconds(60));
    let created = Utc::now();
    let fresh = shop.create_orders(5);
    let channel = world
        .channel(
            world.store("brand").await,
            sandbox_store,
            ChannelSettings::default(),
        )
        .await;
    count_writes(&world).await;
    assert_eq!(world.import(channel.id).await.status, JobStatus::Done);
    assert_eq!(world.orders(channel.id).await.len(), 10);
    // The relay deletes the rows the import wrote to the outbox: writes of its own, not counted.
    world.relayed().await;
    let first = take_writes(&world).await;
    assert!(
        first
            .iter()
            .any(|(t, op, _)| t == "orders" && op == "INSERT"),
        "the counter counts: {first:?}"
    );
    let fresh_rows: Vec<String> = sqlx::query_scalar(
        "SELECT id::text FROM orders WHERE channel_id = $1 AND channel_order_id = ANY($2)",
    )
    .bind(channel.id)
    .bind(
        fresh
            .iter()
            .map(|id| shop.channel_order_id(*id))
            .collect::<Vec<_>>(),
    )
    .fetch_all(&world.pool)
    .await
    .unwrap();

    // At once, and a second apart: the overlap (120 s) re-reads all ten, every time.
    assert_eq!(world.import(channel.id).await.status, JobStatus::Done);
    for _ in 0..2 {
        assert_eq!(
            world.import_changes(channel.id).await.status,
            JobStatus::Done
        );
    }
    // Past the fresh orders' settling time, a read settles those not settled yet.
    let settled = created + Duration::seconds(7);
    tokio::time::sleep((settled - Utc::now()).to_std().unwrap_or_default()).await;
    assert_eq!(world.import(channel.id).await.status, JobStatus::Done);
    let mut marked = Vec::new();
    for (table, op, row) in take_writes(&world).await {
        assert_eq!((table.as_str(), op.as_str()), ("orders", "UPDATE"));
        let row = row.unwrap_or_default();
        assert!(fresh_rows.contains(&row), "order {row} was held as it is");
        assert!(!marked.contains(&row), "order {row} was marked read twice");
        marked.push(row);
    }
    // Now every order is held as it is: a re-import of all ten writes nothing.
    assert_eq!(
        world.import_changes(channel.id).await.status,
        JobStatus::Done
    );
    assert_eq!(take_writes(&world).await, Vec::new());

    // A change on the channel is written, and only that order is.
    assert!(shop.cancel_order(fresh[0]));
    assert_eq!(
        world.import_changes(channel.id).await.status,
        JobStatus::Done
    );
    let order_id: String = sqlx::query_scalar(
        "SELECT id::text FROM orders WHERE channel_id = $1 AND channel_order_id = $2",
    )
    .bind(channel.id)
    .bind(shop.channel_order_id(fresh[0]))
    .fetch_one(&world.pool)
    .await
    .unwrap();
    let writes = take_writes(&world).await;
    let orders_written: Vec<_> = writes.iter().filter(|(t, _, _)| t == "orders").collect();
    assert_eq!(
        orders_written,
        vec![&("orders".to_owned(), "UPDATE".to_owned(), Some(order_id))],
        "{writes:?}"
    );
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_woocommerce_reimport_within_the_overlap_writes_nothing() {
    a_reimport_within_the_overlap_writes_nothing_on("demo-woo").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shopify_reimport_within_the_overlap_writes_nothing() {
    a_reimport_within_the_overlap_writes_nothing_on("demo-shop").await;
}

/// The count an import reports is the orders it stored new or changed, not the ones it read:
/// the same page committed again counts none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_counts_the_orders_new_or_changed_not_the_orders_read() {
    let world = World::start(SandboxConfig::demo(), false).await;
    let woo = world.sandbox.store("demo-woo").unwrap();
    woo.set_generator_config(all_paid_open());
    let ids = woo.create_orders(4);
    let channel = world.default_channel("demo-woo").await;
    let ic = channels::get_for_import(&world.pool, &world.deps.credentials_key, channel.id)
        .await
        .unwrap()
        .expect("the channel");
    let connector = build(
        &ic.channel.base_url,
        &ic.credentials,
        &ic.channel.settings,
        &client_settings(&world.settings),
    )
    .unwrap();
    let since = OrderCursor::Since(Some(Utc::now() - Duration::minutes(5)));
    let read = connector.list_orders_since(&since).await.unwrap();
    assert_eq!(read.orders.len(), 4);
    let stored = order_import::store_page(&world.pool, &ic, &read.orders, None).await;
    assert_eq!(stored.unwrap(), 4);
    let stored = order_import::store_page(&world.pool, &ic, &read.orders, None).await;
    assert_eq!(
        stored.unwrap(),
        0,
        "re-read as held: nothing new or changed"
    );

    assert!(woo.cancel_order(ids[1]));
    let read = connector.list_orders_since(&since).await.unwrap();
    assert_eq!(read.orders.len(), 4);
    let stored = order_import::store_page(&world.pool, &ic, &read.orders, None).await;
    assert_eq!(stored.unwrap(), 1, "one order changed on the channel");
    world.stop().await;
}
