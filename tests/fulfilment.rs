//! Fulfilments end to end: orders imported from the sandbox platforms, fulfilments created
//! through the API, the real push-fulfilment pool and outbox relay, PostgreSQL and Redis, and the
//! sandbox's own record of what was shipped.

mod app_helpers;
mod http_helpers;
mod import_helpers;

use http_helpers::problem;

use std::sync::Arc;
use std::time::{Duration, Instant};

use app_helpers::{spawn_server_with, TestServer};
use import_helpers::{all_paid_open, World};
use reqwest::StatusCode;
use serde_json::{json, Value};
use switchyard::connectors;
use switchyard::domain::{ChannelSettings, Decision};
use switchyard::jobs::{JobKind, PushFulfilment};
use switchyard::outbox::relay;
use switchyard::queue::{JobInfo, JobStatus};
use switchyard::store::channels::{self, ChannelRow};
use switchyard::store::orders::{self, OrderFilter, StoredOrder};
use switchyard::store::{accounts, fulfilments};
use switchyard_sandbox::{
    AmazonSellerConfig, EbaySellerConfig, FaultKnobs, FulfilmentView, SandboxConfig, SimStore,
};

const SHOP: &str = "demo-shop";
const WOO: &str = "demo-woo";
const AMAZON: &str = "uk-seller";
const EBAY: &str = "ebay-seller";

/// The demo stores, an Amazon seller and an eBay seller, with every generated order paid, open
/// and unshipped (none fulfilled by Amazon).
fn config() -> SandboxConfig {
    let quiet = all_paid_open();
    let mut config = SandboxConfig::demo();
    for s in &mut config.shopify {
        s.generator = quiet.clone();
    }
    for w in &mut config.woocommerce {
        w.generator = quiet.clone();
    }
    let mut amazon = AmazonSellerConfig::new(AMAZON);
    amazon.generator = quiet.clone();
    amazon.afn_ratio = 0.0;
    let mut ebay = EbaySellerConfig::new(EBAY);
    ebay.generator = quiet;
    config.amazon.push(amazon);
    config.ebay.push(ebay);
    config
}

/// A world with the API served on its database and Redis prefix, one channel on `store` and
/// `orders` orders imported from it.
struct Fx {
    world: World,
    api: TestServer,
    token: String,
    channel: ChannelRow,
    sim: Arc<dyn SimStore>,
}

impl Fx {
    async fn start(store: &str, orders: usize) -> Fx {
        let world = World::start(config(), true).await;
        let token = accounts::create_token(&world.pool, world.account, "test")
            .await
            .unwrap()
            .token;
        let api = spawn_server_with(world.settings.clone()).await;
        let sim = world.sandbox.store(store).unwrap();
        sim.create_orders(orders);
        let store_id = world.store("brand").await;
        let channel = world
            .channel(store_id, store, ChannelSettings::default())
            .await;
        let job = world.import(channel.id).await;
        assert_eq!(job.status, JobStatus::Done, "{job:?}");
        Fx {
            world,
            api,
            token,
            channel,
            sim,
        }
    }

    async fn stop(self) {
        self.api.stop().await;
        self.world.stop().await;
    }

    /// The first imported order (oldest first) that `pred` accepts.
    async fn order(&self, pred: impl Fn(&StoredOrder) -> bool) -> StoredOrder {
        let filter = OrderFilter {
            channel_id: Some(self.channel.id),
            limit: 200,
            ..OrderFilter::default()
        };
        let page = orders::list_orders(&self.world.pool, self.world.account, &filter)
            .await
            .unwrap();
        page.orders
            .into_iter()
            .find(|o| pred(o))
            .expect("an imported order fits")
    }

    async fn order_status(&self, id: i64) -> String {
        let order = self.get(&format!("/v1/orders/{id}")).await;
        order["status"].as_str().unwrap_or_default().to_owned()
    }

    async fn post(&self, order_id: i64, body: &Value) -> reqwest::Response {
        self.api
            .request(
                reqwest::Method::POST,
                &format!("/v1/orders/{order_id}/fulfilments"),
                &self.token,
            )
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Creates a fulfilment that must be accepted; returns its JSON.
    async fn create(&self, order_id: i64, body: &Value) -> Value {
        let res = self.post(order_id, body).await;
        assert_eq!(res.status(), StatusCode::CREATED);
        res.json().await.unwrap()
    }

    /// Creates a fulfilment of one unit of the order's first line, tracked as `tracking`.
    async fn ship_one_unit(&self, order: &StoredOrder, tracking: &str) -> Value {
        let body = json!({
            "lines": [{"order_line_id": line_id(order, 0), "quantity": 1}],
            "tracking_number": tracking
        });
        self.create(order.order.id, &body).await
    }

    async fn get(&self, path: &str) -> Value {
        let res = self
            .api
            .request(reqwest::Method::GET, path, &self.token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "GET {path}");
        res.json().await.unwrap()
    }

    /// Waits until the fulfilment is synced or failed; returns it as the API shows it.
    async fn settled(&self, id: i64) -> Value {
        let start = Instant::now();
        loop {
            let f = self.get(&format!("/v1/fulfilments/{id}")).await;
            if f["status"] == "synced" || f["status"] == "failed" {
                return f;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "fulfilment never settled: {f}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The push job of fulfilment `id` once it is finished or dead.
    async fn push_job(&self, id: i64) -> JobInfo {
        let queue = self.world.broker.queue(PushFulfilment::QUEUE).unwrap();
        let start = Instant::now();
        loop {
            for status in [JobStatus::Done, JobStatus::Dead] {
                let jobs = queue.list(status, 0, 100).await.unwrap();
                if let Some(j) = jobs
                    .into_iter()
                    .find(|j| j.payload["fulfilment_id"] == json!(id))
                {
                    return j;
                }
            }
            assert!(start.elapsed() < Duration::from_secs(30), "no finished job");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// What the sandbox platform holds for the order.
    fn on_channel(&self, order: &StoredOrder) -> Vec<FulfilmentView> {
        let id = &order.order.order.channel_order_id;
        self.sim
            .fulfilments()
            .into_iter()
            .filter(|f| self.sim.channel_order_id(f.order_id) == *id)
            .collect()
    }

    /// The fulfilment events of `id` on the events stream, oldest first, once `n` are there.
    async fn events(&self, id: i64, n: usize) -> Vec<Value> {
        let start = Instant::now();
        loop {
            let all = relay::read_events(&self.world.broker, 10_000)
                .await
                .unwrap();
            let mine: Vec<Value> = all
                .into_iter()
                .filter(|e| e["fulfilment_id"] == json!(id))
                .collect();
            if mine.len() >= n {
                return mine;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "{} of {n} events: {mine:?}",
                mine.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn units(o: &StoredOrder) -> u32 {
    o.order.order.lines.iter().map(|l| l.quantity).sum()
}

fn line_id(o: &StoredOrder, i: usize) -> i64 {
    o.order.order.lines[i].id.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shopify_partial_then_rest_sync_once_each_and_ship_the_order() {
    let fx = Fx::start(SHOP, 8).await;
    let order = fx.order(|o| units(o) >= 2).await;
    let first = &order.order.order.lines[0];

    let one = fx
        .create(
            order.order.id,
            &json!({
                "lines": [{"order_line_id": first.id, "quantity": 1}],
                "carrier": "UPS",
                "tracking_number": "1Z-PART-1",
                "tracking_url": "https://track.example/1Z-PART-1"
            }),
        )
        .await;
    assert_eq!(one["status"], "pending");
    let one_id = one["id"].as_i64().unwrap();
    let synced = fx.settled(one_id).await;
    assert_eq!(synced["status"], "synced", "{synced}");
    let held = fx.on_channel(&order);
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0].tracking_number.as_deref(), Some("1Z-PART-1"));
    assert_eq!(held[0].carrier.as_deref(), Some("UPS"));
    assert_eq!(held[0].lines.len(), 1);
    assert_eq!(held[0].lines[0].quantity, 1);
    assert_eq!(
        synced["channel_fulfilment_id"].as_str(),
        Some(held[0].fulfilment_id.as_str())
    );
    assert_eq!(fx.order_status(order.order.id).await, "partially_shipped");

    // Everything else: no lines named ships what is left.
    let rest = fx
        .create(order.order.id, &json!({"tracking_number": "1Z-REST-2"}))
        .await;
    let rest_lines: u32 = rest["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["quantity"].as_u64().unwrap() as u32)
        .sum();
    assert_eq!(rest_lines, units(&order) - 1);
    let rest = fx.settled(rest["id"].as_i64().unwrap()).await;
    assert_eq!(rest["status"], "synced", "{rest}");
    let held = fx.on_channel(&order);
    assert_eq!(held.len(), 2, "{held:?}");
    let shipped: u32 = held.iter().flat_map(|f| &f.lines).map(|l| l.quantity).sum();
    assert_eq!(shipped, units(&order));
    assert_eq!(fx.order_status(order.order.id).await, "shipped");

    let listed = fx
        .get(&format!("/v1/orders/{}/fulfilments", order.order.id))
        .await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(2));

    // Events: created, then one update per status change, each carrying the API's JSON.
    let events = fx.events(one_id, 3).await;
    let kinds: Vec<(&str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap_or_default(),
                e["data"]["status"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("fulfilment.created", "pending"),
            ("fulfilment.updated", "sending"),
            ("fulfilment.updated", "synced"),
        ]
    );
    let last = &events[2];
    assert_eq!(last["store_id"], json!(order.order.store_id));
    let now = fx.get(&format!("/v1/fulfilments/{one_id}")).await;
    assert_eq!(last["data"], now, "the event carries the API's JSON");
    fx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_updated_after_a_fulfilment_is_the_order_as_the_api_shows_it() {
    let fx = Fx::start(SHOP, 2).await;
    let order = fx.order(|_| true).await;
    let id = order.order.id;
    let f = fx
        .create(id, &json!({"tracking_number": "1Z-WHOLE-1"}))
        .await;
    let f = fx.settled(f["id"].as_i64().unwrap()).await;
    assert_eq!(f["status"], "synced", "{f}");
    let shown = fx.get(&format!("/v1/orders/{id}")).await;
    assert_eq!(shown["status"], "shipped");
    assert_eq!(
        shown["sync_status"], "synced",
        "every fulfilment reached the channel and nothing is left to ship"
    );
    let start = Instant::now();
    let event = loop {
        let all = relay::read_events(&fx.world.broker, 10_000).await.unwrap();
        if let Some(e) = all.into_iter().find(|e| {
            e["type"] == "order.updated"
                && e["order_id"] == json!(id)
                && e["data"]["status"] == "shipped"
        }) {
            break e;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no order.updated for order {id} shipped"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(event["store_id"], json!(order.order.store_id));
    assert_eq!(
        event["data"], shown,
        "the event carries the whole order as GET /v1/orders/{{id}} shows it"
    );
    fx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn woocommerce_fulfilment_adds_tracking_and_completes_the_order() {
    let fx = Fx::start(WOO, 3).await;
    let order = fx.order(|_| true).await;
    let f = fx
        .create(
            order.order.id,
            &json!({"carrier": "Royal Mail", "tracking_number": "RM123456789GB"}),
        )
        .await;
    let f = fx.settled(f["id"].as_i64().unwrap()).await;
    assert_eq!(f["status"], "synced", "{f}");
    let held = fx.on_channel(&order);
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0].tracking_number.as_deref(), Some("RM123456789GB"));
    assert_eq!(
        f["channel_fulfilment_id"].as_str(),
        Some(held[0].fulfilment_id.as_str())
    );
    let channel_id: u64 = order.order.order.channel_order_id.parse().unwrap();
    let on_woo = fx.sim.order_json(channel_id).unwrap();
    assert_eq!(on_woo["status"], "completed");
    assert_eq!(fx.order_status(order.order.id).await, "shipped");
    fx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn woocommerce_partial_fulfilment_leaves_the_order_open() {
    let fx = Fx::start(WOO, 6).await;
    let order = fx.order(|o| units(o) >= 2).await;
    let f = fx.ship_one_unit(&order, "PART-1").await;
    let f = fx.settled(f["id"].as_i64().unwrap()).await;
    assert_eq!(f["status"], "synced", "{f}");
    assert_eq!(fx.on_channel(&order).len(), 1);
    let channel_id: u64 = order.order.order.channel_order_id.parse().unwrap();
    assert_eq!(
        fx.sim.order_json(channel_id).unwrap()["status"],
        "processing"
    );
    assert_eq!(fx.order_status(order.order.id).await, "partially_shipped");
    // WooCommerce still says `processing`: importing the order again must not unship it.
    fx.world.import(fx.channel.id).await;
    assert_eq!(fx.order_status(order.order.id).await, "partially_shipped");
    fx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_server_errors_delay_a_push_that_still_lands_once() {
    let fx = Fx::start(SHOP, 4).await;
    let order = fx.order(|o| units(o) >= 2).await;
    fx.sim.faults().set(FaultKnobs {
        burst_429: 3,
        retry_after_secs: 0.2,
        error_5xx_ratio: 0.5,
        malformed_ratio: 0.3,
        ..FaultKnobs::default()
    });
    let f = fx.ship_one_unit(&order, "FAULTY-1").await;
    let id = f["id"].as_i64().unwrap();
    // Let the faults cost a few attempts (truncated answers include ones to calls the platform
    // applied), then let the platform recover.
    let queue = fx.world.broker.queue(PushFulfilment::QUEUE).unwrap();
    let start = Instant::now();
    loop {
        let mut jobs = Vec::new();
        for status in [JobStatus::Scheduled, JobStatus::Done, JobStatus::Dead] {
            jobs.extend(queue.list(status, 0, 100).await.unwrap());
        }
        let job = jobs
            .into_iter()
            .find(|j| j.payload["fulfilment_id"] == json!(id));
        if job.is_some_and(|j| j.attempts >= 3 || j.status != JobStatus::Scheduled) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "no retries seen");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    fx.sim.faults().set(FaultKnobs::default());
    let f = fx.settled(id).await;
    assert_eq!(f["status"], "synced", "{f}");
    let job = fx.push_job(id).await;
    assert!(
        job.attempts > 1,
        "the faults should have cost attempts: {job:?}"
    );
    let held = fx.on_channel(&order);
    assert_eq!(held.len(), 1, "exactly one shipment: {held:?}");
    assert_eq!(held[0].tracking_number.as_deref(), Some("FAULTY-1"));
    fx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_platform_times_out_and_the_push_lands_once_it_answers() {
    let fx = Fx::start(WOO, 2).await;
    let order = fx.order(|_| true).await;
    fx.sim.faults().set(FaultKnobs {
        hang_ratio: 1.0,
        ..FaultKnobs::default()
    });
    let f = fx
        .create(order.order.id, &json!({"tracking_number": "HANG-1"}))
        .await;
    let id = f["id"].as_i64().unwrap();
    // The first attempt hangs until the connector's timeout: the row says a push may be out.
    let start = Instant::now();
    loop {
        let now = fx.get(&format!("/v1/fulfilments/{id}")).await;
        let queue = fx.world.broker.queue(PushFulfilment::QUEUE).unwrap();
        let retrying = queue
            .list(JobStatus::Scheduled, 0, 10)
            .await
            .unwrap()
            .into_iter()
            .any(|j| j.last_error.is_some());
        if retrying {
            assert_eq!(now["status"], "sending", "{now}");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "no timeout seen");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    fx.sim.faults().set(FaultKnobs::default());
    let f = fx.settled(id).await;
    assert_eq!(f["status"], "synced", "{f}");
    assert_eq!(fx.on_channel(&order).len(), 1);
    assert_eq!(fx.order_status(order.order.id).await, "shipped");
    fx.stop().await;
}

/// The platform records the shipment but its answer is lost (a 5xx from a proxy that gave up):
/// the retry finds it on the channel and adopts it. The shipment is partial, so a blind retry
/// would have been accepted and shipped twice.
async fn lost_answer_is_adopted(store: &str) {
    let fx = Fx::start(store, 6).await;
    let order = fx.order(|o| units(o) >= 2).await;
    fx.world
        .sandbox
        .store(store)
        .expect("a sandbox store")
        .lose_fulfilment_answers(1);
    // Amazon takes a shipment only with its carrier.
    let body = json!({
        "lines": [{"order_line_id": line_id(&order, 0), "quantity": 1}],
        "carrier": "Royal Mail", "tracking_number": "LOST-1"
    });
    let f = fx.create(order.order.id, &body).await;
    let id = f["id"].as_i64().unwrap();
    let f = fx.settled(id).await;
    assert_eq!(f["status"], "synced", "{f}");
    let job = fx.push_job(id).await;
    assert_eq!(
        job.attempts, 2,
        "one lost answer, one adopting retry: {job:?}"
    );
    let held = fx.on_channel(&order);
    assert_eq!(held.len(), 1, "exactly one shipment: {held:?}");
    assert_eq!(
        f["channel_fulfilment_id"].as_str(),
        Some(held[0].fulfilment_id.as_str())
    );
    assert_eq!(fx.order_status(order.order.id).await, "partially_shipped");
    fx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shopify_answer_lost_after_recording_is_adopted_not_repeated() {
    lost_answer_is_adopted(SHOP).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn woocommerce_answer_lost_after_recording_is_adopted_not_repeated() {
    lost_answer_is_adopted(WOO).await;
}

/// A worker that died after the channel recorded the shipment and before switchyard did leaves
/// the row in `sending`; the job, handed to another worker, adopts the channel's shipment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_left_sending_by_a_dead_worker_is_reconciled_not_pushed_again() {
    let fx = Fx::start(SHOP, 4).await;
    let queue = fx.world.broker.queue(PushFulfilment::QUEUE).unwrap();
    queue.pause().await.unwrap();
    let order = fx.order(|o| units(o) >= 2).await;
    let f = fx.ship_one_unit(&order, "DEAD-1").await;
    let id = f["id"].as_i64().unwrap();
    // What the dead worker did: mark the row sending, and get the shipment onto the channel.
    let (_, target) = fulfilments::begin_push(&fx.world.pool, id)
        .await
        .unwrap()
        .unwrap();
    let ic = channels::get_for_import(
        &fx.world.pool,
        &fx.world.deps.credentials_key,
        fx.channel.id,
    )
    .await
    .unwrap()
    .unwrap();
    let connector = connectors::build(
        &ic.channel.base_url,
        &ic.credentials,
        &ic.channel.settings,
        &switchyard::connectors::http::client_settings(&fx.world.settings),
    )
    .unwrap();
    let receipt = connector.create_fulfilment(&target.request).await.unwrap();
    assert_eq!(
        fx.get(&format!("/v1/fulfilments/{id}")).await["status"],
        "sending"
    );

    queue.resume().await.unwrap();
    let f = fx.settled(id).await;
    assert_eq!(f["status"], "synced", "{f}");
    assert_eq!(
        f["channel_fulfilment_id"].as_str(),
        Some(receipt.channel_fulfilment_id.as_str())
    );
    assert_eq!(fx.on_channel(&order).len(), 1, "exactly one shipment");
    assert_eq!(fx.order_status(order.order.id).await, "partially_shipped");
    fx.stop().await;
}

/// A row left in `sending` by a worker that died before its call reached the channel is pushed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_left_sending_before_the_call_went_out_is_pushed_once() {
    let fx = Fx::start(WOO, 2).await;
    let queue = fx.world.broker.queue(PushFulfilment::QUEUE).unwrap();
    queue.pause().await.unwrap();
    let order = fx.order(|_| true).await;
    let f = fx
        .create(order.order.id, &json!({"tracking_number": "EARLY-1"}))
        .await;
    let id = f["id"].as_i64().unwrap();
    fulfilments::begin_push(&fx.world.pool, id).await.unwrap();
    queue.resume().await.unwrap();
    let f = fx.settled(id).await;
    assert_eq!(f["status"], "synced", "{f}");
    assert_eq!(fx.on_channel(&order).len(), 1);
    fx.stop().await;
}

/// An order switchyard imported that the channel no longer has: the platform refuses (404) and
/// the fulfilment fails at once with the platform's words; the job is a dead letter.
async fn refusal_fails_at_once(store: &str, platform_words: &str) {
    let fx = Fx::start(store, 1).await;
    let real = fx.order(|_| true).await;
    let mut gone = real.order.order.clone();
    gone.channel_order_id = "987654321".into();
    let mut conn = fx.world.pool.acquire().await.unwrap();
    let stored = orders::upsert_order(&mut conn, &fx.channel, &gone, &Decision::Import)
        .await
        .unwrap();
    drop(conn);
    let f = fx
        .create(stored.order_id, &json!({"tracking_number": "NOPE-1"}))
        .await;
    let id = f["id"].as_i64().unwrap();
    let f = fx.settled(id).await;
    assert_eq!(f["status"], "failed", "{f}");
    let reason = f["failure_reason"].as_str().unwrap_or_default();
    assert!(reason.contains(platform_words), "{reason}");
    let job = fx.push_job(id).await;
    assert_eq!(job.status, JobStatus::Dead, "{job:?}");
    assert_eq!(job.attempts, 1, "a refusal is not retried: {job:?}");
    let queue = fx.world.broker.queue(PushFulfilment::QUEUE).unwrap();
    let dead = queue.dead(None, 50).await.unwrap();
    assert!(dead
        .jobs
        .iter()
        .any(|j| j.payload["fulfilment_id"] == json!(id)));
    assert_eq!(fx.order_status(stored.order_id).await, "unshipped");
    assert!(fx.sim.fulfilments().is_empty());
    fx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shopify_refusal_fails_with_the_platform_message_and_dead_letters_the_job() {
    // GraphQL answers `order: null`; the connector names the order it could not find.
    refusal_fails_at_once(SHOP, "the shop has no order 987654321").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn woocommerce_refusal_fails_with_the_platform_message_and_dead_letters_the_job() {
    refusal_fails_at_once(WOO, "Invalid ID.").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_fulfilments_are_refused_naming_the_field_and_write_nothing() {
    let fx = Fx::start(SHOP, 8).await;
    // Keep every accepted fulfilment pending, so the counts below are the API's alone.
    let queue = fx.world.broker.queue(PushFulfilment::QUEUE).unwrap();
    queue.pause().await.unwrap();
    let order = fx.order(|o| o.order.order.lines.len() >= 2).await;
    let (a, b) = (line_id(&order, 0), line_id(&order, 1));
    let qa = order.order.order.lines[0].quantity;
    let path = format!("/v1/orders/{}/fulfilments", order.order.id);

    let cases = [
        (json!({"lines": []}), "lines"),
        (
            json!({"lines": [{"order_line_id": a, "quantity": 1}, {"order_line_id": 1, "quantity": 1}]}),
            "lines[1].order_line_id",
        ),
        (
            json!({"lines": [{"order_line_id": a, "quantity": qa + 1}]}),
            "lines[0].quantity",
        ),
        (
            json!({"lines": [{"order_line_id": a, "quantity": 0}]}),
            "lines[0].quantity",
        ),
        (
            json!({"lines": [{"order_line_id": a, "quantity": -1}]}),
            "lines[0].quantity",
        ),
        (json!({"tracking_url": "ftp://x"}), "tracking_url"),
        (json!({"colour": "red"}), "colour"),
    ];
    for (body, field) in &cases {
        let res = fx.post(order.order.id, body).await;
        let problem = problem(res, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(problem["field"], json!(field), "{body} -> {problem}");
    }

    // Earlier fulfilments count: all of line A taken, one more unit of it is too many.
    fx.create(
        order.order.id,
        &json!({"lines": [{"order_line_id": a, "quantity": qa}]}),
    )
    .await;
    let res = fx
        .post(
            order.order.id,
            &json!({"lines": [{"order_line_id": b, "quantity": 1}, {"order_line_id": a, "quantity": 1}]}),
        )
        .await;
    let p = problem(res, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(p["field"], "lines[1].quantity", "{p}");
    let listed = fx.get(&path).await;
    assert_eq!(
        listed["items"].as_array().map(Vec::len),
        Some(1),
        "nothing half-written"
    );

    // A cancelled order takes no shipment.
    let other = fx.order(|o| o.order.id != order.order.id).await;
    let channel_id: u64 = other.order.order.channel_order_id.parse().unwrap();
    assert!(fx.sim.cancel_order(channel_id));
    fx.world.import(fx.channel.id).await;
    assert_eq!(fx.order_status(other.order.id).await, "cancelled");
    let res = fx.post(other.order.id, &json!({})).await;
    let p = problem(res, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(p["field"], "order_id", "{p}");

    // Only the one accepted fulfilment reached the outbox: one job on the (paused) queue.
    let start = Instant::now();
    loop {
        let stats = queue.stats().await.unwrap();
        if stats.ready >= 1 {
            assert_eq!(stats.ready, 1, "{stats:?}");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{stats:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    queue.resume().await.unwrap();
    fx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_accounts_orders_and_fulfilments_are_not_found() {
    let fx = Fx::start(SHOP, 1).await;
    let order = fx.order(|_| true).await;
    let f = fx.create(order.order.id, &json!({})).await;
    let id = f["id"].as_i64().unwrap();
    let (_, other) = accounts::create_account(
        &fx.world.pool,
        &format!("other-{id}-{}", order.order.id),
        "t",
    )
    .await
    .unwrap();
    let cases = [
        (reqwest::Method::GET, format!("/v1/fulfilments/{id}")),
        (
            reqwest::Method::GET,
            format!("/v1/orders/{}/fulfilments", order.order.id),
        ),
        (
            reqwest::Method::POST,
            format!("/v1/orders/{}/fulfilments", order.order.id),
        ),
        (reqwest::Method::GET, "/v1/fulfilments/999999999".to_owned()),
    ];
    for (method, path) in cases {
        let res = fx
            .api
            .request(method.clone(), &path, &other.token)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        problem(res, StatusCode::NOT_FOUND).await;
    }
    // The owner still sees it, and the other account's attempt wrote nothing.
    let listed = fx
        .get(&format!("/v1/orders/{}/fulfilments", order.order.id))
        .await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));
    fx.settled(id).await;
    fx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_retried_with_its_idempotency_key_ships_once() {
    let fx = Fx::start(SHOP, 2).await;
    let order = fx.order(|_| true).await;
    let other = fx.order(|o| o.order.id != order.order.id).await;
    let send = |order_id: i64| {
        fx.api
            .request(
                reqwest::Method::POST,
                &format!("/v1/orders/{order_id}/fulfilments"),
                &fx.token,
            )
            .header("Idempotency-Key", "ship-42")
            .json(&json!({"tracking_number": "IDEM-1"}))
            .send()
    };
    let first = send(order.order.id).await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    // The replay is the first answer, status included.
    let again = send(order.order.id).await.unwrap();
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    let res = send(other.order.id).await.unwrap();
    problem(res, StatusCode::CONFLICT).await;

    let id = first["id"].as_i64().unwrap();
    assert_eq!(fx.settled(id).await["status"], "synced");
    let listed = fx
        .get(&format!("/v1/orders/{}/fulfilments", order.order.id))
        .await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(fx.on_channel(&order).len(), 1);
    let elsewhere = fx
        .get(&format!("/v1/orders/{}/fulfilments", other.order.id))
        .await;
    assert_eq!(elsewhere["items"].as_array().map(Vec::len), Some(0));
    fx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amazon_answer_lost_after_recording_is_adopted_not_repeated() {
    lost_answer_is_adopted(AMAZON).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ebay_answer_lost_after_recording_is_adopted_not_repeated() {
    lost_answer_is_adopted(EBAY).await;
}
