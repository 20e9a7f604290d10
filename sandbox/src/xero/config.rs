//! Configuration of one simulated Xero organisation: the app's credentials, the tenant, token
//! lifetimes and the API limits, with Xero's published values as defaults.

use serde::{Deserialize, Serialize};

use crate::config::hex_of;
use crate::faults::FaultKnobs;

/// One simulated Xero organisation (tenant) and the app connected to it, served at `/xero/{name}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct XeroOrgConfig {
    /// Unique in the sandbox.
    pub name: String,
    /// The app's client id: 32 upper-case hex characters, as Xero issues them.
    pub client_id: String,
    /// The app's client secret (48 characters).
    pub client_secret: String,
    /// The organisation's tenant id (a GUID), sent back in `xero-tenant-id`.
    pub tenant_id: String,
    pub tenant_name: String,
    /// Redirect URIs registered for the app; empty accepts any absolute http(s) URI (a sandbox
    /// convenience for callbacks on ports chosen at run time).
    pub redirect_uris: Vec<String>,
    /// Access token lifetime (Xero: 30 minutes).
    pub access_token_secs: u64,
    /// How long a spent refresh token may be used again, for a client that lost the answer to its
    /// refresh (Xero documents 30 minutes).
    pub refresh_grace_secs: u64,
    /// An unused refresh token expires after this long (Xero: 60 days).
    pub refresh_token_secs: u64,
    pub limits: XeroLimits,
    /// The organisation's base currency.
    pub currency: String,
    /// Currencies it is subscribed to besides the base (Xero's multi-currency): invoices in
    /// these are accepted too.
    pub currencies: Vec<String>,
    /// Sales tax rates the organisation added to a UK organisation's defaults, as a merchant
    /// selling abroad adds them; Xero names each added rate's `TaxType` `TAX001`, `TAX002`, ...
    pub tax_rates: Vec<XeroTaxRateConfig>,
    pub faults: FaultKnobs,
    /// Seeds the fault decisions, so a failing test replays the same faults.
    pub seed: u64,
}

/// A sales tax rate an organisation added.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct XeroTaxRateConfig {
    /// As Xero lists it: `19% (VAT on Income, DE)`.
    pub name: String,
    /// Whole percent.
    pub percent: u32,
}

/// Xero's per-tenant API limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct XeroLimits {
    /// Calls in progress at one time (Xero: 5).
    pub in_flight: u32,
    /// Calls per minute window (Xero: 60).
    pub per_minute: u32,
    /// Calls per day window (Xero: 5,000).
    pub per_day: u32,
    /// Calls per minute across all of the app's tenants (Xero: 10,000); each simulated
    /// organisation has its own app, so this is counted per organisation.
    pub app_per_minute: u32,
    /// Length of the minute windows (the tenant's and the app's), in milliseconds: 60,000 as on
    /// Xero; shorter only to run a client's limiter on a compressed clock in a test.
    pub minute_ms: u64,
}

impl Default for XeroLimits {
    fn default() -> Self {
        XeroLimits {
            in_flight: 5,
            per_minute: 60,
            per_day: 5000,
            app_per_minute: 10_000,
            minute_ms: 60_000,
        }
    }
}

impl Default for XeroOrgConfig {
    fn default() -> Self {
        XeroOrgConfig::new("demo-xero")
    }
}

impl XeroOrgConfig {
    /// An organisation with credentials and tenant id derived from its name (stable across runs).
    pub fn new(name: &str) -> XeroOrgConfig {
        let t = hex_of(&format!("{name}/tenant"), 32);
        XeroOrgConfig {
            name: name.to_string(),
            client_id: hex_of(&format!("{name}/client"), 32).to_uppercase(),
            client_secret: hex_of(&format!("{name}/secret"), 48),
            tenant_id: format!(
                "{}-{}-4{}-a{}-{}",
                &t[..8],
                &t[8..12],
                &t[13..16],
                &t[17..20],
                &t[20..32]
            ),
            tenant_name: format!("{name} (sandbox)"),
            redirect_uris: Vec::new(),
            access_token_secs: 1800,
            refresh_grace_secs: 1800,
            refresh_token_secs: 60 * 24 * 3600,
            limits: XeroLimits::default(),
            currency: "GBP".into(),
            currencies: Vec::new(),
            tax_rates: Vec::new(),
            faults: FaultKnobs::default(),
            seed: 17,
        }
    }
}
