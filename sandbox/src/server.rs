//! Starting and stopping a sandbox: one listener, every store mounted under
//! `/shopify/{name}`, `/woocommerce/{name}`, `/amazon/{name}` or `/ebay/{name}`, every Sage business under `/sage/{name}` and every
//! Xero organisation under `/xero/{name}`, the control API under `/_sandbox` (Sage's under
//! `/_sandbox/sage`, Xero's under `/_sandbox/xero`), a background
//! driver for the order generators, and a graceful shutdown that also releases hung requests.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use serde::Serialize;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::amazon::{self, AmazonSeller};
use crate::config::SandboxConfig;
use crate::control::{self, Registry};
use crate::ebay::{self, EbayStore};
use crate::sage::{self, SageBusiness};
use crate::shopify::{self, ShopifyStore};
use crate::store::{Platform, SimStore};
use crate::webhook_sender::WebhookSender;
use crate::woocommerce::{self, WooStore};
use crate::xero::{self, XeroOrg};

/// Entry point: `Sandbox::start(config)`.
pub struct Sandbox;

/// How a client reaches a store.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StoreInfo {
    pub name: String,
    pub platform: Platform,
    /// Base URL of the store: append `/admin/api/{version}/...` or `/wp-json/...`.
    pub base_url: String,
    pub credentials: Credentials,
}

/// Credentials a connector needs for a store.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Credentials {
    Shopify {
        shop_domain: String,
        access_token: String,
        /// Signs outbound webhooks (`X-Shopify-Hmac-Sha256`).
        app_secret: String,
    },
    WooCommerce {
        consumer_key: String,
        consumer_secret: String,
        /// Signs webhooks registered without their own secret.
        webhook_secret: String,
    },
    /// A Selling Partner API app authorised by the seller: LWA credentials and the ids calls name.
    Amazon {
        seller_id: String,
        marketplace_id: String,
        lwa_client_id: String,
        lwa_client_secret: String,
        refresh_token: String,
    },
    Ebay {
        client_id: String,
        client_secret: String,
        /// The seller's refresh token, traded at `/identity/v1/oauth2/token` for access tokens.
        refresh_token: String,
    },
}

/// A running sandbox. Dropping it stops the server too; [`SandboxHandle::shutdown`] waits for it.
pub struct SandboxHandle {
    addr: SocketAddr,
    shutdown: CancellationToken,
    server: Option<JoinHandle<io::Result<()>>>,
    driver: Option<JoinHandle<()>>,
    registry: Arc<Registry>,
    shopify: Vec<Arc<ShopifyStore>>,
    woocommerce: Vec<Arc<WooStore>>,
    sage: Vec<Arc<SageBusiness>>,
    xero: Vec<Arc<XeroOrg>>,
    amazon: Vec<Arc<AmazonSeller>>,
    ebay: Vec<Arc<EbayStore>>,
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

impl Sandbox {
    /// Binds `config.bind`, builds every store and starts serving.
    pub async fn start(config: SandboxConfig) -> io::Result<SandboxHandle> {
        let mut names: Vec<&str> = config
            .shopify
            .iter()
            .map(|s| s.name.as_str())
            .chain(config.woocommerce.iter().map(|w| w.name.as_str()))
            .chain(config.sage.iter().map(|b| b.name.as_str()))
            .chain(config.xero.iter().map(|x| x.name.as_str()))
            .chain(config.amazon.iter().map(|a| a.name.as_str()))
            .chain(config.ebay.iter().map(|e| e.name.as_str()))
            .collect();
        if let Some(bad) = names.iter().find(|n| {
            n.is_empty()
                || !n
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        }) {
            return Err(invalid(format!(
                "store name {bad:?} must be non-empty [A-Za-z0-9_-]"
            )));
        }
        names.sort_unstable();
        if let Some(pair) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(invalid(format!("store name {:?} is used twice", pair[0])));
        }

        let listener = tokio::net::TcpListener::bind(config.bind).await?;
        let addr = listener.local_addr()?;
        let root = format!("http://{addr}");
        let shutdown = CancellationToken::new();
        let sender = WebhookSender::new(tokio::runtime::Handle::current(), shutdown.clone())
            .map_err(|e| io::Error::other(e.to_string()))?;

        let mut app = Router::new();
        let mut stores: Vec<Arc<dyn SimStore>> = Vec::new();
        let mut infos = Vec::new();
        let mut shopify_stores = Vec::new();
        for cfg in config.shopify {
            let prefix = format!("/shopify/{}", cfg.name);
            let base_url = format!("{root}{prefix}");
            let store = Arc::new(ShopifyStore::new(
                cfg,
                &prefix,
                base_url.clone(),
                sender.clone(),
            ));
            app = app.nest(&prefix, shopify::router(store.clone(), shutdown.clone()));
            infos.push(StoreInfo {
                name: store.name().to_string(),
                platform: Platform::Shopify,
                base_url,
                credentials: Credentials::Shopify {
                    shop_domain: store.domain().to_string(),
                    access_token: store.access_token().to_string(),
                    app_secret: store.app_secret().to_string(),
                },
            });
            stores.push(store.clone());
            shopify_stores.push(store);
        }
        let mut woo_stores = Vec::new();
        for cfg in config.woocommerce {
            let prefix = format!("/woocommerce/{}", cfg.name);
            let base_url = format!("{root}{prefix}");
            let store = Arc::new(WooStore::new(
                cfg,
                &prefix,
                base_url.clone(),
                sender.clone(),
            ));
            app = app.nest(
                &prefix,
                woocommerce::router(store.clone(), shutdown.clone()),
            );
            infos.push(StoreInfo {
                name: store.name().to_string(),
                platform: Platform::WooCommerce,
                base_url,
                credentials: Credentials::WooCommerce {
                    consumer_key: store.consumer_key().to_string(),
                    consumer_secret: store.consumer_secret().to_string(),
                    webhook_secret: store.default_webhook_secret().to_string(),
                },
            });
            stores.push(store.clone());
            woo_stores.push(store);
        }
        let mut amazon_sellers = Vec::new();
        for cfg in config.amazon {
            let prefix = format!("/amazon/{}", cfg.name);
            let base_url = format!("{root}{prefix}");
            let seller = Arc::new(AmazonSeller::new(
                cfg,
                &prefix,
                base_url.clone(),
                sender.clone(),
            ));
            app = app.nest(&prefix, amazon::router(seller.clone(), shutdown.clone()));
            infos.push(StoreInfo {
                name: seller.name().to_string(),
                platform: Platform::Amazon,
                base_url,
                credentials: Credentials::Amazon {
                    seller_id: seller.seller_id().to_string(),
                    marketplace_id: seller.marketplace_id().to_string(),
                    lwa_client_id: seller.lwa_client_id().to_string(),
                    lwa_client_secret: seller.lwa_client_secret().to_string(),
                    refresh_token: seller.refresh_token().to_string(),
                },
            });
            stores.push(seller.clone());
            amazon_sellers.push(seller);
        }
        let mut ebay_stores = Vec::new();
        for cfg in config.ebay {
            let prefix = format!("/ebay/{}", cfg.name);
            let base_url = format!("{root}{prefix}");
            let store = Arc::new(EbayStore::new(
                cfg,
                &prefix,
                base_url.clone(),
                sender.clone(),
            ));
            app = app.nest(&prefix, ebay::router(store.clone(), shutdown.clone()));
            infos.push(StoreInfo {
                name: store.name().to_string(),
                platform: Platform::Ebay,
                base_url,
                credentials: Credentials::Ebay {
                    client_id: store.client_id().to_string(),
                    client_secret: store.client_secret().to_string(),
                    refresh_token: store.refresh_token().to_string(),
                },
            });
            stores.push(store.clone());
            ebay_stores.push(store);
        }
        let mut sage_businesses = Vec::new();
        for cfg in config.sage {
            let prefix = format!("/sage/{}", cfg.name);
            let business = Arc::new(SageBusiness::new(cfg, &prefix, format!("{root}{prefix}")));
            app = app.nest(&prefix, sage::router(business.clone(), shutdown.clone()));
            sage_businesses.push(business);
        }
        let mut xero_orgs = Vec::new();
        for cfg in config.xero {
            let prefix = format!("/xero/{}", cfg.name);
            let org = Arc::new(XeroOrg::new(cfg, &prefix, format!("{root}{prefix}")));
            app = app.nest(&prefix, xero::router(org.clone(), shutdown.clone()));
            xero_orgs.push(org);
        }
        let registry = Arc::new(Registry { stores, infos });
        let app = app
            .nest(
                "/_sandbox/sage",
                sage::control::router(sage_businesses.clone()),
            )
            .nest("/_sandbox/xero", xero::control::router(xero_orgs.clone()))
            .nest("/_sandbox", control::router(registry.clone()));

        let server = tokio::spawn({
            let shutdown = shutdown.clone();
            async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(shutdown.cancelled_owned())
                    .await
            }
        });
        let driver = tokio::spawn(drive_generators(registry.clone(), shutdown.clone()));
        Ok(SandboxHandle {
            addr,
            shutdown,
            server: Some(server),
            driver: Some(driver),
            registry,
            shopify: shopify_stores,
            woocommerce: woo_stores,
            sage: sage_businesses,
            xero: xero_orgs,
            amazon: amazon_sellers,
            ebay: ebay_stores,
        })
    }
}

/// Ticks every store's generator ten times a second until shutdown.
async fn drive_generators(registry: Arc<Registry>, shutdown: CancellationToken) {
    let mut interval = tokio::time::interval(Duration::from_millis(100));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = Instant::now();
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        let now = Instant::now();
        let elapsed = now.duration_since(last);
        last = now;
        for store in &registry.stores {
            store.tick(elapsed);
        }
    }
}

impl SandboxHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:{port}`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Base URL of the control API, `http://127.0.0.1:{port}/_sandbox`.
    pub fn control_url(&self) -> String {
        format!("http://{}/_sandbox", self.addr)
    }

    /// Every store with its base URL and credentials.
    pub fn stores(&self) -> &[StoreInfo] {
        &self.registry.infos
    }

    pub fn store_info(&self, name: &str) -> Option<&StoreInfo> {
        self.registry.infos.iter().find(|i| i.name == name)
    }

    /// Any store, through the platform-neutral trait.
    pub fn store(&self, name: &str) -> Option<Arc<dyn SimStore>> {
        self.registry.find(name)
    }

    pub fn shopify(&self, name: &str) -> Option<Arc<ShopifyStore>> {
        self.shopify.iter().find(|s| s.name() == name).cloned()
    }

    pub fn woocommerce(&self, name: &str) -> Option<Arc<WooStore>> {
        self.woocommerce.iter().find(|s| s.name() == name).cloned()
    }

    pub fn sage(&self, name: &str) -> Option<Arc<SageBusiness>> {
        self.sage.iter().find(|b| b.name() == name).cloned()
    }

    pub fn ebay(&self, name: &str) -> Option<Arc<EbayStore>> {
        self.ebay.iter().find(|s| s.name() == name).cloned()
    }

    pub fn xero(&self, name: &str) -> Option<Arc<XeroOrg>> {
        self.xero.iter().find(|o| o.name() == name).cloned()
    }

    pub fn amazon(&self, name: &str) -> Option<Arc<AmazonSeller>> {
        self.amazon.iter().find(|s| s.name() == name).cloned()
    }

    /// Every Xero organisation (they are accounting tenants, not sales channels, so they are not
    /// among [`SandboxHandle::stores`]).
    pub fn xero_orgs(&self) -> &[Arc<XeroOrg>] {
        &self.xero
    }

    /// Stops accepting connections, releases hung requests, and waits (up to 5 s) for the server.
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
        }
        if let Some(driver) = self.driver.take() {
            let _ = driver.await;
        }
    }
}

impl Drop for SandboxHandle {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
