//! One constructor from a stored channel (kind, base URL, credentials) to its connector, and a
//! cache that keeps one connector per channel: calls to a channel share its rate-limit throttle
//! only when they go through the same connector.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use super::{
    AmazonConfig, AmazonConnector, ConnectorError, EbayConfig, EbayConnector, SalesChannel,
    ShopifyConfig, ShopifyConnector, WooConfig, WooConnector,
};
use crate::domain::{ChannelCredentials, ChannelSettings};
use crate::outbound::ClientSettings;

/// Builds the connector for a channel's platform, with the settings that reach the platform
/// (a Shopify channel's location).
pub fn build(
    base_url: &str,
    credentials: &ChannelCredentials,
    settings: &ChannelSettings,
    http: &ClientSettings,
) -> Result<Arc<dyn SalesChannel>, ConnectorError> {
    Ok(match credentials {
        ChannelCredentials::Shopify(c) => {
            let mut config =
                ShopifyConfig::new(base_url, c.access_token.clone(), c.app_secret.clone());
            config.location_id = settings.location_id;
            config.http = http.clone();
            Arc::new(ShopifyConnector::new(config)?)
        }
        ChannelCredentials::WooCommerce(c) => {
            let mut config =
                WooConfig::new(base_url, c.consumer_key.clone(), c.consumer_secret.clone());
            config.webhook_secret = Some(c.webhook_secret.clone());
            config.http = http.clone();
            Arc::new(WooConnector::new(config)?)
        }
        ChannelCredentials::Ebay(c) => {
            let mut config = EbayConfig::new(
                base_url,
                c.client_id.clone(),
                c.client_secret.clone(),
                c.refresh_token.clone(),
            );
            config.http = http.clone();
            Arc::new(EbayConnector::new(config)?)
        }
        ChannelCredentials::Amazon(c) => {
            let mut config = AmazonConfig::new(base_url, c.clone());
            config.skip_fba = settings.skip_fba_orders;
            config.http = http.clone();
            Arc::new(AmazonConnector::new(config)?)
        }
    })
}

/// A channel's connector and the channel version it was built from.
type Versioned = (DateTime<Utc>, Arc<dyn SalesChannel>);

/// Connectors by channel id, rebuilt when the channel changed (new credentials or URL).
#[derive(Clone, Default)]
pub struct ConnectorCache {
    inner: Arc<Mutex<HashMap<i64, Versioned>>>,
    http: ClientSettings,
}

impl ConnectorCache {
    pub fn new(http: ClientSettings) -> ConnectorCache {
        ConnectorCache {
            inner: Arc::default(),
            http,
        }
    }

    pub fn http(&self) -> &ClientSettings {
        &self.http
    }

    /// The connector of channel `id` as it was at `version` (the channel's `updated_at`, which
    /// every change of its URL, credentials or settings moves).
    pub fn get(
        &self,
        id: i64,
        version: DateTime<Utc>,
        base_url: &str,
        credentials: &ChannelCredentials,
        settings: &ChannelSettings,
    ) -> Result<Arc<dyn SalesChannel>, ConnectorError> {
        if let Ok(map) = self.inner.lock() {
            if let Some((v, c)) = map.get(&id) {
                if *v == version {
                    return Ok(c.clone());
                }
            }
        }
        let connector = build(base_url, credentials, settings, &self.http)?;
        if let Ok(mut map) = self.inner.lock() {
            map.insert(id, (version, connector.clone()));
        }
        Ok(connector)
    }
}
