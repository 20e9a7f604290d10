//! Concurrency limits shared by every process: at most `limit` leases of a named limit are held
//! at once, across all the processes on one Redis. A lease is taken without waiting (a caller
//! that finds the limit reached does something else meanwhile) and expires after its time to
//! live unless released first, so a process that dies holding leases frees them by itself.
//!
//! A limit's keys share the hash tag `{<prefix>:limit:<name>}`: `leases`, a zset of lease tokens
//! by expiry time.

use std::time::Duration;

use redis::AsyncCommands;

use super::{Broker, QueueError};

/// Leases taken on one limit, to be given back with [`Broker::release_leases`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leases {
    base: String,
    tokens: Vec<String>,
}

impl Leases {
    /// How many were taken.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// One lease each, to be released apart.
    pub fn split(self) -> Vec<Leases> {
        let base = self.base;
        self.tokens
            .into_iter()
            .map(|token| Leases {
                base: base.clone(),
                tokens: vec![token],
            })
            .collect()
    }
}

impl Broker {
    fn limit_base(&self, name: &str) -> String {
        format!("{{{}:limit:{name}}}", self.settings().redis.key_prefix)
    }

    /// Takes up to `want` leases of limit `name`, which admits `limit` at once, to share
    /// `items` units of work among them: each expires after `item_ttl` for every unit it covers
    /// (`items` over the leases taken, rounded up) unless released. None when the limit is
    /// reached.
    pub async fn take_leases(
        &self,
        name: &str,
        want: usize,
        limit: usize,
        items: usize,
        item_ttl: Duration,
    ) -> Result<Leases, QueueError> {
        let base = self.limit_base(name);
        let ttl_ms = u64::try_from(item_ttl.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let mut inv = self.scripts().take_leases.key(&base);
        inv.arg(want)
            .arg(limit)
            .arg(items)
            .arg(ttl_ms)
            .arg(ulid::Ulid::new().to_string());
        let tokens: Vec<String> = inv.invoke_async(&mut self.conn()).await?;
        Ok(Leases { base, tokens })
    }

    /// Gives `leases` back before they expire.
    pub async fn release_leases(&self, leases: Leases) -> Result<(), QueueError> {
        if leases.tokens.is_empty() {
            return Ok(());
        }
        let _: i64 = self
            .conn()
            .zrem(format!("{}:leases", leases.base), leases.tokens)
            .await?;
        Ok(())
    }
}
