//! The fulfilment-centre simulator over HTTP: orders signed as switchyard signs them, a stand-in
//! for switchyard's callback endpoints, and the centre's fault knobs.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use switchyard_sandbox::fulfilment_centre::{
    BookedState, CallbackKind, FulfilmentCentre, FulfilmentCentreConfig, FulfilmentCentreHandle,
};
use switchyard_sandbox::FaultKnobs;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const TOKEN: &str = "syp_test-token";

/// `v1,<base64 HMAC-SHA256 of "id.ts.body">`, as switchyard signs.
fn signature(secret: &str, id: &str, ts: i64, body: &[u8]) -> String {
    let key = STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .expect("a base64 secret");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("any key length");
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

fn order(id: i64, status: &str, quantity: u64) -> Value {
    json!({
        "type": "order.created",
        "plugin_id": 1,
        "order": {
            "id": id,
            "status": status,
            "order_number": format!("#{id}"),
            "lines": [{"id": id * 10, "sku": "MS-1", "quantity": quantity}],
        }
    })
}

/// What the stand-in for switchyard received: (path, authorization, idempotency key, body).
type Received = Arc<Mutex<Vec<(String, String, String, Value)>>>;

/// A stand-in for switchyard's callback endpoints, answering `statuses` in turn (then 200).
async fn switchyard(statuses: Vec<u16>) -> (String, Received) {
    #[derive(Clone)]
    struct S {
        received: Received,
        statuses: Arc<Mutex<Vec<u16>>>,
    }
    async fn take(
        State(s): State<S>,
        uri: axum::http::Uri,
        headers: HeaderMap,
        Json(body): Json<Value>,
    ) -> StatusCode {
        let header = |n: &str| {
            headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        s.received.lock().unwrap().push((
            uri.path().to_owned(),
            header("authorization"),
            header("idempotency-key"),
            body,
        ));
        let mut statuses = s.statuses.lock().unwrap();
        let status = if statuses.is_empty() {
            200
        } else {
            statuses.remove(0)
        };
        StatusCode::from_u16(status).unwrap()
    }
    let state = S {
        received: Arc::default(),
        statuses: Arc::new(Mutex::new(statuses)),
    };
    let received = state.received.clone();
    let app = Router::new()
        .route("/v1/plugin-callbacks/{kind}", post(take))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

async fn centre(ship_after: Option<Duration>, switchyard_url: &str) -> FulfilmentCentreHandle {
    let centre = FulfilmentCentre::start(FulfilmentCentreConfig {
        ship_after,
        ..FulfilmentCentreConfig::default()
    })
    .await
    .unwrap();
    centre.configure(SECRET, TOKEN, switchyard_url);
    centre
}

/// Sends `body` signed with `secret`, as delivery `id`, stamped `ts`.
async fn deliver(
    centre: &FulfilmentCentreHandle,
    secret: &str,
    id: &str,
    ts: i64,
    body: &Value,
) -> reqwest::Response {
    let bytes = serde_json::to_vec(body).unwrap();
    reqwest::Client::new()
        .post(centre.endpoint_url())
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", signature(secret, id, ts, &bytes))
        .body(bytes)
        .send()
        .await
        .unwrap()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[tokio::test]
async fn signed_orders_are_booked_once_and_anything_else_is_refused() {
    let (url, _) = switchyard(vec![]).await;
    let centre = centre(None, &url).await;
    let res = deliver(&centre, SECRET, "msg_1", now(), &order(7, "unshipped", 1)).await;
    assert_eq!(res.status(), 200);
    let first: Value = res.json().await.unwrap();
    assert_eq!(first["status"], "accepted");
    let reference = first["reference"].as_str().unwrap().to_owned();

    // A resend of the same order (a new delivery) updates it; a retried delivery changes nothing.
    let res = deliver(&centre, SECRET, "msg_2", now(), &order(7, "unshipped", 3)).await;
    let second: Value = res.json().await.unwrap();
    assert_eq!(second["reference"], reference.as_str());
    assert_eq!(second["status"], "updated");
    let res = deliver(&centre, SECRET, "msg_2", now(), &order(7, "unshipped", 3)).await;
    assert_eq!(res.status(), 200);
    let books = centre.orders();
    assert_eq!(books.len(), 1, "one order, however often sent");
    assert_eq!(books[0].versions, 2);
    assert_eq!(books[0].lines[0].quantity, 3);

    // Wrong secret, stale timestamp, tampered body, missing headers: 401, nothing booked.
    let other = "whsec_bm90IHRoZSBzZWNyZXQgYXQgYWxs";
    let bad = deliver(&centre, other, "msg_3", now(), &order(8, "unshipped", 1)).await;
    assert_eq!(bad.status(), 401);
    let stale = deliver(
        &centre,
        SECRET,
        "msg_4",
        now() - 600,
        &order(8, "unshipped", 1),
    )
    .await;
    assert_eq!(stale.status(), 401);
    let body = serde_json::to_vec(&order(8, "unshipped", 1)).unwrap();
    let ts = now();
    let tampered = reqwest::Client::new()
        .post(centre.endpoint_url())
        .header("webhook-id", "msg_5")
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", signature(SECRET, "msg_5", ts, &body))
        .body(serde_json::to_vec(&order(8, "unshipped", 99)).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(tampered.status(), 401);
    let unsigned = reqwest::Client::new()
        .post(centre.endpoint_url())
        .json(&order(8, "unshipped", 1))
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);
    assert!(centre.order(8).is_none());

    // During a rotation either secret verifies.
    centre.add_signing_secret(other);
    let rotated = deliver(&centre, other, "msg_6", now(), &order(8, "unshipped", 1)).await;
    assert_eq!(rotated.status(), 200);
    centre.shutdown().await;
}

#[tokio::test]
async fn orders_ship_after_the_delay_with_tracking_and_cancelled_ones_never_do() {
    let (url, received) = switchyard(vec![503]).await;
    let centre = centre(Some(Duration::from_millis(300)), &url).await;
    assert_eq!(
        deliver(&centre, SECRET, "a", now(), &order(7, "unshipped", 2))
            .await
            .status(),
        200
    );
    assert_eq!(
        deliver(&centre, SECRET, "b", now(), &order(8, "unshipped", 1))
            .await
            .status(),
        200
    );
    assert_eq!(
        deliver(&centre, SECRET, "c", now(), &order(8, "cancelled", 1))
            .await
            .status(),
        200
    );
    assert!(
        received.lock().unwrap().is_empty(),
        "nothing ships before the delay"
    );

    let deadline = Instant::now() + Duration::from_secs(10);
    while centre.order(7).map(|o| o.state) != Some(BookedState::Shipped)
        || received.lock().unwrap().len() < 2
    {
        assert!(Instant::now() < deadline, "{:?}", centre.callbacks());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = received.lock().unwrap().clone();
    // The first try met a 503 and was retried with the same key.
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].2, got[1].2);
    let (path, auth, _, body) = &got[1];
    assert_eq!(path, "/v1/plugin-callbacks/fulfilments");
    assert_eq!(auth, &format!("Bearer {TOKEN}"));
    assert_eq!(body["order_id"], 7);
    assert_eq!(body["lines"], json!([{"line_id": 70, "quantity": 2}]));
    assert_eq!(body["carrier"], "Royal Mail");
    let tracking = body["tracking_number"].as_str().unwrap();
    assert!(!tracking.is_empty());
    assert!(body["tracking_url"].as_str().unwrap().ends_with(tracking));
    assert_eq!(
        centre.order(8).map(|o| o.state),
        Some(BookedState::Cancelled)
    );
    assert!(
        got.iter().all(|(_, _, _, b)| b["order_id"] != 8),
        "a cancelled order is not shipped"
    );
    assert!(!centre.ship_now(7).await, "shipped once");
    centre.shutdown().await;
}

#[tokio::test]
async fn stock_levels_are_reported_with_the_token_and_a_key_kept_across_retries() {
    let (url, received) = switchyard(vec![429, 200, 422]).await;
    let centre = centre(None, &url).await;
    centre.set_stock("MS-1", 40);
    centre.set_stock("ZZ-9", 5);
    let statuses = centre.report_stock().await;
    assert_eq!(statuses["MS-1"], Some(200));
    assert_eq!(statuses["ZZ-9"], Some(422), "a 4xx is not retried");
    let got = received.lock().unwrap().clone();
    assert_eq!(got.len(), 3);
    assert!(got
        .iter()
        .all(|(p, a, _, _)| p == "/v1/plugin-callbacks/stock" && a == &format!("Bearer {TOKEN}")));
    assert_eq!(got[0].2, got[1].2, "the retry after a 429 keeps its key");
    assert_ne!(got[1].2, got[2].2, "each report has its own key");
    assert_eq!(got[1].3, json!({"sku": "MS-1", "quantity": 40}));
    assert_eq!(
        centre
            .callbacks()
            .iter()
            .filter(|c| c.kind == CallbackKind::Stock)
            .count(),
        3
    );
    centre.shutdown().await;
}

#[tokio::test]
async fn fault_knobs_answer_5xx_429_and_hang() {
    let (url, _) = switchyard(vec![]).await;
    let centre = centre(None, &url).await;
    centre.faults().set(FaultKnobs {
        burst_429: 1,
        retry_after_secs: 3.0,
        ..FaultKnobs::default()
    });
    let res = deliver(&centre, SECRET, "a", now(), &order(7, "unshipped", 1)).await;
    assert_eq!(res.status(), 429);
    assert_eq!(
        res.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("3")
    );
    centre.faults().set(FaultKnobs {
        error_5xx_ratio: 1.0,
        ..FaultKnobs::default()
    });
    assert_eq!(
        deliver(&centre, SECRET, "b", now(), &order(7, "unshipped", 1))
            .await
            .status(),
        503
    );
    assert!(
        centre.orders().is_empty(),
        "a failed delivery books nothing"
    );
    centre.faults().set(FaultKnobs {
        hang_ratio: 1.0,
        ..FaultKnobs::default()
    });
    let body = serde_json::to_vec(&order(7, "unshipped", 1)).unwrap();
    let ts = now();
    let hung = reqwest::Client::new()
        .post(centre.endpoint_url())
        .timeout(Duration::from_millis(300))
        .header("webhook-id", "c")
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", signature(SECRET, "c", ts, &body))
        .body(body)
        .send()
        .await;
    assert!(hung.is_err_and(|e| e.is_timeout()));
    centre.faults().set(FaultKnobs::default());
    assert_eq!(
        deliver(&centre, SECRET, "d", now(), &order(7, "unshipped", 1))
            .await
            .status(),
        200
    );
    let traffic = centre.traffic().snapshot();
    assert_eq!(traffic.responses_429, 1);
    assert!(traffic.responses_5xx >= 1);
    centre.shutdown().await;
}
