//! Configuration of one simulated Amazon seller account: its ids, the Login with Amazon app that
//! reaches it, the usage plans of the operations it serves, and its catalogue and generator.

use serde::{Deserialize, Serialize};

use crate::config::{default_catalog, hex_of, ProductConfig};
use crate::faults::FaultKnobs;
use crate::generator::GeneratorConfig;

/// The UK marketplace (amazon.co.uk), whose currency is GBP.
pub const UK_MARKETPLACE: &str = "A1F83G8C2ARO7P";

/// One seller account, served at `/amazon/{name}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AmazonSellerConfig {
    /// Unique in the sandbox.
    pub name: String,
    /// The merchant token, as Seller Central shows it (`A` and 13 upper-case characters).
    pub seller_id: String,
    /// The one marketplace the seller sells in.
    pub marketplace_id: String,
    pub currency: String,
    /// The LWA app's client id (`amzn1.application-oa2-client.…`) and secret.
    pub lwa_client_id: String,
    pub lwa_client_secret: String,
    /// The refresh token the seller's authorisation of the app gave it (`Atzr|…`); it does not
    /// expire or rotate, as LWA's do not.
    pub refresh_token: String,
    /// LWA: 3600.
    pub access_token_lifetime_secs: u64,
    /// Items in one `getOrderItems` answer before a `NextToken`; the model pages them but does
    /// not say how many fit a page.
    #[serde(default = "default_order_items_per_page")]
    pub order_items_per_page: usize,
    pub rate_limits: AmazonRateLimits,
    /// Share of generated orders fulfilled by Amazon (AFN): created already shipped, and taking
    /// nothing from the seller's own (MFN) stock.
    pub afn_ratio: f64,
    pub catalog: Vec<ProductConfig>,
    pub generator: GeneratorConfig,
    pub faults: FaultKnobs,
}

impl AmazonSellerConfig {
    /// A UK seller with derived ids and credentials, the default catalogue and LWA's token lifetime.
    pub fn new(name: &str) -> AmazonSellerConfig {
        AmazonSellerConfig {
            name: name.to_string(),
            seller_id: format!("A{}", hex_of(&format!("{name}/seller"), 13).to_uppercase()),
            marketplace_id: UK_MARKETPLACE.into(),
            currency: "GBP".into(),
            lwa_client_id: format!(
                "amzn1.application-oa2-client.{}",
                hex_of(&format!("{name}/lwa-client"), 32)
            ),
            lwa_client_secret: format!(
                "amzn1.oa2-cs.v1.{}",
                hex_of(&format!("{name}/lwa-secret"), 64)
            ),
            refresh_token: format!("Atzr|{}", hex_of(&format!("{name}/refresh"), 64)),
            access_token_lifetime_secs: 3600,
            order_items_per_page: default_order_items_per_page(),
            rate_limits: AmazonRateLimits::default(),
            afn_ratio: 0.2,
            catalog: default_catalog(),
            generator: GeneratorConfig::default(),
            faults: FaultKnobs::default(),
        }
    }
}

fn default_order_items_per_page() -> usize {
    30
}

/// A usage plan: requests per second restored to the bucket, and its size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OperationLimit {
    pub rate: f64,
    pub burst: u32,
}

/// The usage plans of the operations served, as the models' descriptions give them (Orders v0,
/// Listings Items 2021-08-01). `scale` multiplies every rate, so a test can watch a bucket refill
/// in milliseconds rather than a minute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AmazonRateLimits {
    pub get_orders: OperationLimit,
    pub get_order: OperationLimit,
    pub get_order_items: OperationLimit,
    pub confirm_shipment: OperationLimit,
    pub get_listings_item: OperationLimit,
    pub patch_listings_item: OperationLimit,
    pub search_listings_items: OperationLimit,
    pub scale: f64,
}

impl Default for AmazonRateLimits {
    fn default() -> Self {
        let plan = |rate, burst| OperationLimit { rate, burst };
        AmazonRateLimits {
            get_orders: plan(0.0167, 20),
            get_order: plan(0.5, 30),
            get_order_items: plan(0.5, 30),
            confirm_shipment: plan(2.0, 10),
            get_listings_item: plan(5.0, 10),
            patch_listings_item: plan(5.0, 5),
            search_listings_items: plan(5.0, 5),
            scale: 1.0,
        }
    }
}
