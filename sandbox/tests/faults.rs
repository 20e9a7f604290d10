//! Fault knobs set through the control API, observed over HTTP.

mod common;

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use common::{client, get_json, start, StoreApi};

async fn set_faults(control: &str, store: &str, knobs: Value) {
    let resp = client()
        .put(format!("{control}/stores/{store}/faults"))
        .json(&knobs)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn burst_of_429s_then_recovery_and_counted() {
    let sandbox = start().await;
    let woo = sandbox.woocommerce("demo-woo").expect("store");
    let http = client();
    let burst = http
        .post(format!(
            "{}/stores/demo-woo/faults/burst",
            sandbox.control_url()
        ))
        .json(&json!({"count": 3}))
        .send()
        .await
        .expect("send");
    assert_eq!(burst.status(), 200);
    let rest = StoreApi::woocommerce(&woo);
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let resp = rest.get("wp-json/wc/v3/products").await;
        if resp.status() == 429 {
            assert!(resp.headers().contains_key("retry-after"));
        }
        statuses.push(resp.status().as_u16());
    }
    assert_eq!(statuses, vec![429, 429, 429, 200]);
    let summary: Value =
        get_json(&http, format!("{}/stores/demo-woo", sandbox.control_url())).await;
    assert_eq!(summary["traffic"]["responses_429"], 3);
    assert_eq!(summary["traffic"]["requests_total"], 4);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn server_errors_malformed_bodies_and_latency() {
    let sandbox = start().await;
    let shop = sandbox.shopify("demo-shop").expect("shop");
    let control = sandbox.control_url();
    let admin = StoreApi::shopify(&shop);

    set_faults(&control, "demo-shop", json!({"error_5xx_ratio": 1.0})).await;
    let resp = admin.get("locations.json").await;
    assert!(resp.status().is_server_error());

    set_faults(&control, "demo-shop", json!({"malformed_ratio": 1.0})).await;
    let resp = admin.get("locations.json").await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.expect("body");
    assert!(
        serde_json::from_str::<Value>(&text).is_err(),
        "body should be cut: {text}"
    );

    set_faults(&control, "demo-shop", json!({"latency_ms": 300})).await;
    let started = Instant::now();
    let resp = admin.get("locations.json").await;
    assert_eq!(resp.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(resp.json::<Value>().await.is_ok());
    sandbox.shutdown().await;
}

#[tokio::test]
async fn hung_requests_time_out_and_shutdown_still_completes() {
    let sandbox = start().await;
    let shop = sandbox.shopify("demo-shop").expect("shop");
    set_faults(
        &sandbox.control_url(),
        "demo-shop",
        json!({"hang_ratio": 1.0}),
    )
    .await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .expect("client");
    let url = StoreApi::shopify(&shop).url("orders.json");
    let result = http
        .get(&url)
        .header("X-Shopify-Access-Token", shop.access_token())
        .send()
        .await;
    assert!(result.is_err_and(|e| e.is_timeout()));
    // A second hung request is still pending while we shut down.
    let pending = tokio::spawn({
        let token = shop.access_token().to_string();
        async move {
            client()
                .get(url)
                .header("X-Shopify-Access-Token", token)
                .send()
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    sandbox.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "shutdown took {:?}",
        started.elapsed()
    );
    let _ = pending.await;
}

#[tokio::test]
async fn generator_runs_at_its_rate_and_control_creates_orders() {
    let sandbox = start().await;
    let http = client();
    let control = sandbox.control_url();
    let resp = http
        .post(format!("{control}/stores/demo-shop/orders"))
        .json(&json!({"count": 25}))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["created"], 25);
    let resp = http
        .put(format!("{control}/stores/demo-woo/generator"))
        .json(&json!({"orders_per_second": 20.0, "seed": 7}))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 200);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let count = sandbox.store("demo-woo").expect("store").order_count();
    assert!(
        (10..=30).contains(&count),
        "{count} orders after 1 s at 20/s"
    );
    let stock: Value = get_json(&http, format!("{control}/stores/demo-woo/stock")).await;
    assert!(stock["WB-1"].is_i64());
    sandbox.shutdown().await;
}
