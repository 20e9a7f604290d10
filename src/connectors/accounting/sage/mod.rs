//! Sage Business Cloud Accounting (API v3.1) connector: posts invoices to one business.
//!
//! - Auth: the connection's access token as `Authorization: Bearer`, and the business id as
//!   `X-Business` on every call.
//! - Contacts: a customer with the draft's email
//!   (`GET /contacts?email=..&contact_type_id=CUSTOMER`), else one named exactly as the
//!   draft's contact (`search=<name>`, matched whole, ignoring case), else created (`POST /contacts`, `contact_type_ids: ["CUSTOMER"]`, the email on its
//!   `main_contact_person`). Finding or creating one customer (by name or email) is serialised
//!   per connector, so two invoices for one new customer make one contact; a contact found or
//!   made is trusted for 15 minutes ([`super::recent`]).
//! - Ledger account: the setting `sales_account_code` is the nominal code of a ledger account
//!   visible in sales (`GET /ledger_accounts?visible_in=sales&search=<code>`, matched exactly),
//!   learnt once per connector. Sage has no default sales account to fall back on through this
//!   API, so a code that matches none (Xero's default "200", say) fails as `Invalid` naming the
//!   setting.
//! - Tax rates: `GET /tax_rates` learnt once; a line's rate as [`mapping::tax_rate_id`] picks
//!   it, and its `tax_amount` always sent (v3.1 requires it on taxed lines).
//! - Invoices: `POST /sales_invoices` with `idempotency_id` inside the `sales_invoice` (Sage
//!   answers a repeat within seven days with the first invoice), `currency_id` the draft's.
//!   Lines carry no `product_id`: the simulator this connector is tested against (and follows)
//!   serves no products, so SKUs are neither looked up nor created and
//!   `create_missing_products` has no effect here. Sales invoices are created posted
//!   (`UNPAID`); the simulator models no draft status, so `invoice_status` is not sent.
//! - Found again by reference: `GET /sales_invoices?search=<reference>`, every page, matched
//!   exactly; of several, the newest not voided or deleted.
//! - Limits: [`limiter::RateLimiter`], one per connector (Sage: 200 calls in any 60 s per
//!   business; 429 with `Retry-After` in seconds).

mod api;
pub mod limiter;
pub mod mapping;
mod wire;

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use async_trait::async_trait;
use tokio::sync::{Mutex, MutexGuard, OnceCell};
use url::Url;

use self::api::Api;
use self::limiter::RateLimiter;
use self::mapping::Rate;
use super::recent::{contact_key, Recent};
use super::{AccountingPlatform, PreparedInvoice};
use crate::connectors::{http, money, ConnectorError};
use crate::domain::accounting::{AccountingKind, AccountingSettings};
use crate::domain::invoice::{InvoiceContact, InvoiceDraft, PostedInvoice};
use crate::domain::Secret;
use crate::outbound::Client;

pub use limiter::RateLimits;

/// Pages of a filtered list read before the filter is judged too loose.
const MAX_SEARCH_PAGES: usize = 25;
/// Locks contacts are found or created under, chosen by name and email: invoices for other
/// customers rarely wait on each other, invoices for one customer always do.
const CONTACT_LOCKS: usize = 16;

/// One Sage business's connection.
#[derive(Debug, Clone)]
pub struct SageConfig {
    /// The API root: `https://api.accounting.sage.com/v3.1`, or a simulator's (see
    /// [`super::Endpoints`]).
    pub api: Url,
    /// The business id, sent as `X-Business`.
    pub business_id: String,
    pub settings: AccountingSettings,
    pub limits: RateLimits,
}

impl SageConfig {
    /// A config with Sage's documented limits.
    pub fn new(api: Url, business_id: impl Into<String>, settings: AccountingSettings) -> Self {
        SageConfig {
            api,
            business_id: business_id.into(),
            settings,
            limits: RateLimits::default(),
        }
    }
}

/// The ledger account lines are posted to.
#[derive(Debug)]
struct Ledger {
    id: String,
    /// The account's own tax rate: a taxed line's rate when nothing better matches.
    default_tax_rate: Option<String>,
}

/// A connector for one business; share it (`Arc`) between every task posting there, so they
/// share its rate limiter and what it learnt.
#[derive(Debug)]
pub struct SageConnector {
    api: Api,
    settings: AccountingSettings,
    ledger: OnceCell<Ledger>,
    tax_rates: OnceCell<Vec<Rate>>,
    /// Held while a contact is found or created; see [`CONTACT_LOCKS`].
    contact_locks: Vec<Mutex<()>>,
    /// Contact ids by [`contact_key`].
    contacts: Recent<String>,
}

impl SageConnector {
    pub fn new(config: SageConfig, http: Client) -> Result<SageConnector, ConnectorError> {
        let business = http::secret_header(&config.business_id, "the Sage business id")?;
        let limiter = RateLimiter::new(config.limits);
        Ok(SageConnector {
            api: Api::new(config.api, business, http, limiter),
            settings: config.settings,
            ledger: OnceCell::new(),
            tax_rates: OnceCell::new(),
            contact_locks: (0..CONTACT_LOCKS).map(|_| Mutex::new(())).collect(),
            contacts: Recent::default(),
        })
    }

    async fn ledger(&self, access: &Secret) -> Result<&Ledger, ConnectorError> {
        self.ledger
            .get_or_try_init(|| async {
                let code = self.settings.sales_account_code.as_str();
                let accounts: Vec<wire::LedgerAccount> = self
                    .api
                    .list(
                        access,
                        "ledger_accounts",
                        &[
                            ("visible_in", "sales"),
                            ("search", code),
                            ("attributes", "nominal_code,tax_rate"),
                        ],
                        MAX_SEARCH_PAGES,
                    )
                    .await?;
                let account = accounts
                    .into_iter()
                    .find(|a| a.nominal_code == code)
                    .ok_or_else(|| {
                        ConnectorError::Invalid(format!(
                            "settings.sales_account_code {code:?} is not the nominal code of a \
                             Sage ledger account that takes sales (such as 4000)"
                        ))
                    })?;
                Ok(Ledger {
                    id: account.id,
                    default_tax_rate: account.tax_rate.map(|r| r.id),
                })
            })
            .await
    }

    async fn tax_rates(&self, access: &Secret) -> Result<&[Rate], ConnectorError> {
        let rates = self
            .tax_rates
            .get_or_try_init(|| async {
                let listed: Vec<wire::TaxRate> = self
                    .api
                    .list(
                        access,
                        "tax_rates",
                        &[("attributes", "percentage")],
                        MAX_SEARCH_PAGES,
                    )
                    .await?;
                listed
                    .into_iter()
                    .map(|r| {
                        Ok(Rate {
                            percentage: money::parse(&r.percentage, "tax_rates.percentage")?,
                            id: r.id,
                        })
                    })
                    .collect::<Result<Vec<_>, ConnectorError>>()
            })
            .await?;
        Ok(rates)
    }

    /// The locks of the contact's name and email, taken in index order (so two callers never
    /// hold one each while waiting for the other).
    async fn lock_contact(&self, contact: &InvoiceContact) -> Vec<MutexGuard<'_, ()>> {
        let index = |key: &str| {
            let mut hasher = DefaultHasher::new();
            key.trim().to_lowercase().hash(&mut hasher);
            (hasher.finish() % CONTACT_LOCKS as u64) as usize
        };
        let mut indices: Vec<usize> = std::iter::once(contact.name.as_str())
            .chain(contact.email.as_deref())
            .map(index)
            .collect();
        indices.sort_unstable();
        indices.dedup();
        let mut guards = Vec::with_capacity(indices.len());
        for i in indices {
            guards.push(self.contact_locks[i].lock().await);
        }
        guards
    }

    /// The id of the customer the invoice is made out to: learnt recently, else found, else
    /// created.
    async fn contact(
        &self,
        access: &Secret,
        contact: &InvoiceContact,
    ) -> Result<String, ConnectorError> {
        let key = contact_key(contact);
        if let Some(id) = self.contacts.get(&key) {
            return Ok(id);
        }
        let _one_at_a_time = self.lock_contact(contact).await;
        // Whoever held the lock before may just have learnt it.
        if let Some(id) = self.contacts.get(&key) {
            return Ok(id);
        }
        let id = self.find_or_create_contact(access, contact).await?;
        self.contacts.insert(key, id.clone());
        Ok(id)
    }

    async fn find_or_create_contact(
        &self,
        access: &Secret,
        contact: &InvoiceContact,
    ) -> Result<String, ConnectorError> {
        if let Some(email) = &contact.email {
            let found: Vec<wire::Contact> = self
                .api
                .list(
                    access,
                    "contacts",
                    &[("email", email), ("contact_type_id", "CUSTOMER")],
                    MAX_SEARCH_PAGES,
                )
                .await?;
            if let Some(c) = found.into_iter().next() {
                return Ok(c.id);
            }
        }
        let name = contact.name.trim();
        let named: Vec<wire::Contact> = self
            .api
            .list(
                access,
                "contacts",
                &[
                    ("search", name),
                    ("contact_type_id", "CUSTOMER"),
                    ("attributes", "name"),
                ],
                MAX_SEARCH_PAGES,
            )
            .await?;
        let same = named.into_iter().find(|c| {
            c.name
                .as_deref()
                .is_some_and(|n| n.trim().eq_ignore_ascii_case(name))
        });
        if let Some(c) = same {
            return Ok(c.id);
        }
        let created: wire::Contact = self
            .api
            .post(access, "contacts", &mapping::new_contact(contact))
            .await?;
        Ok(created.id)
    }
}

fn posted(invoice: wire::SalesInvoice) -> Result<PostedInvoice, ConnectorError> {
    Ok(PostedInvoice {
        total: money::parse(&invoice.total_amount, "sales_invoice.total_amount")?,
        id: invoice.id,
        number: invoice.invoice_number,
    })
}

#[async_trait]
impl AccountingPlatform for SageConnector {
    fn kind(&self) -> AccountingKind {
        AccountingKind::Sage
    }

    async fn prepare_invoice(
        &self,
        access: &Secret,
        invoice: &InvoiceDraft,
    ) -> Result<PreparedInvoice, ConnectorError> {
        invoice
            .validate()
            .map_err(|e| ConnectorError::Invalid(format!("invoice {}: {}", e.field, e.reason)))?;
        // Settings are checked before anything is created on the business.
        let ledger = self.ledger(access).await?;
        let rates = self.tax_rates(access).await?;
        let rate_ids = invoice
            .lines
            .iter()
            .enumerate()
            .map(|(i, line)| {
                mapping::tax_rate_id(
                    line,
                    i,
                    self.settings.tax_type.as_deref(),
                    rates,
                    ledger.default_tax_rate.as_deref(),
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        let contact_id = self.contact(access, &invoice.contact).await?;
        let body = mapping::new_sales_invoice(invoice, &contact_id, &ledger.id, &rate_ids);
        Ok(PreparedInvoice { body })
    }

    async fn send_invoice(
        &self,
        access: &Secret,
        invoice: &PreparedInvoice,
        idempotency_key: &str,
    ) -> Result<PostedInvoice, ConnectorError> {
        let body = mapping::with_idempotency_id(&invoice.body, idempotency_key);
        match self.api.post(access, "sales_invoices", &body).await {
            Ok(created) => posted(created),
            Err(refused @ ConnectorError::Rejected { .. }) => {
                // The contact learnt earlier may be what Sage refused (deleted since).
                self.contacts.clear();
                Err(refused)
            }
            Err(e) => Err(e),
        }
    }

    async fn find_invoice(
        &self,
        access: &Secret,
        reference: &str,
    ) -> Result<Option<PostedInvoice>, ConnectorError> {
        let found: Vec<wire::SalesInvoice> = self
            .api
            .list(
                access,
                "sales_invoices",
                &[
                    ("search", reference),
                    ("attributes", wire::INVOICE_ATTRIBUTES),
                ],
                MAX_SEARCH_PAGES,
            )
            .await?;
        // The list is oldest first; of equals, `max_by_key` keeps the last.
        found
            .into_iter()
            .filter(|i| i.reference.as_deref() == Some(reference) && !i.is_void())
            .max_by_key(|i| i.created_at)
            .map(posted)
            .transpose()
    }
}
