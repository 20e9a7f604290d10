//! The Shopify simulator over real HTTP: paging, auth, rate limit, fulfilment, inventory, webhooks.

mod common;

use std::collections::HashSet;

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use switchyard_sandbox::{SandboxConfig, ShopifyStoreConfig, SimStore};

use common::{client, get_json, next_webhook, start, start_with, webhook_receiver, StoreApi};

/// Extracts the URL with the given rel from a Link header.
fn link(headers: &reqwest::header::HeaderMap, rel: &str) -> Option<String> {
    let value = headers.get("link")?.to_str().ok()?;
    value.split(", ").find_map(|part| {
        let (url, r) = part.split_once("; ")?;
        (r == format!("rel=\"{rel}\""))
            .then(|| url.trim_matches(|c| c == '<' || c == '>').to_string())
    })
}

#[tokio::test]
async fn pages_through_all_orders_with_link_headers_and_back() {
    let sandbox = start().await;
    let shop = sandbox.shopify("demo-shop").expect("shop");
    shop.set_generator_config(switchyard_sandbox::GeneratorConfig {
        update_ratio: 0.0,
        cancel_ratio: 0.0,
        ..Default::default()
    });
    let created: HashSet<u64> = shop.create_orders(120).into_iter().collect();
    let admin = StoreApi::shopify(&shop);

    let mut url = admin.url("orders.json?status=any&limit=50&order=updated_at%20asc");
    let mut seen = Vec::new();
    let mut pages = 0;
    let mut previous_of_last: Option<String>;
    loop {
        let resp = admin.get_url(&url).await;
        assert_eq!(resp.status(), 200);
        let next = link(resp.headers(), "next");
        let previous = link(resp.headers(), "previous");
        if pages == 0 {
            assert!(previous.is_none(), "first page has no previous link");
        } else {
            assert!(previous.is_some(), "later pages link back");
        }
        let body: Value = resp.json().await.expect("json");
        let orders = body["orders"].as_array().expect("orders array");
        seen.extend(orders.iter().map(|o| o["id"].as_u64().expect("numeric id")));
        pages += 1;
        previous_of_last = previous;
        match next {
            Some(next) => {
                assert!(
                    next.starts_with("http://")
                        && next.contains("page_info=")
                        && next.contains("limit=50")
                );
                url = next;
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 120);
    assert_eq!(seen.iter().copied().collect::<HashSet<_>>(), created);

    // The previous link of the last page leads back to the middle page: 50 orders just before it.
    let back = previous_of_last.expect("last page links back");
    let resp = admin.get_url(&back).await;
    let body: Value = resp.json().await.expect("json");
    let ids: Vec<u64> = body["orders"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|o| o["id"].as_u64())
        .collect();
    assert_eq!(ids, seen[50..100].to_vec());
    sandbox.shutdown().await;
}

#[tokio::test]
async fn rejects_filters_with_page_info_and_limits_over_250() {
    let sandbox = start().await;
    let shop = sandbox.shopify("demo-shop").expect("shop");
    shop.create_orders(5);
    let admin = StoreApi::shopify(&shop);
    let resp = admin.get("orders.json?limit=2").await;
    let next = link(resp.headers(), "next").expect("next link");
    let resp = admin.get_url(format!("{next}&status=any")).await;
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.expect("json");
    assert!(body["errors"]["status"]
        .as_str()
        .unwrap_or("")
        .contains("cannot be passed when page_info is present"));

    let resp = admin.get("orders.json?limit=251").await;
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.expect("json");
    assert!(body["errors"]["limit"].is_string());
    sandbox.shutdown().await;
}

#[tokio::test]
async fn filters_by_updated_at_min_status_and_financial_status() {
    let sandbox = start().await;
    let shop = sandbox.shopify("demo-shop").expect("shop");
    let ids = shop.create_orders(30);
    assert!(shop.cancel_order(ids[0]));
    let admin = StoreApi::shopify(&shop);
    let get = |path: &str| {
        let (admin, path) = (&admin, path.to_owned());
        async move {
            let resp = admin.get(&path).await;
            assert_eq!(resp.status(), 200);
            resp.json::<Value>().await.expect("json")
        }
    };
    let open = get("orders.json?limit=250").await;
    assert!(open["orders"]
        .as_array()
        .expect("arr")
        .iter()
        .all(|o| o["cancelled_at"].is_null()));
    let cancelled = get("orders.json?status=cancelled").await;
    let cancelled_ids: Vec<u64> = cancelled["orders"]
        .as_array()
        .expect("arr")
        .iter()
        .filter_map(|o| o["id"].as_u64())
        .collect();
    assert!(cancelled_ids.contains(&ids[0]));
    let pending = get("orders.json?status=any&financial_status=pending&limit=250").await;
    assert!(pending["orders"]
        .as_array()
        .expect("arr")
        .iter()
        .all(|o| o["financial_status"] == "pending"));
    // A window starting an hour from now holds nothing; one from an hour ago holds everything.
    let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let earlier = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let enc = |s: &str| s.replace('+', "%2B");
    let none = get(&format!(
        "orders.json?status=any&updated_at_min={}",
        enc(&later)
    ))
    .await;
    assert_eq!(none["orders"].as_array().map(Vec::len), Some(0));
    let all = get(&format!(
        "orders.json?status=any&limit=250&updated_at_min={}",
        enc(&earlier)
    ))
    .await;
    assert_eq!(all["orders"].as_array().map(Vec::len), Some(30));
    // Order shape: money as strings, large integer ids, addresses, offsets on timestamps.
    let order = &all["orders"][0];
    assert!(
        order["total_price"].is_string()
            && order["total_shipping_price_set"]["shop_money"]["amount"].is_string()
    );
    assert!(order["name"].as_str().unwrap_or("").starts_with('#'));
    assert!(order["created_at"]
        .as_str()
        .unwrap_or("")
        .ends_with("-04:00"));
    assert!(order["shipping_address"]["country_code"].is_string());
    assert!(order["line_items"][0]["fulfillable_quantity"].is_u64());
    sandbox.shutdown().await;
}

#[tokio::test]
async fn refuses_missing_or_wrong_token() {
    let sandbox = start().await;
    let shop = sandbox.shopify("demo-shop").expect("shop");
    let http = client();
    let url = StoreApi::shopify(&shop).url("orders.json");
    for token in [None, Some("shpat_wrong")] {
        let mut req = http.get(&url);
        if let Some(token) = token {
            req = req.header("X-Shopify-Access-Token", token);
        }
        let resp = req.send().await.expect("send");
        assert_eq!(resp.status(), 401);
        let body: Value = resp.json().await.expect("json");
        assert_eq!(
            body["errors"],
            "[API] Invalid API key or access token (unrecognized login or wrong password)"
        );
    }
    sandbox.shutdown().await;
}

#[tokio::test]
async fn leaky_bucket_throttles_at_40_and_reports_usage() {
    let sandbox = start().await;
    let shop = sandbox.shopify("demo-shop").expect("shop");
    let http = client();
    let admin = StoreApi::shopify(&shop);
    let first = admin.get("locations.json").await;
    assert_eq!(first.headers()["x-shopify-shop-api-call-limit"], "1/40");
    let mut throttled = None;
    for _ in 0..45 {
        let resp = admin.get("locations.json").await;
        if resp.status() == 429 {
            throttled = Some(resp);
            break;
        }
    }
    let resp = throttled.expect("bucket overflowed within 46 calls");
    assert_eq!(resp.headers()["retry-after"], "2.0");
    assert_eq!(resp.headers()["x-shopify-shop-api-call-limit"], "40/40");
    let body: Value = resp.json().await.expect("json");
    assert!(body["errors"]
        .as_str()
        .unwrap_or("")
        .starts_with("Exceeded 2 calls per second"));
    let stats: Value = get_json(
        &http,
        format!("{}/stores/demo-shop/stats", sandbox.control_url()),
    )
    .await;
    assert_eq!(stats["responses_429"], 1);
    assert!(
        stats["by_route"]["GET /admin/api/{version}/locations.json"]
            .as_u64()
            .unwrap_or(0)
            >= 41
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn fulfils_through_fulfillment_orders_and_records_tracking() {
    let mut config = SandboxConfig::default();
    let mut shop_config = ShopifyStoreConfig::new("fulfil-shop");
    shop_config.generator.fulfilled_ratio = 0.0;
    shop_config.generator.unpaid_ratio = 0.0;
    shop_config.generator.cancel_ratio = 0.0;
    config.shopify.push(shop_config);
    let sandbox = start_with(config).await;
    let shop = sandbox.shopify("fulfil-shop").expect("shop");
    let id = shop.create_orders(1)[0];
    let http = client();
    let admin = StoreApi::shopify(&shop);
    let fos: Value = admin
        .get_json(&format!("orders/{id}/fulfillment_orders.json"))
        .await;
    let fo = &fos["fulfillment_orders"][0];
    assert_eq!(fo["status"], "open");
    let lines: Vec<Value> = fo["line_items"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| json!({"id": l["id"], "quantity": l["quantity"]}))
        .collect();
    let body = json!({"fulfillment": {
        "line_items_by_fulfillment_order": [{"fulfillment_order_id": fo["id"], "fulfillment_order_line_items": lines}],
        "tracking_info": {"number": "1Z999", "company": "UPS", "url": null},
        "notify_customer": false
    }});
    let resp = admin.post("fulfillments.json", &body).await;
    assert_eq!(resp.status(), 201);
    let created: Value = resp.json().await.expect("json");
    assert_eq!(created["fulfillment"]["tracking_number"], "1Z999");
    assert!(created["fulfillment"]["tracking_url"]
        .as_str()
        .unwrap_or("")
        .contains("1Z999"));

    let order: Value = admin.get_json(&format!("orders/{id}.json")).await;
    assert_eq!(order["order"]["fulfillment_status"], "fulfilled");

    // Posting the same fulfilment again is refused: nothing is left to ship.
    let again = admin.post("fulfillments.json", &body).await;
    assert_eq!(again.status(), 422);

    let control: Value = get_json(
        &http,
        format!("{}/stores/fulfil-shop/fulfilments", sandbox.control_url()),
    )
    .await;
    let fulfilments = control["fulfilments"].as_array().expect("array");
    assert_eq!(fulfilments.len(), 1);
    assert_eq!(fulfilments[0]["tracking_number"], "1Z999");
    assert_eq!(fulfilments[0]["carrier"], "UPS");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn sets_inventory_levels_and_reports_stock_by_sku() {
    let sandbox = start().await;
    let shop = sandbox.shopify("demo-shop").expect("shop");
    let admin = StoreApi::shopify(&shop);
    let products: Value = admin.get_json("products.json").await;
    let variant = products["products"]
        .as_array()
        .expect("products")
        .iter()
        .flat_map(|p| p["variants"].as_array().cloned().unwrap_or_default())
        .find(|v| v["sku"] == "WB-1")
        .expect("WB-1 variant");
    let locations: Value = admin.get_json("locations.json").await;
    let location = &locations["locations"][0]["id"];
    let resp = admin.post("inventory_levels/set.json", &json!({"location_id": location, "inventory_item_id": variant["inventory_item_id"], "available": 7})).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(shop.stock_by_sku().get("WB-1"), Some(&7));
    let levels: Value = admin
        .get_json(&format!(
            "inventory_levels.json?inventory_item_ids={}",
            variant["inventory_item_id"]
        ))
        .await;
    assert_eq!(levels["inventory_levels"][0]["available"], 7);
    let bad = admin
        .post(
            "inventory_levels/set.json",
            &json!({"location_id": location, "inventory_item_id": 1, "available": 7}),
        )
        .await;
    assert_eq!(bad.status(), 422);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn signs_order_webhooks_with_the_app_secret() {
    let sandbox = start().await;
    let shop = sandbox.shopify("demo-shop").expect("shop");
    let (url, mut rx) = webhook_receiver().await;
    let admin = StoreApi::shopify(&shop);
    let resp = admin
        .post(
            "webhooks.json",
            &json!({"webhook": {"topic": "orders/create", "address": url, "format": "json"}}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let id = shop.create_orders(1)[0];
    let hook = next_webhook(&mut rx).await;
    assert_eq!(hook.headers["x-shopify-topic"], "orders/create");
    assert_eq!(
        hook.headers["x-shopify-shop-domain"],
        "demo-shop.myshopify.com"
    );
    assert!(hook.headers.contains_key("x-shopify-webhook-id"));
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(shop.app_secret().as_bytes()).expect("key");
    mac.update(&hook.body);
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    assert_eq!(
        hook.headers["x-shopify-hmac-sha256"]
            .to_str()
            .expect("ascii"),
        expected
    );
    let body: Value = serde_json::from_slice(&hook.body).expect("json body");
    assert_eq!(body["id"].as_u64(), Some(id));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn ten_thousand_orders_page_quickly() {
    let sandbox = start().await;
    let shop = sandbox.shopify("demo-shop").expect("shop");
    let started = std::time::Instant::now();
    assert_eq!(shop.create_orders(10_000).len(), 10_000);
    let admin = StoreApi::shopify(&shop);
    let mut url = admin.url("orders.json?status=any&limit=250&fields=id");
    let mut count = 0;
    loop {
        let resp = admin.get_url(&url).await;
        assert_eq!(resp.status(), 200);
        let next = link(resp.headers(), "next");
        let body: Value = resp.json().await.expect("json");
        count += body["orders"].as_array().map_or(0, Vec::len);
        match next {
            Some(n) => url = n,
            None => break,
        }
    }
    assert_eq!(count, 10_000);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(40),
        "took {:?}",
        started.elapsed()
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn each_line_carries_its_share_of_the_orders_tax() {
    let sandbox = start().await;
    let shop = sandbox.shopify("demo-shop").expect("shop");
    shop.create_orders(60);
    let admin = StoreApi::shopify(&shop);
    let body: Value = admin
        .get_url(&admin.url("orders.json?status=any&limit=60"))
        .await
        .json()
        .await
        .expect("json");
    let cents = |v: &Value| -> i64 {
        let text = v.as_str().expect("a decimal string");
        (text.parse::<f64>().expect("a number") * 100.0).round() as i64
    };
    let orders = body["orders"].as_array().expect("orders");
    let mut taxed = 0;
    for order in orders {
        let lines: i64 = order["line_items"]
            .as_array()
            .expect("lines")
            .iter()
            .flat_map(|l| l["tax_lines"].as_array().cloned().unwrap_or_default())
            .map(|t| cents(&t["price"]))
            .sum();
        assert_eq!(lines, cents(&order["total_tax"]), "{}", order["name"]);
        taxed += usize::from(lines > 0);
    }
    assert!(taxed > 0, "some orders are taxed");
    sandbox.shutdown().await;
}

/// A client that shows redirects instead of following them, as a test of a consent step needs.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .expect("client builds")
}

/// Shopify's documented check of the parameters it sends an app, written out here rather than
/// taken from the sandbox: drop `hmac`, escape `%` and `&` (and `=` in keys), sort the `k=v`
/// pairs, join with `&`, hex HMAC-SHA256 with the client secret.
fn shopify_hmac(pairs: &[(String, String)], secret: &str) -> String {
    let mut message: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k != "hmac")
        .map(|(k, v)| {
            format!(
                "{}={}",
                k.replace('%', "%25").replace('=', "%3D"),
                v.replace('%', "%25")
            )
            .replace('&', "%26")
        })
        .collect();
    message.sort();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(message.join("&").as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The authorize URL an app sends a merchant to.
fn authorize_url(
    shop: &switchyard_sandbox::ShopifyStore,
    client_id: &str,
    redirect_uri: &str,
    state: &str,
) -> reqwest::Url {
    let mut url =
        reqwest::Url::parse(&format!("{}/admin/oauth/authorize", shop.base_url())).expect("url");
    url.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("scope", "read_orders,write_fulfillments")
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("state", state)
        .append_pair("grant_options[]", "");
    url
}

/// Follows the consent step by hand: the redirect's query parameters, in order.
async fn consent(
    http: &reqwest::Client,
    shop: &switchyard_sandbox::ShopifyStore,
    redirect_uri: &str,
    state: &str,
) -> Vec<(String, String)> {
    let resp = http
        .get(authorize_url(shop, shop.client_id(), redirect_uri, state))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 302);
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("a redirect")
        .to_owned();
    assert!(
        location.starts_with(&format!("{redirect_uri}?")),
        "{location}"
    );
    reqwest::Url::parse(&location)
        .expect("absolute")
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param<'a>(pairs: &'a [(String, String)], key: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("{key} in {pairs:?}"))
}

#[tokio::test]
async fn an_app_installs_through_the_authorization_code_grant() {
    let sandbox = start().await;
    let shop = sandbox.shopify("demo-shop").expect("shop");
    let http = no_redirects();
    // A state with the delimiters the signature rule escapes, so the escaping is exercised.
    let state = "n0nce&shop=evil%20=";
    let pairs = consent(&http, &shop, "https://hub.example/connect/shopify", state).await;

    let keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["code", "hmac", "host", "shop", "state", "timestamp"]);
    assert_eq!(param(&pairs, "shop"), "demo-shop.myshopify.com");
    assert_eq!(param(&pairs, "state"), state);
    let host = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(param(&pairs, "host"))
        .expect("base64 host");
    assert_eq!(host, b"demo-shop.myshopify.com/admin");
    let timestamp: i64 = param(&pairs, "timestamp").parse().expect("seconds");
    assert!((chrono::Utc::now().timestamp() - timestamp).abs() < 60);
    assert_eq!(
        param(&pairs, "hmac"),
        shopify_hmac(&pairs, shop.app_secret()),
        "the redirect is signed with the client secret"
    );
    let mut tampered = pairs.clone();
    tampered[4].1 = "n0nce".into();
    assert_ne!(
        param(&pairs, "hmac"),
        shopify_hmac(&tampered, shop.app_secret())
    );

    let token_url = format!("{}/admin/oauth/access_token", shop.base_url());
    let exchange = [
        ("client_id", shop.client_id()),
        ("client_secret", shop.app_secret()),
        ("code", param(&pairs, "code")),
    ];
    let resp = http
        .post(&token_url)
        .form(&exchange)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["scope"], "read_orders,write_fulfillments");
    let token = body["access_token"].as_str().expect("token").to_owned();
    assert!(token.starts_with("shpat_") && token != shop.access_token());
    assert_eq!(shop.issued_tokens().len(), 1);
    assert_eq!(shop.issued_tokens()[0].access_token, token);

    // The code is spent.
    let again = http
        .post(&token_url)
        .form(&exchange)
        .send()
        .await
        .expect("send");
    assert_eq!(again.status(), 400);
    let error: Value = again.json().await.expect("json");
    assert_eq!(
        error,
        json!({
            "error": "invalid_request",
            "error_description": "The authorization code was not found or was already used"
        })
    );
    assert_eq!(shop.issued_tokens().len(), 1);

    // The issued token opens the Admin API, and the configured one still does.
    for token in [token.as_str(), shop.access_token()] {
        let resp = http
            .get(format!(
                "{}/admin/api/{}/shop.json",
                shop.base_url(),
                common::VERSION
            ))
            .header("X-Shopify-Access-Token", token)
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), 200, "{token}");
        let body: Value = resp.json().await.expect("json");
        assert_eq!(body["shop"]["myshopify_domain"], "demo-shop.myshopify.com");
    }
}

#[tokio::test]
async fn the_code_exchange_refuses_a_wrong_secret_without_spending_the_code() {
    let sandbox = start().await;
    let shop = sandbox.shopify("demo-shop").expect("shop");
    let http = no_redirects();
    let pairs = consent(&http, &shop, "http://127.0.0.1:9/callback", "s1").await;
    let token_url = format!("{}/admin/oauth/access_token", shop.base_url());
    let code = param(&pairs, "code");

    let wrong = http
        .post(&token_url)
        .json(&json!({"client_id": shop.client_id(), "client_secret": "shpss_wrong", "code": code}))
        .send()
        .await
        .expect("send");
    assert_eq!(wrong.status(), 400);
    let error: Value = wrong.json().await.expect("json");
    assert_eq!(error["error"], "invalid_request");
    assert!(error["error_description"].is_string());
    assert!(shop.issued_tokens().is_empty());

    let right = http
        .post(&token_url)
        .json(&json!({"client_id": shop.client_id(), "client_secret": shop.app_secret(), "code": code}))
        .send()
        .await
        .expect("send");
    assert_eq!(right.status(), 200);
    let body: Value = right.json().await.expect("json");
    assert!(body["access_token"]
        .as_str()
        .is_some_and(|t| t.starts_with("shpat_")));
}

#[tokio::test]
async fn a_bad_authorization_request_gets_an_error_page_not_a_redirect() {
    let sandbox = start().await;
    let shop = sandbox.shopify("demo-shop").expect("shop");
    let http = no_redirects();
    let id = shop.client_id().to_owned();
    let callback = "https://hub.example/cb";
    let mut no_redirect_uri = authorize_url(&shop, &id, callback, "s");
    let kept: Vec<(String, String)> = no_redirect_uri
        .query_pairs()
        .filter(|(k, _)| k != "redirect_uri")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    no_redirect_uri.query_pairs_mut().clear().extend_pairs(kept);
    let cases = [
        (
            authorize_url(&shop, "0123456789abcdef0123456789abcdef", callback, "s"),
            "Could not find Shopify API application",
        ),
        (no_redirect_uri, "redirect_uri"),
        (
            authorize_url(&shop, &id, "/relative/cb", "s"),
            "redirect_uri",
        ),
        (authorize_url(&shop, &id, callback, ""), "state"),
    ];
    for (url, says) in cases {
        let resp = http.get(url.clone()).send().await.expect("send");
        assert_eq!(resp.status(), 400, "{url}");
        assert!(resp.headers().get("location").is_none());
        assert!(resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html")));
        let page = resp.text().await.expect("text");
        assert!(
            page.contains("Oauth error invalid_request") && page.contains(says),
            "{page}"
        );
    }

    // Once the app lists its redirect URIs, only those are accepted.
    shop.register_redirect_uri("https://hub.example/registered");
    let other = http
        .get(authorize_url(&shop, &id, callback, "s"))
        .send()
        .await
        .expect("send");
    assert_eq!(other.status(), 400);
    let listed = consent(&http, &shop, "https://hub.example/registered", "s").await;
    assert_eq!(param(&listed, "state"), "s");
}
