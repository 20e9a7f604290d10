//! Requests a minute per hosted link and per client address: a fixed one-minute window per key,
//! counted in this process. A link's customer clicks a few times; a script guessing links, or
//! hammering one, is answered 429 long before it could matter.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);
/// Keys tracked before the stale ones are swept.
const SWEEP_AT: usize = 10_000;

/// Shared by every request of one API process (clones share the counts).
#[derive(Debug, Clone, Default)]
pub struct Limits {
    windows: Arc<Mutex<HashMap<String, (Instant, u32)>>>,
}

impl Limits {
    /// Counts a request against `key`; false when it is over `per_minute` this minute.
    pub fn admit(&self, key: &str, per_minute: u32) -> bool {
        let now = Instant::now();
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        if windows.len() >= SWEEP_AT {
            windows.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let (start, count) = windows.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(*start) >= WINDOW {
            *start = now;
            *count = 0;
        }
        *count = count.saturating_add(1);
        *count <= per_minute
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_its_allowance_a_minute_and_others_theirs() {
        let limits = Limits::default();
        assert!((0..3).all(|_| limits.admit("link:a", 3)));
        assert!(!limits.admit("link:a", 3));
        assert!(limits.admit("link:b", 3));
        assert!(limits.clone().admit("addr:1", 1));
        assert!(!limits.admit("addr:1", 1), "clones share the counts");
    }
}
