//! Configuration of a sandbox: which simulated stores exist, their credentials, catalogues, order
//! generators and initial fault knobs. Defaults give a ready demo so `Sandbox::start(SandboxConfig::demo())`
//! is all a test or `switchyard demo` needs.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::faults::FaultKnobs;
use crate::generator::GeneratorConfig;
use crate::xero::XeroOrgConfig;

/// The whole sandbox: one HTTP listener serving every store under its own path prefix.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SandboxConfig {
    /// Where to listen; port 0 picks a free one.
    pub bind: SocketAddr,
    pub shopify: Vec<ShopifyStoreConfig>,
    pub woocommerce: Vec<WooStoreConfig>,
    /// Xero organisations, served at `/xero/{name}`.
    #[serde(default)]
    pub xero: Vec<XeroOrgConfig>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            shopify: Vec::new(),
            woocommerce: Vec::new(),
            xero: Vec::new(),
        }
    }
}

impl SandboxConfig {
    /// One Shopify shop (`demo-shop`), one WooCommerce store (`demo-woo`), generators off, and
    /// one Xero organisation (`demo-xero`).
    pub fn demo() -> SandboxConfig {
        SandboxConfig {
            shopify: vec![ShopifyStoreConfig::new("demo-shop")],
            woocommerce: vec![WooStoreConfig::new("demo-woo")],
            xero: vec![XeroOrgConfig::new("demo-xero")],
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
    /// The app's client secret, which signs outbound webhooks.
    pub app_secret: String,
    pub currency: String,
    /// The shop's UTC offset in minutes; timestamps are rendered in it, as Shopify does.
    pub utc_offset_minutes: i32,
    /// Leaky bucket size (Shopify's standard plan: 40).
    pub bucket_capacity: u32,
    /// Leak rate in requests per second (Shopify's standard plan: 2).
    pub leak_per_second: f64,
    pub locations: Vec<String>,
    pub catalog: Vec<ProductConfig>,
    pub generator: GeneratorConfig,
    pub faults: FaultKnobs,
}

impl ShopifyStoreConfig {
    /// A shop with derived credentials and the default catalogue.
    pub fn new(name: &str) -> ShopifyStoreConfig {
        ShopifyStoreConfig {
            name: name.to_string(),
            access_token: format!("shpat_{}", hex_of(name, 32)),
            app_secret: format!("shpss_{}", hex_of(&format!("{name}/secret"), 32)),
            currency: "USD".into(),
            utc_offset_minutes: -4 * 60,
            bucket_capacity: 40,
            leak_per_second: 2.0,
            locations: vec!["Main warehouse".into()],
            catalog: default_catalog(),
            generator: GeneratorConfig::default(),
            faults: FaultKnobs::default(),
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
