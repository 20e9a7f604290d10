//! The grants a business has given an app, with Sage's lifetimes: an authorisation code lives 60
//! seconds and is good once; an access token lives 5 minutes; a refresh token is good once, for 31
//! days, and using it issues a new pair (the old refresh token is spent, the old access token
//! runs to its expiry). A spent, unknown, expired or revoked token is simply not there any more,
//! which is all the token endpoint tells a client (`invalid_grant`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// What the user granted: `full_access` or `readonly`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    FullAccess,
    ReadOnly,
}

impl Scope {
    pub fn parse(text: &str) -> Option<Scope> {
        match text {
            "full_access" => Some(Scope::FullAccess),
            "readonly" => Some(Scope::ReadOnly),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::FullAccess => "full_access",
            Scope::ReadOnly => "readonly",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    pub code: Duration,
    pub access: Duration,
    pub refresh: Duration,
}

/// A token pair as the token endpoint hands it out.
#[derive(Debug, Clone, PartialEq)]
pub struct Issued {
    pub access_token: String,
    pub refresh_token: String,
    pub scope: Scope,
    pub expires_in: u64,
    pub refresh_token_expires_in: u64,
}

/// How a bearer token fares.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AccessCheck {
    Valid(Scope),
    Expired,
    Invalid,
}

#[derive(Debug)]
struct Code {
    redirect_uri: String,
    scope: Scope,
    expires_at: Instant,
}

#[derive(Debug)]
struct Held {
    scope: Scope,
    expires_at: Instant,
}

/// Every live code and token of one business.
#[derive(Debug)]
pub struct TokenBook {
    codes: HashMap<String, Code>,
    access: HashMap<String, Held>,
    refresh: HashMap<String, Held>,
    rng: StdRng,
}

/// Expired access tokens are remembered this long, so a client hears "expired" rather than
/// "malformed" for a token it held a moment ago.
const REMEMBER_EXPIRED: Duration = Duration::from_secs(3600);

impl TokenBook {
    pub fn new(seed: u64) -> TokenBook {
        TokenBook {
            codes: HashMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            rng: StdRng::seed_from_u64(seed ^ 0x5a6e_0a07),
        }
    }

    fn random(&mut self, bytes: usize) -> String {
        (0..bytes)
            .map(|_| format!("{:02x}", self.rng.random::<u8>()))
            .collect()
    }

    /// A code for the authorize redirect, bound to the `redirect_uri` it was issued for.
    pub fn issue_code(
        &mut self,
        redirect_uri: &str,
        scope: Scope,
        now: Instant,
        lt: &Lifetimes,
    ) -> String {
        self.codes.retain(|_, c| c.expires_at > now);
        let code = self.random(20);
        self.codes.insert(
            code.clone(),
            Code {
                redirect_uri: redirect_uri.to_string(),
                scope,
                expires_at: now + lt.code,
            },
        );
        code
    }

    /// Exchanges a code once; `None` if unknown, used, expired or sent with another `redirect_uri`.
    pub fn redeem_code(
        &mut self,
        code: &str,
        redirect_uri: &str,
        now: Instant,
        lt: &Lifetimes,
    ) -> Option<Issued> {
        let held = self.codes.remove(code)?;
        if held.expires_at <= now || held.redirect_uri != redirect_uri {
            return None;
        }
        Some(self.issue(held.scope, now, lt))
    }

    /// Spends a refresh token for a new pair; `None` if unknown, spent, expired or revoked.
    pub fn refresh(&mut self, token: &str, now: Instant, lt: &Lifetimes) -> Option<Issued> {
        let held = self.refresh.remove(token)?;
        if held.expires_at <= now {
            return None;
        }
        Some(self.issue(held.scope, now, lt))
    }

    fn issue(&mut self, scope: Scope, now: Instant, lt: &Lifetimes) -> Issued {
        self.access
            .retain(|_, a| a.expires_at + REMEMBER_EXPIRED > now);
        self.refresh.retain(|_, r| r.expires_at > now);
        let access_token = self.random(32);
        let refresh_token = self.random(32);
        self.access.insert(
            access_token.clone(),
            Held {
                scope,
                expires_at: now + lt.access,
            },
        );
        self.refresh.insert(
            refresh_token.clone(),
            Held {
                scope,
                expires_at: now + lt.refresh,
            },
        );
        Issued {
            access_token,
            refresh_token,
            scope,
            expires_in: lt.access.as_secs(),
            refresh_token_expires_in: lt.refresh.as_secs(),
        }
    }

    pub fn check(&self, token: &str, now: Instant) -> AccessCheck {
        match self.access.get(token) {
            Some(held) if held.expires_at > now => AccessCheck::Valid(held.scope),
            Some(_) => AccessCheck::Expired,
            None => AccessCheck::Invalid,
        }
    }

    /// The user disconnected the app: every code and token stops working at once.
    pub fn revoke_all(&mut self) {
        self.codes.clear();
        self.access.clear();
        self.refresh.clear();
    }

    /// Makes every access token expired now (their refresh tokens still work).
    pub fn expire_access(&mut self, now: Instant) {
        for held in self.access.values_mut() {
            held.expires_at = held.expires_at.min(now);
        }
    }

    /// Refresh tokens that would still be accepted.
    pub fn live_refresh(&self, now: Instant) -> usize {
        self.refresh.values().filter(|r| r.expires_at > now).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LT: Lifetimes = Lifetimes {
        code: Duration::from_secs(60),
        access: Duration::from_secs(300),
        refresh: Duration::from_secs(2_678_400),
    };

    #[test]
    fn a_code_is_good_once_and_only_for_its_redirect_uri() {
        let mut book = TokenBook::new(1);
        let now = Instant::now();
        let code = book.issue_code("http://app/cb", Scope::FullAccess, now, &LT);
        assert!(book
            .redeem_code(&code, "http://other/cb", now, &LT)
            .is_none());
        let code = book.issue_code("http://app/cb", Scope::FullAccess, now, &LT);
        let issued = book.redeem_code(&code, "http://app/cb", now, &LT);
        assert_eq!(issued.map(|i| i.expires_in), Some(300));
        assert!(book.redeem_code(&code, "http://app/cb", now, &LT).is_none());
        let late = book.issue_code("http://app/cb", Scope::FullAccess, now, &LT);
        let after = now + Duration::from_secs(61);
        assert!(book
            .redeem_code(&late, "http://app/cb", after, &LT)
            .is_none());
    }

    #[test]
    fn refresh_rotates_and_the_spent_token_is_refused() {
        let mut book = TokenBook::new(2);
        let now = Instant::now();
        let code = book.issue_code("cb", Scope::ReadOnly, now, &LT);
        let first = book.redeem_code(&code, "cb", now, &LT).expect("tokens");
        let second = book
            .refresh(&first.refresh_token, now, &LT)
            .expect("rotated");
        assert_ne!(second.refresh_token, first.refresh_token);
        assert_eq!(second.scope, Scope::ReadOnly);
        assert!(book.refresh(&first.refresh_token, now, &LT).is_none());
        assert_eq!(book.live_refresh(now), 1);
        assert_eq!(
            book.check(&first.access_token, now),
            AccessCheck::Valid(Scope::ReadOnly)
        );
        book.expire_access(now);
        assert_eq!(book.check(&second.access_token, now), AccessCheck::Expired);
        book.revoke_all();
        assert_eq!(book.live_refresh(now), 0);
        assert_eq!(book.check(&second.access_token, now), AccessCheck::Invalid);
    }
}
