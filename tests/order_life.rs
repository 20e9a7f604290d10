//! The order's whole life end to end (`docs/order-states.md`): an order held by a plugin rule is
//! released through the API and reaches its plugin and the webhook endpoint once; callers
//! exclude, include, note and tag orders, with refusals where the state model forbids a move;
//! a cancellation after the plugin booked an order is sent to it as `order.cancelled`; and
//! random sequences of channel changes, fulfilments and actions leave every stored order in a
//! state the model allows, the state the model itself reaches.

mod app_helpers;
mod import_helpers;

use std::time::{Duration, Instant};

use app_helpers::{spawn_server_with, TestServer};
use import_helpers::{orders_of, World};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use switchyard::domain::order_state::{self, SetBy, SyncEvent, SyncState};
use switchyard::domain::plugin_rules::{Action, Condition, RuleStatus};
use switchyard::domain::{Decision, OrderStatus, SyncStatus};
use switchyard::outbox::relay;
use switchyard::store::plugin_rules::{self, NewRule};
use switchyard::store::plugins::{self, NewPlugin};
use switchyard::store::webhooks::{self, NewWebhook};
use switchyard::store::{accounts, order_state as stored_state};
use switchyard_sandbox::fulfilment_centre::{
    FulfilmentCentre, FulfilmentCentreConfig, FulfilmentCentreHandle,
};
use switchyard_sandbox::webhook_receiver::WebhookReceiver;
use switchyard_sandbox::{SandboxConfig, SimStore};

const SHOP: &str = "demo-shop";

/// The world with its workers, an API server and a token of the world's account.
struct Rig {
    world: World,
    api: TestServer,
    token: String,
    store: i64,
    channel: i64,
}

impl Rig {
    async fn start(sku: &str) -> Rig {
        let world = World::start(SandboxConfig::demo(), true).await;
        let ch = world.default_channel(SHOP).await;
        world
            .sandbox
            .store(SHOP)
            .unwrap()
            .set_generator_config(orders_of(sku));
        let api = spawn_server_with(world.settings.clone()).await;
        let token = accounts::create_token(&world.pool, world.account, "test")
            .await
            .unwrap()
            .token;
        Rig {
            store: ch.store_id,
            channel: ch.id,
            world,
            api,
            token,
        }
    }

    /// A fulfilment centre that books orders and never ships them by itself, and its plugin.
    async fn centre(&self) -> (FulfilmentCentreHandle, i64) {
        let fc = FulfilmentCentre::start(FulfilmentCentreConfig {
            ship_after: None,
            ..FulfilmentCentreConfig::default()
        })
        .await
        .unwrap();
        let secrets = plugins::create(
            &self.world.pool,
            &self.world.deps.credentials_key,
            self.world.account,
            &NewPlugin {
                store_id: self.store,
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
            &self.api.address,
        );
        (fc, secrets.plugin.id)
    }

    fn shop(&self) -> std::sync::Arc<dyn SimStore> {
        self.world.sandbox.store(SHOP).unwrap()
    }

    async fn rule(&self, name: &str, sku: &str, action: Action) {
        plugin_rules::create(
            &self.world.pool,
            self.world.account,
            &NewRule {
                store_id: self.store,
                name,
                position: None,
                condition: &Condition::SkuIn {
                    skus: vec![sku.to_owned()],
                },
                action: &action,
                active: true,
            },
        )
        .await
        .unwrap();
    }

    /// Imports `n` new orders and answers switchyard's id and the simulator's of each.
    async fn new_orders(&self, n: usize) -> Vec<(i64, u64)> {
        let sims = self.shop().create_orders(n);
        self.world.import(self.channel).await;
        ids_of(&self.world, self.channel, self.shop().as_ref(), &sims).await
    }

    async fn call(&self, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let req = self.api.request(Method::POST, path, &self.token);
        let req = match body {
            Some(b) => req.json(&b),
            None => req,
        };
        let res = req.send().await.unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> Value {
        let res = self.api.get(path, &self.token).await;
        assert_eq!(res.status(), StatusCode::OK, "GET {path}");
        res.json().await.unwrap()
    }

    async fn event_kinds(&self, id: i64) -> Vec<String> {
        let events = self.get(&format!("/v1/orders/{id}/events")).await;
        events
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap().to_owned())
            .collect()
    }

    async fn stop(self) {
        self.api.stop().await;
        self.world.stop().await;
    }
}

/// Switchyard's id of each of the simulator's orders `sims`, with the simulator's.
async fn ids_of(world: &World, channel: i64, shop: &dyn SimStore, sims: &[u64]) -> Vec<(i64, u64)> {
    let mut out = Vec::with_capacity(sims.len());
    for &sim in sims {
        let id: i64 = sqlx::query_scalar(
            "SELECT id FROM orders WHERE channel_id = $1 AND channel_order_id = $2",
        )
        .bind(channel)
        .bind(shop.channel_order_id(sim))
        .fetch_one(&world.pool)
        .await
        .expect("the simulator's order is stored");
        out.push((id, sim));
    }
    out
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_order_released_through_the_api_reaches_its_plugin_and_webhook_once() {
    let rig = Rig::start("HL-1").await;
    let (fc, plugin_id) = rig.centre().await;
    let hold = Action::SetSyncStatus {
        status: RuleStatus::OnHold,
    };
    rig.rule("check headlamps by hand", "HL-1", hold).await;
    let route = Action::SendToPlugin { plugin_id };
    rig.rule("headlamps ship from North", "HL-1", route).await;
    let secret = switchyard::webhooks::generate_secret();
    let receiver = WebhookReceiver::start(vec![secret.clone()]).await.unwrap();
    webhooks::create(
        &rig.world.pool,
        &rig.world.deps.credentials_key,
        rig.world.account,
        &NewWebhook {
            store_id: rig.store,
            url: &receiver.url(),
            description: None,
            triggers: &["order.updated".to_owned()],
            enabled: true,
            secret: &secret,
        },
    )
    .await
    .unwrap();

    let (id, _) = rig.new_orders(1).await[0];
    let held = rig.get(&format!("/v1/orders/{id}")).await;
    assert_eq!(held["sync_status"], "on_hold", "{held}");
    assert_eq!(held["sync_set_by"], "rule");
    assert_eq!(
        held["excluded_reason"],
        "held by plugin rule `check headlamps by hand`"
    );
    rig.world.settle("run-plugin").await;
    assert!(fc.orders().is_empty(), "a held order is not sent");

    let (status, released) = rig.call(&format!("/v1/orders/{id}/release"), None).await;
    assert_eq!(status, StatusCode::OK, "{released}");
    assert_eq!(released["sync_status"], "pending");
    assert_eq!(released["excluded_reason"], Value::Null);
    wait_until("the centre booked the released order", || {
        fc.order(id).is_some()
    })
    .await;
    rig.world.settle("run-plugin").await;
    let booked = fc.order(id).unwrap();
    assert_eq!(
        (booked.versions, booked.last_type.as_str()),
        (1, "order.created")
    );
    let in_progress = rig.get(&format!("/v1/orders/{id}")).await;
    assert_eq!(in_progress["sync_status"], "in_progress");

    // A second release is refused and sends nothing.
    let (status, refused) = rig.call(&format!("/v1/orders/{id}/release"), None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("only an order on hold can be released"),
        "{refused}"
    );

    // The endpoint heard of the release once, and of the plugin's booking once.
    receiver.wait_for(2, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let received = receiver.deliveries();
    assert!(received.len() >= 2, "{received:?}");
    let of = |sync: &str| {
        received
            .iter()
            .filter(|r| r.json["data"]["id"] == json!(id) && r.json["data"]["sync_status"] == sync)
            .count()
    };
    assert_eq!(of("pending"), 1, "the release, once: {received:?}");
    assert_eq!(of("in_progress"), 1, "the booking, once: {received:?}");
    assert_eq!(received.len(), 2, "{received:?}");
    assert!(received
        .iter()
        .all(|r| r.verified && r.event_type == "order.updated"));
    assert_eq!(
        fc.order(id).unwrap().versions,
        1,
        "the plugin got the order once"
    );

    let kinds = rig.event_kinds(id).await;
    assert_eq!(
        kinds,
        ["created", "held", "released", "accepted_by_plugin"],
        "{kinds:?}"
    );
    fc.shutdown().await;
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_exclude_include_note_and_tag_orders_within_the_model() {
    let rig = Rig::start("MS-1").await;
    let ids = rig.new_orders(2).await;
    let ((id, sim_id), (other_id, _)) = (ids[0], ids[1]);
    let order = rig.get(&format!("/v1/orders/{id}")).await;
    assert_eq!(order["sync_status"], "pending", "{order}");
    assert_eq!(order["internal_notes"], json!([]));

    // Exclude: a reason is required, then it stands against the channel's next import.
    let (status, bad) = rig
        .call(
            &format!("/v1/orders/{id}/exclude"),
            Some(json!({"reason": "  "})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    assert!(bad.to_string().contains("reason"), "{bad}");
    let (status, excluded) = rig
        .call(
            &format!("/v1/orders/{id}/exclude"),
            Some(json!({"reason": "duplicate of #1001"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{excluded}");
    assert_eq!(
        (
            &excluded["sync_status"],
            &excluded["excluded_reason"],
            &excluded["sync_set_by"]
        ),
        (
            &json!("excluded"),
            &json!("duplicate of #1001"),
            &json!("user")
        )
    );
    let shop = rig.shop();
    assert!(shop.update_order(sim_id));
    rig.world.import(rig.channel).await;
    let after = rig.get(&format!("/v1/orders/{id}")).await;
    assert_eq!(
        after["sync_status"], "excluded",
        "an import does not undo a caller's exclusion: {after}"
    );

    // Include: back to work; a second include is refused.
    let (status, included) = rig.call(&format!("/v1/orders/{id}/include"), None).await;
    assert_eq!(status, StatusCode::OK, "{included}");
    assert_eq!(included["sync_status"], "pending");
    assert_eq!(included["sync_set_by"], "user");
    let (status, _) = rig.call(&format!("/v1/orders/{id}/include"), None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = rig.call(&format!("/v1/orders/{id}/release"), None).await;
    assert_eq!(status, StatusCode::CONFLICT, "a pending order is not held");

    // Notes: shown with the order and in its history.
    let (status, noted) = rig
        .call(
            &format!("/v1/orders/{id}/notes"),
            Some(json!({"body": "Customer asked for gift wrap"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{noted}");
    assert_eq!(
        noted["internal_notes"][0]["body"],
        "Customer asked for gift wrap"
    );
    let events = rig.get(&format!("/v1/orders/{id}/events")).await;
    let last = events.as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (&last["kind"], &last["detail"]),
        (&json!("note"), &json!("Customer asked for gift wrap"))
    );

    // Tags: added tags survive an import; only they can be removed.
    let (status, tagged) = rig
        .call(
            &format!("/v1/orders/{id}/tags"),
            Some(json!({"add": ["gift", "vip"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tagged}");
    let tags = |o: &Value| -> Vec<String> {
        o["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_owned())
            .collect()
    };
    assert!(tags(&tagged).contains(&"gift".to_owned()), "{tagged}");
    assert!(shop.update_order(sim_id));
    rig.world.import(rig.channel).await;
    let after = rig.get(&format!("/v1/orders/{id}")).await;
    assert!(
        tags(&after).contains(&"vip".to_owned()),
        "added tags survive an import: {after}"
    );
    let channel_tag = tags(&order).into_iter().next();
    if let Some(channel_tag) = channel_tag {
        let (status, refused) = rig
            .call(
                &format!("/v1/orders/{id}/tags"),
                Some(json!({"remove": [channel_tag]})),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    }
    let (status, untagged) = rig
        .call(
            &format!("/v1/orders/{id}/tags"),
            Some(json!({"remove": ["gift"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{untagged}");
    assert!(!tags(&untagged).contains(&"gift".to_owned()));
    let kinds = rig.event_kinds(id).await;
    for kind in ["excluded", "included", "note", "tagged"] {
        assert!(kinds.contains(&kind.to_owned()), "{kind} in {kinds:?}");
    }

    // A fulfilment made by a caller moves the order on; excluding it then is refused.
    let res = rig
        .api
        .post(
            &format!("/v1/orders/{other_id}/fulfilments"),
            &rig.token,
            json!({"tracking_number": "1Z-LIFE-1"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let moving = rig.get(&format!("/v1/orders/{other_id}")).await;
    assert!(
        matches!(
            moving["sync_status"].as_str(),
            Some("in_progress" | "synced")
        ),
        "{moving}"
    );
    let (status, refused) = rig
        .call(
            &format!("/v1/orders/{other_id}/exclude"),
            Some(json!({"reason": "too late"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    wait_until("the fulfilment reached the channel", || {
        shop.fulfilments().len() == 1
    })
    .await;
    rig.world.settle("push-fulfilment").await;
    let shipped = rig.get(&format!("/v1/orders/{other_id}")).await;
    assert_eq!(
        (&shipped["status"], &shipped["sync_status"]),
        (&json!("shipped"), &json!("synced"))
    );

    // Another account's caller sees none of it.
    let (_, stranger) = accounts::create_account(&rig.world.pool, "stranger", "t")
        .await
        .unwrap();
    for action in ["release", "include", "notes", "tags", "exclude"] {
        let res = rig
            .api
            .request(
                Method::POST,
                &format!("/v1/orders/{id}/{action}"),
                &stranger.token,
            )
            .json(&json!({"reason": "x", "body": "x", "add": ["x"]}))
            .send()
            .await
            .unwrap();
        assert!(
            matches!(
                res.status(),
                StatusCode::NOT_FOUND | StatusCode::UNPROCESSABLE_ENTITY
            ),
            "{action}: {}",
            res.status()
        );
    }
    let res = rig
        .api
        .request(
            Method::POST,
            &format!("/v1/orders/{id}/release"),
            &stranger.token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let unchanged = rig.get(&format!("/v1/orders/{id}")).await;
    assert_eq!(
        unchanged["sync_status"], "pending",
        "a stranger changed nothing"
    );
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancellation_after_the_plugin_booked_the_order_is_sent_to_it() {
    let rig = Rig::start("HL-1").await;
    let (fc, plugin_id) = rig.centre().await;
    let route = Action::SendToPlugin { plugin_id };
    rig.rule("headlamps ship from North", "HL-1", route).await;
    let (id, sim_id) = rig.new_orders(1).await[0];
    wait_until("the centre booked the order", || fc.order(id).is_some()).await;
    rig.world.settle("run-plugin").await;
    assert_eq!(
        rig.get(&format!("/v1/orders/{id}")).await["sync_status"],
        "in_progress"
    );

    assert!(rig.shop().cancel_order(sim_id));
    rig.world.import(rig.channel).await;
    wait_until("the centre heard of the cancellation", || {
        fc.order(id).is_some_and(|b| b.versions == 2)
    })
    .await;
    rig.world.settle("run-plugin").await;
    assert_eq!(fc.order(id).unwrap().last_type, "order.cancelled");
    let done = rig.get(&format!("/v1/orders/{id}")).await;
    assert_eq!(
        (&done["status"], &done["sync_status"]),
        (&json!("cancelled"), &json!("synced")),
        "{done}"
    );
    let kinds = rig.event_kinds(id).await;
    assert_eq!(
        kinds,
        [
            "created",
            "accepted_by_plugin",
            "cancelled",
            "changed_on_channel",
            "accepted_by_plugin"
        ],
        "{kinds:?}"
    );
    // The cancellation was announced as an update of the order.
    let events = relay::read_events(&rig.world.broker, 10_000).await.unwrap();
    assert!(
        events.iter().any(|e| e["type"] == "order.updated"
            && e["order_id"] == json!(id)
            && e["data"]["status"] == "cancelled"),
        "no order.updated for the cancellation"
    );
    fc.shutdown().await;
    rig.stop().await;
}

/// A tiny deterministic generator, so a failing sequence can be replayed from its seed.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// A step a sequence takes against the stored order.
#[derive(Debug, Clone)]
enum Step {
    Release,
    Exclude,
    Include,
    PluginAccepted,
    PluginFailed,
    FulfilmentCreated,
    FulfilmentSynced(bool),
    FulfilmentFailed,
    Resent,
}

impl Step {
    fn event(&self, status: OrderStatus) -> SyncEvent {
        match self {
            Step::Release => SyncEvent::Released,
            Step::Exclude => SyncEvent::Excluded {
                reason: "by hand".into(),
            },
            Step::Include => SyncEvent::Included,
            Step::PluginAccepted => SyncEvent::PluginAccepted { status },
            Step::PluginFailed => SyncEvent::PluginFailed {
                reason: "refused".into(),
            },
            Step::FulfilmentCreated => SyncEvent::FulfilmentCreated,
            Step::FulfilmentSynced(outstanding) => SyncEvent::FulfilmentSynced {
                outstanding: *outstanding,
            },
            Step::FulfilmentFailed => SyncEvent::FulfilmentFailed {
                reason: "refused".into(),
            },
            Step::Resent => SyncEvent::Resent,
        }
    }
}

async fn stored_state_of(pool: &sqlx::PgPool, id: i64) -> (SyncState, OrderStatus) {
    let (sync, reason, by, status): (String, Option<String>, Option<String>, String) =
        sqlx::query_as(
            "SELECT sync_status, excluded_reason, sync_set_by, status FROM orders WHERE id = $1",
        )
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap();
    let text = |t: &str| serde_json::Value::String(t.to_owned());
    let sync: SyncStatus = serde_json::from_value(text(&sync)).unwrap();
    let by: Option<SetBy> = by.map(|b| serde_json::from_value(text(&b)).unwrap());
    let status: OrderStatus = serde_json::from_value(text(&status)).unwrap();
    (SyncState::new(sync, reason, by), status)
}

/// Random sequences of the store's moves (the callers' actions, plugin answers, fulfilments,
/// changes resent to a plugin) and of channel changes imported for real: after every step the
/// stored order is in a state the model allows, and in the state the model reaches from the
/// same steps. Seeded, so a failure names the sequence that caused it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_sequences_of_events_keep_stored_orders_in_the_models_states() {
    let world = World::start(SandboxConfig::demo(), true).await;
    let ch = world.default_channel(SHOP).await;
    let shop = world.sandbox.store(SHOP).unwrap();
    shop.set_generator_config(orders_of("MS-1"));
    const SEQUENCES: u64 = 8;
    const STEPS: usize = 12;
    let sims = shop.create_orders(SEQUENCES as usize);
    world.import(ch.id).await;
    let ids = ids_of(&world, ch.id, shop.as_ref(), &sims).await;
    let mut rng = Lcg(0x5eed_0021);
    let mut moves = 0;
    for &(id, sim_id) in &ids {
        let (mut model, _) = stored_state_of(&world.pool, id).await;
        let mut trail: Vec<String> = Vec::new();
        for _ in 0..STEPS {
            let (_, status) = stored_state_of(&world.pool, id).await;
            let pick = rng.below(11);
            if pick >= 9 {
                // A change on the channel, imported for real: an edit, or a cancellation.
                let cancel = pick == 10;
                trail.push(format!(
                    "channel {}",
                    if cancel { "cancel" } else { "edit" }
                ));
                match cancel {
                    true => shop.cancel_order(sim_id),
                    false => shop.update_order(sim_id),
                };
                world.import_changes(ch.id).await;
                let (after, now) = stored_state_of(&world.pool, id).await;
                let decision = match now {
                    OrderStatus::Cancelled => Decision::Exclude {
                        reason: "cancelled on the channel".into(),
                    },
                    _ => Decision::Import,
                };
                let event = SyncEvent::Imported {
                    decision,
                    status: now,
                };
                model = order_state::next(&model, &event).unwrap();
                assert_eq!(after, model, "order {id} after {trail:?}");
            } else {
                let step = [
                    Step::Release,
                    Step::Exclude,
                    Step::Include,
                    Step::PluginAccepted,
                    Step::PluginFailed,
                    Step::FulfilmentCreated,
                    Step::FulfilmentSynced(rng.below(2) == 0),
                    Step::FulfilmentFailed,
                    Step::Resent,
                ][pick as usize]
                    .clone();
                trail.push(format!("{step:?}"));
                let event = step.event(status);
                let expected = order_state::next(&model, &event);
                let mut tx = world.pool.begin().await.unwrap();
                let got = stored_state::move_in_tx(&mut tx, id, &event).await;
                tx.commit().await.unwrap();
                match (expected, got) {
                    (Ok(to), Ok(moved)) => {
                        assert_eq!(moved.is_some(), to != model, "order {id} after {trail:?}");
                        model = to;
                        moves += 1;
                    }
                    (Err(_), Err(switchyard::store::StoreError::Conflict(_))) => {}
                    (e, g) => panic!("order {id} after {trail:?}: model {e:?}, store {g:?}"),
                }
            }
            let (stored, _) = stored_state_of(&world.pool, id).await;
            assert!(stored.allowed(), "order {id} after {trail:?}: {stored:?}");
            assert_eq!(stored, model, "order {id} after {trail:?}");
        }
        // Every move the store made is in the order's history, in order.
        let history: Vec<(Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT from_sync_status, to_sync_status FROM order_events \
             WHERE order_id = $1 AND to_sync_status IS NOT NULL ORDER BY id",
        )
        .bind(id)
        .fetch_all(&world.pool)
        .await
        .unwrap();
        for pair in history.windows(2) {
            assert_eq!(
                pair[1].0, pair[0].1,
                "order {id}: each recorded move starts where the last ended"
            );
        }
    }
    assert!(
        moves > SEQUENCES as usize * 3,
        "the sequences moved orders: {moves}"
    );
    world.stop().await;
}
