//! The HTTP API against real Redis and PostgreSQL: what a caller sees (status, problem+json
//! field, job state) and what the queue holds afterwards.

mod api_helpers;
mod app_helpers;
mod http_helpers;

use std::time::Duration;

use api_helpers::{problem, spawn_app};
use app_helpers::settings;
use http_helpers::{challenge, json_body};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn import(channel_id: i64) -> Value {
    json!({"channel_id": channel_id, "reason": "manual"})
}

#[tokio::test]
async fn v1_needs_the_ops_token_and_probes_do_not() {
    let app = spawn_app().await;

    let none = app.client.get(app.url("/v1/queues")).send().await.unwrap();
    assert_eq!(challenge(&none), Some("Bearer"));
    problem(none, StatusCode::UNAUTHORIZED).await;

    let wrong = app
        .client
        .post(app.url("/v1/queues/noop/jobs"))
        .bearer_auth("test-tokem")
        .json(&json!({"payload": {}}))
        .send()
        .await
        .unwrap();
    problem(wrong, StatusCode::UNAUTHORIZED).await;
    assert_eq!(app.stats("noop").await["enqueued_total"], 0);

    let basic = app
        .client
        .get(app.url("/v1/queues"))
        .basic_auth("ops", Some(&app.token))
        .send()
        .await
        .unwrap();
    problem(basic, StatusCode::UNAUTHORIZED).await;

    assert_eq!(app.get("/v1/queues").await.status(), StatusCode::OK);
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(health.text().await.unwrap(), "ok");

    app.cleanup().await;
}

#[tokio::test]
async fn an_enqueued_job_is_ready_and_readable() {
    let app = spawn_app().await;

    let res = app
        .post_json(
            "/v1/queues/import-orders/jobs",
            &json!({"payload": import(7)}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["created"], true);
    let id = body["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/v1/jobs/import-orders/{id}"));

    let job = json_body(app.get(&location).await).await;
    assert_eq!(job["id"], id.as_str());
    assert_eq!(job["queue"], "import-orders");
    assert_eq!(job["status"], "ready");
    assert_eq!(job["attempts"], 0);
    assert_eq!(job["payload"], import(7));
    assert!(job["last_error"].is_null());
    assert!(job["enqueued_at"].is_string());

    let lower = app
        .get(&format!("/v1/jobs/import-orders/{}", id.to_lowercase()))
        .await;
    assert_eq!(lower.status(), StatusCode::OK, "ULIDs are case-insensitive");

    let stats = app.stats("import-orders").await;
    assert_eq!(stats["ready"], 1);
    assert_eq!(stats["enqueued_total"], 1);

    app.cleanup().await;
}

#[tokio::test]
async fn delayed_jobs_wait_as_scheduled() {
    let app = spawn_app().await;

    let by_delay = app
        .post_json(
            "/v1/queues/sync-stock/jobs",
            &json!({"payload": {"channel_id": 1}, "delay_ms": 60_000}),
        )
        .await;
    assert_eq!(by_delay.status(), StatusCode::CREATED);
    let run_at = (chrono::Utc::now() + chrono::Duration::minutes(5)).to_rfc3339();
    let by_time = app
        .post_json(
            "/v1/queues/sync-stock/jobs",
            &json!({"payload": {"channel_id": 2}, "run_at": run_at, "max_attempts": 2}),
        )
        .await;
    assert_eq!(by_time.status(), StatusCode::CREATED);
    let id = by_time.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let job = json_body(app.get(&format!("/v1/jobs/sync-stock/{id}")).await).await;
    assert_eq!(job["status"], "scheduled");
    assert_eq!(job["max_attempts"], 2);
    let stats = app.stats("sync-stock").await;
    assert_eq!(
        (stats["scheduled"].clone(), stats["ready"].clone()),
        (json!(2), json!(0))
    );

    app.cleanup().await;
}

#[tokio::test]
async fn bad_requests_name_the_field_and_write_nothing() {
    let app = spawn_app().await;
    let path = "/v1/queues/import-orders/jobs";

    let cases: Vec<(Value, StatusCode, Option<&str>)> = vec![
        (
            json!({"payload": {"channel_id": "seven", "reason": "manual"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("payload.channel_id"),
        ),
        (
            json!({"payload": {"channel_id": 7}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("payload.reason"),
        ),
        (
            json!({"payload": {"channel_id": 7, "reason": "whenever"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("payload.reason"),
        ),
        (
            json!({"payload": {"channel_id": 7, "reason": "manual", "shop": "x"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("payload.shop"),
        ),
        (
            json!({"payload": [7]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("payload"),
        ),
        (
            json!({"payload": import(7), "priority": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("priority"),
        ),
        (
            json!({"delay_ms": 5}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("payload"),
        ),
        (
            json!({"payload": import(7), "delay_ms": 1000, "run_at": "2030-01-01T00:00:00Z"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("run_at"),
        ),
        (
            json!({"payload": import(7), "delay_ms": -1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("delay_ms"),
        ),
        (
            json!({"payload": import(7), "run_at": "next tuesday"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("run_at"),
        ),
        (
            json!({"payload": import(7), "max_attempts": 0}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("max_attempts"),
        ),
        (
            json!({"payload": import(7), "unique_key": ""}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("unique_key"),
        ),
    ];
    for (body, status, field) in cases {
        let res = app.post_json(path, &body).await;
        let p = problem(res, status).await;
        assert_eq!(p["field"].as_str(), field, "field for {body}: {p}");
    }

    let malformed = app
        .request(Method::POST, path)
        .header("content-type", "application/json")
        .body(r#"{"payload": {"channel_id": 7,"#)
        .send()
        .await
        .unwrap();
    let p = problem(malformed, StatusCode::BAD_REQUEST).await;
    assert!(p.get("field").is_none());

    let not_json = app
        .request(Method::POST, path)
        .header("content-type", "text/plain")
        .body(json!({"payload": import(7)}).to_string())
        .send()
        .await
        .unwrap();
    problem(not_json, StatusCode::BAD_REQUEST).await;

    let bulk_one_bad = app
        .post_json(
            "/v1/queues/import-orders/jobs/bulk",
            &json!({"jobs": [import(1), {"channel_id": true, "reason": "timer"}, import(3)]}),
        )
        .await;
    let p = problem(bulk_one_bad, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(p["field"], "jobs[1].channel_id");

    let too_many: Vec<Value> = (0..1001).map(import).collect();
    let bulk_too_big = app
        .post_json(
            "/v1/queues/import-orders/jobs/bulk",
            &json!({ "jobs": too_many }),
        )
        .await;
    let p = problem(bulk_too_big, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(p["field"], "jobs");

    let bulk_unique = app
        .post_json(
            "/v1/queues/import-orders/jobs/bulk",
            &json!({"jobs": [import(1)], "unique_key": "k"}),
        )
        .await;
    let p = problem(bulk_unique, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(p["field"], "unique_key");

    let stats = app.stats("import-orders").await;
    assert_eq!(stats["enqueued_total"], 0, "nothing was written: {stats}");
    assert_eq!(stats["ready"], 0);
    assert_eq!(stats["scheduled"], 0);

    app.cleanup().await;
}

#[tokio::test]
async fn unknown_queues_and_jobs_are_not_found() {
    let app = spawn_app().await;
    let ghost = ulid::Ulid::new().to_string();

    let enqueue = app
        .post_json("/v1/queues/no-such-queue/jobs", &json!({"payload": {}}))
        .await;
    problem(enqueue, StatusCode::NOT_FOUND).await;
    problem(
        app.get("/v1/queues/no-such-queue").await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(
        app.get("/v1/queues/Bad%20Name").await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(
        app.post("/v1/queues/no-such-queue/pause").await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(
        app.get(&format!("/v1/jobs/no-such-queue/{ghost}")).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(
        app.get(&format!("/v1/jobs/noop/{ghost}")).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(
        app.get("/v1/jobs/noop/not-a-ulid").await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert!(
        !app.broker
            .queue_names()
            .await
            .unwrap()
            .contains(&"no-such-queue".to_owned()),
        "refused requests register no queue"
    );

    problem(app.get("/no/such/route").await, StatusCode::NOT_FOUND).await;
    let wrong_method = app.request(Method::PUT, "/v1/queues").send().await.unwrap();
    let allow = wrong_method.headers().get("allow").cloned();
    problem(wrong_method, StatusCode::METHOD_NOT_ALLOWED).await;
    assert!(allow.is_some(), "405 keeps its Allow header");

    let limit = app.settings.server.body_limit_bytes;
    let huge = app
        .request(Method::POST, "/v1/queues/noop/jobs")
        .header("content-type", "application/json")
        .body(format!(
            r#"{{"payload": {{}}, "pad": "{}"}}"#,
            "x".repeat(limit)
        ))
        .send()
        .await
        .unwrap();
    problem(huge, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert_eq!(app.stats("noop").await["enqueued_total"], 0);

    app.cleanup().await;
}

#[tokio::test]
async fn a_held_unique_key_returns_the_pending_job() {
    let app = spawn_app().await;
    let body = json!({"payload": {"channel_id": 9}, "unique_key": "stock:9"});

    let first = app.post_json("/v1/queues/sync-stock/jobs", &body).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let second = app.post_json("/v1/queues/sync-stock/jobs", &body).await;
    assert_eq!(second.status(), StatusCode::OK);
    let second: Value = second.json().await.unwrap();

    assert_eq!(second["id"], first["id"]);
    assert_eq!(second["created"], false);
    let stats = app.stats("sync-stock").await;
    assert_eq!(stats["ready"], 1);

    let other = app
        .post_json(
            "/v1/queues/sync-stock/jobs",
            &json!({"payload": {"channel_id": 10}, "unique_key": "stock:10"}),
        )
        .await;
    assert_eq!(other.status(), StatusCode::CREATED);
    assert_eq!(app.stats("sync-stock").await["ready"], 2);

    app.cleanup().await;
}

#[tokio::test]
async fn bulk_enqueue_writes_every_job() {
    let app = spawn_app().await;

    let res = app
        .post_json(
            "/v1/queues/push-fulfilment/jobs/bulk",
            &json!({"jobs": [{"fulfilment_id": 1}, {"fulfilment_id": 2}, {"fulfilment_id": 3}]}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.unwrap();
    let ids: Vec<&str> = body["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3);
    assert!(ids[0] != ids[1] && ids[1] != ids[2]);
    let second = json_body(
        app.get(&format!("/v1/jobs/push-fulfilment/{}", ids[1]))
            .await,
    )
    .await;
    assert_eq!(second["payload"], json!({"fulfilment_id": 2}));
    assert_eq!(app.stats("push-fulfilment").await["ready"], 3);

    app.cleanup().await;
}

#[tokio::test]
async fn a_queue_without_a_worker_takes_no_jobs() {
    let app = spawn_app().await;
    // A name no worker handles (post-invoice was one until its worker came).
    for (path, body) in [
        (
            "/v1/queues/post-credit-note/jobs",
            json!({"payload": {"credit_note_id": 1}}),
        ),
        (
            "/v1/queues/post-credit-note/jobs/bulk",
            json!({"jobs": [{"credit_note_id": 1}]}),
        ),
    ] {
        let res = app.post_json(path, &body).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
    }
    app.cleanup().await;
}

#[tokio::test]
async fn pause_and_resume_show_in_stats() {
    let app = spawn_app().await;

    assert_eq!(
        app.post("/v1/queues/push-fulfilment/pause").await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.stats("push-fulfilment").await["paused"], true);
    let all = json_body(app.get("/v1/queues").await).await;
    let queues = all["queues"].as_array().unwrap();
    for typed in switchyard::jobs::QUEUES {
        assert!(
            queues.iter().any(|q| q["queue"] == *typed),
            "{typed} listed"
        );
    }
    let listed = queues
        .iter()
        .find(|q| q["queue"] == "push-fulfilment")
        .unwrap();
    assert_eq!(listed["paused"], true);
    assert!(queues
        .iter()
        .filter(|q| q["queue"] != "push-fulfilment")
        .all(|q| q["paused"] == false));

    assert_eq!(
        app.post("/v1/queues/push-fulfilment/resume").await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.stats("push-fulfilment").await["paused"], false);

    app.cleanup().await;
}

#[tokio::test]
async fn dead_letters_list_requeue_and_purge() {
    let app = spawn_app().await;
    let doomed = json!({"payload": {"permanent": true}});

    let pool = app.start_pool("noop");
    for _ in 0..2 {
        let res = app.post_json("/v1/queues/noop/jobs", &doomed).await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    app.wait_for("noop", |s| s.dead == 2).await;
    pool.stop().await;

    let page = json_body(app.get("/v1/queues/noop/dead?limit=1").await).await;
    assert_eq!(page["jobs"].as_array().unwrap().len(), 1);
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let first = page["jobs"][0].clone();
    assert_eq!(first["status"], "dead");
    assert!(first["last_error"]
        .as_str()
        .unwrap()
        .contains("fail permanently"));
    let rest = json_body(
        app.get(&format!("/v1/queues/noop/dead?limit=1&cursor={cursor}"))
            .await,
    )
    .await;
    assert_eq!(rest["jobs"].as_array().unwrap().len(), 1);
    assert!(rest["next_cursor"].is_null());
    assert_ne!(rest["jobs"][0]["id"], first["id"]);
    let first_id = first["id"].as_str().unwrap().to_owned();
    let second_id = rest["jobs"][0]["id"].as_str().unwrap().to_owned();

    for bad in ["limit=0", "limit=201", "limit=lots"] {
        let p = problem(
            app.get(&format!("/v1/queues/noop/dead?{bad}")).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(p["field"], "limit");
    }
    // An offset past any index Redis has, or no offset at all, is not a cursor of this API.
    for bad in ["cursor=18446744073709551615", "cursor=abc", "cursor=-1"] {
        let p = problem(
            app.get(&format!("/v1/queues/noop/dead?{bad}")).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(p["field"], "cursor");
    }

    // "*" must not reach the scripts, which read it as "every dead letter".
    problem(
        app.delete("/v1/queues/noop/dead/*").await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(
        app.post("/v1/queues/noop/dead/*/requeue").await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(app.stats("noop").await["dead"], 2);

    let one = json_body(
        app.post(&format!("/v1/queues/noop/dead/{first_id}/requeue"))
            .await,
    )
    .await;
    assert_eq!(one["count"], 1);
    let job = json_body(app.get(&format!("/v1/jobs/noop/{first_id}")).await).await;
    assert_eq!(job["status"], "ready");
    problem(
        app.post(&format!("/v1/queues/noop/dead/{first_id}/requeue"))
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;

    let all = json_body(app.post("/v1/queues/noop/dead/requeue").await).await;
    assert_eq!(all["count"], 1);
    let stats = app.stats("noop").await;
    assert_eq!(
        (stats["dead"].clone(), stats["ready"].clone()),
        (json!(0), json!(2))
    );

    let pool = app.start_pool("noop");
    app.wait_for("noop", |s| s.dead == 2).await;
    pool.stop().await;

    let gone = json_body(
        app.delete(&format!("/v1/queues/noop/dead/{second_id}"))
            .await,
    )
    .await;
    assert_eq!(gone["count"], 1);
    problem(
        app.delete(&format!("/v1/queues/noop/dead/{second_id}"))
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let purged = json_body(app.delete("/v1/queues/noop/dead").await).await;
    assert_eq!(purged["count"], 1);
    let empty = json_body(app.get("/v1/queues/noop/dead").await).await;
    assert_eq!(empty["jobs"], json!([]));
    assert_eq!(app.stats("noop").await["dead"], 0);

    app.cleanup().await;
}

#[tokio::test]
async fn readiness_reports_what_is_reachable() {
    let app = spawn_app().await;
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);

    // The same API with a database nobody listens on: not ready, and it says which store.
    let settings = settings();
    let unreachable = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(500))
        .connect_lazy("postgres://postgres@127.0.0.1:1/switchyard_test")
        .unwrap();
    let state = switchyard::api::AppState {
        settings: std::sync::Arc::new(settings),
        broker: app.broker.clone(),
        db: Some(unreachable),
        metrics: switchyard::telemetry::install_metrics(),
        connectors: Default::default(),
        hosted_limits: Default::default(),
    };
    let router = switchyard::api::app(state);
    let res = tower::ServiceExt::oneshot(
        router,
        axum::http::Request::get("/readyz")
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE.as_u16());
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let body = axum::body::to_bytes(res.into_body(), 1 << 16)
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["down"], json!(["postgres"]));

    app.cleanup().await;
}

#[tokio::test]
async fn metrics_show_queue_depths_and_job_timings() {
    let app = spawn_app().await;

    let res = app
        .post_json(
            "/v1/queues/deliver-webhook/jobs/bulk",
            &json!({"jobs": [{"delivery_id": 1}, {"delivery_id": 2}]}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let pool = app.start_pool("noop");
    let res = app
        .post_json("/v1/queues/noop/jobs", &json!({"payload": {}}))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    app.wait_for("noop", |s| s.processed_total == 1).await;
    pool.stop().await;

    let res = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    assert!(
        text.contains(r#"switchyard_queue_depth{queue="deliver-webhook",state="ready"} 2"#),
        "{text}"
    );
    assert!(text.contains(r#"switchyard_queue_depth{queue="noop",state="dead"} 0"#));
    assert!(text.contains("# TYPE switchyard_job_run_seconds histogram"));
    assert!(text.contains("# TYPE switchyard_job_start_latency_seconds histogram"));
    assert!(text.contains(r#"switchyard_job_run_seconds_bucket{queue="noop",le="#));

    app.cleanup().await;
}
