//! Order import end to end: the sandbox platforms, the real import-orders pool, PostgreSQL.

mod app_helpers;
mod import_helpers;

use std::collections::BTreeMap;
use std::time::Duration;

use app_helpers::spawn_server_with;
use import_helpers::World;
use serde_json::Value;
use switchyard::domain::{ChannelSettings, CountryFilter, FilterMode, SkuFilter};
use switchyard::queue::JobStatus;
use switchyard::store::orders::{self, OrderFilter};
use switchyard_sandbox::{SandboxConfig, SimStore};

/// What the sandbox says about each of a store's orders, by id: the expected sync status under
/// the default filters (paid and not yet fulfilled, not cancelled).
fn shopify_expectations(store: &dyn SimStore) -> BTreeMap<String, &'static str> {
    let all = store.orders_json(0, store.order_count());
    all.iter()
        .map(|o| {
            let paid = o["financial_status"] == "paid";
            let open = o["fulfillment_status"].is_null() && o["cancelled_at"].is_null();
            let id = o["id"].as_u64().unwrap().to_string();
            (id, if paid && open { "pending" } else { "excluded" })
        })
        .collect()
}

fn woo_country(o: &Value) -> String {
    o["shipping"]["country"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_filters_import_paid_unfulfilled_orders_and_keep_the_rest_excluded() {
    let world = World::start(SandboxConfig::demo(), true).await;
    let shop = world.sandbox.store("demo-shop").unwrap();
    shop.create_orders(120);
    let channel = world.default_channel("demo-shop").await;

    let job = world.import(channel.id).await;
    assert_eq!(job.status, JobStatus::Done, "{job:?}");
    let expected = shopify_expectations(shop.as_ref());
    let stored = world.orders(channel.id).await;
    assert_eq!(
        stored.len(),
        expected.len(),
        "every order is kept, excluded or not"
    );
    let mut excluded = 0;
    for (id, _status, sync, reason, _) in &stored {
        assert_eq!(sync, expected[id], "order {id}");
        if sync == "excluded" {
            excluded += 1;
            assert!(reason.is_some(), "an excluded order says why");
        }
    }
    assert!(
        excluded > 0 && excluded < stored.len(),
        "the mix covers both: {excluded}"
    );
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unpaid_and_country_filters_apply_on_woocommerce() {
    let world = World::start(SandboxConfig::demo(), true).await;
    let woo = world.sandbox.store("demo-woo").unwrap();
    woo.create_orders(120);
    let store = world.store("brand").await;
    let settings = ChannelSettings {
        import_unpaid: true,
        country_filter: Some(CountryFilter {
            mode: FilterMode::Allow,
            countries: vec!["GB".into(), "US".into()],
        }),
        ..ChannelSettings::default()
    };
    let channel = world.channel(store, "demo-woo", settings).await;
    assert_eq!(world.import(channel.id).await.status, JobStatus::Done);

    let sandbox: BTreeMap<String, Value> = woo
        .orders_json(0, woo.order_count())
        .into_iter()
        .map(|o| (o["id"].as_u64().unwrap().to_string(), o))
        .collect();
    let stored = world.orders(channel.id).await;
    assert_eq!(stored.len(), sandbox.len());
    let mut unpaid_imported = 0;
    for (id, status, sync, reason, _) in &stored {
        let o = &sandbox[id];
        let allowed = ["GB", "US"].contains(&woo_country(o).as_str());
        let live = ["processing", "pending", "on-hold"].contains(&o["status"].as_str().unwrap());
        if allowed && live {
            assert_eq!(sync, "pending", "order {id} ({})", o["status"]);
            if status == "unpaid" {
                unpaid_imported += 1;
            }
        } else {
            assert_eq!(sync, "excluded", "order {id}");
            if !allowed && live {
                assert!(reason.as_deref().unwrap().contains("countr"), "{reason:?}");
            }
        }
    }
    assert!(
        unpaid_imported > 0,
        "import_unpaid brought unpaid orders in"
    );
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sku_deny_list_excludes_orders_that_contain_a_listed_sku() {
    let world = World::start(SandboxConfig::demo(), true).await;
    let shop = world.sandbox.store("demo-shop").unwrap();
    shop.create_orders(80);
    let orders = shop.orders_json(0, 80);
    let denied = orders[0]["line_items"][0]["sku"]
        .as_str()
        .unwrap()
        .to_owned();
    let store = world.store("brand").await;
    let settings = ChannelSettings {
        sku_filter: Some(SkuFilter {
            mode: FilterMode::Deny,
            skus: vec![denied.clone()],
        }),
        ..ChannelSettings::default()
    };
    let channel = world.channel(store, "demo-shop", settings).await;
    assert_eq!(world.import(channel.id).await.status, JobStatus::Done);
    let expected = shopify_expectations(shop.as_ref());
    let by_id: BTreeMap<String, &Value> = orders
        .iter()
        .map(|o| (o["id"].as_u64().unwrap().to_string(), o))
        .collect();
    let mut denied_seen = 0;
    for (id, _, sync, _, _) in world.orders(channel.id).await {
        let has_denied = by_id[&id]["line_items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["sku"] == denied.as_str());
        if has_denied {
            denied_seen += 1;
            assert_eq!(sync, "excluded", "order {id} has the denied SKU");
        } else {
            assert_eq!(sync, expected[&id], "order {id}");
        }
    }
    assert!(denied_seen > 0);
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_and_cancellations_are_recorded_and_overlapping_imports_duplicate_nothing() {
    let world = World::start(SandboxConfig::demo(), true).await;
    let shop = world.sandbox.store("demo-shop").unwrap();
    let ids = shop.create_orders(40);
    let channel = world.default_channel("demo-shop").await;
    assert_eq!(world.import(channel.id).await.status, JobStatus::Done);
    let first = world.orders(channel.id).await;

    // The same window again: everything is inside the overlap, nothing changes.
    assert_eq!(world.import(channel.id).await.status, JobStatus::Done);
    assert_eq!(world.orders(channel.id).await, first);

    let mut cancelled = Vec::new();
    for id in &ids {
        if cancelled.len() < 3 && shop.cancel_order(*id) {
            cancelled.push(id.to_string());
        }
    }
    let unpaid: Vec<String> = shop
        .orders_json(0, 40)
        .iter()
        .filter(|o| o["financial_status"] != "paid" && o["cancelled_at"].is_null())
        .map(|o| o["id"].as_u64().unwrap().to_string())
        .collect();
    for id in &unpaid {
        shop.update_order(id.parse().unwrap());
    }
    assert_eq!(
        world.import_changes(channel.id).await.status,
        JobStatus::Done
    );

    let after = world.orders(channel.id).await;
    assert_eq!(after.len(), 40, "re-imports updated, never duplicated");
    for (id, status, _, _, _) in &after {
        if cancelled.contains(id) {
            assert_eq!(status, "cancelled", "order {id}");
        }
    }
    let created_events: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM order_events e JOIN orders o ON o.id = e.order_id \
         WHERE o.channel_id = $1 AND e.kind = 'created'",
    )
    .bind(channel.id)
    .fetch_one(&world.pool)
    .await
    .unwrap();
    assert_eq!(
        created_events, 40,
        "one created event per order, however often imported"
    );
    let cancel_events: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM order_events e JOIN orders o ON o.id = e.order_id \
         WHERE o.channel_id = $1 AND e.kind = 'cancelled'",
    )
    .bind(channel.id)
    .fetch_one(&world.pool)
    .await
    .unwrap();
    assert_eq!(cancel_events, cancelled.len() as i64);
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports_page_through_many_pages_on_both_platforms() {
    let world = World::start(SandboxConfig::demo(), true).await;
    let shop = world.sandbox.store("demo-shop").unwrap();
    let woo = world.sandbox.store("demo-woo").unwrap();
    shop.create_orders(60);
    woo.create_orders(350);
    let store = world.store("brand").await;
    let s = world
        .channel(store, "demo-shop", ChannelSettings::default())
        .await;
    let w = world
        .channel(store, "demo-woo", ChannelSettings::default())
        .await;
    assert_eq!(world.import(s.id).await.status, JobStatus::Done);
    assert_eq!(world.import(w.id).await.status, JobStatus::Done);
    assert_eq!(world.orders(s.id).await.len(), 60);
    assert_eq!(world.orders(w.id).await.len(), 350);
    // Several pages were read: 10 per Shopify page, 100 per WooCommerce page.
    let shop_pages = shop.traffic().snapshot().requests_total;
    assert!(shop_pages >= 6, "{shop_pages}");
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_are_kept_apart() {
    let mut config = SandboxConfig::demo();
    config
        .shopify
        .push(switchyard_sandbox::ShopifyStoreConfig::new("other-shop"));
    let world = World::start(config, true).await;
    world.sandbox.store("demo-shop").unwrap().create_orders(30);
    world.sandbox.store("other-shop").unwrap().create_orders(20);
    let brand_a = world.store("brand-a").await;
    let brand_b = world.store("brand-b").await;
    let a = world
        .channel(brand_a, "demo-shop", ChannelSettings::default())
        .await;
    let b = world
        .channel(brand_b, "other-shop", ChannelSettings::default())
        .await;
    world.import(a.id).await;
    world.import(b.id).await;
    assert!(world.orders(a.id).await.iter().all(|o| o.4 == brand_a));
    assert!(world.orders(b.id).await.iter().all(|o| o.4 == brand_b));

    for (store, expected) in [(brand_a, 30), (brand_b, 20)] {
        let page = orders::list_orders(
            &world.pool,
            world.account,
            &OrderFilter {
                store_id: Some(store),
                channel_id: None,
                status: None,
                sync_status: None,
                updated_since: None,
                after: None,
                limit: 200,
            },
        )
        .await
        .unwrap();
        assert_eq!(page.orders.len(), expected);
        assert!(page.orders.iter().all(|o| o.order.store_id == store));
    }
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_channel_webhook_imports_at_once_and_a_forged_one_changes_nothing() {
    use switchyard::jobs::{ImportOrders, JobKind};
    let world = World::start(SandboxConfig::demo(), true).await;
    let app = spawn_server_with(world.settings.clone()).await;

    let channel = world.default_channel("demo-shop").await;
    let shop = world.sandbox.store("demo-shop").unwrap();
    let address = app.url(&format!(
        "/v1/channels/{}/inbound/orders/create",
        channel.id
    ));
    shop.register_webhook("orders/create", &address).unwrap();

    // No manual import: the platform's webhook is what brings the order in.
    let ids = shop.create_orders(1);
    let id = ids[0].to_string();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        if world.orders(channel.id).await.iter().any(|o| o.0 == id) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the webhook did not bring the order in"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        shop.webhook_deliveries()
            .iter()
            .any(|d| d.status == Some(202)),
        "{:?}",
        shop.webhook_deliveries()
    );

    // A forged call: right shape, wrong signature.
    let queue = world.broker.queue(ImportOrders::QUEUE).unwrap();
    let enqueued = queue.stats().await.unwrap().enqueued_total;
    for signature in [None, Some("bm90IHRoZSBzaWduYXR1cmU=")] {
        let mut req = app
            .client
            .post(&address)
            .header("content-type", "application/json")
            .header("x-shopify-topic", "orders/create")
            .body(r#"{"id": 1}"#);
        if let Some(sig) = signature {
            req = req.header("x-shopify-hmac-sha256", sig);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), reqwest::StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        queue.stats().await.unwrap().enqueued_total,
        enqueued,
        "a forged call enqueued work"
    );

    app.stop().await;
    world.stop().await;
}

/// `body` signed as Shopify signs webhooks: base64 HMAC-SHA256 with the app's secret.
fn shopify_signature(secret: &str, body: &[u8]) -> String {
    use base64::Engine;
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_order_is_stored_without_a_read_back_and_a_late_copy_changes_nothing() {
    use switchyard::jobs::{ImportOrders, JobKind};
    let world = World::start(SandboxConfig::demo(), true).await;
    let app = spawn_server_with(world.settings.clone()).await;
    let queue = world.broker.queue(ImportOrders::QUEUE).unwrap();
    let enqueued = queue.stats().await.unwrap().enqueued_total;

    let brand = world.store("brand").await;
    let mut channels = Vec::new();
    for (store, topic) in [
        ("demo-shop", "orders/create"),
        ("demo-woo", "order.created"),
    ] {
        let channel = world
            .channel(brand, store, ChannelSettings::default())
            .await;
        channels.push(channel.clone());
        let sim = world.sandbox.store(store).unwrap();
        let address = app.url(&format!("/v1/channels/{}/inbound/{topic}", channel.id));
        sim.register_webhook(topic, &address).unwrap();
        sim.traffic().reset();
        let id = sim.create_orders(1)[0].to_string();
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while !world.orders(channel.id).await.iter().any(|o| o.0 == id) {
            assert!(
                std::time::Instant::now() < deadline,
                "{store}: the webhook did not bring the order in"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let reads: u64 = sim
            .traffic()
            .snapshot()
            .by_route
            .iter()
            .filter(|(route, _)| route.starts_with("GET") || route.contains("graphql"))
            .map(|(_, n)| n)
            .sum();
        assert_eq!(reads, 0, "{store}: the order was read back");
        let health =
            switchyard::store::import_state::import_health(&world.pool, world.account, channel.id)
                .await
                .unwrap()
                .unwrap();
        assert_eq!(health.orders_imported, 1, "{store}: counted as imported");
    }
    assert_eq!(
        queue.stats().await.unwrap().enqueued_total,
        enqueued,
        "no import was needed"
    );

    // A copy older than the one held, signed as Shopify signs: nothing changes.
    let channel = &channels[0];
    let shop = world.sandbox.shopify("demo-shop").unwrap();
    let sim = world.sandbox.store("demo-shop").unwrap();
    let address = app.url(&format!(
        "/v1/channels/{}/inbound/orders/updated",
        channel.id
    ));
    let id: u64 = world.orders(channel.id).await[0].0.parse().unwrap();
    let note_of = || async {
        sqlx::query_scalar::<_, Option<String>>(
            "SELECT notes FROM orders WHERE channel_id = $1 AND channel_order_id = $2",
        )
        .bind(channel.id)
        .bind(id.to_string())
        .fetch_one(&world.pool)
        .await
        .unwrap()
    };
    let before = note_of().await;
    let mut late = sim.order_json(id).unwrap();
    late["note"] = serde_json::json!("an edit from long ago");
    late["updated_at"] = serde_json::json!("2001-01-01T00:00:00Z");
    let body = serde_json::to_vec(&late).unwrap();
    let res = app
        .client
        .post(&address)
        .header("content-type", "application/json")
        .header("x-shopify-topic", "orders/updated")
        .header(
            "x-shopify-hmac-sha256",
            shopify_signature(shop.app_secret(), &body),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::ACCEPTED);
    assert_eq!(note_of().await, before, "an older copy changed the order");

    app.stop().await;
    world.stop().await;
}
