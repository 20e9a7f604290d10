//! One simulated Sage business and the handle tests hold: its records behind one mutex, its
//! grants, its limits and record of calls, and its fault knobs.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::limits::Limiter;
use super::model::{self, Contact, LedgerAccount, SalesInvoice, TaxRate};
use super::tokens::{Lifetimes, TokenBook};
use crate::config::{hex_of, SageBusinessConfig};
use crate::faults::{lock, FaultKnobs, Faults};
use crate::timefmt;
use crate::traffic::Traffic;

/// Sage answers a repeated `idempotency_id` with the first result for seven days.
pub const IDEMPOTENCY_WINDOW: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// What happens to the answer of an invoice create once the invoice is committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum LostAnswer {
    /// The answer is held this long (past the client's timeout), then sent.
    Late { delay_ms: u64 },
    /// A gateway in front answers 504 instead.
    GatewayTimeout,
}

/// A record created with an `idempotency_id`.
#[derive(Debug, Clone)]
pub struct Replay {
    /// `sales_invoice`, `contact`.
    pub kind: &'static str,
    pub id: String,
    pub at: Instant,
}

#[derive(Debug)]
pub struct SageState {
    pub tax_rates: Vec<TaxRate>,
    pub ledger_accounts: Vec<LedgerAccount>,
    pub contacts: Vec<Contact>,
    pub invoices: Vec<SalesInvoice>,
    pub replays: HashMap<String, Replay>,
    /// When the seeded records were made.
    pub seeded_at: DateTime<Utc>,
    next_invoice_number: u64,
    next_id: u64,
    id_seed: String,
}

impl SageState {
    pub(crate) fn new(business_id: &str) -> SageState {
        let seed = business_id.to_string();
        SageState {
            tax_rates: model::uk_tax_rates(),
            ledger_accounts: model::uk_ledger_accounts(|code| {
                hex_of(&format!("{seed}/ledger_account/{code}"), 32)
            }),
            contacts: Vec::new(),
            invoices: Vec::new(),
            replays: HashMap::new(),
            seeded_at: timefmt::now(),
            next_invoice_number: 1,
            next_id: 1,
            id_seed: seed,
        }
    }

    /// A fresh 32-hex-digit id, as Sage's GUIDs look.
    pub fn new_id(&mut self, kind: &str) -> String {
        self.next_id += 1;
        hex_of(&format!("{}/{kind}/{}", self.id_seed, self.next_id), 32)
    }

    /// The next `SI-n` number.
    pub fn take_invoice_number(&mut self) -> u64 {
        let n = self.next_invoice_number;
        self.next_invoice_number += 1;
        n
    }

    /// The record an `idempotency_id` already created, within Sage's seven days.
    pub fn replay(&self, idempotency_id: &str, now: Instant) -> Option<&Replay> {
        self.replays
            .get(idempotency_id)
            .filter(|r| r.at + IDEMPOTENCY_WINDOW > now)
    }

    /// Keeps what a create with `idempotency_id` made, for its repeats.
    pub fn remember(
        &mut self,
        idempotency_id: Option<String>,
        kind: &'static str,
        id: &str,
        at: Instant,
    ) {
        if let Some(key) = idempotency_id {
            let replay = Replay {
                kind,
                id: id.to_string(),
                at,
            };
            self.replays.insert(key, replay);
        }
    }

    pub fn tax_rate(&self, id: &str) -> Option<&TaxRate> {
        self.tax_rates.iter().find(|r| r.id == id)
    }

    pub fn ledger_account(&self, id: &str) -> Option<&LedgerAccount> {
        self.ledger_accounts.iter().find(|a| a.id == id)
    }

    pub fn contact(&self, id: &str) -> Option<&Contact> {
        self.contacts.iter().find(|c| c.id == id)
    }

    pub fn contact_json(&self, contact: &Contact) -> Value {
        contact.to_json(&self.ledger_accounts, &self.tax_rates)
    }

    pub fn invoice_json(&self, invoice: &SalesInvoice) -> Value {
        invoice.to_json(
            self.contact(&invoice.contact_id),
            &self.ledger_accounts,
            &self.tax_rates,
        )
    }
}

/// A simulated Sage Business Cloud Accounting business; share as `Arc<SageBusiness>`.
#[derive(Debug)]
pub struct SageBusiness {
    pub(crate) config: SageBusinessConfig,
    base_url: String,
    state: Mutex<SageState>,
    pub(crate) tokens: Mutex<TokenBook>,
    pub(crate) limiter: Mutex<Limiter>,
    pub(crate) faults: Arc<Faults>,
    pub(crate) traffic: Arc<Traffic>,
    lost_answers: Mutex<VecDeque<LostAnswer>>,
}

impl SageBusiness {
    /// `prefix` is where the business is mounted (`/sage/{name}`); `base_url` its absolute form.
    pub fn new(config: SageBusinessConfig, prefix: &str, base_url: String) -> SageBusiness {
        SageBusiness {
            state: Mutex::new(SageState::new(&config.business_id)),
            tokens: Mutex::new(TokenBook::new(config.seed)),
            limiter: Mutex::new(Limiter::new(config.rate_limit.clone())),
            faults: Arc::new(Faults::new(config.faults.clone(), config.seed)),
            traffic: Arc::new(Traffic::new(format!("{prefix}/v3.1"))),
            lost_answers: Mutex::new(VecDeque::new()),
            base_url,
            config,
        }
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Where the three Sage hosts are mounted: append `/oauth2/auth/central`, `/token` or `/v3.1`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The authorize page (`https://www.sageone.com/oauth2/auth/central`).
    pub fn authorize_url(&self) -> String {
        format!("{}/oauth2/auth/central", self.base_url)
    }

    /// The token endpoint (`https://oauth.accounting.sage.com/token`).
    pub fn token_url(&self) -> String {
        format!("{}/token", self.base_url)
    }

    /// The API root (`https://api.accounting.sage.com/v3.1`).
    pub fn api_url(&self) -> String {
        format!("{}/v3.1", self.base_url)
    }

    pub fn client_id(&self) -> &str {
        &self.config.client_id
    }

    pub fn client_secret(&self) -> &str {
        &self.config.client_secret
    }

    /// The business GUID, sent as `X-Business`.
    pub fn business_id(&self) -> &str {
        &self.config.business_id
    }

    pub fn business_name(&self) -> &str {
        &self.config.business_name
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, SageState> {
        lock(&self.state)
    }

    pub(crate) fn lifetimes(&self) -> Lifetimes {
        Lifetimes {
            code: Duration::from_secs(self.config.code_lifetime_secs),
            access: Duration::from_secs(self.config.access_token_lifetime_secs),
            refresh: Duration::from_secs(self.config.refresh_token_lifetime_secs),
        }
    }

    /// The signed-in user's id, as the token response names it (`requested_by_id`).
    pub fn user_id(&self) -> String {
        let hex = hex_of(&format!("{}/user", self.config.business_id), 32);
        format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..]
        )
    }

    /// Every sales invoice, oldest first, as `GET /sales_invoices/{id}` answers it.
    pub fn invoices(&self) -> Vec<Value> {
        let state = self.state();
        state
            .invoices
            .iter()
            .map(|i| state.invoice_json(i))
            .collect()
    }

    /// Every contact, oldest first, as `GET /contacts/{id}` answers it.
    pub fn contacts(&self) -> Vec<Value> {
        let state = self.state();
        state
            .contacts
            .iter()
            .map(|c| state.contact_json(c))
            .collect()
    }

    /// The user disconnects the app: every code, access token and refresh token stops working.
    pub fn revoke_grant(&self) {
        lock(&self.tokens).revoke_all();
    }

    /// Makes every access token issued so far expired; refresh tokens keep working.
    pub fn expire_access_tokens(&self) {
        lock(&self.tokens).expire_access(Instant::now());
    }

    /// Refresh tokens the token endpoint would still accept.
    pub fn live_refresh_tokens(&self) -> usize {
        lock(&self.tokens).live_refresh(Instant::now())
    }

    /// The most API calls that were being served at once.
    pub fn max_in_flight(&self) -> usize {
        lock(&self.limiter).max_in_flight() as usize
    }

    /// When each API call the limits admitted arrived, oldest first.
    pub fn call_times(&self) -> Vec<Instant> {
        lock(&self.limiter).admitted()
    }

    /// Forgets the call record, the in-flight high mark and the traffic counters.
    pub fn reset_calls(&self) {
        lock(&self.limiter).reset_record();
        self.traffic.reset();
    }

    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    pub fn set_faults(&self, knobs: FaultKnobs) {
        self.faults.set(knobs);
    }

    pub fn traffic(&self) -> &Traffic {
        &self.traffic
    }

    /// The next `n` sales invoices created are committed, then their answer is held for `delay`
    /// (longer than the client waits) before it is sent.
    pub fn commit_then_time_out(&self, n: u32, delay: Duration) {
        let late = LostAnswer::Late {
            delay_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
        };
        self.lose_answers(n, late);
    }

    /// The next `n` sales invoices created are committed, then answered with a gateway's 504.
    pub fn commit_then_gateway_timeout(&self, n: u32) {
        self.lose_answers(n, LostAnswer::GatewayTimeout);
    }

    pub fn lose_answers(&self, n: u32, how: LostAnswer) {
        lock(&self.lost_answers).extend((0..n).map(|_| how));
    }

    /// What becomes of the answer of the invoice just committed (once per lost answer).
    pub(crate) fn take_lost_answer(&self) -> Option<LostAnswer> {
        lock(&self.lost_answers).pop_front()
    }

    /// The business as `GET /businesses/{id}` answers it.
    pub fn business_json(&self) -> Value {
        let seeded = model::timestamp(self.state().seeded_at);
        let id = self.business_id();
        json!({
            "created_at": seeded,
            "updated_at": seeded,
            "displayed_as": self.business_name(),
            "id": id,
            "name": self.business_name(),
            "address_line_1": "1 High Street",
            "address_line_2": null,
            "city": "London",
            "postal_code": "EC1A 1AA",
            "country": {"id": self.config.country.to_uppercase(), "displayed_as": "United Kingdom (GB)"},
            "region": null,
            "telephone": null,
            "mobile": null,
            "website": null,
            "is_demo": false,
            "subscriptions": [{
                "created_at": seeded,
                "updated_at": seeded,
                "displayed_as": "Accounting",
                "id": hex_of(&format!("{id}/subscription"), 32),
                "active": true,
                "status": "active"
            }]
        })
    }
}
