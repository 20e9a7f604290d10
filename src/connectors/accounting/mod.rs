//! Accounting connectors: the platforms switchyard posts invoices to (Xero, Sage), reached with
//! an OAuth 2.0 grant the store's merchant authorizes. [`oauth`] speaks the grant; each platform's
//! folder speaks its API behind [`AccountingPlatform`].
//!
//! A connector does not hold the grant: every call takes the access token the caller got from
//! `store::accounting::access_token`, which refreshes it (one refresh at a time per connection)
//! and keeps the rotated refresh token. A connector does hold what must be shared by every task
//! posting to one organisation: its rate limiter.

pub mod oauth;
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

/// What switchyard needs from an accounting platform.
#[async_trait]
pub trait AccountingPlatform: Send + Sync {
    fn kind(&self) -> AccountingKind;

    /// Creates the invoice: its contact found (by email, then name) or created, its items found
    /// by code (or created, when the connection's settings say so), then the invoice itself.
    /// `idempotency_key` goes with the create (Xero's `Idempotency-Key`, Sage's `idempotency_id`),
    /// so a create repeated after a lost answer makes no second invoice where the platform
    /// honours it.
    async fn create_invoice(
        &self,
        access: &Secret,
        invoice: &InvoiceDraft,
        idempotency_key: &str,
    ) -> Result<PostedInvoice, ConnectorError>;

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
