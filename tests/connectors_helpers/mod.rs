//! Harness for the connector contract tests: a sandbox on 127.0.0.1:0 per test, connectors built
//! from its store's credentials with short timeouts, fault knobs, and a webhook receiver.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;
use switchyard::connectors::{
    ShopifyConfig, ShopifyConnector, ThrottleSettings, WooConfig, WooConnector,
};
use switchyard::domain::Secret;
use switchyard::outbound::{ClientSettings, SsrfGuard};
use switchyard_sandbox::{
    Credentials, FaultKnobs, GeneratorConfig, Sandbox, SandboxConfig, SandboxHandle,
    ShopifyStoreConfig, SimStore, WooStoreConfig,
};
use tokio::sync::mpsc;

pub const SHOP: &str = "contract-shop";
pub const WOO: &str = "contract-woo";

/// Timeouts short enough that a hung request fails a test in about a second, and loopback (where
/// the sandbox listens) admitted by the SSRF guard.
pub fn fast_http() -> ClientSettings {
    ClientSettings {
        connect_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(1),
        guard: SsrfGuard::new(&["127.0.0.0/8".into()]).expect("a CIDR"),
        ..ClientSettings::default()
    }
}

pub fn throttle_settings() -> ThrottleSettings {
    ThrottleSettings {
        max_wait: Duration::from_secs(5),
        ..ThrottleSettings::default()
    }
}

/// A generator with no later events, so listings hold exactly the orders a test created.
pub fn quiet_generator() -> GeneratorConfig {
    GeneratorConfig {
        update_ratio: 0.0,
        cancel_ratio: 0.0,
        ..GeneratorConfig::default()
    }
}

pub async fn start(config: SandboxConfig) -> SandboxHandle {
    match Sandbox::start(config).await {
        Ok(handle) => handle,
        Err(e) => panic!("sandbox failed to start: {e}"),
    }
}

pub struct ShopifyRig {
    pub sandbox: SandboxHandle,
    pub store: Arc<dyn SimStore>,
    pub config: ShopifyConfig,
}

impl ShopifyRig {
    pub fn connector(&self) -> ShopifyConnector {
        ShopifyConnector::new(self.config.clone()).expect("connector builds")
    }

    pub fn faults(&self, knobs: FaultKnobs) {
        self.store.faults().set(knobs);
    }
}

/// A sandbox with one Shopify shop, shaped by `tweak`, and a matching connector config.
pub async fn shopify(tweak: impl FnOnce(&mut ShopifyStoreConfig)) -> ShopifyRig {
    let mut store_config = ShopifyStoreConfig::new(SHOP);
    store_config.generator = quiet_generator();
    tweak(&mut store_config);
    let sandbox = start(SandboxConfig {
        shopify: vec![store_config],
        ..SandboxConfig::default()
    })
    .await;
    let info = sandbox.store_info(SHOP).expect("shop configured").clone();
    let Credentials::Shopify {
        access_token,
        app_secret,
        ..
    } = info.credentials
    else {
        panic!("a Shopify store has Shopify credentials");
    };
    let mut config = ShopifyConfig::new(
        info.base_url,
        Secret::new(access_token),
        Secret::new(app_secret),
    );
    config.http = fast_http();
    config.throttle = throttle_settings();
    let store = sandbox.store(SHOP).expect("shop configured");
    ShopifyRig {
        sandbox,
        store,
        config,
    }
}

pub struct WooRig {
    pub sandbox: SandboxHandle,
    pub store: Arc<dyn SimStore>,
    pub config: WooConfig,
}

impl WooRig {
    pub fn connector(&self) -> WooConnector {
        WooConnector::new(self.config.clone()).expect("connector builds")
    }

    pub fn faults(&self, knobs: FaultKnobs) {
        self.store.faults().set(knobs);
    }
}

/// A sandbox with one WooCommerce store, shaped by `tweak`, and a matching connector config.
pub async fn woocommerce(tweak: impl FnOnce(&mut WooStoreConfig)) -> WooRig {
    let mut store_config = WooStoreConfig::new(WOO);
    store_config.generator = quiet_generator();
    tweak(&mut store_config);
    let sandbox = start(SandboxConfig {
        woocommerce: vec![store_config],
        ..SandboxConfig::default()
    })
    .await;
    let info = sandbox.store_info(WOO).expect("store configured").clone();
    let Credentials::WooCommerce {
        consumer_key,
        consumer_secret,
        webhook_secret,
    } = info.credentials
    else {
        panic!("a WooCommerce store has WooCommerce credentials");
    };
    let mut config = WooConfig::new(
        info.base_url,
        Secret::new(consumer_key),
        Secret::new(consumer_secret),
    );
    config.webhook_secret = Some(Secret::new(webhook_secret));
    config.http = fast_http();
    config.throttle = throttle_settings();
    let store = sandbox.store(WOO).expect("store configured");
    WooRig {
        sandbox,
        store,
        config,
    }
}

/// A received webhook.
#[derive(Debug)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Starts a receiver; returns its URL and what it receives.
pub async fn webhook_receiver() -> (String, mpsc::UnboundedReceiver<Received>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: Bytes| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(Received { headers, body });
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/hook"), rx)
}

pub async fn next_webhook(rx: &mut mpsc::UnboundedReceiver<Received>) -> Received {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("webhook within 5 s")
        .expect("receiver open")
}

/// How many requests the store saw on `route` (`"GET /admin/api/{version}/orders.json"`).
pub fn requests_on(store: &dyn SimStore, route: &str) -> u64 {
    store
        .traffic()
        .snapshot()
        .by_route
        .get(route)
        .copied()
        .unwrap_or(0)
}
