//! Plugins end to end: an order imported from the Shopify sandbox that a rule routes to a
//! fulfilment-centre plugin is sent (signed) to the fulfilment-centre simulator, ships there,
//! comes back through the fulfilment callback and ends synced on Shopify with the centre's
//! tracking number; with the centre failing and hanging, every routed order still arrives once.
//! Rules that exclude or hold an order fire the matching webhooks.

mod app_helpers;
mod import_helpers;

use std::time::{Duration, Instant};

use app_helpers::{spawn_server_with, TestServer};
use import_helpers::{orders_of, World};
use reqwest::StatusCode;
use serde_json::{json, Value};
use switchyard::domain::plugin_rules::{Action, Condition};
use switchyard::store::plugin_rules::{self, NewRule};
use switchyard::store::plugins::{self, NewPlugin, NewPluginSecrets};
use switchyard::store::webhooks::{self, NewWebhook};
use switchyard_sandbox::fulfilment_centre::{
    FulfilmentCentre, FulfilmentCentreConfig, FulfilmentCentreHandle,
};
use switchyard_sandbox::webhook_receiver::WebhookReceiver;
use switchyard_sandbox::{FaultKnobs, GeneratorConfig, SandboxConfig, SimStore};

const SHOP: &str = "demo-shop";
const ROUTED: &str = "HL-1";

/// A centre that books orders and never ships them by itself.
fn holding_centre() -> FulfilmentCentreConfig {
    FulfilmentCentreConfig {
        ship_after: None,
        ..FulfilmentCentreConfig::default()
    }
}

/// The world, an API server for the callbacks, the centre, and a plugin routed `ROUTED`.
struct Rig {
    world: World,
    api: TestServer,
    fc: FulfilmentCentreHandle,
    secrets: NewPluginSecrets,
    /// The store of the channel and the plugin.
    store: i64,
    channel: i64,
}

impl Rig {
    async fn start(fc_config: FulfilmentCentreConfig) -> Rig {
        let world = World::start(SandboxConfig::demo(), true).await;
        let ch = world.default_channel(SHOP).await;
        let (store, channel) = (ch.store_id, ch.id);
        world
            .sandbox
            .store(SHOP)
            .unwrap()
            .set_generator_config(orders_of(ROUTED));
        let api = spawn_server_with(world.settings.clone()).await;
        let fc = FulfilmentCentre::start(fc_config).await.unwrap();
        let secrets = plugins::create(
            &world.pool,
            &world.deps.credentials_key,
            world.account,
            &NewPlugin {
                store_id: store,
                name: "North FC",
                endpoint_url: &fc.endpoint_url(),
                active: true,
            },
        )
        .await
        .unwrap();
        fc.configure(
            &secrets.signing_secret,
            &secrets.callback_token,
            &api.address,
        );
        plugin_rules::create(
            &world.pool,
            world.account,
            &NewRule {
                store_id: store,
                name: "headlamps ship from North",
                position: None,
                condition: &Condition::SkuIn {
                    skus: vec![ROUTED.to_owned()],
                },
                action: &Action::SendToPlugin {
                    plugin_id: secrets.plugin.id,
                },
                active: true,
            },
        )
        .await
        .unwrap();
        Rig {
            world,
            api,
            fc,
            secrets,
            store,
            channel,
        }
    }

    fn shop(&self) -> std::sync::Arc<dyn SimStore> {
        self.world.sandbox.store(SHOP).unwrap()
    }

    /// Switchyard's ids of the channel's orders.
    async fn order_ids(&self) -> Vec<i64> {
        sqlx::query_scalar("SELECT id FROM orders WHERE channel_id = $1 ORDER BY id")
            .bind(self.channel)
            .fetch_all(&self.world.pool)
            .await
            .unwrap()
    }

    /// Imports `n` new orders from the shop, each routed to the centre, and returns the ids of
    /// the channel's orders.
    async fn routed_orders(&self, n: usize) -> Vec<i64> {
        self.shop().create_orders(n);
        self.world.import(self.channel).await;
        self.order_ids().await
    }

    /// How many fulfilments switchyard holds for `order_id`.
    async fn fulfilments_of(&self, order_id: i64) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM fulfilments WHERE order_id = $1")
            .bind(order_id)
            .fetch_one(&self.world.pool)
            .await
            .unwrap()
    }

    /// A plugin's fulfilment callback with `body`, carrying `token` when given.
    fn fulfilment_callback(&self, token: Option<&str>, body: &Value) -> reqwest::RequestBuilder {
        let req = self
            .api
            .client
            .post(self.api.url("/v1/plugin-callbacks/fulfilments"))
            .json(body);
        match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    async fn wait_until<F: Fn(&Rig) -> bool>(&self, what: &str, done: F) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !done(self) {
            assert!(Instant::now() < deadline, "timed out waiting until {what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn stop(self) {
        self.api.stop().await;
        self.fc.shutdown().await;
        self.world.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_routed_order_ships_at_the_centre_and_ends_synced_on_shopify() {
    let rig = Rig::start(FulfilmentCentreConfig {
        ship_after: Some(Duration::from_millis(200)),
        ..FulfilmentCentreConfig::default()
    })
    .await;
    let ids = rig.routed_orders(3).await;
    assert_eq!(ids.len(), 3);

    rig.wait_until("the centre holds the three orders and shipped them", |r| {
        let books = r.fc.orders();
        books.len() == 3 && books.iter().all(|o| o.tracking_number.is_some())
    })
    .await;
    rig.wait_until("Shopify holds a fulfilment of each", |r| {
        r.shop().fulfilments().len() == 3
    })
    .await;
    let books = rig.fc.orders();
    let on_shopify = rig.shop().fulfilments();
    for booked in &books {
        assert!(ids.contains(&booked.order_id));
        assert_eq!(booked.versions, 1, "sent once: {booked:?}");
        let tracking = booked.tracking_number.clone();
        assert_eq!(
            on_shopify
                .iter()
                .filter(|f| f.tracking_number == tracking)
                .count(),
            1,
            "{tracking:?} is on Shopify once"
        );
    }
    // Each order keeps the centre's reference, and its fulfilment ends synced.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let rows: Vec<(Option<String>, String, Option<String>)> = sqlx::query_as(
            "SELECT o.plugin_reference, f.status, f.tracking_number FROM orders o \
             JOIN fulfilments f ON f.order_id = o.id WHERE o.channel_id = $1",
        )
        .bind(rig.channel)
        .fetch_all(&rig.world.pool)
        .await
        .unwrap();
        if rows.len() == 3 && rows.iter().all(|(_, s, _)| s == "synced") {
            for (reference, _, tracking) in &rows {
                let booked = books
                    .iter()
                    .find(|b| b.tracking_number == *tracking)
                    .expect("the centre's tracking number");
                assert_eq!(reference.as_deref(), Some(booked.reference.as_str()));
            }
            break;
        }
        assert!(Instant::now() < deadline, "fulfilments: {rows:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_and_hanging_centre_delays_orders_but_each_arrives_once() {
    // Shipping would add callbacks to the traffic; this test is about receiving.
    let rig = Rig::start(FulfilmentCentreConfig {
        faults: FaultKnobs {
            error_5xx_ratio: 0.4,
            hang_ratio: 0.1,
            ..FaultKnobs::default()
        },
        ..holding_centre()
    })
    .await;
    let ids = rig.routed_orders(12).await;
    assert_eq!(ids.len(), 12);
    rig.wait_until("the centre holds all twelve orders", |r| {
        r.fc.orders().len() == 12
    })
    .await;
    for booked in rig.fc.orders() {
        assert!(ids.contains(&booked.order_id));
        assert_eq!(booked.versions, 1, "booked once: {booked:?}");
    }
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fulfilment_callbacks_need_the_token_reach_only_routed_orders_and_replay_harmlessly() {
    let rig = Rig::start(holding_centre()).await;
    let id = rig.routed_orders(1).await[0];
    let line: i64 = sqlx::query_scalar("SELECT id FROM order_lines WHERE order_id = $1")
        .bind(id)
        .fetch_one(&rig.world.pool)
        .await
        .unwrap();
    let call = |token: Option<&str>, order: i64, tracking: &str| {
        let body = json!({
            "order_id": order,
            "lines": [{"line_id": line, "quantity": 1}],
            "carrier": "Royal Mail",
            "tracking_number": tracking,
        });
        rig.fulfilment_callback(token, &body).send()
    };
    let token = rig.secrets.callback_token.clone();
    assert_eq!(
        call(None, id, "T-1").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(Some("syp_wrong"), id, "T-1").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    // An order that is not routed to this plugin is not found, whoever's it is.
    assert_eq!(
        call(Some(&token), id + 1_000_000, "T-1")
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    let first = call(Some(&token), id, "T-1").await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let again = call(Some(&token), id, "T-1").await.unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    rig.wait_until("Shopify holds the one fulfilment", |r| {
        r.shop().fulfilments().len() == 1
    })
    .await;
    let count = rig.fulfilments_of(id).await;
    assert_eq!(count, 1, "a replayed callback made no second fulfilment");
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugins_token_cannot_report_on_another_plugins_or_another_stores_order() {
    let rig = Rig::start(holding_centre()).await;
    let id = rig.routed_orders(1).await[0];
    // A second plugin of the same store, which no rule routes to, and a plugin of another store.
    let elsewhere = rig.world.store("demo-woo").await;
    for (store_id, name) in [(rig.store, "South FC"), (elsewhere, "Woo FC")] {
        let other = plugins::create(
            &rig.world.pool,
            &rig.world.deps.credentials_key,
            rig.world.account,
            &NewPlugin {
                store_id,
                name,
                endpoint_url: "http://127.0.0.1:9/orders",
                active: true,
            },
        )
        .await
        .unwrap();
        let body = json!({
            "order_id": id,
            "lines": [],
            "carrier": "Royal Mail",
            "tracking_number": "NOT-MINE",
        });
        let res = rig
            .fulfilment_callback(Some(&other.callback_token), &body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{name}");
    }
    let count = rig.fulfilments_of(id).await;
    assert_eq!(count, 0);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excluded_and_held_orders_fire_their_webhooks_and_not_order_created() {
    let world = World::start(SandboxConfig::demo(), true).await;
    let ch = world.default_channel(SHOP).await;
    let (store, channel) = (ch.store_id, ch.id);
    let shop = world.sandbox.store(SHOP).unwrap();
    shop.set_generator_config(GeneratorConfig {
        sku_mix: [("HL-1".to_owned(), 1), ("MS-1".to_owned(), 1)].into(),
        ..orders_of("HL-1")
    });
    for (sku, status) in [
        (
            "HL-1",
            switchyard::domain::plugin_rules::RuleStatus::Excluded,
        ),
        ("MS-1", switchyard::domain::plugin_rules::RuleStatus::OnHold),
    ] {
        plugin_rules::create(
            &world.pool,
            world.account,
            &NewRule {
                store_id: store,
                name: sku,
                position: None,
                condition: &Condition::SkuIn {
                    skus: vec![sku.to_owned()],
                },
                action: &Action::SetSyncStatus { status },
                active: true,
            },
        )
        .await
        .unwrap();
    }
    let secret = switchyard::webhooks::generate_secret();
    let receiver = WebhookReceiver::start(vec![secret.clone()]).await.unwrap();
    for (path, triggers) in [
        ("/rules", vec!["order.excluded", "order.on_hold"]),
        ("/created", vec!["order.created"]),
    ] {
        let triggers: Vec<String> = triggers.into_iter().map(str::to_owned).collect();
        webhooks::create(
            &world.pool,
            &world.deps.credentials_key,
            world.account,
            &NewWebhook {
                store_id: store,
                url: &receiver.url_for(path),
                description: None,
                triggers: &triggers,
                enabled: true,
                secret: &secret,
            },
        )
        .await
        .unwrap();
    }
    shop.create_orders(6);
    world.import(channel).await;
    let received = receiver.wait_for(6, Duration::from_secs(20)).await;
    assert_eq!(received.len(), 6, "{received:?}");
    for r in &received {
        assert!(r.verified, "{r:?}");
        assert_eq!(r.path, "/rules");
        let sku = r.json["data"]["lines"][0]["sku"]
            .as_str()
            .unwrap_or_default();
        let expected = if sku == "HL-1" {
            "order.excluded"
        } else {
            "order.on_hold"
        };
        assert_eq!(r.event_type, expected, "{sku}");
        assert_eq!(
            r.json["data"]["sync_status"],
            expected.trim_start_matches("order."),
            "{sku}"
        );
    }
    // Nothing went to the endpoint that wants created orders: every order was held or excluded.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(receiver.deliveries().iter().all(|r| r.path == "/rules"));
    receiver.shutdown().await;
    world.stop().await;
}
