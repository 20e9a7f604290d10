//! `Idempotency-Key` on POST, through the HTTP API: a retried request gets the first answer and
//! causes nothing new; the same key with another request, or from another caller, does not.

mod app_helpers;
mod http_helpers;
mod tenant_helpers;

use app_helpers::{settings, spawn_server, spawn_server_with, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tenant_helpers::{pool, tenant, unique};

async fn create_store(
    app: &TestServer,
    token: &str,
    key: Option<&str>,
    name: &str,
) -> reqwest::Response {
    let mut req = app
        .request(Method::POST, "/v1/stores", token)
        .json(&json!({ "name": name }));
    if let Some(key) = key {
        req = req.header("idempotency-key", key);
    }
    req.send().await.expect("request sent")
}

async fn store_names(app: &TestServer, token: &str) -> Vec<String> {
    let page: Value = app
        .request(Method::GET, "/v1/stores?limit=100", token)
        .send()
        .await
        .expect("request sent")
        .json()
        .await
        .expect("JSON");
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|s| s["name"].as_str().map(str::to_owned))
        .collect()
}

fn replayed(res: &reqwest::Response) -> bool {
    res.headers()
        .get("idempotent-replayed")
        .and_then(|v| v.to_str().ok())
        == Some("true")
}

#[tokio::test]
async fn a_retried_post_answers_the_first_time_and_creates_nothing_new() {
    let app = spawn_server().await;
    let pool = pool().await;
    let t = tenant(&pool).await;
    let key = unique("create-store");

    let first = create_store(&app, &t.token, Some(&key), "North").await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert!(!replayed(&first));
    let first_body = first.text().await.unwrap();

    let again = create_store(&app, &t.token, Some(&key), "North").await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert!(replayed(&again));
    assert_eq!(
        again
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    assert_eq!(again.text().await.unwrap(), first_body);
    assert_eq!(store_names(&app, &t.token).await, vec!["North".to_owned()]);

    // The same key for another request is refused and changes nothing.
    let other = create_store(&app, &t.token, Some(&key), "South").await;
    assert_eq!(other.status(), StatusCode::CONFLICT);
    let problem: Value = other.json().await.unwrap();
    assert_eq!(
        problem["type"],
        "https://switchyard.dev/problems/idempotency-key-reused"
    );
    assert_eq!(store_names(&app, &t.token).await, vec!["North".to_owned()]);

    // Without a key, each request is its own.
    for name in ["West", "East"] {
        let res = create_store(&app, &t.token, None, name).await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    assert_eq!(store_names(&app, &t.token).await.len(), 3);
    app.stop().await;
}

#[tokio::test]
async fn keys_belong_to_their_caller_and_bad_keys_are_refused() {
    let app = spawn_server().await;
    let pool = pool().await;
    let (a, b) = (tenant(&pool).await, tenant(&pool).await);
    let key = unique("shared");

    let res = create_store(&app, &a.token, Some(&key), "A's store").await;
    assert_eq!(res.status(), StatusCode::CREATED);
    // Another caller's identical key is not a replay of the first: it creates its own store.
    let res = create_store(&app, &b.token, Some(&key), "A's store").await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert!(!replayed(&res));
    assert_eq!(
        store_names(&app, &b.token).await,
        vec!["A's store".to_owned()]
    );

    for bad in ["has space", &"k".repeat(256)] {
        let res = create_store(&app, &a.token, Some(bad), "Bad").await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    assert_eq!(store_names(&app, &a.token).await.len(), 1);

    // A refused request (4xx) is kept too: the retry gets the same refusal, not a second try.
    let key = unique("invalid");
    for _ in 0..2 {
        let res = app
            .request(Method::POST, "/v1/stores", &a.token)
            .header("idempotency-key", &key)
            .json(&json!({ "name": "" }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    app.stop().await;
}

async fn count_rows_of_key(pool: &sqlx::PgPool, key: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM idempotency_keys WHERE key = $1")
        .bind(key)
        .fetch_one(pool)
        .await
        .expect("idempotency keys read")
}

#[tokio::test]
async fn one_caller_is_one_scope_however_it_spells_the_scheme() {
    let app = spawn_server().await;
    let pool = pool().await;
    let t = tenant(&pool).await;
    let key = unique("spelling");
    let mut statuses = Vec::new();
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let res = app
            .client
            .post(app.url("/v1/stores"))
            .header("authorization", format!("{scheme} {}", t.token))
            .header("idempotency-key", &key)
            .json(&json!({ "name": "Spelled" }))
            .send()
            .await
            .expect("request sent");
        statuses.push((res.status(), replayed(&res)));
    }
    assert_eq!(
        statuses,
        vec![
            (StatusCode::CREATED, false),
            (StatusCode::CREATED, true),
            (StatusCode::CREATED, true)
        ]
    );
    assert_eq!(
        store_names(&app, &t.token).await,
        vec!["Spelled".to_owned()]
    );
    assert_eq!(count_rows_of_key(&pool, &key).await, 1);
    app.stop().await;
}

#[tokio::test]
async fn an_unauthenticated_request_with_a_key_writes_nothing() {
    let app = spawn_server().await;
    let pool = pool().await;
    let key = unique("anonymous");
    let ops_routes = ["/v1/accounts", "/v1/queues/noop/jobs"];
    let tenant_routes = ["/v1/stores", "/v1/plugin-callbacks/stock"];
    for i in 0..50 {
        let path = [ops_routes, tenant_routes].concat()[i % 4];
        let res = app
            .request(Method::POST, path, &format!("sy_not-a-token-{i}"))
            .header("idempotency-key", &key)
            .json(&json!({ "name": "x".repeat(10_000) }))
            .send()
            .await
            .expect("request sent");
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    assert_eq!(count_rows_of_key(&pool, &key).await, 0);
    app.stop().await;
}

/// A POST carrying an `Idempotency-Key`, kept to be sent again.
struct Keyed {
    path: String,
    token: String,
    key: String,
    body: Value,
}

impl Keyed {
    fn new(path: impl Into<String>, token: &str, body: Value) -> Keyed {
        Keyed {
            path: path.into(),
            token: token.to_owned(),
            key: unique("sealed"),
            body,
        }
    }

    /// The answer's status and JSON body, and whether it was a replay.
    async fn send(&self, app: &TestServer) -> (StatusCode, Value, bool) {
        let res = app
            .request(Method::POST, &self.path, &self.token)
            .header("idempotency-key", &self.key)
            .json(&self.body)
            .send()
            .await
            .expect("request sent");
        let (status, was_replayed) = (res.status(), replayed(&res));
        (status, res.json().await.expect("JSON"), was_replayed)
    }
}

fn text_at(body: &Value, pointer: &str) -> String {
    body.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{pointer} in {body}"))
        .to_owned()
}

#[tokio::test]
async fn saved_answers_keep_no_secret_readable_in_a_database_dump() {
    let app = spawn_server().await;
    let ops = app.settings.server.ops_token.clone();
    let account_req = Keyed::new("/v1/accounts", &ops, json!({ "name": unique("sealed") }));
    let (status, account, _) = account_req.send(&app).await;
    assert_eq!(status, StatusCode::CREATED, "{account}");
    let token = text_at(&account, "/token/token");
    let res = app
        .request(Method::POST, "/v1/stores", &token)
        .json(&json!({ "name": "Sealed" }))
        .send()
        .await
        .expect("request sent");
    let store: Value = res.json().await.expect("JSON");
    let store_id = store["id"].as_i64().expect("store id");
    let webhook_req = Keyed::new(
        format!("/v1/stores/{store_id}/webhooks"),
        &token,
        json!({ "url": "http://127.0.0.1:9/hooks", "triggers": ["order.created"] }),
    );
    let (status, webhook, _) = webhook_req.send(&app).await;
    assert_eq!(status, StatusCode::CREATED, "{webhook}");
    let rotate_req = Keyed::new(
        format!("/v1/webhooks/{}/rotate-secret", webhook["id"]),
        &token,
        json!({}),
    );
    let (status, rotated, _) = rotate_req.send(&app).await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let plugin_req = Keyed::new(
        format!("/v1/stores/{store_id}/plugins"),
        &token,
        json!({ "kind": "http", "name": "FC", "endpoint_url": "http://127.0.0.1:9/fc" }),
    );
    let (status, plugin, _) = plugin_req.send(&app).await;
    assert_eq!(status, StatusCode::CREATED, "{plugin}");
    let secrets = [
        token.clone(),
        text_at(&webhook, "/secret"),
        text_at(&rotated, "/secret"),
        text_at(&plugin, "/signing_secret"),
        text_at(&plugin, "/callback_token"),
    ];

    let dump = std::process::Command::new("/usr/bin/pg_dump")
        .args(["--data-only", "--dbname", &app.settings.database.url])
        .output()
        .expect("pg_dump runs");
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    let dump = String::from_utf8_lossy(&dump.stdout);
    assert!(dump.contains("COPY public.idempotency_keys"));
    for secret in &secrets {
        // bytea columns are dumped as hex: a secret saved verbatim shows as its hex.
        for form in [secret.clone(), hex::encode(secret)] {
            assert!(!dump.contains(&form), "the dump shows the secret {secret}");
        }
    }

    // The caller's retry still gets the secrets it was shown the first time.
    for (req, first) in [
        (account_req, account),
        (webhook_req, webhook),
        (rotate_req, rotated),
        (plugin_req, plugin),
    ] {
        let (status, again, was_replayed) = req.send(&app).await;
        assert!(
            status.is_success() && was_replayed,
            "{}: {status}",
            req.path
        );
        assert_eq!(again, first, "{}", req.path);
    }
    app.stop().await;
}

#[tokio::test]
async fn an_answer_sealed_under_another_key_is_refused_not_run_again() {
    let pool = pool().await;
    let t = tenant(&pool).await;
    let key = unique("rekeyed");
    let before = spawn_server().await;
    let res = create_store(&before, &t.token, Some(&key), "Before").await;
    assert_eq!(res.status(), StatusCode::CREATED);
    before.stop().await;

    let mut rekeyed = settings();
    rekeyed.crypto.credentials_key = "ab".repeat(32);
    let after = spawn_server_with(rekeyed).await;
    let res = create_store(&after, &t.token, Some(&key), "Before").await;
    let problem = http_helpers::problem(res, StatusCode::INTERNAL_SERVER_ERROR).await;
    assert_eq!(
        problem["type"],
        "https://switchyard.dev/problems/idempotency-answer-unreadable"
    );
    assert_eq!(
        store_names(&after, &t.token).await,
        vec!["Before".to_owned()]
    );
    after.stop().await;
}
