//! The shop's bookkeeping for the authorization code grant: codes (single use, short-lived, each
//! carrying the scopes the merchant approved) and the offline access tokens they were exchanged
//! for. Offline tokens do not expire (Shopify's non-expiring offline tokens) and a later install
//! does not revoke an earlier token, so every token issued stays valid beside the configured one.
//! Time is passed in, so the rules are tested without waiting.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::http_util::{constant_time_eq, random_hex};

/// Shopify does not publish how long a code lives; ten minutes is RFC 6749's recommended maximum,
/// long enough for a slow test and short enough that a code kept around fails as it would live.
const CODE_LIFETIME: Duration = Duration::from_secs(600);

/// An access token the code exchange issued, with the scopes it was granted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IssuedToken {
    pub access_token: String,
    /// Comma-separated, as the token endpoint answers it (`read_orders,write_fulfillments`).
    pub scope: String,
}

#[derive(Debug)]
struct Code {
    scope: String,
    issued: Instant,
    used: bool,
}

/// Codes and tokens of one shop's app.
#[derive(Debug, Default)]
pub struct Grants {
    codes: HashMap<String, Code>,
    tokens: Vec<IssuedToken>,
}

impl Grants {
    /// A code for a consent just given to `scope`.
    pub fn issue_code(&mut self, scope: &str, now: Instant) -> String {
        self.codes
            .retain(|_, c| now.duration_since(c.issued) < CODE_LIFETIME);
        let code = random_hex(16);
        self.codes.insert(
            code.clone(),
            Code {
                scope: scope.to_owned(),
                issued: now,
                used: false,
            },
        );
        code
    }

    /// Exchanges a code, once and while it is fresh, for a new offline access token.
    pub fn redeem(&mut self, code: &str, now: Instant) -> Option<IssuedToken> {
        let entry = self.codes.get_mut(code)?;
        if entry.used || now.duration_since(entry.issued) >= CODE_LIFETIME {
            return None;
        }
        entry.used = true;
        let token = IssuedToken {
            access_token: format!("shpat_{}", random_hex(16)),
            scope: entry.scope.clone(),
        };
        self.tokens.push(token.clone());
        Some(token)
    }

    /// True if `token` is one this shop issued.
    pub fn token_valid(&self, token: &str) -> bool {
        self.tokens
            .iter()
            .any(|t| constant_time_eq(t.access_token.as_bytes(), token.as_bytes()))
    }

    /// Tokens issued so far, oldest first.
    pub fn tokens(&self) -> &[IssuedToken] {
        &self.tokens
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_exchanged_once_for_a_token_that_then_authenticates() {
        let mut grants = Grants::default();
        let now = Instant::now();
        let code = grants.issue_code("read_orders,write_fulfillments", now);
        let token = grants.redeem(&code, now);
        let Some(token) = token else {
            panic!("a fresh code is redeemed");
        };
        assert!(token.access_token.starts_with("shpat_"));
        assert_eq!(token.access_token.len(), 6 + 32);
        assert_eq!(token.scope, "read_orders,write_fulfillments");
        assert!(grants.token_valid(&token.access_token));
        assert!(!grants.token_valid("shpat_0000"));
        assert_eq!(grants.redeem(&code, now), None, "a code is single use");
        assert_eq!(grants.redeem("unknown", now), None);
        assert_eq!(grants.tokens(), [token]);
    }

    #[test]
    fn a_code_expires() {
        let mut grants = Grants::default();
        let now = Instant::now();
        let code = grants.issue_code("read_orders", now);
        assert_eq!(grants.redeem(&code, now + CODE_LIFETIME), None);
        let fresh = grants.issue_code("read_orders", now);
        assert!(grants
            .redeem(&fresh, now + CODE_LIFETIME - Duration::from_secs(1))
            .is_some());
    }
}
