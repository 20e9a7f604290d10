//! Xero Accounting API (`api.xro/2.0`) connector: posts sales invoices to one organisation.
//!
//! - Auth: the connection's OAuth 2.0 access token as `Authorization: Bearer`, and the
//!   organisation's tenant id in `xero-tenant-id`, on every call; JSON asked for with `Accept`.
//! - Contact: `GET Contacts?where=EmailAddress=="..." OR Name=="..."` (the email wins, then the
//!   name), else `PUT Contacts`. A create refused because a concurrent post just made the same
//!   contact is answered by looking again.
//! - Items: `GET Items?where=Code=="A" OR Code=="B"` for all of an invoice's codes (a few dozen per
//!   call); with `create_missing_products`, one `PUT Items?summarizeErrors=false` for the missing
//!   ones (sold at the line's price into the sales account), else their lines go without
//!   `ItemCode`.
//! - Contacts and items found or made are trusted for 15 minutes ([`super::recent`]), so an
//!   invoice to a returning customer for known products spends one call, the create.
//! - Tax: each line's `TaxType` is `NONE` when untaxed, else the connection's `tax_type`, else
//!   the organisation's active sales rate equal to the line's rate (`GET TaxRates`, read once
//!   per connector). `TaxAmount` is the line's tax as the order charged it, so Xero's total is
//!   the order's.
//! - Invoice: `PUT Invoices?unitdp=4` (four-place unit amounts kept) with `Idempotency-Key`:
//!   `ACCREC`, `LineAmountTypes` `Exclusive`, `Status` `DRAFT` or `AUTHORISED` per setting,
//!   `Reference` the draft's reference, every line coded to the sales account.
//! - Lookup: `GET Invoices?where=Reference=="..."`, then exactly that reference (Xero's filter
//!   ignores case), not voided or deleted, the most recently updated.
//! - Limits: [`limiter::Limiter`] keeps within Xero's 5 calls in flight, 60 a minute and 5,000
//!   a day per organisation. A 429 pauses every caller for its `Retry-After` and the call is
//!   sent again, up to `max_429_retries` times within `max_wait`; the `day` limit
//!   (`X-Rate-Limit-Problem`), or a longer wait, is answered with
//!   [`ConnectorError::RateLimited`] at once so the queue reschedules. Other failures are not
//!   retried here: the queue's backoff is the one retry schedule, and a create that timed out
//!   may have landed (the caller reconciles with [`AccountingPlatform::find_invoice`]).
//! - Errors: 401/403 are `Auth` (an expired token, a revoked grant, a tenant no longer
//!   connected), other 4xx `Rejected` with Xero's validation messages, 5xx and timeouts
//!   `Transient`.

pub mod limiter;
mod mapping;
mod wire;

use std::collections::HashMap;

use async_trait::async_trait;
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::OnceCell;
use tokio::time::Instant;
use url::Url;

use super::recent::{contact_key, Recent};
use super::{AccountingPlatform, PreparedInvoice};
use crate::connectors::http::{self, RawResponse};
use crate::connectors::ConnectorError;
use crate::domain::accounting::{AccountingKind, AccountingSettings};
use crate::domain::invoice::{InvoiceContact, InvoiceDraft, PostedInvoice};
use crate::domain::Secret;
use crate::outbound::Client;

pub use limiter::{Limiter, RateLimits};

/// Item codes looked up per call: the `where` stays a short URL.
const ITEM_CODES_PER_CALL: usize = 25;

/// One Xero organisation's connection.
#[derive(Debug, Clone)]
pub struct XeroConfig {
    /// The Accounting API's root: [`super::Endpoints`]`::of(Xero, base).api`,
    /// `https://api.xero.com/api.xro/2.0` on Xero itself.
    pub api: Url,
    /// The organisation's tenant id, sent as `xero-tenant-id`.
    pub tenant_id: String,
    pub settings: AccountingSettings,
    pub limits: RateLimits,
}

impl XeroConfig {
    /// A config with default settings and Xero's published limits.
    pub fn new(api: Url, tenant_id: impl Into<String>) -> XeroConfig {
        XeroConfig {
            api,
            tenant_id: tenant_id.into(),
            settings: AccountingSettings::default(),
            limits: RateLimits::default(),
        }
    }
}

/// A connector for one organisation. Share one instance between every task posting to it: the
/// rate limiter and the tax rates it read live in it.
#[derive(Debug)]
pub struct XeroConnector {
    api: Url,
    tenant: HeaderValue,
    settings: AccountingSettings,
    http: Client,
    limiter: Limiter,
    tax_rates: OnceCell<Vec<wire::TaxRate>>,
    /// Contact ids by [`contact_key`].
    contacts: Recent<String>,
    /// Item codes as Xero spells them, or `None` for a code Xero has no item for, by the code
    /// in lower case.
    items: Recent<Option<String>>,
}

impl XeroConnector {
    pub fn new(config: XeroConfig, http: Client) -> Result<XeroConnector, ConnectorError> {
        if config.api.cannot_be_a_base() || !matches!(config.api.scheme(), "http" | "https") {
            return Err(ConnectorError::Invalid(format!(
                "the Xero API root must be an http(s) URL, not {}",
                config.api
            )));
        }
        let tenant = HeaderValue::from_str(config.tenant_id.trim())
            .ok()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                ConnectorError::Invalid(format!(
                    "the Xero tenant id {:?} cannot be sent",
                    config.tenant_id
                ))
            })?;
        Ok(XeroConnector {
            api: config.api,
            tenant,
            settings: config.settings,
            http,
            limiter: Limiter::new(config.limits),
            tax_rates: OnceCell::new(),
            contacts: Recent::default(),
            items: Recent::default(),
        })
    }

    fn endpoint(&self, resource: &str, query: &[(&str, &str)]) -> Url {
        let mut url = self.api.clone();
        // Checked in `new`: the root can be a base.
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().push(resource);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// Makes one call within the limits (see the module doc for the 429 policy) and returns a
    /// successful answer, or the error its outcome maps to.
    async fn call(
        &self,
        access: &Secret,
        what: &str,
        method: Method,
        url: Url,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> Result<RawResponse, ConnectorError> {
        let bearer = http::secret_header(&format!("Bearer {}", access.expose()), "access token")?;
        let limits = self.limiter.limits();
        let deadline = Instant::now() + limits.max_wait;
        let mut throttled = 0u32;
        loop {
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .header(AUTHORIZATION, bearer.clone())
                .header("xero-tenant-id", self.tenant.clone())
                .header(ACCEPT, "application/json");
            if let Some(body) = body {
                request = request.json(body);
            }
            if let Some(key) = idempotency_key {
                request = request.header("Idempotency-Key", key);
            }
            let request = request
                .build()
                .map_err(|e| ConnectorError::Invalid(format!("{what}: {}", e.without_url())))?;
            let answer = {
                let _place = self.limiter.acquire(deadline).await?;
                self.http.execute(request).await
            };
            let raw = answer?;
            if raw.status.is_success() {
                return Ok(raw);
            }
            if raw.status != StatusCode::TOO_MANY_REQUESTS {
                let message = wire::error_message(&raw.body).unwrap_or_else(|| {
                    let snippet = http::body_snippet(&raw.body);
                    if snippet.is_empty() {
                        raw.status.to_string()
                    } else {
                        format!("{}: {snippet}", raw.status)
                    }
                });
                return Err(http::status_error(raw.status, message));
            }
            let problem = wire::rate_limit_problem(&raw.headers);
            let wait = wire::throttled_wait(&raw.headers, problem.as_deref());
            self.limiter.pause(wait);
            throttled += 1;
            let limit = problem.as_deref().unwrap_or("rate");
            if limit == "day"
                || throttled > limits.max_429_retries
                || Instant::now() + wait > deadline
            {
                tracing::warn!(
                    call = what,
                    ?wait,
                    limit,
                    throttled,
                    "Xero rate limit: handing the wait to the queue"
                );
                return Err(ConnectorError::RateLimited {
                    retry_after: wait,
                    message: format!("Xero's {limit} limit was reached ({what})"),
                });
            }
            tracing::info!(
                call = what,
                ?wait,
                limit,
                "Xero answered 429; waiting its Retry-After"
            );
        }
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        access: &Secret,
        what: &str,
        url: Url,
    ) -> Result<T, ConnectorError> {
        let raw = self
            .call(access, what, Method::GET, url, None, None)
            .await?;
        http::parse_json(&raw.body, what)
    }

    async fn put<T: serde::de::DeserializeOwned>(
        &self,
        access: &Secret,
        what: &str,
        url: Url,
        body: &Value,
        idempotency_key: Option<&str>,
    ) -> Result<T, ConnectorError> {
        let raw = self
            .call(access, what, Method::PUT, url, Some(body), idempotency_key)
            .await?;
        http::parse_json(&raw.body, what)
    }

    async fn find_contact(
        &self,
        access: &Secret,
        contact: &InvoiceContact,
    ) -> Result<Option<String>, ConnectorError> {
        let filter = mapping::contact_filter(contact);
        let url = self.endpoint("Contacts", &[("where", &filter)]);
        let found: wire::Contacts = self.get(access, "find contact", url).await?;
        Ok(mapping::pick_contact(&found.contacts, contact).map(str::to_owned))
    }

    /// The invoice's contact on Xero: the one learnt recently, else found, else created.
    async fn contact_id(
        &self,
        access: &Secret,
        contact: &InvoiceContact,
    ) -> Result<String, ConnectorError> {
        let key = contact_key(contact);
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
        if let Some(id) = self.find_contact(access, contact).await? {
            return Ok(id);
        }
        let url = self.endpoint("Contacts", &[]);
        let body = mapping::contact_body(contact);
        match self
            .put::<wire::Contacts>(access, "create contact", url, &body, None)
            .await
        {
            Ok(created) => created
                .contacts
                .into_iter()
                .next()
                .map(|c| c.contact_id)
                .ok_or_else(|| ConnectorError::Malformed("created contact: none answered".into())),
            // Names are unique: a concurrent post for the same new contact may have made it
            // meanwhile (each such loser spends two more calls, once per new contact).
            Err(refused @ ConnectorError::Rejected { .. }) => {
                match self.find_contact(access, contact).await? {
                    Some(id) => Ok(id),
                    None => Err(refused),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Which of `codes` Xero has, keyed by the code in lower case, valued as Xero spells it.
    async fn find_items(
        &self,
        access: &Secret,
        codes: &[&str],
    ) -> Result<HashMap<String, String>, ConnectorError> {
        let mut known = HashMap::new();
        for chunk in codes.chunks(ITEM_CODES_PER_CALL) {
            let filter = mapping::any_of("Code", chunk.iter().copied());
            let url = self.endpoint("Items", &[("where", &filter)]);
            let found: wire::Items = self.get(access, "find items", url).await?;
            known.extend(
                found
                    .items
                    .into_iter()
                    .map(|i| (i.code.to_lowercase(), i.code)),
            );
        }
        Ok(known)
    }

    /// Creates the items of `missing` and adds them to `known`. An item refused because a
    /// concurrent post just made it is found again; any other refusal fails the invoice.
    async fn create_items(
        &self,
        access: &Secret,
        invoice: &InvoiceDraft,
        missing: &[&str],
        known: &mut HashMap<String, String>,
    ) -> Result<(), ConnectorError> {
        let url = self.endpoint("Items", &[("summarizeErrors", "false")]);
        let body = mapping::items_body(invoice, missing, &self.settings);
        let answer: wire::Items = self.put(access, "create items", url, &body, None).await?;
        let mut refused: Vec<(String, String)> = Vec::new();
        for item in answer.items {
            if item.validation_errors.is_empty() {
                known.insert(item.code.to_lowercase(), item.code);
            } else {
                let messages: Vec<String> = item
                    .validation_errors
                    .into_iter()
                    .map(|e| e.message)
                    .collect();
                refused.push((item.code, messages.join("; ")));
            }
        }
        if refused.is_empty() {
            return Ok(());
        }
        let codes: Vec<&str> = refused.iter().map(|(c, _)| c.as_str()).collect();
        known.extend(self.find_items(access, &codes).await?);
        let still: Vec<String> = refused
            .iter()
            .filter(|(code, _)| !known.contains_key(&code.to_lowercase()))
            .map(|(code, why)| format!("item {code}: {why}"))
            .collect();
        if still.is_empty() {
            return Ok(());
        }
        Err(ConnectorError::Rejected {
            status: 400,
            message: still.join("; "),
        })
    }

    /// Each line's `ItemCode`: its SKU as Xero spells it, when Xero has (or now has) the item.
    async fn item_codes(
        &self,
        access: &Secret,
        invoice: &InvoiceDraft,
    ) -> Result<Vec<Option<String>>, ConnectorError> {
        let codes = mapping::item_codes(invoice);
        if codes.is_empty() {
            return Ok(vec![None; invoice.lines.len()]);
        }
        let mut known: HashMap<String, String> = HashMap::new();
        let mut unknown: Vec<&str> = Vec::new();
        for code in &codes {
            match self.items.get(&code.to_lowercase()) {
                Some(Some(spelt)) => {
                    known.insert(code.to_lowercase(), spelt);
                }
                // Xero had no such item when last asked.
                Some(None) => {}
                None => unknown.push(code),
            }
        }
        if !unknown.is_empty() {
            known.extend(self.find_items(access, &unknown).await?);
        }
        let missing: Vec<&str> = codes
            .iter()
            .copied()
            .filter(|c| !known.contains_key(&c.to_lowercase()))
            .collect();
        if self.settings.create_missing_products && !missing.is_empty() {
            self.create_items(access, invoice, &missing, &mut known)
                .await?;
        }
        for code in unknown.iter().chain(&missing) {
            let lower = code.to_lowercase();
            let spelt = known.get(&lower).cloned();
            self.items.insert(lower, spelt);
        }
        Ok(invoice
            .lines
            .iter()
            .map(|l| {
                let sku = l.sku.as_deref()?.trim().to_lowercase();
                known.get(&sku).cloned()
            })
            .collect())
    }

    /// The organisation's tax rates, read once per connector.
    async fn tax_rates(&self, access: &Secret) -> Result<&[wire::TaxRate], ConnectorError> {
        self.tax_rates
            .get_or_try_init(|| async {
                let url = self.endpoint("TaxRates", &[]);
                let rates: wire::TaxRates = self.get(access, "read tax rates", url).await?;
                Ok(rates.tax_rates)
            })
            .await
            .map(Vec::as_slice)
    }
}

#[async_trait]
impl AccountingPlatform for XeroConnector {
    fn kind(&self) -> AccountingKind {
        AccountingKind::Xero
    }

    async fn prepare_invoice(
        &self,
        access: &Secret,
        invoice: &InvoiceDraft,
    ) -> Result<PreparedInvoice, ConnectorError> {
        // Tax types first: a rate the organisation lacks fails before anything is written.
        let rates = if mapping::needs_tax_rates(invoice, &self.settings) {
            self.tax_rates(access).await?
        } else {
            &[]
        };
        let tax_types = mapping::tax_types(invoice, &self.settings, rates)?;
        let contact_id = self.contact_id(access, &invoice.contact).await?;
        let item_codes = self.item_codes(access, invoice).await?;
        let body = mapping::invoice_body(
            invoice,
            &contact_id,
            &item_codes,
            &tax_types,
            &self.settings,
        );
        Ok(PreparedInvoice { body })
    }

    async fn send_invoice(
        &self,
        access: &Secret,
        invoice: &PreparedInvoice,
        idempotency_key: &str,
    ) -> Result<PostedInvoice, ConnectorError> {
        let url = self.endpoint("Invoices", &[("unitdp", "4")]);
        let created: wire::Invoices = match self
            .put(
                access,
                "create invoice",
                url,
                &invoice.body,
                Some(idempotency_key),
            )
            .await
        {
            Ok(created) => created,
            Err(refused @ ConnectorError::Rejected { .. }) => {
                // A contact or item learnt earlier may be what Xero refused (archived, deleted
                // since): the next invoice looks them up afresh.
                self.contacts.clear();
                self.items.clear();
                return Err(refused);
            }
            Err(e) => return Err(e),
        };
        let invoice = created
            .invoices
            .first()
            .ok_or_else(|| ConnectorError::Malformed("created invoice: none answered".into()))?;
        mapping::posted(invoice)
    }

    async fn find_invoice(
        &self,
        access: &Secret,
        reference: &str,
    ) -> Result<Option<PostedInvoice>, ConnectorError> {
        let filter = format!("Reference=={}", mapping::literal(reference));
        let url = self.endpoint("Invoices", &[("where", &filter)]);
        let found: wire::Invoices = self.get(access, "find invoice", url).await?;
        mapping::newest_live(&found.invoices, reference)
            .map(mapping::posted)
            .transpose()
    }
}
