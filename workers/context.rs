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
    /// just behind the cursor (clock skew, a page that shifted) is still seen.
    pub import_overlap: Duration,
    /// The deliver-webhook worker's HTTP client; `None` only when it could not be built (the
    /// reason is logged at start, and deliveries wait for a fixed deployment).
    pub webhooks: Option<crate::webhooks::WebhookClient>,
    /// Reads webhook deliveries and writes their attempts in batches.
    pub webhook_batches: crate::webhooks::batcher::DeliveryBatches,
    /// One accounting connector per connection, shared by every job posting to it (so they
    /// share its rate limiter and what it learnt), rebuilt when what it was built from changed.
    pub accounting: Arc<std::sync::Mutex<AccountingCache>>,
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
        Arc::new(Deps {
            db,
            credentials_key,
            connectors: ConnectorCache::new(http),
            broker,
            import_overlap: Duration::from_secs(300),
            webhooks,
            webhook_batches,
            accounting: Default::default(),
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
