//! A tenant's rows, one of each resource, made through the API where a route makes them, and the
//! routes the API's routers declare, read from the source: what the tests that walk every route
//! (the fuzz run, the contract's schema-driven run, the tenant-isolation matrix) share.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::Path;

use reqwest::Method;
use serde_json::{json, Value};
use sqlx::PgPool;
use switchyard::domain::Decision;
use switchyard::domain::{ChannelOrder, OrderLine};
use switchyard::store::channels::ChannelRow;
use switchyard::store::orders;

use crate::app_helpers::{send, TestServer};
use crate::tenant_helpers::{line, order, unique, Tenant};

/// The rows the routes' paths and bodies point at.
pub struct Fixture {
    pub store: i64,
    pub channel: i64,
    pub product: i64,
    pub kit: i64,
    pub sku: String,
    pub order: i64,
    pub line: i64,
    pub fulfilment: i64,
    pub webhook: i64,
    pub delivery: i64,
    pub plugin: i64,
    pub rule: i64,
    pub accounting_connection: i64,
    pub invoice: i64,
    pub hosted_page: i64,
    pub job: String,
    pub tenant_token: String,
    pub plugin_token: String,
    pub ops_token: String,
}

/// Every `(method, path)` the API's routers declare, read from `src/api/*.rs`: `health.rs` and
/// `contract.rs` at the root, every other module under `/v1` (as `api::app` nests them).
pub fn declared_routes() -> BTreeSet<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api");
    let mut routes = BTreeSet::new();
    let files = std::fs::read_dir(&dir).expect("src/api is readable");
    for file in files {
        let path = file.expect("a directory entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("a source file");
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let prefix = if ["health", "contract"].contains(&stem) {
            ""
        } else {
            "/v1"
        };
        for (method, route) in routes_in(&text) {
            routes.insert((method, format!("{prefix}{route}")));
        }
    }
    routes
}

/// The `(method, path)` pairs of every `.route("path", get(a).post(b))` in `text`.
pub fn routes_in(text: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(".route(") {
        rest = &rest[at + ".route(".len()..];
        let Some(open) = rest.find('"') else { break };
        let Some(len) = rest[open + 1..].find('"') else {
            break;
        };
        let path = &rest[open + 1..open + 1 + len];
        // The call's own arguments: up to the parenthesis that closes `.route(`.
        let mut depth = 1;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                depth == 0
            })
            .map_or(rest.len(), |(i, _)| i);
        let args = &rest[..end];
        for method in ["get", "post", "put", "patch", "delete"] {
            let call = format!("{method}(");
            let called = args.match_indices(&call).any(|(i, _)| {
                i == 0 || !args[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_')
            });
            if called {
                found.push((method.to_uppercase(), path.to_owned()));
            }
        }
        rest = &rest[end..];
    }
    found
}

/// Sends a request the fixture needs, and returns its successful answer.
async fn made(app: &TestServer, method: Method, path: &str, token: &str, body: Value) -> Value {
    let body = (!body.is_null()).then_some(body);
    let res = send(app, method, path, token, body).await;
    let status = res.status();
    let answer: Value = res.json().await.expect("a JSON answer");
    assert!(status.is_success(), "fixture {path}: {status} {answer}");
    answer
}

fn id(answer: &Value, key: &str) -> i64 {
    answer[key]
        .as_i64()
        .unwrap_or_else(|| panic!("no `{key}` in {answer}"))
}

/// Builds the rows every route's path points at, through the API where a route makes them.
pub async fn fixture(app: &TestServer, pool: &PgPool, t: &Tenant, ch: &ChannelRow) -> Fixture {
    let token = t.token.as_str();
    let store = ch.store_id;
    let sku = unique("FUZZ");
    let product = |sku: &str| json!({ "store_id": store, "sku": sku, "title": "fuzz" });
    let post = Method::POST;
    let product_id = id(
        &made(app, post.clone(), "/v1/products", token, product(&sku)).await,
        "id",
    );
    let kit = made(
        app,
        post.clone(),
        "/v1/products",
        token,
        product(&unique("KIT")),
    )
    .await;

    // An order with a line large enough that many fuzzed fulfilments fit.
    let mut channel_order: ChannelOrder = order(&unique("fuzz-order"));
    channel_order.lines = vec![OrderLine {
        quantity: 1_000_000,
        ..line("L1", &sku, 1)
    }];
    let mut conn = pool.acquire().await.expect("a connection");
    // On hold, as the channel's `import_not_ready` would have it, so a run can release it.
    let held = Decision::Hold {
        reason: "not ready for despatch on the channel".into(),
    };
    let order_id = orders::upsert_order(&mut conn, ch, &channel_order, &held)
        .await
        .expect("order stored")
        .order_id;
    drop(conn);
    let read = made(
        app,
        Method::GET,
        &format!("/v1/orders/{order_id}"),
        token,
        Value::Null,
    )
    .await;
    let line_id = read["lines"][0]["id"].as_i64().expect("a line id");
    let ship = json!({ "lines": [{ "order_line_id": line_id, "quantity": 1 }],
                       "tracking_number": "F1" });
    let path = format!("/v1/orders/{order_id}/fulfilments");
    let fulfilment = made(app, post.clone(), &path, token, ship).await;

    let hook = json!({ "url": "http://127.0.0.1:9/hook", "triggers": ["order.created"] });
    let path = format!("/v1/stores/{store}/webhooks");
    let webhook = id(&made(app, post.clone(), &path, token, hook).await, "id");
    let path = format!("/v1/webhooks/{webhook}/test");
    let delivery = made(app, post.clone(), &path, token, Value::Null).await;
    // Failed, as its schedule leaves it against a closed port, so it can be replayed: no worker
    // tries it here.
    sqlx::query(
        "UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL WHERE id = $1",
    )
    .bind(id(&delivery, "delivery_id"))
    .execute(pool)
    .await
    .expect("delivery failed");

    let fc = json!({ "kind": "http", "name": "fc", "endpoint_url": "http://127.0.0.1:9/fc" });
    let path = format!("/v1/stores/{store}/plugins");
    let plugin = made(app, post.clone(), &path, token, fc).await;
    // The order is the plugin's to report on, as a routing rule would have made it at import.
    sqlx::query(
        "UPDATE orders SET plugin_id = $1, routed_at = now(), rules_applied_at = now() \
         WHERE id = $2",
    )
    .bind(id(&plugin, "id"))
    .bind(order_id)
    .execute(pool)
    .await
    .expect("order routed");
    let rule = json!({ "name": "r", "condition": { "type": "sku_exists" },
                       "action": { "type": "add_tag", "tag": "x" } });
    let path = format!("/v1/stores/{store}/plugin-rules");
    let rule = made(app, post.clone(), &path, token, rule).await;

    let connection = json!({
        "store_id": store, "kind": "xero", "name": "Fixture organisation",
        "client": {"client_id": "fixture-client", "client_secret": "fixture-secret"}
    });
    let connection = made(
        app,
        post.clone(),
        "/v1/accounting-connections",
        token,
        connection,
    )
    .await;
    let invoice = json!({
        "connection_id": id(&connection, "id"), "reference": "FIX-1", "currency": "GBP",
        "contact": {"name": "Fixture customer"},
        "lines": [{"description": "Thing", "quantity": "1", "unit_amount": "10.00", "tax_amount": "2.00"}]
    });
    let invoice = made(app, post.clone(), "/v1/invoices", token, invoice).await;
    let page = json!({ "store_id": store, "channels": ["woocommerce"] });
    let hosted_page = made(app, post.clone(), "/v1/hosted-pages", token, page).await;
    let ops_token = app.settings.server.ops_token.clone();
    let job = json!({ "payload": { "channel_id": ch.id, "reason": "manual" } });
    let job = made(app, post, "/v1/queues/import-orders/jobs", &ops_token, job).await;
    Fixture {
        store,
        channel: ch.id,
        product: product_id,
        kit: id(&kit, "id"),
        sku,
        order: order_id,
        line: line_id,
        fulfilment: id(&fulfilment, "id"),
        webhook,
        delivery: id(&delivery, "delivery_id"),
        plugin: id(&plugin, "id"),
        rule: id(&rule, "id"),
        accounting_connection: id(&connection, "id"),
        invoice: id(&invoice, "id"),
        hosted_page: id(&hosted_page, "id"),
        job: job["id"].as_str().expect("a job id").to_owned(),
        tenant_token: t.token.clone(),
        plugin_token: plugin["callback_token"]
            .as_str()
            .expect("a callback token")
            .to_owned(),
        ops_token,
    }
}

impl Fixture {
    /// The value of a path parameter of `path`: the fixture row of the resource the path is
    /// about (its first segment after `/v1`).
    pub fn param(&self, path: &str, name: &str) -> String {
        let resource = path
            .trim_start_matches("/v1/")
            .split('/')
            .next()
            .unwrap_or("");
        match (name, resource) {
            ("store_id", _) => self.store.to_string(),
            ("delivery_id", _) => self.delivery.to_string(),
            ("queue", _) => "import-orders".to_owned(),
            ("*topic", _) => "orders/updated".to_owned(),
            ("id", "stores") => self.store.to_string(),
            ("id", "channels") => self.channel.to_string(),
            ("id", "orders") => self.order.to_string(),
            ("id", "fulfilments") => self.fulfilment.to_string(),
            // The kit, so component changes never touch the product the order and the plugin
            // report on.
            ("id", "products") if path.ends_with("/components") => self.kit.to_string(),
            ("id", "products") => self.product.to_string(),
            ("id", "webhooks") => self.webhook.to_string(),
            ("id", "plugins") => self.plugin.to_string(),
            ("id", "plugin-rules") => self.rule.to_string(),
            ("id", "accounting-connections") => self.accounting_connection.to_string(),
            ("id", "invoices") => self.invoice.to_string(),
            ("id", "hosted-pages") => self.hosted_page.to_string(),
            ("id", "jobs" | "queues") => self.job.clone(),
            _ => panic!("no fixture for `{{{name}}}` in {path}: add one to Fixture::param"),
        }
    }
}
