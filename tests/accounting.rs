//! Accounting connections over HTTP: created awaiting authorization with their client
//! credentials sealed and never answered, refused with a 422 naming the field, the authorization
//! redirect carrying a single-use state, and the platform's callback refusing a missing, unknown
//! or spent state with a page that says so.

mod app_helpers;
mod tenant_helpers;

use std::time::Duration;

use app_helpers::{settings, spawn_server_with, TestServer};
use reqwest::header::LOCATION;
use reqwest::{redirect, StatusCode};
use serde_json::{json, Value};
use tenant_helpers::{pool, tenant};

async fn server() -> TestServer {
    let mut s = settings();
    s.server.public_url = "https://switchyard.example.com".to_owned();
    spawn_server_with(s).await
}

fn connection(store: i64) -> Value {
    json!({
        "store_id": store, "kind": "xero", "name": "Acme Outdoor Ltd",
        "base_url": "https://xero.example.com",
        "client": {"client_id": "client-id-1", "client_secret": "very-secret-value"},
        "settings": {"invoice_status": "authorised"}
    })
}

#[tokio::test]
async fn a_connection_waits_for_authorization_and_never_answers_its_secret() {
    let app = server().await;
    let t = tenant(&pool().await).await;
    let store = app.create_store(&t.token).await;

    let res = app
        .post("/v1/accounting-connections", &t.token, connection(store))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let location = res.headers()[LOCATION].to_str().unwrap().to_owned();
    let text = res.text().await.unwrap();
    assert!(!text.contains("very-secret-value") && !text.contains("client-id-1"));
    let created: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(created["status"], "awaiting_authorization");
    assert_eq!(created["settings"]["invoice_status"], "authorised");
    assert_eq!(
        created["settings"]["sales_account_code"], "200",
        "a default"
    );
    assert_eq!(
        location,
        format!("/v1/accounting-connections/{}", created["id"])
    );

    let read: Value = app.get(&location, &t.token).await.json().await.unwrap();
    assert_eq!(read, created);
    let list: Value = app
        .get(
            &format!("/v1/accounting-connections?store_id={store}"),
            &t.token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"], json!([created]));

    // Another account sees nothing of it.
    let other = tenant(&pool().await).await;
    assert_eq!(
        app.get(&location, &other.token).await.status(),
        StatusCode::NOT_FOUND
    );

    assert_eq!(
        app.delete(&location, &t.token).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&location, &t.token).await.status(),
        StatusCode::NOT_FOUND
    );
    app.stop().await;
}

#[tokio::test]
async fn bad_connections_are_refused_naming_the_field() {
    let app = server().await;
    let t = tenant(&pool().await).await;
    let store = app.create_store(&t.token).await;
    let mut cases: Vec<(Value, &str)> = Vec::new();
    let mut bad = connection(store);
    bad["kind"] = json!("quickbooks");
    cases.push((bad, "kind"));
    let mut bad = connection(store);
    bad["client"]["client_secret"] = json!(" padded");
    cases.push((bad, "client.client_secret"));
    let mut bad = connection(store);
    bad["base_url"] = json!("http://10.0.0.7/xero");
    cases.push((bad, "base_url"));
    let mut bad = connection(store);
    bad["settings"] = json!({"sales_account_code": ""});
    cases.push((bad, "settings.sales_account_code"));
    let mut bad = connection(store);
    bad["store_id"] = json!(store + 1_000_000);
    cases.push((bad, "store_id"));
    let mut bad = connection(store);
    bad["settings"] = json!({"invoice_status": "paid"});
    cases.push((bad, "settings.invoice_status"));
    for (body, field) in cases {
        let res = app.post("/v1/accounting-connections", &t.token, body).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{field}");
        let problem: Value = res.json().await.unwrap();
        assert_eq!(problem["field"], field, "{problem}");
    }
    let list: Value = app
        .get("/v1/accounting-connections", &t.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"], json!([]), "nothing half-written");
    app.stop().await;
}

#[tokio::test]
async fn the_authorization_redirect_carries_a_state_the_callback_takes_once() {
    let app = server().await;
    let t = tenant(&pool().await).await;
    let store = app.create_store(&t.token).await;
    let created: Value = app
        .post("/v1/accounting-connections", &t.token, connection(store))
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_i64().unwrap();

    // As a caller that does not follow redirects (a browser would go on to the platform).
    let browser = reqwest::Client::builder()
        .redirect(redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let res = browser
        .get(app.url(&format!("/v1/accounting-connections/{id}/authorize")))
        .bearer_auth(&t.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let location = url::Url::parse(res.headers()[LOCATION].to_str().unwrap()).unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["authorize_url"], location.as_str());
    assert_eq!(body["expires_in"], 900);
    assert_eq!(
        &location[..url::Position::AfterPath],
        "https://xero.example.com/identity/connect/authorize"
    );
    let q: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], "client-id-1");
    assert_eq!(q["response_type"], "code");
    assert_eq!(
        q["redirect_uri"],
        "https://switchyard.example.com/v1/accounting-connections/callback"
    );
    assert!(q["scope"].contains("offline_access"));
    let state = q["state"].clone();
    assert!(state.len() >= 40, "an unguessable state: {state}");

    // The platform's redirect, as a browser follows it.
    let callback = |query: String| {
        let url = app.url(&format!("/v1/accounting-connections/callback?{query}"));
        let browser = browser.clone();
        async move {
            let res = browser.get(url).send().await.unwrap();
            let status = res.status();
            let kind = res.headers()["content-type"].to_str().unwrap().to_owned();
            (status, kind, res.text().await.unwrap())
        }
    };
    let (status, kind, page) = callback("code=abc".to_owned()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(kind.starts_with("text/html"), "{kind}");
    assert!(page.contains("carries no authorization"), "{page}");
    let (status, _, page) = callback("code=abc&state=not-a-state".to_owned()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("expired or was already used"), "{page}");

    // The merchant declined: the state is spent, the connection still waits.
    let (status, _, page) = callback(format!(
        "error=access_denied&error_description=The+user+declined&state={state}"
    ))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        page.contains("did not grant access: The user declined"),
        "{page}"
    );
    let (status, _, page) = callback(format!("code=abc&state={state}")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a state is taken once");
    assert!(page.contains("expired or was already used"), "{page}");
    let read: Value = app
        .get(&format!("/v1/accounting-connections/{id}"), &t.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["status"], "awaiting_authorization");
    app.stop().await;
}
