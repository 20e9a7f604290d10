//! The caller's bad input is the caller's 4xx, never the service's 5xx: a value PostgreSQL
//! cannot hold (a NUL byte in text, a time before 4714-11-24 BC, an integer past its column) is
//! refused at the edge as a problem+json naming the field, whether it came in a JSON body, a
//! query string or an opaque cursor; whatever slips past the edge and makes PostgreSQL raise a
//! data error is still a 422, logged below ERROR. And a fuzz run over every route answers no 5xx.

mod app_helpers;
mod fixture_helpers;
mod fuzz_helpers;
mod http_helpers;
mod tenant_helpers;

use std::sync::{Arc, Mutex};

use app_helpers::{spawn_server, TestServer};
use axum::response::IntoResponse;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http_helpers::problem;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use switchyard::api::error::AppError;
use switchyard::store::StoreError;
use tenant_helpers::{pool, tenant, tenant_with_channel, unique, Tenant};
use tracing::Level;
use tracing_subscriber::layer::SubscriberExt;

/// The first instant before PostgreSQL's `timestamptz` range (4714-11-24 BC, proleptic
/// Gregorian), in the ISO 8601 form a client would send.
const TOO_EARLY: &str = "-4714-11-24T00:00:00Z";

/// Asserts a 422 problem naming `field`, and returns its body.
async fn refused(res: reqwest::Response, field: &str) -> Value {
    let body = problem(res, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(body["field"], field, "{body}");
    body
}

async fn created(res: reqwest::Response) -> Value {
    let status = res.status();
    let body: Value = res.json().await.expect("a JSON answer");
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

/// The server, an account and a store of it.
async fn start() -> (TestServer, Tenant, i64) {
    let app = spawn_server().await;
    let t = tenant(&pool().await).await;
    let store_id = app.create_store(&t.token).await;
    (app, t, store_id)
}

#[tokio::test]
async fn a_nul_in_any_json_text_is_a_422_naming_the_field() {
    let (app, t, store_id) = start().await;

    let res = app
        .post("/v1/stores", &t.token, json!({ "name": "Brand\u{0}One" }))
        .await;
    refused(res, "name").await;

    // Nested, in free-form JSON kept as it is sent (a rule's condition is stored as jsonb).
    let rule = json!({
        "name": "hold",
        "condition": { "type": "sku_in", "skus": ["A", "B\u{0}"] },
        "action": { "type": "set_sync_status", "status": "on_hold" },
    });
    let path = format!("/v1/stores/{store_id}/plugin-rules");
    let res = app.post(&path, &t.token, rule).await;
    refused(res, "condition.skus[1]").await;

    // A key is text too.
    let res = app
        .patch(
            &format!("/v1/stores/{store_id}"),
            &t.token,
            json!({ "name": "fine", "\u{0}": 1 }),
        )
        .await;
    refused(res, "\u{0}").await;
    app.stop().await;
}

#[tokio::test]
async fn a_nul_in_a_query_is_a_422_naming_the_parameter() {
    let (app, t, _) = start().await;
    let res = app.get("/v1/products?sku=%00", &t.token).await;
    refused(res, "sku").await;
    let res = app.get("/v1/stores?cursor=1%002", &t.token).await;
    refused(res, "cursor").await;
    app.stop().await;
}

#[tokio::test]
async fn a_time_postgresql_cannot_hold_is_a_422_naming_the_field() {
    let (app, t, store_id) = start().await;

    let res = app
        .get(&format!("/v1/orders?updated_since={TOO_EARLY}"), &t.token)
        .await;
    refused(res, "updated_since").await;

    let hook = json!({ "url": "http://127.0.0.1:9/hook", "triggers": ["order.created"] });
    let path = format!("/v1/stores/{store_id}/webhooks");
    let made = created(app.post(&path, &t.token, hook).await).await;
    let recover = format!("/v1/webhooks/{}/recover", made["id"]);
    let res = app
        .post(&recover, &t.token, json!({ "since": TOO_EARLY }))
        .await;
    refused(res, "since").await;
    // The range's first instant is fine.
    let res = app
        .post(
            &recover,
            &t.token,
            json!({ "since": "-4713-11-24T00:00:00Z" }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    app.stop().await;
}

#[tokio::test]
async fn a_forged_cursor_is_a_422_naming_the_cursor() {
    let (app, t, _) = start().await;
    // A well-formed token of the orders list, for a time PostgreSQL cannot compare with.
    let micros = chrono::NaiveDate::from_ymd_opt(-4713, 11, 23)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_micros())
        .expect("a date chrono can hold");
    let forged = URL_SAFE_NO_PAD.encode(format!("o1:{micros}:1"));
    let res = app
        .get(&format!("/v1/orders?cursor={forged}"), &t.token)
        .await;
    refused(res, "cursor").await;
    app.stop().await;
}

#[tokio::test]
async fn an_extreme_number_is_a_422_naming_the_field() {
    let (app, t, store_id) = start().await;
    let body = json!({ "store_id": store_id, "sku": unique("N"), "title": "n" });
    let product = created(app.post("/v1/products", &t.token, body).await).await;
    let adjust = format!("/v1/products/{}/stock/adjust", product["id"]);
    // i64::MIN has no absolute value in i64.
    for delta in [json!(i64::MIN), json!(i64::MAX), json!(1_000_000_001)] {
        let res = app
            .request(Method::POST, &adjust, &t.token)
            .header("idempotency-key", ulid::Ulid::new().to_string())
            .json(&json!({ "delta": delta }))
            .send()
            .await
            .expect("an answer, not a dropped connection");
        refused(res, "delta").await;
    }
    app.stop().await;
}

/// Records the level of every event logged while it is the subscriber.
#[derive(Clone, Default)]
struct Levels(Arc<Mutex<Vec<Level>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Levels {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if let Ok(mut levels) = self.0.lock() {
            levels.push(*event.metadata().level());
        }
    }
}

/// The answer an error makes, and the levels it logged at.
async fn answered(err: AppError) -> (axum::http::StatusCode, Value, Vec<Level>) {
    let levels = Levels::default();
    let subscriber = tracing_subscriber::registry().with(levels.clone());
    let res = tracing::subscriber::with_default(subscriber, || err.into_response());
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 16)
        .await
        .expect("a body");
    let body = serde_json::from_slice(&bytes).expect("a problem");
    let logged = levels.0.lock().map(|l| l.clone()).unwrap_or_default();
    (status, body, logged)
}

/// What the edge does not check, PostgreSQL does: a data exception (SQLSTATE class 22) is the
/// request's fault, a 422 logged as a warning, whether it comes straight from sqlx or through the
/// store layer; any other database failure stays a 503 logged as an error.
#[tokio::test]
async fn a_data_error_from_postgresql_is_a_422_logged_below_error() {
    let pool = pool().await;
    let out_of_range = || async {
        sqlx::query("SELECT $1::int4")
            .bind(3_000_000_000_i64)
            .execute(&pool)
            .await
            .expect_err("past int4")
    };
    for err in [
        AppError::from(out_of_range().await),
        AppError::from(StoreError::Database(out_of_range().await)),
    ] {
        let (status, body, levels) = answered(err).await;
        assert_eq!(
            status,
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "{body}"
        );
        assert_eq!(body["type"], "https://switchyard.dev/problems/invalid");
        assert!(
            body["detail"].as_str().is_some_and(|d| d.contains("22003")),
            "{body}"
        );
        assert_eq!(levels, [Level::WARN]);
    }
    let (status, _, levels) = answered(AppError::from(sqlx::Error::PoolTimedOut)).await;
    assert_eq!(status, axum::http::StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(levels, [Level::ERROR]);
}

#[tokio::test]
async fn no_route_answers_5xx_to_fuzzed_input() {
    let app = spawn_server().await;
    let pool = pool().await;
    let (t, ch) = tenant_with_channel(&pool).await;
    fuzz_helpers::run(&app, &pool, &t, &ch).await;
    app.stop().await;
}
