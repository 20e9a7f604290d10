//! Configuration of one simulated eBay seller: the app's keyset and the seller's refresh token
//! (derived from the name, so they are stable across runs), the marketplace, token lifetime, the
//! per-second call limit, catalogue, generator and fault knobs.

use serde::{Deserialize, Serialize};

use crate::config::{default_catalog, hex_of, ProductConfig};
use crate::faults::FaultKnobs;
use crate::generator::GeneratorConfig;

/// One simulated eBay seller, served at `/ebay/{name}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct EbaySellerConfig {
    /// The seller's eBay user id; unique in the sandbox.
    pub name: String,
    /// The marketplace the seller lists on (`EBAY_GB`).
    pub marketplace_id: String,
    pub currency: String,
    /// The app's App ID (client id), shaped as eBay's keysets are: `{user}-{app}-PRD-{hex}-{hex}`.
    pub client_id: String,
    /// The app's Cert ID (client secret): `PRD-{hex}`.
    pub client_secret: String,
    /// The refresh token the seller granted the app (eBay's live for 18 months).
    pub refresh_token: String,
    /// User access token lifetime (eBay: 7,200 seconds).
    pub access_token_lifetime_secs: u64,
    /// Calls admitted in any one second across the seller's APIs; the next is answered 429.
    /// eBay's published limits are per day and large; a per-second cap is what a client meets
    /// first when it bursts.
    pub requests_per_second: u32,
    pub catalog: Vec<ProductConfig>,
    pub generator: GeneratorConfig,
    pub faults: FaultKnobs,
}

impl Default for EbaySellerConfig {
    fn default() -> Self {
        EbaySellerConfig::new("ebay-seller")
    }
}

impl EbaySellerConfig {
    /// A UK seller with derived credentials and the default catalogue.
    pub fn new(name: &str) -> EbaySellerConfig {
        EbaySellerConfig {
            name: name.to_string(),
            marketplace_id: "EBAY_GB".into(),
            currency: "GBP".into(),
            client_id: format!(
                "{name}-switchya-PRD-{}-{}",
                hex_of(&format!("{name}/ebay-app"), 9),
                hex_of(&format!("{name}/ebay-app2"), 8)
            ),
            client_secret: format!("PRD-{}", hex_of(&format!("{name}/ebay-cert"), 28)),
            refresh_token: format!(
                "v^1.1#i^1#r^1#f^0#p^3#I^3#t^{}",
                hex_of(&format!("{name}/ebay-refresh"), 64)
            ),
            access_token_lifetime_secs: 7_200,
            requests_per_second: 25,
            catalog: default_catalog(),
            generator: GeneratorConfig::default(),
            faults: FaultKnobs::default(),
        }
    }
}
