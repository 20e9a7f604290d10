//! Layered configuration: `config/default.toml`, then `config/<env>.toml`, then
//! `SWITCHYARD__SECTION__KEY` environment variables. Validated once at start so that a bad value
//! fails loudly with the key's name instead of surfacing as odd behaviour later.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    #[error("configuration key `{key}`: {reason}")]
    Invalid { key: String, reason: String },
}

/// A setting refused, naming its key: what every check of a setting, here or in the layer that
/// reads it, answers.
pub fn invalid(key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        reason: reason.into(),
    }
}

/// The environments that may run with the published secrets below: a developer's machine and
/// the test suite. Every other one (`production`, `staging`, ...) must bring its own.
const ENVS_WITH_PUBLISHED_SECRETS: [&str; 2] = ["development", "test"];
/// `server.ops_token` of config/default.toml and config/test.toml.
const PUBLISHED_OPS_TOKENS: [&str; 2] = ["switchyard-dev-token", "test-token"];
/// `crypto.credentials_key` of config/default.toml and config/test.toml, in lower case.
const PUBLISHED_CREDENTIALS_KEYS: [&str; 2] = [
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
    "7e57000000000000000000000000000000000000000000000000000000000001",
];

/// `database.url` as config/default.toml and config/test.toml ship it: an address nobody
/// chose, which `switchyard demo` and the tests may replace with servers of their own when
/// nothing answers there.
pub const SHIPPED_DATABASE_URLS: [&str; 2] = [
    "postgres://localhost/switchyard",
    "postgres://localhost/switchyard_test",
];
/// `redis.url` as config/default.toml ships it.
pub const SHIPPED_REDIS_URL: &str = "redis://127.0.0.1:6379";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub redis: RedisSettings,
    pub log: LogSettings,
    pub shutdown: ShutdownSettings,
    pub queue_defaults: QueuePolicy,
    #[serde(default)]
    pub queues: BTreeMap<String, QueueOverrides>,
    pub timers: TimerSettings,
    pub crypto: CryptoSettings,
    pub connectors: ConnectorSettings,
    #[serde(default)]
    pub webhooks: WebhookSettings,
    #[serde(default)]
    pub outbound: OutboundSettings,
    #[serde(default)]
    pub hosted: HostedSettings,
    #[serde(default)]
    pub retention: RetentionSettings,
}

/// Hosted pages (`/hosted/{token}`): how providers may embed them, how hard they may be hit,
/// and switchyard's Shopify app, through which customers install switchyard on their shop.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HostedSettings {
    /// Origins allowed to frame the pages (CSP `frame-ancestors`), e.g.
    /// `["https://app.parcel.example"]`; empty: no one may.
    pub frame_ancestors: Vec<String>,
    /// Requests a minute one link may receive, and one client address.
    pub per_link_per_minute: u32,
    pub per_address_per_minute: u32,
    /// The Shopify app's client id (API key) and secret; empty offers no Shopify on pages.
    pub shopify_client_id: String,
    pub shopify_client_secret: String,
    /// The access scopes the app asks a shop for.
    pub shopify_scopes: String,
    /// switchyard's Xero and Sage apps (client id and secret), through which customers connect
    /// their accounting package; empty offers none. `*_base_url` points at a simulator instead
    /// of the platform's own hosts.
    pub xero_client_id: String,
    pub xero_client_secret: String,
    pub xero_base_url: Option<String>,
    pub sage_client_id: String,
    pub sage_client_secret: String,
    pub sage_base_url: Option<String>,
}

impl Default for HostedSettings {
    fn default() -> Self {
        HostedSettings {
            frame_ancestors: Vec::new(),
            per_link_per_minute: 30,
            per_address_per_minute: 120,
            shopify_client_id: String::new(),
            shopify_client_secret: String::new(),
            shopify_scopes: "read_orders,read_products,read_inventory,write_inventory,\
                             read_locations,read_fulfillments,write_fulfillments"
                .to_owned(),
            xero_client_id: String::new(),
            xero_client_secret: String::new(),
            xero_base_url: None,
            sage_client_id: String::new(),
            sage_client_secret: String::new(),
            sage_base_url: None,
        }
    }
}

impl std::fmt::Debug for HostedSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostedSettings")
            .field("frame_ancestors", &self.frame_ancestors)
            .field("per_link_per_minute", &self.per_link_per_minute)
            .field("per_address_per_minute", &self.per_address_per_minute)
            .field("shopify_client_id", &self.shopify_client_id)
            .field("shopify_client_secret", &"[redacted]")
            .field("shopify_scopes", &self.shopify_scopes)
            .field("xero_client_id", &self.xero_client_id)
            .field("xero_client_secret", &"[redacted]")
            .field("xero_base_url", &self.xero_base_url)
            .field("sage_client_id", &self.sage_client_id)
            .field("sage_client_secret", &"[redacted]")
            .field("sage_base_url", &self.sage_base_url)
            .finish()
    }
}

/// What every outbound call (channels, webhooks, plugins) shares: the SSRF guard's allow-list.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboundSettings {
    /// CIDR ranges of internal addresses outbound calls may reach beside public ones.
    pub allow_cidrs: Vec<String>,
}

/// Outbound webhooks' default retry schedule: the delay before each attempt (the first is
/// immediate), then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h.
pub const DEFAULT_RETRY_SCHEDULE_MS: &[u64] = &[
    0,
    5_000,
    5 * 60_000,
    30 * 60_000,
    2 * 3_600_000,
    5 * 3_600_000,
    10 * 3_600_000,
    10 * 3_600_000,
];

/// Outbound webhooks: retry schedule, auto-disable, secret rotation, timeouts and the answer cap
/// (see `[webhooks]` in config/default.toml).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookSettings {
    pub retry_schedule_ms: Vec<u64>,
    pub retry_jitter: f64,
    pub disable_after_failing_secs: u64,
    pub rotation_grace_secs: u64,
    pub connect_timeout_ms: u64,
    pub request_timeout_ms: u64,
    /// Largest answer body of a webhook receiver or plugin read; a larger one fails the attempt.
    pub max_response_bytes: usize,
    /// A fan-out's deliveries to one endpoint share a deliver-webhook job, this many at most.
    pub deliveries_per_job: usize,
    /// Webhook requests (and plugin calls) one process has in flight at once, over all endpoints.
    pub max_in_flight: usize,
    /// Webhook requests one endpoint has in flight at once, over every process: a slow or
    /// bursting endpoint holds at most this many worker slots.
    pub max_in_flight_per_endpoint: usize,
    /// How long a delivery whose endpoint is at its limit waits before it tries again, in ms
    /// (not an attempt: the schedule does not move).
    pub endpoint_busy_retry_ms: u64,
}

impl Default for WebhookSettings {
    fn default() -> WebhookSettings {
        WebhookSettings {
            retry_schedule_ms: DEFAULT_RETRY_SCHEDULE_MS.to_vec(),
            retry_jitter: 0.2,
            disable_after_failing_secs: 5 * 86_400,
            rotation_grace_secs: 86_400,
            connect_timeout_ms: 5_000,
            request_timeout_ms: 15_000,
            max_response_bytes: 64 * 1024,
            deliveries_per_job: 20,
            max_in_flight: 64,
            max_in_flight_per_endpoint: 16,
            endpoint_busy_retry_ms: 250,
        }
    }
}

impl WebhookSettings {
    pub fn schedule(&self) -> Vec<Duration> {
        self.retry_schedule_ms
            .iter()
            .map(|ms| Duration::from_millis(*ms))
            .collect()
    }

    pub fn disable_after(&self) -> Duration {
        Duration::from_secs(self.disable_after_failing_secs)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.retry_schedule_ms.is_empty() {
            return Err(invalid(
                "webhooks.retry_schedule_ms",
                "needs at least one step",
            ));
        }
        if self.deliveries_per_job == 0 {
            return Err(invalid("webhooks.deliveries_per_job", "must be at least 1"));
        }
        if self.max_in_flight == 0 {
            return Err(invalid("webhooks.max_in_flight", "must be at least 1"));
        }
        if self.max_in_flight_per_endpoint == 0 {
            return Err(invalid(
                "webhooks.max_in_flight_per_endpoint",
                "must be at least 1",
            ));
        }
        if self.endpoint_busy_retry_ms == 0 {
            return Err(invalid(
                "webhooks.endpoint_busy_retry_ms",
                "must be at least 1",
            ));
        }
        if !(0.0..1.0).contains(&self.retry_jitter) {
            return Err(invalid(
                "webhooks.retry_jitter",
                "must be a fraction in [0, 1)",
            ));
        }
        if self.connect_timeout_ms == 0 || self.request_timeout_ms == 0 {
            return Err(invalid("webhooks", "timeouts must be at least 1 ms"));
        }
        if self.max_response_bytes == 0 {
            return Err(invalid("webhooks.max_response_bytes", "must be at least 1"));
        }
        Ok(())
    }
}

/// How long finished records are kept, and how the prune job that deletes older ones paces itself
/// (see `[retention]` in config/default.toml). An age of 0 keeps those records forever.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionSettings {
    /// Settled webhook deliveries (delivered or failed), their attempts, and the events no
    /// delivery points at any more, this many days after their last attempt.
    pub webhook_days: u32,
    /// An order's history (`order_events`), this many days after each move.
    pub order_events_days: u32,
    /// Saved `Idempotency-Key` answers, this many hours after they were saved: beyond the 24
    /// hours a key replays its answer, a margin in which a late retry is still refused as a
    /// retry rather than run as a new request.
    pub idempotency_keys_hours: u32,
    /// Seconds between prune runs (a `prune` job, enqueued once per period however many
    /// processes run the timers).
    pub prune_every_secs: u64,
    /// Rows one delete statement removes at most: each statement holds its row locks for
    /// milliseconds, so webhook delivery and imports never wait behind the prune.
    pub batch_rows: u32,
    /// The pause between two delete statements, leaving the database to the hot path.
    pub batch_pause_ms: u64,
    /// A run stops after this many seconds of deleting; what is left goes at the next run.
    pub budget_secs: u64,
}

/// The hours an `Idempotency-Key` replays its answer: a retention of saved keys must exceed it.
pub const IDEMPOTENCY_KEY_HOURS: u32 = 24;

impl Default for RetentionSettings {
    fn default() -> RetentionSettings {
        RetentionSettings {
            webhook_days: 30,
            order_events_days: 365,
            idempotency_keys_hours: 2 * IDEMPOTENCY_KEY_HOURS,
            prune_every_secs: 3_600,
            batch_rows: 1_000,
            batch_pause_ms: 10,
            budget_secs: 20,
        }
    }
}

impl RetentionSettings {
    pub fn prune_every(&self) -> Duration {
        Duration::from_secs(self.prune_every_secs)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let hours = self.idempotency_keys_hours;
        if hours != 0 && hours <= IDEMPOTENCY_KEY_HOURS {
            return Err(invalid(
                "retention.idempotency_keys_hours",
                format!(
                    "must be 0 (keep forever) or above the {IDEMPOTENCY_KEY_HOURS} hours a key \
                     replays its answer"
                ),
            ));
        }
        let positive = [
            ("prune_every_secs", self.prune_every_secs),
            ("batch_rows", u64::from(self.batch_rows)),
            ("budget_secs", self.budget_secs),
        ];
        for (name, value) in positive {
            if value == 0 {
                return Err(invalid(format!("retention.{name}"), "must be at least 1"));
            }
        }
        if self.batch_rows > 10_000 {
            return Err(invalid(
                "retention.batch_rows",
                "must be at most 10000, so one statement never holds its locks for long",
            ));
        }
        Ok(())
    }
}

/// Timeouts and the answer cap of every call to a sales platform.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorSettings {
    pub connect_timeout_ms: u64,
    pub request_timeout_ms: u64,
    pub max_response_bytes: usize,
    /// The shortest time between two stock pushes to one channel: a change that finds the
    /// channel idle is pushed at once, changes made within the interval after a push go together
    /// in one push at its end. 0 pushes every change at once.
    #[serde(default = "default_stock_push_interval_ms")]
    pub stock_push_interval_ms: u64,
    /// How far before its saved cursor an order import reads again (0 to 3600 seconds).
    ///
    /// A change stamped just behind the cursor can still turn up in a later listing: a platform
    /// lists it only once its write is committed and indexed, and the cursor is never set past
    /// the walk's start on this host's clock, which may differ from the platform's. Those are
    /// seconds, save Amazon, whose Orders API documents that its last two minutes are not yet
    /// complete (`LastUpdatedBefore` must be two minutes before the request): hence 120 s. The
    /// orders the overlap reads again are skipped without a write when held as they are, so a
    /// wider window costs reads, never writes.
    #[serde(default = "default_import_overlap_secs")]
    pub import_overlap_secs: u64,
    /// Import runs of a channel failed in a row that open its breaker (at least 1).
    #[serde(default = "default_breaker_failures")]
    pub breaker_failures: u32,
    /// How long an open breaker waits before one import probes the platform, in seconds; each
    /// failed probe doubles it, up to `breaker_probe_cap_secs`.
    #[serde(default = "default_breaker_probe_secs")]
    pub breaker_probe_secs: u64,
    #[serde(default = "default_breaker_probe_cap_secs")]
    pub breaker_probe_cap_secs: u64,
}

fn default_breaker_failures() -> u32 {
    5
}

fn default_breaker_probe_secs() -> u64 {
    60
}

fn default_breaker_probe_cap_secs() -> u64 {
    3600
}

fn default_stock_push_interval_ms() -> u64 {
    750
}

fn default_import_overlap_secs() -> u64 {
    120
}

/// The widest import overlap accepted: re-reading more than an hour on every import would cost
/// platform calls for no skew any platform has.
pub const MAX_IMPORT_OVERLAP_SECS: u64 = 3600;

impl ConnectorSettings {
    /// See `stock_push_interval_ms`.
    pub fn stock_push_interval(&self) -> Duration {
        Duration::from_millis(self.stock_push_interval_ms)
    }

    /// See `import_overlap_secs`.
    pub fn import_overlap(&self) -> Duration {
        Duration::from_secs(self.import_overlap_secs)
    }
}

/// Keys for data switchyard must store but must not show to whoever reads the database.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CryptoSettings {
    /// AES-256-GCM key sealing channel credentials: 64 hex characters (32 bytes).
    pub credentials_key: String,
}

impl std::fmt::Debug for CryptoSettings {
    /// Settings are logged at start; the key must not be.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CryptoSettings")
            .field("credentials_key", &"[redacted]")
            .finish()
    }
}

/// The HTTP API's listener, token and limits (see `[server]` in config/default.toml).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    pub ops_token: String,
    pub request_timeout_secs: u64,
    pub body_limit_bytes: usize,
    /// A request head must be whole this long after its first byte, or after the connection
    /// opened for the first one.
    pub header_read_timeout_secs: u64,
    /// An open connection waiting for its next request is closed after this long.
    pub keep_alive_timeout_secs: u64,
    /// Client connections served at once; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// Largest request head (request line and headers), in bytes.
    pub max_head_bytes: usize,
    /// A second token that signs in to `/dashboard` read only; none: only the ops token signs in.
    #[serde(default)]
    pub dashboard_read_token: Option<String>,
    /// The address browsers and platforms reach this API at (scheme, host and port, no path):
    /// OAuth redirect URIs are built on it.
    pub public_url: String,
}

impl std::fmt::Debug for ServerSettings {
    /// Settings are printed when a test fails; the ops token must not be.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerSettings")
            .field("listen", &self.listen)
            .field("ops_token", &"[redacted]")
            .field("request_timeout_secs", &self.request_timeout_secs)
            .field("body_limit_bytes", &self.body_limit_bytes)
            .field("header_read_timeout_secs", &self.header_read_timeout_secs)
            .field("keep_alive_timeout_secs", &self.keep_alive_timeout_secs)
            .field("max_connections", &self.max_connections)
            .field("max_head_bytes", &self.max_head_bytes)
            .field(
                "dashboard_read_token",
                &self.dashboard_read_token.as_ref().map(|_| "[redacted]"),
            )
            .field("public_url", &self.public_url)
            .finish()
    }
}

/// Bounds of `server.max_head_bytes`. Below a kilobyte ordinary requests fail; above 64 KiB a
/// request line could pass it and still be refused by hyper's own URI limit, bare.
pub const HEAD_BYTES_RANGE: std::ops::RangeInclusive<usize> = 1024..=65536;

impl ServerSettings {
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout_secs)
    }

    pub fn keep_alive_timeout(&self) -> Duration {
        Duration::from_secs(self.keep_alive_timeout_secs)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        match url::Url::parse(&self.public_url) {
            Ok(u) if matches!(u.scheme(), "http" | "https")
                && u.host().is_some()
                && u.path() == "/"
                && u.query().is_none() => {}
            _ => {
                return Err(invalid(
                    "server.public_url",
                    "must be an http(s) address with a host and no path, e.g. https://switchyard.example.com",
                ))
            }
        }
        if self.ops_token.trim().len() < 8 {
            return Err(invalid("server.ops_token", "must be at least 8 characters"));
        }
        if let Some(read) = &self.dashboard_read_token {
            if read.trim().len() < 8 {
                return Err(invalid(
                    "server.dashboard_read_token",
                    "must be at least 8 characters",
                ));
            }
            if read.trim() == self.ops_token.trim() {
                return Err(invalid(
                    "server.dashboard_read_token",
                    "must differ from server.ops_token, or read-only sessions could act",
                ));
            }
        }
        let positive = [
            ("request_timeout_secs", self.request_timeout_secs),
            ("header_read_timeout_secs", self.header_read_timeout_secs),
            ("keep_alive_timeout_secs", self.keep_alive_timeout_secs),
            ("max_connections", self.max_connections as u64),
        ];
        for (name, value) in positive {
            if value == 0 {
                return Err(invalid(format!("server.{name}"), "must be at least 1"));
            }
        }
        if !HEAD_BYTES_RANGE.contains(&self.max_head_bytes) {
            return Err(invalid(
                "server.max_head_bytes",
                format!(
                    "must be between {} and {}",
                    HEAD_BYTES_RANGE.start(),
                    HEAD_BYTES_RANGE.end()
                ),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: String,
    pub max_connections: u32,
    /// How long opening the pool at start-up waits for its first connection.
    pub connect_timeout_secs: u64,
    /// How long a query waits for a connection: what a request waits while PostgreSQL is down.
    pub acquire_timeout_ms: u64,
}

impl DatabaseSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            ("database.max_connections", u64::from(self.max_connections)),
            ("database.connect_timeout_secs", self.connect_timeout_secs),
            ("database.acquire_timeout_ms", self.acquire_timeout_ms),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err(invalid(key, "must be at least 1"));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSettings {
    pub url: String,
    /// Seed nodes of a Redis Cluster; when any are given, `url` is not used. A list in a file, or
    /// one comma-separated string (as an environment variable carries it).
    #[serde(default, deserialize_with = "comma_separated")]
    pub cluster_urls: Vec<String>,
    pub key_prefix: String,
    pub connect_timeout_ms: u64,
    pub response_timeout_ms: u64,
}

/// A list given as a sequence or as one comma-separated string; blanks are dropped.
fn comma_separated<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum List {
        One(String),
        Many(Vec<String>),
    }
    let items = match List::deserialize(d)? {
        List::One(s) => s.split(',').map(str::to_owned).collect(),
        List::Many(v) => v,
    };
    Ok(items
        .into_iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    pub filter: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShutdownSettings {
    pub grace_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimerSettings {
    pub import_scan_secs: u64,
    pub import_products_secs: u64,
    /// Fixed periodic jobs, run by every `work` and `run` process and enqueued once per tick.
    #[serde(default)]
    pub periodic: Vec<PeriodicJob>,
}

/// A job enqueued on `queue` every `every_secs`, with `payload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeriodicJob {
    pub name: String,
    pub queue: String,
    pub every_secs: u64,
    #[serde(default = "empty_object")]
    pub payload: serde_json::Value,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

/// How one queue is worked: concurrency, leases, retries and retention.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueuePolicy {
    pub concurrency: usize,
    pub batch_size: usize,
    pub lease_secs: u64,
    pub max_attempts: u32,
    pub backoff_base_ms: u64,
    pub backoff_cap_ms: u64,
    pub backoff_jitter: f64,
    pub done_retention_secs: u64,
    pub done_retention_count: u64,
    pub dead_retention_secs: u64,
    pub dead_retention_count: u64,
    pub promote_chunk: u64,
}

/// A `[queues.<name>]` table: any policy key, for one queue.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueOverrides {
    pub concurrency: Option<usize>,
    pub batch_size: Option<usize>,
    pub lease_secs: Option<u64>,
    pub max_attempts: Option<u32>,
    pub backoff_base_ms: Option<u64>,
    pub backoff_cap_ms: Option<u64>,
    pub backoff_jitter: Option<f64>,
    pub done_retention_secs: Option<u64>,
    pub done_retention_count: Option<u64>,
    pub dead_retention_secs: Option<u64>,
    pub dead_retention_count: Option<u64>,
    pub promote_chunk: Option<u64>,
}

impl QueuePolicy {
    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_secs)
    }

    fn apply(&self, o: &QueueOverrides) -> QueuePolicy {
        QueuePolicy {
            concurrency: o.concurrency.unwrap_or(self.concurrency),
            batch_size: o.batch_size.unwrap_or(self.batch_size),
            lease_secs: o.lease_secs.unwrap_or(self.lease_secs),
            max_attempts: o.max_attempts.unwrap_or(self.max_attempts),
            backoff_base_ms: o.backoff_base_ms.unwrap_or(self.backoff_base_ms),
            backoff_cap_ms: o.backoff_cap_ms.unwrap_or(self.backoff_cap_ms),
            backoff_jitter: o.backoff_jitter.unwrap_or(self.backoff_jitter),
            done_retention_secs: o.done_retention_secs.unwrap_or(self.done_retention_secs),
            done_retention_count: o.done_retention_count.unwrap_or(self.done_retention_count),
            dead_retention_secs: o.dead_retention_secs.unwrap_or(self.dead_retention_secs),
            dead_retention_count: o.dead_retention_count.unwrap_or(self.dead_retention_count),
            promote_chunk: o.promote_chunk.unwrap_or(self.promote_chunk),
        }
    }

    fn validate(&self, key: &str) -> Result<(), ConfigError> {
        let positive = [
            ("concurrency", self.concurrency as u64),
            ("batch_size", self.batch_size as u64),
            ("lease_secs", self.lease_secs),
            ("max_attempts", u64::from(self.max_attempts)),
            ("backoff_base_ms", self.backoff_base_ms),
            ("promote_chunk", self.promote_chunk),
        ];
        for (name, value) in positive {
            if value == 0 {
                return Err(invalid(format!("{key}.{name}"), "must be at least 1"));
            }
        }
        if self.backoff_cap_ms < self.backoff_base_ms {
            return Err(invalid(
                format!("{key}.backoff_cap_ms"),
                "must not be below backoff_base_ms",
            ));
        }
        if self.batch_size > 1000 {
            return Err(invalid(format!("{key}.batch_size"), "must be at most 1000"));
        }
        if self.promote_chunk > 5000 {
            // Lua's unpack() of a larger chunk would overflow the script's stack.
            return Err(invalid(
                format!("{key}.promote_chunk"),
                "must be at most 5000",
            ));
        }
        if !(0.0..1.0).contains(&self.backoff_jitter) {
            return Err(invalid(
                format!("{key}.backoff_jitter"),
                "must be a fraction in [0, 1)",
            ));
        }
        Ok(())
    }
}

impl Settings {
    /// Loads `default.toml` and `<env>.toml` from `dir`, then the process environment.
    pub fn load_env(dir: &Path, env: &str) -> Result<Settings, ConfigError> {
        let mut builder = config::Config::builder()
            .add_source(config::File::from(dir.join("default.toml")).required(true))
            .add_source(config::File::from(dir.join(format!("{env}.toml"))).required(false))
            .add_source(
                config::Environment::with_prefix("SWITCHYARD")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true),
            );
        if let Ok(url) = std::env::var("DATABASE_URL") {
            builder = builder.set_override("database.url", url)?;
        }
        if let Ok(url) = std::env::var("REDIS_URL") {
            builder = builder.set_override("redis.url", url)?;
        }
        let settings: Settings = builder.build()?.try_deserialize()?;
        settings.validate()?;
        if !ENVS_WITH_PUBLISHED_SECRETS.contains(&env) {
            settings.refuse_published_secrets()?;
        }
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.server.validate()?;
        if self.redis.key_prefix.is_empty() || self.redis.key_prefix.contains(['{', '}']) {
            return Err(invalid(
                "redis.key_prefix",
                "must be non-empty and contain no braces",
            ));
        }
        if self.redis.connect_timeout_ms == 0 || self.redis.response_timeout_ms == 0 {
            return Err(invalid("redis", "timeouts must be at least 1 ms"));
        }
        self.database.validate()?;
        self.queue_defaults.validate("queue_defaults")?;
        if self.connectors.connect_timeout_ms == 0 || self.connectors.request_timeout_ms == 0 {
            return Err(invalid("connectors", "timeouts must be at least 1 ms"));
        }
        if self.connectors.max_response_bytes == 0 {
            return Err(invalid(
                "connectors.max_response_bytes",
                "must be at least 1",
            ));
        }
        if self.connectors.import_overlap_secs > MAX_IMPORT_OVERLAP_SECS {
            return Err(invalid(
                "connectors.import_overlap_secs",
                format!("must be at most {MAX_IMPORT_OVERLAP_SECS}"),
            ));
        }
        if self.connectors.breaker_failures == 0 {
            return Err(invalid("connectors.breaker_failures", "must be at least 1"));
        }
        if self.connectors.breaker_probe_secs == 0 {
            return Err(invalid(
                "connectors.breaker_probe_secs",
                "must be at least 1",
            ));
        }
        if self.connectors.breaker_probe_cap_secs < self.connectors.breaker_probe_secs {
            return Err(invalid(
                "connectors.breaker_probe_cap_secs",
                "must be at least connectors.breaker_probe_secs",
            ));
        }
        if self.timers.import_products_secs == 0 {
            return Err(invalid("timers.import_products_secs", "must be at least 1"));
        }
        if self.timers.import_scan_secs == 0 {
            return Err(invalid("timers.import_scan_secs", "must be at least 1"));
        }
        self.webhooks.validate()?;
        self.retention.validate()?;
        for (i, p) in self.timers.periodic.iter().enumerate() {
            let key = format!("timers.periodic[{i}]");
            if p.name.is_empty() {
                return Err(invalid(format!("{key}.name"), "must not be empty"));
            }
            if p.every_secs == 0 {
                return Err(invalid(format!("{key}.every_secs"), "must be at least 1"));
            }
        }
        for (name, o) in &self.queues {
            self.queue_defaults
                .apply(o)
                .validate(&format!("queues.{name}"))?;
        }
        Ok(())
    }

    /// Refuses the ops token and credentials key published in `config/default.toml` and
    /// `config/test.toml`: with them anyone could call the ops API and open every sealed secret.
    fn refuse_published_secrets(&self) -> Result<(), ConfigError> {
        let reason = "is the published default; set a secret of this deployment's own";
        if PUBLISHED_OPS_TOKENS.contains(&self.server.ops_token.trim()) {
            return Err(invalid("server.ops_token", reason));
        }
        let key = self.crypto.credentials_key.trim().to_ascii_lowercase();
        if PUBLISHED_CREDENTIALS_KEYS.contains(&key.as_str()) {
            return Err(invalid("crypto.credentials_key", reason));
        }
        Ok(())
    }

    /// The effective policy of one queue (`import-orders` reads `[queues.import_orders]`).
    pub fn policy(&self, queue: &str) -> QueuePolicy {
        match self.queues.get(&queue.replace('-', "_")) {
            Some(o) => self.queue_defaults.apply(o),
            None => self.queue_defaults.clone(),
        }
    }
}

/// `SWITCHYARD_CONFIG_DIR`, or `config/` in the current directory, or the one shipped beside
/// the crate's sources.
pub fn config_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("SWITCHYARD_CONFIG_DIR") {
        return PathBuf::from(dir);
    }
    let local = PathBuf::from("config");
    if local.join("default.toml").exists() {
        return local;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config")
    }

    /// The shipped default.toml under `env`, with `extra` as that environment's file.
    fn in_env(env: &str, extra: &str) -> Result<Settings, ConfigError> {
        let tmp = std::env::temp_dir().join(format!("switchyard-config-{}", ulid::Ulid::new()));
        std::fs::create_dir_all(&tmp).unwrap();
        std::fs::copy(dir().join("default.toml"), tmp.join("default.toml")).unwrap();
        std::fs::write(tmp.join(format!("{env}.toml")), extra).unwrap();
        let loaded = Settings::load_env(&tmp, env);
        std::fs::remove_dir_all(&tmp).ok();
        loaded
    }

    fn with_env_file(extra: &str) -> Result<Settings, ConfigError> {
        in_env("development", extra)
    }

    fn key_of(err: ConfigError) -> String {
        match err {
            ConfigError::Invalid { key, .. } => key,
            other => other.to_string(),
        }
    }

    #[test]
    fn the_shipped_files_load_and_per_queue_tables_override_the_defaults() {
        let s = Settings::load_env(&dir(), "test").unwrap();
        assert_eq!(s.policy("import-orders").concurrency, 4);
        assert_eq!(s.policy("deliver-webhook").max_attempts, 9);
        assert_eq!(s.policy("never-configured"), s.queue_defaults);
        assert_eq!(
            s.queue_defaults.lease_secs, 5,
            "test.toml overrides default.toml"
        );
    }

    #[test]
    fn an_invalid_value_is_refused_naming_its_key() {
        let err = with_env_file("[queues.sync_stock]\nconcurrency = 0\n").unwrap_err();
        assert_eq!(key_of(err), "queues.sync_stock.concurrency");
        let err = with_env_file("[queue_defaults]\nbackoff_jitter = 1.5\n").unwrap_err();
        assert_eq!(key_of(err), "queue_defaults.backoff_jitter");
        let err = with_env_file("[server]\nops_token = \"short\"\n").unwrap_err();
        assert_eq!(key_of(err), "server.ops_token");
        let err = with_env_file("[server]\nheader_read_timeout_secs = 0\n").unwrap_err();
        assert_eq!(key_of(err), "server.header_read_timeout_secs");
        let err = with_env_file("[server]\nmax_connections = 0\n").unwrap_err();
        assert_eq!(key_of(err), "server.max_connections");
        let err = with_env_file("[server]\nmax_head_bytes = 100000\n").unwrap_err();
        assert_eq!(key_of(err), "server.max_head_bytes");
        let err = with_env_file("[connectors]\nimport_overlap_secs = 3601\n").unwrap_err();
        assert_eq!(key_of(err), "connectors.import_overlap_secs");
    }

    #[test]
    fn the_import_overlap_is_two_minutes_unless_set() {
        let s = Settings::load_env(&dir(), "test").unwrap();
        assert_eq!(s.connectors.import_overlap(), Duration::from_secs(120));
        let s = with_env_file("[connectors]\nimport_overlap_secs = 0\n").unwrap();
        assert_eq!(s.connectors.import_overlap(), Duration::ZERO);
    }

    #[test]
    fn retention_keeps_what_a_demanding_operator_expects_and_refuses_a_key_pruned_alive() {
        let s = Settings::load_env(&dir(), "test").unwrap().retention;
        assert_eq!((s.webhook_days, s.order_events_days), (30, 365));
        assert!(s.idempotency_keys_hours > IDEMPOTENCY_KEY_HOURS);
        let forever =
            "[retention]\nwebhook_days = 0\norder_events_days = 0\nidempotency_keys_hours = 0\n";
        assert_eq!(with_env_file(forever).unwrap().retention.webhook_days, 0);
        let err = with_env_file("[retention]\nidempotency_keys_hours = 24\n").unwrap_err();
        assert_eq!(key_of(err), "retention.idempotency_keys_hours");
        let err = with_env_file("[retention]\nbatch_rows = 0\n").unwrap_err();
        assert_eq!(key_of(err), "retention.batch_rows");
        let err = with_env_file("[retention]\nbatch_rows = 50000\n").unwrap_err();
        assert_eq!(key_of(err), "retention.batch_rows");
        let err = with_env_file("[retention]\nprune_every_secs = 0\n").unwrap_err();
        assert_eq!(key_of(err), "retention.prune_every_secs");
    }

    #[test]
    fn outside_development_and_test_the_published_secrets_are_refused() {
        const OWN_TOKEN: &str = "ops-token-of-this-deployment";
        const OWN_KEY: &str = "5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e";
        let test_toml = config::Config::builder()
            .add_source(config::File::from(dir().join("test.toml")))
            .build()
            .unwrap();
        let shipped_token = test_toml.get_string("server.ops_token").unwrap();
        let shipped_key = test_toml.get_string("crypto.credentials_key").unwrap();
        let own_key = format!("[crypto]\ncredentials_key = \"{OWN_KEY}\"\n");
        let own_token = format!("[server]\nops_token = \"{OWN_TOKEN}\"\n");

        // The development defaults, as shipped.
        let err = in_env("production", &own_key).unwrap_err();
        assert_eq!(key_of(err), "server.ops_token");
        let err = in_env("production", &own_token).unwrap_err();
        assert_eq!(key_of(err), "crypto.credentials_key");
        // The test suite's, in any spelling of the key.
        let test_token = format!("[server]\nops_token = \"{}\"\n", shipped_token);
        let err = in_env("staging", &format!("{test_token}{own_key}")).unwrap_err();
        assert_eq!(key_of(err), "server.ops_token");
        let test_key = format!(
            "[crypto]\ncredentials_key = \" {} \"\n",
            shipped_key.to_uppercase()
        );
        let err = in_env("production", &format!("{own_token}{test_key}")).unwrap_err();
        assert_eq!(key_of(err), "crypto.credentials_key");

        let own = in_env("production", &format!("{own_token}{own_key}")).unwrap();
        assert_eq!(own.server.ops_token, OWN_TOKEN);
        // Development and test keep starting with what they ship.
        assert!(in_env("development", "").is_ok());
        assert!(Settings::load_env(&dir(), "test").is_ok());
    }

    #[test]
    fn database_timeouts_must_be_positive() {
        let err = with_env_file("[database]\nacquire_timeout_ms = 0\n").unwrap_err();
        assert_eq!(key_of(err), "database.acquire_timeout_ms");
        let err = with_env_file("[database]\nconnect_timeout_secs = 0\n").unwrap_err();
        assert_eq!(key_of(err), "database.connect_timeout_secs");
    }

    #[test]
    fn the_shipped_addresses_are_the_ones_the_files_hold() {
        let files = [("default.toml", 0), ("test.toml", 1)];
        for (file, i) in files {
            let text = std::fs::read_to_string(dir().join(file)).unwrap();
            let line = format!("url = \"{}\"", SHIPPED_DATABASE_URLS[i]);
            assert!(text.contains(&line), "{file} holds {line}");
        }
        let text = std::fs::read_to_string(dir().join("default.toml")).unwrap();
        assert!(text.contains(&format!("url = \"{SHIPPED_REDIS_URL}\"")));
    }

    #[test]
    fn an_unknown_key_is_refused_by_name() {
        let err = with_env_file("[queue_defaults]\nconcurency = 3\n").unwrap_err();
        assert!(err.to_string().contains("concurency"), "{err}");
    }
}
