//! The WooCommerce simulator over real HTTP: OAuth 1.0a checked against an independently written
//! signer, Basic auth, paging headers, order completion, tracking, stock and webhooks.

mod common;

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use switchyard_sandbox::SimStore;

use common::{client, next_webhook, start, webhook_receiver, StoreApi};

/// RFC 3986 encoding written out by hand (not the sandbox's), as a client library would.
fn pct(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Signs as WooCommerce's documentation describes: sort parameters, encode, join, sign
/// `METHOD&url&params` with `secret&`. `params` must not repeat keys.
fn sign(method: &str, url: &str, params: &[(&str, String)], secret: &str, sha256: bool) -> String {
    let mut sorted: Vec<(String, String)> = params.iter().map(|(k, v)| (pct(k), pct(v))).collect();
    sorted.sort();
    let joined: Vec<String> = sorted.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let base = format!("{method}&{}&{}", pct(url), pct(&joined.join("&")));
    let key = format!("{secret}&");
    let raw = if sha256 {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).expect("key");
        mac.update(base.as_bytes());
        mac.finalize().into_bytes().to_vec()
    } else {
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(key.as_bytes()).expect("key");
        mac.update(base.as_bytes());
        mac.finalize().into_bytes().to_vec()
    };
    base64::engine::general_purpose::STANDARD.encode(raw)
}

fn oauth_params(key: &str, nonce: &str, method: &str) -> Vec<(&'static str, String)> {
    vec![
        ("oauth_consumer_key", key.to_string()),
        ("oauth_nonce", nonce.to_string()),
        ("oauth_signature_method", method.to_string()),
        (
            "oauth_timestamp",
            chrono::Utc::now().timestamp().to_string(),
        ),
    ]
}

fn query(params: &[(&str, String)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", pct(k), pct(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[tokio::test]
async fn accepts_oauth_signatures_computed_independently() {
    let sandbox = start().await;
    let woo = sandbox.woocommerce("demo-woo").expect("store");
    woo.create_orders(12);
    let http = client();
    let url = format!("{}/wp-json/wc/v3/orders", woo.base_url());
    for (i, method) in ["HMAC-SHA1", "HMAC-SHA256"].iter().enumerate() {
        let mut params = oauth_params(woo.consumer_key(), &format!("nonce{i}"), method);
        params.push(("per_page", "5".into()));
        params.push(("modified_after", "2000-01-01T00:00:00".into()));
        let signature = sign(
            "GET",
            &url,
            &params,
            woo.consumer_secret(),
            *method == "HMAC-SHA256",
        );
        params.push(("oauth_signature", signature));
        let resp = http
            .get(format!("{url}?{}", query(&params)))
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), 200, "{method}");
        assert_eq!(resp.headers()["x-wp-total"], "12");
        assert_eq!(resp.headers()["x-wp-totalpages"], "3");
        let body: Value = resp.json().await.expect("json");
        assert_eq!(body.as_array().map(Vec::len), Some(5));
    }
    sandbox.shutdown().await;
}

#[tokio::test]
async fn repeated_query_keys_sign_with_the_last_value_as_php_reads_them() {
    let sandbox = start().await;
    let woo = sandbox.woocommerce("demo-woo").expect("store");
    let http = client();
    let url = format!("{}/wp-json/wc/v3/orders", woo.base_url());
    let mut params = oauth_params(woo.consumer_key(), "repeat-1", "HMAC-SHA1");
    params.push(("status", "processing".into()));
    let signature = sign("GET", &url, &params, woo.consumer_secret(), false);
    // The wire carries status twice; PHP keeps the last, which is the one that was signed.
    let wire = format!(
        "{url}?status=pending&{}&oauth_signature={}",
        query(&params),
        pct(&signature)
    );
    let resp = http.get(&wire).send().await.expect("send");
    assert_eq!(resp.status(), 200);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn refuses_bad_signatures_reused_nonces_and_anonymous_calls() {
    let sandbox = start().await;
    let woo = sandbox.woocommerce("demo-woo").expect("store");
    let http = client();
    let url = format!("{}/wp-json/wc/v3/orders", woo.base_url());

    let mut params = oauth_params(woo.consumer_key(), "n-1", "HMAC-SHA1");
    let good = sign("GET", &url, &params, woo.consumer_secret(), false);
    let bad = sign("GET", &url, &params, "cs_wrong", false);
    params.push(("oauth_signature", bad));
    let resp = http
        .get(format!("{url}?{}", query(&params)))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["code"], "woocommerce_rest_authentication_error");
    assert_eq!(
        body["message"],
        "Invalid signature - provided signature does not match."
    );
    assert_eq!(body["data"]["status"], 401);

    params.pop();
    params.push(("oauth_signature", good));
    let first = http
        .get(format!("{url}?{}", query(&params)))
        .send()
        .await
        .expect("send");
    assert_eq!(first.status(), 200);
    let replay = http
        .get(format!("{url}?{}", query(&params)))
        .send()
        .await
        .expect("send");
    assert_eq!(replay.status(), 401);
    let body: Value = replay.json().await.expect("json");
    assert_eq!(
        body["message"],
        "Invalid nonce - nonce has already been used."
    );

    let anonymous = http.get(&url).send().await.expect("send");
    assert_eq!(anonymous.status(), 401);
    let body: Value = anonymous.json().await.expect("json");
    assert_eq!(body["code"], "woocommerce_rest_cannot_view");

    let wrong_secret = http
        .get(&url)
        .basic_auth(woo.consumer_key(), Some("cs_nope"))
        .send()
        .await
        .expect("send");
    assert_eq!(wrong_secret.status(), 401);
    let body: Value = wrong_secret.json().await.expect("json");
    assert_eq!(body["message"], "Consumer secret is invalid.");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn basic_auth_lists_with_status_filters_and_rejects_per_page_over_100() {
    let sandbox = start().await;
    let woo = sandbox.woocommerce("demo-woo").expect("store");
    woo.create_orders(40);
    let rest = StoreApi::woocommerce(&woo);
    let resp = rest.get("wp-json/wc/v3/orders?per_page=101").await;
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["code"], "rest_invalid_param");
    assert!(body["data"]["params"]["per_page"].is_string());

    let resp = rest
        .get("wp-json/wc/v3/orders?status=processing,completed&per_page=100")
        .await;
    assert_eq!(resp.status(), 200);
    let total: usize = resp.headers()["x-wp-total"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("number");
    let body: Value = resp.json().await.expect("json");
    let orders = body.as_array().expect("array");
    assert_eq!(orders.len(), total);
    assert!(orders
        .iter()
        .all(|o| o["status"] == "processing" || o["status"] == "completed"));
    let o = &orders[0];
    assert!(
        o["total"].is_string()
            && o["billing"]["email"].is_string()
            && o["line_items"][0]["sku"].is_string()
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn completes_orders_adds_tracking_and_pushes_stock() {
    let sandbox = start().await;
    let woo = sandbox.woocommerce("demo-woo").expect("store");
    let (hook_url, mut hooks) = webhook_receiver().await;
    woo.register_webhook("order.updated", &hook_url)
        .expect("registered");
    let id = woo.create_orders(1)[0];
    let rest = StoreApi::woocommerce(&woo);
    let track = rest
        .post(
            &format!("wp-json/wc-shipment-tracking/v3/orders/{id}/shipment-trackings"),
            &json!({"tracking_provider": "UPS", "tracking_number": "1ZTEST", "date_shipped": "2024-07-01"}),
        )
        .await;
    assert_eq!(track.status(), 201);
    let tracking: Value = track.json().await.expect("json");
    assert_eq!(tracking["tracking_number"], "1ZTEST");
    assert_eq!(tracking["date_shipped"], "2024-07-01");

    let done = rest
        .put(
            &format!("wp-json/wc/v3/orders/{id}"),
            &json!({"status": "completed"}),
        )
        .await;
    assert_eq!(done.status(), 200);
    let order: Value = done.json().await.expect("json");
    assert_eq!(order["status"], "completed");
    assert!(order["date_completed"].is_string());
    let hook = next_webhook(&mut hooks).await;
    assert_eq!(hook.headers["x-wc-webhook-topic"], "order.updated");
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(woo.default_webhook_secret().as_bytes()).expect("key");
    mac.update(&hook.body);
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    assert_eq!(
        hook.headers["x-wc-webhook-signature"]
            .to_str()
            .expect("ascii"),
        expected
    );

    let note = rest
        .post(
            &format!("wp-json/wc/v3/orders/{id}/notes"),
            &json!({"note": "Shipped by switchyard", "customer_note": false}),
        )
        .await;
    assert_eq!(note.status(), 201);

    let fulfilments = woo.fulfilments();
    assert!(fulfilments
        .iter()
        .any(|f| f.order_id == id && f.tracking_number.as_deref() == Some("1ZTEST")));

    // Stock: a simple product takes stock through PUT /products/{id}.
    let products: Value = rest
        .get("wp-json/wc/v3/products?sku=WB-1")
        .await
        .json()
        .await
        .expect("json");
    let pid = products[0]["id"].as_u64().expect("product id");
    let product = format!("wp-json/wc/v3/products/{pid}");
    let put = rest
        .put(
            &product,
            &json!({"manage_stock": true, "stock_quantity": 3}),
        )
        .await;
    assert_eq!(put.status(), 200);
    assert_eq!(woo.stock_by_sku().get("WB-1"), Some(&3));
    let bad = rest.put(&product, &json!({"stock_quantity": "lots"})).await;
    assert_eq!(bad.status(), 400);
    sandbox.shutdown().await;
}
