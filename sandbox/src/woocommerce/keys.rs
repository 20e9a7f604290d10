//! REST API keys beside the configured pair: the ones a merchant grants an app through
//! `/wc-auth/v1/authorize`, each with its permissions, checked per request method as
//! `WC_REST_Authentication::check_permissions` does.

use serde::Serialize;

use crate::http_util::{constant_time_eq, random_hex};

/// What a key may do: WooCommerce's `read`, `write` and `read_write`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Permissions {
    Read,
    Write,
    ReadWrite,
}

impl Permissions {
    /// The `scope` of an authorization request, or `None` for anything else.
    pub fn parse(scope: &str) -> Option<Permissions> {
        match scope {
            "read" => Some(Permissions::Read),
            "write" => Some(Permissions::Write),
            "read_write" => Some(Permissions::ReadWrite),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Permissions::Read => "read",
            Permissions::Write => "write",
            Permissions::ReadWrite => "read_write",
        }
    }

    /// `Err(message)` when the key may not make a request with `method`: reads need `read`, every
    /// other method needs `write`.
    pub fn allow(self, method: &str) -> Result<(), &'static str> {
        let reading = matches!(method, "GET" | "HEAD");
        match (self, reading) {
            (Permissions::Write, true) => {
                Err("The API key provided does not have read permissions.")
            }
            (Permissions::Read, false) => {
                Err("The API key provided does not have write permissions.")
            }
            _ => Ok(()),
        }
    }
}

/// A key pair the store issued to an app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IssuedKey {
    pub key_id: u64,
    pub app_name: String,
    /// The app's own id for the merchant, as the authorization request gave it.
    pub user_id: String,
    /// `ck_` and 40 hex digits.
    pub consumer_key: String,
    /// `cs_` and 40 hex digits.
    pub consumer_secret: String,
    pub permissions: Permissions,
}

/// The keys issued so far.
#[derive(Debug, Default)]
pub struct ApiKeys {
    issued: Vec<IssuedKey>,
    last_id: u64,
}

impl ApiKeys {
    /// A new pair, as WooCommerce's `create_keys` makes one (`ck_`/`cs_` and 40 hex digits).
    pub fn issue(&mut self, app_name: &str, user_id: &str, permissions: Permissions) -> IssuedKey {
        self.last_id += 1;
        let key = IssuedKey {
            key_id: self.last_id,
            app_name: app_name.to_owned(),
            user_id: user_id.to_owned(),
            consumer_key: format!("ck_{}", random_hex(20)),
            consumer_secret: format!("cs_{}", random_hex(20)),
            permissions,
        };
        self.issued.push(key.clone());
        key
    }

    /// Deletes a key, as WooCommerce does when the app's callback could not be told about it.
    pub fn revoke(&mut self, key_id: u64) {
        self.issued.retain(|k| k.key_id != key_id);
    }

    pub fn find(&self, consumer_key: &str) -> Option<&IssuedKey> {
        self.issued
            .iter()
            .find(|k| constant_time_eq(k.consumer_key.as_bytes(), consumer_key.as_bytes()))
    }

    /// Oldest first.
    pub fn issued(&self) -> &[IssuedKey] {
        &self.issued
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_keys_are_shaped_like_woocommerces_and_can_be_revoked() {
        let mut keys = ApiKeys::default();
        let a = keys.issue("switchyard", "merchant-7", Permissions::ReadWrite);
        let b = keys.issue("switchyard", "merchant-8", Permissions::Read);
        assert_eq!((a.key_id, b.key_id), (1, 2));
        for text in [&a.consumer_key, &a.consumer_secret] {
            assert_eq!(text.len(), 43, "{text}");
            assert!(text[3..].bytes().all(|c| c.is_ascii_hexdigit()));
        }
        assert!(a.consumer_key.starts_with("ck_") && a.consumer_secret.starts_with("cs_"));
        assert_eq!(keys.find(&b.consumer_key).map(|k| k.key_id), Some(b.key_id));
        keys.revoke(a.key_id);
        assert!(keys.find(&a.consumer_key).is_none());
        assert_eq!(keys.issued().len(), 1);
    }

    #[test]
    fn permissions_follow_the_request_method() {
        assert_eq!(
            Permissions::parse("read_write"),
            Some(Permissions::ReadWrite)
        );
        assert_eq!(Permissions::parse("admin"), None);
        assert!(Permissions::Read.allow("GET").is_ok());
        assert!(Permissions::Read.allow("PUT").is_err());
        assert!(Permissions::Write.allow("POST").is_ok());
        assert!(Permissions::Write.allow("HEAD").is_err());
        assert!(Permissions::ReadWrite.allow("DELETE").is_ok());
    }
}
