//! The demo's books: a simulated Xero organisation the store is connected to, invoicing every
//! order by itself once it ships (`auto_invoice: shipped`), so the view shows invoices made,
//! posted and synced as the fulfilment centre's shipments reach the channels.

use std::sync::Arc;

use sqlx::PgPool;

use crate::crypto::CredentialsKey;
use crate::domain::accounting::{AccountingSettings, AutoInvoice, InvoiceStatus};
use crate::store::{invoices, AccountId};
use switchyard_sandbox::{SandboxHandle, XeroOrg};

/// The simulated organisation the demo's sandbox serves.
const ORG: &str = "demo-xero";

pub struct Books {
    pub org: Arc<XeroOrg>,
    pub connection_id: i64,
}

/// Connects the store to the sandbox's Xero organisation, authorized through the API at `api`
/// (which must be serving), invoicing shipped orders as `AUTHORISED` invoices.
pub async fn connect(
    pool: &PgPool,
    key: &CredentialsKey,
    account: AccountId,
    store_id: i64,
    sandbox: &SandboxHandle,
    api: &str,
) -> anyhow::Result<Books> {
    let org = sandbox
        .xero(ORG)
        .ok_or_else(|| anyhow::anyhow!("the sandbox has no Xero organisation {ORG}"))?;
    let settings = AccountingSettings {
        auto_invoice: AutoInvoice::Shipped,
        invoice_status: InvoiceStatus::Authorised,
        ..AccountingSettings::default()
    };
    let connection =
        crate::sandbox_cmd::connect_xero(pool, key, account, store_id, &org, api, &settings)
            .await?;
    Ok(Books {
        org,
        connection_id: connection.id,
    })
}

impl Books {
    /// `12 invoices: 11 synced, 1 sending; on Xero 11, last INV-0011 (#1043, 49.80 GBP)`.
    pub async fn line(&self, pool: &PgPool) -> String {
        let counts = invoices::status_counts(pool, self.connection_id)
            .await
            .unwrap_or_default();
        let made: i64 = counts.iter().map(|(_, n)| n).sum();
        if made == 0 {
            return format!(
                "connected to Xero ({}); shipped orders are invoiced there, none yet",
                self.org.tenant_name()
            );
        }
        let statuses = counts
            .iter()
            .map(|(s, n)| format!("{n} {s}"))
            .collect::<Vec<_>>()
            .join(", ");
        let on_xero = self.org.invoices();
        let last = on_xero
            .last()
            .map(|i| {
                format!(
                    ", last {} ({}, {:.2} {})",
                    i["InvoiceNumber"].as_str().unwrap_or("?"),
                    i["Reference"].as_str().unwrap_or("?"),
                    i["Total"].as_f64().unwrap_or_default(),
                    i["CurrencyCode"].as_str().unwrap_or("")
                )
            })
            .unwrap_or_default();
        format!(
            "{made} invoices: {statuses}; on Xero ({}) {}{last}",
            self.org.tenant_name(),
            on_xero.len()
        )
    }
}
