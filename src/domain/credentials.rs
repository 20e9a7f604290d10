//! What a channel needs to call its platform, per kind. These are sealed before they are stored
//! (`crate::crypto`) and never shown in an API response; `Secret` keeps them out of logs too.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::FieldError;
use crate::domain::{ChannelKind, Secret};

/// A Shopify custom app's Admin API access token and its client secret (which signs webhooks).
/// Each is 1 to 1024 characters, without spaces at either end or control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"access_token": "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", "app_secret": "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"}))]
pub struct ShopifyCredentials {
    /// The custom app's Admin API access token (`shpat_...`).
    #[schema(value_type = String, write_only, min_length = 1, max_length = 1024)]
    pub access_token: Secret,
    /// The app's client secret, which signs the shop's webhooks (`X-Shopify-Hmac-Sha256`).
    #[schema(value_type = String, write_only, min_length = 1, max_length = 1024)]
    pub app_secret: Secret,
}

/// A WooCommerce REST key pair, and the secret its webhooks are signed with. Each is 1 to 1024
/// characters, without spaces at either end or control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(
    as = WooCommerceCredentials,
    example = json!({"consumer_key": "ck_2b1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f", "consumer_secret": "cs_7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d", "webhook_secret": "9f1c4e7a2b5d8e0f3a6c9b2e5d8f1a4c"})
)]
pub struct WooCredentials {
    /// The REST API key's consumer key (`ck_...`).
    #[schema(value_type = String, write_only, min_length = 1, max_length = 1024)]
    pub consumer_key: Secret,
    /// The REST API key's consumer secret (`cs_...`).
    #[schema(value_type = String, write_only, min_length = 1, max_length = 1024)]
    pub consumer_secret: Secret,
    /// The secret set on the store's webhooks, which signs them (`X-WC-Webhook-Signature`).
    #[schema(value_type = String, write_only, min_length = 1, max_length = 1024)]
    pub webhook_secret: Secret,
}

/// An eBay app's keyset (App ID and Cert ID) and the refresh token the seller granted it, which
/// buys the two-hour user access tokens the Sell APIs take. Each is 1 to 1024 characters, without
/// spaces at either end or control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"client_id": "SwitchYa-hub-PRD-5f2e8c1a9-3b7d4e6f", "client_secret": "PRD-5f2e8c1a93b7-d4e6-4f1a-8c2b-9e7d", "refresh_token": "v^1.1#i^1#r^1#f^0#p^3#I^3#t^Ul4xMF8xOjRBQjc5"}))]
pub struct EbayCredentials {
    /// The app's App ID (OAuth client id).
    #[schema(value_type = String, write_only, min_length = 1, max_length = 1024)]
    pub client_id: Secret,
    /// The app's Cert ID (OAuth client secret).
    #[schema(value_type = String, write_only, min_length = 1, max_length = 1024)]
    pub client_secret: Secret,
    /// The seller's refresh token from the app's consent flow, with the `sell.fulfillment` and
    /// `sell.inventory` scopes (eBay's last 18 months).
    #[schema(value_type = String, write_only, min_length = 1, max_length = 1024)]
    pub refresh_token: Secret,
}

/// A Selling Partner API app's Login with Amazon client and the refresh token the seller's
/// authorization of it gave, with the seller and the marketplace the channel sells as and in.
///
/// The seller and marketplace ids are kept here rather than among the channel's settings because
/// they belong to the authorization: a refresh token reaches one seller (Amazon hands its
/// `selling_partner_id` over with it), and the marketplaces that seller may sell in are checked
/// with the same call that checks the token. Neither is secret; both are stored and hidden with
/// the rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "client_id": "amzn1.application-oa2-client.5f1e0c3d9b7a4e2f8c6d0b1a3e5f7c9d",
    "client_secret": "amzn1.oa2-cs.v1.3c9e1f7a5b2d8e4f0a6c2e8b4d0f6a2c8e4b0d6f2a8c4e0b6d2f8a4c0e6b2d8f4a",
    "refresh_token": "Atzr|IwEBIG3kZ1mQ8rN2vT5xW9yB4cF7hJ0kL3nP6sU9vY2zA5dG8jM1oR4tX7wE0",
    "seller_id": "A2C4E6G8I0K1M3",
    "marketplace_id": "A1F83G8C2ARO7P"
}))]
pub struct AmazonCredentials {
    /// The app's Login with Amazon client identifier (`amzn1.application-oa2-client....`).
    #[schema(value_type = String, write_only, min_length = 1, max_length = 1024)]
    pub client_id: Secret,
    /// The app's Login with Amazon client secret.
    #[schema(value_type = String, write_only, min_length = 1, max_length = 1024)]
    pub client_secret: Secret,
    /// The refresh token the seller's authorization of the app gave (`Atzr|...`).
    #[schema(value_type = String, write_only, min_length = 1, max_length = 1024)]
    pub refresh_token: Secret,
    /// The seller's merchant token (Seller Central's "Merchant Token"), which the Listings Items
    /// API names in its paths.
    #[schema(write_only, min_length = 1, max_length = 32, pattern = "^[A-Z0-9]+$")]
    pub seller_id: String,
    /// The marketplace the channel sells in (`A1F83G8C2ARO7P` is amazon.co.uk).
    #[schema(write_only, min_length = 1, max_length = 32, pattern = "^[A-Z0-9]+$")]
    pub marketplace_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelCredentials {
    Shopify(ShopifyCredentials),
    WooCommerce(WooCredentials),
    Ebay(EbayCredentials),
    Amazon(AmazonCredentials),
}

/// In a request, the credentials are a bare object of the channel kind's fields: which kind is
/// told by the channel's `kind`, not by a tag, so the schema is either shape.
impl utoipa::PartialSchema for ChannelCredentials {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{OneOfBuilder, Ref};
        OneOfBuilder::new()
            .item(Ref::from_schema_name(ShopifyCredentials::name()))
            .item(Ref::from_schema_name(WooCredentials::name()))
            .item(Ref::from_schema_name(EbayCredentials::name()))
            .item(Ref::from_schema_name(AmazonCredentials::name()))
            .description(Some(
                "What the channel calls its platform with, of the shape of its `kind`: checked \
                 with the platform, stored encrypted, and never answered.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for ChannelCredentials {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        use utoipa::PartialSchema;
        schemas.push((
            ShopifyCredentials::name().into(),
            ShopifyCredentials::schema(),
        ));
        schemas.push((WooCredentials::name().into(), WooCredentials::schema()));
        schemas.push((EbayCredentials::name().into(), EbayCredentials::schema()));
        schemas.push((
            AmazonCredentials::name().into(),
            AmazonCredentials::schema(),
        ));
    }
}

/// Longest credential accepted: real tokens are well under 200 characters; this bounds what a
/// caller can make us encrypt and send.
const MAX_SECRET_LEN: usize = 1024;

fn check(field: &str, secret: &Secret) -> Result<(), FieldError> {
    let text = secret.expose();
    if text.trim().is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if text.len() > MAX_SECRET_LEN {
        return Err(FieldError::new(
            field,
            format!("longer than {MAX_SECRET_LEN} characters"),
        ));
    }
    if text.trim() != text || text.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must not contain spaces at either end or control characters",
        ));
    }
    Ok(())
}

/// Amazon's ids (a merchant token, a marketplace id) are short runs of upper-case letters and
/// digits.
fn check_amazon_id(field: &str, id: &str) -> Result<(), FieldError> {
    if id.is_empty() || id.len() > 32 {
        return Err(FieldError::new(field, "must be 1 to 32 characters"));
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return Err(FieldError::new(
            field,
            "must be upper-case letters and digits, as Seller Central shows it",
        ));
    }
    Ok(())
}

impl ChannelCredentials {
    /// Reads the credentials of a `kind` channel from JSON; errors name the field
    /// (`consumer_secret`).
    pub fn from_json(kind: ChannelKind, value: &Value) -> Result<ChannelCredentials, FieldError> {
        if !value.is_object() {
            return Err(FieldError::new(".", "credentials must be a JSON object"));
        }
        let credentials = match kind {
            ChannelKind::Shopify => ChannelCredentials::Shopify(
                serde_path_to_error::deserialize(value).map_err(FieldError::from_serde)?,
            ),
            ChannelKind::WooCommerce => ChannelCredentials::WooCommerce(
                serde_path_to_error::deserialize(value).map_err(FieldError::from_serde)?,
            ),
            ChannelKind::Ebay => ChannelCredentials::Ebay(
                serde_path_to_error::deserialize(value).map_err(FieldError::from_serde)?,
            ),
            ChannelKind::Amazon => ChannelCredentials::Amazon(
                serde_path_to_error::deserialize(value).map_err(FieldError::from_serde)?,
            ),
        };
        credentials.validate()?;
        Ok(credentials)
    }

    pub fn validate(&self) -> Result<(), FieldError> {
        match self {
            ChannelCredentials::Shopify(c) => {
                check("access_token", &c.access_token)?;
                check("app_secret", &c.app_secret)
            }
            ChannelCredentials::WooCommerce(c) => {
                check("consumer_key", &c.consumer_key)?;
                check("consumer_secret", &c.consumer_secret)?;
                check("webhook_secret", &c.webhook_secret)
            }
            ChannelCredentials::Ebay(c) => {
                check("client_id", &c.client_id)?;
                check("client_secret", &c.client_secret)?;
                check("refresh_token", &c.refresh_token)
            }
            ChannelCredentials::Amazon(c) => {
                check("client_id", &c.client_id)?;
                check("client_secret", &c.client_secret)?;
                check("refresh_token", &c.refresh_token)?;
                check_amazon_id("seller_id", &c.seller_id)?;
                check_amazon_id("marketplace_id", &c.marketplace_id)
            }
        }
    }

    pub fn kind(&self) -> ChannelKind {
        match self {
            ChannelCredentials::Shopify(_) => ChannelKind::Shopify,
            ChannelCredentials::WooCommerce(_) => ChannelKind::WooCommerce,
            ChannelCredentials::Ebay(_) => ChannelKind::Ebay,
            ChannelCredentials::Amazon(_) => ChannelKind::Amazon,
        }
    }

    /// The JSON that gets sealed. Only `crate::store::channels` calls this, right before sealing.
    pub fn to_json_bytes(&self) -> Result<Vec<u8>, serde_json::Error> {
        match self {
            ChannelCredentials::Shopify(c) => serde_json::to_vec(c),
            ChannelCredentials::WooCommerce(c) => serde_json::to_vec(c),
            ChannelCredentials::Ebay(c) => serde_json::to_vec(c),
            ChannelCredentials::Amazon(c) => serde_json::to_vec(c),
        }
    }

    /// Reads back what [`ChannelCredentials::to_json_bytes`] wrote for a `kind` channel.
    pub fn from_json_bytes(
        kind: ChannelKind,
        bytes: &[u8],
    ) -> Result<ChannelCredentials, serde_json::Error> {
        Ok(match kind {
            ChannelKind::Shopify => ChannelCredentials::Shopify(serde_json::from_slice(bytes)?),
            ChannelKind::WooCommerce => {
                ChannelCredentials::WooCommerce(serde_json::from_slice(bytes)?)
            }
            ChannelKind::Ebay => ChannelCredentials::Ebay(serde_json::from_slice(bytes)?),
            ChannelKind::Amazon => ChannelCredentials::Amazon(serde_json::from_slice(bytes)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field_of(kind: ChannelKind, value: Value) -> Option<String> {
        ChannelCredentials::from_json(kind, &value)
            .err()
            .map(|e| e.field)
    }

    #[test]
    fn each_kind_reads_its_own_fields() {
        let shopify = json!({"access_token": "shpat_1", "app_secret": "shpss_1"});
        let woo = json!({"consumer_key": "ck_1", "consumer_secret": "cs_1", "webhook_secret": "w"});
        let ebay =
            json!({"client_id": "app-PRD-1", "client_secret": "PRD-1", "refresh_token": "v^1.1#r"});
        assert_eq!(field_of(ChannelKind::Shopify, shopify.clone()), None);
        assert_eq!(field_of(ChannelKind::WooCommerce, woo.clone()), None);
        assert_eq!(field_of(ChannelKind::Ebay, ebay.clone()), None);
        assert_eq!(
            field_of(
                ChannelKind::Ebay,
                json!({"client_id": "app-PRD-1", "client_secret": "PRD-1"})
            )
            .as_deref(),
            Some("refresh_token")
        );
        assert_eq!(
            field_of(
                ChannelKind::Ebay,
                json!({"client_id": "a", "client_secret": "s", "refresh_token": " r"})
            )
            .as_deref(),
            Some("refresh_token")
        );
        assert_eq!(
            field_of(ChannelKind::WooCommerce, shopify).as_deref(),
            Some("access_token"),
            "a Shopify token is an unknown field of a WooCommerce channel"
        );
        assert_eq!(
            field_of(ChannelKind::Shopify, json!({"access_token": "shpat_1"})).as_deref(),
            Some("app_secret")
        );
        let c = ChannelCredentials::from_json(ChannelKind::WooCommerce, &woo);
        assert_eq!(c.map(|c| c.kind()).ok(), Some(ChannelKind::WooCommerce));
    }

    #[test]
    fn blank_or_padded_secrets_are_refused() {
        let with = |token: &str| {
            field_of(
                ChannelKind::Shopify,
                json!({"access_token": token, "app_secret": "s"}),
            )
        };
        assert_eq!(with("  ").as_deref(), Some("access_token"));
        assert_eq!(with(" shpat_1").as_deref(), Some("access_token"));
        assert_eq!(with("shpat\n1").as_deref(), Some("access_token"));
        assert_eq!(with(&"x".repeat(2000)).as_deref(), Some("access_token"));
        assert_eq!(
            field_of(ChannelKind::Shopify, json!("shpat_1")).as_deref(),
            Some(".")
        );
    }

    #[test]
    fn amazon_credentials_name_the_seller_and_marketplace() {
        let amazon = || {
            json!({
                "client_id": "amzn1.application-oa2-client.1",
                "client_secret": "amzn1.oa2-cs.v1.hidden",
                "refresh_token": "Atzr|1",
                "seller_id": "A2C4E6G8I0K1M3",
                "marketplace_id": "A1F83G8C2ARO7P",
            })
        };
        assert_eq!(field_of(ChannelKind::Amazon, amazon()), None);
        let mut lower = amazon();
        lower["marketplace_id"] = json!("a1f83g8c2aro7p");
        assert_eq!(
            field_of(ChannelKind::Amazon, lower).as_deref(),
            Some("marketplace_id")
        );
        let mut blank = amazon();
        blank["seller_id"] = json!("");
        assert_eq!(
            field_of(ChannelKind::Amazon, blank).as_deref(),
            Some("seller_id")
        );
        let mut missing = amazon();
        missing.as_object_mut().map(|o| o.remove("refresh_token"));
        assert_eq!(
            field_of(ChannelKind::Amazon, missing).as_deref(),
            Some("refresh_token")
        );
        let c = ChannelCredentials::from_json(ChannelKind::Amazon, &amazon())
            .unwrap_or_else(|e| panic!("{e}"));
        let bytes = c.to_json_bytes().unwrap_or_default();
        let back = ChannelCredentials::from_json_bytes(ChannelKind::Amazon, &bytes).ok();
        assert_eq!(back, Some(c.clone()));
        assert!(!format!("{c:?}").contains("hidden"));
    }

    #[test]
    fn sealed_form_round_trips_and_debug_hides_secrets() {
        let value =
            json!({"consumer_key": "ck_1", "consumer_secret": "cs_hidden", "webhook_secret": "w"});
        let c = ChannelCredentials::from_json(ChannelKind::WooCommerce, &value)
            .unwrap_or_else(|e| panic!("{e}"));
        let bytes = c.to_json_bytes().unwrap_or_default();
        let back = ChannelCredentials::from_json_bytes(ChannelKind::WooCommerce, &bytes).ok();
        assert_eq!(back, Some(c.clone()));
        assert!(!format!("{c:?}").contains("cs_hidden"));
    }
}
