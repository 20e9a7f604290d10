//! One simulated Xero organisation, shared as `Arc<XeroOrg>`: its books, its app's identity
//! server state, its rate limiter, fault knobs and traffic, and the handle tests and the control
//! API use to read and steer it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::books::Books;
use super::config::XeroOrgConfig;
use super::identity::{Identity, Lifetimes};
use super::limits::Limiter;
use crate::faults::{lock, Faults};
use crate::traffic::Traffic;

/// How long an `Idempotency-Key` is remembered.
const REPLAY_RETENTION: Duration = Duration::from_secs(24 * 3600);

/// How an answer is lost after its write was committed (see [`XeroOrg::lose_answers`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum LostAnswer {
    /// The answer is held back this long (past the client's timeout), then sent.
    Delay { ms: u64 },
    /// The connection is cut instead of answering.
    Drop,
}

/// A stored answer to a write made with an `Idempotency-Key`.
#[derive(Debug, Clone)]
pub struct Replay {
    pub at: Instant,
    pub status: StatusCode,
    pub body: Bytes,
}

/// A simulated Xero organisation (one tenant) and the app connected to it.
#[derive(Debug)]
pub struct XeroOrg {
    pub(crate) config: XeroOrgConfig,
    base_url: String,
    pub(crate) faults: Arc<Faults>,
    pub(crate) traffic: Arc<Traffic>,
    books: Mutex<Books>,
    identity: Mutex<Identity>,
    limiter: Mutex<Limiter>,
    redirect_uris: Mutex<Vec<String>>,
    replays: Mutex<HashMap<String, Replay>>,
    lost_answers: Mutex<VecDeque<LostAnswer>>,
    /// Writes carrying an `Idempotency-Key` are handled one at a time.
    pub(crate) keyed_writes: tokio::sync::Mutex<()>,
}

impl XeroOrg {
    pub fn new(config: XeroOrgConfig, prefix: &str, base_url: String) -> XeroOrg {
        XeroOrg {
            faults: Arc::new(Faults::new(config.faults.clone(), config.seed)),
            traffic: Arc::new(Traffic::new(prefix)),
            books: Mutex::new(Books::of(&config)),
            identity: Mutex::new(Identity::new(&config.client_id, &config.client_secret)),
            limiter: Mutex::new(Limiter::new(config.limits)),
            redirect_uris: Mutex::new(config.redirect_uris.clone()),
            replays: Mutex::new(HashMap::new()),
            lost_answers: Mutex::new(VecDeque::new()),
            keyed_writes: tokio::sync::Mutex::new(()),
            base_url,
            config,
        }
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Where every Xero host's paths start: `{base}/identity/connect/authorize` (login.xero.com),
    /// `{base}/connect/token` (identity.xero.com), `{base}/connections` and
    /// `{base}/api.xro/2.0/...` (api.xero.com).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn client_id(&self) -> &str {
        &self.config.client_id
    }

    pub fn client_secret(&self) -> &str {
        &self.config.client_secret
    }

    pub fn tenant_id(&self) -> &str {
        &self.config.tenant_id
    }

    pub fn tenant_name(&self) -> &str {
        &self.config.tenant_name
    }

    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    pub fn traffic(&self) -> &Traffic {
        &self.traffic
    }

    /// Every invoice as `GET /Invoices/{InvoiceID}` renders it, oldest first.
    pub fn invoices(&self) -> Vec<Value> {
        let books = self.books();
        books
            .invoices
            .iter()
            .map(|i| books.invoice_json(i, true, 2))
            .collect()
    }

    /// Every contact as `GET /Contacts` renders it.
    pub fn contacts(&self) -> Vec<Value> {
        let books = self.books();
        books
            .contacts
            .iter()
            .map(|c| books.contact_json(&c.id))
            .collect()
    }

    /// Every item as `GET /Items` renders it.
    pub fn items(&self) -> Vec<Value> {
        self.books()
            .items
            .iter()
            .map(super::model::render_item)
            .collect()
    }

    /// Accepts `uri` as a registered redirect URI (once any is registered, only those are).
    pub fn register_redirect_uri(&self, uri: &str) {
        lock(&self.redirect_uris).push(uri.to_owned());
    }

    /// The user disconnects the app: every refresh answers `invalid_grant` and API calls with
    /// tokens already issued answer 403, until the app is authorised again.
    pub fn revoke_grant(&self) {
        self.identity().revoke_all();
    }

    /// Every access token issued so far is expired from now on.
    pub fn expire_access_tokens(&self) {
        self.identity().expire_access_tokens(Instant::now());
    }

    /// Refresh tokens never used and still accepted.
    pub fn live_refresh_tokens(&self) -> usize {
        self.identity()
            .live_refresh_tokens(self.lifetimes(), Instant::now())
    }

    /// The most API calls ever in progress at once.
    pub fn max_in_flight(&self) -> u32 {
        self.limiter().max_in_flight()
    }

    /// When each accepted API call arrived.
    pub fn call_times(&self) -> Vec<Instant> {
        self.limiter().call_times()
    }

    /// The most accepted API calls in any 60-second span.
    pub fn max_calls_in_any_minute(&self) -> usize {
        self.limiter().max_calls_in_any_minute()
    }

    /// The most accepted API calls in any span of `span` (a compressed minute's length, say).
    pub fn max_calls_in_any(&self, span: Duration) -> usize {
        self.limiter().max_calls_in_any(span)
    }

    /// The next `n` writes that succeed are committed and then their answers are lost `how`:
    /// what a client sees when a request times out after it reached Xero. A held answer keeps
    /// its call counted among the calls in progress until it is sent.
    pub fn lose_answers(&self, n: u32, how: LostAnswer) {
        let mut queue = lock(&self.lost_answers);
        queue.extend(std::iter::repeat_n(how, n as usize));
    }

    pub(crate) fn take_lost_answer(&self) -> Option<LostAnswer> {
        lock(&self.lost_answers).pop_front()
    }

    pub(crate) fn pending_lost_answers(&self) -> usize {
        lock(&self.lost_answers).len()
    }

    pub(crate) fn lifetimes(&self) -> Lifetimes {
        Lifetimes {
            access: Duration::from_secs(self.config.access_token_secs),
            grace: Duration::from_secs(self.config.refresh_grace_secs),
            refresh: Duration::from_secs(self.config.refresh_token_secs),
        }
    }

    pub(crate) fn redirect_uri_allowed(&self, uri: &str) -> bool {
        let registered = lock(&self.redirect_uris);
        if registered.is_empty() {
            return uri.starts_with("http://") || uri.starts_with("https://");
        }
        registered.iter().any(|r| r == uri)
    }

    pub(crate) fn books(&self) -> MutexGuard<'_, Books> {
        lock(&self.books)
    }

    pub(crate) fn identity(&self) -> MutexGuard<'_, Identity> {
        lock(&self.identity)
    }

    pub(crate) fn limiter(&self) -> MutexGuard<'_, Limiter> {
        lock(&self.limiter)
    }

    /// The stored answer for `key`, forgetting answers older than a day.
    pub(crate) fn replay(&self, key: &str) -> Option<Replay> {
        let mut replays = lock(&self.replays);
        let now = Instant::now();
        replays.retain(|_, r| now.duration_since(r.at) < REPLAY_RETENTION);
        replays.get(key).cloned()
    }

    pub(crate) fn remember(&self, key: String, replay: Replay) {
        lock(&self.replays).insert(key, replay);
    }
}
