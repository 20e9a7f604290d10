//! `/v1/products` and `/v1/channels/{id}/products` through HTTP against real PostgreSQL and
//! Redis: CRUD, validation naming the field, stock set / adjust / plugin stock with the
//! `Idempotency-Key` replay, kits, the ledger, and another account's ids answering 404.

mod app_helpers;
mod http_helpers;
mod tenant_helpers;

use http_helpers::problem;

use app_helpers::{key, send, spawn_server, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;
use switchyard::domain::{Listing, ListingId};
use switchyard::store::channel_products;
use tenant_helpers::{channel, pool, tenant, tenant_with_channel, Tenant};

async fn ok_json(res: reqwest::Response, status: StatusCode) -> Value {
    let url = res.url().clone();
    let got = res.status();
    let text = res.text().await.expect("a body");
    assert_eq!(got, status, "{url}: {text}");
    serde_json::from_str(&text).expect("JSON")
}

async fn create(app: &TestServer, token: &str, body: Value) -> Value {
    ok_json(
        app.post("/v1/products", token, body).await,
        StatusCode::CREATED,
    )
    .await
}

/// Creates a product and returns its id.
async fn create_id(app: &TestServer, token: &str, body: Value) -> i64 {
    create(app, token, body).await["id"]
        .as_i64()
        .expect("a product id")
}

#[tokio::test]
async fn products_are_created_listed_changed_and_deleted() {
    let app = spawn_server().await;
    let pool = pool().await;
    let t = tenant(&pool).await;
    let other = tenant(&pool).await;
    let ch = channel(&pool, &key(&app.settings), t.account).await;
    let foreign = channel(&pool, &key(&app.settings), other.account).await;
    let store = ch.store_id;

    let res = app
        .post(
            "/v1/products",
            &t.token,
            json!({"store_id": store, "sku": " MUG-1 ", "title": "Mug", "api_quantity": 12}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let location = res
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mug: Value = res.json().await.unwrap();
    let id = mug["id"].as_i64().unwrap();
    assert_eq!(location, format!("/v1/products/{id}"));
    assert_eq!(mug["sku"], "MUG-1", "trimmed");
    assert_eq!(mug["store_id"], store);
    assert_eq!(
        (
            &mug["api_quantity"],
            &mug["plugin_quantity"],
            &mug["available_quantity"],
            &mug["is_kit"]
        ),
        (&json!(12), &json!(0), &json!(12), &json!(false))
    );

    // Validation: 422 naming the field, 400 for what is not JSON, 409 for a taken SKU.
    let cases = [
        (json!({"store_id": store, "title": "x"}), "sku"),
        (json!({"store_id": store, "sku": "  ", "title": "x"}), "sku"),
        (json!({"store_id": store, "sku": "a", "title": ""}), "title"),
        (json!({"store_id": store, "sku": "a", "title": 5}), "title"),
        (
            json!({"store_id": store, "sku": "a", "title": "x", "api_quantity": -1}),
            "api_quantity",
        ),
        (
            json!({"store_id": store, "sku": "a", "title": "x", "colour": "red"}),
            "colour",
        ),
        (
            json!({"store_id": foreign.store_id, "sku": "a", "title": "x"}),
            "store_id",
        ),
        (
            json!({"store_id": "one", "sku": "a", "title": "x"}),
            "store_id",
        ),
    ];
    for (body, field) in cases {
        let p = problem(
            app.post("/v1/products", &t.token, body.clone()).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(p["field"], field, "{body}");
    }
    let res = app
        .request(Method::POST, "/v1/products", &t.token)
        .header("content-type", "application/json")
        .body("{\"sku\": ")
        .send()
        .await
        .unwrap();
    problem(res, StatusCode::BAD_REQUEST).await;
    problem(
        app.post(
            "/v1/products",
            &t.token,
            json!({"store_id": store, "sku": "MUG-1", "title": "Again"}),
        )
        .await,
        StatusCode::CONFLICT,
    )
    .await;

    // Listing, filtered and paged.
    let plate = create(
        &app,
        &t.token,
        json!({"store_id": store, "sku": "PLATE", "title": "Plate"}),
    )
    .await;
    assert_eq!(plate["api_quantity"], 0);
    let page = ok_json(
        app.get("/v1/products?limit=1", &t.token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(page["items"][0]["id"], id);
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let next = ok_json(
        app.get(&format!("/v1/products?limit=1&cursor={cursor}"), &t.token)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(next["items"][0]["id"], plate["id"]);
    assert!(next["next_cursor"].is_null());
    let by_sku = ok_json(
        app.get(
            &format!("/v1/products?store_id={store}&sku=PLATE"),
            &t.token,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(by_sku["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(by_sku["items"][0]["sku"], "PLATE");

    // Patching.
    let patched = ok_json(
        app.patch(
            &format!("/v1/products/{id}"),
            &t.token,
            json!({"title": "Big mug", "sku": "MUG-2"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (&patched["title"], &patched["sku"]),
        (&json!("Big mug"), &json!("MUG-2"))
    );
    assert_eq!(
        patched["api_quantity"], 12,
        "stock is not touched by a patch"
    );
    problem(
        app.patch(
            &format!("/v1/products/{id}"),
            &t.token,
            json!({"sku": "PLATE"}),
        )
        .await,
        StatusCode::CONFLICT,
    )
    .await;
    let p = problem(
        app.patch(
            &format!("/v1/products/{id}"),
            &t.token,
            json!({"title": ""}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(p["field"], "title");

    // Deleting.
    let gone = app.delete(&format!("/v1/products/{id}"), &t.token).await;
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);
    problem(
        app.get(&format!("/v1/products/{id}"), &t.token).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(
        app.delete(&format!("/v1/products/{id}"), &t.token).await,
        StatusCode::NOT_FOUND,
    )
    .await;

    app.stop().await;
}

#[tokio::test]
async fn stock_is_set_adjusted_once_per_key_and_kits_follow_their_components() {
    let app = spawn_server().await;
    let pool = pool().await;
    let (t, ch) = tenant_with_channel(&pool).await;
    let a = create_id(
        &app,
        &t.token,
        json!({"store_id": ch.store_id, "sku": "A", "title": "A"}),
    )
    .await;
    let b = create_id(
        &app,
        &t.token,
        json!({"store_id": ch.store_id, "sku": "B", "title": "B", "api_quantity": 5}),
    )
    .await;

    let set = ok_json(
        app.put(
            &format!("/v1/products/{a}/stock"),
            &t.token,
            json!({"api_quantity": 10}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (&set["api_quantity"], &set["available_quantity"]),
        (&json!(10), &json!(10))
    );
    let plugin = ok_json(
        app.put(
            &format!("/v1/products/{a}/plugin-stock"),
            &t.token,
            json!({"plugin_quantity": 3}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (
            &plugin["api_quantity"],
            &plugin["plugin_quantity"],
            &plugin["available_quantity"]
        ),
        (&json!(10), &json!(3), &json!(13))
    );
    let p = problem(
        app.put(
            &format!("/v1/products/{a}/stock"),
            &t.token,
            json!({"api_quantity": -5}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(p["field"], "api_quantity");

    // An adjustment needs a key; a replay answers the same body and changes nothing.
    let adjust = format!("/v1/products/{a}/stock/adjust");
    problem(
        app.post(&adjust, &t.token, json!({"delta": -4})).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    let post_with = |key: &'static str, delta: i64| {
        app.request(Method::POST, &adjust, &t.token)
            .header("idempotency-key", key)
            .json(&json!({ "delta": delta }))
            .send()
    };
    let first = post_with("adj-1", -4).await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first_body = first.text().await.unwrap();
    let movement: Value = serde_json::from_str(&first_body).unwrap();
    assert_eq!(
        (&movement["delta"], &movement["quantity_after"]),
        (&json!(-4), &json!(6))
    );
    assert_eq!(movement["cause_id"], "adj-1");
    let replay = post_with("adj-1", -4).await.unwrap();
    assert_eq!(replay.status(), StatusCode::OK);
    assert_eq!(
        replay
            .headers()
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    assert_eq!(replay.text().await.unwrap(), first_body);
    problem(post_with("adj-1", -5).await.unwrap(), StatusCode::CONFLICT).await;
    let p = problem(
        post_with("adj-zero", 0).await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(p["field"], "delta");
    let now = ok_json(
        app.get(&format!("/v1/products/{a}"), &t.token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (&now["api_quantity"], &now["available_quantity"]),
        (&json!(6), &json!(9))
    );

    // The ledger shows every change, with the quantity after each.
    let ledger = ok_json(
        app.get(&format!("/v1/products/{a}/movements"), &t.token)
            .await,
        StatusCode::OK,
    )
    .await;
    let steps: Vec<(String, i64, i64)> = ledger["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["field"].as_str().unwrap_or_default().to_owned(),
                m["delta"].as_i64().unwrap_or_default(),
                m["quantity_after"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        vec![
            ("api".to_owned(), 10, 10),
            ("plugin".to_owned(), 3, 3),
            ("api".to_owned(), -4, 6)
        ]
    );

    // A kit of 2 x A + 1 x B.
    let k = create_id(
        &app,
        &t.token,
        json!({"store_id": ch.store_id, "sku": "KIT", "title": "Kit"}),
    )
    .await;
    let components = format!("/v1/products/{k}/components");
    let kit = ok_json(
        app.put(
            &components,
            &t.token,
            json!([{"product_id": a, "quantity": 2}, {"product_id": b, "quantity": 1}]),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(kit["is_kit"], true);
    assert_eq!(kit["components"].as_array().map(Vec::len), Some(2));
    assert_eq!(kit["available_quantity"], 4, "min((6 + 3) / 2, 5 / 1)");
    for (body, field) in [
        (
            json!([{"product_id": a, "quantity": 2}, {"product_id": b}]),
            json!("[1].quantity"),
        ),
        (
            json!([{"product_id": a, "quantity": 0}]),
            json!("[0].quantity"),
        ),
        (
            json!([{"product_id": k, "quantity": 1}]),
            json!("[0].product_id"),
        ),
        (
            json!([{"product_id": 0, "quantity": 1}]),
            json!("[0].product_id"),
        ),
        (json!({"product_id": a, "quantity": 1}), Value::Null),
    ] {
        let p = problem(
            app.put(&components, &t.token, body.clone()).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(
            p.get("field").cloned().unwrap_or(Value::Null),
            field,
            "{body}"
        );
    }
    let p = problem(
        app.put(
            &format!("/v1/products/{k}/stock"),
            &t.token,
            json!({"api_quantity": 3}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(p["field"], "api_quantity");
    problem(
        app.delete(&format!("/v1/products/{a}"), &t.token).await,
        StatusCode::CONFLICT,
    )
    .await;
    let still = ok_json(
        app.get(&format!("/v1/products/{k}"), &t.token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(still["available_quantity"], 4);

    app.stop().await;
}

#[tokio::test]
async fn a_channels_listings_show_their_mapping_and_last_push() {
    let app = spawn_server().await;
    let pool = pool().await;
    let (t, ch) = tenant_with_channel(&pool).await;
    let mug = create_id(
        &app,
        &t.token,
        json!({"store_id": ch.store_id, "sku": "MUG", "title": "Mug", "api_quantity": 4}),
    )
    .await;
    let mut conn = pool.acquire().await.unwrap();
    let mut ids = Vec::new();
    for (product, sku) in [("10", "MUG"), ("11", "NOPE")] {
        let listing = Listing {
            id: ListingId {
                product_id: product.into(),
                variant_id: Some(format!("{product}-v")),
                inventory_item_id: Some(format!("{product}-i")),
            },
            sku: Some(sku.into()),
            title: format!("Listing {sku}"),
            price: Some("7.50".into()),
            quantity: Some(1),
            image_url: None,
            weight: None,
            dimensions: None,
            customs: None,
        };
        ids.push(
            channel_products::upsert_listing(&mut conn, t.account, ch.id, ch.store_id, &listing)
                .await
                .unwrap(),
        );
    }
    channel_products::record_pushed(&pool, ids[0], 4)
        .await
        .unwrap();

    let page = ok_json(
        app.get(&format!("/v1/channels/{}/products", ch.id), &t.token)
            .await,
        StatusCode::OK,
    )
    .await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["product_id"], mug);
    assert_eq!(items[0]["last_pushed_quantity"], 4);
    assert_eq!(items[0]["external_variant_id"], "10-v");
    assert_eq!(items[0]["price"], "7.50");
    assert!(items[1]["product_id"].is_null(), "no product has its SKU");
    assert!(items[1]["last_pushed_quantity"].is_null());

    app.stop().await;
}

#[tokio::test]
async fn another_accounts_products_answer_404_on_every_route() {
    let app = spawn_server().await;
    let pool = pool().await;
    let owner = tenant(&pool).await;
    let intruder = tenant(&pool).await;
    let ch = channel(&pool, &key(&app.settings), owner.account).await;
    let a = create_id(
        &app,
        &owner.token,
        json!({"store_id": ch.store_id, "sku": "A", "title": "A", "api_quantity": 5}),
    )
    .await;
    // The intruder's own product, to offer as a component of the owner's kit and the reverse.
    let ich = channel(&pool, &key(&app.settings), intruder.account).await;
    let mine = create_id(
        &app,
        &intruder.token,
        json!({"store_id": ich.store_id, "sku": "X", "title": "X"}),
    )
    .await;

    let cases: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/v1/products/{a}"), None),
        (
            Method::PATCH,
            format!("/v1/products/{a}"),
            Some(json!({"title": "mine now"})),
        ),
        (Method::DELETE, format!("/v1/products/{a}"), None),
        (
            Method::PUT,
            format!("/v1/products/{a}/stock"),
            Some(json!({"api_quantity": 0})),
        ),
        (
            Method::PUT,
            format!("/v1/products/{a}/plugin-stock"),
            Some(json!({"plugin_quantity": 99})),
        ),
        (
            Method::PUT,
            format!("/v1/products/{a}/components"),
            Some(json!([{"product_id": mine, "quantity": 1}])),
        ),
        (Method::GET, format!("/v1/products/{a}/movements"), None),
        (
            Method::GET,
            format!("/v1/channels/{}/products", ch.id),
            None,
        ),
    ];
    for (method, path, body) in &cases {
        let res = send(&app, method.clone(), path, &intruder.token, body.clone()).await;
        let p = problem(res, StatusCode::NOT_FOUND).await;
        assert_eq!(
            p["type"], "https://switchyard.dev/problems/not-found",
            "{method} {path}"
        );
    }
    let res = app
        .request(
            Method::POST,
            &format!("/v1/products/{a}/stock/adjust"),
            &intruder.token,
        )
        .header("idempotency-key", "steal")
        .json(&json!({"delta": -5}))
        .send()
        .await
        .unwrap();
    problem(res, StatusCode::NOT_FOUND).await;
    // The owner's product cannot be pulled into the intruder's kit either.
    let p = problem(
        app.put(
            &format!("/v1/products/{mine}/components"),
            &intruder.token,
            json!([{"product_id": a, "quantity": 1}]),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(p["field"], "[0].product_id");
    let listed = ok_json(
        app.get("/v1/products", &intruder.token).await,
        StatusCode::OK,
    )
    .await;
    let ids: Vec<i64> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["id"].as_i64())
        .collect();
    assert_eq!(ids, vec![mine]);

    // The owner's product is as it was.
    let p = ok_json(
        app.get(&format!("/v1/products/{a}"), &owner.token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (
            &p["title"],
            &p["api_quantity"],
            &p["plugin_quantity"],
            &p["is_kit"]
        ),
        (&json!("A"), &json!(5), &json!(0), &json!(false))
    );
    let ledger = ok_json(
        app.get(&format!("/v1/products/{a}/movements"), &owner.token)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        ledger["items"].as_array().map(Vec::len),
        Some(1),
        "the opening only"
    );

    app.stop().await;
}

/// The events of product `id` waiting in the outbox (no relay runs here), oldest first, as
/// (type, data).
async fn product_events(pool: &PgPool, id: i64) -> Vec<(String, Value)> {
    sqlx::query_as(
        "SELECT payload->>'type', payload->'data' FROM outbox \
         WHERE kind = 'event' AND payload->'product_id' = to_jsonb($1::bigint) ORDER BY id",
    )
    .bind(id)
    .fetch_all(pool)
    .await
    .expect("outbox")
}

/// While it lasts, PostgreSQL refuses to write any event of `store` to the outbox, as a crash
/// between a change and its event would leave it unwritten. Returns its name, for [`allow`].
async fn refuse_events(pool: &PgPool, store: i64) -> String {
    let name = format!("refuse_events_of_{store}");
    sqlx::query(&format!(
        "CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
             IF NEW.kind = 'event' AND NEW.payload->'store_id' = to_jsonb({store}::bigint) THEN \
                 RAISE EXCEPTION 'events of store {store} refused'; \
             END IF; \
             RETURN NEW; \
         END $$"
    ))
    .execute(pool)
    .await
    .expect("function");
    sqlx::query(&format!(
        "CREATE TRIGGER {name} BEFORE INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION {name}()"
    ))
    .execute(pool)
    .await
    .expect("trigger");
    name
}

async fn allow(pool: &PgPool, refusal: &str) {
    for ddl in [
        format!("DROP TRIGGER {refusal} ON outbox"),
        format!("DROP FUNCTION {refusal}()"),
    ] {
        sqlx::query(&ddl).execute(pool).await.expect("drop");
    }
}

/// The server, the database, and a new tenant with a store.
async fn tenant_with_a_store() -> (TestServer, PgPool, Tenant, i64) {
    let app = spawn_server().await;
    let pool = pool().await;
    let (t, ch) = tenant_with_channel(&pool).await;
    let store = ch.store_id;
    (app, pool, t, store)
}

#[tokio::test]
async fn a_product_change_and_its_event_commit_together_or_not_at_all() {
    let (app, pool, t, store) = tenant_with_a_store().await;
    let mug = create(
        &app,
        &t.token,
        json!({"store_id": store, "sku": "MUG-1", "title": "Mug", "api_quantity": 4}),
    )
    .await;
    let id = mug["id"].as_i64().unwrap();
    let path = format!("/v1/products/{id}");
    assert_eq!(
        product_events(&pool, id).await,
        vec![("product.created".to_owned(), mug.clone())],
        "committed, with its event"
    );

    // The event cannot be written: nor can the change.
    let refusal = refuse_events(&pool, store).await;
    let changes: Vec<(Method, String, Value)> = vec![
        (
            Method::POST,
            "/v1/products".into(),
            json!({"store_id": store, "sku": "CUP-1", "title": "Cup"}),
        ),
        (Method::PATCH, path.clone(), json!({"title": "Cup"})),
        (
            Method::PUT,
            format!("{path}/stock"),
            json!({"api_quantity": 9}),
        ),
        (
            Method::PUT,
            format!("{path}/plugin-stock"),
            json!({"plugin_quantity": 2}),
        ),
    ];
    let mut answers = Vec::new();
    for (method, path, body) in &changes {
        let res = send(&app, method.clone(), path, &t.token, Some(body.clone())).await;
        answers.push((format!("{method} {path}"), res.status()));
    }
    allow(&pool, &refusal).await;
    assert!(
        answers.iter().all(|(_, s)| s.is_server_error()),
        "a change whose event cannot be written fails: {answers:?}"
    );
    let cups = ok_json(
        app.get(
            &format!("/v1/products?store_id={store}&sku=CUP-1"),
            &t.token,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(cups["items"], json!([]), "nothing was created");
    let now = ok_json(app.get(&path, &t.token).await, StatusCode::OK).await;
    assert_eq!(now, mug, "nothing was changed");
    assert_eq!(product_events(&pool, id).await.len(), 1);

    // Allowed again: the change and its event.
    let renamed = ok_json(
        app.patch(&path, &t.token, json!({"title": "Cup"})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        product_events(&pool, id).await.pop(),
        Some(("product.updated".to_owned(), renamed))
    );
    app.stop().await;
}

#[tokio::test]
async fn stock_changes_through_the_api_send_product_updated_with_the_new_figures() {
    let (app, pool, t, store) = tenant_with_a_store().await;
    let part = create_id(
        &app,
        &t.token,
        json!({"store_id": store, "sku": "PART-1", "title": "Part", "api_quantity": 5}),
    )
    .await;
    let kit = create_id(
        &app,
        &t.token,
        json!({"store_id": store, "sku": "KIT-1", "title": "Kit"}),
    )
    .await;
    ok_json(
        app.put(
            &format!("/v1/products/{kit}/components"),
            &t.token,
            json!([{"product_id": part, "quantity": 2}]),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let read = |id: i64| {
        let app = &app;
        let token = t.token.clone();
        async move {
            ok_json(
                app.get(&format!("/v1/products/{id}"), &token).await,
                StatusCode::OK,
            )
            .await
        }
    };
    let last_update = |id: i64| {
        let pool = pool.clone();
        async move {
            product_events(&pool, id)
                .await
                .into_iter()
                .rev()
                .find(|(kind, _)| kind == "product.updated")
                .map(|(_, data)| data)
        }
    };
    let adjust = |key: &'static str, delta: i64| {
        app.request(
            Method::POST,
            &format!("/v1/products/{part}/stock/adjust"),
            &t.token,
        )
        .header("idempotency-key", key)
        .json(&json!({"delta": delta}))
        .send()
    };

    let mut figures = Vec::new();
    for what in ["set", "adjust", "plugin stock"] {
        let res = match what {
            "set" => {
                app.put(
                    &format!("/v1/products/{part}/stock"),
                    &t.token,
                    json!({"api_quantity": 10}),
                )
                .await
            }
            "adjust" => adjust("ev-adjust-1", -3).await.unwrap(),
            _ => {
                app.put(
                    &format!("/v1/products/{part}/plugin-stock"),
                    &t.token,
                    json!({"plugin_quantity": 2}),
                )
                .await
            }
        };
        assert_eq!(res.status(), StatusCode::OK, "{what}");
        let (part_now, kit_now) = (read(part).await, read(kit).await);
        figures.push((
            what,
            part_now["api_quantity"].clone(),
            part_now["plugin_quantity"].clone(),
        ));
        assert_eq!(
            last_update(part).await,
            Some(part_now),
            "{what}: product.updated carries the product as the API shows it"
        );
        assert_eq!(
            last_update(kit).await,
            Some(kit_now),
            "{what}: and the kit it is a component of"
        );
    }
    // A replayed adjustment moves nothing and announces nothing.
    let before = product_events(&pool, part).await.len();
    assert_eq!(
        adjust("ev-adjust-1", -3).await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(product_events(&pool, part).await.len(), before);
    app.stop().await;
}
