//! `Idempotency-Key` on POST, through the HTTP API: a retried request gets the first answer and
//! causes nothing new; the same key with another request, or from another caller, does not.

mod tenant_helpers;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tenant_helpers::{pool, spawn_server, tenant, unique, TestServer};

async fn create_store(
    app: &TestServer,
    token: &str,
    key: Option<&str>,
    name: &str,
) -> reqwest::Response {
    let mut req = app
        .request(Method::POST, "/v1/stores", token)
        .json(&json!({ "name": name }));
    if let Some(key) = key {
        req = req.header("idempotency-key", key);
    }
    req.send().await.expect("request sent")
}

async fn store_names(app: &TestServer, token: &str) -> Vec<String> {
    let page: Value = app
        .request(Method::GET, "/v1/stores?limit=100", token)
        .send()
        .await
        .expect("request sent")
        .json()
        .await
        .expect("JSON");
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|s| s["name"].as_str().map(str::to_owned))
        .collect()
}

fn replayed(res: &reqwest::Response) -> bool {
    res.headers()
        .get("idempotent-replayed")
        .and_then(|v| v.to_str().ok())
        == Some("true")
}

#[tokio::test]
async fn a_retried_post_answers_the_first_time_and_creates_nothing_new() {
    let app = spawn_server().await;
    let pool = pool().await;
    let t = tenant(&pool).await;
    let key = unique("create-store");

    let first = create_store(&app, &t.token, Some(&key), "North").await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert!(!replayed(&first));
    let first_body = first.text().await.unwrap();

    let again = create_store(&app, &t.token, Some(&key), "North").await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert!(replayed(&again));
    assert_eq!(
        again
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    assert_eq!(again.text().await.unwrap(), first_body);
    assert_eq!(store_names(&app, &t.token).await, vec!["North".to_owned()]);

    // The same key for another request is refused and changes nothing.
    let other = create_store(&app, &t.token, Some(&key), "South").await;
    assert_eq!(other.status(), StatusCode::CONFLICT);
    let problem: Value = other.json().await.unwrap();
    assert_eq!(
        problem["type"],
        "https://switchyard.dev/problems/idempotency-key-reused"
    );
    assert_eq!(store_names(&app, &t.token).await, vec!["North".to_owned()]);

    // Without a key, each request is its own.
    for name in ["West", "East"] {
        let res = create_store(&app, &t.token, None, name).await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    assert_eq!(store_names(&app, &t.token).await.len(), 3);
    app.stop().await;
}

#[tokio::test]
async fn keys_belong_to_their_caller_and_bad_keys_are_refused() {
    let app = spawn_server().await;
    let pool = pool().await;
    let (a, b) = (tenant(&pool).await, tenant(&pool).await);
    let key = unique("shared");

    let res = create_store(&app, &a.token, Some(&key), "A's store").await;
    assert_eq!(res.status(), StatusCode::CREATED);
    // Another caller's identical key is not a replay of the first: it creates its own store.
    let res = create_store(&app, &b.token, Some(&key), "A's store").await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert!(!replayed(&res));
    assert_eq!(
        store_names(&app, &b.token).await,
        vec!["A's store".to_owned()]
    );

    for bad in ["has space", &"k".repeat(256)] {
        let res = create_store(&app, &a.token, Some(bad), "Bad").await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    assert_eq!(store_names(&app, &a.token).await.len(), 1);

    // A refused request (4xx) is kept too: the retry gets the same refusal, not a second try.
    let key = unique("invalid");
    for _ in 0..2 {
        let res = app
            .request(Method::POST, "/v1/stores", &a.token)
            .header("idempotency-key", &key)
            .json(&json!({ "name": "" }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    app.stop().await;
}
