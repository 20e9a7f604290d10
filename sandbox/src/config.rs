//! Configuration of a sandbox: which simulated stores exist, their credentials, catalogues, order
//! generators and initial fault knobs. Defaults give a ready demo so `Sandbox::start(SandboxConfig::demo())`
//! is all a test or `switchyard demo` needs.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::ebay::EbaySellerConfig;
use crate::faults::FaultKnobs;
use crate::generator::GeneratorConfig;
use crate::xero::{XeroOrgConfig, XeroTaxRateConfig};

pub use crate::amazon::config::{AmazonRateLimits, AmazonSellerConfig, OperationLimit};

/// The whole sandbox: one HTTP listener serving every store under its own path prefix.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SandboxConfig {
    /// Where to listen; port 0 picks a free one.
    pub bind: SocketAddr,
    pub shopify: Vec<ShopifyStoreConfig>,
    pub woocommerce: Vec<WooStoreConfig>,
    /// Sage Business Cloud Accounting businesses, each with its own app credentials.
    #[serde(default)]
    pub sage: Vec<SageBusinessConfig>,
    /// Xero organisations, served at `/xero/{name}`.
    #[serde(default)]
    pub xero: Vec<XeroOrgConfig>,
    /// Amazon seller accounts, served at `/amazon/{name}`.
    #[serde(default)]
    pub amazon: Vec<AmazonSellerConfig>,
    /// eBay sellers, served at `/ebay/{name}`.
    #[serde(default)]
    pub ebay: Vec<EbaySellerConfig>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            shopify: Vec::new(),
            woocommerce: Vec::new(),
            sage: Vec::new(),
            xero: Vec::new(),
            amazon: Vec::new(),
            ebay: Vec::new(),
        }
    }
}

impl SandboxConfig {
    /// One Shopify shop (`demo-shop`), one WooCommerce store (`demo-woo`), generators off, one
    /// Sage business (`demo-sage`) and one Xero organisation (`demo-xero`), set up for the
    /// shops' sales: subscribed to their currencies, with a sales tax rate for each country the
    /// generators sell to that a UK organisation lacks.
    pub fn demo() -> SandboxConfig {
        let shopify = ShopifyStoreConfig::new("demo-shop");
        let woocommerce = WooStoreConfig::new("demo-woo");
        let mut xero = XeroOrgConfig::new("demo-xero");
        xero.currencies = [&shopify.currency, &woocommerce.currency]
            .into_iter()
            .filter(|c| !c.eq_ignore_ascii_case(&xero.currency))
            .cloned()
            .collect();
        xero.tax_rates = crate::generator::sales_tax_rates()
            .filter(|(_, percent)| ![0, 5, 20].contains(percent))
            .map(|(country, percent)| XeroTaxRateConfig {
                name: format!("{percent}% (Sales tax, {country})"),
                percent: u32::try_from(percent).unwrap_or(0),
            })
            .collect();
        SandboxConfig {
            shopify: vec![shopify],
            woocommerce: vec![woocommerce],
            sage: vec![SageBusinessConfig::new("demo-sage")],
            xero: vec![xero],
            ..SandboxConfig::default()
        }
    }
}

/// One simulated Shopify shop, served at `/shopify/{name}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShopifyStoreConfig {
    /// Shop handle: the `{name}.myshopify.com` of a real shop; unique in the sandbox.
    pub name: String,
    /// Value expected in `X-Shopify-Access-Token`.
    pub access_token: String,
    /// The app's client id (its API key), 32 hex characters as Shopify issues them: what an app
    /// sends as `client_id` to install itself through the authorization code grant.
    pub client_id: String,
    /// The app's client secret: it signs outbound webhooks and the `hmac` of the authorization
    /// redirect, and the app presents it to exchange a code for an access token.
    pub app_secret: String,
    /// Redirect URIs allowed for the app; the authorize step refuses any other. Empty accepts any
    /// absolute http(s) URI, which is what a test with a port picked at run time needs.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    pub currency: String,
    /// The shop's UTC offset in minutes; timestamps are rendered in it, as Shopify does.
    pub utc_offset_minutes: i32,
    /// REST leaky bucket size (Shopify's standard plan: 40); GraphQL has its own, `graphql`.
    pub bucket_capacity: u32,
    /// Leak rate in requests per second (Shopify's standard plan: 2).
    pub leak_per_second: f64,
    pub locations: Vec<String>,
    pub catalog: Vec<ProductConfig>,
    pub generator: GeneratorConfig,
    pub faults: FaultKnobs,
    /// The GraphQL Admin API's cost bucket: the shop's plan, or explicit figures.
    #[serde(default)]
    pub graphql: GraphqlPlan,
    /// How long a bulk query runs before its result is ready, in milliseconds.
    #[serde(default = "default_bulk_delay_ms")]
    pub bulk_operation_delay_ms: u64,
}

fn default_bulk_delay_ms() -> u64 {
    100
}

/// A shop plan's GraphQL cost bucket (Shopify's figures): `standard` holds 2,000 points restoring
/// 100 a second, `advanced` 4,000 / 200, `plus` 20,000 / 1,000; `custom` sets both.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GraphqlPlan {
    #[default]
    Standard,
    Advanced,
    Plus,
    Custom {
        maximum_available: f64,
        restore_rate: f64,
    },
}

impl GraphqlPlan {
    /// `(maximumAvailable, restoreRate)`.
    pub fn limits(&self) -> (f64, f64) {
        match self {
            GraphqlPlan::Standard => (2_000.0, 100.0),
            GraphqlPlan::Advanced => (4_000.0, 200.0),
            GraphqlPlan::Plus => (20_000.0, 1_000.0),
            GraphqlPlan::Custom {
                maximum_available,
                restore_rate,
            } => (*maximum_available, *restore_rate),
        }
    }
}

impl ShopifyStoreConfig {
    /// A shop with derived credentials and the default catalogue.
    pub fn new(name: &str) -> ShopifyStoreConfig {
        ShopifyStoreConfig {
            name: name.to_string(),
            access_token: format!("shpat_{}", hex_of(name, 32)),
            client_id: hex_of(&format!("{name}/shopify-client"), 32),
            app_secret: format!("shpss_{}", hex_of(&format!("{name}/secret"), 32)),
            redirect_uris: Vec::new(),
            currency: "USD".into(),
            utc_offset_minutes: -4 * 60,
            bucket_capacity: 40,
            leak_per_second: 2.0,
            locations: vec!["Main warehouse".into()],
            catalog: default_catalog(),
            generator: GeneratorConfig::default(),
            faults: FaultKnobs::default(),
            graphql: GraphqlPlan::default(),
            bulk_operation_delay_ms: default_bulk_delay_ms(),
        }
    }
}

/// One simulated WooCommerce store, served at `/woocommerce/{name}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WooStoreConfig {
    /// Unique in the sandbox.
    pub name: String,
    /// `ck_...`, as WooCommerce issues them.
    pub consumer_key: String,
    /// `cs_...`.
    pub consumer_secret: String,
    pub currency: String,
    /// Secret used for webhooks registered without one.
    pub webhook_secret: String,
    pub catalog: Vec<ProductConfig>,
    pub generator: GeneratorConfig,
    pub faults: FaultKnobs,
}

impl WooStoreConfig {
    pub fn new(name: &str) -> WooStoreConfig {
        WooStoreConfig {
            name: name.to_string(),
            consumer_key: format!("ck_{}", hex_of(name, 40)),
            consumer_secret: format!("cs_{}", hex_of(&format!("{name}/secret"), 40)),
            currency: "GBP".into(),
            webhook_secret: hex_of(&format!("{name}/webhook"), 32),
            catalog: default_catalog(),
            generator: GeneratorConfig::default(),
            faults: FaultKnobs::default(),
        }
    }
}

/// One simulated Sage Business Cloud Accounting business (and the app registered to reach it),
/// served at `/sage/{name}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SageBusinessConfig {
    /// Unique in the sandbox.
    pub name: String,
    /// The app's OAuth client id and secret, as the developer self-service portal issues them.
    pub client_id: String,
    pub client_secret: String,
    /// Callback URLs registered for the app; the authorize step refuses any other. Empty accepts
    /// any `http(s)` URL, which is what a test with a port picked at run time needs.
    pub redirect_uris: Vec<String>,
    /// The business GUID a client sends as `X-Business` (32 hex digits, as Sage's).
    pub business_id: String,
    pub business_name: String,
    /// Lower-case ISO country the authorize redirect reports as `country` (`gb`).
    pub country: String,
    /// Sage: 300 (5 minutes).
    pub access_token_lifetime_secs: u64,
    /// Sage: 2,678,400 (31 days), counted from the refresh that issued the token.
    pub refresh_token_lifetime_secs: u64,
    /// Sage: 60.
    pub code_lifetime_secs: u64,
    pub rate_limit: SageRateLimit,
    pub faults: FaultKnobs,
    /// Seeds the fault decisions and the generated ids.
    pub seed: u64,
}

/// Request limits per business. Sage documents 200 calls in any 60-second period per business;
/// the daily and concurrency caps are off unless set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SageRateLimit {
    /// Calls admitted in any sliding window of `window_secs`.
    pub requests_per_window: u32,
    pub window_secs: u64,
    /// Calls admitted in any 24 hours.
    pub requests_per_day: Option<u32>,
    /// Calls being served at once.
    pub max_in_flight: Option<u32>,
}

impl Default for SageRateLimit {
    fn default() -> Self {
        SageRateLimit {
            requests_per_window: 200,
            window_secs: 60,
            requests_per_day: None,
            max_in_flight: None,
        }
    }
}

impl SageBusinessConfig {
    /// A UK business with derived credentials and Sage's token lifetimes.
    pub fn new(name: &str) -> SageBusinessConfig {
        SageBusinessConfig {
            name: name.to_string(),
            client_id: hex_of(&format!("{name}/sage-client"), 32),
            client_secret: hex_of(&format!("{name}/sage-secret"), 40),
            redirect_uris: Vec::new(),
            business_id: hex_of(&format!("{name}/business"), 32),
            business_name: format!("{name} Ltd"),
            country: "gb".into(),
            access_token_lifetime_secs: 300,
            refresh_token_lifetime_secs: 31 * 24 * 60 * 60,
            code_lifetime_secs: 60,
            rate_limit: SageRateLimit::default(),
            faults: FaultKnobs::default(),
            seed: 17,
        }
    }
}

/// A product; one variant makes a simple product, several make a product with options.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProductConfig {
    pub title: String,
    /// Name of the option the variants differ by (e.g. "Size"), when there are several.
    pub option_name: Option<String>,
    pub variants: Vec<VariantConfig>,
    /// Image, shipping and customs details, shared by the variants.
    #[serde(default)]
    pub details: ProductDetails,
}

/// What a listing says about shipping and customs besides its title and price.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductDetails {
    /// Absolute address of the main image.
    pub image_url: Option<String>,
    pub weight_grams: Option<u32>,
    /// Length, width and height in centimetres, as decimal strings. Shopify has no dimensions of
    /// its own, so only WooCommerce serves them.
    pub dimensions_cm: Option<[String; 3]>,
    /// Harmonized System tariff code.
    pub hs_code: Option<String>,
    /// ISO 3166-1 alpha-2 country of origin.
    pub country_of_origin: Option<String>,
}

impl ProductDetails {
    /// Weight in kilograms as a decimal string (`500` g -> `"0.5"`), as both platforms show it.
    pub fn weight_kg(&self) -> Option<String> {
        self.weight_grams.map(|g| {
            let text = format!("{}.{:03}", g / 1000, g % 1000);
            let text = text.trim_end_matches('0');
            text.strip_suffix('.').unwrap_or(text).to_owned()
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VariantConfig {
    pub sku: String,
    /// The option value (e.g. "M"); `None` for a single-variant product.
    pub option: Option<String>,
    /// Price as a decimal string, e.g. `"19.99"`.
    pub price: String,
    pub stock: i64,
}

/// An outdoor-shop catalogue: 5 products, 10 SKUs, two of them with size options.
pub fn default_catalog() -> Vec<ProductConfig> {
    let single = |title: &str, sku: &str, price: &str, stock: i64| ProductConfig {
        title: title.into(),
        option_name: None,
        variants: vec![VariantConfig {
            sku: sku.into(),
            option: None,
            price: price.into(),
            stock,
        }],
        details: details(title),
    };
    let sized =
        |title: &str, prefix: &str, sizes: &[&str], price: &str, stock: i64| ProductConfig {
            title: title.into(),
            option_name: Some("Size".into()),
            variants: sizes
                .iter()
                .map(|s| VariantConfig {
                    sku: format!("{prefix}-{s}"),
                    option: Some((*s).into()),
                    price: price.into(),
                    stock,
                })
                .collect(),
            details: details(title),
        };
    vec![
        sized("Trail Runner", "TR", &["8", "9", "10"], "89.00", 40),
        single("Merino Socks", "MS-1", "12.50", 200),
        sized("Rain Jacket", "RJ", &["S", "M", "L", "XL"], "129.00", 25),
        single("Water Bottle", "WB-1", "19.99", 150),
        single("Headlamp", "HL-1", "34.00", 60),
    ]
}

/// Plausible details for a catalogue product, derived from its title so they are stable.
fn details(title: &str) -> ProductDetails {
    let slug: String = title
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let (grams, dims, hs) = match title {
        "Trail Runner" => (780, ["32", "21", "12"], "6404.11"),
        "Merino Socks" => (90, ["20", "10", "3"], "6115.94"),
        "Rain Jacket" => (420, ["35", "28", "6"], "6201.40"),
        "Water Bottle" => (250, ["25", "8", "8"], "7323.93"),
        _ => (120, ["12", "8", "6"], "8513.10"),
    };
    ProductDetails {
        image_url: Some(format!(
            "https://images.sandbox.invalid/products/{slug}.jpg"
        )),
        weight_grams: Some(grams),
        dimensions_cm: Some(dims.map(str::to_owned)),
        hs_code: Some(hs.into()),
        country_of_origin: Some("PT".into()),
    }
}

/// Deterministic hex from a name, so demo credentials are stable across runs (they are not secrets).
pub(crate) fn hex_of(seed: &str, len: usize) -> String {
    use sha2::{Digest, Sha256};
    let mut out = String::new();
    let mut counter = 0u32;
    while out.len() < len {
        let digest = Sha256::digest(format!("{seed}#{counter}").as_bytes());
        for byte in digest {
            out.push_str(&format!("{byte:02x}"));
        }
        counter += 1;
    }
    out.truncate(len);
    out
}
