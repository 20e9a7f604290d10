//! Accounting connectors: the platforms switchyard posts invoices to (Xero, Sage), reached with
//! an OAuth 2.0 grant the store's merchant authorizes. [`oauth`] speaks the grant; each platform's
//! folder speaks its API behind [`AccountingPlatform`].
//!
//! A connector does not hold the grant: every call takes the access token the caller got from
//! `store::accounting::access_token`, which refreshes it (one refresh at a time per connection)
//! and keeps the rotated refresh token. A connector does hold what must be shared by every task
//! posting to one organisation: its rate limiter, and what it learnt of the organisation
//! ([`recent`]).

pub mod oauth;
pub mod recent;
pub mod sage;
pub mod xero;

use async_trait::async_trait;

pub use oauth::{Endpoints, OAuth, Organisation};
pub use sage::{SageConfig, SageConnector};
pub use xero::{XeroConfig, XeroConnector};

use super::ConnectorError;
use crate::domain::accounting::AccountingKind;
use crate::domain::invoice::{InvoiceDraft, PostedInvoice};
use crate::domain::Secret;

/// An invoice ready to send: the platform's request body with its contact, items and tax
/// already resolved. [`AccountingPlatform::prepare_invoice`] makes it, and
/// [`AccountingPlatform::send_invoice`] sends it; between the two, the caller records that a
/// create is about to leave.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedInvoice {
    body: serde_json::Value,
}

/// What switchyard needs from an accounting platform.
#[async_trait]
pub trait AccountingPlatform: Send + Sync {
    fn kind(&self) -> AccountingKind;

    /// Everything the invoice needs before it can be created: its contact found (by email,
    /// then name) or created, its items found by code (or created, when the connection's
    /// settings say so), its tax mapped. Creates no invoice, so a failure here, a rate limit
    /// included, leaves nothing to reconcile.
    async fn prepare_invoice(
        &self,
        access: &Secret,
        invoice: &InvoiceDraft,
    ) -> Result<PreparedInvoice, ConnectorError>;

    /// Creates the prepared invoice. `idempotency_key` goes with the create (Xero's
    /// `Idempotency-Key`, Sage's `idempotency_id`), so a create repeated after a lost answer
    /// makes no second invoice where the platform honours it. A [`ConnectorError::RateLimited`]
    /// means the platform did not take the create (a 429, or the limiter's wait before it left).
    async fn send_invoice(
        &self,
        access: &Secret,
        invoice: &PreparedInvoice,
        idempotency_key: &str,
    ) -> Result<PostedInvoice, ConnectorError>;

    /// [`Self::prepare_invoice`], then [`Self::send_invoice`].
    async fn create_invoice(
        &self,
        access: &Secret,
        invoice: &InvoiceDraft,
        idempotency_key: &str,
    ) -> Result<PostedInvoice, ConnectorError> {
        let prepared = self.prepare_invoice(access, invoice).await?;
        self.send_invoice(access, &prepared, idempotency_key).await
    }

    /// The platform's invoice with this reference, if it has one: how a create whose answer was
    /// lost (a timeout after the request left) is reconciled before creating again.
    async fn find_invoice(
        &self,
        access: &Secret,
        reference: &str,
    ) -> Result<Option<PostedInvoice>, ConnectorError>;
}

/// The connector of one organisation on `kind`'s platform: its API at the platform's own host,
/// or under `base_url`.
pub fn build(
    kind: AccountingKind,
    base_url: Option<&str>,
    organisation_id: &str,
    settings: &crate::domain::accounting::AccountingSettings,
    http: &crate::outbound::ClientSettings,
) -> Result<std::sync::Arc<dyn AccountingPlatform>, ConnectorError> {
    let api = Endpoints::of(kind, base_url)?.api;
    let client = super::http::client(http)?;
    Ok(match kind {
        AccountingKind::Sage => std::sync::Arc::new(SageConnector::new(
            SageConfig::new(api, organisation_id, settings.clone()),
            client,
        )?),
        AccountingKind::Xero => std::sync::Arc::new(XeroConnector::new(
            XeroConfig {
                settings: settings.clone(),
                ..XeroConfig::new(api, organisation_id)
            },
            client,
        )?),
    })
}
