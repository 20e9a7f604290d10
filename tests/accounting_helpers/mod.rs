//! Accounting tests' shared steps: a sandbox with a Xero organisation, and a connection to it
//! authorized the way a merchant's browser does it.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::LOCATION;
use reqwest::{redirect, StatusCode};
use serde_json::{json, Value};
use switchyard_sandbox::{Sandbox, SandboxConfig, SandboxHandle, XeroOrg, XeroOrgConfig};

use crate::app_helpers::TestServer;

/// A sandbox with one Xero organisation configured by `f`.
pub async fn xero(f: impl FnOnce(&mut XeroOrgConfig)) -> (SandboxHandle, Arc<XeroOrg>) {
    let mut cfg = XeroOrgConfig::new("books");
    f(&mut cfg);
    let sandbox = Sandbox::start(SandboxConfig {
        xero: vec![cfg],
        ..SandboxConfig::default()
    })
    .await
    .expect("the sandbox starts");
    let org = sandbox.xero("books").expect("configured");
    (sandbox, org)
}

pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

pub fn location(res: &reqwest::Response) -> url::Url {
    url::Url::parse(res.headers()[LOCATION].to_str().unwrap()).expect("a Location URL")
}

/// A connection of `store` to `org`, authorized the way a merchant's browser does it; its id.
pub async fn connect(app: &TestServer, token: &str, org: &XeroOrg, store: i64) -> i64 {
    connect_with(app, token, org, store, json!({})).await
}

/// [`connect`] with the connection's `settings`.
pub async fn connect_with(
    app: &TestServer,
    token: &str,
    org: &XeroOrg,
    store: i64,
    settings: Value,
) -> i64 {
    let platform = Platform {
        kind: "xero",
        base_url: org.base_url(),
        client_id: org.client_id(),
        client_secret: org.client_secret(),
    };
    connect_to(app, token, &platform, store, settings).await
}

/// Where and as which app a connection reaches its platform.
pub struct Platform<'a> {
    pub kind: &'a str,
    pub base_url: &'a str,
    pub client_id: &'a str,
    pub client_secret: &'a str,
}

/// A connection of `store` to a platform's simulator, authorized as a merchant's browser does it.
pub async fn connect_to(
    app: &TestServer,
    token: &str,
    platform: &Platform<'_>,
    store: i64,
    settings: Value,
) -> i64 {
    let body = json!({
        "store_id": store, "kind": platform.kind, "name": "Books",
        "base_url": platform.base_url,
        "client": {"client_id": platform.client_id, "client_secret": platform.client_secret},
        "settings": settings
    });
    let created: Value = app
        .post("/v1/accounting-connections", token, body)
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_i64().unwrap();
    let browser = no_redirects();
    let res = browser
        .get(app.url(&format!("/v1/accounting-connections/{id}/authorize")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    // The platform's page consents at once and sends the browser back to the public URL,
    // which here is this server.
    let res = browser.get(location(&res)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND, "the simulator's consent");
    let back = location(&res);
    assert_eq!(back.path(), "/v1/accounting-connections/callback");
    let res = browser
        .get(app.url(&format!("{}?{}", back.path(), back.query().unwrap())))
        .send()
        .await
        .unwrap();
    let status = res.status();
    let page = res.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("is connected to"), "{page}");
    id
}

/// Asks for the invoice of order `order_id` on connection `conn`; the new invoice.
pub async fn invoice_order(app: &TestServer, token: &str, conn: i64, order_id: i64) -> Value {
    let res = app
        .post(
            "/v1/invoices",
            token,
            json!({"connection_id": conn, "order_id": order_id}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json().await.expect("an invoice")
}
