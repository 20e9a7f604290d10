//! Shared harness: a sandbox on 127.0.0.1:0 per test, an HTTP client, and a webhook receiver.
#![allow(dead_code)]

use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;
use serde_json::Value;
use switchyard_sandbox::{Sandbox, SandboxConfig, SandboxHandle, ShopifyStore, WooStore};
use tokio::sync::mpsc;

pub mod python;

pub const VERSION: &str = "2024-07";

pub async fn start() -> SandboxHandle {
    start_with(SandboxConfig::demo()).await
}

pub async fn start_with(config: SandboxConfig) -> SandboxHandle {
    match Sandbox::start(config).await {
        Ok(handle) => handle,
        Err(e) => panic!("sandbox failed to start: {e}"),
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client builds")
}

/// GETs `url` (the control API needs no credentials) and reads its JSON body.
pub async fn get_json(http: &reqwest::Client, url: impl reqwest::IntoUrl) -> Value {
    let resp = http.get(url).send().await.expect("send");
    resp.json().await.expect("json")
}

/// Calls to a simulated store's API with the credentials an app holds for it.
pub struct StoreApi {
    http: reqwest::Client,
    /// Where the API's paths start.
    base_url: String,
    auth: Auth,
}

enum Auth {
    /// Shopify's `X-Shopify-Access-Token`.
    ShopifyToken(String),
    /// WooCommerce's consumer key and secret as Basic auth (the OAuth 1.0a tests sign their
    /// requests themselves).
    Basic { key: String, secret: String },
}

impl StoreApi {
    /// A shop's Admin API; paths are like `orders.json?limit=2`.
    pub fn shopify(shop: &ShopifyStore) -> StoreApi {
        StoreApi {
            http: client(),
            base_url: format!("{}/admin/api/{VERSION}", shop.base_url()),
            auth: Auth::ShopifyToken(shop.access_token().to_owned()),
        }
    }

    /// A WooCommerce store's REST API; paths are like `wp-json/wc/v3/orders?per_page=5`.
    pub fn woocommerce(woo: &WooStore) -> StoreApi {
        StoreApi {
            http: client(),
            base_url: woo.base_url().to_owned(),
            auth: Auth::Basic {
                key: woo.consumer_key().to_owned(),
                secret: woo.consumer_secret().to_owned(),
            },
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base_url)
    }

    /// Sends `method url` with the store's credentials, and `body` as JSON when given.
    pub async fn send(
        &self,
        method: reqwest::Method,
        url: impl reqwest::IntoUrl,
        body: Option<&Value>,
    ) -> reqwest::Response {
        let req = self.http.request(method, url);
        let req = match &self.auth {
            Auth::ShopifyToken(token) => req.header("X-Shopify-Access-Token", token),
            Auth::Basic { key, secret } => req.basic_auth(key, Some(secret)),
        };
        let req = match body {
            Some(body) => req.json(body),
            None => req,
        };
        req.send().await.expect("send")
    }

    /// GETs a whole URL, such as one from a `Link` header.
    pub async fn get_url(&self, url: impl reqwest::IntoUrl) -> reqwest::Response {
        self.send(reqwest::Method::GET, url, None).await
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.get_url(self.url(path)).await
    }

    pub async fn get_json(&self, path: &str) -> Value {
        self.get(path).await.json().await.expect("json")
    }

    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.send(reqwest::Method::POST, self.url(path), Some(body))
            .await
    }

    pub async fn put(&self, path: &str, body: &Value) -> reqwest::Response {
        self.send(reqwest::Method::PUT, self.url(path), Some(body))
            .await
    }
}

/// A received webhook.
#[derive(Debug)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Starts a receiver; returns its URL and the channel of what it receives.
pub async fn webhook_receiver() -> (String, mpsc::UnboundedReceiver<Received>) {
    let (tx, rx) = mpsc::unbounded_channel();
    // `/hook`, and any path under it (a subscription per topic at `/hook/{topic}`).
    let receive = post(move |headers: HeaderMap, body: Bytes| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(Received { headers, body });
            "ok"
        }
    });
    let app = Router::new()
        .route("/hook", receive.clone())
        .route("/hook/{*topic}", receive);
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
        .expect("channel open")
}
