//! Invoices end to end against the Xero simulator: an imported order becomes an invoice on the
//! platform with its contact, lines, tax and total, `synced` with the platform's id and number;
//! with 429 bursts, 5xx answers and a create whose answer is lost after the invoice was made,
//! still exactly one invoice on the platform; a revoked grant fails the invoice with the reason
//! and a dead letter, without retrying.

mod accounting_helpers;
mod app_helpers;
mod tenant_helpers;

use std::str::FromStr;
use std::time::Duration;

use accounting_helpers::{connect_to, connect_with, invoice_order, xero, Platform};
use app_helpers::{drop_database, key, settings_with_own_database, spawn_server_with, Running};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use switchyard::domain::Decision;
use switchyard::outbox::relay;
use switchyard::queue::Broker;
use switchyard::workers::{self, Deps};
use switchyard_sandbox::xero::LostAnswer;
use switchyard_sandbox::{FaultKnobs, XeroOrg};
use tenant_helpers::{channel, order, tenant, upsert};
use tokio::sync::watch;

/// The server, the relay and the post-invoice pool on a database of the test's own.
struct World {
    app: app_helpers::TestServer,
    relay: Running,
    pool: Running,
    db: sqlx::PgPool,
}

async fn world() -> World {
    let settings = settings_with_own_database();
    let app = spawn_server_with(settings.clone()).await;
    let db = switchyard::db::prepare(&settings.database)
        .await
        .expect("the test's database");
    let broker = Broker::connect(&settings).await.expect("the broker");
    let deps = Deps::new(db.clone(), key(&settings), broker.clone());
    let (stop_tx, stop_rx) = watch::channel(false);
    let relay = Running {
        stop_tx,
        handle: tokio::spawn({
            let (db, broker) = (db.clone(), broker.clone());
            async move {
                let _ = relay::run(db, broker, stop_rx).await;
            }
        }),
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let pool = workers::spawn_pool_with(&broker, "post-invoice", Some(deps), stop_rx)
        .expect("the post-invoice pool");
    let pool = Running {
        stop_tx,
        handle: tokio::spawn(pool),
    };
    World {
        app,
        relay,
        pool,
        db,
    }
}

impl World {
    async fn stop(self) {
        self.pool.stop().await;
        self.relay.stop().await;
        let settings = self.app.settings.clone();
        self.app.stop().await;
        self.db.close().await;
        drop_database(&settings).await;
    }

    /// Polls the invoice until it is no longer pending or sending.
    async fn settled(&self, token: &str, id: i64) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let invoice: Value = self
                .app
                .get(&format!("/v1/invoices/{id}"), token)
                .await
                .json()
                .await
                .unwrap();
            if invoice["status"] == "synced" || invoice["status"] == "failed" {
                return invoice;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "invoice {id} did not settle: {invoice}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Subscribes a webhook of `store` to the invoice events, so the relay keeps them.
async fn subscribe_to_invoices(w: &World, token: &str, store: i64) {
    let hook = json!({ "url": "http://127.0.0.1:9/hook",
                       "triggers": ["invoice.created", "invoice.updated"] });
    let res = w
        .app
        .post(&format!("/v1/stores/{store}/webhooks"), token, hook)
        .await;
    assert_eq!(res.status(), 201);
}

/// The invoice events of invoice `id` the relay handed on, waiting until there are `n`: each
/// one's type and payload.
async fn invoice_events(w: &World, id: i64, n: usize) -> Vec<(String, Value)> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let events: Vec<(String, Value)> = sqlx::query_as(
            "SELECT type, payload FROM webhook_events WHERE payload->>'invoice_id' = $1 \
             ORDER BY id",
        )
        .bind(id.to_string())
        .fetch_all(&w.db)
        .await
        .unwrap();
        if events.len() >= n || tokio::time::Instant::now() > deadline {
            return events;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An imported order of a store connected to `org`, invoiced; the invoice's id and the token.
async fn invoice_an_order(w: &World, org: &XeroOrg, number: &str) -> (i64, String) {
    invoice_an_order_with(w, org, number, json!({})).await
}

/// [`invoice_an_order`] through a connection with `settings`.
async fn invoice_an_order_with(
    w: &World,
    org: &XeroOrg,
    number: &str,
    settings: Value,
) -> (i64, String) {
    let t = tenant(&w.db).await;
    let ch = channel(&w.db, &key(&w.app.settings), t.account).await;
    let stored = upsert(&w.db, &ch, &gb_order(number), &Decision::Import).await;
    let conn = connect_with(&w.app, &t.token, org, ch.store_id, settings).await;
    let invoice = invoice_order(&w.app, &t.token, conn, stored.order_id).await;
    (invoice["id"].as_i64().unwrap(), t.token)
}

/// A UK order: every line, and shipping, taxed at 20 %. Lines 12.50 and 2 × 12.50, shipping
/// 4.00: 49.80 with 8.30 of tax.
fn gb_order(number: &str) -> switchyard::domain::ChannelOrder {
    let mut o = order(number);
    o.lines[1].tax = "5.00".into();
    o.totals.tax = "8.30".into();
    o.totals.total = "49.80".into();
    o
}

fn d(v: &Value) -> Decimal {
    match v {
        Value::Number(n) => Decimal::from_str(&n.to_string()).unwrap(),
        Value::String(s) => Decimal::from_str(s).unwrap(),
        other => panic!("not an amount: {other}"),
    }
}

/// The simulator's invoices with `reference`.
fn on_platform(org: &XeroOrg, reference: &str) -> Vec<Value> {
    org.invoices()
        .into_iter()
        .filter(|i| i["Reference"] == reference)
        .collect()
}

#[tokio::test]
async fn an_imported_order_becomes_one_invoice_on_xero_with_its_lines_tax_and_total() {
    let (sandbox, org) = xero(|_| {}).await;
    let w = world().await;
    let (id, token) = invoice_an_order(&w, &org, "7001").await;
    let invoice = w.settled(&token, id).await;
    assert_eq!(invoice["status"], "synced", "{invoice}");

    let copies = on_platform(&org, "#7001");
    assert_eq!(copies.len(), 1);
    let xero = &copies[0];
    assert_eq!(invoice["platform_invoice_id"], xero["InvoiceID"]);
    assert_eq!(invoice["platform_number"], xero["InvoiceNumber"]);
    assert_eq!(xero["Type"], "ACCREC");
    assert_eq!(xero["Contact"]["Name"], "Ada Lovelace");
    assert_eq!(d(&xero["Total"]), Decimal::from_str("49.80").unwrap());
    assert_eq!(d(&xero["TotalTax"]), Decimal::from_str("8.30").unwrap());
    let lines = xero["LineItems"].as_array().unwrap();
    assert_eq!(lines.len(), 3, "{xero}");
    assert!(
        lines.iter().all(|l| l["TaxType"] == "OUTPUT2"),
        "20 %: {xero}"
    );
    assert_eq!(lines[1]["Quantity"], json!(2.0));
    assert_eq!(lines[2]["Description"], "Shipping");
    assert_eq!(
        d(&invoice["platform_total"]),
        Decimal::from_str("49.80").unwrap()
    );
    w.stop().await;
    sandbox.shutdown().await;
}

#[tokio::test]
async fn an_invoice_announces_itself_created_then_updated_as_its_status_changes() {
    let (sandbox, org) = xero(|_| {}).await;
    let w = world().await;
    let t = tenant(&w.db).await;
    let ch = channel(&w.db, &key(&w.app.settings), t.account).await;
    subscribe_to_invoices(&w, &t.token, ch.store_id).await;
    let stored = upsert(&w.db, &ch, &gb_order("7010"), &Decision::Import).await;
    let conn = connect_with(&w.app, &t.token, &org, ch.store_id, json!({})).await;
    let id = invoice_order(&w.app, &t.token, conn, stored.order_id).await["id"]
        .as_i64()
        .unwrap();
    let invoice = w.settled(&t.token, id).await;
    assert_eq!(invoice["status"], "synced", "{invoice}");

    // The relay hands both events on to the store's webhook, each with the invoice as the API
    // shows it at that moment.
    let events = invoice_events(&w, id, 3).await;
    let types: Vec<&str> = events.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        types,
        ["invoice.created", "invoice.updated", "invoice.updated"]
    );
    let data: Vec<&Value> = events.iter().map(|(_, p)| &p["data"]).collect();
    assert_eq!(events[0].1["invoice_id"], id);
    assert_eq!(data[0]["status"], "pending");
    assert_eq!(data[0]["reference"], "#7010");
    assert_eq!(data[1]["status"], "sending");
    assert_eq!(*data[2], invoice, "the synced invoice, as GET answers it");
    w.stop().await;
    sandbox.shutdown().await;
}

#[tokio::test]
async fn bursts_errors_and_a_lost_answer_still_make_exactly_one_invoice() {
    let (sandbox, org) = xero(|_| {}).await;
    let w = world().await;
    // The first create is made on Xero but its answer never comes back in time.
    org.lose_answers(1, LostAnswer::Delay { ms: 5_000 });
    org.faults().set(FaultKnobs {
        burst_429: 2,
        error_5xx_ratio: 0.2,
        ..FaultKnobs::default()
    });
    let (id, token) = invoice_an_order(&w, &org, "7002").await;
    let invoice = w.settled(&token, id).await;
    assert_eq!(invoice["status"], "synced", "{invoice}");
    assert_eq!(on_platform(&org, "#7002").len(), 1, "exactly one invoice");
    w.stop().await;
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_create_xero_throttled_goes_back_to_pending_and_its_retry_looks_nothing_up() {
    let (sandbox, org) = xero(|_| {}).await;
    let w = world().await;
    let t = tenant(&w.db).await;
    let ch = channel(&w.db, &key(&w.app.settings), t.account).await;
    let first = upsert(&w.db, &ch, &gb_order("7020"), &Decision::Import).await;
    let second = upsert(&w.db, &ch, &gb_order("7021"), &Decision::Import).await;
    let conn = connect_with(&w.app, &t.token, &org, ch.store_id, json!({})).await;
    subscribe_to_invoices(&w, &t.token, ch.store_id).await;
    let id = invoice_order(&w.app, &t.token, conn, first.order_id).await["id"]
        .as_i64()
        .unwrap();
    assert_eq!(w.settled(&t.token, id).await["status"], "synced");

    // The connector knows Ada and the tax rates now, so the second invoice's first call is its
    // create, and Xero throttles it once more than the connector absorbs: the job goes back to
    // the queue with Xero's Retry-After.
    let lookups = || {
        org.traffic()
            .snapshot()
            .by_route
            .iter()
            .filter(|(route, _)| route.starts_with("GET ") && route.ends_with("/Invoices"))
            .map(|(_, n)| *n)
            .sum::<u64>()
    };
    assert_eq!(lookups(), 0);
    org.faults().set(FaultKnobs {
        burst_429: 4,
        retry_after_secs: 1.0,
        ..FaultKnobs::default()
    });
    let id = invoice_order(&w.app, &t.token, conn, second.order_id).await["id"]
        .as_i64()
        .unwrap();
    let invoice = w.settled(&t.token, id).await;
    assert_eq!(invoice["status"], "synced", "{invoice}");
    assert_eq!(org.traffic().snapshot().responses_429, 4);
    assert_eq!(on_platform(&org, "#7021").len(), 1);
    // Xero took no create, so the invoice was pending again and the retry created it at once.
    assert_eq!(lookups(), 0, "no lookup by reference");
    let statuses: Vec<Value> = invoice_events(&w, id, 5)
        .await
        .into_iter()
        .map(|(_, payload)| payload["data"]["status"].clone())
        .collect();
    assert_eq!(
        statuses,
        ["pending", "sending", "pending", "sending", "synced"],
        "every status the invoice went through, each announced"
    );
    w.stop().await;
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_refreshed_grant_keeps_the_connector_and_what_it_learnt() {
    // Access tokens so short-lived that every job refreshes the grant first.
    let (sandbox, org) = xero(|c| c.access_token_secs = 60).await;
    let w = world().await;
    let t = tenant(&w.db).await;
    let ch = channel(&w.db, &key(&w.app.settings), t.account).await;
    let conn = connect_with(&w.app, &t.token, &org, ch.store_id, json!({})).await;
    for number in ["7030", "7031"] {
        let stored = upsert(&w.db, &ch, &gb_order(number), &Decision::Import).await;
        let id = invoice_order(&w.app, &t.token, conn, stored.order_id).await["id"]
            .as_i64()
            .unwrap();
        assert_eq!(w.settled(&t.token, id).await["status"], "synced");
    }
    let traffic = org.traffic().snapshot();
    assert_eq!(
        traffic.by_route.get("POST /connect/token"),
        Some(&3),
        "the code's exchange, then a refresh per job: {traffic:?}"
    );
    // The refresh rotated the tokens on the connection's row, and the second job still used
    // the connector the first built: Ada, the items and the tax rates were known.
    for route in ["Contacts", "Items", "TaxRates"] {
        assert_eq!(
            traffic.by_route.get(&format!("GET /api.xro/2.0/{route}")),
            Some(&1),
            "{route}: {traffic:?}"
        );
    }
    w.stop().await;
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_revoked_grant_fails_the_invoice_with_the_reason_and_no_retries() {
    let (sandbox, org) = xero(|c| c.access_token_secs = 60).await;
    let w = world().await;
    let t = tenant(&w.db).await;
    let ch = channel(&w.db, &key(&w.app.settings), t.account).await;
    let stored = upsert(&w.db, &ch, &gb_order("7003"), &Decision::Import).await;
    let conn = connect_with(&w.app, &t.token, &org, ch.store_id, json!({})).await;
    // The merchant removes the app in Xero after connecting.
    org.revoke_grant();
    let id = invoice_order(&w.app, &t.token, conn, stored.order_id).await["id"]
        .as_i64()
        .unwrap();
    let invoice = w.settled(&t.token, id).await;
    assert_eq!(invoice["status"], "failed");
    let error = invoice["error"].as_str().unwrap();
    assert!(error.contains("needs authorizing again"), "{error}");
    assert!(on_platform(&org, "#7003").is_empty());
    let connection: Value = w
        .app
        .get(&format!("/v1/accounting-connections/{conn}"), &t.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(connection["status"], "needs_reauth");
    w.stop().await;
    sandbox.shutdown().await;
}

#[tokio::test]
async fn an_invoice_xero_refuses_fails_with_xeros_words_and_a_dead_letter() {
    let (sandbox, org) = xero(|_| {}).await;
    let w = world().await;
    let broker = Broker::connect(&w.app.settings).await.unwrap();
    let queue = broker.queue("post-invoice").unwrap();
    let (id, token) =
        invoice_an_order_with(&w, &org, "7004", json!({"sales_account_code": "999"})).await;
    let invoice = w.settled(&token, id).await;
    assert_eq!(invoice["status"], "failed");
    let error = invoice["error"].as_str().unwrap();
    assert!(error.contains("999"), "Xero's own words: {error}");
    assert!(
        error.starts_with("Xero rejected the request (400)"),
        "named as Xero, not as a channel: {error}"
    );
    app_helpers::wait_for(&queue, |s| s.dead == 1).await;
    assert!(on_platform(&org, "#7004").is_empty());
    w.stop().await;
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_connection_that_invoices_shipped_orders_does_so_once_by_itself() {
    use switchyard::domain::event_type::Action;
    use switchyard::domain::OrderStatus;
    use switchyard::store::events::{self, Event};
    use tenant_helpers::stored_order;

    let (sandbox, org) = xero(|_| {}).await;
    let w = world().await;
    let t = tenant(&w.db).await;
    let ch = channel(&w.db, &key(&w.app.settings), t.account).await;
    let conn = connect_with(
        &w.app,
        &t.token,
        &org,
        ch.store_id,
        json!({"auto_invoice": "shipped"}),
    )
    .await;
    let unshipped = upsert(&w.db, &ch, &gb_order("7101"), &Decision::Import).await;
    let mut o = gb_order("7102");
    o.status = OrderStatus::Shipped;
    let shipped = upsert(&w.db, &ch, &o, &Decision::Import).await;
    // The events an import or a fulfilment writes, each twice, as a re-read would.
    for id in [unshipped.order_id, shipped.order_id, shipped.order_id] {
        let stored = stored_order(&w.db, t.account, id).await;
        let mut tx = w.db.begin().await.unwrap();
        events::write_in_tx(&mut tx, &[Event::Order(Action::Updated, &stored)])
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let invoice = loop {
        let list: Value = w
            .app
            .get(&format!("/v1/invoices?connection_id={conn}"), &t.token)
            .await
            .json()
            .await
            .unwrap();
        let items = list["items"].as_array().unwrap().clone();
        if let Some(first) = items.first() {
            if first["status"] == "synced" {
                assert_eq!(items.len(), 1, "only the shipped order, once: {list}");
                break first.clone();
            }
        }
        assert!(tokio::time::Instant::now() < deadline, "no invoice: {list}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(invoice["order_id"], shipped.order_id);
    assert_eq!(on_platform(&org, "#7102").len(), 1);
    assert!(on_platform(&org, "#7101").is_empty());
    w.stop().await;
    sandbox.shutdown().await;
}

#[tokio::test]
async fn an_imported_order_becomes_one_invoice_on_sage_with_its_total() {
    use switchyard_sandbox::{SageBusinessConfig, Sandbox, SandboxConfig};

    let sandbox = Sandbox::start(SandboxConfig {
        sage: vec![SageBusinessConfig::new("books")],
        ..SandboxConfig::default()
    })
    .await
    .expect("the sandbox starts");
    let business = sandbox.sage("books").expect("configured");
    let w = world().await;
    let t = tenant(&w.db).await;
    let ch = channel(&w.db, &key(&w.app.settings), t.account).await;
    let stored = upsert(&w.db, &ch, &gb_order("7201"), &Decision::Import).await;
    let platform = Platform {
        kind: "sage",
        base_url: business.base_url(),
        client_id: business.client_id(),
        client_secret: business.client_secret(),
    };
    // Sage's sales ledger is nominal code 4000 ("Sales - Products").
    let conn = connect_to(
        &w.app,
        &t.token,
        &platform,
        ch.store_id,
        json!({"sales_account_code": "4000"}),
    )
    .await;
    let id = invoice_order(&w.app, &t.token, conn, stored.order_id).await["id"]
        .as_i64()
        .unwrap();
    let invoice = w.settled(&t.token, id).await;
    assert_eq!(invoice["status"], "synced", "{invoice}");
    let copies: Vec<Value> = business
        .invoices()
        .into_iter()
        .filter(|i| i["reference"] == "#7201")
        .collect();
    assert_eq!(copies.len(), 1);
    let sage = &copies[0];
    assert_eq!(invoice["platform_invoice_id"], sage["id"]);
    assert_eq!(
        d(&sage["total_amount"]),
        Decimal::from_str("49.80").unwrap()
    );
    assert_eq!(d(&sage["tax_amount"]), Decimal::from_str("8.30").unwrap());
    assert_eq!(
        sage["contact"]["displayed_as"]
            .as_str()
            .map(|s| s.contains("Ada Lovelace")),
        Some(true),
        "{sage}"
    );
    w.stop().await;
    sandbox.shutdown().await;
}
