//! User access tokens issued by the refresh token grant, each with its expiry. A refresh does not
//! spend the refresh token (eBay's live for 18 months and are reused).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::http_util::random_hex;

#[derive(Debug, Default)]
pub struct TokenBook {
    access: HashMap<String, Instant>,
}

impl TokenBook {
    /// Issues a token good for `lifetime`.
    pub fn issue(&mut self, lifetime: Duration) -> String {
        let now = Instant::now();
        self.access.retain(|_, expires| *expires > now);
        let token = format!("v^1.1#i^1#p^3#r^0#I^3#f^0#t^{}", random_hex(48));
        self.access.insert(token.clone(), now + lifetime);
        token
    }

    /// True while `token` was issued here and has not expired.
    pub fn valid(&self, token: &str) -> bool {
        self.access
            .get(token)
            .is_some_and(|expires| *expires > Instant::now())
    }

    /// Every token issued so far expires now.
    pub fn expire_all(&mut self) {
        let now = Instant::now();
        for expires in self.access.values_mut() {
            *expires = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_expire() {
        let mut book = TokenBook::default();
        let token = book.issue(Duration::from_secs(60));
        assert!(book.valid(&token));
        assert!(!book.valid("other"));
        book.expire_all();
        assert!(!book.valid(&token));
        let short = book.issue(Duration::ZERO);
        assert!(!book.valid(&short));
    }
}
