//! The Xero simulator over real HTTP: the OAuth 2.0 code flow with rotating refresh tokens, the
//! Accounting API's contacts, items and invoices (totals, tax, `where`, paging, idempotency,
//! validation errors), tenant and token checks, the per-tenant rate limits, lost answers, Xero's
//! official Python SDK run unchanged against it, and a contract check of its answers against the
//! schema Xero publishes.

mod common;

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, LOCATION};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use switchyard_sandbox::xero::LostAnswer;
use switchyard_sandbox::{FaultKnobs, SandboxConfig, SandboxHandle, XeroOrg, XeroOrgConfig};

use common::python::{python_with, run_script, XERO_PYTHON};
use common::start_with;

const REDIRECT: &str = "http://127.0.0.1:9/callback";
const SCOPES: &str = "openid profile email offline_access accounting.transactions accounting.contacts accounting.settings";

async fn start_xero(config: XeroOrgConfig) -> (SandboxHandle, Arc<XeroOrg>) {
    let sandbox = start_with(SandboxConfig {
        xero: vec![config],
        ..SandboxConfig::default()
    })
    .await;
    let org = sandbox.xero_orgs()[0].clone();
    (sandbox, org)
}

/// A client that does not follow redirects, as a test of a login page must.
fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client builds")
}

async fn authorize(
    http: &reqwest::Client,
    org: &XeroOrg,
    client_id: &str,
    scope: &str,
) -> reqwest::Response {
    http.get(format!("{}/identity/connect/authorize", org.base_url()))
        .query(&[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("scope", scope),
            ("state", "s-42"),
        ])
        .send()
        .await
        .expect("authorize answers")
}

/// The `code` of a redirect to the callback (and checks the `state` came back).
fn code_of(response: &reqwest::Response) -> String {
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = response.headers()[LOCATION].to_str().expect("location");
    let url = reqwest::Url::parse(location).expect("absolute location");
    assert!(location.starts_with(REDIRECT), "{location}");
    let get = |k: &str| {
        url.query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(get("state").as_deref(), Some("s-42"));
    get("code").expect("a code")
}

async fn token(http: &reqwest::Client, org: &XeroOrg, form: &[(&str, &str)]) -> reqwest::Response {
    http.post(format!("{}/connect/token", org.base_url()))
        .basic_auth(org.client_id(), Some(org.client_secret()))
        .form(form)
        .send()
        .await
        .expect("token answers")
}

async fn exchange(http: &reqwest::Client, org: &XeroOrg, code: &str) -> reqwest::Response {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
    ];
    token(http, org, &form).await
}

async fn refresh(http: &reqwest::Client, org: &XeroOrg, refresh_token: &str) -> reqwest::Response {
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    token(http, org, &form).await
}

/// Tokens from the whole code flow.
async fn connect(org: &XeroOrg) -> Value {
    let http = http();
    let code = code_of(&authorize(&http, org, org.client_id(), SCOPES).await);
    let answer = exchange(&http, org, &code).await;
    assert_eq!(answer.status(), StatusCode::OK);
    answer.json().await.expect("token json")
}

/// Calls to the Accounting API as a connector makes them.
struct Api {
    http: reqwest::Client,
    base: String,
    access_token: String,
    tenant: String,
}

impl Api {
    async fn connect(org: &XeroOrg) -> Api {
        let tokens = connect(org).await;
        Api {
            http: http(),
            base: format!("{}/api.xro/2.0", org.base_url()),
            access_token: tokens["access_token"].as_str().expect("token").to_owned(),
            tenant: org.tenant_id().to_owned(),
        }
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}/{path}", self.base))
            .bearer_auth(&self.access_token)
            .header("xero-tenant-id", &self.tenant)
            .header("accept", "application/json")
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        key: Option<&str>,
    ) -> reqwest::Response {
        let mut req = self.request(method, path);
        if let Some(body) = body {
            req = req.json(body);
        }
        if let Some(key) = key {
            req = req.header("idempotency-key", key);
        }
        req.send().await.expect("api answers")
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let answer = self.send(Method::GET, path, None, None).await;
        (answer.status(), answer.json().await.unwrap_or(Value::Null))
    }

    /// A PUT with an `Idempotency-Key`, answering the body.
    async fn put_keyed(&self, path: &str, body: &Value, key: &str) -> Value {
        let answer = self.send(Method::PUT, path, Some(body), Some(key)).await;
        answer.json().await.expect("json")
    }

    async fn put(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let answer = self.send(Method::PUT, path, Some(body), None).await;
        (answer.status(), answer.json().await.unwrap_or(Value::Null))
    }
}

/// An organisation named "acme" and a connector connected to it; with `stocked`, the item the
/// order invoices sell (TR-9) exists.
async fn connected(stocked: bool) -> (SandboxHandle, Arc<XeroOrg>, Api) {
    let (sandbox, org) = start_xero(XeroOrgConfig::new("acme")).await;
    let api = Api::connect(&org).await;
    if stocked {
        let item = json!({"Items": [{"Code": "TR-9", "Name": "Trail Runner 9", "Description": "Trail Runner, size 9",
            "SalesDetails": {"UnitPrice": 89.0, "AccountCode": "200", "TaxType": "OUTPUT2"}}]});
        let (status, _) = api.put("Items", &item).await;
        assert_eq!(status, StatusCode::OK);
    }
    (sandbox, org, api)
}

fn messages(element: &Value) -> Vec<String> {
    element["ValidationErrors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| m["Message"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn order_invoice(reference: &str) -> Value {
    json!({"Invoices": [{
        "Type": "ACCREC",
        "Contact": {"Name": "Ana Smith", "EmailAddress": "ana@example.com"},
        "Date": "2024-07-01",
        "DueDate": "2024-07-31",
        "Reference": reference,
        "Status": "AUTHORISED",
        "LineAmountTypes": "Exclusive",
        "LineItems": [
            {"ItemCode": "TR-9", "Quantity": 2},
            {"Description": "Merino Socks", "Quantity": 3, "UnitAmount": 12.5, "AccountCode": "200", "TaxType": "OUTPUT2"},
            {"Description": "Shipping", "Quantity": 1, "UnitAmount": 4.99, "AccountCode": "260", "TaxType": "ZERORATEDOUTPUT"}
        ]
    }]})
}

#[tokio::test]
async fn code_flow_issues_single_use_codes_and_rotating_refresh_tokens() {
    let (_sandbox, org) = start_xero(XeroOrgConfig {
        refresh_grace_secs: 0,
        ..XeroOrgConfig::new("acme")
    })
    .await;
    let http = http();

    // A bad client or scope gets Xero's error page, never a redirect.
    let bad = authorize(&http, &org, "NOT-THE-CLIENT", SCOPES).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(bad.headers().get(LOCATION).is_none());
    let bad = authorize(
        &http,
        &org,
        org.client_id(),
        "openid accounting.everything_please nonsense",
    )
    .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

    let code = code_of(&authorize(&http, &org, org.client_id(), SCOPES).await);
    let wrong_secret = http
        .post(format!("{}/connect/token", org.base_url()))
        .basic_auth(org.client_id(), Some("wrong"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .expect("answer");
    assert_eq!(wrong_secret.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        wrong_secret.json::<Value>().await.ok(),
        Some(json!({"error": "invalid_client"}))
    );

    let first = exchange(&http, &org, &code).await;
    assert_eq!(first.status(), StatusCode::OK);
    let tokens: Value = first.json().await.expect("json");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 1800);
    assert_eq!(tokens["scope"], SCOPES);
    let access = tokens["access_token"].as_str().expect("access token");
    assert_eq!(access.split('.').count(), 3, "a JWT like Xero's");
    let refresh_a = tokens["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_owned();

    // The code is single use.
    let again = exchange(&http, &org, &code).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        again.json::<Value>().await.ok(),
        Some(json!({"error": "invalid_grant"}))
    );

    // The token reaches the organisation.
    let connections: Value = http
        .get(format!("{}/connections", org.base_url()))
        .bearer_auth(access)
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("json");
    assert_eq!(connections[0]["tenantId"], org.tenant_id());
    assert_eq!(connections[0]["tenantType"], "ORGANISATION");
    assert_eq!(connections[0]["tenantName"], org.tenant_name());

    // Refreshing rotates the refresh token; the spent one is refused (no grace configured here).
    let rotated = refresh(&http, &org, &refresh_a).await;
    assert_eq!(rotated.status(), StatusCode::OK);
    let rotated: Value = rotated.json().await.expect("json");
    let refresh_b = rotated["refresh_token"]
        .as_str()
        .expect("new refresh token")
        .to_owned();
    assert_ne!(refresh_a, refresh_b);
    assert_ne!(rotated["access_token"], tokens["access_token"]);
    assert_eq!(org.live_refresh_tokens(), 1);
    let spent = refresh(&http, &org, &refresh_a).await;
    assert_eq!(spent.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        spent.json::<Value>().await.ok(),
        Some(json!({"error": "invalid_grant"}))
    );
    assert_eq!(
        refresh(&http, &org, &refresh_b).await.status(),
        StatusCode::OK
    );
    assert_eq!(org.live_refresh_tokens(), 1);

    // Without offline_access there is no refresh token.
    let code = code_of(
        &authorize(
            &http,
            &org,
            org.client_id(),
            "openid accounting.transactions",
        )
        .await,
    );
    let online: Value = exchange(&http, &org, &code)
        .await
        .json()
        .await
        .expect("json");
    assert!(online.get("refresh_token").is_none(), "{online}");
}

#[tokio::test]
async fn a_spent_refresh_token_works_again_within_xeros_grace_period() {
    let (_sandbox, org) = start_xero(XeroOrgConfig::new("acme")).await;
    let http = http();
    let tokens = connect(&org).await;
    let refresh_a = tokens["refresh_token"].as_str().expect("refresh token");
    let lost: Value = refresh(&http, &org, refresh_a)
        .await
        .json()
        .await
        .expect("json");
    // The client never saw `lost`; it retries with the token it has, within 30 minutes.
    let retried = refresh(&http, &org, refresh_a).await;
    assert_eq!(retried.status(), StatusCode::OK);
    let retried: Value = retried.json().await.expect("json");
    assert_ne!(retried["refresh_token"], lost["refresh_token"]);
    assert_eq!(
        refresh(
            &http,
            &org,
            retried["refresh_token"].as_str().expect("token")
        )
        .await
        .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn expired_tokens_and_revoked_grants_are_refused_in_xeros_shapes() {
    let (_sandbox, org) = start_xero(XeroOrgConfig {
        access_token_secs: 1,
        ..XeroOrgConfig::new("acme")
    })
    .await;
    let api = Api::connect(&org).await;
    let (status, _) = api.get("Accounts").await;
    assert_eq!(status, StatusCode::OK);

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let expired = api.send(Method::GET, "Accounts", None, None).await;
    assert_eq!(expired.status(), StatusCode::UNAUTHORIZED);
    let challenge = expired.headers()["www-authenticate"]
        .to_str()
        .expect("text")
        .to_owned();
    assert!(challenge.contains("invalid_token"), "{challenge}");
    let body: Value = expired.json().await.expect("json");
    assert_eq!(body["Title"], "Unauthorized");
    assert_eq!(body["Status"], 401);
    assert!(
        body["Detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("TokenExpired: token expired at ")),
        "{body}"
    );

    // An unknown token.
    let unknown = api
        .http
        .get(format!("{}/Accounts", api.base))
        .bearer_auth("nonsense")
        .header("xero-tenant-id", org.tenant_id())
        .send()
        .await
        .expect("answer");
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        unknown.json::<Value>().await.expect("json")["Detail"],
        "AuthenticationUnsuccessful"
    );

    // expire_access_tokens() does at once what the clock did.
    let (_sandbox2, org2) = start_xero(XeroOrgConfig::new("other")).await;
    let api2 = Api::connect(&org2).await;
    org2.expire_access_tokens();
    assert_eq!(api2.get("Accounts").await.0, StatusCode::UNAUTHORIZED);

    // The user disconnects the app: refreshes fail for good, calls with live tokens get 403.
    let tokens = connect(&org2).await;
    let api3 = Api {
        access_token: tokens["access_token"].as_str().expect("t").to_owned(),
        ..api2
    };
    org2.revoke_grant();
    let refused = refresh(&http(), &org2, tokens["refresh_token"].as_str().expect("t")).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        refused.json::<Value>().await.ok(),
        Some(json!({"error": "invalid_grant"}))
    );
    let (status, body) = api3.get("Accounts").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["Detail"], "AuthenticationUnsuccessful");
    assert_eq!(org2.live_refresh_tokens(), 0);
}

#[tokio::test]
async fn the_tenant_header_is_required() {
    let (_sandbox, _org, api) = connected(false).await;
    let missing = api
        .http
        .get(format!("{}/Invoices", api.base))
        .bearer_auth(&api.access_token)
        .header("accept", "application/json")
        .send()
        .await
        .expect("answer");
    assert_eq!(missing.status(), StatusCode::FORBIDDEN);
    let body: Value = missing.json().await.expect("json");
    assert_eq!(body["Title"], "Forbidden");
    assert_eq!(body["Status"], 403);
    assert_eq!(body["Detail"], "AuthenticationUnsuccessful");
    assert!(body["Instance"].is_string());
    let unknown = Api {
        tenant: "00000000-0000-0000-0000-000000000001".into(),
        ..api
    };
    assert_eq!(unknown.get("Invoices").await.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn contacts_and_items_are_found_by_where_or_created() {
    let (_sandbox, org, api) = connected(true).await;
    let (status, found) = api.get("Contacts?where=Name%3D%3D%22Ana%20Smith%22").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found["Contacts"], json!([]));

    let (status, created) = api
        .put(
            "Contacts",
            &json!({"Contacts": [{"Name": "Ana Smith", "EmailAddress": "ana@example.com"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let contact = &created["Contacts"][0];
    assert_eq!(contact["ContactStatus"], "ACTIVE");
    let id = contact["ContactID"].as_str().expect("id").to_owned();

    for filter in [
        r#"Name=="Ana Smith""#,
        r#"EmailAddress=="ana@example.com""#,
        r#"Name.StartsWith("ana")"#,
    ] {
        let (_, found) = api
            .get(&format!("Contacts?where={}", urlencode(filter)))
            .await;
        assert_eq!(found["Contacts"][0]["ContactID"], id.as_str(), "{filter}");
    }
    let (status, error) = api
        .get(&format!("Contacts?where={}", urlencode(r#"Nmae=="x""#)))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["Type"], "QueryParseException");

    // Names are unique among contacts.
    let (status, dup) = api
        .put("Contacts", &json!({"Contacts": [{"Name": "ana smith"}]}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(messages(&dup["Elements"][0])[0].contains("is already assigned to another contact"));

    let (_, items) = api
        .get(&format!("Items?where={}", urlencode(r#"Code=="TR-9""#)))
        .await;
    assert_eq!(items["Items"][0]["SalesDetails"]["UnitPrice"], 89.0);
    let (_, none) = api
        .get(&format!("Items?where={}", urlencode(r#"Code=="XX""#)))
        .await;
    assert_eq!(none["Items"], json!([]));
    assert_eq!(org.contacts().len(), 1);
    assert_eq!(org.items().len(), 1);
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn invoices_get_xeros_totals_numbers_and_lookups() {
    let (_sandbox, org, api) = connected(true).await;
    let (status, created) = api.put("Invoices", &order_invoice("#1001")).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(created["Status"], "OK");
    let inv = &created["Invoices"][0];
    assert_eq!(inv["InvoiceNumber"], "INV-0001");
    assert_eq!(inv["Type"], "ACCREC");
    assert_eq!(inv["Status"], "AUTHORISED");
    assert_eq!(inv["Contact"]["Name"], "Ana Smith");
    assert_eq!(inv["Date"], "/Date(1719792000000+0000)/");
    assert_eq!(inv["DateString"], "2024-07-01T00:00:00");
    assert_eq!(inv["DueDateString"], "2024-07-31T00:00:00");
    // 2 × 89.00 = 178.00 (VAT 35.60) + 3 × 12.50 = 37.50 (VAT 7.50) + 4.99 zero-rated.
    let lines = &inv["LineItems"];
    assert_eq!(lines[0]["Description"], "Trail Runner, size 9");
    assert_eq!(lines[0]["UnitAmount"], 89.0);
    assert_eq!(lines[0]["AccountCode"], "200");
    assert_eq!(lines[0]["TaxAmount"], 35.6);
    assert_eq!(lines[0]["LineAmount"], 178.0);
    assert_eq!(lines[0]["Item"]["Code"], "TR-9");
    assert_eq!(lines[1]["TaxAmount"], 7.5);
    assert_eq!(lines[2]["TaxAmount"], 0.0);
    assert_eq!(inv["SubTotal"], 220.49);
    assert_eq!(inv["TotalTax"], 43.1);
    assert_eq!(inv["Total"], 263.59);
    assert_eq!(inv["AmountDue"], 263.59);
    let id = inv["InvoiceID"].as_str().expect("id").to_owned();

    // Inclusive amounts: the tax is inside the line amount.
    let inclusive = json!({"Invoices": [{"Type": "ACCREC", "Contact": {"Name": "Bo"}, "Reference": "#1002",
        "LineAmountTypes": "Inclusive", "LineItems": [{"Description": "Gift", "Quantity": 1, "UnitAmount": 19.99, "AccountCode": "200"}]}]});
    let (_, second) = api.put("Invoices", &inclusive).await;
    let second = &second["Invoices"][0];
    assert_eq!(second["InvoiceNumber"], "INV-0002");
    assert_eq!(second["Status"], "DRAFT");
    assert_eq!(
        (
            second["SubTotal"].clone(),
            second["TotalTax"].clone(),
            second["Total"].clone()
        ),
        (json!(16.66), json!(3.33), json!(19.99))
    );

    // Lookups: by where on Reference, by number, by status, by id; paged answers carry lines.
    let (_, by_ref) = api
        .get(&format!(
            "Invoices?where={}",
            urlencode(r##"Reference=="#1001""##)
        ))
        .await;
    assert_eq!(by_ref["Invoices"].as_array().map(Vec::len), Some(1));
    assert_eq!(by_ref["Invoices"][0]["InvoiceID"], id.as_str());
    assert_eq!(
        by_ref["Invoices"][0]["LineItems"],
        json!([]),
        "unpaged lists leave lines out"
    );
    let (_, by_number) = api.get("Invoices?InvoiceNumbers=INV-0002").await;
    assert_eq!(by_number["Invoices"][0]["Reference"], "#1002");
    let (_, drafts) = api.get("Invoices?Statuses=DRAFT,SUBMITTED").await;
    assert_eq!(drafts["Invoices"].as_array().map(Vec::len), Some(1));
    let (_, paged) = api
        .get("Invoices?page=1&pageSize=1&order=InvoiceNumber%20DESC")
        .await;
    assert_eq!(
        paged["pagination"],
        json!({"page": 1, "pageSize": 1, "pageCount": 2, "itemCount": 2})
    );
    assert_eq!(paged["Invoices"][0]["InvoiceNumber"], "INV-0002");
    assert_eq!(paged["Invoices"][0]["LineItems"][0]["Description"], "Gift");
    let (status, one) = api.get(&format!("Invoices/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["Invoices"][0]["Total"], 263.59);
    let missing = api
        .send(
            Method::GET,
            "Invoices/9b0a6f8e-0000-4000-8000-000000000000",
            None,
            None,
        )
        .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    // A payment settles it.
    let payment = json!({"Payments": [{"Invoice": {"InvoiceID": id}, "Account": {"Code": "090"}, "Amount": 263.59, "Date": "2024-07-02"}]});
    let (status, paid) = api.put("Payments", &payment).await;
    assert_eq!(status, StatusCode::OK, "{paid}");
    let invoices = org.invoices();
    assert_eq!(invoices[0]["Status"], "PAID");
    assert_eq!(invoices[0]["AmountDue"], 0.0);
    assert_eq!(invoices.len(), 2);
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_answer_and_creates_nothing() {
    let (_sandbox, org, api) = connected(true).await;
    let body = order_invoice("#1001");
    let first = api
        .send(Method::PUT, "Invoices", Some(&body), Some("order-1001"))
        .await;
    assert_eq!(first.status(), StatusCode::OK);
    let first: Value = first.json().await.expect("json");
    let again: Value = api.put_keyed("Invoices", &body, "order-1001").await;
    assert_eq!(again, first);
    assert_eq!(org.invoices().len(), 1);
    let other: Value = api.put_keyed("Invoices", &body, "order-1001-b").await;
    assert_ne!(
        other["Invoices"][0]["InvoiceID"],
        first["Invoices"][0]["InvoiceID"]
    );
    assert_eq!(org.invoices().len(), 2);
}

#[tokio::test]
async fn invalid_invoices_answer_a_validation_exception_and_write_nothing() {
    let (_sandbox, org, api) = connected(false).await;
    let bad = json!({"Invoices": [{"Type": "ACCREC", "Contact": {"Name": "Ana"}, "LineItems": [
            {"ItemCode": "NOPE", "Quantity": 1},
            {"Description": "x", "Quantity": 1, "UnitAmount": 5, "AccountCode": "999"}]},
        {"Type": "ACCREC", "LineItems": [{"Description": "y", "Quantity": 1, "UnitAmount": 5, "AccountCode": "200"}]}]});
    let (status, body) = api.put("Invoices", &bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["ErrorNumber"], 10);
    assert_eq!(body["Type"], "ValidationException");
    assert_eq!(body["Message"], "A validation exception occurred");
    assert_eq!(
        messages(&body["Elements"][0]),
        vec![
            "Item code 'NOPE' is not valid",
            "Account code '999' is not a valid code for this document."
        ]
    );
    assert_eq!(
        messages(&body["Elements"][1]),
        vec!["A Contact must be specified for this type of transaction"]
    );
    assert_eq!(body["Elements"][0]["HasErrors"], true);
    assert!(org.invoices().is_empty());
    assert!(
        org.contacts().is_empty(),
        "the contact the invalid invoice named was not kept"
    );

    // summarizeErrors=false writes the valid ones and reports the others inline.
    let mixed = json!({"Invoices": [
        {"Type": "ACCREC", "Contact": {"Name": "Ana"}, "LineItems": [{"Description": "ok", "Quantity": 1, "UnitAmount": 5, "AccountCode": "200"}]},
        {"Type": "ACCREC", "Contact": {"Name": "Ana"}, "LineItems": [{"Description": "bad", "Quantity": 1, "UnitAmount": 5, "AccountCode": "200", "TaxType": "INPUT2"}]}]});
    let (status, body) = api.put("Invoices?summarizeErrors=false", &mixed).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["Invoices"][0]["StatusAttributeString"], "OK");
    assert_eq!(body["Invoices"][1]["StatusAttributeString"], "ERROR");
    assert_eq!(org.invoices().len(), 1);
}

#[tokio::test]
async fn six_calls_at_once_get_one_concurrent_429() {
    let (_sandbox, org) = start_xero(XeroOrgConfig {
        faults: FaultKnobs {
            latency_ms: 500,
            ..FaultKnobs::default()
        },
        ..XeroOrgConfig::new("acme")
    })
    .await;
    let api = Arc::new(Api::connect(&org).await);
    let calls = (0..6).map(|_| {
        let api = api.clone();
        tokio::spawn(async move { api.send(Method::GET, "Accounts", None, None).await })
    });
    let calls: Vec<_> = calls.collect();
    let mut refused: Vec<HeaderMap> = Vec::new();
    let mut ok = 0;
    for call in calls {
        let answer = call.await.expect("joined");
        match answer.status() {
            StatusCode::OK => ok += 1,
            StatusCode::TOO_MANY_REQUESTS => refused.push(answer.headers().clone()),
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((ok, refused.len()), (5, 1));
    assert_eq!(refused[0]["x-rate-limit-problem"], "concurrent");
    assert!(refused[0].get("x-minlimit-remaining").is_some());
    assert_eq!(org.max_in_flight(), 5);
}

#[tokio::test]
async fn the_sixty_first_call_in_a_minute_gets_a_minute_429_with_retry_after() {
    let (_sandbox, org, api) = connected(false).await;
    for i in 0..60u32 {
        let answer = api.send(Method::GET, "TaxRates", None, None).await;
        assert_eq!(answer.status(), StatusCode::OK, "call {i}");
        assert_eq!(
            answer.headers()["x-minlimit-remaining"],
            (59 - i).to_string().as_str()
        );
        assert_eq!(
            answer.headers()["x-daylimit-remaining"],
            (4999 - i).to_string().as_str()
        );
        assert!(answer.headers().get("x-appminlimit-remaining").is_some());
    }
    let refused = api.send(Method::GET, "TaxRates", None, None).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()["x-rate-limit-problem"], "minute");
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .ok()
        .and_then(|s| s.parse().ok())
        .expect("Retry-After");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(org.call_times().len(), 60);
    assert_eq!(org.max_calls_in_any_minute(), 60);
}

#[tokio::test]
async fn a_committed_invoice_whose_answer_is_lost_exists_and_its_key_replays_it() {
    let (_sandbox, org, api) = connected(true).await;
    let body = order_invoice("#1001");

    // The answer comes after the client gave up.
    org.lose_answers(1, LostAnswer::Delay { ms: 3000 });
    let timed_out = api
        .request(Method::PUT, "Invoices")
        .header("idempotency-key", "order-1001")
        .json(&body)
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(timed_out.is_err_and(|e| e.is_timeout()));
    assert_eq!(org.invoices().len(), 1, "the invoice was committed");
    let retried: Value = api.put_keyed("Invoices", &body, "order-1001").await;
    assert_eq!(
        retried["Invoices"][0]["InvoiceID"],
        org.invoices()[0]["InvoiceID"]
    );
    assert_eq!(org.invoices().len(), 1);

    // The connection is cut instead.
    org.lose_answers(1, LostAnswer::Drop);
    let cut = api
        .request(Method::PUT, "Invoices")
        .header("idempotency-key", "order-1002")
        .json(&order_invoice("#1002"))
        .send()
        .await;
    match cut {
        Err(e) => assert!(e.is_request(), "{e}"),
        Ok(answer) => assert!(answer.bytes().await.is_err(), "the answer arrived whole"),
    }
    assert_eq!(org.invoices().len(), 2);
    let (_, found) = api
        .get(&format!(
            "Invoices?where={}",
            urlencode(r##"Reference=="#1002""##)
        ))
        .await;
    assert_eq!(found["Invoices"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn injected_faults_look_like_xero() {
    let (sandbox, org, api) = connected(false).await;
    let http = http();
    let control = format!("{}/xero/acme", sandbox.control_url());
    let burst = http
        .post(format!("{control}/faults/burst"))
        .json(&json!({"count": 1}))
        .send()
        .await
        .expect("answer");
    assert_eq!(burst.status(), StatusCode::OK);
    let throttled = api.send(Method::GET, "Accounts", None, None).await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(throttled.headers()["x-rate-limit-problem"], "minute");
    assert_eq!(throttled.headers()["retry-after"], "2");
    org.faults().set(FaultKnobs {
        error_5xx_ratio: 1.0,
        ..FaultKnobs::default()
    });
    let (status, body) = api.get("Accounts").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["Type"], "UnknownErrorException");
    org.faults().set(FaultKnobs::default());
    let summary: Value = http
        .get(&control)
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("json");
    assert_eq!(summary["organisation"]["tenant_id"], org.tenant_id());
    assert_eq!(summary["calls"], 2);
    let listed: Value = http
        .get(format!("{}/xero", sandbox.control_url()))
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("json");
    assert_eq!(listed["organisations"][0]["base_url"], org.base_url());
}

#[tokio::test]
async fn xeros_official_python_sdk_works_unchanged() {
    let (_sandbox, org) = start_xero(XeroOrgConfig::new("acme")).await;
    let python = tokio::task::spawn_blocking(|| python_with(&[XERO_PYTHON]))
        .await
        .expect("installed");
    let args = [
        org.base_url().to_owned(),
        org.client_id().to_owned(),
        org.client_secret().to_owned(),
        REDIRECT.to_owned(),
    ];
    let out = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_script(&python, "xero_sdk.py", &args)
    })
    .await
    .expect("ran");
    let summary: Value = serde_json::from_str(out.trim()).expect("the script prints JSON");
    assert_eq!(summary["tenant_id"], org.tenant_id());
    assert_eq!(summary["invoice_number"], "INV-0001");
    assert_eq!(summary["replayed_invoice_id"], summary["invoice_id"]);
    assert_eq!(summary["status"], "AUTHORISED");
    assert_eq!(summary["date"], "2024-07-01");
    assert_eq!(summary["due_date"], "2024-07-31");
    assert_eq!(summary["line_amount_types"], "Exclusive");
    // 178.00 + 4.99, VAT 35.60 + 1.00 (0.998).
    assert_eq!(summary["line_tax"], json!([35.6, 1.0]));
    assert_eq!(
        (
            summary["sub_total"].clone(),
            summary["total_tax"].clone(),
            summary["total"].clone()
        ),
        (json!(182.99), json!(36.6), json!(219.59))
    );
    assert_eq!(summary["found"], json!([summary["invoice_id"].clone()]));
    assert_eq!(org.invoices().len(), 1);
    assert_eq!(org.contacts().len(), 1);
    assert_eq!(
        org.live_refresh_tokens(),
        1,
        "one live refresh token after the SDK's refresh"
    );
}

#[tokio::test]
async fn answers_match_xeros_published_schema_field_by_field() {
    let (_sandbox, org) = start_xero(XeroOrgConfig::new("acme")).await;
    let http = http();
    let mut answers: Vec<Value> = Vec::new();
    let mut keep = |name: &str, schema: &str, body: Value| {
        answers.push(json!({"name": name, "schema": schema, "body": body}));
    };
    let tokens = connect(&org).await;
    keep("POST /connect/token", "AccessToken", tokens.clone());
    let access = tokens["access_token"].as_str().expect("token").to_owned();
    let connections: Value = http
        .get(format!("{}/connections", org.base_url()))
        .bearer_auth(&access)
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("json");
    keep("GET /connections", "list[Connection]", connections);

    let api = Api::connect(&org).await;
    let call = |method: Method, path: &'static str, body: Option<Value>| {
        let api = &api;
        async move {
            let answer = api.send(method, path, body.as_ref(), None).await;
            answer.json::<Value>().await.expect("json")
        }
    };
    keep(
        "GET /Accounts",
        "Accounts",
        call(Method::GET, "Accounts", None).await,
    );
    keep(
        "GET /TaxRates",
        "TaxRates",
        call(Method::GET, "TaxRates", None).await,
    );
    let contact = json!({"Contacts": [{"Name": "Ana Smith", "FirstName": "Ana", "LastName": "Smith", "EmailAddress": "ana@example.com",
        "Addresses": [{"AddressType": "POBOX", "AddressLine1": "1 High St", "City": "Leeds", "PostalCode": "LS1 1AA", "Country": "GB"}],
        "Phones": [{"PhoneType": "MOBILE", "PhoneNumber": "07700 900123"}]}]});
    keep(
        "PUT /Contacts",
        "Contacts",
        call(Method::PUT, "Contacts", Some(contact)).await,
    );
    keep(
        "GET /Contacts?where",
        "Contacts",
        call(
            Method::GET,
            "Contacts?where=Name%3D%3D%22Ana%20Smith%22",
            None,
        )
        .await,
    );
    let item = json!({"Items": [{"Code": "TR-9", "Name": "Trail Runner 9", "Description": "Trail Runner, size 9",
        "SalesDetails": {"UnitPrice": 89.0, "AccountCode": "200", "TaxType": "OUTPUT2"}}]});
    keep(
        "PUT /Items",
        "Items",
        call(Method::PUT, "Items", Some(item)).await,
    );
    keep(
        "GET /Items?where",
        "Items",
        call(Method::GET, "Items?where=Code%3D%3D%22TR-9%22", None).await,
    );
    let mut invoice = order_invoice("#1001");
    invoice["Invoices"][0]["LineItems"][1]["DiscountRate"] = json!(10);
    let created = call(Method::PUT, "Invoices", Some(invoice)).await;
    let id = created["Invoices"][0]["InvoiceID"]
        .as_str()
        .expect("id")
        .to_owned();
    keep("PUT /Invoices", "Invoices", created);
    keep(
        "GET /Invoices?where",
        "Invoices",
        call(
            Method::GET,
            "Invoices?where=Reference%3D%3D%22%231001%22",
            None,
        )
        .await,
    );
    keep(
        "GET /Invoices?page",
        "Invoices",
        call(Method::GET, "Invoices?page=1", None).await,
    );
    let draft = json!({"Invoices": [{"Type": "ACCREC", "Contact": {"Name": "Bo"}, "Reference": "#1002",
        "LineItems": [{"Description": "Gift", "Quantity": 1, "UnitAmount": 19.99, "AccountCode": "200"}]}]});
    let draft = call(Method::PUT, "Invoices", Some(draft)).await;
    let draft_id = draft["Invoices"][0]["InvoiceID"]
        .as_str()
        .expect("id")
        .to_owned();
    let approve = json!({"Invoices": [{"InvoiceID": draft_id, "Status": "AUTHORISED"}]});
    keep(
        "POST /Invoices",
        "Invoices",
        call(Method::POST, "Invoices", Some(approve)).await,
    );
    let payment = json!({"Payments": [{"Invoice": {"InvoiceID": id}, "Account": {"Code": "090"}, "Amount": 100.0, "Date": "2024-07-02"}]});
    keep(
        "PUT /Payments",
        "Payments",
        call(Method::PUT, "Payments", Some(payment)).await,
    );
    let one = api.get(&format!("Invoices/{id}")).await.1;
    keep("GET /Invoices/{InvoiceID}", "Invoices", one);
    let bad = json!({"Invoices": [{"Type": "ACCREC", "Contact": {"Name": "Ana Smith"},
        "LineItems": [{"ItemCode": "NOPE", "Quantity": 1, "AccountCode": "999"}]}]});
    keep(
        "PUT /Invoices (invalid)",
        "Error:Invoices",
        call(Method::PUT, "Invoices", Some(bad)).await,
    );
    let dup = json!({"Contacts": [{"Name": "Ana Smith"}]});
    keep(
        "PUT /Contacts (duplicate)",
        "Error:Contacts",
        call(Method::PUT, "Contacts", Some(dup)).await,
    );
    keep(
        "GET /Invoices?where (bad)",
        "Error",
        call(Method::GET, "Invoices?where=Nope%3D%3D1", None).await,
    );

    let file = std::env::temp_dir().join(format!("xero-answers-{}.json", std::process::id()));
    std::fs::write(&file, serde_json::to_vec_pretty(&answers).expect("json")).expect("written");
    let python = tokio::task::spawn_blocking(|| python_with(&[XERO_PYTHON]))
        .await
        .expect("installed");
    let path = file.to_string_lossy().into_owned();
    let out =
        tokio::task::spawn_blocking(move || run_script(&python, "xero_contract.py", &[&path]))
            .await
            .expect("ran");
    eprintln!("{out}");
    assert!(
        out.contains(&format!("checked {} answers", answers.len())),
        "{out}"
    );
    let _ = std::fs::remove_file(file);
}
