//! The Xero connector against the Xero simulator over loopback: invoices posted with their
//! contact, items, lines, tax and totals compared on the simulator's books; idempotent creates;
//! lookups by reference; Xero's refusals mapped to what the queue should do; and one connector's
//! limiter keeping 200 concurrent invoices within the organisation's limits.

mod app_helpers;

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use reqwest::header::LOCATION;
use reqwest::{Method, StatusCode};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use switchyard::connectors::accounting::xero::RateLimits;
use switchyard::connectors::accounting::{
    AccountingPlatform, Endpoints, OAuth, XeroConfig, XeroConnector,
};
use switchyard::connectors::http::{client, client_settings};
use switchyard::connectors::ConnectorError;
use switchyard::domain::accounting::{AccountingKind, ClientCredentials, InvoiceStatus};
use switchyard::domain::invoice::{InvoiceContact, InvoiceDraft, InvoiceLine};
use switchyard::domain::Secret;
use switchyard::outbound::Client;
use switchyard::queue::JobError;
use switchyard_sandbox::xero::LostAnswer;
use switchyard_sandbox::{
    FaultKnobs, Sandbox, SandboxConfig, SandboxHandle, XeroLimits, XeroOrg, XeroOrgConfig,
};

const REDIRECT: &str = "http://127.0.0.1:9/callback";

/// A simulated organisation, an access token to it, and a connector config for it.
struct Rig {
    sandbox: SandboxHandle,
    org: Arc<XeroOrg>,
    access: Secret,
    http: Client,
    config: XeroConfig,
}

impl Rig {
    fn connector(&self) -> XeroConnector {
        XeroConnector::new(self.config.clone(), self.http.clone()).expect("connector builds")
    }

    /// A call to the Accounting API as the organisation's bookkeeper would make it.
    async fn api(&self, method: Method, path: &str, body: Value) -> Value {
        let answer = reqwest::Client::new()
            .request(method, format!("{}/{path}", self.config.api))
            .bearer_auth(self.access.expose())
            .header("xero-tenant-id", self.org.tenant_id())
            .header("accept", "application/json")
            .json(&body)
            .send()
            .await
            .expect("the simulator answers");
        assert_eq!(answer.status(), StatusCode::OK, "{path}");
        answer.json().await.expect("json")
    }

    /// The next call answers 429 with this `Retry-After` (Xero sends whole seconds, at least 1).
    fn throttle_next_call(&self, retry_after_secs: f64) {
        self.org.faults().set(FaultKnobs {
            burst_429: 1,
            retry_after_secs,
            ..FaultKnobs::default()
        });
    }

    async fn stop(self) {
        self.sandbox.shutdown().await;
    }
}

/// Starts an organisation shaped by `tweak` and authorizes the app through the code flow, with
/// the guarded client allowed loopback by the test settings.
async fn rig(tweak: impl FnOnce(&mut XeroOrgConfig)) -> Rig {
    let mut config = XeroOrgConfig::new("books");
    tweak(&mut config);
    let sandbox = Sandbox::start(SandboxConfig {
        xero: vec![config],
        ..SandboxConfig::default()
    })
    .await
    .expect("the sandbox starts");
    let org = sandbox.xero("books").expect("configured");
    let http = client(&client_settings(&app_helpers::settings())).expect("client builds");
    let endpoints = Endpoints::of(AccountingKind::Xero, Some(org.base_url())).expect("endpoints");
    let app = ClientCredentials {
        client_id: Secret::from(org.client_id()),
        client_secret: Secret::from(org.client_secret()),
    };
    let consent = endpoints.authorize_url(AccountingKind::Xero, &app, REDIRECT, "st");
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a browser");
    let back = browser.get(consent).send().await.expect("consent page");
    let back = url::Url::parse(back.headers()[LOCATION].to_str().expect("location"))
        .expect("a callback URL");
    let code = back
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("a code");
    let oauth = OAuth::new(AccountingKind::Xero, endpoints.clone(), http.clone());
    let tokens = oauth
        .exchange_code(&app, &code, REDIRECT)
        .await
        .expect("tokens");
    let mut config = XeroConfig::new(endpoints.api, org.tenant_id());
    config.limits.max_wait = Duration::from_secs(5);
    Rig {
        sandbox,
        org,
        access: tokens.access_token,
        http,
        config,
    }
}

fn d(text: &str) -> Decimal {
    Decimal::from_str(text).expect("a decimal")
}

/// An amount the simulator rendered as a JSON number.
fn amount(value: &Value) -> Decimal {
    d(&value.as_f64().expect("a number").to_string())
}

fn line(
    sku: Option<&str>,
    description: &str,
    quantity: &str,
    unit: &str,
    tax: &str,
) -> InvoiceLine {
    let taxed = tax != "0";
    InvoiceLine {
        sku: sku.map(str::to_owned),
        description: description.to_owned(),
        quantity: d(quantity),
        unit_amount: d(unit),
        tax_amount: d(tax),
        tax_rate: taxed.then(|| d("20")),
    }
}

/// An order's invoice: a stocked item, one Xero does not know, shipping and an untaxed line.
fn order(reference: &str) -> InvoiceDraft {
    InvoiceDraft {
        reference: reference.to_owned(),
        date: NaiveDate::from_ymd_opt(2026, 12, 5).expect("a date"),
        currency: "GBP".into(),
        contact: InvoiceContact {
            name: "Ana Smith".into(),
            email: Some("ana@example.com".into()),
        },
        lines: vec![
            line(Some("TR-9"), "Trail Runner, size 9", "2", "89.00", "35.60"),
            line(Some("NEW-1"), "Camp Mug", "1", "12.50", "2.50"),
            line(None, "Shipping", "1", "4.99", "1.00"),
            line(None, "Gift card", "1", "2.00", "0"),
        ],
    }
}

/// A one-line invoice to Ana.
fn small(reference: &str) -> InvoiceDraft {
    InvoiceDraft {
        lines: vec![line(None, "Shipping", "1", "4.99", "1.00")],
        ..order(reference)
    }
}

/// Posts [`order`] with `create_missing_products` and `status`, and checks the simulator's
/// copy: its contact, lines, codes, tax and totals, status and reference.
async fn posts_an_order(create_missing_products: bool, status: InvoiceStatus) {
    let mut rig = rig(|_| {}).await;
    let stocked = json!({"Items": [{"Code": "TR-9", "Name": "Trail Runner 9",
        "SalesDetails": {"UnitPrice": 89.0, "AccountCode": "200", "TaxType": "OUTPUT2"}}]});
    rig.api(Method::PUT, "Items", stocked).await;
    rig.config.settings.create_missing_products = create_missing_products;
    rig.config.settings.invoice_status = status;
    let draft = order("#1001");

    let posted = rig
        .connector()
        .create_invoice(&rig.access, &draft, "post-1001")
        .await
        .expect("the invoice is posted");

    let invoices = rig.org.invoices();
    assert_eq!(invoices.len(), 1);
    let inv = &invoices[0];
    assert_eq!(posted.id, inv["InvoiceID"].as_str().unwrap_or_default());
    assert_eq!(
        posted.number,
        inv["InvoiceNumber"].as_str().unwrap_or_default()
    );
    assert_eq!(posted.total, draft.total(), "Xero's total is the order's");
    assert_eq!(amount(&inv["Total"]), d("236.59"));
    assert_eq!(amount(&inv["TotalTax"]), draft.total_tax());
    assert_eq!(inv["Type"], "ACCREC");
    assert_eq!(inv["Reference"], "#1001");
    assert_eq!(inv["CurrencyCode"], "GBP");
    assert_eq!(inv["LineAmountTypes"], "Exclusive");
    let wanted_status = match status {
        InvoiceStatus::Draft => "DRAFT",
        InvoiceStatus::Authorised => "AUTHORISED",
    };
    assert_eq!(inv["Status"], wanted_status);
    assert_eq!(inv["Contact"]["Name"], "Ana Smith");
    assert_eq!(inv["Contact"]["EmailAddress"], "ana@example.com");
    assert_eq!(rig.org.contacts().len(), 1, "the contact was created once");

    let lines = inv["LineItems"].as_array().expect("lines");
    assert_eq!(lines.len(), 4);
    let new_code = create_missing_products.then_some("NEW-1");
    let codes: Vec<Option<&str>> = lines.iter().map(|l| l["ItemCode"].as_str()).collect();
    assert_eq!(codes, vec![Some("TR-9"), new_code, None, None]);
    for (sent, got) in draft.lines.iter().zip(lines) {
        assert_eq!(got["Description"], sent.description.as_str());
        assert_eq!(amount(&got["Quantity"]), sent.quantity);
        assert_eq!(amount(&got["UnitAmount"]), sent.unit_amount);
        assert_eq!(amount(&got["TaxAmount"]), sent.tax_amount);
        assert_eq!(got["AccountCode"], "200");
    }
    let tax_types: Vec<&str> = lines.iter().filter_map(|l| l["TaxType"].as_str()).collect();
    assert_eq!(tax_types, vec!["OUTPUT2", "OUTPUT2", "OUTPUT2", "NONE"]);

    let items = rig.org.items();
    let item_codes: Vec<&str> = items.iter().filter_map(|i| i["Code"].as_str()).collect();
    if create_missing_products {
        assert_eq!(item_codes, vec!["TR-9", "NEW-1"]);
        assert_eq!(items[1]["Name"], "Camp Mug");
        assert_eq!(items[1]["SalesDetails"]["AccountCode"], "200");
        assert_eq!(amount(&items[1]["SalesDetails"]["UnitPrice"]), d("12.50"));
    } else {
        assert_eq!(item_codes, vec!["TR-9"], "no item made");
    }
    rig.stop().await;
}

#[tokio::test]
async fn an_order_becomes_an_authorised_invoice_and_its_unknown_item_is_created() {
    posts_an_order(true, InvoiceStatus::Authorised).await;
}

#[tokio::test]
async fn without_create_missing_products_an_unknown_item_line_goes_without_a_code() {
    posts_an_order(false, InvoiceStatus::Draft).await;
}

#[tokio::test]
async fn the_same_idempotency_key_twice_makes_one_invoice_and_a_contact_is_found_by_email() {
    let rig = rig(|_| {}).await;
    let connector = rig.connector();
    let first = connector
        .create_invoice(&rig.access, &small("#2001"), "key-2001")
        .await
        .expect("posted");
    let again = connector
        .create_invoice(&rig.access, &small("#2001"), "key-2001")
        .await
        .expect("answered again");
    assert_eq!(again, first);
    assert_eq!(rig.org.invoices().len(), 1, "one invoice on Xero");

    // Another order from Ana under another name: her email finds her.
    let mut renamed = small("#2002");
    renamed.contact.name = "Ana S.".into();
    connector
        .create_invoice(&rig.access, &renamed, "key-2002")
        .await
        .expect("posted");
    let invoices = rig.org.invoices();
    assert_eq!(invoices.len(), 2);
    assert_eq!(rig.org.contacts().len(), 1);
    assert_eq!(
        invoices[1]["Contact"]["ContactID"],
        invoices[0]["Contact"]["ContactID"]
    );
    rig.stop().await;
}

#[tokio::test]
async fn an_invoice_is_found_by_its_exact_reference_and_a_lost_answer_reconciles() {
    let rig = rig(|_| {}).await;
    let connector = rig.connector();
    let quoted = r#"Jo's "big" order"#;
    let posted = connector
        .create_invoice(&rig.access, &small(quoted), "key-q")
        .await
        .expect("posted");
    let found = connector.find_invoice(&rig.access, quoted).await;
    assert_eq!(found, Ok(Some(posted.clone())));
    for other in [r#"JO'S "BIG" ORDER"#, "Jo's", "#404"] {
        assert_eq!(
            connector.find_invoice(&rig.access, other).await,
            Ok(None),
            "{other}"
        );
    }

    // A deleted invoice is not the one; a later one with the same reference is.
    rig.api(
        Method::POST,
        &format!("Invoices/{}", posted.id),
        json!({"Status": "DELETED"}),
    )
    .await;
    assert_eq!(connector.find_invoice(&rig.access, quoted).await, Ok(None));

    // The answer to a create is lost after Xero committed it: the lookup finds it, and the
    // same key answers it again without a second invoice.
    rig.org.lose_answers(1, LostAnswer::Drop);
    let lost = connector
        .create_invoice(&rig.access, &small(quoted), "key-q2")
        .await;
    assert!(
        matches!(lost, Err(ConnectorError::Transient { .. })),
        "{lost:?}"
    );
    let found = connector
        .find_invoice(&rig.access, quoted)
        .await
        .expect("looked up")
        .expect("it landed");
    assert_ne!(found.id, posted.id);
    let again = connector
        .create_invoice(&rig.access, &small(quoted), "key-q2")
        .await
        .expect("replayed");
    assert_eq!(again, found);
    assert_eq!(
        rig.org.invoices().len(),
        2,
        "the deleted one and the new one"
    );
    rig.stop().await;
}

#[tokio::test]
async fn a_returning_customer_for_known_items_costs_one_call_until_xero_refuses_one() {
    let mut rig = rig(|_| {}).await;
    rig.config.settings.create_missing_products = true;
    let connector = rig.connector();
    // Calls to the Accounting API, after the authorization's own.
    let authorization = rig.org.traffic().snapshot().requests_total;
    let calls = || rig.org.traffic().snapshot().requests_total - authorization;
    connector
        .create_invoice(&rig.access, &order("#6001"), "key-6001")
        .await
        .expect("posted");
    // Tax rates, the contact found (not) and made, the items found (not) and made, the invoice.
    assert_eq!(calls(), 6);

    connector
        .create_invoice(&rig.access, &order("#6002"), "key-6002")
        .await
        .expect("posted");
    assert_eq!(calls(), 7, "the create alone");
    let second = rig.org.invoices().pop().expect("two invoices");
    assert_eq!(second["Reference"], "#6002");
    assert_eq!(second["LineItems"][0]["ItemCode"], "TR-9");
    assert_eq!(second["LineItems"][1]["ItemCode"], "NEW-1");
    assert_eq!(rig.org.contacts().len(), 1);

    // A refusal might be of something the connector learnt (a contact archived since): the
    // next invoice looks its contact up again.
    let mut dollars = small("#6003");
    dollars.currency = "USD".into();
    let refused = connector
        .create_invoice(&rig.access, &dollars, "key-6003")
        .await;
    assert!(
        matches!(refused, Err(ConnectorError::Rejected { .. })),
        "{refused:?}"
    );
    assert_eq!(calls(), 8);
    connector
        .create_invoice(&rig.access, &small("#6004"), "key-6004")
        .await
        .expect("posted");
    assert_eq!(calls(), 10, "the contact's lookup and the create");
    rig.stop().await;
}

#[tokio::test]
async fn xeros_refusals_map_to_what_the_queue_should_do() {
    let rig = rig(|_| {}).await;
    let connector = rig.connector();

    let mut dollars = small("#3001");
    dollars.currency = "USD".into();
    let refused = connector
        .create_invoice(&rig.access, &dollars, "key-3001")
        .await
        .expect_err("the organisation keeps pounds");
    match &refused {
        ConnectorError::Rejected { status, message } => {
            assert_eq!(*status, 400);
            assert!(
                message.contains("Organisation is not subscribed to currency USD"),
                "{message}"
            );
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert!(matches!(JobError::from(refused), JobError::Permanent(_)));
    assert!(rig.org.invoices().is_empty(), "nothing written");

    rig.org.faults().set(FaultKnobs {
        error_5xx_ratio: 1.0,
        ..FaultKnobs::default()
    });
    let down = connector.find_invoice(&rig.access, "#1").await;
    assert!(
        matches!(&down, Err(ConnectorError::Transient { status: Some(500), message }) if message.contains("An error occurred in Xero")),
        "{down:?}"
    );
    rig.org.faults().set(FaultKnobs::default());

    rig.org.revoke_grant();
    let revoked = connector.find_invoice(&rig.access, "#1").await;
    assert!(
        matches!(&revoked, Err(ConnectorError::Auth { status: 403, message }) if message == "AuthenticationUnsuccessful"),
        "{revoked:?}"
    );
    rig.org.expire_access_tokens();
    let expired = connector
        .create_invoice(&rig.access, &small("#3002"), "key-3002")
        .await;
    match expired {
        Err(e @ ConnectorError::Auth { status: 401, .. }) => {
            assert!(e.to_string().contains("TokenExpired"), "{e}");
            assert!(!format!("{e:?}").contains(rig.access.expose()));
        }
        other => panic!("expected an expired token, got {other:?}"),
    }
    rig.stop().await;
}

#[tokio::test]
async fn a_429_is_waited_out_and_a_long_one_goes_back_to_the_queue_for_every_caller() {
    let rig = rig(|_| {}).await;
    let connector = rig.connector();
    rig.throttle_next_call(0.1);
    let started = Instant::now();
    let posted = connector
        .create_invoice(&rig.access, &small("#4001"), "key-4001")
        .await
        .expect("posted after the burst");
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "waited Xero's Retry-After (1 s), took {:?}",
        started.elapsed()
    );
    assert_eq!(rig.org.traffic().snapshot().responses_429, 1);
    assert_eq!(rig.org.invoices().len(), 1);

    rig.throttle_next_call(30.0);
    let started = Instant::now();
    let err = connector
        .find_invoice(&rig.access, "#4001")
        .await
        .expect_err("too long to hold");
    assert!(
        matches!(err, ConnectorError::RateLimited { retry_after, .. } if retry_after == Duration::from_secs(30)),
        "{err:?}"
    );
    assert!(matches!(JobError::from(err), JobError::RetryAfter { .. }));
    // The pause holds every caller of the connector: the next call does not reach Xero.
    let calls = rig.org.traffic().snapshot().requests_total;
    let held = connector.find_invoice(&rig.access, "#4001").await;
    assert!(
        matches!(held, Err(ConnectorError::RateLimited { retry_after, .. }) if retry_after > Duration::from_secs(25)),
        "{held:?}"
    );
    assert_eq!(rig.org.traffic().snapshot().requests_total, calls);
    assert!(started.elapsed() < Duration::from_secs(1));

    // The pause is this connector's: another one (another process) is not held by it.
    let fresh = rig.connector();
    assert_eq!(
        fresh.find_invoice(&rig.access, "#4001").await,
        Ok(Some(posted))
    );
    rig.stop().await;
}

#[tokio::test]
async fn the_day_limit_goes_back_to_the_queue_at_once() {
    let rig = rig(|c| {
        c.limits = XeroLimits {
            per_day: 2,
            ..XeroLimits::default()
        }
    })
    .await;
    let connector = rig.connector();
    for _ in 0..2 {
        assert_eq!(connector.find_invoice(&rig.access, "#1").await, Ok(None));
    }
    let started = Instant::now();
    let err = connector
        .find_invoice(&rig.access, "#1")
        .await
        .expect_err("the day is spent");
    assert!(started.elapsed() < Duration::from_millis(500));
    assert!(
        matches!(&err, ConnectorError::RateLimited { retry_after, message } if *retry_after >= Duration::from_secs(3600) && message.contains("day")),
        "{err:?}"
    );
    assert_eq!(rig.org.traffic().snapshot().responses_429, 1, "asked once");
    rig.stop().await;
}

#[tokio::test]
async fn two_hundred_invoices_at_once_stay_within_the_organisations_limits() {
    // Xero's limits on a clock compressed sixty times: 60 calls a second, 5 in flight.
    let window = Duration::from_secs(1);
    let mut rig = rig(|c| {
        c.limits = XeroLimits {
            minute_ms: window.as_millis() as u64,
            ..XeroLimits::default()
        }
    })
    .await;
    // Each call takes a while, so calls overlap and the cap in flight is reached.
    rig.org.faults().set(FaultKnobs {
        latency_ms: 20,
        ..FaultKnobs::default()
    });
    rig.config.limits = RateLimits {
        window,
        max_wait: Duration::from_secs(60),
        ..RateLimits::default()
    };
    let connector = Arc::new(rig.connector());
    // Ana's first order makes her contact; the rest find it.
    connector
        .create_invoice(&rig.access, &small("#4999"), "#4999")
        .await
        .expect("posted");
    let started = Instant::now();
    let posts: Vec<_> = (0..200)
        .map(|i| {
            let (connector, access) = (connector.clone(), rig.access.clone());
            tokio::spawn(async move {
                let reference = format!("#5{i:03}");
                connector
                    .create_invoice(&access, &small(&reference), &reference)
                    .await
            })
        })
        .collect();
    for post in posts {
        post.await.expect("the task ends").expect("posted");
    }
    let took = started.elapsed();

    let invoices = rig.org.invoices();
    assert_eq!(invoices.len(), 201);
    let mut references: Vec<&str> = invoices
        .iter()
        .filter_map(|i| i["Reference"].as_str())
        .collect();
    references.sort_unstable();
    references.dedup();
    assert_eq!(references.len(), 201);
    assert_eq!(rig.org.contacts().len(), 1);
    // Once, the tax rates, the contact's lookup and its create; per invoice, the create alone:
    // the connector knows Ana.
    assert_eq!(rig.org.call_times().len(), 3 + 201);
    let busiest = rig.org.max_calls_in_any(window);
    assert!(
        (40..=60).contains(&busiest),
        "at most 60 calls in any window, and the allowance used: {busiest}"
    );
    assert_eq!(rig.org.max_in_flight(), 5);
    assert_eq!(
        rig.org.traffic().snapshot().responses_429,
        0,
        "never refused"
    );
    assert!(took < Duration::from_secs(20), "took {took:?}");
    rig.stop().await;
}
