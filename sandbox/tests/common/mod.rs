//! Shared harness: a sandbox on 127.0.0.1:0 per test, an HTTP client, and a webhook receiver.
#![allow(dead_code)]

use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;
use switchyard_sandbox::{Sandbox, SandboxConfig, SandboxHandle};
use tokio::sync::mpsc;

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

/// A received webhook.
#[derive(Debug)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Starts a receiver; returns its URL and the channel of what it receives.
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
        .expect("channel open")
}
