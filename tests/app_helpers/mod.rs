//! What every integration test shares, whichever harness it builds on: the test settings under
//! a Redis key prefix of the test's own, the API server on a free port of 127.0.0.1, and worker
//! pools running in the test.
#![allow(dead_code)]

use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;
use switchyard::app::Application;
use switchyard::config::Settings;
use switchyard::crypto::CredentialsKey;
use switchyard::queue::{Broker, Queue, QueueStats};
use switchyard::{provision, telemetry, workers};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use ulid::Ulid;

/// Settings of `config/test.toml` (database `switchyard_test`, short leases) with a fresh key
/// prefix, so tests running at once never see each other's jobs, a free port, and a short
/// shutdown grace, so a test's server and pools stop quickly. PostgreSQL and Redis are the
/// configured ones, else those at the default addresses, else the suite's private pair (see
/// [`service_urls`]).
pub fn settings() -> Settings {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut settings = Settings::load_env(&dir, "test").expect("config/test.toml loads");
    let (database, redis) = service_urls(&settings);
    settings.database.url = database.clone();
    settings.redis.url = redis.clone();
    settings.server.listen = "127.0.0.1:0".parse().expect("a socket address");
    settings.redis.key_prefix = format!("sytest-{}", Ulid::new());
    settings.shutdown.grace_secs = 5;
    settings
}

/// The database and Redis URLs of the suite, found once per test binary: when nothing is
/// configured and nothing answers at the default addresses, those of a private PostgreSQL and
/// Redis in `target/switchyard-services`, started by the first test binary that needs them and
/// left running for the next (`cargo run -- services stop` stops them).
fn service_urls(loaded: &Settings) -> &'static (String, String) {
    static URLS: OnceLock<(String, String)> = OnceLock::new();
    URLS.get_or_init(|| {
        let mut settings = loaded.clone();
        let options = provision::Options::for_tests(&settings).unwrap_or_else(|e| panic!("{e}"));
        let services = provision::provide(&mut settings, &options)
            .unwrap_or_else(|e| panic!("PostgreSQL and Redis for the tests: {e}"));
        for line in services.describe() {
            eprintln!("tests use a private {line}; `cargo run -- services stop` stops it");
        }
        (settings.database.url, settings.redis.url)
    })
}

/// `url` naming the database `name` on the same server.
pub fn with_database(url: &str, name: &str) -> String {
    let mut url = reqwest::Url::parse(url).expect("a database URL");
    url.set_path(name);
    url.to_string()
}

/// [`settings`] on a database of the test's own (created when first prepared): an outbox relay
/// on it must not take another test's rows (they would be pushed to this test's Redis prefix and
/// never reach their own workers). [`drop_database`] removes it.
pub fn settings_with_own_database() -> Settings {
    let mut settings = settings();
    let name = format!("switchyard_t_{}", Ulid::new().to_string().to_lowercase());
    settings.database.url = with_database(&settings.database.url, &name);
    settings
}

/// Drops the database of `settings` (from [`settings_with_own_database`]), closing whatever
/// connections are still open on it.
pub async fn drop_database(settings: &Settings) {
    let name = settings
        .database
        .url
        .rsplit('/')
        .next()
        .expect("a database name");
    // The maintenance database: connecting to a test database here would migrate it.
    let admin = PgPool::connect(&with_database(&settings.database.url, "postgres"))
        .await
        .expect("the maintenance database");
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&admin)
        .await
        .expect("the test database dropped");
}

/// The credentials key of `settings`.
pub fn key(settings: &Settings) -> CredentialsKey {
    CredentialsKey::from_hex(&settings.crypto.credentials_key).expect("the test key is valid")
}

/// A task running in the test until told to stop: a worker, or a pool of them.
pub struct Running {
    pub stop_tx: watch::Sender<bool>,
    pub handle: JoinHandle<()>,
}

impl Running {
    /// Asks the task to shut down gracefully, and waits.
    pub async fn stop(self) {
        let _ = self.stop_tx.send(true);
        tokio::time::timeout(Duration::from_secs(30), self.handle)
            .await
            .expect("stops within 30 s")
            .expect("the task did not panic");
    }
}

/// How long [`wait_for`] waits for a queue to settle.
const SETTLE: Duration = Duration::from_secs(20);

/// Polls `queue`'s stats until `done` holds; panics with the last stats after [`SETTLE`].
pub async fn wait_for(queue: &Queue, done: impl Fn(&QueueStats) -> bool) -> QueueStats {
    let deadline = tokio::time::Instant::now() + SETTLE;
    loop {
        let stats = queue.stats().await.expect("stats read");
        if done(&stats) {
            return stats;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "queue {} did not settle: {stats:?}",
            queue.name()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Runs `queue`'s real worker pool until stopped.
pub fn run_pool(broker: &Broker, queue: &str) -> Running {
    let (stop_tx, stop_rx) = watch::channel(false);
    let pool = workers::spawn_pool(broker, queue, stop_rx).expect("the queue has a pool");
    Running {
        stop_tx,
        handle: tokio::spawn(pool),
    }
}

/// The API server on a free port, against the local Redis and PostgreSQL.
pub struct TestServer {
    pub address: String,
    pub client: reqwest::Client,
    pub settings: Settings,
    shutdown: watch::Sender<bool>,
    server: JoinHandle<anyhow::Result<()>>,
}

pub async fn spawn_server() -> TestServer {
    spawn_server_with(settings()).await
}

/// [`spawn_server`] with `settings` (from [`settings`], changed by the test).
pub async fn spawn_server_with(settings: Settings) -> TestServer {
    telemetry::init(&settings.log);
    let app = Application::build(settings.clone())
        .await
        .expect("the application builds against local Redis and PostgreSQL");
    let address = format!("http://127.0.0.1:{}", app.port());
    let (shutdown, rx) = watch::channel(false);
    let server = tokio::spawn(app.run_until(rx));
    // Redirects are the API's answers, not to be followed: an authorization redirect points at
    // a platform's real host.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client");
    TestServer {
        address,
        client,
        settings,
        shutdown,
        server,
    }
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A request carrying `token`.
    pub fn request(&self, method: Method, path: &str, token: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(token)
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        send(self, Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Response {
        send(self, Method::POST, path, token, Some(body)).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Response {
        send(self, Method::PUT, path, token, Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Response {
        send(self, Method::PATCH, path, token, Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Response {
        send(self, Method::DELETE, path, token, None).await
    }

    /// Creates a store with a fresh name as the holder of `token`, and returns its id.
    pub async fn create_store(&self, token: &str) -> i64 {
        let name = format!("store-{}", Ulid::new());
        let res = self
            .post("/v1/stores", token, json!({ "name": name }))
            .await;
        assert_eq!(res.status(), StatusCode::CREATED, "a store is created");
        let store: Value = res.json().await.expect("a store is JSON");
        store["id"].as_i64().expect("a store id")
    }

    /// Stops the server, waiting up to 10 s.
    pub async fn stop(self) {
        let _ = self.shut_down().await;
    }

    /// Stops the server and asserts it stopped cleanly within 10 s.
    pub async fn stop_cleanly(self) {
        let stopped = self.shut_down().await;
        assert!(
            matches!(stopped, Ok(Ok(Ok(())))),
            "server stops cleanly: {stopped:?}"
        );
    }

    async fn shut_down(
        self,
    ) -> Result<Result<anyhow::Result<()>, tokio::task::JoinError>, tokio::time::error::Elapsed>
    {
        let _ = self.shutdown.send(true);
        tokio::time::timeout(Duration::from_secs(10), self.server).await
    }
}

/// Sends `method path` on `app` with `token`, and `body` as JSON when given.
pub async fn send(
    app: &TestServer,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Response {
    let req = app.request(method, path, token);
    let req = match body {
        Some(b) => req.json(&b),
        None => req,
    };
    req.send().await.expect("request sent")
}
