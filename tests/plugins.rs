//! The plugins and plugin-rules API, and the plugin callbacks' security, over HTTP against the
//! real server, PostgreSQL and Redis.

mod app_helpers;
mod http_helpers;
mod tenant_helpers;

use http_helpers::{json_body, problem};

use app_helpers::{send, spawn_server, TestServer};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use switchyard::store::products::{self, NewProduct};
use tenant_helpers::{pool, tenant};

/// The names of the rules listed at `path`, in the order listed.
async fn rule_names(server: &TestServer, path: &str, token: &str) -> Vec<String> {
    let list = json_body(server.get(path, token).await).await;
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn plugin(server: &TestServer, token: &str, store: i64) -> Value {
    let res = server.post(&format!("/v1/stores/{store}/plugins"), token, json!({"kind": "http", "name": "North FC", "endpoint_url": "https://fc.example/orders"}))
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugins_show_their_secrets_once_refuse_bad_input_and_are_invisible_to_other_accounts() {
    let server = spawn_server().await;
    let pool = pool().await;
    let a = tenant(&pool).await;
    let b = tenant(&pool).await;
    let store_a = server.create_store(&a.token).await;

    let made = plugin(&server, &a.token, store_a).await;
    let id = made["id"].as_i64().unwrap();
    let secret = made["signing_secret"].as_str().unwrap();
    let key = STANDARD
        .decode(
            secret
                .strip_prefix("whsec_")
                .expect("a Standard Webhooks secret"),
        )
        .unwrap();
    assert_eq!(key.len(), 32);
    let token = made["callback_token"].as_str().unwrap();
    assert!(token.starts_with("syp_"));
    assert_eq!(made["store_id"], store_a);
    assert_eq!(made["active"], true);

    // Stored sealed and hashed: neither secret is in the row.
    let (sealed, hash): (Vec<u8>, Vec<u8>) =
        sqlx::query_as("SELECT signing_secret_enc, callback_token_hash FROM plugins WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(!sealed.windows(key.len()).any(|w| w == key.as_slice()));
    assert!(!sealed.windows(secret.len()).any(|w| w == secret.as_bytes()));
    assert!(!hash.windows(token.len()).any(|w| w == token.as_bytes()));

    // Read back, listed, never with the secrets.
    let read = json_body(server.get(&format!("/v1/plugins/{id}"), &a.token).await).await;
    assert_eq!(read["name"], "North FC");
    assert!(read.get("signing_secret").is_none() && read.get("callback_token").is_none());
    let list = json_body(
        server
            .get(&format!("/v1/stores/{store_a}/plugins"), &a.token)
            .await,
    )
    .await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    assert!(!list.to_string().contains(secret) && !list.to_string().contains(token));

    // Disabled and enabled again.
    let res = server
        .patch(
            &format!("/v1/plugins/{id}"),
            &a.token,
            json!({"active": false}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["active"], false);

    // Bad input is a 422 naming the field.
    let path = format!("/v1/stores/{store_a}/plugins");
    for (body, field) in [
        (
            json!({"kind": "ftp", "name": "x", "endpoint_url": "https://fc.example/"}),
            "kind",
        ),
        (
            json!({"kind": "http", "name": "x", "endpoint_url": "not a url"}),
            "endpoint_url",
        ),
        (
            json!({"kind": "http", "name": " ", "endpoint_url": "https://fc.example/"}),
            "name",
        ),
        (
            json!({"kind": "http", "name": "x", "endpoint_url": "https://fc.example/", "secret": "s"}),
            "secret",
        ),
    ] {
        let p = problem(
            server.post(&path, &a.token, body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(p["field"], field, "{p}");
    }

    // Another account sees none of it.
    for (method, path, body) in [
        (Method::GET, format!("/v1/plugins/{id}"), None),
        (
            Method::PATCH,
            format!("/v1/plugins/{id}"),
            Some(json!({"active": true})),
        ),
        (Method::DELETE, format!("/v1/plugins/{id}"), None),
        (Method::GET, format!("/v1/stores/{store_a}/plugins"), None),
        (
            Method::POST,
            format!("/v1/stores/{store_a}/plugins"),
            Some(json!({"kind": "http", "name": "x", "endpoint_url": "https://fc.example/"})),
        ),
    ] {
        problem(
            send(&server, method, &path, &b.token, body).await,
            StatusCode::NOT_FOUND,
        )
        .await;
    }
    let res = server.get(&format!("/v1/plugins/{id}"), &a.token).await;
    assert_eq!(res.status(), StatusCode::OK, "still there");

    let res = server.delete(&format!("/v1/plugins/{id}"), &a.token).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    problem(
        server.get(&format!("/v1/plugins/{id}"), &a.token).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_are_ordered_validated_and_route_only_to_their_own_stores_plugins() {
    let server = spawn_server().await;
    let pool = pool().await;
    let a = tenant(&pool).await;
    let b = tenant(&pool).await;
    let store_a = server.create_store(&a.token).await;
    let other_store = server.create_store(&a.token).await;
    let store_b = server.create_store(&b.token).await;
    let fc = plugin(&server, &a.token, store_a).await["id"]
        .as_i64()
        .unwrap();
    let other_fc = plugin(&server, &a.token, other_store).await["id"]
        .as_i64()
        .unwrap();
    let b_fc = plugin(&server, &b.token, store_b).await["id"]
        .as_i64()
        .unwrap();
    let path = format!("/v1/stores/{store_a}/plugin-rules");

    let create = |body: Value| server.post(&path, &a.token, body);
    let res = create(json!({
        "name": "UK to North",
        "condition": {"type": "shipping_country_in", "countries": ["gb", "IE"]},
        "action": {"type": "send_to_plugin", "plugin_id": fc}
    }))
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let uk: Value = res.json().await.unwrap();
    assert_eq!(uk["condition"]["countries"], json!(["GB", "IE"]));
    assert_eq!(uk["position"], 1);
    let res = create(json!({
        "name": "Big orders on hold",
        "condition": {"type": "order_total", "comparison": "greater_than", "value": "500.00"},
        "action": {"type": "set_sync_status", "status": "on_hold"},
        "position": 0,
        "active": false
    }))
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let big: Value = res.json().await.unwrap();
    assert_eq!(big["active"], false);

    let names = rule_names(&server, &path, &a.token).await;
    assert_eq!(
        names,
        vec!["Big orders on hold", "UK to North"],
        "in evaluation order"
    );

    // A plugin of another store, or of another account, or none at all: refused.
    for plugin_id in [other_fc, b_fc, 999_999_999] {
        let p = problem(
            create(json!({
                "name": "elsewhere",
                "condition": {"type": "sku_exists"},
                "action": {"type": "send_to_plugin", "plugin_id": plugin_id}
            }))
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(p["field"], "action.plugin_id");
    }
    for (body, field) in [
        (
            json!({"name": "x", "condition": {"type": "sku_in", "skus": []}, "action": {"type": "add_tag", "tag": "t"}}),
            "condition.skus",
        ),
        (
            json!({"name": "x", "condition": {"type": "nope"}, "action": {"type": "add_tag", "tag": "t"}}),
            "condition.type",
        ),
        (
            json!({"name": "x", "condition": {"type": "sku_exists"}, "action": {"type": "add_tag", "tag": ""}}),
            "action.tag",
        ),
        (
            json!({"name": "x", "condition": {"type": "sku_exists"}, "action": {"type": "add_tag", "tag": "t"}, "position": -1}),
            "position",
        ),
        (
            json!({"name": "x", "condition": {"type": "sku_exists"}}),
            "action",
        ),
    ] {
        let p = problem(create(body).await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(p["field"], field, "{p}");
    }
    // A channel condition must name the store's own channels.
    let key = app_helpers::key(&server.settings);
    let own = tenant_helpers::channel(&pool, &key, a.account).await;
    let p = problem(
        create(json!({
            "name": "from a channel of another store",
            "condition": {"type": "channel_in", "channel_ids": [own.id]},
            "action": {"type": "add_tag", "tag": "t"}
        }))
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(p["field"], "condition.channel_ids");
    let res = server
        .post(
            &format!("/v1/stores/{}/plugin-rules", own.store_id),
            &a.token,
            json!({
                "name": "from its own channel",
                "condition": {"type": "channel_in", "channel_ids": [own.id, own.id]},
                "action": {"type": "add_tag", "tag": "t"}
            }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);

    let rule_id = uk["id"].as_i64().unwrap();
    let p = problem(
        server
            .patch(
                &format!("/v1/plugin-rules/{rule_id}"),
                &a.token,
                json!({"action": {"type": "send_to_plugin", "plugin_id": other_fc}}),
            )
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(p["field"], "action.plugin_id");

    // Another account can neither see nor change them, nor add one to the store.
    problem(server.get(&path, &b.token).await, StatusCode::NOT_FOUND).await;
    problem(
        server
            .get(&format!("/v1/plugin-rules/{rule_id}"), &b.token)
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(
        server
            .patch(
                &format!("/v1/plugin-rules/{rule_id}"),
                &b.token,
                json!({"active": false}),
            )
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(
        server
            .delete(&format!("/v1/plugin-rules/{rule_id}"), &b.token)
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(
        server
            .post(
                &path,
                &b.token,
                json!({
                    "name": "x", "condition": {"type": "sku_exists"}, "action": {"type": "add_tag", "tag": "t"}
                }),
            )
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;

    // Moved, turned on, retargeted to a tag.
    let res = server
        .patch(
            &format!("/v1/plugin-rules/{}", big["id"]),
            &a.token,
            json!({"position": 5, "active": true}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let names = rule_names(&server, &path, &a.token).await;
    assert_eq!(names, vec!["UK to North", "Big orders on hold"]);

    // A plugin a rule routes to cannot be deleted until the rule goes.
    problem(
        server.delete(&format!("/v1/plugins/{fc}"), &a.token).await,
        StatusCode::CONFLICT,
    )
    .await;
    let res = server
        .delete(&format!("/v1/plugin-rules/{rule_id}"), &a.token)
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = server.delete(&format!("/v1/plugins/{fc}"), &a.token).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_callbacks_need_the_plugins_token_touch_only_its_store_and_replay_harmlessly() {
    let server = spawn_server().await;
    let pool = pool().await;
    let a = tenant(&pool).await;
    let store_a = server.create_store(&a.token).await;
    let other_store = server.create_store(&a.token).await;
    let made = plugin(&server, &a.token, store_a).await;
    let token = made["callback_token"].as_str().unwrap().to_owned();
    let new = |store_id, sku| NewProduct {
        store_id,
        sku,
        title: "Thing",
        api_quantity: Some(10),
    };
    let mine = products::create(&pool, a.account, &new(store_a, "FC-1"))
        .await
        .unwrap();
    products::create(&pool, a.account, &new(other_store, "ELSEWHERE-1"))
        .await
        .unwrap();
    let kit = products::create(&pool, a.account, &new(store_a, "KIT-1"))
        .await
        .unwrap();
    products::set_components(&pool, a.account, kit.id, &[(mine.id, 2)])
        .await
        .unwrap();
    let url = server.url("/v1/plugin-callbacks/stock");
    let report = |token: Option<&str>, key: Option<&str>, body: Value| {
        let mut req = server.client.post(&url).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        req.send()
    };
    let body = json!({"sku": "FC-1", "quantity": 7});

    // Without the plugin's own live token: 401, whatever else is right.
    problem(
        report(None, None, body.clone()).await.unwrap(),
        StatusCode::UNAUTHORIZED,
    )
    .await;
    problem(
        report(Some("syp_wrong"), None, body.clone()).await.unwrap(),
        StatusCode::UNAUTHORIZED,
    )
    .await;
    problem(
        report(Some(&a.token), None, body.clone()).await.unwrap(),
        StatusCode::UNAUTHORIZED,
    )
    .await;
    problem(
        report(None, None, json!("not even an object"))
            .await
            .unwrap(),
        StatusCode::UNAUTHORIZED,
    )
    .await;

    // Another store's SKU, an unknown one, and a kit are refused, naming the SKU; a kit is
    // refused even with the figure its plugin quantity already has.
    for (sku, quantity) in [("ELSEWHERE-1", 1), ("NOPE", 1), ("KIT-1", 1), ("KIT-1", 0)] {
        let p = problem(
            report(
                Some(&token),
                None,
                json!({"sku": sku, "quantity": quantity}),
            )
            .await
            .unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(p["field"], "sku", "{p}");
    }
    let p = problem(
        report(Some(&token), None, json!({"sku": "FC-1", "quantity": -1}))
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(p["field"], "quantity");

    let plugin_moves = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM stock_movements WHERE product_id = $1 AND field = 'plugin'",
        )
        .bind(mine.id)
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    assert_eq!(plugin_moves().await, 0);

    let res = report(Some(&token), Some("count-1"), body.clone())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let first: Value = res.json().await.unwrap();
    assert_eq!(
        (
            first["plugin_quantity"].as_i64(),
            first["changed"].as_bool()
        ),
        (Some(7), Some(true))
    );
    // A replay of the same report, by header or by report id: nothing more.
    let res = report(Some(&token), Some("count-1"), body.clone())
        .await
        .unwrap();
    assert_eq!(
        res.headers()
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    let res = report(
        Some(&token),
        None,
        json!({"sku": "FC-1", "quantity": 7, "report_id": "count-1"}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // The same figure without a key: no movement either.
    let res = report(Some(&token), None, body.clone()).await.unwrap();
    assert_eq!(res.json::<Value>().await.unwrap()["changed"], false);
    assert_eq!(plugin_moves().await, 1, "one report, one movement");

    // A later count moves it; the old report arriving late cannot undo that.
    report(
        Some(&token),
        Some("count-2"),
        json!({"sku": "FC-1", "quantity": 3}),
    )
    .await
    .unwrap();
    let late = report(Some(&token), Some("count-1"), body.clone())
        .await
        .unwrap();
    // The late copy is answered with the first answer, and moves nothing (checked below).
    assert_eq!(
        late.headers()
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    assert_eq!(late.json::<Value>().await.unwrap()["plugin_quantity"], 7);
    // The same key with another figure is a conflict, not a guess.
    problem(
        report(
            Some(&token),
            Some("count-1"),
            json!({"sku": "FC-1", "quantity": 8}),
        )
        .await
        .unwrap(),
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(plugin_moves().await, 2);
    let product = product_shown(&server, &a.token, mine.id).await;
    assert_eq!(product["plugin_quantity"], 3);

    // A disabled plugin's token opens nothing.
    let id = made["id"].as_i64().unwrap();
    server
        .patch(
            &format!("/v1/plugins/{id}"),
            &a.token,
            json!({"active": false}),
        )
        .await;
    problem(
        report(Some(&token), None, body).await.unwrap(),
        StatusCode::UNAUTHORIZED,
    )
    .await;
    server.stop().await;
}

/// A product as the API shows it to `token`.
async fn product_shown(server: &TestServer, token: &str, id: i64) -> Value {
    server
        .get(&format!("/v1/products/{id}"), token)
        .await
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugins_stock_report_sends_product_updated_with_the_new_figures() {
    let server = spawn_server().await;
    let pool = pool().await;
    let a = tenant(&pool).await;
    let store = server.create_store(&a.token).await;
    let token = plugin(&server, &a.token, store).await["callback_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let product = products::create(
        &pool,
        a.account,
        &NewProduct {
            store_id: store,
            sku: "FC-EV-1",
            title: "Thing",
            api_quantity: Some(10),
        },
    )
    .await
    .unwrap();
    // The product.updated events of the product waiting in the outbox (no relay runs here).
    let updates = || async {
        sqlx::query_scalar::<_, Value>(
            "SELECT payload->'data' FROM outbox WHERE kind = 'event' \
             AND payload->>'type' = 'product.updated' \
             AND payload->'product_id' = to_jsonb($1::bigint) ORDER BY id",
        )
        .bind(product.id)
        .fetch_all(&pool)
        .await
        .unwrap()
    };
    let report = |key: &'static str, quantity: i64| {
        server
            .client
            .post(server.url("/v1/plugin-callbacks/stock"))
            .bearer_auth(&token)
            .header("idempotency-key", key)
            .json(&json!({"sku": "FC-EV-1", "quantity": quantity}))
            .send()
    };

    assert_eq!(report("count-1", 7).await.unwrap().status(), StatusCode::OK);
    let shown = product_shown(&server, &a.token, product.id).await;
    assert_eq!(
        (&shown["plugin_quantity"], &shown["available_quantity"]),
        (&json!(7), &json!(17))
    );
    assert_eq!(
        updates().await,
        vec![shown],
        "one product.updated, with the product as the API shows it"
    );
    // A replay, and a report of the figure already held, move nothing and announce nothing.
    assert_eq!(report("count-1", 7).await.unwrap().status(), StatusCode::OK);
    assert_eq!(report("count-2", 7).await.unwrap().status(), StatusCode::OK);
    assert_eq!(updates().await.len(), 1);
    server.stop().await;
}
