//! The WooCommerce simulator over real HTTP: OAuth 1.0a checked against an independently written
//! signer, Basic auth, paging headers, order completion, tracking, stock and webhooks.

mod common;

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use switchyard_sandbox::SimStore;

use common::{client, next_webhook, start, webhook_receiver, StoreApi};

use axum::http::StatusCode;
use tokio::sync::mpsc;

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

/// An app's callback for the key granting flow: records each JSON body it is sent and answers
/// `status`. Returns its URL and what it received.
async fn key_receiver(status: StatusCode) -> (String, mpsc::UnboundedReceiver<Value>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/keys",
        axum::routing::post(move |body: axum::Json<Value>| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(body.0);
                status
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
    (format!("http://{addr}/keys"), rx)
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .expect("client builds")
}

/// The URL an app sends a merchant to, to be granted keys.
fn wc_auth_url(
    woo: &switchyard_sandbox::WooStore,
    scope: &str,
    return_url: &str,
    callback_url: &str,
) -> String {
    let params = [
        ("app_name", "switchyard".to_string()),
        ("scope", scope.to_string()),
        ("user_id", "merchant 42".to_string()),
        ("return_url", return_url.to_string()),
        ("callback_url", callback_url.to_string()),
    ];
    format!("{}/wc-auth/v1/authorize?{}", woo.base_url(), query(&params))
}

fn is_key(text: &str, prefix: &str) -> bool {
    text.len() == 43 && text.starts_with(prefix) && text[3..].bytes().all(|b| b.is_ascii_hexdigit())
}

#[tokio::test]
async fn a_merchant_grants_an_app_keys_that_open_the_rest_api() {
    let sandbox = start().await;
    let woo = sandbox.woocommerce("demo-woo").expect("store");
    woo.create_orders(3);
    let (callback, mut received) = key_receiver(StatusCode::OK).await;
    let http = no_redirects();

    let resp = http
        .get(wc_auth_url(
            &woo,
            "read_write",
            "https://hub.example/woo/done?step=2",
            &callback,
        ))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 302);
    assert_eq!(
        resp.headers()["location"],
        "https://hub.example/woo/done?step=2&success=1&user_id=merchant%2042"
    );

    // The keys reached the app's server before the browser was sent back.
    let keys = received.try_recv().expect("the callback was called first");
    assert_eq!(keys["key_id"], 1);
    assert_eq!(keys["user_id"], "merchant 42");
    assert_eq!(keys["key_permissions"], "read_write");
    let key = keys["consumer_key"].as_str().expect("key").to_owned();
    let secret = keys["consumer_secret"].as_str().expect("secret").to_owned();
    assert!(is_key(&key, "ck_") && is_key(&secret, "cs_"), "{keys}");
    assert_ne!(key, woo.consumer_key());
    let issued = woo.issued_keys();
    assert_eq!(issued.len(), 1);
    assert_eq!(
        (
            issued[0].consumer_key.as_str(),
            issued[0].consumer_secret.as_str()
        ),
        (key.as_str(), secret.as_str())
    );

    // Basic auth with the new pair, and with the configured one still.
    let url = format!("{}/wp-json/wc/v3/orders", woo.base_url());
    for (k, s) in [
        (key.as_str(), secret.as_str()),
        (woo.consumer_key(), woo.consumer_secret()),
    ] {
        let resp = http
            .get(&url)
            .basic_auth(k, Some(s))
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), 200, "{k}");
        assert_eq!(resp.headers()["x-wp-total"], "3");
    }
    // OAuth 1.0a signed with the new secret.
    let mut params = oauth_params(&key, "granted-1", "HMAC-SHA256");
    let signature = sign("GET", &url, &params, &secret, true);
    params.push(("oauth_signature", signature));
    let resp = http
        .get(format!("{url}?{}", query(&params)))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 200);
    // ... and not with another secret.
    let mut params = oauth_params(&key, "granted-2", "HMAC-SHA256");
    let signature = sign("GET", &url, &params, woo.consumer_secret(), true);
    params.push(("oauth_signature", signature));
    let resp = http
        .get(format!("{url}?{}", query(&params)))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 401);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_failed_callback_shows_the_error_page_and_deletes_the_key() {
    let sandbox = start().await;
    let woo = sandbox.woocommerce("demo-woo").expect("store");
    let (callback, mut received) = key_receiver(StatusCode::INTERNAL_SERVER_ERROR).await;
    let http = no_redirects();

    let resp = http
        .get(wc_auth_url(
            &woo,
            "read",
            "https://hub.example/done",
            &callback,
        ))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().get("location").is_none());
    let page = resp.text().await.expect("text");
    assert!(
        page.contains("unable to send the consumer data") && page.contains("Access denied"),
        "{page}"
    );
    let sent = received.try_recv().expect("the callback was tried");
    assert!(woo.issued_keys().is_empty());
    let resp = http
        .get(format!("{}/wp-json/wc/v3/orders", woo.base_url()))
        .basic_auth(
            sent["consumer_key"].as_str().unwrap_or_default(),
            sent["consumer_secret"].as_str(),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 401, "a deleted key opens nothing");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_read_key_cannot_write_and_bad_requests_get_woocommerces_errors() {
    let sandbox = start().await;
    let woo = sandbox.woocommerce("demo-woo").expect("store");
    let order = woo.create_orders(1)[0];
    let (callback, mut received) = key_receiver(StatusCode::OK).await;
    let http = no_redirects();

    let resp = http
        .get(wc_auth_url(
            &woo,
            "read",
            "https://hub.example/done",
            &callback,
        ))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 302);
    let keys = received.try_recv().expect("keys");
    assert_eq!(keys["key_permissions"], "read");
    let (key, secret) = (
        keys["consumer_key"].as_str().unwrap_or_default(),
        keys["consumer_secret"].as_str(),
    );
    let url = format!("{}/wp-json/wc/v3/orders/{order}", woo.base_url());
    let read = http
        .get(&url)
        .basic_auth(key, secret)
        .send()
        .await
        .expect("send");
    assert_eq!(read.status(), 200);
    let write = http
        .put(&url)
        .basic_auth(key, secret)
        .json(&json!({"status": "completed"}))
        .send()
        .await
        .expect("send");
    assert_eq!(write.status(), 401);
    let error: Value = write.json().await.expect("json");
    assert_eq!(
        error,
        json!({
            "code": "woocommerce_rest_authentication_error",
            "message": "The API key provided does not have write permissions.",
            "data": {"status": 401}
        })
    );

    let cases = [
        (
            wc_auth_url(&woo, "admin", "https://hub.example/done", &callback),
            "Error: Invalid scope admin.",
        ),
        (
            wc_auth_url(
                &woo,
                "read",
                "https://hub.example/done",
                "http://hub.example/keys",
            ),
            "Error: The callback_url needs to be over SSL.",
        ),
        (
            wc_auth_url(&woo, "read", "https://hub.example/done", &callback)
                .replace("user_id=merchant%2042&", ""),
            "Error: Missing parameter user_id.",
        ),
    ];
    for (url, says) in cases {
        let resp = http.get(&url).send().await.expect("send");
        assert_eq!(resp.status(), 401, "{url}");
        let page = resp.text().await.expect("text");
        assert!(page.contains(says), "{says} in {page}");
    }
    assert_eq!(woo.issued_keys().len(), 1, "refused requests issue no keys");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_batch_updates_stock_item_by_item_and_refuses_more_than_100_items() {
    let sandbox = start().await;
    let woo = sandbox.woocommerce("demo-woo").expect("store");
    let api = StoreApi::woocommerce(&woo);
    let products: Value = api
        .get_url(api.url("wp-json/wc/v3/products?per_page=100"))
        .await
        .json()
        .await
        .expect("json");
    let simple = products
        .as_array()
        .expect("products")
        .iter()
        .find(|p| p["type"] == "simple")
        .expect("a simple product")
        .clone();
    let id = simple["id"].as_u64().expect("an id");
    let res = api
        .post(
            "wp-json/wc/v3/products/batch",
            &json!({"update": [
                {"id": id, "manage_stock": true, "stock_quantity": 42},
                {"id": 987654, "stock_quantity": 1}
            ]}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let answer: Value = res.json().await.expect("json");
    assert_eq!(answer["update"][0]["id"], id);
    assert_eq!(answer["update"][0]["stock_quantity"], 42);
    assert_eq!(answer["update"][1]["id"], 987654);
    assert_eq!(
        answer["update"][1]["error"]["code"],
        "woocommerce_rest_product_invalid_id"
    );
    let sku = simple["sku"].as_str().expect("a sku");
    assert_eq!(woo.stock_by_sku().get(sku), Some(&42));

    let too_many: Vec<Value> = (0..101)
        .map(|_| json!({"id": id, "stock_quantity": 1}))
        .collect();
    let res = api
        .post(
            "wp-json/wc/v3/products/batch",
            &json!({ "update": too_many }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let refusal: Value = res.json().await.expect("json");
    assert_eq!(refusal["code"], "woocommerce_rest_request_entity_too_large");
    assert_eq!(woo.stock_by_sku().get(sku), Some(&42), "nothing applied");
    sandbox.shutdown().await;
}
