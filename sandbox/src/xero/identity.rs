//! The identity server's bookkeeping: authorization codes (single use, five minutes), grants (one
//! per consent), access tokens (short-lived bearer JWTs) and refresh tokens (rotated on every
//! refresh). As Xero documents: a refresh answers a new refresh token and spends the old one, but a
//! client that lost that answer may use the spent token again for a grace period (30 minutes);
//! after it, or once the grant is revoked, the answer is `invalid_grant`. Unused refresh tokens
//! expire (60 days). Time is passed in, so the rules are tested without waiting.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::wire::guid;
use crate::http_util::random_hex;

/// Xero's authorization codes are good for five minutes.
const CODE_LIFETIME: Duration = Duration::from_secs(300);

/// Token lifetimes, from the organisation's configuration.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    pub access: Duration,
    pub grace: Duration,
    pub refresh: Duration,
}

/// What the token endpoint answers.
#[derive(Debug, Clone)]
pub struct TokenSet {
    pub access_token: String,
    /// Only when the grant includes `offline_access`.
    pub refresh_token: Option<String>,
    pub expires_in: u64,
    pub scope: String,
}

/// One consent: what a user approved for the app.
#[derive(Debug, Clone)]
pub struct Grant {
    pub auth_event_id: String,
    pub connection_id: String,
    pub scope: String,
    pub revoked: bool,
    pub created: DateTime<Utc>,
}

#[derive(Debug)]
struct Code {
    scope: String,
    redirect_uri: String,
    /// PKCE: (challenge, method).
    challenge: Option<(String, String)>,
    issued: Instant,
    used: bool,
}

#[derive(Debug)]
struct Refresh {
    grant: usize,
    issued: Instant,
    spent: Option<Instant>,
}

#[derive(Debug)]
struct Access {
    grant: usize,
    expires: Instant,
    expires_utc: DateTime<Utc>,
}

/// The outcome of presenting a bearer token.
#[derive(Debug, Clone, PartialEq)]
pub enum AccessCheck {
    Valid { grant: usize },
    Expired(DateTime<Utc>),
    Unknown,
}

/// Codes, grants and tokens of one organisation's app.
#[derive(Debug)]
pub struct Identity {
    client_id: String,
    signing_key: String,
    codes: HashMap<String, Code>,
    grants: Vec<Grant>,
    refresh: HashMap<String, Refresh>,
    access: HashMap<String, Access>,
}

impl Identity {
    pub fn new(client_id: &str, signing_key: &str) -> Identity {
        Identity {
            client_id: client_id.to_owned(),
            signing_key: signing_key.to_owned(),
            codes: HashMap::new(),
            grants: Vec::new(),
            refresh: HashMap::new(),
            access: HashMap::new(),
        }
    }

    /// A code for a consent just given; `challenge` is PKCE's `(code_challenge, method)`.
    pub fn issue_code(
        &mut self,
        scope: &str,
        redirect_uri: &str,
        challenge: Option<(String, String)>,
        now: Instant,
    ) -> String {
        self.codes
            .retain(|_, c| now.duration_since(c.issued) < CODE_LIFETIME);
        let code = random_hex(32);
        self.codes.insert(
            code.clone(),
            Code {
                scope: scope.to_owned(),
                redirect_uri: redirect_uri.to_owned(),
                challenge,
                issued: now,
                used: false,
            },
        );
        code
    }

    /// `grant_type=authorization_code`: the code once, with the redirect URI it was issued for.
    pub fn redeem_code(
        &mut self,
        code: &str,
        redirect_uri: &str,
        verifier: Option<&str>,
        lifetimes: Lifetimes,
        now: Instant,
    ) -> Result<TokenSet, &'static str> {
        let entry = self.codes.get_mut(code).ok_or("invalid_grant")?;
        if entry.used
            || now.duration_since(entry.issued) >= CODE_LIFETIME
            || entry.redirect_uri != redirect_uri
        {
            return Err("invalid_grant");
        }
        if let Some((challenge, method)) = &entry.challenge {
            let verifier = verifier.ok_or("invalid_grant")?;
            let computed = match method.as_str() {
                "S256" => URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
                _ => verifier.to_owned(),
            };
            if &computed != challenge {
                return Err("invalid_grant");
            }
        }
        entry.used = true;
        let scope = entry.scope.clone();
        self.grants.push(Grant {
            auth_event_id: guid(),
            connection_id: guid(),
            scope,
            revoked: false,
            created: Utc::now(),
        });
        Ok(self.issue(self.grants.len() - 1, lifetimes, now))
    }

    /// `grant_type=refresh_token`: rotates the token (see the module doc for the grace period).
    pub fn refresh(
        &mut self,
        token: &str,
        lifetimes: Lifetimes,
        now: Instant,
    ) -> Result<TokenSet, &'static str> {
        let entry = self.refresh.get_mut(token).ok_or("invalid_grant")?;
        if self.grants.get(entry.grant).is_none_or(|g| g.revoked) {
            return Err("invalid_grant");
        }
        match entry.spent {
            Some(spent) if now.duration_since(spent) > lifetimes.grace => {
                return Err("invalid_grant")
            }
            Some(_) => {}
            None if now.duration_since(entry.issued) > lifetimes.refresh => {
                return Err("invalid_grant")
            }
            None => entry.spent = Some(now),
        }
        let grant = entry.grant;
        Ok(self.issue(grant, lifetimes, now))
    }

    fn issue(&mut self, grant: usize, lifetimes: Lifetimes, now: Instant) -> TokenSet {
        let scope = self.grants[grant].scope.clone();
        let issued_utc = Utc::now();
        let expires_utc = issued_utc
            + chrono::Duration::from_std(lifetimes.access).unwrap_or(chrono::Duration::zero());
        let access_token = self.jwt(grant, issued_utc, expires_utc);
        self.access.insert(
            access_token.clone(),
            Access {
                grant,
                expires: now + lifetimes.access,
                expires_utc,
            },
        );
        let refresh_token = scope.split(' ').any(|s| s == "offline_access").then(|| {
            let token = random_hex(32);
            self.refresh.insert(
                token.clone(),
                Refresh {
                    grant,
                    issued: now,
                    spent: None,
                },
            );
            token
        });
        TokenSet {
            access_token,
            refresh_token,
            expires_in: lifetimes.access.as_secs(),
            scope,
        }
    }

    /// An access token shaped like Xero's (a JWT of about a kilobyte, so storage sized for toy
    /// tokens fails here as it would in production), signed with the app's secret.
    fn jwt(&self, grant: usize, issued: DateTime<Utc>, expires: DateTime<Utc>) -> String {
        let g = &self.grants[grant];
        let header = json!({"alg": "HS256", "kid": "sandbox", "typ": "JWT", "x5t": random_hex(14)});
        let payload = json!({
            "nbf": issued.timestamp(),
            "exp": expires.timestamp(),
            "iss": "https://identity.xero.com",
            "aud": "https://identity.xero.com/resources",
            "client_id": self.client_id,
            "sub": random_hex(16),
            "auth_time": g.created.timestamp(),
            "xero_userid": "f0d1e0a2-3c34-4d43-9f8d-5f2b3f1c9e77",
            "global_session_id": random_hex(16),
            "sid": random_hex(16),
            "jti": random_hex(16),
            "authentication_event_id": g.auth_event_id,
            "scope": g.scope.split(' ').collect::<Vec<_>>(),
            "amr": ["pwd"]
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(payload.to_string())
        );
        let signature = match Hmac::<Sha256>::new_from_slice(self.signing_key.as_bytes()) {
            Ok(mut mac) => {
                mac.update(signing_input.as_bytes());
                URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
            }
            Err(_) => String::new(),
        };
        format!("{signing_input}.{signature}")
    }

    /// What a bearer token is worth now.
    pub fn check_access(&self, token: &str, now: Instant) -> AccessCheck {
        match self.access.get(token) {
            None => AccessCheck::Unknown,
            Some(a) if now >= a.expires => AccessCheck::Expired(a.expires_utc),
            Some(a) => AccessCheck::Valid { grant: a.grant },
        }
    }

    pub fn grant(&self, index: usize) -> Option<&Grant> {
        self.grants.get(index)
    }

    /// The user disconnects the app: refreshes answer `invalid_grant`, the tenant is no longer
    /// reachable with tokens already issued.
    pub fn revoke_all(&mut self) {
        for grant in &mut self.grants {
            grant.revoked = true;
        }
    }

    /// Makes every access token issued so far expired, as if 30 minutes had passed.
    pub fn expire_access_tokens(&mut self, now: Instant) {
        let utc = Utc::now();
        for token in self.access.values_mut() {
            if token.expires > now {
                token.expires = now;
                token.expires_utc = utc;
            }
        }
    }

    /// Refresh tokens that a refresh would accept and that were never used: after a correct
    /// rotation there is exactly one per grant.
    pub fn live_refresh_tokens(&self, lifetimes: Lifetimes, now: Instant) -> usize {
        self.refresh
            .values()
            .filter(|r| {
                r.spent.is_none()
                    && now.duration_since(r.issued) <= lifetimes.refresh
                    && self.grants.get(r.grant).is_some_and(|g| !g.revoked)
            })
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIFE: Lifetimes = Lifetimes {
        access: Duration::from_secs(1800),
        grace: Duration::from_secs(1800),
        refresh: Duration::from_secs(60 * 86400),
    };

    fn connected(identity: &mut Identity, now: Instant) -> TokenSet {
        let code = identity.issue_code(
            "offline_access accounting.transactions",
            "http://cb",
            None,
            now,
        );
        match identity.redeem_code(&code, "http://cb", None, LIFE, now) {
            Ok(set) => set,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn codes_are_single_use_and_bound_to_the_redirect_uri() {
        let mut id = Identity::new("CLIENT", "secret");
        let now = Instant::now();
        let code = id.issue_code("openid", "http://cb", None, now);
        assert_eq!(
            id.redeem_code(&code, "http://other", None, LIFE, now).err(),
            Some("invalid_grant")
        );
        let set = id.redeem_code(&code, "http://cb", None, LIFE, now);
        assert!(set.as_ref().is_ok_and(|s| s.refresh_token.is_none()));
        assert!(id.redeem_code(&code, "http://cb", None, LIFE, now).is_err());
        let late = id.issue_code("openid", "http://cb", None, now);
        let later = now + CODE_LIFETIME;
        assert!(id
            .redeem_code(&late, "http://cb", None, LIFE, later)
            .is_err());
    }

    #[test]
    fn pkce_verifier_must_match() {
        let mut id = Identity::new("CLIENT", "secret");
        let now = Instant::now();
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(b"verifier-123"));
        let code = id.issue_code("openid", "http://cb", Some((challenge, "S256".into())), now);
        assert!(id
            .redeem_code(&code, "http://cb", Some("wrong"), LIFE, now)
            .is_err());
        assert!(id
            .redeem_code(&code, "http://cb", Some("verifier-123"), LIFE, now)
            .is_ok());
    }

    #[test]
    fn refresh_rotates_with_a_grace_period_for_the_spent_token() {
        let mut id = Identity::new("CLIENT", "secret");
        let now = Instant::now();
        let first = connected(&mut id, now);
        let a = first.refresh_token.unwrap_or_default();
        assert!(
            first.access_token.len() > 500,
            "{}",
            first.access_token.len()
        );
        let b = id
            .refresh(&a, LIFE, now)
            .map(|s| s.refresh_token.unwrap_or_default());
        let b = b.unwrap_or_default();
        assert_ne!(a, b);
        assert_eq!(id.live_refresh_tokens(LIFE, now), 1);
        // The answer was lost: the spent token still works within 30 minutes ...
        let soon = now + Duration::from_secs(600);
        assert!(id.refresh(&a, LIFE, soon).is_ok());
        // ... and not after.
        let late = now + Duration::from_secs(1801);
        assert_eq!(id.refresh(&a, LIFE, late).err(), Some("invalid_grant"));
        assert!(id.refresh(&b, LIFE, late).is_ok());
        assert_eq!(
            id.refresh("nonsense", LIFE, late).err(),
            Some("invalid_grant")
        );
    }

    #[test]
    fn access_tokens_expire_and_revocation_stops_refreshes() {
        let mut id = Identity::new("CLIENT", "secret");
        let now = Instant::now();
        let set = connected(&mut id, now);
        assert_eq!(
            id.check_access(&set.access_token, now),
            AccessCheck::Valid { grant: 0 }
        );
        let later = now + LIFE.access;
        assert!(matches!(
            id.check_access(&set.access_token, later),
            AccessCheck::Expired(_)
        ));
        assert_eq!(id.check_access("x", now), AccessCheck::Unknown);
        id.revoke_all();
        let refresh = set.refresh_token.unwrap_or_default();
        assert_eq!(id.refresh(&refresh, LIFE, now).err(), Some("invalid_grant"));
        assert_eq!(id.live_refresh_tokens(LIFE, now), 0);
    }
}
