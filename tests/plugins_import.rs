//! Plugin rules at import, end to end: orders from the Shopify sandbox, the real import-orders
//! pool and outbox relay, PostgreSQL, and the jobs and events that reach Redis. Also a plugin's
//! stock report reaching every auto-sync channel in the sandbox.

mod app_helpers;
mod import_helpers;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use app_helpers::spawn_server_with;
use import_helpers::{orders_of, wait_for_level, World};
use reqwest::Method;
use serde_json::{json, Value};
use switchyard::config::QueueOverrides;
use switchyard::domain::plugin_rules::{Action, Comparison, Condition, RuleStatus};
use switchyard::domain::ChannelSettings;
use switchyard::jobs::{ImportProducts, JobKind, RunPlugin};
use switchyard::outbox::relay;
use switchyard::queue::JobStatus;
use switchyard::store::channels::ChannelRow;
use switchyard::store::plugin_rules::{self, NewRule, RuleUpdate};
use switchyard::store::plugins::{self, NewPlugin, NewPluginSecrets, PluginUpdate};
use switchyard::store::products::{self, NewProduct};
use switchyard_sandbox::fulfilment_centre::{FulfilmentCentre, FulfilmentCentreConfig};
use switchyard_sandbox::SandboxConfig;

async fn plugin(world: &World, store: i64, name: &str) -> NewPluginSecrets {
    plugins::create(
        &world.pool,
        &world.deps.credentials_key,
        world.account,
        &NewPlugin {
            store_id: store,
            name,
            endpoint_url: "http://127.0.0.1:9/orders",
            active: true,
        },
    )
    .await
    .unwrap()
}

async fn rule(world: &World, store: i64, name: &str, condition: Condition, action: Action) -> i64 {
    rule_with(world, store, name, condition, action, true).await
}

async fn rule_with(
    world: &World,
    store: i64,
    name: &str,
    condition: Condition,
    action: Action,
    active: bool,
) -> i64 {
    plugin_rules::create(
        &world.pool,
        world.account,
        &NewRule {
            store_id: store,
            name,
            position: None,
            condition: &condition,
            action: &action,
            active,
        },
    )
    .await
    .unwrap()
    .id
}

/// A store whose rule sends orders of MS-1 to its plugin "north", and a channel on the Shopify
/// sandbox that now makes orders of MS-1. Returns the plugin's id and the channel.
async fn socks_to_north(world: &World) -> (i64, ChannelRow) {
    let store = world.store("brand").await;
    let fc = plugin(world, store, "north").await.plugin.id;
    rule(
        world,
        store,
        "socks to north",
        sku_in("MS-1"),
        Action::SendToPlugin { plugin_id: fc },
    )
    .await;
    let channel = world
        .channel(store, "demo-shop", ChannelSettings::default())
        .await;
    let shop = world.sandbox.store("demo-shop").unwrap();
    shop.set_generator_config(orders_of("MS-1"));
    (fc, channel)
}

fn sku_in(sku: &str) -> Condition {
    Condition::SkuIn {
        skus: vec![sku.to_owned()],
    }
}

/// What the import made of one order.
#[derive(Debug, Clone, PartialEq)]
struct Routed {
    id: i64,
    sync_status: String,
    excluded_reason: Option<String>,
    plugin_id: Option<i64>,
    routed: bool,
    tags: Vec<String>,
}

/// The channel's orders by channel order id.
async fn routed(world: &World, channel_id: i64) -> BTreeMap<String, Routed> {
    type Row = (
        String,
        i64,
        String,
        Option<String>,
        Option<i64>,
        bool,
        Vec<String>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT channel_order_id, id, sync_status, excluded_reason, plugin_id, \
                routed_at IS NOT NULL, tags \
         FROM orders WHERE channel_id = $1",
    )
    .bind(channel_id)
    .fetch_all(&world.pool)
    .await
    .unwrap();
    rows.into_iter()
        .map(
            |(coid, id, sync_status, excluded_reason, plugin_id, routed, tags)| {
                (
                    coid,
                    Routed {
                        id,
                        sync_status,
                        excluded_reason,
                        plugin_id,
                        routed,
                        tags,
                    },
                )
            },
        )
        .collect()
}

/// The run-plugin jobs waiting in Redis (no worker takes them in this release).
/// Pauses the run-plugin queue, so the jobs the import writes wait there to be read
/// (`tests/plugins_e2e.rs` lets them run).
async fn hold_run_plugin(world: &World) {
    world
        .broker
        .queue(RunPlugin::QUEUE)
        .unwrap()
        .pause()
        .await
        .unwrap();
}

async fn run_plugin_jobs(world: &World) -> Vec<RunPlugin> {
    let queue = world.broker.queue(RunPlugin::QUEUE).unwrap();
    let mut jobs: Vec<RunPlugin> = queue
        .list(JobStatus::Ready, 0, 1_000)
        .await
        .unwrap()
        .into_iter()
        .map(|j| serde_json::from_value(j.payload).unwrap())
        .collect();
    jobs.sort_by_key(|j| (j.order_id, j.plugin_id));
    jobs
}

/// Event types published per order id.
async fn events(world: &World) -> BTreeMap<i64, Vec<String>> {
    world.relayed().await;
    let mut by_order: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for e in relay::read_events(&world.broker, 10_000).await.unwrap() {
        if let (Some(order), Some(kind)) = (e["order_id"].as_i64(), e["type"].as_str()) {
            by_order.entry(order).or_default().push(kind.to_owned());
        }
    }
    by_order
}

/// POSTs `body` signed the Standard Webhooks way (`v1,` base64 HMAC-SHA256 of "id.ts.body").
async fn signed_post(url: &str, secret: &str, body: &Value) -> reqwest::Response {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use hmac::{Hmac, Mac};
    let bytes = serde_json::to_vec(body).unwrap();
    let id = format!("msg_{}", ulid::Ulid::new());
    let ts = chrono::Utc::now().timestamp();
    let key = STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(&bytes);
    let signature = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", signature)
        .body(bytes)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_routed_order_gets_its_plugin_and_a_run_plugin_job_and_is_sent_again_when_it_changes() {
    let world = World::start(SandboxConfig::demo(), true).await;
    hold_run_plugin(&world).await;
    let shop = world.sandbox.store("demo-shop").unwrap();
    let (fc, channel) = socks_to_north(&world).await;
    let socks = shop.create_orders(2);
    shop.set_generator_config(orders_of("HL-1"));
    let lamp = shop.create_orders(1);

    assert_eq!(world.import(channel.id).await.status, JobStatus::Done);
    let orders = routed(&world, channel.id).await;
    let mut expected = Vec::new();
    for id in &socks {
        let o = &orders[&id.to_string()];
        assert_eq!(o.plugin_id, Some(fc), "{o:?}");
        assert!(o.routed);
        assert_eq!(o.sync_status, "pending");
        expected.push(RunPlugin {
            plugin_id: fc,
            order_id: o.id,
        });
    }
    let unrouted = &orders[&lamp[0].to_string()];
    assert_eq!(
        (unrouted.plugin_id, unrouted.routed),
        (None, false),
        "no rule matched it"
    );
    world.relayed().await;
    assert_eq!(run_plugin_jobs(&world).await, expected);
    let ev = events(&world).await;
    for o in orders.values() {
        assert_eq!(ev[&o.id], vec!["order.created"]);
    }

    // What the run-plugin job will send: the unified order, new to the plugin until it answers
    // with its reference; nothing for an order routed elsewhere.
    let key = &world.deps.credentials_key;
    let sent = plugins::delivery_for_run(&world.pool, key, fc, expected[0].order_id)
        .await
        .unwrap()
        .expect("a routed order has a delivery");
    assert_eq!(sent.body["type"], "order.created");
    assert_eq!(sent.body["order"]["id"], expected[0].order_id);
    assert_eq!(sent.body["order"]["lines"][0]["sku"], "MS-1");
    assert!(sent.body["order"]["lines"][0]["id"].is_i64());

    // Signed as outbound webhooks are, the body is what the fulfilment-centre simulator books;
    // its reference is recorded on the order.
    let centre = FulfilmentCentre::start(FulfilmentCentreConfig {
        ship_after: None,
        ..FulfilmentCentreConfig::default()
    })
    .await
    .unwrap();
    centre.configure(
        &sent.plugin.signing_secret,
        "syp_unused",
        "http://127.0.0.1:9",
    );
    let answer = signed_post(
        &centre.endpoint_url(),
        &sent.plugin.signing_secret,
        &sent.body,
    )
    .await;
    assert_eq!(answer.status(), 200);
    let reference: Value = answer.json().await.unwrap();
    let reference = reference["reference"].as_str().unwrap().to_owned();
    let booked = centre
        .order(expected[0].order_id)
        .expect("booked by order id");
    assert_eq!(booked.lines[0].sku.as_deref(), Some("MS-1"));
    let wrong = signed_post(
        &centre.endpoint_url(),
        "whsec_bm90IHRoZSBzZWNyZXQ=",
        &sent.body,
    )
    .await;
    assert_eq!(wrong.status(), 401);
    centre.shutdown().await;
    assert!(
        plugins::record_reference(&world.pool, fc, expected[0].order_id, &reference)
            .await
            .unwrap()
    );
    let resent = plugins::delivery_for_run(&world.pool, key, fc, expected[0].order_id)
        .await
        .unwrap()
        .expect("still routed");
    assert_eq!(resent.event, "order.updated");
    assert!(plugins::delivery_for_run(&world.pool, key, fc, unrouted.id)
        .await
        .unwrap()
        .is_none());

    // Imported again with nothing changed: no second route, no job.
    assert_eq!(
        world.import_changes(channel.id).await.status,
        JobStatus::Done
    );
    world.relayed().await;
    assert_eq!(run_plugin_jobs(&world).await, expected);

    // Edited, then cancelled, on the channel: each change goes to the plugin again, in the send
    // still waiting (it reads the order when it runs), not in one more job per change.
    let first = orders[&socks[0].to_string()].id;
    assert!(shop.update_order(socks[0]));
    assert_eq!(
        world.import_changes(channel.id).await.status,
        JobStatus::Done
    );
    assert!(shop.cancel_order(socks[0]));
    assert_eq!(
        world.import_changes(channel.id).await.status,
        JobStatus::Done
    );
    world.relayed().await;
    let jobs = run_plugin_jobs(&world).await;
    let for_first = jobs.iter().filter(|j| j.order_id == first).count();
    assert_eq!(for_first, 1, "created, updated, cancelled: {jobs:?}");
    assert_eq!(jobs, expected);
    let after = routed(&world, channel.id).await;
    assert_eq!(
        after[&socks[0].to_string()].plugin_id,
        Some(fc),
        "still routed"
    );
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excluded_and_on_hold_rules_set_the_status_and_the_event_and_inactive_rules_do_nothing() {
    let world = World::start(SandboxConfig::demo(), true).await;
    hold_run_plugin(&world).await;
    let shop = world.sandbox.store("demo-shop").unwrap();
    let store = world.store("brand").await;
    let fc = plugin(&world, store, "north").await.plugin.id;
    rule(
        &world,
        store,
        "no lamps",
        sku_in("HL-1"),
        Action::SetSyncStatus {
            status: RuleStatus::Excluded,
        },
    )
    .await;
    rule(
        &world,
        store,
        "check bottles",
        sku_in("WB-1"),
        Action::SetSyncStatus {
            status: RuleStatus::OnHold,
        },
    )
    .await;
    rule(
        &world,
        store,
        "bottles to north",
        sku_in("WB-1"),
        Action::SendToPlugin { plugin_id: fc },
    )
    .await;
    rule_with(
        &world,
        store,
        "retired",
        sku_in("MS-1"),
        Action::SetSyncStatus {
            status: RuleStatus::Excluded,
        },
        false,
    )
    .await;
    rule_with(
        &world,
        store,
        "retired route",
        sku_in("MS-1"),
        Action::SendToPlugin { plugin_id: fc },
        false,
    )
    .await;
    rule(
        &world,
        store,
        "tag socks",
        sku_in("MS-1"),
        Action::AddTag {
            tag: "socks".into(),
        },
    )
    .await;
    let channel = world
        .channel(store, "demo-shop", ChannelSettings::default())
        .await;
    let mut stocked = BTreeMap::new();
    for sku in ["HL-1", "WB-1"] {
        let p = products::create(
            &world.pool,
            world.account,
            &NewProduct {
                store_id: store,
                sku,
                title: sku,
                api_quantity: Some(50),
            },
        )
        .await
        .unwrap();
        stocked.insert(sku, p.id);
    }
    let mut ids = BTreeMap::new();
    for sku in ["HL-1", "WB-1", "MS-1"] {
        shop.set_generator_config(orders_of(sku));
        ids.insert(sku, shop.create_orders(1)[0].to_string());
    }

    assert_eq!(world.import(channel.id).await.status, JobStatus::Done);
    let orders = routed(&world, channel.id).await;
    let (lamp, bottle, socks) = (
        &orders[&ids["HL-1"]],
        &orders[&ids["WB-1"]],
        &orders[&ids["MS-1"]],
    );
    assert_eq!(lamp.sync_status, "excluded");
    assert_eq!(
        lamp.excluded_reason.as_deref(),
        Some("excluded by plugin rule `no lamps`")
    );
    assert_eq!(lamp.plugin_id, None);
    assert_eq!(bottle.sync_status, "on_hold");
    assert_eq!(
        bottle.excluded_reason.as_deref(),
        Some("held by plugin rule `check bottles`")
    );
    assert_eq!(
        (bottle.plugin_id, bottle.routed),
        (Some(fc), false),
        "a held order keeps its route but is not sent yet"
    );
    assert_eq!(
        socks.sync_status, "pending",
        "the inactive exclusion did nothing"
    );
    assert_eq!(socks.plugin_id, None, "the inactive route did nothing");
    assert!(socks.tags.contains(&"socks".to_owned()), "{socks:?}");
    let ev = events(&world).await;
    assert_eq!(ev[&lamp.id], vec!["order.excluded"]);
    assert_eq!(ev[&bottle.id], vec!["order.on_hold"]);
    assert_eq!(ev[&socks.id], vec!["order.created"]);
    assert!(run_plugin_jobs(&world).await.is_empty());

    // A later import sees the same orders: the rules' statuses and tags stand, and nothing is
    // announced again.
    assert_eq!(
        world.import_changes(channel.id).await.status,
        JobStatus::Done
    );
    assert_eq!(routed(&world, channel.id).await, orders);
    assert_eq!(events(&world).await, ev);

    // An excluded order takes no stock; the held one does, as an order held by the channel's
    // filters would.
    let quantity = |sku: &'static str| {
        let id = stocked[sku];
        let pool = world.pool.clone();
        async move {
            sqlx::query_scalar::<_, i32>("SELECT api_quantity FROM products WHERE id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(quantity("HL-1").await, 50);
    assert!(quantity("WB-1").await < 50);
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_order_decides_which_plugin_an_order_goes_to() {
    let world = World::start(SandboxConfig::demo(), true).await;
    hold_run_plugin(&world).await;
    let shop = world.sandbox.store("demo-shop").unwrap();
    let store = world.store("brand").await;
    let north = plugin(&world, store, "north").await.plugin.id;
    let south = plugin(&world, store, "south").await.plugin.id;
    let any = rule(
        &world,
        store,
        "everything to north",
        Condition::ItemQuantity {
            comparison: Comparison::GreaterThan,
            value: 0,
        },
        Action::SendToPlugin { plugin_id: north },
    )
    .await;
    let socks = rule(
        &world,
        store,
        "socks to south",
        sku_in("MS-1"),
        Action::SendToPlugin { plugin_id: south },
    )
    .await;
    let channel = world
        .channel(store, "demo-shop", ChannelSettings::default())
        .await;
    shop.set_generator_config(orders_of("MS-1"));
    let first = shop.create_orders(1)[0].to_string();
    assert_eq!(world.import(channel.id).await.status, JobStatus::Done);
    assert_eq!(
        routed(&world, channel.id).await[&first].plugin_id,
        Some(north)
    );

    // The specific rule moved above the catch-all wins for the next order.
    for (id, position) in [(socks, 1), (any, 2)] {
        plugin_rules::update(
            &world.pool,
            world.account,
            id,
            &RuleUpdate {
                position: Some(position),
                ..RuleUpdate::default()
            },
        )
        .await
        .unwrap();
    }
    let second = shop.create_orders(1)[0].to_string();
    assert_eq!(
        world.import_changes(channel.id).await.status,
        JobStatus::Done
    );
    let orders = routed(&world, channel.id).await;
    assert_eq!(orders[&second].plugin_id, Some(south));
    assert_eq!(
        orders[&first].plugin_id,
        Some(north),
        "an order is routed once"
    );

    // A disabled plugin's rule cannot route: the next routing rule takes the order.
    plugins::update(
        &world.pool,
        world.account,
        south,
        &PluginUpdate {
            active: Some(false),
            ..PluginUpdate::default()
        },
    )
    .await
    .unwrap();
    let third = shop.create_orders(1)[0].to_string();
    assert_eq!(
        world.import_changes(channel.id).await.status,
        JobStatus::Done
    );
    let orders = routed(&world, channel.id).await;
    assert_eq!(orders[&third].plugin_id, Some(north));

    world.relayed().await;
    let jobs = run_plugin_jobs(&world).await;
    let job = |plugin_id, order: &String| RunPlugin {
        plugin_id,
        order_id: orders[order].id,
    };
    assert_eq!(
        jobs,
        vec![job(north, &first), job(south, &second), job(north, &third)]
    );
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_stock_report_reaches_every_auto_sync_channel_once() {
    let world = World::start(SandboxConfig::demo(), true).await;
    hold_run_plugin(&world).await;
    let store = world.store("brand").await;
    let x = products::create(
        &world.pool,
        world.account,
        &NewProduct {
            store_id: store,
            sku: "MS-1",
            title: "Merino Socks",
            api_quantity: Some(100),
        },
    )
    .await
    .unwrap();
    let stock = ChannelSettings {
        stock_management: true,
        auto_sync_stock: true,
        download_products: true,
        ..ChannelSettings::default()
    };
    for name in ["demo-shop", "demo-woo"] {
        let ch = world.channel(store, name, stock.clone()).await;
        let job = world
            .run_job(ImportProducts::QUEUE, &ImportProducts { channel_id: ch.id })
            .await;
        assert_eq!(job.status, JobStatus::Done, "{job:?}");
    }
    let sims = [
        world.sandbox.store("demo-shop").unwrap(),
        world.sandbox.store("demo-woo").unwrap(),
    ];
    for s in &sims {
        wait_for_level(s.as_ref(), "MS-1", 100).await;
    }
    let fc = plugin(&world, store, "north").await;

    // The API, on the world's database and Redis prefix.
    let app = spawn_server_with(world.settings.clone()).await;
    let report = |key: &'static str, quantity: i64| {
        app.request(
            Method::POST,
            "/v1/plugin-callbacks/stock",
            &fc.callback_token,
        )
        .header("idempotency-key", key)
        .json(&json!({"sku": "MS-1", "quantity": quantity}))
        .send()
    };
    let res = report("count-1", 25).await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["plugin_quantity"], 25);
    assert_eq!(body["changed"], true);
    for s in &sims {
        wait_for_level(s.as_ref(), "MS-1", 125).await;
    }

    // The same report again: answered, but nothing moves.
    let again = report("count-1", 25).await.unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(
        again
            .headers()
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    let moves: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM stock_movements WHERE product_id = $1 AND field = 'plugin'",
    )
    .bind(x.id)
    .fetch_one(&world.pool)
    .await
    .unwrap();
    assert_eq!(moves, 1, "one ledger movement for one report");

    // A new count lower down reaches every channel too.
    assert_eq!(report("count-2", 5).await.unwrap().status(), 200);
    for s in &sims {
        wait_for_level(s.as_ref(), "MS-1", 105).await;
    }

    // The fulfilment-centre simulator's own report, through the same callback.
    let centre = FulfilmentCentre::start(FulfilmentCentreConfig::default())
        .await
        .unwrap();
    centre.configure(&fc.signing_secret, &fc.callback_token, &app.address);
    centre.set_stock("MS-1", 60);
    assert_eq!(centre.report_stock().await["MS-1"], Some(200));
    for s in &sims {
        wait_for_level(s.as_ref(), "MS-1", 160).await;
    }
    centre.shutdown().await;
    app.stop().await;
    world.stop().await;
}

/// Run-plugin jobs not yet finished (waiting, retrying or running), as (plugin, order) pairs.
async fn pending_run_plugin(world: &World) -> Vec<(i64, i64)> {
    let queue = world.broker.queue(RunPlugin::QUEUE).unwrap();
    let mut pending = Vec::new();
    for status in [JobStatus::Ready, JobStatus::Scheduled, JobStatus::Running] {
        for j in queue.list(status, 0, 10_000).await.unwrap() {
            let job: RunPlugin = serde_json::from_value(j.payload).unwrap();
            pending.push((job.plugin_id, job.order_id));
        }
    }
    pending.sort();
    pending
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_of_an_order_whose_plugin_is_down_leave_one_pending_job_per_plugin_and_order() {
    let mut settings = app_helpers::settings_with_own_database();
    // Each send to the down plugin fails at once and then waits a minute for its retry: every
    // later update lands while that retry is pending.
    settings.queues.insert(
        "run_plugin".into(),
        QueueOverrides {
            backoff_base_ms: Some(60_000),
            backoff_cap_ms: Some(60_000),
            ..QueueOverrides::default()
        },
    );
    let world = World::start_with(settings, SandboxConfig::demo(), true).await;
    let shop = world.sandbox.store("demo-shop").unwrap();
    // Nothing listens on the plugin's port (the discard port): the plugin is down.
    let (fc, channel) = socks_to_north(&world).await;
    let socks = shop.create_orders(3);
    assert_eq!(world.import(channel.id).await.status, JobStatus::Done);
    world.relayed().await;

    // Every first send has failed and waits for its retry.
    let queue = world.broker.queue(RunPlugin::QUEUE).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let s = queue.stats().await.unwrap();
        if s.scheduled == 3 && s.ready + s.running == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "sends never failed: {s:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    for _ in 0..3 {
        for id in &socks {
            assert!(shop.update_order(*id));
        }
        assert_eq!(
            world.import_changes(channel.id).await.status,
            JobStatus::Done
        );
        world.relayed().await;
    }
    let orders = routed(&world, channel.id).await;
    let mut expected: Vec<(i64, i64)> = socks
        .iter()
        .map(|id| (fc, orders[&id.to_string()].id))
        .collect();
    expected.sort();
    assert_eq!(pending_run_plugin(&world).await, expected);
    world.stop().await;
}
