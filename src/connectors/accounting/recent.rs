//! What a connector learnt of its organisation and trusts for a while: the contacts and items
//! it found or made. An invoice to a returning customer, for products invoiced before, then
//! spends one call (the create) instead of a lookup per contact and per page of item codes;
//! under Xero's 60 calls a minute that is what lets a busy store approach 60 invoices a minute.
//!
//! An entry lives [`TTL`]: a contact merged or archived on the platform, or an item deleted, is
//! looked up afresh within that time. A connector also forgets everything it learnt when the
//! platform refuses an invoice, in case an entry it sent was the cause.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::domain::invoice::InvoiceContact;

/// How long an entry is trusted.
pub const TTL: Duration = Duration::from_secs(15 * 60);
/// Entries kept per cache; past it, the expired ones go, and if that is not enough, all.
pub const CAPACITY: usize = 10_000;

/// Values by key, each for [`TTL`].
#[derive(Debug)]
pub struct Recent<V> {
    ttl: Duration,
    entries: Mutex<HashMap<String, (V, Instant)>>,
}

impl<V: Clone> Default for Recent<V> {
    fn default() -> Self {
        Recent::with_ttl(TTL)
    }
}

impl<V: Clone> Recent<V> {
    pub fn with_ttl(ttl: Duration) -> Recent<V> {
        Recent {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn entries(&self) -> MutexGuard<'_, HashMap<String, (V, Instant)>> {
        // A panic while holding the lock leaves a map that is still a valid cache.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn get(&self, key: &str) -> Option<V> {
        let mut entries = self.entries();
        match entries.get(key) {
            Some((value, at)) if at.elapsed() < self.ttl => Some(value.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    pub fn insert(&self, key: String, value: V) {
        let mut entries = self.entries();
        if entries.len() >= CAPACITY && !entries.contains_key(&key) {
            let ttl = self.ttl;
            entries.retain(|_, (_, at)| at.elapsed() < ttl);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(key, (value, Instant::now()));
    }

    pub fn clear(&self) {
        self.entries().clear();
    }
}

/// The key of a draft's contact: its email and name as matched (trimmed, any case), so a
/// draft naming another person at the same email, or none, is found afresh.
pub fn contact_key(contact: &InvoiceContact) -> String {
    let email = contact.email.as_deref().unwrap_or("").trim().to_lowercase();
    format!("{email}\u{1f}{}", contact.name.trim().to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(name: &str, email: Option<&str>) -> InvoiceContact {
        InvoiceContact {
            name: name.to_owned(),
            email: email.map(str::to_owned),
        }
    }

    #[test]
    fn an_entry_is_kept_for_its_ttl_and_forgotten_after() {
        let recent = Recent::with_ttl(Duration::from_millis(30));
        recent.insert("a".to_owned(), 1);
        assert_eq!(recent.get("a"), Some(1));
        assert_eq!(recent.get("b"), None);
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(recent.get("a"), None);
        recent.insert("a".to_owned(), 2);
        recent.clear();
        assert_eq!(recent.get("a"), None);
    }

    #[test]
    fn a_full_cache_makes_room() {
        let recent = Recent::default();
        for i in 0..CAPACITY {
            recent.insert(i.to_string(), i);
        }
        recent.insert("one more".to_owned(), 0);
        assert_eq!(recent.get("one more"), Some(0));
        assert!(recent.entries().len() <= CAPACITY);
    }

    #[test]
    fn contacts_are_keyed_by_email_and_name_in_any_case() {
        let key = contact_key(&contact(" Ada Lovelace", Some("ADA@example.com ")));
        assert_eq!(
            key,
            contact_key(&contact("ada lovelace", Some("ada@example.com")))
        );
        assert_ne!(key, contact_key(&contact("Ada Lovelace", None)));
        assert_ne!(
            key,
            contact_key(&contact("Charles Babbage", Some("ada@example.com")))
        );
    }
}
