//! Harness for the connector contract tests: a sandbox on 127.0.0.1:0 per test, connectors built
//! from its store's credentials with short timeouts, fault knobs, and a webhook receiver.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use std::collections::HashSet;

use axum::http::{HeaderMap, HeaderValue};
use switchyard::connectors::{
    AmazonConfig, AmazonConnector, EbayConfig, EbayConnector, SalesChannel, ShopifyConfig,
    ShopifyConnector, ThrottleSettings, WooConfig, WooConnector,
};
use switchyard::domain::{
    ChannelCredentials, ChannelOrder, Listing, OrderCursor, OrderPage, OrderStatus,
};
use switchyard::outbound::{ClientSettings, SsrfGuard};
use switchyard::sandbox_cmd::sandbox_credentials;
use switchyard_sandbox::{
    AmazonSeller, AmazonSellerConfig, EbaySellerConfig, EbayStore, FaultKnobs, GeneratorConfig,
    SandboxConfig, SandboxHandle, ShopifyStoreConfig, SimStore, StoreInfo, WooStoreConfig,
};

// The sandbox's own tests start it and catch the webhooks it sends the same way.
#[path = "../../sandbox/tests/common/mod.rs"]
mod sandbox_harness;
#[allow(unused_imports)]
pub use sandbox_harness::{next_webhook, start_with, webhook_receiver, StoreApi};

pub const SHOP: &str = "contract-shop";
pub const WOO: &str = "contract-woo";
pub const EBAY: &str = "contract-ebay";
pub const AMAZON: &str = "contract-amazon";

/// Timeouts short enough that a hung request fails a test in about a second, and loopback (where
/// the sandbox listens) admitted by the SSRF guard.
pub fn fast_http() -> ClientSettings {
    ClientSettings {
        connect_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(1),
        guard: SsrfGuard::new(&["127.0.0.0/8".into()]).expect("a CIDR"),
        ..ClientSettings::default()
    }
}

pub fn throttle_settings() -> ThrottleSettings {
    ThrottleSettings {
        max_wait: Duration::from_secs(5),
        ..ThrottleSettings::default()
    }
}

/// A generator with no later events, so listings hold exactly the orders a test created.
pub fn quiet_generator() -> GeneratorConfig {
    GeneratorConfig {
        update_ratio: 0.0,
        cancel_ratio: 0.0,
        ..GeneratorConfig::default()
    }
}

/// A sandbox with one store, and the config of a connector to it.
pub struct Rig<C> {
    pub sandbox: SandboxHandle,
    pub store: Arc<dyn SimStore>,
    pub config: C,
}

impl<C> Rig<C> {
    pub fn faults(&self, knobs: FaultKnobs) {
        self.store.faults().set(knobs);
    }
}

impl Rig<ShopifyConfig> {
    pub fn connector(&self) -> ShopifyConnector {
        ShopifyConnector::new(self.config.clone()).expect("connector builds")
    }
}

impl Rig<WooConfig> {
    pub fn connector(&self) -> WooConnector {
        WooConnector::new(self.config.clone()).expect("connector builds")
    }
}

impl Rig<EbayConfig> {
    pub fn connector(&self) -> EbayConnector {
        EbayConnector::new(self.config.clone()).expect("connector builds")
    }

    /// The seller, for what only eBay's simulator does (expire tokens, refund, lose answers).
    pub fn seller(&self) -> Arc<EbayStore> {
        self.sandbox.ebay(EBAY).expect("seller configured")
    }
}

impl Rig<AmazonConfig> {
    pub fn connector(&self) -> AmazonConnector {
        AmazonConnector::new(self.config.clone()).expect("connector builds")
    }

    /// The seller account itself, for what only Amazon has (its tokens, its shipments).
    pub fn seller(&self) -> Arc<AmazonSeller> {
        self.sandbox.amazon(AMAZON).expect("seller configured")
    }
}

/// Starts the sandbox of `config` and builds the connector config of its store `name`.
async fn rig<C>(
    config: SandboxConfig,
    name: &str,
    connector_config: impl FnOnce(StoreInfo) -> C,
) -> Rig<C> {
    let sandbox = start_with(config).await;
    let info = sandbox.store_info(name).expect("store configured").clone();
    let store = sandbox.store(name).expect("store configured");
    Rig {
        config: connector_config(info),
        sandbox,
        store,
    }
}

/// A sandbox with one Shopify shop, shaped by `tweak`, and a matching connector config.
pub async fn shopify(tweak: impl FnOnce(&mut ShopifyStoreConfig)) -> Rig<ShopifyConfig> {
    let mut store_config = ShopifyStoreConfig::new(SHOP);
    store_config.generator = quiet_generator();
    tweak(&mut store_config);
    let sandbox = SandboxConfig {
        shopify: vec![store_config],
        ..SandboxConfig::default()
    };
    rig(sandbox, SHOP, |info| {
        let ChannelCredentials::Shopify(c) = sandbox_credentials(&info) else {
            panic!("a Shopify store has Shopify credentials");
        };
        let mut config = ShopifyConfig::new(info.base_url, c.access_token, c.app_secret);
        config.http = fast_http();
        config.throttle = throttle_settings();
        config
    })
    .await
}

/// A sandbox with one WooCommerce store, shaped by `tweak`, and a matching connector config.
pub async fn woocommerce(tweak: impl FnOnce(&mut WooStoreConfig)) -> Rig<WooConfig> {
    let mut store_config = WooStoreConfig::new(WOO);
    store_config.generator = quiet_generator();
    tweak(&mut store_config);
    let sandbox = SandboxConfig {
        woocommerce: vec![store_config],
        ..SandboxConfig::default()
    };
    rig(sandbox, WOO, |info| {
        let ChannelCredentials::WooCommerce(c) = sandbox_credentials(&info) else {
            panic!("a WooCommerce store has WooCommerce credentials");
        };
        let mut config = WooConfig::new(info.base_url, c.consumer_key, c.consumer_secret);
        config.webhook_secret = Some(c.webhook_secret);
        config.http = fast_http();
        config.throttle = throttle_settings();
        config
    })
    .await
}

/// Throttles that never hold a test back: the eBay simulator's own limit is off in [`ebay`]
/// unless a test sets one.
pub fn unthrottled() -> ThrottleSettings {
    ThrottleSettings {
        leak_per_second: 1000.0,
        assumed_capacity: 1000,
        ..throttle_settings()
    }
}

/// A sandbox with one eBay seller, shaped by `tweak` (its per-second limit off unless set), and
/// a matching connector config.
pub async fn ebay(tweak: impl FnOnce(&mut EbaySellerConfig)) -> Rig<EbayConfig> {
    let mut seller = EbaySellerConfig::new(EBAY);
    seller.generator = quiet_generator();
    seller.requests_per_second = 100_000;
    tweak(&mut seller);
    let sandbox = SandboxConfig {
        ebay: vec![seller],
        ..SandboxConfig::default()
    };
    rig(sandbox, EBAY, |info| {
        let ChannelCredentials::Ebay(c) = sandbox_credentials(&info) else {
            panic!("an eBay seller has eBay credentials");
        };
        let mut config =
            EbayConfig::new(info.base_url, c.client_id, c.client_secret, c.refresh_token);
        config.http = fast_http();
        config.fulfillment_throttle = unthrottled();
        config.inventory_throttle = unthrottled();
        config
    })
    .await
}

/// A sandbox with one Amazon seller, shaped by `tweak`, and a matching connector config. The
/// seller sells its own stock only (no FBA orders) and its usage plans run a thousand times the
/// published rates, which a connector learns from the first answer of each operation; a test
/// about throttling sets its own.
pub async fn amazon(tweak: impl FnOnce(&mut AmazonSellerConfig)) -> Rig<AmazonConfig> {
    let mut seller_config = AmazonSellerConfig::new(AMAZON);
    seller_config.generator = quiet_generator();
    seller_config.afn_ratio = 0.0;
    seller_config.rate_limits.scale = 1000.0;
    tweak(&mut seller_config);
    let sandbox = SandboxConfig {
        amazon: vec![seller_config],
        ..SandboxConfig::default()
    };
    rig(sandbox, AMAZON, |info| {
        let ChannelCredentials::Amazon(c) = sandbox_credentials(&info) else {
            panic!("an Amazon seller has Amazon credentials");
        };
        let mut config = AmazonConfig::new(info.base_url, c);
        config.http = fast_http();
        config.throttle = throttle_settings();
        config
    })
    .await
}

/// How many requests the store saw on `route` (`"GET /admin/api/{version}/orders.json"`).
pub fn requests_on(store: &dyn SimStore, route: &str) -> u64 {
    store
        .traffic()
        .snapshot()
        .by_route
        .get(route)
        .copied()
        .unwrap_or(0)
}

/// How many of `orders` have `status`.
pub fn count_status(orders: &[ChannelOrder], status: OrderStatus) -> usize {
    orders.iter().filter(|o| o.status == status).count()
}

/// The status of the order `id` among `orders`.
pub fn status_of(orders: &[ChannelOrder], id: &str) -> Option<OrderStatus> {
    orders
        .iter()
        .find(|o| o.channel_order_id == id)
        .map(|o| o.status)
}

/// Listings of a since-cursor around a change: `first` from the start, `later` the ids of three
/// orders created a second after it (timestamps are whole seconds), `after` the ids listed from
/// just past `first`'s newest change, and `again` the page listed from exactly that change.
pub struct SinceCursorListings {
    pub first: OrderPage,
    pub later: HashSet<String>,
    pub after: HashSet<String>,
    pub again: OrderPage,
}

pub async fn list_around_a_change(
    store: &dyn SimStore,
    connector: &dyn SalesChannel,
) -> SinceCursorListings {
    let first = connector
        .list_orders_since(&OrderCursor::Since(None))
        .await
        .expect("first listing");
    let checkpoint = first.max_updated_at().expect("orders have times");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let later = store
        .create_orders(3)
        .into_iter()
        .map(|id| store.channel_order_id(id))
        .collect();
    let after = connector
        .list_orders_since(&OrderCursor::Since(Some(
            checkpoint + chrono::Duration::seconds(1),
        )))
        .await
        .expect("second listing")
        .orders
        .into_iter()
        .map(|o| o.channel_order_id)
        .collect();
    let again = connector
        .list_orders_since(&OrderCursor::Since(Some(checkpoint)))
        .await
        .expect("inclusive listing");
    SinceCursorListings {
        first,
        later,
        after,
        again,
    }
}

/// Walks `n` new orders page by page, calling `expire` with each page's number (from 0) before
/// it is read, to make the platform's access tokens run out under a long import: the walk goes
/// on and every order comes once.
pub async fn walk_through_token_expiry(
    store: &dyn SimStore,
    connector: &dyn SalesChannel,
    n: usize,
    expire: &dyn Fn(usize),
) {
    let created: HashSet<String> = store
        .create_orders(n)
        .into_iter()
        .map(|id| store.channel_order_id(id))
        .collect();
    let mut cursor = OrderCursor::Since(None);
    let mut listed = Vec::new();
    let mut pages = 0;
    loop {
        expire(pages);
        let page = connector
            .list_orders_since(&cursor)
            .await
            .unwrap_or_else(|e| panic!("page {pages}, its token expired: {e}"));
        pages += 1;
        listed.extend(page.orders.into_iter().map(|o| o.channel_order_id));
        match page.next {
            Some(next) => cursor = next,
            None => break,
        }
    }
    assert!(pages > 1, "the walk took one page; expiry met nothing");
    assert_eq!(listed.len(), n, "no order is listed twice");
    assert_eq!(listed.into_iter().collect::<HashSet<_>>(), created);
}

/// Asserts that `listings` show each of the store's SKUs once, with the store's stock.
pub fn assert_listings_match_stock(listings: &[Listing], store: &dyn SimStore) {
    let stock = store.stock_by_sku();
    assert_eq!(listings.len(), stock.len(), "one listing per SKU");
    for listing in listings {
        let sku = listing.sku.as_deref().expect("every listing has a SKU");
        assert_eq!(listing.quantity, stock.get(sku).copied(), "{sku}");
    }
}

/// `body` with one digit changed, as a tampered webhook would arrive.
pub fn tampered(body: &[u8]) -> Vec<u8> {
    let mut tampered = body.to_vec();
    if let Some(byte) = tampered.iter_mut().find(|b| b.is_ascii_digit()) {
        *byte = if *byte == b'9' { b'8' } else { *byte + 1 };
    }
    tampered
}

/// `headers` with the signature `header` replaced by someone else's.
pub fn forged(headers: &HeaderMap, header: &'static str) -> HeaderMap {
    let mut forged = headers.clone();
    forged.insert(
        header,
        HeaderValue::from_static("c2lnbmVkIGJ5IHNvbWVvbmUgZWxzZQ=="),
    );
    forged
}
