//! Accounting connections over HTTP: created awaiting authorization with their client
//! credentials sealed and never answered, refused with a 422 naming the field, the authorization
//! redirect carrying a single-use state, and the platform's callback refusing a missing, unknown
//! or spent state with a page that says so.

mod accounting_helpers;
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

/// A connection in a channel's store, written through the API; its id.
async fn connection_in(app: &TestServer, token: &str, store: i64) -> i64 {
    let created: Value = app
        .post("/v1/accounting-connections", token, connection(store))
        .await
        .json()
        .await
        .unwrap();
    created["id"].as_i64().unwrap()
}

#[tokio::test]
async fn an_order_becomes_one_pending_invoice_with_its_total_and_bad_invoices_are_refused() {
    use switchyard::domain::Decision;
    use tenant_helpers::{channel, order, upsert};

    let app = server().await;
    let pool = pool().await;
    let t = tenant(&pool).await;
    let ch = channel(&pool, &app_helpers::key(&app.settings), t.account).await;
    let stored = upsert(&pool, &ch, &order("5001"), &Decision::Import).await;
    let conn = connection_in(&app, &t.token, ch.store_id).await;

    let res = app
        .post(
            "/v1/invoices",
            &t.token,
            json!({"connection_id": conn, "order_id": stored.order_id}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let invoice: Value = res.json().await.unwrap();
    assert_eq!(invoice["status"], "pending");
    assert_eq!(invoice["reference"], "#5001");
    assert_eq!(invoice["total"], "49.00", "the order's total: {invoice}");
    let lines = invoice["invoice"]["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 3, "two lines and shipping: {invoice}");
    assert_eq!(lines[2]["description"], "Shipping");
    assert_eq!(invoice["invoice"]["contact"]["email"], "ada@example.com");

    // Asked again: the same invoice.
    let res = app
        .post(
            "/v1/invoices",
            &t.token,
            json!({"connection_id": conn, "order_id": stored.order_id}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let again: Value = res.json().await.unwrap();
    assert_eq!(again["id"], invoice["id"]);

    let free = json!({
        "connection_id": conn, "reference": "WHOLESALE-1", "currency": "GBP",
        "contact": {"name": "Acme Trading"},
        "lines": [{"description": "Tents", "quantity": "10", "unit_amount": "120.00",
                   "tax_amount": "240.00", "tax_rate": "20"}]
    });
    let res = app.post("/v1/invoices", &t.token, free.clone()).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let written: Value = res.json().await.unwrap();
    assert_eq!(written["total"], "1440.00");
    assert_eq!(written["order_id"], Value::Null);

    let mut cases: Vec<(Value, &str)> = Vec::new();
    let mut bad = free.clone();
    bad["lines"][0]["quantity"] = json!("0");
    cases.push((bad, "lines[0].quantity"));
    let mut bad = free.clone();
    bad["currency"] = json!("pounds");
    cases.push((bad, "currency"));
    let mut bad = free.clone();
    bad.as_object_mut().unwrap().remove("contact");
    cases.push((bad, "contact"));
    let mut bad = free.clone();
    bad["connection_id"] = json!(conn + 1_000_000);
    cases.push((bad, "connection_id"));
    cases.push((
        json!({"connection_id": conn, "order_id": stored.order_id, "currency": "EUR"}),
        "currency",
    ));
    // An order of another store of the account.
    let other = channel(&pool, &app_helpers::key(&app.settings), t.account).await;
    let elsewhere = upsert(&pool, &other, &order("5002"), &Decision::Import).await;
    cases.push((
        json!({"connection_id": conn, "order_id": elsewhere.order_id}),
        "order_id",
    ));
    for (body, field) in cases {
        let res = app.post("/v1/invoices", &t.token, body).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{field}");
        let problem: Value = res.json().await.unwrap();
        assert_eq!(problem["field"], field, "{problem}");
    }
    let list: Value = app
        .get(&format!("/v1/invoices?connection_id={conn}"), &t.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        2,
        "nothing else written"
    );
    app.stop().await;
}

/// The grant's life against the Xero simulator: the code flow end to end, a token refreshed
/// transparently when it nears expiry, two refreshes at once leaving one valid refresh token,
/// and a revoked grant ending in `needs_reauth` without a storm of retries.
mod grant {

    use switchyard::connectors::accounting::{Endpoints, OAuth};
    use switchyard::connectors::http::{client, client_settings};
    use switchyard::domain::accounting::AccountingKind;
    use switchyard::domain::Secret;
    use switchyard::store::accounting::{self, GrantError};
    use switchyard_sandbox::XeroOrg;

    use super::accounting_helpers::{connect, xero};
    use super::*;

    fn oauth(app: &TestServer, org: &XeroOrg) -> OAuth {
        let http = client(&client_settings(&app.settings)).unwrap();
        let endpoints = Endpoints::of(AccountingKind::Xero, Some(org.base_url())).unwrap();
        OAuth::new(AccountingKind::Xero, endpoints, http)
    }

    /// An access token for connection `id`, refreshed through `oauth` when due.
    async fn access(app: &TestServer, oauth: &OAuth, id: i64) -> Result<Secret, GrantError> {
        let key = app_helpers::key(&app.settings);
        accounting::access_token(&pool().await, &key, id, |client, refresh| async move {
            oauth.refresh(&client, &refresh).await
        })
        .await
    }

    /// Whether Xero accepts `access` for the organisation list.
    async fn works(org: &XeroOrg, access: &Secret) -> bool {
        let res = reqwest::Client::new()
            .get(format!("{}/connections", org.base_url()))
            .bearer_auth(access.expose())
            .send()
            .await
            .unwrap();
        res.status() == StatusCode::OK
    }

    fn token_calls(org: &XeroOrg) -> u64 {
        let traffic = org.traffic().snapshot();
        traffic
            .by_route
            .iter()
            .filter(|(route, _)| route.contains("/connect/token"))
            .map(|(_, n)| n)
            .sum()
    }

    #[tokio::test]
    async fn an_authorized_connection_reaches_its_organisation_and_refreshes_near_expiry() {
        // Access tokens live 123 s: fresh for the first 3 s, then within the refresh margin.
        let (sandbox, org) = xero(|c| {
            c.access_token_secs = 123;
            c.refresh_grace_secs = 0;
        })
        .await;
        let app = server().await;
        let t = tenant(&pool().await).await;
        let store = app.create_store(&t.token).await;
        let id = connect(&app, &t.token, &org, store).await;
        let read: Value = app
            .get(&format!("/v1/accounting-connections/{id}"), &t.token)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(read["status"], "connected");
        assert_eq!(read["organisation_id"], org.tenant_id());
        assert_eq!(read["organisation_name"], org.tenant_name());

        let oauth = oauth(&app, &org);
        let first = access(&app, &oauth, id).await.expect("a token");
        assert!(works(&org, &first).await);
        let calls = token_calls(&org);
        tokio::time::sleep(Duration::from_secs(4)).await;
        let second = access(&app, &oauth, id).await.expect("a refreshed token");
        assert_ne!(first.expose(), second.expose(), "refreshed");
        assert_eq!(token_calls(&org), calls + 1, "one refresh");
        assert!(works(&org, &second).await);
        assert_eq!(org.live_refresh_tokens(), 1, "the rotated one only");
        app.stop().await;
        sandbox.shutdown().await;
    }

    #[tokio::test]
    async fn refreshes_at_once_leave_one_valid_refresh_token() {
        // Every token is due for refresh at once, and a spent refresh token has no grace: two
        // refreshes with the same token would end the grant.
        let (sandbox, org) = xero(|c| {
            c.access_token_secs = 60;
            c.refresh_grace_secs = 0;
        })
        .await;
        let app = server().await;
        let t = tenant(&pool().await).await;
        let store = app.create_store(&t.token).await;
        let id = connect(&app, &t.token, &org, store).await;
        let oauth = oauth(&app, &org);
        let calls = token_calls(&org);
        let racers: Vec<_> = (0..8)
            .map(|_| {
                let (oauth, settings) = (oauth.clone(), app.settings.clone());
                tokio::spawn(async move {
                    let key = app_helpers::key(&settings);
                    accounting::access_token(&pool().await, &key, id, |c, r| async move {
                        oauth.refresh(&c, &r).await
                    })
                    .await
                })
            })
            .collect();
        for racer in racers {
            let token = racer.await.unwrap().expect("every caller gets a token");
            assert!(works(&org, &token).await);
        }
        let refreshes = token_calls(&org) - calls;
        assert!(
            (1..=8).contains(&refreshes),
            "{refreshes} refreshes, one after another"
        );
        assert_eq!(org.live_refresh_tokens(), 1);
        // The stored refresh token is that one: the next refresh works.
        let next = access(&app, &oauth, id).await.expect("still connected");
        assert!(works(&org, &next).await);
        let read: Value = app
            .get(&format!("/v1/accounting-connections/{id}"), &t.token)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(read["status"], "connected");
        app.stop().await;
        sandbox.shutdown().await;
    }

    #[tokio::test]
    async fn a_revoked_grant_ends_in_needs_reauth_without_a_retry_storm() {
        let (sandbox, org) = xero(|c| c.access_token_secs = 60).await;
        let app = server().await;
        let t = tenant(&pool().await).await;
        let store = app.create_store(&t.token).await;
        let id = connect(&app, &t.token, &org, store).await;
        let oauth = oauth(&app, &org);
        org.revoke_grant();
        let calls = token_calls(&org);
        let refused = access(&app, &oauth, id).await;
        assert!(
            matches!(&refused, Err(GrantError::NeedsReauth(why)) if why.contains("invalid_grant")),
            "{refused:?}"
        );
        let read: Value = app
            .get(&format!("/v1/accounting-connections/{id}"), &t.token)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(read["status"], "needs_reauth");
        let reason = read["status_reason"].as_str().unwrap_or_default();
        assert!(reason.contains("Xero refused the grant"), "{reason}");
        // Later calls are refused here, without asking Xero again.
        for _ in 0..5 {
            assert!(matches!(
                access(&app, &oauth, id).await,
                Err(GrantError::NeedsReauth(_))
            ));
        }
        assert_eq!(token_calls(&org), calls + 1, "one refusal, no storm");
        app.stop().await;
        sandbox.shutdown().await;
    }
}
