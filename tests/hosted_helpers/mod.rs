//! Hosted pages' shared steps: a server whose public URL is its own address, with the
//! simulators' Shopify app configured, a tenant and its store, a page made through the API, and
//! an import of the channel a page made.
#![allow(dead_code)]

use std::net::TcpListener;

use serde_json::{json, Value};
use switchyard_sandbox::{Sandbox, SandboxConfig, SandboxHandle};

use crate::app_helpers::{
    self, drop_database, settings_with_own_database, spawn_server_with, TestServer,
};
use crate::tenant_helpers::{tenant, Tenant};
use reqwest::StatusCode;

/// The server (its public URL is its own address), the simulators, a tenant and its store.
pub struct World {
    pub app: TestServer,
    pub sandbox: SandboxHandle,
    pub db: sqlx::PgPool,
    pub t: Tenant,
    pub store_id: i64,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub async fn world() -> World {
    world_with(|_| {}).await
}

/// [`world`] with settings changed by `tweak`.
pub async fn world_with(tweak: impl FnOnce(&mut switchyard::config::Settings)) -> World {
    let sandbox = Sandbox::start(SandboxConfig::demo())
        .await
        .expect("the sandbox starts");
    let shop = sandbox.shopify("demo-shop").expect("the shop");
    let mut settings = settings_with_own_database();
    let port = free_port();
    settings.server.listen = format!("127.0.0.1:{port}").parse().expect("an address");
    settings.server.public_url = format!("http://127.0.0.1:{port}");
    settings.hosted.shopify_client_id = shop.client_id().to_owned();
    settings.hosted.shopify_client_secret = shop.app_secret().to_owned();
    let org = sandbox.xero("demo-xero").expect("the organisation");
    settings.hosted.xero_client_id = org.client_id().to_owned();
    settings.hosted.xero_client_secret = org.client_secret().to_owned();
    settings.hosted.xero_base_url = Some(org.base_url().to_owned());
    let business = sandbox.sage("demo-sage").expect("the business");
    settings.hosted.sage_client_id = business.client_id().to_owned();
    settings.hosted.sage_client_secret = business.client_secret().to_owned();
    settings.hosted.sage_base_url = Some(business.base_url().to_owned());
    tweak(&mut settings);
    let app = spawn_server_with(settings.clone()).await;
    let db = switchyard::db::prepare(&settings.database)
        .await
        .expect("the database");
    let t = tenant(&db).await;
    let store: Value = app
        .post("/v1/stores", &t.token, json!({"name": "Customer shop"}))
        .await
        .json()
        .await
        .expect("a store");
    World {
        store_id: store["id"].as_i64().expect("an id"),
        app,
        sandbox,
        db,
        t,
    }
}

impl World {
    pub async fn stop(self) {
        let settings = self.app.settings.clone();
        self.app.stop().await;
        self.db.close().await;
        drop_database(&settings).await;
        self.sandbox.shutdown().await;
    }

    /// A page offering `channels` with `extra` fields; the API's answer.
    pub async fn hosted_page(&self, extra: Value) -> Value {
        let mut body = json!({"store_id": self.store_id, "channels": ["shopify", "woocommerce"],
            "branding": {"title": "Connect to Parcel Co", "primary_colour": "#0b5fff"},
            "inputs": {
                "stock_management": {"preset": true, "visible": true, "editable": true},
                "auto_sync_stock": {"preset": false, "visible": false},
                "poll_interval_secs": {"preset": 600, "visible": true}
            },
            "return_url": "https://parcel.example/onboarded"});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        let res = self.app.post("/v1/hosted-pages", &self.t.token, body).await;
        let status = res.status();
        let page: Value = res.json().await.expect("json");
        assert_eq!(status, StatusCode::CREATED, "{page}");
        page
    }

    pub fn path_of(page: &Value) -> String {
        let url = url::Url::parse(page["url"].as_str().expect("a url")).expect("a URL");
        url.path().to_owned()
    }

    pub async fn page_status(&self, id: i64) -> Value {
        self.app
            .get(&format!("/v1/hosted-pages/{id}"), &self.t.token)
            .await
            .json()
            .await
            .expect("json")
    }
}

/// Runs one import of channel `id` through the import-orders pool; its orders, as the API lists
/// them.
pub async fn import(w: &World, id: i64) -> Vec<Value> {
    use switchyard::jobs::{ImportOrders, ImportReason, JobKind};
    use switchyard::queue::{Broker, EnqueueOptions, JobStatus};
    use switchyard::workers::{self, Deps};

    let settings = &w.app.settings;
    let broker = Broker::connect(settings).await.expect("the broker");
    let deps = Deps::new(w.db.clone(), app_helpers::key(settings), broker.clone());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let pool = tokio::spawn(
        workers::spawn_pool_with(&broker, ImportOrders::QUEUE, Some(deps), stopped)
            .expect("the import pool"),
    );
    let queue = broker.queue(ImportOrders::QUEUE).expect("the queue");
    let job = ImportOrders {
        channel_id: id,
        reason: ImportReason::Manual,
    };
    let job = queue
        .enqueue(&job, &EnqueueOptions::default())
        .await
        .expect("enqueued");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let j = queue.job(&job.id).await.unwrap().expect("the job");
        if matches!(j.status, JobStatus::Done | JobStatus::Dead) {
            assert_eq!(j.status, JobStatus::Done, "{j:?}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{j:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let _ = stop.send(true);
    let _ = pool.await;
    let orders: Value = w
        .app
        .get(&format!("/v1/orders?channel_id={id}&limit=200"), &w.t.token)
        .await
        .json()
        .await
        .expect("json");
    orders["items"].as_array().cloned().unwrap_or_default()
}

pub async fn channel(w: &World, id: i64) -> Value {
    w.app
        .get(&format!("/v1/channels/{id}"), &w.t.token)
        .await
        .json()
        .await
        .expect("json")
}
