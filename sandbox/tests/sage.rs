//! The Sage Business Cloud Accounting simulator over real HTTP on loopback: the OAuth code flow
//! and token lifecycle, the API a connector uses (contacts, ledger accounts, tax rates, sales
//! invoices), its error shapes, limits and fault knobs, and a contract check of its answers
//! against the field list transcribed from Sage's published v3.1 Swagger documents
//! (`tests/fixtures/sage_v3_1_fields.json`; the documents are published on developer.sage.com
//! only, not in any package registry).
//!
//! Official client library: Sage publishes none for Accounting v3.1 in PyPI, npm or crates.io
//! (its GitHub samples are applications, not libraries), so no official client runs here.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use switchyard_sandbox::{
    SageBusiness, SageBusinessConfig, SageRateLimit, SandboxConfig, SandboxHandle,
};

use common::{get_json, start_with};

const CALLBACK: &str = "http://127.0.0.1:9/sage/callback";

fn config(edit: impl FnOnce(&mut SageBusinessConfig)) -> SandboxConfig {
    let mut business = SageBusinessConfig::new("acme");
    edit(&mut business);
    SandboxConfig {
        sage: vec![business],
        ..SandboxConfig::default()
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client builds")
}

#[derive(Debug, Clone)]
struct Tokens {
    access: String,
    refresh: String,
}

/// An app connected to one business, speaking Sage's wire protocol.
struct App {
    http: reqwest::Client,
    business: Arc<SageBusiness>,
}

impl App {
    fn new(business: Arc<SageBusiness>) -> App {
        App {
            http: http(),
            business,
        }
    }

    /// The authorize page's answer to `params`, redirect not followed.
    async fn authorize_page(&self, params: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .get(self.business.authorize_url())
            .query(params)
            .send()
            .await
            .expect("send")
    }

    /// The user approves on the authorize page; returns the callback's query parameters.
    async fn authorize(&self, extra: &[(&str, &str)]) -> HashMap<String, String> {
        let mut params = vec![
            ("filter", "apiv3.1"),
            ("client_id", self.business.client_id()),
            ("response_type", "code"),
            ("redirect_uri", CALLBACK),
            ("scope", "full_access"),
            ("state", "xyz-123"),
        ];
        for (k, v) in extra {
            params.retain(|(key, _)| key != k);
            params.push((k, v));
        }
        let resp = self.authorize_page(&params).await;
        assert_eq!(resp.status(), StatusCode::FOUND);
        let location = resp.headers()["location"].to_str().expect("text");
        let url = reqwest::Url::parse(location).expect("a URL");
        assert!(location.starts_with(CALLBACK), "{location}");
        url.query_pairs().into_owned().collect()
    }

    async fn token(&self, form: &[(&str, &str)]) -> reqwest::Response {
        let mut body = vec![
            ("client_id", self.business.client_id()),
            ("client_secret", self.business.client_secret()),
        ];
        body.extend_from_slice(form);
        self.http
            .post(self.business.token_url())
            .form(&body)
            .send()
            .await
            .expect("send")
    }

    async fn tokens_from(resp: reqwest::Response) -> Tokens {
        assert_eq!(resp.status(), StatusCode::OK);
        let body: Value = resp.json().await.expect("json");
        Tokens {
            access: body["access_token"].as_str().expect("access").to_owned(),
            refresh: body["refresh_token"].as_str().expect("refresh").to_owned(),
        }
    }

    /// The whole code flow.
    async fn connect(&self) -> Tokens {
        let callback = self.authorize(&[]).await;
        let code = callback["code"].clone();
        App::tokens_from(
            self.token(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
            ])
            .await,
        )
        .await
    }

    async fn refresh(&self, refresh_token: &str) -> reqwest::Response {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ])
        .await
    }

    /// An API call with the token and `X-Business`; `path` is under `/v3.1`.
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let req = self
            .http
            .request(method, format!("{}/{path}", self.business.api_url()))
            .bearer_auth(token)
            .header("X-Business", self.business.business_id());
        let req = match body {
            Some(body) => req.json(&body),
            None => req,
        };
        req.send().await.expect("send")
    }

    async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let resp = self.call(Method::GET, path, token, None).await;
        (resp.status(), resp.json().await.expect("json"))
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        let resp = self.call(Method::POST, path, token, Some(body)).await;
        (resp.status(), resp.json().await.expect("json"))
    }
}

async fn start_acme(edit: impl FnOnce(&mut SageBusinessConfig)) -> (SandboxHandle, App) {
    let sandbox = start_with(config(edit)).await;
    let business = sandbox.sage("acme").expect("configured");
    (sandbox, App::new(business))
}

/// One Sage error entry, checked for its four fields.
fn only_error(body: &Value) -> (&str, &str, &str) {
    let list = body.as_array().expect("an error array");
    assert_eq!(list.len(), 1, "{body}");
    error_fields(&list[0])
}

fn error_fields(entry: &Value) -> (&str, &str, &str) {
    assert_eq!(entry["$severity"], "error", "{entry}");
    assert!(
        entry["$message"].as_str().is_some_and(|m| !m.is_empty()),
        "{entry}"
    );
    (
        entry["$dataCode"].as_str().expect("$dataCode"),
        entry["$source"].as_str().expect("$source"),
        entry["$message"].as_str().expect("$message"),
    )
}

/// The id of the nominal code's ledger account and of the customer `Northwind Traders`.
async fn sales_setup(app: &App, token: &str) -> (String, String) {
    let (status, accounts) = app
        .get("ledger_accounts?visible_in=sales&search=4000", token)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(accounts["$total"], 1, "{accounts}");
    let account = accounts["$items"][0]["id"].as_str().expect("id").to_owned();
    let (status, contact) = app
        .post(
            "contacts",
            token,
            json!({"contact": {
                "name": "Northwind Traders",
                "reference": "NORTH01",
                "contact_type_ids": ["CUSTOMER"],
                "main_contact_person": {"email": "ap@northwind.example"},
                "main_address": {"address_line_1": "1 Dock Road", "city": "Leeds", "postal_code": "LS1 1AA", "country_id": "GB"}
            }}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{contact}");
    (account, contact["id"].as_str().expect("id").to_owned())
}

/// A business with the app connected and a customer to invoice: the sandbox, the app, its
/// access token, the sales ledger account's id and the customer's id.
async fn selling() -> (SandboxHandle, App, String, String, String) {
    let (sandbox, app) = start_acme(|_| {}).await;
    let token = app.connect().await.access;
    let (account, contact) = sales_setup(&app, &token).await;
    (sandbox, app, token, account, contact)
}

fn invoice_body(
    contact: &str,
    account: &str,
    reference: &str,
    idempotency_id: Option<&str>,
) -> Value {
    let mut invoice = json!({
        "contact_id": contact,
        "date": "2024-07-01",
        "reference": reference,
        "shipping_net_amount": "4.99",
        "shipping_tax_rate_id": "GB_STANDARD",
        "invoice_lines": [
            {"description": "Merino Socks", "ledger_account_id": account, "quantity": 3,
             "unit_price": "12.50", "tax_rate_id": "GB_STANDARD", "tax_amount": "7.50"},
            {"description": "Gift card", "ledger_account_id": account, "quantity": 1,
             "unit_price": 20, "tax_rate_id": "GB_EXEMPT"}
        ]
    });
    if let Some(id) = idempotency_id {
        invoice["idempotency_id"] = json!(id);
    }
    json!({ "sales_invoice": invoice })
}

#[tokio::test]
async fn authorize_then_exchange_the_code_once() {
    let (sandbox, app) = start_acme(|_| {}).await;
    let callback = app.authorize(&[]).await;
    assert_eq!(callback["state"], "xyz-123");
    assert_eq!(callback["country"], "gb");
    let code = callback["code"].clone();

    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CALLBACK),
    ];
    let resp = app.token(&exchange).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["scope"], "full_access");
    assert_eq!(body["expires_in"], 300);
    assert_eq!(body["refresh_token_expires_in"], 2_678_400);
    assert!(body["requested_by_id"]
        .as_str()
        .is_some_and(|s| s.len() == 36));
    let access = body["access_token"].as_str().expect("access");
    let (status, businesses) = app.get("businesses", access).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(businesses["$items"][0]["id"], app.business.business_id());

    let again = app.token(&exchange).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        again.json::<Value>().await.expect("json"),
        json!({"error": "invalid_grant"})
    );

    let other_uri = app.authorize(&[]).await["code"].clone();
    let resp = app
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &other_uri),
            ("redirect_uri", "http://127.0.0.1:9/elsewhere"),
        ])
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    let wrong_secret = app
        .http
        .post(app.business.token_url())
        .form(&[
            ("client_id", app.business.client_id()),
            ("client_secret", "not-the-secret"),
            ("grant_type", "authorization_code"),
            ("code", "whatever"),
        ])
        .send()
        .await
        .expect("send");
    assert_eq!(wrong_secret.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        wrong_secret.json::<Value>().await.expect("json")["error"],
        "invalid_client"
    );

    let stranger = app
        .authorize_page(&[
            ("client_id", "someone-else"),
            ("response_type", "code"),
            ("redirect_uri", CALLBACK),
        ])
        .await;
    assert_eq!(stranger.status(), StatusCode::BAD_REQUEST);
    let bad_scope = app.authorize(&[("scope", "everything")]).await;
    assert_eq!(bad_scope["error"], "invalid_scope");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_callback_that_is_not_registered_is_refused() {
    let (sandbox, app) = start_acme(|b| b.redirect_uris = vec![CALLBACK.to_string()]).await;
    assert!(app.authorize(&[]).await.contains_key("code"));
    let resp = app
        .authorize_page(&[
            ("client_id", app.business.client_id()),
            ("response_type", "code"),
            ("redirect_uri", "http://127.0.0.1:9/attacker"),
        ])
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.headers().get("location").is_none());
    sandbox.shutdown().await;
}

#[tokio::test]
async fn refresh_rotates_and_the_spent_token_is_refused() {
    let (sandbox, app) = start_acme(|_| {}).await;
    let first = app.connect().await;
    assert_eq!(app.business.live_refresh_tokens(), 1);

    let second = App::tokens_from(app.refresh(&first.refresh).await).await;
    assert_ne!(second.refresh, first.refresh);
    assert_ne!(second.access, first.access);
    assert_eq!(app.business.live_refresh_tokens(), 1);

    let spent = app.refresh(&first.refresh).await;
    assert_eq!(spent.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        spent.json::<Value>().await.expect("json"),
        json!({"error": "invalid_grant"})
    );

    // Client credentials as HTTP Basic work as well as in the form.
    let basic = app
        .http
        .post(app.business.token_url())
        .basic_auth(app.business.client_id(), Some(app.business.client_secret()))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", second.refresh.as_str()),
        ])
        .send()
        .await
        .expect("send");
    let third = App::tokens_from(basic).await;
    let (status, _) = app.get("tax_rates", &third.access).await;
    assert_eq!(status, StatusCode::OK);
    // The access token of an earlier pair runs to its expiry.
    let (status, _) = app.get("tax_rates", &first.access).await;
    assert_eq!(status, StatusCode::OK);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_revoked_grant_stops_calls_and_refreshes() {
    let (sandbox, app) = start_acme(|_| {}).await;
    let tokens = app.connect().await;
    app.business.revoke_grant();
    assert_eq!(app.business.live_refresh_tokens(), 0);
    let resp = app
        .call(Method::GET, "contacts", &tokens.access, None)
        .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(only_error(&body).0, "AccessTokenVerificationError");
    let refresh = app.refresh(&tokens.refresh).await;
    assert_eq!(refresh.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        refresh.json::<Value>().await.expect("json")["error"],
        "invalid_grant"
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn an_expired_access_token_is_refused_until_refreshed() {
    let (sandbox, app) = start_acme(|b| b.access_token_lifetime_secs = 1).await;
    let tokens = app.connect().await;
    let (status, _) = app.get("contacts", &tokens.access).await;
    assert_eq!(status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, body) = app.get("contacts", &tokens.access).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (code, source, message) = only_error(&body);
    assert_eq!(
        (code, source),
        ("AccessTokenVerificationError", "Authorization")
    );
    assert!(message.contains("expired"), "{message}");

    let fresh = App::tokens_from(app.refresh(&tokens.refresh).await).await;
    let (status, _) = app.get("contacts", &fresh.access).await;
    assert_eq!(status, StatusCode::OK);
    app.business.expire_access_tokens();
    let (status, _) = app.get("contacts", &fresh.access).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let bare = app
        .http
        .get(format!("{}/contacts", app.business.api_url()))
        .send()
        .await
        .expect("send");
    assert_eq!(bare.status(), StatusCode::UNAUTHORIZED);
    let body: Value = bare.json().await.expect("json");
    assert!(body["error"]
        .as_str()
        .is_some_and(|e| e.starts_with("Authorization missing")));
    // Routing comes after the token: an unknown path with a bad token is a token error.
    let (status, body) = app.get("customers", "not-a-token").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(only_error(&body).0, "AccessTokenVerificationError");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn x_business_selects_the_business_and_readonly_cannot_write() {
    let (sandbox, app) = start_acme(|_| {}).await;
    let tokens = app.connect().await;
    let other = app
        .http
        .get(format!("{}/contacts", app.business.api_url()))
        .bearer_auth(&tokens.access)
        .header("X-Business", "0123456789abcdef0123456789abcdef")
        .send()
        .await
        .expect("send");
    assert_eq!(other.status(), StatusCode::UNAUTHORIZED);
    let body: Value = other.json().await.expect("json");
    assert_eq!(only_error(&body).0, "AuthorizationFailure");
    // Without the header Sage uses the user's lead business, the only one here.
    let lead = app
        .http
        .get(format!("{}/tax_rates", app.business.api_url()))
        .bearer_auth(&tokens.access)
        .send()
        .await
        .expect("send");
    assert_eq!(lead.status(), StatusCode::OK);

    let code = app.authorize(&[("scope", "readonly")]).await["code"].clone();
    let readonly = App::tokens_from(
        app.token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
        ])
        .await,
    )
    .await;
    let (status, body) = app
        .post(
            "contacts",
            &readonly.access,
            json!({"contact": {"name": "X", "contact_type_ids": ["CUSTOMER"]}}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(only_error(&body).0, "MultiUserAccessDenied");
    assert!(app.business.contacts().is_empty());
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_customer_is_found_by_search_or_created() {
    let (sandbox, app) = start_acme(|_| {}).await;
    let token = app.connect().await.access;
    let (_, none) = app
        .get("contacts?contact_type_id=CUSTOMER&search=northwind", &token)
        .await;
    assert_eq!(none["$total"], 0);
    let (_, contact_id) = sales_setup(&app, &token).await;

    let (status, found) = app
        .get("contacts?contact_type_id=CUSTOMER&search=northwind", &token)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found["$total"], 1);
    assert_eq!(
        found["$items"][0],
        json!({"id": contact_id, "displayed_as": "Northwind Traders (NORTH01)", "$path": format!("/contacts/{contact_id}")})
    );
    let (_, by_reference) = app
        .get("contacts?search=NORTH01&attributes=email", &token)
        .await;
    assert_eq!(by_reference["$items"][0]["email"], "ap@northwind.example");
    let (_, by_email) = app.get("contacts?email=AP@northwind.example", &token).await;
    assert_eq!(by_email["$total"], 1);
    let (_, vendors) = app.get("contacts?contact_type_id=VENDOR", &token).await;
    assert_eq!(vendors["$total"], 0);
    let (status, full) = app.get(&format!("contacts/{contact_id}"), &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(full["contact_types"][0]["id"], "CUSTOMER");
    assert_eq!(full["main_address"]["city"], "Leeds");

    let (status, dup) = app
        .post("contacts", &token, json!({"contact": {"name": "Other", "reference": "NORTH01", "contact_type_ids": ["CUSTOMER"]}}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(only_error(&dup).1, "reference");
    assert_eq!(app.business.contacts().len(), 1);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn an_invoice_is_created_with_sage_totals_and_found_again() {
    let (sandbox, app, token, account, contact) = selling().await;
    let (status, invoice) = app
        .post(
            "sales_invoices",
            &token,
            invoice_body(&contact, &account, "#1001", None),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{invoice}");
    assert_eq!(invoice["invoice_number"], "SI-1");
    assert_eq!(invoice["displayed_as"], "SI-1");
    assert_eq!(invoice["contact"]["id"], contact.as_str());
    assert_eq!(invoice["contact_name"], "Northwind Traders");
    assert_eq!(invoice["due_date"], "2024-07-31");
    let lines = invoice["invoice_lines"].as_array().expect("lines");
    assert_eq!(
        (
            &lines[0]["net_amount"],
            &lines[0]["tax_amount"],
            &lines[0]["total_amount"]
        ),
        (&json!("37.5"), &json!("7.5"), &json!("45.0"))
    );
    assert_eq!(lines[0]["tax_rate"]["id"], "GB_STANDARD");
    assert_eq!(lines[1]["tax_amount"], "0.0");
    // 37.50 + 20.00 + 4.99 shipping; 7.50 + 1.00 shipping tax (20% of 4.99, rounded).
    assert_eq!(invoice["shipping_tax_amount"], "1.0");
    assert_eq!(invoice["net_amount"], "62.49");
    assert_eq!(invoice["tax_amount"], "8.5");
    assert_eq!(invoice["total_amount"], "70.99");
    assert_eq!(invoice["outstanding_amount"], "70.99");
    assert_eq!(invoice["status"]["id"], "UNPAID");

    let id = invoice["id"].as_str().expect("id");
    let (status, again) = app.get(&format!("sales_invoices/{id}"), &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, invoice);
    assert_eq!(app.business.invoices(), vec![invoice.clone()]);

    let (_, second) = app
        .post(
            "sales_invoices",
            &token,
            invoice_body(&contact, &account, "#1002", None),
        )
        .await;
    assert_eq!(second["invoice_number"], "SI-2");
    let (_, by_reference) = app.get("sales_invoices?search=%231002", &token).await;
    assert_eq!(by_reference["$total"], 1);
    assert_eq!(by_reference["$items"][0]["displayed_as"], "SI-2");
    let (_, by_contact_name) = app.get("sales_invoices?search=northwind", &token).await;
    assert_eq!(by_contact_name["$total"], 2);
    let (_, later) = app.get("sales_invoices?from_date=2024-07-02", &token).await;
    assert_eq!(later["$total"], 0);
    let (_, paged) = app
        .get(
            "sales_invoices?items_per_page=1&attributes=reference",
            &token,
        )
        .await;
    assert_eq!(paged["$itemsPerPage"], 1);
    assert_eq!(paged["$items"][0]["reference"], "#1001");
    assert_eq!(
        paged["$next"],
        "/sales_invoices?page=2&items_per_page=1&attributes=reference"
    );
    let (status, missing) = app.get("sales_invoices/0000", &token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(only_error(&missing).0, "RecordNotFound");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_repeated_idempotency_id_answers_the_first_invoice() {
    let (sandbox, app, token, account, contact) = selling().await;
    let key = "c3a8adaa26daf36e02f3c672b69e3323";
    let body = invoice_body(&contact, &account, "#1001", Some(key));
    let (first_status, first) = app.post("sales_invoices", &token, body.clone()).await;
    let (second_status, second) = app.post("sales_invoices", &token, body).await;
    assert_eq!(
        (first_status, second_status),
        (StatusCode::CREATED, StatusCode::CREATED)
    );
    assert_eq!(first, second);
    assert_eq!(app.business.invoices().len(), 1);

    let (status, mismatch) = app
        .post("contacts", &token, json!({"contact": {"name": "Y", "contact_type_ids": ["CUSTOMER"], "idempotency_id": key}}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(only_error(&mismatch).0, "IdempotencyResourceMismatch");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn validation_errors_name_every_bad_field() {
    let (sandbox, app, token, account, _) = selling().await;
    let (status, body) = app
        .post(
            "sales_invoices",
            &token,
            json!({"sales_invoice": {
                "contact_id": "ffffffffffffffffffffffffffffffff",
                "date": "2024-07-01",
                "invoice_lines": [
                    {"description": "A", "ledger_account_id": "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", "unit_price": 1, "tax_rate_id": "GB_ZERO"},
                    {"description": "B", "ledger_account_id": account, "unit_price": 1, "tax_rate_id": "GB_MADE_UP", "tax_amount": 0},
                    {"description": "C", "ledger_account_id": account, "unit_price": 1, "tax_rate_id": "GB_STANDARD"}
                ]
            }}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let found: Vec<(&str, &str)> = body
        .as_array()
        .expect("an error array")
        .iter()
        .map(|e| {
            let (code, source, _) = error_fields(e);
            (code, source)
        })
        .collect();
    assert_eq!(
        found,
        vec![
            ("RecordInvalid", "contact_id"),
            ("RecordInvalid", "invoice_lines.ledger_account_id"),
            ("RecordInvalid", "invoice_lines.tax_rate_id"),
            ("RecordInvalid", "invoice_lines.tax_amount"),
        ]
    );
    let (status, body) = app
        .post("sales_invoices", &token, json!({"invoice": {}}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(only_error(&body).1, "sales_invoice");
    assert!(app.business.invoices().is_empty());
    sandbox.shutdown().await;
}

#[tokio::test]
async fn over_the_limit_answers_429_with_retry_after() {
    let limit = SageRateLimit {
        requests_per_window: 3,
        window_secs: 60,
        ..SageRateLimit::default()
    };
    let (sandbox, app) = start_acme(|b| b.rate_limit = limit).await;
    let token = app.connect().await.access;
    let started = Instant::now();
    for _ in 0..3 {
        assert_eq!(app.get("tax_rates", &token).await.0, StatusCode::OK);
    }
    let resp = app.call(Method::GET, "tax_rates", &token, None).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = resp.headers()["retry-after"]
        .to_str()
        .expect("text")
        .parse()
        .expect("whole seconds");
    assert!((59..=60).contains(&retry_after), "{retry_after}");
    let body: Value = resp.json().await.expect("json");
    only_error(&body);
    let times = app.business.call_times();
    assert_eq!(times.len(), 3);
    assert!(times.iter().all(|t| *t >= started));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn calls_in_flight_are_counted_and_can_be_capped() {
    let limit = SageRateLimit {
        max_in_flight: Some(2),
        ..SageRateLimit::default()
    };
    let (sandbox, app) = start_acme(|b| {
        b.rate_limit = limit;
        b.faults.latency_ms = 300;
    })
    .await;
    let token = app.connect().await.access;
    let app = Arc::new(app);
    let calls: Vec<_> = (0..4)
        .map(|_| {
            let app = app.clone();
            let token = token.clone();
            tokio::spawn(async move { app.get("tax_rates", &token).await.0 })
        })
        .collect();
    let mut statuses = Vec::new();
    for call in calls {
        statuses.push(call.await.expect("joined"));
    }
    statuses.sort();
    assert_eq!(
        statuses,
        vec![
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    assert_eq!(app.business.max_in_flight(), 2);
    assert_eq!(app.business.call_times().len(), 2);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn fault_knobs_through_the_control_api() {
    let (sandbox, app) = start_acme(|_| {}).await;
    let token = app.connect().await.access;
    let control = format!("{}/sage/acme", sandbox.control_url());
    let http = http();
    let listed = get_json(&http, format!("{}/sage", sandbox.control_url())).await;
    assert_eq!(
        listed["businesses"][0]["token_url"],
        app.business.token_url()
    );
    assert_eq!(
        listed["businesses"][0]["business_id"],
        app.business.business_id()
    );

    let burst = http
        .post(format!("{control}/faults/burst"))
        .json(&json!({"count": 2}))
        .send()
        .await
        .expect("send");
    assert_eq!(burst.status(), StatusCode::OK);
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let resp = app.call(Method::GET, "tax_rates", &token, None).await;
        if resp.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(resp.headers().contains_key("retry-after"));
        }
        statuses.push(resp.status().as_u16());
    }
    assert_eq!(statuses, vec![429, 429, 200]);

    let set = http
        .put(format!("{control}/faults"))
        .json(&json!({"error_5xx_ratio": 1.0}))
        .send()
        .await
        .expect("send");
    assert_eq!(set.status(), StatusCode::OK);
    let (status, body) = app.get("tax_rates", &token).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(only_error(&body).0, "UnexpectedError");
    let off = http
        .put(format!("{control}/faults"))
        .json(&json!({}))
        .send()
        .await
        .expect("send");
    assert_eq!(off.status(), StatusCode::OK);

    let revoke = http
        .post(format!("{control}/revoke"))
        .send()
        .await
        .expect("send");
    assert_eq!(
        revoke.json::<Value>().await.expect("json")["live_refresh_tokens"],
        0
    );
    assert_eq!(
        app.get("tax_rates", &token).await.0,
        StatusCode::UNAUTHORIZED
    );
    let summary = get_json(&http, control).await;
    assert_eq!(summary["traffic"]["responses_429"], 2);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn an_invoice_committed_before_the_answer_is_lost_exists_once() {
    let (sandbox, app, token, account, contact) = selling().await;
    let key = "0f0e0d0c0b0a09080706050403020100";

    app.business
        .commit_then_time_out(1, Duration::from_secs(30));
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .expect("client");
    let timed_out = impatient
        .post(format!("{}/sales_invoices", app.business.api_url()))
        .bearer_auth(&token)
        .header("X-Business", app.business.business_id())
        .json(&invoice_body(&contact, &account, "#2001", Some(key)))
        .send()
        .await;
    assert!(timed_out.is_err_and(|e| e.is_timeout()));
    assert_eq!(app.business.invoices().len(), 1);
    // The retry with the same idempotency_id gets the invoice the lost answer was about.
    let (status, retried) = app
        .post(
            "sales_invoices",
            &token,
            invoice_body(&contact, &account, "#2001", Some(key)),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(retried["invoice_number"], "SI-1");
    assert_eq!(app.business.invoices().len(), 1);

    let lose = http()
        .post(format!("{}/sage/acme/lose_answers", sandbox.control_url()))
        .json(&json!({"count": 1, "mode": "gateway_timeout"}))
        .send()
        .await
        .expect("send");
    assert_eq!(lose.status(), StatusCode::OK);
    let resp = app
        .call(
            Method::POST,
            "sales_invoices",
            &token,
            Some(invoice_body(&contact, &account, "#2002", None)),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::GATEWAY_TIMEOUT);
    let (_, found) = app.get("sales_invoices?search=%232002", &token).await;
    assert_eq!(found["$total"], 1);
    assert_eq!(app.business.invoices().len(), 2);
    sandbox.shutdown().await;
}

// ---- Contract: the answers checked field by field against Sage's published schema. ----

type Schema = HashMap<String, HashMap<String, String>>;

fn schema() -> Schema {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/sage_v3_1_fields.json"
    ))
    .expect("the field list is there");
    let doc: Value = serde_json::from_str(&text).expect("JSON");
    serde_json::from_value(doc["definitions"].clone()).expect("name -> field -> type")
}

fn is_date(text: &str) -> bool {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok()
}

/// Checks `value` against type `ty`; records the fields seen per definition in `seen`.
fn conform(
    schema: &Schema,
    ty: &str,
    value: &Value,
    at: &str,
    seen: &mut HashMap<String, usize>,
    problems: &mut Vec<String>,
) {
    if value.is_null() {
        return; // Sage sends null for an absent value of any type.
    }
    if let Some(inner) = ty.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        match value.as_array() {
            Some(items) => {
                for (i, item) in items.iter().enumerate() {
                    conform(schema, inner, item, &format!("{at}[{i}]"), seen, problems);
                }
            }
            None => problems.push(format!("{at}: expected an array")),
        }
        return;
    }
    let ok = match ty {
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        // The document says number; the live API writes decimals as strings ("120.0").
        "number" => value.is_number() || value.as_str().is_some_and(|s| s.parse::<f64>().is_ok()),
        "date" => value.as_str().is_some_and(is_date),
        "date-time" => value
            .as_str()
            .is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok()),
        "object" => value.is_object(),
        definition => {
            let Some(fields) = schema.get(definition) else {
                problems.push(format!("{at}: {definition} is not in the field list"));
                return;
            };
            let Some(object) = value.as_object() else {
                problems.push(format!("{at}: expected a {definition} object"));
                return;
            };
            *seen.entry(definition.to_string()).or_default() += 1;
            for (key, field) in object {
                match fields.get(key) {
                    Some(field_ty) => conform(
                        schema,
                        field_ty,
                        field,
                        &format!("{at}.{key}"),
                        seen,
                        problems,
                    ),
                    None => problems.push(format!("{at}.{key}: not a field of {definition}")),
                }
            }
            true
        }
    };
    if !ok {
        problems.push(format!("{at}: {value} is not {ty}"));
    }
}

fn conforms(schema: &Schema, ty: &str, value: &Value, seen: &mut HashMap<String, usize>) {
    let mut problems = Vec::new();
    conform(schema, ty, value, ty, seen, &mut problems);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A list answer: the envelope of the Pagination guide and items of `ty`.
fn conforms_list(
    schema: &Schema,
    ty: &str,
    body: &Value,
    per_page_key: &str,
    seen: &mut HashMap<String, usize>,
) {
    let object = body.as_object().expect("a list object");
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut expected = vec!["$back", "$items", "$next", "$page", "$total", per_page_key];
    expected.sort_unstable();
    assert_eq!(keys, expected);
    assert!(body["$total"].is_u64() && body["$page"].is_u64() && body[per_page_key].is_u64());
    for link in ["$next", "$back"] {
        assert!(body[link].is_null() || body[link].as_str().is_some_and(|p| p.starts_with('/')));
    }
    assert!(!body["$items"].as_array().expect("items").is_empty());
    conforms(schema, &format!("[{ty}]"), &body["$items"], seen);
}

#[tokio::test]
async fn contract_answers_match_the_published_v3_1_fields() {
    let schema = schema();
    let (sandbox, app, token, account, contact) = selling().await;
    let mut seen = HashMap::new();

    let (_, businesses) = app.get("businesses", &token).await;
    // The core API's list says `$items_per_page`, as the live API does.
    conforms_list(
        &schema,
        "Business",
        &businesses,
        "$items_per_page",
        &mut seen,
    );
    let (_, business) = app
        .get(
            &format!("businesses/{}", app.business.business_id()),
            &token,
        )
        .await;
    conforms(&schema, "Business", &business, &mut seen);

    let (_, contacts) = app.get("contacts?attributes=all", &token).await;
    conforms_list(&schema, "Contact", &contacts, "$itemsPerPage", &mut seen);
    let (_, one) = app.get(&format!("contacts/{contact}"), &token).await;
    conforms(&schema, "Contact", &one, &mut seen);

    let (_, accounts) = app.get("ledger_accounts?attributes=all", &token).await;
    conforms_list(
        &schema,
        "LedgerAccount",
        &accounts,
        "$itemsPerPage",
        &mut seen,
    );
    let (_, one) = app.get(&format!("ledger_accounts/{account}"), &token).await;
    conforms(&schema, "LedgerAccount", &one, &mut seen);

    let (_, rates) = app.get("tax_rates?attributes=all", &token).await;
    conforms_list(&schema, "TaxRate", &rates, "$itemsPerPage", &mut seen);
    let (_, rate) = app.get("tax_rates/GB_STANDARD", &token).await;
    conforms(&schema, "TaxRate", &rate, &mut seen);

    let (_, created) = app
        .post(
            "sales_invoices",
            &token,
            invoice_body(&contact, &account, "#1001", None),
        )
        .await;
    conforms(&schema, "SalesInvoice", &created, &mut seen);
    let (_, listed) = app.get("sales_invoices?attributes=all", &token).await;
    conforms_list(&schema, "SalesInvoice", &listed, "$itemsPerPage", &mut seen);

    for definition in [
        "Business",
        "Country",
        "Subscription",
        "Contact",
        "ContactPerson",
        "Address",
        "ContactTaxTreatment",
        "LedgerAccount",
        "CoaGroupType",
        "TaxRate",
        "TaxRatePercentage",
        "SalesInvoice",
        "SalesInvoiceLineItem",
        "Transaction",
        "TaxBreakdown",
        "ArtefactTaxAnalysis",
        "SalesArtefactAddress",
        "Base",
    ] {
        assert!(
            seen.contains_key(definition),
            "no {definition} was checked: {seen:?}"
        );
    }
    // The fields a connector relies on are there, not merely allowed.
    for (resource, fields) in [
        (
            &created,
            &[
                "id",
                "invoice_number",
                "contact",
                "date",
                "due_date",
                "reference",
                "net_amount",
                "tax_amount",
                "total_amount",
                "invoice_lines",
                "status",
                "currency",
            ][..],
        ),
        (
            &created["invoice_lines"][0],
            &[
                "ledger_account",
                "quantity",
                "unit_price",
                "net_amount",
                "tax_rate",
                "tax_amount",
                "total_amount",
            ][..],
        ),
        (&rate, &["id", "name", "percentage"][..]),
    ] {
        for field in fields {
            assert!(
                resource.get(field).is_some_and(|v| !v.is_null()),
                "{field} missing from {resource}"
            );
        }
    }
    sandbox.shutdown().await;
}
