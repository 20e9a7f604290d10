//! Shared set-up for the tenancy and store tests: the test database (migrated once per process),
//! fresh accounts per test (so tests run in parallel against one database without seeing each
//! other's rows), and unified orders to import.

#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use switchyard::app::Application;
use switchyard::config::Settings;
use switchyard::crypto::CredentialsKey;
use switchyard::domain::{
    Address, ChannelKind, ChannelOrder, Customer, OrderLine, OrderStatus, Secret, Totals,
};
use switchyard::domain::{ChannelCredentials, ChannelSettings, ShopifyCredentials};
use switchyard::store::channels::{self, ChannelRow, NewChannel};
use switchyard::store::{accounts, stores, AccountId};
use switchyard::{db, telemetry};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use ulid::Ulid;

pub fn settings() -> Settings {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut settings = Settings::load_env(&dir, "test").expect("config/test.toml loads");
    settings.server.listen = "127.0.0.1:0".parse().expect("a socket address");
    settings.redis.key_prefix = format!("sytest-{}", Ulid::new());
    settings.shutdown.grace_secs = 5;
    settings
}

pub fn key(settings: &Settings) -> CredentialsKey {
    CredentialsKey::from_hex(&settings.crypto.credentials_key).expect("the test key is valid")
}

/// A pool on the migrated test database.
pub async fn pool() -> PgPool {
    db::prepare(&settings().database)
        .await
        .expect("the test database is reachable and migrates")
}

/// A unique name, so parallel tests never collide on unique columns.
pub fn unique(what: &str) -> String {
    format!("{what}-{}", Ulid::new())
}

pub struct Tenant {
    pub account: AccountId,
    pub token: String,
}

pub async fn tenant(pool: &PgPool) -> Tenant {
    let (account, token) = accounts::create_account(pool, &unique("acct"), "test")
        .await
        .expect("account created");
    Tenant {
        account,
        token: token.token,
    }
}

/// A store and a Shopify channel in it, written straight to the store layer (no platform check).
pub async fn channel(pool: &PgPool, key: &CredentialsKey, account: AccountId) -> ChannelRow {
    channel_with(pool, key, account, ChannelSettings::default()).await
}

pub async fn channel_with(
    pool: &PgPool,
    key: &CredentialsKey,
    account: AccountId,
    settings: ChannelSettings,
) -> ChannelRow {
    let store = stores::create(pool, account, &unique("store"))
        .await
        .expect("store created");
    let credentials = ChannelCredentials::Shopify(ShopifyCredentials {
        access_token: Secret::new("shpat_test"),
        app_secret: Secret::new("shpss_test"),
    });
    channels::create(
        pool,
        key,
        account,
        &NewChannel {
            store_id: store.id,
            name: "shop",
            base_url: "http://127.0.0.1:9/shopify/x",
            credentials: &credentials,
            settings: &settings,
        },
    )
    .await
    .expect("channel created")
}

pub fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_719_842_400 + secs, 0).expect("a valid time")
}

pub fn line(id: &str, sku: &str, quantity: u32) -> OrderLine {
    OrderLine {
        id: None,
        channel_line_id: id.into(),
        sku: Some(sku.into()),
        title: format!("Item {sku}"),
        quantity,
        unit_price: "12.50".into(),
        tax: "2.50".into(),
        product_id: None,
        kit_components: vec![],
    }
}

/// A paid, unshipped order of `channel_order_id` with two lines.
pub fn order(channel_order_id: &str) -> ChannelOrder {
    let address = Address {
        name: "Ada Lovelace".into(),
        company: None,
        line1: "1 Analytical Row".into(),
        line2: None,
        city: "London".into(),
        region: None,
        postcode: Some("N1 1AA".into()),
        country_code: "GB".into(),
    };
    ChannelOrder {
        channel_kind: ChannelKind::Shopify,
        channel_order_id: channel_order_id.into(),
        order_number: format!("#{channel_order_id}"),
        status: OrderStatus::Unshipped,
        currency: "GBP".into(),
        totals: Totals {
            subtotal: "37.50".into(),
            shipping: "4.00".into(),
            tax: "7.50".into(),
            discount: "0.00".into(),
            total: "49.00".into(),
        },
        customer: Customer {
            name: "Ada Lovelace".into(),
            email: Some("ada@example.com".into()),
            phone: None,
        },
        shipping_address: Some(address.clone()),
        billing_address: Some(address),
        lines: vec![line("L1", "SKU-A", 1), line("L2", "SKU-B", 2)],
        placed_at: at(0),
        paid_at: Some(at(10)),
        channel_updated_at: at(10),
        tags: vec!["vip".into()],
        notes: None,
    }
}

/// The API server on a free port, for HTTP tests.
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
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
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

    pub fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(token)
    }

    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(10), self.server).await;
    }
}

/// Sends `method path` with `token`, and `body` as JSON when given.
pub async fn send(
    app: &TestServer,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<serde_json::Value>,
) -> reqwest::Response {
    let req = app.request(method, path, token);
    let req = match body {
        Some(b) => req.json(&b),
        None => req,
    };
    req.send().await.expect("request sent")
}
