//! Accounting connections: a store's organisation on an accounting platform, reached with an
//! OAuth 2.0 grant. What a connection is, the state of its grant, and the tokens it holds.
//!
//! The grant's life: a connection is created `awaiting_authorization`; the merchant's browser is
//! sent to the platform, which sends it back with a code that switchyard exchanges for tokens
//! (`connected`). The access token lives minutes; switchyard refreshes it ahead of expiry with the
//! refresh token, which the platforms rotate (each refresh token works once). A refresh the
//! platform refuses as `invalid_grant` means the grant is gone: the connection is
//! `needs_reauth`, with the reason, until the merchant authorizes again.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{FieldError, Secret};

/// The accounting platforms switchyard posts invoices to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountingKind {
    /// Xero Accounting API.
    Xero,
    /// Sage Business Cloud Accounting, API v3.1.
    Sage,
}

impl AccountingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountingKind::Xero => "xero",
            AccountingKind::Sage => "sage",
        }
    }

    /// The platform's name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            AccountingKind::Xero => "Xero",
            AccountingKind::Sage => "Sage",
        }
    }
}

/// Where a connection's grant stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    /// Created; the merchant has not completed the platform's authorization yet.
    AwaitingAuthorization,
    /// Holding a working grant.
    Connected,
    /// The platform refused the grant (revoked, expired or spent): authorize again.
    NeedsReauth,
}

/// What switchyard does with a connection's invoices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AccountingSettings {
    /// The status invoices are created with on the platform.
    pub invoice_status: InvoiceStatus,
    /// The sales (revenue) account code or ledger account the lines are posted to.
    pub sales_account_code: String,
    /// The platform's tax type or tax rate id for taxed lines; null uses the platform's default
    /// for the account.
    pub tax_type: Option<String>,
    /// Create an item on the platform for a SKU it does not know, instead of posting the line
    /// without an item code.
    pub create_missing_products: bool,
    /// Invoice the store's orders without being asked: when they are imported, or when they
    /// ship. Once per order, whichever way it was asked for.
    pub auto_invoice: AutoInvoice,
}

/// When a connection invoices an order by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AutoInvoice {
    /// Only when asked (`POST /v1/invoices`).
    #[default]
    Off,
    /// When an order is first imported.
    Imported,
    /// When an order reaches `shipped`.
    Shipped,
}

impl Default for AccountingSettings {
    fn default() -> AccountingSettings {
        AccountingSettings {
            invoice_status: InvoiceStatus::Draft,
            sales_account_code: "200".to_owned(),
            tax_type: None,
            create_missing_products: false,
            auto_invoice: AutoInvoice::Off,
        }
    }
}

impl AccountingSettings {
    pub fn validate(&self) -> Result<(), FieldError> {
        let code = &self.sales_account_code;
        if code.is_empty() || code.len() > 64 || code.trim() != code {
            return Err(FieldError::new(
                "settings.sales_account_code",
                "must be 1 to 64 characters without spaces at either end",
            ));
        }
        if let Some(t) = &self.tax_type {
            if t.is_empty() || t.len() > 64 || t.trim() != t {
                return Err(FieldError::new(
                    "settings.tax_type",
                    "must be 1 to 64 characters without spaces at either end, or null",
                ));
            }
        }
        Ok(())
    }
}

/// The status an invoice is created with on the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = PlatformInvoiceStatus)]
pub enum InvoiceStatus {
    /// A draft the bookkeeper approves on the platform.
    Draft,
    /// Approved at once.
    Authorised,
}

/// Why a refresh of the access token failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshFailure {
    /// The platform refused the grant (`invalid_grant`: revoked, expired or already spent):
    /// only the merchant authorizing again helps.
    Refused(String),
    /// The platform could not be asked now: no answer, a timeout, a 5xx or a 429.
    Unavailable(String),
}

/// The OAuth app a connection authorizes: its client id and secret, as registered with the
/// platform. Sealed before it is stored, never answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"client_id": "8F2D1C0B9A8E4F7D", "client_secret": "zq3LwY8mN2pR5tV7xA9cE1gH4jK6"}))]
pub struct ClientCredentials {
    #[schema(value_type = String, write_only, min_length = 1, max_length = 1024)]
    pub client_id: Secret,
    #[schema(value_type = String, write_only, min_length = 1, max_length = 1024)]
    pub client_secret: Secret,
}

impl ClientCredentials {
    pub fn validate(&self) -> Result<(), FieldError> {
        for (field, value) in [
            ("client.client_id", &self.client_id),
            ("client.client_secret", &self.client_secret),
        ] {
            let v = value.expose();
            if v.is_empty() || v.len() > 1024 || v.trim() != v || v.chars().any(char::is_control) {
                return Err(FieldError::new(
                    field,
                    "must be 1 to 1024 characters, without spaces at either end or control characters",
                ));
            }
        }
        Ok(())
    }
}

/// The grant's tokens as the platform last issued them. Sealed before they are stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    pub access_token: Secret,
    pub refresh_token: Secret,
    pub access_expires_at: DateTime<Utc>,
}

/// How long before its expiry an access token is refreshed: a call that starts with a token
/// must not see it expire mid-flight.
pub const REFRESH_AHEAD: Duration = Duration::seconds(120);

impl Tokens {
    /// Whether the access token is good for a call that starts at `now`.
    pub fn fresh_at(&self, now: DateTime<Utc>) -> bool {
        now + REFRESH_AHEAD < self.access_expires_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(expires_in: i64) -> (Tokens, DateTime<Utc>) {
        let now = Utc::now();
        (
            Tokens {
                access_token: Secret::from("a"),
                refresh_token: Secret::from("r"),
                access_expires_at: now + Duration::seconds(expires_in),
            },
            now,
        )
    }

    #[test]
    fn a_token_is_refreshed_ahead_of_its_expiry() {
        let (t, now) = tokens(1800);
        assert!(t.fresh_at(now));
        let (t, now) = tokens(60);
        assert!(!t.fresh_at(now), "a minute left is within the margin");
        let (t, now) = tokens(-5);
        assert!(!t.fresh_at(now));
    }

    #[test]
    fn client_credentials_are_checked_like_channel_credentials() {
        let ok = ClientCredentials {
            client_id: Secret::from("id"),
            client_secret: Secret::from("secret"),
        };
        assert!(ok.validate().is_ok());
        let spaced = ClientCredentials {
            client_secret: Secret::from(" secret"),
            ..ok.clone()
        };
        assert_eq!(spaced.validate().unwrap_err().field, "client.client_secret");
        let empty = ClientCredentials {
            client_id: Secret::from(""),
            ..ok
        };
        assert_eq!(empty.validate().unwrap_err().field, "client.client_id");
    }
}
