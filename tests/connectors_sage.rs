//! The Sage connector against the Sage simulator over loopback: invoices as they land on the
//! business (contact, lines, ledger account, tax, totals), idempotent creates, finding an
//! invoice again by reference, how refusals map onto error kinds, and the connector's own rate
//! limits measured at the simulator on a compressed clock.

mod app_helpers;

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::Value;
use switchyard::connectors::accounting::sage::RateLimits;
use switchyard::connectors::accounting::{
    AccountingPlatform, Endpoints, OAuth, SageConfig, SageConnector,
};
use switchyard::connectors::http::{client, client_settings};
use switchyard::connectors::ConnectorError;
use switchyard::domain::accounting::{AccountingKind, AccountingSettings, ClientCredentials};
use switchyard::domain::invoice::{InvoiceContact, InvoiceDraft, InvoiceLine};
use switchyard::domain::Secret;
use switchyard::outbound::Client;
use switchyard_sandbox::{
    FaultKnobs, SageBusiness, SageBusinessConfig, Sandbox, SandboxConfig, SandboxHandle,
};

const BUSINESS: &str = "contract-sage";
const CALLBACK: &str = "http://127.0.0.1:9/sage/callback";

fn d(text: &str) -> Decimal {
    Decimal::from_str(text).expect("a decimal")
}

/// A Sage decimal field of the simulator's JSON (`"120.0"`).
fn amount(value: &Value) -> Decimal {
    d(value.as_str().expect("a decimal string"))
}

/// A simulated business, a connection to it authorized through its OAuth code flow, and the
/// guarded client as the test settings make it (loopback admitted, short timeouts).
struct Rig {
    _sandbox: SandboxHandle,
    business: Arc<SageBusiness>,
    http: Client,
    access: Secret,
}

impl Rig {
    async fn start(edit: impl FnOnce(&mut SageBusinessConfig)) -> Rig {
        let mut config = SageBusinessConfig::new(BUSINESS);
        edit(&mut config);
        let sandbox = Sandbox::start(SandboxConfig {
            sage: vec![config],
            ..SandboxConfig::default()
        })
        .await
        .expect("the sandbox starts");
        let business = sandbox.sage(BUSINESS).expect("the business is served");
        let http =
            client(&client_settings(&app_helpers::settings())).expect("the guarded client builds");
        let access = grant(&business, &http).await;
        Rig {
            _sandbox: sandbox,
            business,
            http,
            access,
        }
    }

    fn config(&self, edit: impl FnOnce(&mut SageConfig)) -> SageConfig {
        let endpoints = Endpoints::of(AccountingKind::Sage, Some(self.business.base_url()))
            .expect("the simulator's endpoints");
        let settings = AccountingSettings {
            sales_account_code: "4000".into(),
            ..AccountingSettings::default()
        };
        let mut config = SageConfig::new(endpoints.api, self.business.business_id(), settings);
        edit(&mut config);
        config
    }

    fn connector(&self, edit: impl FnOnce(&mut SageConfig)) -> SageConnector {
        SageConnector::new(self.config(edit), self.http.clone()).expect("the connector builds")
    }

    fn invoices(&self) -> Vec<Value> {
        self.business.invoices()
    }
}

/// An access token, got the way a merchant's browser and switchyard get one.
async fn grant(business: &SageBusiness, http: &Client) -> Secret {
    let endpoints = Endpoints::of(AccountingKind::Sage, Some(business.base_url()))
        .expect("the simulator's endpoints");
    let app = ClientCredentials {
        client_id: Secret::from(business.client_id()),
        client_secret: Secret::from(business.client_secret()),
    };
    let authorize = endpoints.authorize_url(AccountingKind::Sage, &app, CALLBACK, "st");
    let request = http
        .request(reqwest::Method::GET, authorize)
        .build()
        .expect("a request");
    let answer = http
        .execute(request)
        .await
        .expect("the authorize page answers");
    let location = answer.headers["location"].to_str().expect("a location");
    let callback = url::Url::parse(location).expect("a callback URL");
    let code = callback
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("a code");
    OAuth::new(AccountingKind::Sage, endpoints, http.clone())
        .exchange_code(&app, &code, CALLBACK)
        .await
        .expect("the code is exchanged")
        .access_token
}

fn line(
    sku: Option<&str>,
    description: &str,
    quantity: &str,
    unit: &str,
    tax: &str,
    rate: Option<&str>,
) -> InvoiceLine {
    InvoiceLine {
        sku: sku.map(str::to_owned),
        description: description.into(),
        quantity: d(quantity),
        unit_amount: d(unit),
        tax_amount: d(tax),
        tax_rate: rate.map(d),
    }
}

/// An order's invoice: a taxed item, a zero-rated one with a code Sage has never seen, taxed
/// shipping and a discount.
fn draft(reference: &str) -> InvoiceDraft {
    InvoiceDraft {
        reference: reference.into(),
        date: NaiveDate::from_ymd_opt(2026, 3, 14).expect("a date"),
        currency: "GBP".into(),
        contact: InvoiceContact {
            name: "Jo Bloggs".into(),
            email: Some("jo@example.com".into()),
        },
        lines: vec![
            line(
                Some("TENT-2P"),
                "Two-person tent",
                "2",
                "149.00",
                "59.60",
                Some("20"),
            ),
            line(Some("NEW-PEG"), "Tent pegs", "3", "1.99", "0", Some("0")),
            line(None, "Shipping", "1", "4.99", "1.00", Some("20")),
            line(None, "Discount", "1", "-10.00", "0", Some("0")),
        ],
    }
}

#[tokio::test]
async fn an_invoice_lands_with_its_contact_lines_ledger_account_tax_and_totals() {
    let rig = Rig::start(|_| {}).await;
    let sent = draft("#1001");
    let posted = rig
        .connector(|_| {})
        .create_invoice(&rig.access, &sent, "inv-1")
        .await
        .expect("posted");
    // The same customer again, with products to be created if the platform had them.
    let creating = rig.connector(|c| c.settings.create_missing_products = true);
    let again = draft("#1002");
    let second = creating
        .create_invoice(&rig.access, &again, "inv-2")
        .await
        .expect("posted");

    let contacts = rig.business.contacts();
    assert_eq!(contacts.len(), 1, "the second invoice found the customer");
    let contact = &contacts[0];
    assert_eq!(contact["name"], "Jo Bloggs");
    assert_eq!(contact["email"], "jo@example.com");
    assert_eq!(contact["contact_types"][0]["id"], "CUSTOMER");

    let invoices = rig.invoices();
    assert_eq!(invoices.len(), 2);
    for (invoice, (sent, posted)) in invoices.iter().zip([(&sent, &posted), (&again, &second)]) {
        assert_eq!(invoice["id"], posted.id.as_str());
        assert_eq!(invoice["invoice_number"], posted.number.as_str());
        assert_eq!(invoice["reference"], sent.reference.as_str());
        assert_eq!(invoice["contact"]["id"], contact["id"]);
        assert_eq!(invoice["date"], "2026-03-14");
        assert_eq!(invoice["currency"]["id"], "GBP");
        assert_eq!(
            invoice["status"]["id"], "UNPAID",
            "Sage posts sales invoices"
        );
        let lines = invoice["invoice_lines"].as_array().expect("lines");
        assert_eq!(
            lines.len(),
            sent.lines.len(),
            "shipping and discount are lines"
        );
        let rates = ["GB_STANDARD", "GB_ZERO", "GB_STANDARD", "GB_ZERO"];
        for ((got, want), rate) in lines.iter().zip(&sent.lines).zip(rates) {
            assert_eq!(got["description"], want.description.as_str());
            assert_eq!(amount(&got["quantity"]), want.quantity);
            assert_eq!(amount(&got["unit_price"]), want.unit_amount);
            assert_eq!(amount(&got["tax_amount"]), want.tax_amount);
            assert_eq!(got["tax_rate"]["id"], rate);
            assert_eq!(
                got["ledger_account"]["displayed_as"],
                "Sales - Products (4000)"
            );
            assert_eq!(got["product"], Value::Null, "the simulator has no products");
        }
        assert_eq!(amount(&invoice["net_amount"]), sent.subtotal());
        assert_eq!(amount(&invoice["tax_amount"]), sent.total_tax());
        assert_eq!(amount(&invoice["total_amount"]), sent.total());
        assert_eq!(posted.total, sent.total());
    }
    assert_eq!(posted.total, d("359.56"), "298.96 net and 60.60 tax");
}

#[tokio::test]
async fn the_same_idempotency_key_makes_one_invoice_even_from_another_connector() {
    let rig = Rig::start(|_| {}).await;
    let sent = draft("#2001");
    let first = rig
        .connector(|_| {})
        .create_invoice(&rig.access, &sent, "inv-2001")
        .await
        .expect("posted");
    let again = rig
        .connector(|_| {})
        .create_invoice(&rig.access, &sent, "inv-2001")
        .await
        .expect("answered");
    assert_eq!(again, first);
    assert_eq!(rig.invoices().len(), 1);
    assert_eq!(rig.business.contacts().len(), 1);
}

#[tokio::test]
async fn an_invoice_whose_answer_was_lost_is_found_and_not_made_twice() {
    let rig = Rig::start(|_| {}).await;
    let connector = rig.connector(|_| {});
    let sent = draft("#2101");
    rig.business.commit_then_gateway_timeout(1);
    let err = connector
        .create_invoice(&rig.access, &sent, "inv-2101")
        .await
        .expect_err("the gateway gave up");
    assert!(
        matches!(
            &err,
            ConnectorError::Transient {
                status: Some(504),
                ..
            }
        ),
        "{err:?}"
    );
    let found = connector
        .find_invoice(&rig.access, "#2101")
        .await
        .expect("searched")
        .expect("the invoice landed");
    let retried = connector
        .create_invoice(&rig.access, &sent, "inv-2101")
        .await
        .expect("answered");
    assert_eq!(retried, found);
    assert_eq!(rig.invoices().len(), 1);
}

#[tokio::test]
async fn an_invoice_is_found_by_its_exact_reference_the_newest_copy_first() {
    let rig = Rig::start(|_| {}).await;
    let connector = rig.connector(|_| {});
    let post = |reference: &'static str, key: &'static str| {
        let connector = &connector;
        let access = &rig.access;
        async move {
            connector
                .create_invoice(access, &draft(reference), key)
                .await
                .expect("posted")
        }
    };
    let _older = post("#100", "k1").await;
    let longer = post("#1000", "k2").await;
    let newer = post("#100", "k3").await;

    let found = |reference: &'static str| connector.find_invoice(&rig.access, reference);
    assert_eq!(found("#100").await.expect("searched"), Some(newer));
    assert_eq!(found("#1000").await.expect("searched"), Some(longer));
    assert_eq!(
        found("#10").await.expect("searched"),
        None,
        "no partial match"
    );
    assert_eq!(found("#999").await.expect("searched"), None);
}

#[tokio::test]
async fn refusals_map_onto_error_kinds_with_sages_own_words() {
    let rig = Rig::start(|_| {}).await;
    let sent = draft("#3001");

    // Xero's default account code names no Sage ledger account: nothing is created.
    let xero_code = rig.connector(|c| c.settings = AccountingSettings::default());
    let err = xero_code
        .create_invoice(&rig.access, &sent, "k")
        .await
        .expect_err("no such ledger account");
    assert!(
        matches!(&err, ConnectorError::Invalid(m) if m.contains("settings.sales_account_code")),
        "{err:?}"
    );
    assert!(rig.business.contacts().is_empty());

    let unknown_rate = rig.connector(|c| c.settings.tax_type = Some("GB_NOPE".into()));
    match unknown_rate.create_invoice(&rig.access, &sent, "k").await {
        Err(ConnectorError::Rejected { status, message }) => {
            assert_eq!(status, 422);
            assert!(
                message.contains("invoice_lines.tax_rate_id: Couldn't find TaxRate."),
                "{message}"
            );
        }
        other => panic!("expected a rejection, got {other:?}"),
    }

    let connector = rig.connector(|_| {});
    rig.business.set_faults(FaultKnobs {
        error_5xx_ratio: 1.0,
        ..FaultKnobs::default()
    });
    match connector.find_invoice(&rig.access, "#3001").await {
        Err(e @ ConnectorError::Transient { .. }) => {
            assert_eq!(
                e,
                ConnectorError::Transient {
                    status: Some(500),
                    message: "An unexpected error occurred.".into()
                }
            );
            assert!(e.is_retryable());
        }
        other => panic!("expected a transient error, got {other:?}"),
    }
    rig.business.set_faults(FaultKnobs::default());

    rig.business.expire_access_tokens();
    match connector.find_invoice(&rig.access, "#3001").await {
        Err(ConnectorError::Auth { status, message }) => {
            assert_eq!(status, 401);
            assert!(message.contains("JWT expired"), "{message}");
        }
        other => panic!("expected an auth error, got {other:?}"),
    }
    let fresh = grant(&rig.business, &rig.http).await;
    connector
        .find_invoice(&fresh, "#3001")
        .await
        .expect("a new token works");
    rig.business.revoke_grant();
    let err = connector
        .find_invoice(&fresh, "#3001")
        .await
        .expect_err("a revoked grant's token is refused");
    assert!(
        matches!(err, ConnectorError::Auth { status: 401, .. }),
        "{err:?}"
    );
    assert!(!format!("{err:?}").contains(fresh.expose()));
}

#[tokio::test]
async fn a_429_is_waited_out_within_the_budget_and_handed_back_past_it() {
    let rig = Rig::start(|_| {}).await;
    let connector = rig.connector(|_| {});
    rig.business.set_faults(FaultKnobs {
        burst_429: 1,
        retry_after_secs: 1.0,
        ..FaultKnobs::default()
    });
    let started = Instant::now();
    connector
        .create_invoice(&rig.access, &draft("#4001"), "k1")
        .await
        .expect("posted after the Retry-After");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited Sage's Retry-After of 1 s, took {:?}",
        started.elapsed()
    );
    assert_eq!(rig.invoices().len(), 1);

    let impatient = rig.connector(|c| c.limits.max_wait = Duration::from_millis(300));
    rig.business.set_faults(FaultKnobs {
        burst_429: 1,
        retry_after_secs: 1.0,
        ..FaultKnobs::default()
    });
    let started = Instant::now();
    let err = impatient
        .find_invoice(&rig.access, "#4001")
        .await
        .expect_err("the wait is longer than the budget");
    assert!(
        matches!(&err, ConnectorError::RateLimited { retry_after, .. } if *retry_after == Duration::from_secs(1)),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(300),
        "handed back at once"
    );
}

/// The most of `times` inside any `window` starting at one of them.
fn busiest_window(times: &[Instant], window: Duration) -> usize {
    times
        .iter()
        .map(|start| {
            times
                .iter()
                .filter(|t| **t >= *start && **t < *start + window)
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[tokio::test]
async fn two_hundred_invoices_at_once_stay_within_the_window_and_in_flight_caps() {
    const INVOICES: usize = 200;
    const PER_WINDOW: u32 = 60;
    const IN_FLIGHT: u32 = 4;
    let window = Duration::from_secs(1);
    // The simulator refuses nothing here and adds latency, so calls overlap: what it records
    // is the connector's doing alone.
    let rig = Rig::start(|b| {
        b.rate_limit.requests_per_window = 100_000;
        b.rate_limit.window_secs = 1;
        b.faults.latency_ms = 40;
    })
    .await;
    let connector = Arc::new(rig.connector(|c| {
        c.limits = RateLimits {
            per_window: PER_WINDOW,
            window,
            max_in_flight: IN_FLIGHT,
            max_wait: Duration::from_secs(60),
            ..RateLimits::default()
        }
    }));
    rig.business.reset_calls();

    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..INVOICES {
        let connector = connector.clone();
        let access = rig.access.clone();
        tasks.spawn(async move {
            let mut sent = draft(&format!("#R{n}"));
            sent.contact.name = format!("Customer {}", n % 10);
            sent.contact.email = Some(format!("customer{}@example.com", n % 10));
            connector
                .create_invoice(&access, &sent, &format!("rate-{n}"))
                .await
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("the task ran")
            .expect("every invoice is posted");
    }
    let took = started.elapsed();

    assert_eq!(rig.invoices().len(), INVOICES);
    assert_eq!(rig.business.contacts().len(), 10);
    let calls = rig.business.call_times();
    let busiest = busiest_window(&calls, window);
    assert!(
        busiest <= PER_WINDOW as usize,
        "{busiest} calls in one rolling second"
    );
    assert!(
        busiest >= PER_WINDOW as usize * 3 / 4,
        "the window is used, not idled: {busiest}"
    );
    let in_flight = rig.business.max_in_flight();
    assert_eq!(
        in_flight, IN_FLIGHT as usize,
        "the cap is reached, never passed"
    );
    eprintln!(
        "{} calls for {INVOICES} invoices in {took:?}; busiest second {busiest}, {in_flight} in flight",
        calls.len()
    );
}
