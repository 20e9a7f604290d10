//! What the domain workers share: the database, the key that opens channel credentials, one
//! connector per channel, and the queues they enqueue follow-up work on.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;

use crate::connectors::ConnectorCache;
use crate::crypto::CredentialsKey;
use crate::queue::Broker;

#[derive(Clone)]
pub struct Deps {
    pub db: PgPool,
    pub credentials_key: CredentialsKey,
    pub connectors: ConnectorCache,
    pub broker: Broker,
    /// How far before its saved cursor an import looks again, so an order whose change landed
    /// just behind the cursor (clock skew, a listing that lags) is still seen
    /// (`connectors.import_overlap_secs`).
    pub import_overlap: Duration,
    /// When a channel's import breaker opens and how long it stays open
    /// (`connectors.breaker_*`).
    pub breaker: crate::domain::breaker::BreakerPolicy,
    /// The deliver-webhook worker's HTTP client; `None` only when it could not be built (the
    /// reason is logged at start, and deliveries wait for a fixed deployment).
    pub webhooks: Option<crate::webhooks::WebhookClient>,
    /// Reads webhook deliveries and writes their attempts in batches.
    pub webhook_batches: crate::webhooks::batcher::DeliveryBatches,
    /// One accounting connector per connection, shared by every job posting to it (so they
    /// share its rate limiter and what it learnt), rebuilt when what it was built from changed.
    pub accounting: Arc<std::sync::Mutex<AccountingCache>>,
    /// When each channel's stock was last pushed from this process.
    pub stock_pushes: Arc<StockPushes>,
}

/// The last stock push per channel, which paces the next (`connectors.stock_push_interval_ms`).
/// Kept per process: with several worker processes a channel may be pushed by each in turn,
/// which costs batching, never correctness.
#[derive(Debug, Default)]
pub struct StockPushes(std::sync::Mutex<std::collections::HashMap<i64, std::time::Instant>>);

impl StockPushes {
    /// How long channel `id` must wait before its next push, if at all.
    pub fn wait(&self, id: i64, interval: Duration) -> Option<Duration> {
        let last = *self.lock().get(&id)?;
        (last + interval)
            .checked_duration_since(std::time::Instant::now())
            .filter(|w| !w.is_zero())
    }

    /// Notes a push of channel `id` starting now.
    pub fn record(&self, id: i64) {
        self.lock().insert(id, std::time::Instant::now());
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<i64, std::time::Instant>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What posting to one accounting connection needs, built once per connection: its connector
/// (and the rate limiter in it) and the OAuth client that refreshes its grant.
#[derive(Clone)]
pub struct Accounting {
    pub platform: Arc<dyn crate::connectors::accounting::AccountingPlatform>,
    pub oauth: crate::connectors::accounting::OAuth,
}

/// [`Accounting`] by connection id, with what it was built from. Not the connection's
/// `updated_at`: that moves with every refresh of the grant, and a connector rebuilt then would
/// forget its limiter's count of the last minute's calls.
pub type AccountingCache =
    std::collections::HashMap<i64, (crate::store::invoices::ConnectorSource, Accounting)>;

impl Deps {
    pub fn new(db: PgPool, credentials_key: CredentialsKey, broker: Broker) -> Arc<Deps> {
        let http = crate::connectors::http::client_settings(broker.settings());
        let webhooks = crate::webhooks::WebhookClient::new(broker.settings())
            .inspect_err(|e| tracing::error!(error = %e, "webhook client unavailable"))
            .ok();
        let webhook_batches = crate::webhooks::batcher::DeliveryBatches::new(db.clone());
        let import_overlap = broker.settings().connectors.import_overlap();
        let breaker =
            crate::domain::breaker::BreakerPolicy::from_settings(&broker.settings().connectors);
        Arc::new(Deps {
            db,
            credentials_key,
            connectors: ConnectorCache::new(http),
            broker,
            import_overlap,
            breaker,
            webhooks,
            webhook_batches,
            accounting: Default::default(),
            stock_pushes: Default::default(),
        })
    }
}

impl Deps {
    /// The connector of a channel read for a job: one per channel, shared by every job on it (so
    /// they share its throttle), rebuilt when the channel's row changed.
    pub(crate) fn connector(
        &self,
        ic: &crate::store::channels::ImportChannel,
    ) -> Result<Arc<dyn crate::connectors::SalesChannel>, crate::connectors::ConnectorError> {
        let channel = &ic.channel;
        self.connectors.get(
            channel.id,
            channel.updated_at,
            &channel.base_url,
            &ic.credentials,
            &channel.settings,
        )
    }
}

impl Deps {
    /// The connector and OAuth client of an invoice's connection (see [`Deps::accounting`]).
    pub(crate) fn accounting_for(
        &self,
        to: &crate::store::invoices::ToPost,
    ) -> Result<Accounting, crate::connectors::ConnectorError> {
        use crate::connectors::accounting::{build, Endpoints, OAuth};
        let mut cache = self
            .accounting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((source, built)) = cache.get(&to.connection_id) {
            if *source == to.source {
                return Ok(built.clone());
            }
        }
        let http = self.connectors.http();
        let source = &to.source;
        let built = Accounting {
            platform: build(
                source.kind,
                source.base_url.as_deref(),
                source.organisation_id.as_deref().unwrap_or_default(),
                &source.settings,
                http,
            )?,
            oauth: OAuth::new(
                source.kind,
                Endpoints::of(source.kind, source.base_url.as_deref())?,
                crate::connectors::http::client(http)?,
            ),
        };
        cache.insert(to.connection_id, (source.clone(), built.clone()));
        Ok(built)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_push_paces_only_its_own_channel_and_only_for_the_interval() {
        let pushes = StockPushes::default();
        let interval = Duration::from_millis(200);
        assert_eq!(
            pushes.wait(1, interval),
            None,
            "an idle channel goes at once"
        );
        pushes.record(1);
        let wait = pushes.wait(1, interval).expect("a wait right after a push");
        assert!(
            wait <= interval && wait > Duration::from_millis(150),
            "{wait:?}"
        );
        assert_eq!(
            pushes.wait(2, interval),
            None,
            "another channel is not held"
        );
        assert_eq!(pushes.wait(1, Duration::ZERO), None, "no interval, no wait");
        std::thread::sleep(interval);
        assert_eq!(pushes.wait(1, interval), None, "the interval has passed");
    }
}
