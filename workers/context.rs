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
}

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
        )
    }
}
