//! Outbound webhooks end to end: the API, the outbox relay's fan-out, the deliver-webhook pool
//! and the sandbox's webhook receiver, which checks signatures with the independent Standard
//! Webhooks verifier. config/test.toml gives a short retry schedule (0, 100, 200, 300 ms) and
//! allow-lists 127.0.0.1 and ::1 only.

mod app_helpers;
mod import_helpers;

use std::time::{Duration, Instant};

use app_helpers::{send, spawn_server_with, TestServer};
use import_helpers::{paid_open, World};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use switchyard::config::{QueueOverrides, Settings};
use switchyard::domain::ChannelSettings;
use switchyard::jobs::{DeliverWebhook, JobKind};
use switchyard::queue::EnqueueOptions;
use switchyard::store::outbox::{self, OutboxItem};
use switchyard::store::webhooks::{self, EventRow, NewWebhook, OwnedAttempt};
use switchyard::store::{accounts, AccountId};
use switchyard_sandbox::standard_webhooks::{self, SignedHeaders, VerifyError};
use switchyard_sandbox::webhook_receiver::{ReceivedWebhook, WebhookReceiver};
use switchyard_sandbox::SandboxConfig;

const WAIT: Duration = Duration::from_secs(15);

/// The world (database, pools, relay, sandbox), the API on it, and an account with a store.
struct Harness {
    world: World,
    api: TestServer,
    token: String,
    account: AccountId,
    store_id: i64,
}

impl Harness {
    async fn start() -> Harness {
        Harness::start_with(SandboxConfig::demo()).await
    }

    /// [`Harness::start`] on the sandbox `config`.
    async fn start_with(config: SandboxConfig) -> Harness {
        Harness::start_with_settings(app_helpers::settings_with_own_database(), config).await
    }

    /// [`Harness::start`] with `settings` (from `settings_with_own_database`, changed by the
    /// test) on the sandbox `config`.
    async fn start_with_settings(settings: Settings, config: SandboxConfig) -> Harness {
        let world = World::start_with(settings, config, true).await;
        let api = spawn_server_with(world.settings.clone()).await;
        let (account, token) =
            accounts::create_account(&world.pool, &format!("wh-{}", ulid::Ulid::new()), "t")
                .await
                .expect("account");
        let store_id = switchyard::store::stores::create(&world.pool, account, "brand")
            .await
            .expect("store")
            .id;
        Harness {
            world,
            api,
            token: token.token,
            account,
            store_id,
        }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        call_as(&self.api, &self.token, method, path, body).await
    }

    /// Creates a webhook through the API; returns (id, secret).
    async fn webhook(&self, url: &str, triggers: &[&str]) -> (i64, String) {
        let (status, body) = self
            .call(
                Method::POST,
                &format!("/v1/stores/{}/webhooks", self.store_id),
                Some(json!({ "url": url, "triggers": triggers })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let secret = body["secret"].as_str().expect("secret shown").to_owned();
        (body["id"].as_i64().expect("id"), secret)
    }

    async fn test_send(&self, id: i64) -> i64 {
        let (status, body) = self
            .call(Method::POST, &format!("/v1/webhooks/{id}/test"), None)
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        body["delivery_id"].as_i64().expect("delivery id")
    }

    async fn delivery(&self, webhook: i64, delivery: i64) -> Value {
        let (status, body) = self
            .call(
                Method::GET,
                &format!("/v1/webhooks/{webhook}/deliveries"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["items"]
            .as_array()
            .and_then(|items| items.iter().find(|d| d["id"] == delivery).cloned())
            .unwrap_or(Value::Null)
    }

    /// Waits until the delivery's status is `status`.
    async fn delivery_settles(&self, webhook: i64, delivery: i64, status: &str) -> Value {
        let start = Instant::now();
        loop {
            let d = self.delivery(webhook, delivery).await;
            if d["status"] == status {
                return d;
            }
            assert!(
                start.elapsed() < WAIT,
                "delivery never became {status}: {d}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    async fn attempts(&self, webhook: i64, delivery: i64) -> Vec<Value> {
        let (status, body) = self
            .call(
                Method::GET,
                &format!("/v1/webhooks/{webhook}/deliveries/{delivery}/attempts"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["items"].as_array().cloned().unwrap_or_default()
    }

    async fn get_webhook(&self, id: i64) -> Value {
        self.call(Method::GET, &format!("/v1/webhooks/{id}"), None)
            .await
            .1
    }

    async fn stop(self) {
        self.api.stop().await;
        self.world.stop().await;
    }
}

async fn call_as(
    api: &TestServer,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let res = send(api, method, path, token, body).await;
    let status = res.status();
    let text = res.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn receiver() -> WebhookReceiver {
    WebhookReceiver::start(Vec::new())
        .await
        .expect("receiver starts")
}

/// Checks a received request against `secrets` with the independent verifier, `now` seconds
/// after it was signed.
fn verify(r: &ReceivedWebhook, secrets: &[&str], later_secs: i64) -> Result<(), VerifyError> {
    let headers = SignedHeaders {
        id: &r.webhook_id,
        timestamp: &r.webhook_timestamp,
        signature: &r.signature,
    };
    let ts: i64 = r.webhook_timestamp.parse().unwrap_or_default();
    standard_webhooks::verify(secrets, headers, r.body.as_bytes(), ts + later_secs, 300)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signatures_verify_independently_through_a_secret_rotation() {
    let h = Harness::start().await;
    let rx = receiver().await;
    let (id, first) = h.webhook(&rx.url(), &["order.created"]).await;
    assert!(first.starts_with("whsec_"));
    assert!(
        h.get_webhook(id).await.get("secret").is_none(),
        "a read never shows the secret"
    );

    h.test_send(id).await;
    let got = rx.wait_for(1, WAIT).await;
    let before = &got[0];
    assert_eq!(verify(before, &[&first], 0), Ok(()));
    assert_eq!(before.event_type, "webhook.test");
    assert!(
        before.webhook_id.starts_with("msg_"),
        "{}",
        before.webhook_id
    );
    assert_eq!(before.json["data"]["webhook_id"], id);
    // A body changed on the way, or a request replayed later than the tolerance, fails.
    let mut tampered = before.clone();
    tampered.body = tampered.body.replace("test", "tost");
    assert_eq!(verify(&tampered, &[&first], 0), Err(VerifyError::NoMatch));
    assert_eq!(verify(before, &[&first], 301), Err(VerifyError::Stale));

    // Rotated with the default grace: old and new both verify what is sent now.
    let (status, body) = h
        .call(
            Method::POST,
            &format!("/v1/webhooks/{id}/rotate-secret"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let second = body["secret"].as_str().unwrap_or_default().to_owned();
    assert!(second.starts_with("whsec_") && second != first);
    assert!(body["previous_secret_until"].is_string(), "{body}");
    h.test_send(id).await;
    let during = rx.wait_for(2, WAIT).await[1].clone();
    assert_eq!(
        during.signature.split(' ').count(),
        2,
        "{}",
        during.signature
    );
    assert_eq!(verify(&during, &[&first], 0), Ok(()), "old secret in grace");
    assert_eq!(verify(&during, &[&second], 0), Ok(()), "new secret");

    // Rotated with no grace: only the newest secret verifies.
    let (status, body) = h
        .call(
            Method::POST,
            &format!("/v1/webhooks/{id}/rotate-secret?grace_secs=0"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let third = body["secret"].as_str().unwrap_or_default().to_owned();
    h.test_send(id).await;
    let after = rx.wait_for(3, WAIT).await[2].clone();
    assert_eq!(verify(&after, &[&third], 0), Ok(()));
    assert_eq!(verify(&after, &[&second], 0), Err(VerifyError::NoMatch));
    assert_eq!(verify(&after, &[&first], 0), Err(VerifyError::NoMatch));
    rx.shutdown().await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_refuses_bad_input_and_hides_other_accounts_webhooks() {
    let h = Harness::start().await;
    let path = format!("/v1/stores/{}/webhooks", h.store_id);
    for (body, field) in [
        (
            json!({"url": "http://127.0.0.1:1/h", "triggers": ["order.deleted"]}),
            "triggers",
        ),
        (
            json!({"url": "http://127.0.0.1:1/h", "triggers": []}),
            "triggers",
        ),
        (
            json!({"url": "not a url", "triggers": ["order.created"]}),
            "url",
        ),
        (
            json!({"url": "http://169.254.169.254/latest", "triggers": ["order.created"]}),
            "url",
        ),
        (
            json!({"url": "http://10.0.0.1/h", "triggers": ["order.created"]}),
            "url",
        ),
        (
            json!({"url": "http://127.0.0.1:1/h", "triggers": ["order.created"], "x": 1}),
            "x",
        ),
    ] {
        let (status, problem) = h.call(Method::POST, &path, Some(body.clone())).await;
        assert!(status.is_client_error(), "{body} -> {status}");
        assert_eq!(problem["field"], field, "{body} -> {problem}");
    }
    let (id, _) = h
        .webhook(
            "http://127.0.0.1:1/h",
            &["order.created", "fulfilment.updated"],
        )
        .await;
    let (status, body) = h
        .call(
            Method::PATCH,
            &format!("/v1/webhooks/{id}"),
            Some(json!({"enabled": false, "triggers": ["product.updated"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["enabled"], false);
    assert_eq!(body["triggers"], json!(["product.updated"]));
    let (status, _) = h
        .call(Method::POST, &format!("/v1/webhooks/{id}/test"), None)
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a disabled webhook is not test-sent"
    );
    let (status, list) = h.call(Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));

    // Another account sees none of it.
    let (_, other) =
        accounts::create_account(&h.world.pool, &format!("o-{}", ulid::Ulid::new()), "t")
            .await
            .expect("account");
    for (method, p) in [
        (Method::GET, format!("/v1/webhooks/{id}")),
        (Method::DELETE, format!("/v1/webhooks/{id}")),
        (Method::POST, format!("/v1/webhooks/{id}/rotate-secret")),
        (Method::GET, format!("/v1/webhooks/{id}/deliveries")),
        (Method::GET, path.clone()),
    ] {
        let (status, _) = call_as(&h.api, &other.token, method.clone(), &p, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {p}");
    }
    let (status, _) = call_as(
        &h.api,
        &other.token,
        Method::POST,
        &path,
        Some(json!({"url": "http://127.0.0.1:1/h", "triggers": ["order.created"]})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, _) = h
        .call(Method::DELETE, &format!("/v1/webhooks/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = h
        .call(Method::GET, &format!("/v1/webhooks/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_endpoint_is_retried_on_the_schedule_until_it_answers() {
    let h = Harness::start().await;
    let rx = receiver().await;
    rx.fail_next(2, 500);
    let (id, _) = h.webhook(&rx.url(), &["order.created"]).await;
    let delivery = h.test_send(id).await;
    let d = h.delivery_settles(id, delivery, "delivered").await;
    assert_eq!(d["attempts"], 3, "{d}");
    let got = rx.deliveries();
    assert_eq!(got.len(), 3);
    assert!(
        got.iter().all(|r| r.webhook_id == got[0].webhook_id),
        "webhook-id is the same on every retry"
    );
    // The second attempt waits the 100 ms step (+-20 %), the third the 200 ms one.
    let gap = |a: usize, b: usize| (got[b].received_at - got[a].received_at).num_milliseconds();
    assert!(gap(0, 1) >= 80, "{}", gap(0, 1));
    assert!(gap(1, 2) >= 160, "{}", gap(1, 2));
    let attempts = h.attempts(id, delivery).await;
    let codes: Vec<Value> = attempts
        .iter()
        .map(|a| a["response_code"].clone())
        .collect();
    assert_eq!(codes, vec![json!(500), json!(500), json!(200)]);
    assert_eq!(attempts[2]["succeeded"], true);
    assert!(attempts[0]["response_excerpt"]
        .as_str()
        .is_some_and(|e| e.contains("500")));
    rx.shutdown().await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_holds_the_next_attempt_back() {
    let h = Harness::start().await;
    let rx = receiver().await;
    rx.fail_next(1, 503);
    rx.set_retry_after(Some(1));
    let (id, _) = h.webhook(&rx.url(), &["order.created"]).await;
    let delivery = h.test_send(id).await;
    h.delivery_settles(id, delivery, "delivered").await;
    let got = rx.deliveries();
    assert_eq!(got.len(), 2);
    let gap = (got[1].received_at - got[0].received_at).num_milliseconds();
    assert!(
        gap >= 1000,
        "Retry-After: 1 outweighs the 100 ms step; came after {gap} ms"
    );
    rx.shutdown().await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_disables_the_endpoint_without_retrying() {
    let h = Harness::start().await;
    let rx = receiver().await;
    rx.set_gone();
    let (id, _) = h.webhook(&rx.url(), &["order.created"]).await;
    let delivery = h.test_send(id).await;
    let d = h.delivery_settles(id, delivery, "failed").await;
    assert_eq!(d["last_status_code"], 410);
    let webhook = h.get_webhook(id).await;
    assert_eq!(webhook["enabled"], false, "{webhook}");
    assert!(webhook["disabled_reason"]
        .as_str()
        .is_some_and(|r| r.contains("410")));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rx.count(), 1, "a 410 is not retried");
    rx.shutdown().await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_failing_for_the_configured_period_is_disabled() {
    let h = Harness::start().await;
    let rx = receiver().await;
    rx.set_status(500);
    let (id, _) = h.webhook(&rx.url(), &["order.created"]).await;
    let set_failing_since = |days: i64| {
        let pool = h.world.pool.clone();
        async move {
            sqlx::query(
                "UPDATE webhooks SET failing_since = now() - make_interval(days => $2) \
                 WHERE id = $1",
            )
            .bind(id)
            .bind(days as i32)
            .execute(&pool)
            .await
            .expect("update");
        }
    };
    // Failing for a day (of the default five): the schedule runs out, the endpoint stays on.
    set_failing_since(1).await;
    let first = h.test_send(id).await;
    let d = h.delivery_settles(id, first, "failed").await;
    assert_eq!(d["attempts"], 4, "the whole test schedule: {d}");
    assert_eq!(h.get_webhook(id).await["enabled"], true);

    // Failing for six days: the next failed attempt disables it.
    set_failing_since(6).await;
    let second = h.test_send(id).await;
    let d = h.delivery_settles(id, second, "failed").await;
    assert_eq!(d["attempts"], 1, "{d}");
    let webhook = h.get_webhook(id).await;
    assert_eq!(webhook["enabled"], false, "{webhook}");
    assert!(webhook["disabled_reason"]
        .as_str()
        .is_some_and(|r| r.contains("failed")));
    assert_eq!(rx.count(), 5);
    rx.shutdown().await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_deliveries_are_replayed_and_recovered_with_their_webhook_id() {
    let h = Harness::start().await;
    let rx = receiver().await;
    rx.set_status(500);
    let (id, _) = h.webhook(&rx.url(), &["order.created"]).await;
    let since = chrono::Utc::now() - chrono::Duration::seconds(5);
    let a = h.test_send(id).await;
    let b = h.test_send(id).await;
    let c = h.test_send(id).await;
    for d in [a, b, c] {
        h.delivery_settles(id, d, "failed").await;
    }
    let failed_ids: Vec<String> = rx
        .deliveries()
        .iter()
        .map(|r| r.webhook_id.clone())
        .collect();
    rx.set_status(200);

    let (status, body) = h
        .call(
            Method::POST,
            &format!("/v1/webhooks/{id}/deliveries/{a}/replay"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    h.delivery_settles(id, a, "delivered").await;
    let replayed = rx.deliveries().last().cloned().expect("replayed");
    assert!(failed_ids.contains(&replayed.webhook_id));
    assert_eq!(replayed.answered, 200);
    assert_eq!(
        h.delivery(id, b).await["status"],
        "failed",
        "replay is one delivery"
    );

    let queue = h.world.broker.queue(DeliverWebhook::QUEUE).expect("queue");
    let before = queue.stats().await.expect("stats").enqueued_total;
    let (status, body) = h
        .call(
            Method::POST,
            &format!("/v1/webhooks/{id}/recover"),
            Some(json!({ "since": since })),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["recovered"], 2, "only b and c were still failed");
    for d in [b, c] {
        let d = h.delivery_settles(id, d, "delivered").await;
        assert_eq!(d["attempts"], 5, "four failed, then the recovered one: {d}");
    }
    assert_eq!(
        queue.stats().await.expect("stats").enqueued_total - before,
        1,
        "the recovered deliveries share a job"
    );
    rx.shutdown().await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_target_records_failed_attempts_and_is_never_connected() {
    let h = Harness::start().await;
    // Loopback, but outside the test allow-list (127.0.0.1/32 and ::1).
    let listener = std::net::TcpListener::bind("127.0.0.2:0").expect("127.0.0.2 binds");
    listener.set_nonblocking(true).expect("nonblocking");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    // The API refuses such a URL at once; one stored before the allow-list changed is checked
    // at every attempt.
    let (status, _) = h
        .call(
            Method::POST,
            &format!("/v1/stores/{}/webhooks", h.store_id),
            Some(json!({"url": url, "triggers": ["order.created"]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let key = h.world.deps.credentials_key.clone();
    let triggers = vec!["order.created".to_owned()];
    let webhook = webhooks::create(
        &h.world.pool,
        &key,
        h.account,
        &NewWebhook {
            store_id: h.store_id,
            url: &url,
            description: None,
            triggers: &triggers,
            enabled: true,
            secret: &switchyard::webhooks::generate_secret(),
        },
    )
    .await
    .expect("stored");
    let delivery = h.test_send(webhook.id).await;
    h.delivery_settles(webhook.id, delivery, "failed").await;
    let attempts = h.attempts(webhook.id, delivery).await;
    assert_eq!(attempts.len(), 4);
    for a in &attempts {
        assert!(a["response_code"].is_null(), "{a}");
        assert!(
            a["error"].as_str().is_some_and(|e| e.contains("loopback")),
            "{a}"
        );
    }
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "nothing ever connected to the refused target"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imported_order_reaches_subscribed_enabled_endpoints_only() {
    let h = Harness::start().await;
    let shop = h.world.sandbox.store("demo-shop").expect("shop");
    shop.create_orders(12);
    let store = h.world.store("brand").await;
    let key = h.world.deps.credentials_key.clone();
    let (subscribed, other_trigger, disabled) =
        (receiver().await, receiver().await, receiver().await);
    let mut secret_of_subscribed = String::new();
    for (rx, triggers, enabled) in [
        (&subscribed, vec!["order.created".to_owned()], true),
        (&other_trigger, vec!["product.created".to_owned()], true),
        (&disabled, vec!["order.created".to_owned()], false),
    ] {
        let secret = switchyard::webhooks::generate_secret();
        rx.set_secrets(vec![secret.clone()]);
        if secret_of_subscribed.is_empty() {
            secret_of_subscribed = secret.clone();
        }
        webhooks::create(
            &h.world.pool,
            &key,
            h.world.account,
            &NewWebhook {
                store_id: store,
                url: &rx.url(),
                description: None,
                triggers: &triggers,
                enabled,
                secret: &secret,
            },
        )
        .await
        .expect("webhook");
    }
    let channel = h
        .world
        .channel(store, "demo-shop", ChannelSettings::default())
        .await;
    h.world.import(channel.id).await;
    let pending: Vec<(String,)> = sqlx::query_as(
        "SELECT channel_order_id FROM orders WHERE channel_id = $1 AND sync_status = 'pending'",
    )
    .bind(channel.id)
    .fetch_all(&h.world.pool)
    .await
    .expect("orders");
    assert!(!pending.is_empty());
    let got = subscribed.wait_for(pending.len(), WAIT).await;
    assert_eq!(
        got.len(),
        pending.len(),
        "one order.created per imported order"
    );
    let mut ids: Vec<String> = Vec::new();
    for r in &got {
        assert!(r.verified, "{:?}", r.verify_error);
        assert_eq!(r.event_type, "order.created");
        let data = &r.json["data"];
        assert_eq!(data["store_id"], store);
        assert_eq!(data["channel_id"], channel.id);
        assert_eq!(data["sync_status"], "pending");
        assert!(
            data["id"].is_i64() && data["totals"]["total"].is_string(),
            "{data}"
        );
        assert!(
            data["lines"].as_array().is_some_and(|l| !l.is_empty()),
            "{data}"
        );
        assert!(r.json["timestamp"].is_string());
        ids.push(
            data["channel_order_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    ids.sort();
    let mut expected: Vec<String> = pending.into_iter().map(|(id,)| id).collect();
    expected.sort();
    assert_eq!(ids, expected);
    // Fan-out of the whole import happened before the subscribed endpoint's last delivery; give
    // stray deliveries a moment anyway.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(other_trigger.count(), 0, "not subscribed to order.created");
    assert_eq!(disabled.count(), 0, "disabled");
    for rx in [subscribed, other_trigger, disabled] {
        rx.shutdown().await;
    }
    h.stop().await;
}

/// Each delivery of `webhook` as (id, status, attempts), oldest first.
async fn delivery_rows(pool: &sqlx::PgPool, webhook: i64) -> Vec<(i64, String, i32)> {
    sqlx::query_as(
        "SELECT id, status, attempts FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY id",
    )
    .bind(webhook)
    .fetch_all(pool)
    .await
    .expect("deliveries")
}

/// Waits until every delivery of `webhook` is delivered; returns them.
async fn all_delivered(pool: &sqlx::PgPool, webhook: i64, n: usize) -> Vec<(i64, String, i32)> {
    let start = Instant::now();
    loop {
        let rows = delivery_rows(pool, webhook).await;
        if rows.len() == n && rows.iter().all(|(_, s, _)| s == "delivered") {
            return rows;
        }
        assert!(start.elapsed() < WAIT, "not all delivered: {rows:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fan_outs_deliveries_to_one_endpoint_share_a_job_and_only_a_failed_one_is_retried() {
    let h = Harness::start().await;
    let rx = receiver().await;
    rx.fail_next(1, 500);
    let (id, _) = h.webhook(&rx.url(), &["order.created"]).await;
    let queue = h.world.broker.queue(DeliverWebhook::QUEUE).expect("queue");
    let before = queue.stats().await.expect("stats").enqueued_total;

    // Five events committed together reach the relay as one batch.
    commit_events(&h, "order.created", 5).await;

    let rows = all_delivered(&h.world.pool, id, 5).await;
    let attempts: Vec<i32> = rows.iter().map(|(_, _, a)| *a).collect();
    assert_eq!(
        attempts.iter().filter(|a| **a == 2).count(),
        1,
        "the one that met the 500 is tried again, alone: {rows:?}"
    );
    assert_eq!(attempts.iter().filter(|a| **a == 1).count(), 4, "{rows:?}");
    assert_eq!(rx.count(), 6);
    // One job for the five first attempts, and one for the retry.
    assert_eq!(
        queue.stats().await.expect("stats").enqueued_total - before,
        2
    );
    rx.shutdown().await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_job_run_again_neither_resends_nor_queues_the_next_attempt_twice() {
    let h = Harness::start().await;
    let rx = receiver().await;
    let (id, _) = h.webhook(&rx.url(), &["order.created"]).await;
    let pool = &h.world.pool;
    let queue = h.world.broker.queue(DeliverWebhook::QUEUE).expect("queue");

    // Two deliveries whose fan-out committed (no relay saw the event, and no job is queued);
    // the first has its first attempt recorded as failed, due again shortly: a job that died
    // after recording that attempt and before queueing the next.
    let mut tx = pool.begin().await.expect("tx");
    let mut rows = Vec::new();
    for n in 0..2 {
        let payload = json!({"type": "order.created", "store_id": h.store_id, "data": {"n": n}});
        let outbox_id = outbox::push_in_tx(&mut tx, &OutboxItem::Event { payload })
            .await
            .expect("event");
        rows.push(EventRow {
            outbox_id,
            store_id: h.store_id,
            event_type: "order.created",
        });
    }
    let fanned = webhooks::fan_out_in_tx(&mut tx, &rows, 20, Duration::from_secs(3600))
        .await
        .expect("fan-out")
        .expect("deliveries");
    let ids: Vec<i64> = rows.iter().map(|r| r.outbox_id).collect();
    outbox::delete(&mut tx, &ids).await.expect("delete");
    // The fallback row is not this test's subject.
    outbox::delete(&mut tx, &[fanned.fallback_row])
        .await
        .expect("delete");
    tx.commit().await.expect("commit");
    let made: Vec<i64> = delivery_rows(pool, id)
        .await
        .iter()
        .map(|(d, _, _)| *d)
        .collect();
    assert_eq!(made.len(), 2);
    let due = chrono::Utc::now() + chrono::Duration::milliseconds(2500);
    let failed = OwnedAttempt {
        delivery_id: made[0],
        webhook_id: id,
        succeeded: false,
        response_code: Some(500),
        duration_ms: 3,
        response_excerpt: Some("boom".into()),
        error: None,
        status: "pending",
        next_attempt_at: Some(due),
        disable: None,
    };
    webhooks::record_attempts(pool, &[&failed])
        .await
        .expect("attempt");

    // The job runs again, twice over (one run after the other, as after two crashes): the
    // second delivery is sent once, the first is not sent again before it is due, and its next
    // attempt is queued once.
    let job = DeliverWebhook::First {
        delivery_ids: made.clone(),
    };
    queue
        .enqueue(&job, &EnqueueOptions::default())
        .await
        .expect("enqueue");
    rx.wait_for(1, WAIT).await;
    let pending = delivery_rows(pool, id).await;
    assert_eq!(pending[0].1, "pending", "not before it is due: {pending:?}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    queue
        .enqueue(&job, &EnqueueOptions::default())
        .await
        .expect("enqueue");
    let rows = all_delivered(pool, id, 2).await;
    assert_eq!(rows[0].2, 2, "the recorded attempt and the next: {rows:?}");
    assert_eq!(rows[1].2, 1, "{rows:?}");
    let got = rx.deliveries();
    assert_eq!(got.len(), 2, "one request per delivery");
    let first = got
        .iter()
        .find(|r| r.json["data"]["n"] == 0)
        .expect("the first delivery's request");
    assert!(
        first.received_at >= due - chrono::Duration::milliseconds(50),
        "not before it was due: {} < {due}",
        first.received_at
    );

    // Jobs for attempts already made (or never due: a later one than the next) do nothing.
    for stale in [
        job.clone(),
        DeliverWebhook::One {
            delivery_id: made[0],
            attempt: Some(2),
        },
        DeliverWebhook::One {
            delivery_id: made[1],
            attempt: Some(4),
        },
    ] {
        queue
            .enqueue(&stale, &EnqueueOptions::default())
            .await
            .expect("enqueue");
    }
    h.world.settle(DeliverWebhook::QUEUE).await;
    assert_eq!(rx.count(), 2);
    assert_eq!(delivery_rows(pool, id).await, rows);
    rx.shutdown().await;
    h.stop().await;
}

/// The demo stores, the Shopify one selling only `skus` (of its catalogue), paid and open.
fn selling(skus: &[&str]) -> SandboxConfig {
    let mut config = SandboxConfig::demo();
    for s in &mut config.shopify {
        s.generator = paid_open(skus);
    }
    config
}

impl Harness {
    /// A product of the store through the API; returns its JSON.
    async fn product(&self, sku: &str, api_quantity: i64) -> Value {
        let (status, body) = self
            .call(
                Method::POST,
                "/v1/products",
                Some(json!({"store_id": self.store_id, "sku": sku, "title": sku,
                            "api_quantity": api_quantity})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    /// Imports `orders` new orders of the Shopify demo store through a channel of the store.
    async fn import_orders(&self, orders: usize) {
        let shop = self.world.sandbox.store("demo-shop").expect("shop");
        shop.create_orders(orders);
        let info = self.world.sandbox.store_info("demo-shop").expect("shop");
        let channel = switchyard::store::channels::create(
            &self.world.pool,
            &self.world.deps.credentials_key,
            self.account,
            &switchyard::store::channels::NewChannel {
                store_id: self.store_id,
                name: "demo-shop",
                base_url: &info.base_url,
                credentials: &switchyard::sandbox_cmd::sandbox_credentials(info),
                settings: &ChannelSettings::default(),
            },
        )
        .await
        .expect("channel");
        let job = self.world.import(channel.id).await;
        assert_eq!(job.status, switchyard::queue::JobStatus::Done, "{job:?}");
    }

    /// An entity as the API shows it now.
    async fn read(&self, path: &str) -> Value {
        let (status, body) = self.call(Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }
}

impl Harness {
    /// Imports `n` new orders with an endpoint subscribed to `order.created`; returns each
    /// webhook's `data` beside the order as the API shows it now.
    async fn created_orders_sent_and_shown(&self, n: usize) -> Vec<(Value, Value)> {
        let rx = receiver().await;
        self.webhook(&rx.url(), &["order.created"]).await;
        self.import_orders(n).await;
        let got = rx.wait_for(n, WAIT).await;
        rx.shutdown().await;
        assert_eq!(got.len(), n, "one order.created per order");
        let mut out = Vec::with_capacity(n);
        for r in got {
            let data = r.json["data"].clone();
            let id = data["id"].as_i64().unwrap_or_default();
            out.push((data, self.read(&format!("/v1/orders/{id}")).await));
        }
        out
    }
}

/// (line id, product id) of each line of an order's JSON.
fn line_ids(order: &Value) -> Vec<(Value, Value)> {
    order["lines"]
        .as_array()
        .map(|lines| {
            lines
                .iter()
                .map(|l| (l["id"].clone(), l["product_id"].clone()))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_webhooks_carry_the_line_and_product_ids_the_api_shows() {
    let h = Harness::start_with(selling(&["MS-1", "WB-1"])).await;
    h.product("MS-1", 1000).await;
    let mut mapped = 0;
    for (sent, shown) in h.created_orders_sent_and_shown(4).await {
        let (sent, shown) = (line_ids(&sent), line_ids(&shown));
        assert!(
            !shown.is_empty() && shown.iter().all(|(id, _)| id.is_i64()),
            "{shown:?}"
        );
        assert_eq!(
            sent, shown,
            "the webhook's (line id, product id) pairs are the API's"
        );
        mapped += shown.iter().filter(|(_, p)| p.is_i64()).count();
    }
    assert!(mapped > 0, "lines of the store's product name it");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_times_read_as_the_api_shows_them() {
    let h = Harness::start_with(selling(&["HL-1"])).await;
    for (sent, shown) in h.created_orders_sent_and_shown(3).await {
        for field in ["updated_at", "placed_at", "paid_at"] {
            assert_eq!(
                sent[field], shown[field],
                "`{field}` as the webhook sends it and as the API shows it"
            );
        }
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sales_at_import_send_product_updated_with_the_new_figures() {
    let h = Harness::start_with(selling(&["MS-1"])).await;
    let product = h.product("MS-1", 1000).await;
    let path = format!("/v1/products/{}", product["id"]);
    let rx = receiver().await;
    h.webhook(&rx.url(), &["product.updated"]).await;
    h.import_orders(5).await;
    let now = h.read(&path).await;
    assert!(
        now["api_quantity"].as_i64().unwrap_or(1000) < 1000,
        "the sales took stock: {now}"
    );
    // The import's last page announces the figures the API shows now.
    let start = Instant::now();
    loop {
        let sent: Vec<Value> = rx
            .deliveries()
            .iter()
            .filter(|r| r.event_type == "product.updated")
            .map(|r| r.json["data"].clone())
            .collect();
        if sent.contains(&now) {
            break;
        }
        assert!(
            start.elapsed() < WAIT,
            "no product.updated with the figures the API shows ({now}); sent: {sent:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    rx.shutdown().await;
    h.stop().await;
}

/// Commits `n` events of type `event_type` together, as one outbox batch.
async fn commit_events(h: &Harness, event_type: &str, n: usize) {
    let events: Vec<OutboxItem> = (0..n)
        .map(|i| OutboxItem::Event {
            payload: json!({"type": event_type, "store_id": h.store_id, "data": {"n": i}}),
        })
        .collect();
    let mut tx = h.world.pool.begin().await.expect("tx");
    outbox::push_many_in_tx(&mut tx, &events)
        .await
        .expect("events");
    outbox::notify_in_tx(&mut tx).await.expect("notify");
    tx.commit().await.expect("commit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_endpoints_burst_keeps_to_its_limit_and_another_endpoints_deliveries_go_first() {
    const LIMIT: usize = 2;
    const SLOW: usize = 12;
    const FAST: usize = 20;
    let mut settings = app_helpers::settings_with_own_database();
    settings.queues.insert(
        "deliver_webhook".into(),
        QueueOverrides {
            concurrency: Some(4),
            ..QueueOverrides::default()
        },
    );
    settings.webhooks.max_in_flight_per_endpoint = LIMIT;
    // The slow burst spreads over more jobs than there are worker slots.
    settings.webhooks.deliveries_per_job = 3;
    let h = Harness::start_with_settings(settings, SandboxConfig::demo()).await;
    let slow_rx = receiver().await;
    // Slow, but within the request timeout: every attempt succeeds.
    slow_rx.set_delay(Duration::from_millis(1000));
    let fast_rx = receiver().await;
    let (slow, _) = h.webhook(&slow_rx.url(), &["product.created"]).await;
    let (fast, _) = h.webhook(&fast_rx.url(), &["order.created"]).await;

    // The slow endpoint's burst is queued first, the fast endpoint's deliveries behind it.
    commit_events(&h, "product.created", SLOW).await;
    let start = Instant::now();
    while delivery_rows(&h.world.pool, slow).await.len() < SLOW {
        assert!(
            start.elapsed() < WAIT,
            "the slow burst was never fanned out"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    commit_events(&h, "order.created", FAST).await;

    // Every fast delivery is made while most of the slow burst still waits its turn.
    let fast_rows = all_delivered(&h.world.pool, fast, FAST).await;
    let slow_done = delivery_rows(&h.world.pool, slow)
        .await
        .iter()
        .filter(|(_, s, _)| s == "delivered")
        .count();
    assert!(
        slow_done <= SLOW / 2,
        "the fast endpoint waited for the slow one: {slow_done} of {SLOW} slow deliveries \
         were made first"
    );
    assert!(fast_rows.iter().all(|(_, _, a)| *a == 1), "{fast_rows:?}");

    // The slow burst is delivered in the end, each on its first attempt (waiting for the
    // endpoint's limit is no attempt), never more than the limit at once.
    let start = Instant::now();
    let slow_rows = loop {
        let rows = delivery_rows(&h.world.pool, slow).await;
        if rows.iter().all(|(_, s, _)| s == "delivered") {
            break rows;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "not all delivered: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(slow_rows.iter().all(|(_, _, a)| *a == 1), "{slow_rows:?}");
    assert_eq!(slow_rx.count(), SLOW);
    assert_eq!(fast_rx.count(), FAST);
    assert_eq!(
        slow_rx.most_in_flight(),
        LIMIT,
        "requests in flight at the slow endpoint"
    );
    slow_rx.shutdown().await;
    fast_rx.shutdown().await;
    h.stop().await;
}
