//! Tenant isolation and channel credentials, through the HTTP API against real PostgreSQL and
//! Redis (and the sandbox platforms for credential checks): another account's ids answer 404,
//! only live account tokens open tenant routes, and credentials are checked with the platform
//! and stored only as ciphertext.

mod app_helpers;
mod fixture_helpers;
mod http_helpers;
mod tenant_helpers;

use http_helpers::{challenge, json_body, problem};

use app_helpers::{key, spawn_server};
use fixture_helpers::fixture;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use switchyard::domain::Decision;
use switchyard::store::{accounts, orders};
use switchyard_sandbox::{Sandbox, SandboxConfig};
use tenant_helpers::{channel, order, pool, tenant, tenant_with_channel, unique};

#[tokio::test]
async fn tenant_routes_take_live_account_tokens_only() {
    let app = spawn_server().await;
    let pool = pool().await;
    let t = tenant(&pool).await;
    let ops = app.settings.server.ops_token.clone();

    let none = app.client.get(app.url("/v1/stores")).send().await.unwrap();
    assert_eq!(challenge(&none), Some("Bearer"));
    problem(none, StatusCode::UNAUTHORIZED).await;
    problem(app.get("/v1/stores", &ops).await, StatusCode::UNAUTHORIZED).await;
    problem(
        app.get("/v1/orders", "sy_not-a-real-token").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    problem(
        app.post("/v1/stores", "garbage", json!({"name": "x"}))
            .await,
        StatusCode::UNAUTHORIZED,
    )
    .await;

    assert_eq!(
        app.get("/v1/stores", &t.token).await.status(),
        StatusCode::OK
    );
    // The two audiences do not cross: an account token opens no ops route, the ops token still does.
    problem(
        app.get("/v1/queues", &t.token).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(app.get("/v1/queues", &ops).await.status(), StatusCode::OK);

    // A revoked token stops working at once.
    let tokens = accounts::list_tokens(&pool, t.account).await.unwrap();
    assert_eq!(tokens.len(), 1);
    assert!(t.token.starts_with(&tokens[0].prefix));
    assert!(tokens[0].last_used_at.is_some(), "use is recorded");
    assert!(accounts::revoke_token(&pool, t.account, tokens[0].id)
        .await
        .unwrap());
    problem(
        app.get("/v1/stores", &t.token).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;

    // Onboarding through the ops API answers a working token, once.
    let created = app
        .post("/v1/accounts", &ops, json!({"name": unique("acct")}))
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let body: Value = created.json().await.unwrap();
    let token = body["token"]["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("sy_"));
    assert_eq!(
        app.get("/v1/channels", &token).await.status(),
        StatusCode::OK
    );
    problem(
        app.post("/v1/accounts", &token, json!({"name": "x"})).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;

    app.stop().await;
}

/// The example body of `op`, as the document gives it.
fn example_body(doc: &Value, op: &Value) -> Option<Value> {
    let media = op["requestBody"]["content"].get("application/json")?;
    let schema = &media["schema"];
    let schema = match schema["$ref"].as_str() {
        Some(r) => doc
            .pointer(r.trim_start_matches('#'))
            .expect("a $ref into the document"),
        None => schema,
    };
    Some(
        media
            .get("example")
            .or_else(|| schema.get("example"))
            .cloned()
            .unwrap_or_else(|| json!({})),
    )
}

/// The isolation matrix, generated from the OpenAPI document: every tenant operation whose path
/// names an id, called with the example body and a second account's token on the first
/// account's rows, answers 404 `not-found`, exactly as an id that does not exist; and the owner
/// still reads each of them.
#[tokio::test]
async fn every_id_in_the_document_answers_404_to_another_account() {
    let app = spawn_server().await;
    let pool = pool().await;
    let (owner, ch) = tenant_with_channel(&pool).await;
    let intruder = tenant(&pool).await;
    let fx = fixture(&app, &pool, &owner, &ch).await;
    let doc = switchyard::api::openapi::document();
    let mut called = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in switchyard::api::openapi::METHODS {
            let Some(op) = item.get(method) else { continue };
            if op["security"][0].get("tenant_token").is_none() || !path.contains('{') {
                continue;
            }
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let mut url = path.clone();
            let mut headers = Vec::new();
            for p in op["parameters"].as_array().into_iter().flatten() {
                let name = p["name"].as_str().expect("a name");
                if p["in"] == "path" {
                    url = url.replace(&format!("{{{name}}}"), &fx.param(path, name));
                } else if p["in"] == "header" && p["required"] == true {
                    headers.push((name.to_owned(), unique("key")));
                }
            }
            let mut req = app.request(method.clone(), &url, &intruder.token);
            for (name, value) in &headers {
                req = req.header(name, value);
            }
            if let Some(body) = example_body(&doc, op) {
                req = req.json(&body);
            }
            let res = req.send().await.expect("request sent");
            let p = problem(res, StatusCode::NOT_FOUND).await;
            assert_eq!(
                p["type"], "https://switchyard.dev/problems/not-found",
                "{method} {url}"
            );
            if method == Method::GET {
                // The owner gets the operation's documented success: a page, or a redirect.
                let res = app.get(&url, &owner.token).await;
                let documented = op["responses"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter_map(|(code, _)| code.parse::<u16>().ok())
                    .find(|code| code / 100 == 2 || code / 100 == 3);
                assert_eq!(
                    Some(res.status().as_u16()),
                    documented,
                    "the owner reads {url}"
                );
            }
            called.push(format!("{method} {path}"));
        }
    }
    eprintln!(
        "{} tenant operations with ids answer 404 to another account",
        called.len()
    );
    assert!(called.len() >= 40, "{called:?}");
    app.stop().await;
}

/// Beside the matrix above: lists and filters show nothing of another account, a channel cannot
/// be put in its store, and the owner's data is as it was.
#[tokio::test]
async fn another_accounts_lists_show_none_of_it() {
    let app = spawn_server().await;
    let pool = pool().await;
    let key = key(&app.settings);
    let owner = tenant(&pool).await;
    let intruder = tenant(&pool).await;

    let ch = channel(&pool, &key, owner.account).await;
    let mut tx = pool.begin().await.unwrap();
    let stored = orders::upsert_order(&mut tx, &ch, &order(&unique("o")), &Decision::Import)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let (store, channel, order_id) = (ch.store_id, ch.id, stored.order_id);
    // Lists and filters show none of it.
    for path in [
        "/v1/stores".to_owned(),
        "/v1/channels".to_owned(),
        format!("/v1/channels?store_id={store}"),
        "/v1/orders".to_owned(),
        format!("/v1/orders?channel_id={channel}"),
    ] {
        let body = json_body(app.get(&path, &intruder.token).await).await;
        assert_eq!(body["items"], json!([]), "{path}");
    }
    // A channel in another account's store is refused.
    let body = json!({"store_id": store, "kind": "shopify", "name": "x", "base_url": "http://127.0.0.1:9",
                      "credentials": {"access_token": "a", "app_secret": "b"}});
    let res = app.post("/v1/channels", &intruder.token, body).await;
    assert_eq!(
        problem(res, StatusCode::UNPROCESSABLE_ENTITY).await["field"],
        "store_id"
    );

    // Nothing the intruder did touched the owner's data, which the owner still reads.

    let s = json_body(app.get(&format!("/v1/stores/{store}"), &owner.token).await).await;
    assert_ne!(s["name"], "mine now");
    let o = json_body(
        app.get(&format!("/v1/orders/{order_id}"), &owner.token)
            .await,
    )
    .await;
    for field in [
        "id",
        "store_id",
        "channel_id",
        "channel_kind",
        "channel_order_id",
        "order_number",
        "status",
        "sync_status",
        "currency",
        "totals",
        "customer",
        "shipping_address",
        "billing_address",
        "lines",
        "placed_at",
        "paid_at",
        "updated_at",
        "tags",
        "notes",
    ] {
        assert!(o.get(field).is_some(), "unified order field {field}: {o}");
    }
    assert_eq!(o["channel_kind"], "shopify");
    assert_eq!(o["totals"]["total"], "49.00");
    assert_eq!(o["lines"].as_array().map(Vec::len), Some(2));
    let listed = json_body(
        app.get(
            &format!("/v1/orders?channel_id={channel}&status=unshipped&limit=1"),
            &owner.token,
        )
        .await,
    )
    .await;
    assert_eq!(listed["items"][0]["id"], order_id);
    problem(
        app.get("/v1/orders?limit=0", &owner.token).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    problem(
        app.get("/v1/orders?cursor=nope", &owner.token).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;

    // A store with channels is not deleted from under them; its owner deletes the channel first.
    problem(
        app.delete(&format!("/v1/stores/{store}"), &owner.token)
            .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(
        app.delete(&format!("/v1/channels/{channel}"), &owner.token)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.delete(&format!("/v1/stores/{store}"), &owner.token)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    problem(
        app.get(&format!("/v1/orders/{order_id}"), &owner.token)
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;

    app.stop().await;
}

#[tokio::test]
async fn channels_are_checked_with_the_platform_and_their_secrets_stored_sealed() {
    let sandbox = Sandbox::start(SandboxConfig::demo())
        .await
        .expect("the sandbox starts");
    let shop = sandbox.shopify("demo-shop").expect("demo shop");
    let woo = sandbox.woocommerce("demo-woo").expect("demo woo store");
    let app = spawn_server().await;
    let pool = pool().await;
    let t = tenant(&pool).await;

    let res = app
        .post("/v1/stores", &t.token, json!({"name": unique("brand")}))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let store: Value = res.json().await.unwrap();
    let store_id = store["id"].as_i64().unwrap();
    let dup = app
        .post("/v1/stores", &t.token, json!({"name": store["name"]}))
        .await;
    problem(dup, StatusCode::CONFLICT).await;

    let shopify = |token: &str| {
        json!({
            "store_id": store_id, "kind": "shopify", "name": "Demo shop", "base_url": shop.base_url(),
            "credentials": {"access_token": token, "app_secret": shop.app_secret()},
            "settings": {"import_unpaid": true, "country_filter": {"mode": "deny", "countries": ["FR"]}}
        })
    };

    // Wrong token: the platform's own words, pointing at the credentials; nothing stored.
    let res = app
        .post("/v1/channels", &t.token, shopify("shpat_wrong"))
        .await;
    let p = problem(res, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(p["field"], "credentials");
    let detail = p["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("Invalid API key or access token"),
        "{detail}"
    );
    assert!(!detail.contains("shpat_wrong"));

    // Shape errors name the field before anything is sent to the platform.
    let mut missing = shopify("x");
    missing["credentials"] = json!({"access_token": "x"});
    let p = problem(
        app.post("/v1/channels", &t.token, missing).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(p["field"], "credentials.app_secret");
    let mut bad_country = shopify(shop.access_token());
    bad_country["settings"] = json!({"country_filter": {"mode": "allow", "countries": ["gb"]}});
    let p = problem(
        app.post("/v1/channels", &t.token, bad_country).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(p["field"], "settings.country_filter.countries[0]");
    let mut bad_url = shopify(shop.access_token());
    bad_url["base_url"] = json!("not a url");
    let p = problem(
        app.post("/v1/channels", &t.token, bad_url).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(p["field"], "base_url");

    // Good credentials: created, and no response ever carries them.
    let res = app
        .post("/v1/channels", &t.token, shopify(shop.access_token()))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let text = res.text().await.unwrap();
    assert!(
        !text.contains(shop.access_token()) && !text.contains(shop.app_secret()),
        "{text}"
    );
    let created: Value = serde_json::from_str(&text).unwrap();
    assert!(created.get("credentials").is_none());
    assert_eq!(created["settings"]["import_unpaid"], true);
    assert_eq!(created["settings"]["poll_interval_secs"], 180);
    let id = created["id"].as_i64().unwrap();
    for path in [format!("/v1/channels/{id}"), "/v1/channels".to_owned()] {
        let text = app.get(&path, &t.token).await.text().await.unwrap();
        assert!(!text.contains(shop.access_token()), "{path}: {text}");
    }

    // At rest: ciphertext only, anywhere in the row.
    let row: String =
        sqlx::query_scalar("SELECT row_to_json(c)::text FROM channels c WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
    let sealed: Vec<u8> = sqlx::query_scalar("SELECT credentials_enc FROM channels WHERE id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
    for secret in [shop.access_token(), shop.app_secret()] {
        assert!(!row.contains(secret), "row shows {secret}");
        assert!(!sealed.windows(secret.len()).any(|w| w == secret.as_bytes()));
    }

    // Patching settings merges; new credentials are checked again.
    let res = app
        .patch(
            &format!("/v1/channels/{id}"),
            &t.token,
            json!({"settings": {"stock_buffer": 2}}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let patched: Value = res.json().await.unwrap();
    assert_eq!(
        (
            patched["settings"]["stock_buffer"].clone(),
            patched["settings"]["import_unpaid"].clone()
        ),
        (json!(2), json!(true))
    );
    let res = app
        .patch(
            &format!("/v1/channels/{id}"),
            &t.token,
            json!({"credentials": {"access_token": "shpat_wrong", "app_secret": "x"}}),
        )
        .await;
    assert_eq!(
        problem(res, StatusCode::UNPROCESSABLE_ENTITY).await["field"],
        "credentials"
    );
    let health = json_body(
        app.get(&format!("/v1/channels/{id}/health"), &t.token)
            .await,
    )
    .await;
    assert_eq!(health["orders_imported"], 0);
    assert!(health["last_run_at"].is_null());

    // WooCommerce: its own credential fields, checked the same way.
    let woocommerce = |key: &str| {
        json!({
            "store_id": store_id, "kind": "woocommerce", "name": "Demo woo", "base_url": woo.base_url(),
            "credentials": {"consumer_key": key, "consumer_secret": woo.consumer_secret(), "webhook_secret": "whsec"}
        })
    };
    let res = app
        .post("/v1/channels", &t.token, woocommerce("ck_wrong"))
        .await;
    let p = problem(res, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(p["field"], "credentials");
    assert!(
        p["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("Consumer key is invalid"),
        "{p}"
    );
    let res = app
        .post("/v1/channels", &t.token, woocommerce(woo.consumer_key()))
        .await;
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "{}",
        res.text().await.unwrap_or_default()
    );

    app.stop().await;
    sandbox.shutdown().await;
}

/// `GET {path}` on the shop's REST Admin API, as JSON.
async fn shop_rest(shop: &switchyard_sandbox::ShopifyStore, path: &str) -> Value {
    reqwest::Client::new()
        .get(format!("{}/admin/api/2025-07/{path}", shop.base_url()))
        .header("X-Shopify-Access-Token", shop.access_token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The shop's webhook subscriptions as its REST API lists them: `(topic, address)`.
async fn shop_webhooks(shop: &switchyard_sandbox::ShopifyStore) -> Vec<(String, String)> {
    let list = shop_rest(shop, "webhooks.json").await;
    let mut hooks: Vec<(String, String)> = list["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["topic"].as_str().unwrap_or_default().to_owned(),
                h["address"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    hooks.sort();
    hooks
}

#[tokio::test]
async fn a_shopify_channel_subscribes_its_order_webhooks_and_checks_its_location() {
    let mut config = SandboxConfig::demo();
    for shop in &mut config.shopify {
        shop.locations = vec!["Warehouse".into(), "Shopfront".into()];
        shop.generator.orders_per_second = 0.0;
    }
    let sandbox = Sandbox::start(config).await.expect("the sandbox starts");
    let shop = sandbox.shopify("demo-shop").expect("demo shop");
    let woo = sandbox.woocommerce("demo-woo").expect("demo woo store");
    let app = spawn_server().await;
    let pool = pool().await;
    let t = tenant(&pool).await;
    let store = json_body(
        app.post("/v1/stores", &t.token, json!({"name": unique("brand")}))
            .await,
    )
    .await;
    let locations = shop_rest(&shop, "locations.json").await;
    let shopfront = locations["locations"][1]["id"].as_u64().unwrap();
    let shopify = |settings: Value| {
        json!({
            "store_id": store["id"], "kind": "shopify", "name": "Demo shop",
            "base_url": shop.base_url(),
            "credentials": {"access_token": shop.access_token(), "app_secret": shop.app_secret()},
            "settings": settings
        })
    };

    // A location the shop does not have is named, and nothing is made.
    let res = app
        .post(
            "/v1/channels",
            &t.token,
            shopify(json!({"location_id": shopfront + 1})),
        )
        .await;
    let p = problem(res, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(p["field"], "settings.location_id");
    assert!(shop_webhooks(&shop).await.is_empty());
    // WooCommerce has no locations.
    let res = app
        .post(
            "/v1/channels",
            &t.token,
            json!({
                "store_id": store["id"], "kind": "woocommerce", "name": "Demo woo",
                "base_url": woo.base_url(),
                "credentials": {"consumer_key": woo.consumer_key(),
                                "consumer_secret": woo.consumer_secret(), "webhook_secret": "whsec"},
                "settings": {"location_id": 5}
            }),
        )
        .await;
    let p = problem(res, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(p["field"], "settings.location_id");
    assert!(p["detail"]
        .as_str()
        .unwrap_or_default()
        .contains("no locations"));

    // Created at the chosen location, with the three order topics subscribed to its inbound
    // route.
    let res = app
        .post(
            "/v1/channels",
            &t.token,
            shopify(json!({"location_id": shopfront})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let channel: Value = res.json().await.unwrap();
    let id = channel["id"].as_i64().unwrap();
    assert_eq!(channel["settings"]["location_id"], shopfront);
    let inbound = format!(
        "{}/v1/channels/{id}/inbound",
        app.settings.server.public_url.trim_end_matches('/')
    );
    let expected: Vec<(String, String)> = ["orders/cancelled", "orders/create", "orders/updated"]
        .iter()
        .map(|topic| (topic.to_string(), format!("{inbound}/{topic}")))
        .collect();
    assert_eq!(shop_webhooks(&shop).await, expected);

    // Changing the location is checked the same way.
    let res = app
        .patch(
            &format!("/v1/channels/{id}"),
            &t.token,
            json!({"settings": {"location_id": shopfront + 1}}),
        )
        .await;
    assert_eq!(
        problem(res, StatusCode::UNPROCESSABLE_ENTITY).await["field"],
        "settings.location_id"
    );

    // Deleted: the subscriptions go with it.
    let res = app.delete(&format!("/v1/channels/{id}"), &t.token).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(shop_webhooks(&shop).await.is_empty());
}

/// The credentials `POST /v1/channels` takes for a simulated Amazon or eBay seller.
fn marketplace_credentials(info: &switchyard_sandbox::StoreInfo) -> Value {
    match &info.credentials {
        switchyard_sandbox::Credentials::Amazon {
            seller_id,
            marketplace_id,
            lwa_client_id,
            lwa_client_secret,
            refresh_token,
        } => json!({
            "client_id": lwa_client_id, "client_secret": lwa_client_secret,
            "refresh_token": refresh_token, "seller_id": seller_id,
            "marketplace_id": marketplace_id
        }),
        switchyard_sandbox::Credentials::Ebay {
            client_id,
            client_secret,
            refresh_token,
        } => json!({
            "client_id": client_id, "client_secret": client_secret,
            "refresh_token": refresh_token
        }),
        other => panic!("not a marketplace: {other:?}"),
    }
}

#[tokio::test]
async fn amazon_and_ebay_channels_are_made_with_their_credentials_checked() {
    let config = SandboxConfig {
        amazon: vec![switchyard_sandbox::AmazonSellerConfig::new("uk-seller")],
        ebay: vec![switchyard_sandbox::EbaySellerConfig::new("ebay-seller")],
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::start(config).await.expect("the sandbox starts");
    let app = spawn_server().await;
    let pool = pool().await;
    let t = tenant(&pool).await;
    let store = json_body(
        app.post("/v1/stores", &t.token, json!({"name": unique("brand")}))
            .await,
    )
    .await;
    for (kind, name, refused) in [
        ("amazon", "uk-seller", "invalid_grant"),
        ("ebay", "ebay-seller", "invalid_grant"),
    ] {
        let info = sandbox.store_info(name).expect("a seller").clone();
        let body = |credentials: Value, settings: Value| {
            json!({
                "store_id": store["id"], "kind": kind, "name": name,
                "base_url": info.base_url, "credentials": credentials, "settings": settings
            })
        };
        let good = marketplace_credentials(&info);

        // A refresh token the platform does not know is refused with its words.
        let mut revoked = good.clone();
        revoked["refresh_token"] = json!("revoked-token");
        let res = app
            .post("/v1/channels", &t.token, body(revoked, json!({})))
            .await;
        let p = problem(res, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(p["field"], "credentials", "{kind}: {p}");
        assert!(
            p["detail"].as_str().unwrap_or_default().contains(refused),
            "{kind}: {p}"
        );
        // A field of another kind's credentials is named.
        let mut stray = good.clone();
        stray["access_token"] = json!("shpat_x");
        let res = app
            .post("/v1/channels", &t.token, body(stray, json!({})))
            .await;
        let p = problem(res, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(
            p["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("access_token"),
            "{kind}: {p}"
        );
        // Marketplaces have no locations.
        let res = app
            .post(
                "/v1/channels",
                &t.token,
                body(good.clone(), json!({"location_id": 5})),
            )
            .await;
        let p = problem(res, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(p["field"], "settings.location_id", "{kind}: {p}");
        // Only Amazon fulfils orders itself.
        let res = app
            .post(
                "/v1/channels",
                &t.token,
                body(good.clone(), json!({"skip_fba_orders": true})),
            )
            .await;
        if kind == "amazon" {
            assert_eq!(res.status(), StatusCode::CREATED);
            let channel: Value = json_body(res).await;
            assert_eq!(channel["settings"]["skip_fba_orders"], true);
            let res = app
                .delete(&format!("/v1/channels/{}", channel["id"]), &t.token)
                .await;
            assert_eq!(res.status(), StatusCode::NO_CONTENT);
        } else {
            let p = problem(res, StatusCode::UNPROCESSABLE_ENTITY).await;
            assert_eq!(p["field"], "settings.skip_fba_orders", "{kind}: {p}");
        }

        let res = app
            .post("/v1/channels", &t.token, body(good, json!({})))
            .await;
        assert_eq!(res.status(), StatusCode::CREATED, "{kind}");
        let channel: Value = res.json().await.unwrap();
        assert_eq!(channel["kind"], kind);
        assert!(channel.get("credentials").is_none(), "never answered");
    }

    // A hosted page connects only the platforms it has a sign-in for.
    let res = app
        .post(
            "/v1/hosted-pages",
            &t.token,
            json!({"store_id": store["id"], "channels": ["shopify", "amazon"]}),
        )
        .await;
    let p = problem(res, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(p["field"], "channels");
    assert!(p["detail"].as_str().unwrap_or_default().contains("amazon"));
    sandbox.shutdown().await;
}
