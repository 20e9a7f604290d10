//! Local simulators of the platforms switchyard speaks to: the Shopify Admin API (REST and
//! GraphQL, over one state) with the authorization code grant that installs an app on a shop, the
//! WooCommerce REST v3 API (with the Shipment Tracking extension) with the flow that grants an app
//! REST API keys, the Sage Business Cloud Accounting API v3.1, and Xero's Accounting API with its
//! OAuth 2.0 identity server, and an Amazon seller account through the Selling Partner API (Orders v0,
//! Listings Items 2021-08-01) with Login with Amazon, served over real HTTP.
//!
//! They are faithful on the wire (paths, parameters, headers, paging, auth, rate limits and error
//! bodies) so a connector tested here behaves the same against the real platforms, and they add what
//! the real ones cannot give a test: seeded order generators, fault knobs (429 bursts, 5xx, latency,
//! hangs, truncated bodies) and a control API under `/_sandbox` to read and steer each store.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use switchyard_sandbox::{Sandbox, SandboxConfig, SimStore};
//! let sandbox = Sandbox::start(SandboxConfig::demo()).await?;
//! let shop = sandbox.shopify("demo-shop").expect("configured");
//! shop.create_orders(100);
//! println!("orders at {}/admin/api/2024-07/orders.json", shop.base_url());
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```

#![recursion_limit = "256"]
// Request helpers return a finished error `Response` for the handler to send at once (axum's usual
// early-return shape); boxing it to please this lint would only add noise on a cold path.
#![allow(clippy::result_large_err)]

pub mod amazon;
pub mod config;
pub mod control;
pub mod ebay;
pub mod faults;
pub mod fulfilment_centre;
pub mod generator;
mod http_util;
pub mod money;
pub mod orderbook;
pub mod query;
pub mod sage;
mod server;
pub mod shopify;
pub mod standard_webhooks;
pub mod store;
pub mod timefmt;
pub mod traffic;
pub mod webhook_receiver;
pub mod webhook_sender;
pub mod woocommerce;
pub mod xero;

pub use amazon::{AmazonSeller, AmazonSellerConfig};
pub use config::{
    default_catalog, GraphqlPlan, ProductConfig, SageBusinessConfig, SageRateLimit, SandboxConfig,
    ShopifyStoreConfig, VariantConfig, WooStoreConfig,
};
pub use ebay::{EbaySellerConfig, EbayStore};
pub use faults::FaultKnobs;
pub use generator::GeneratorConfig;
pub use sage::SageBusiness;
pub use server::{Credentials, Sandbox, SandboxHandle, StoreInfo};
pub use shopify::ShopifyStore;
pub use store::{FulfilledLine, FulfilmentView, Platform, SimStore};
pub use traffic::TrafficStats;
pub use webhook_sender::{hmac_sha256_base64, Delivery};
pub use woocommerce::WooStore;
pub use xero::{XeroLimits, XeroOrg, XeroOrgConfig};
