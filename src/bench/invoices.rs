//! `switchyard bench invoices`: invoices synced per minute for one Xero organisation against the
//! simulator's real limits (5 calls in flight, 60 a minute), as a ratio of the ceiling those
//! limits set.
//!
//! The whole path runs: invoices are stored with their post-invoice jobs, the outbox relay hands
//! the jobs to Redis, and the post-invoice pool posts them through the Xero connector, its rate
//! limiter and the OAuth grant (authorized first through the API's own callback). The figures:
//! invoices per minute and its ratio to 60 (one call per invoice would reach it; a contact or item
//! lookup per invoice lowers the ceiling), the platform calls per invoice and per minute, and the
//! most calls the simulator saw in any rolling minute and in flight at once (which must stay
//! within 60 and 5).

use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use rust_decimal::Decimal;
use tokio::sync::watch;

use super::bench_store;
use super::import::bench_database;
use crate::app::Application;
use crate::config::Settings;
use crate::crypto::CredentialsKey;
use crate::domain::accounting::AccountingSettings;
use crate::domain::invoice::{InvoiceContact, InvoiceDraft, InvoiceLine};
use crate::outbox::relay;
use crate::queue::Broker;
use crate::store::invoices::{self, NewInvoice};
use crate::workers::{self, Deps};
use switchyard_sandbox::{Sandbox, SandboxConfig, XeroOrgConfig};

#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Invoices posted for the one organisation.
    #[arg(long, default_value_t = 120)]
    pub invoices: usize,
}

/// Xero's per-organisation ceiling, calls a minute.
const PER_MINUTE: f64 = 60.0;

fn bar(len: u64) -> ProgressBar {
    let pb = ProgressBar::new(len);
    let style = ProgressStyle::with_template("  synced     {bar:40} {pos}/{len} {elapsed}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    pb.set_style(style);
    pb
}

fn draft(i: usize) -> InvoiceDraft {
    InvoiceDraft {
        reference: format!("BENCH-{i:06}"),
        date: chrono::Utc::now().date_naive(),
        currency: "GBP".to_owned(),
        contact: InvoiceContact {
            name: "Bench Trading Ltd".to_owned(),
            email: Some("accounts@bench.example".to_owned()),
        },
        lines: vec![InvoiceLine {
            sku: None,
            description: "Two-person tent".to_owned(),
            quantity: Decimal::from(2),
            unit_amount: Decimal::new(14900, 2),
            tax_amount: Decimal::new(5960, 2),
            tax_rate: Some(Decimal::from(20)),
        }],
    }
}

pub async fn run(base: &Settings, opts: &Options) -> anyhow::Result<()> {
    let mut settings = base.clone();
    settings.database = bench_database(&base.database)?;
    settings.redis.key_prefix = format!("sybench-{}", ulid::Ulid::new());
    settings.server.listen = "127.0.0.1:0".parse()?;
    let sandbox = Sandbox::start(SandboxConfig {
        xero: vec![XeroOrgConfig::new("bench-books")],
        ..SandboxConfig::default()
    })
    .await
    .context("starting the Xero simulator")?;
    let org = sandbox.xero("bench-books").context("the organisation")?;

    let app = Application::build(settings.clone()).await?;
    let api = format!("http://127.0.0.1:{}", app.port());
    let (stop, stopped) = watch::channel(false);
    let server = tokio::spawn(app.run_until(stopped.clone()));

    let db = crate::db::prepare(&settings.database).await?;
    let key = CredentialsKey::from_hex(&settings.crypto.credentials_key)?;
    let (account, store_id) = bench_store(&db, "invoices").await?;
    let connection = crate::sandbox_cmd::connect_xero(
        &db,
        &key,
        account,
        store_id,
        &org,
        &api,
        &AccountingSettings::default(),
    )
    .await?;

    let broker = Broker::connect(&settings).await?;
    let deps = Deps::new(db.clone(), key, broker.clone());
    let relay = tokio::spawn(relay::run(db.clone(), broker.clone(), stopped.clone()));
    let pool = tokio::spawn(workers::spawn_pool_with(
        &broker,
        "post-invoice",
        Some(deps),
        stopped.clone(),
    )?);

    println!(
        "bench invoices: {} invoices for one Xero organisation, limits 5 in flight and 60 a minute",
        opts.invoices
    );
    org.traffic().reset();
    let started = Instant::now();
    let mut ids = Vec::with_capacity(opts.invoices);
    for i in 0..opts.invoices {
        let d = draft(i);
        let row = invoices::create(
            &db,
            account,
            &NewInvoice {
                connection_id: connection.id,
                order_id: None,
                draft: &d,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        ids.push(row.id);
    }
    let pb = bar(opts.invoices as u64);
    let (mut synced, mut failed) = (0_i64, 0_i64);
    while synced + failed < opts.invoices as i64 {
        let counts: (i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE status = 'synced'), \
             count(*) FILTER (WHERE status = 'failed') FROM invoices WHERE id = ANY($1)",
        )
        .bind(&ids)
        .fetch_one(&db)
        .await?;
        (synced, failed) = counts;
        pb.set_position(synced as u64);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    pb.finish();
    let minutes = started.elapsed().as_secs_f64() / 60.0;

    let traffic = org.traffic().snapshot();
    // The calls the organisation's limits admitted, as the simulator recorded them.
    let calls = org.call_times().iter().filter(|at| **at >= started).count();
    let per_minute = synced as f64 / minutes;
    println!(
        "\nsynced {synced}, failed {failed}, in {:.2} min: {per_minute:.1} invoices a minute, \
         {:.2}x the ceiling of {PER_MINUTE} calls a minute",
        minutes,
        per_minute / PER_MINUTE
    );
    println!(
        "platform calls: {calls} ({:.2} an invoice, {:.1} a minute, {:.2}x the limit); \
         429s answered: {}",
        calls as f64 / synced.max(1) as f64,
        calls as f64 / minutes,
        calls as f64 / minutes / PER_MINUTE,
        traffic.responses_429
    );
    println!(
        "the simulator saw at most {} calls in any rolling minute and {} in flight at once",
        org.max_calls_in_any_minute(),
        org.max_in_flight()
    );

    let _ = stop.send(true);
    let _ = pool.await;
    let _ = relay.await;
    let _ = server.await;
    sqlx::query("DELETE FROM accounts WHERE id = $1")
        .bind(account.0)
        .execute(&db)
        .await?;
    broker.queue("post-invoice")?.destroy().await?;
    sandbox.shutdown().await;
    Ok(())
}
