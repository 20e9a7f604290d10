//! Queue names and the Redis keys derived from them.

use std::fmt;

/// A validated queue name: lowercase letters, digits and hyphens, 1 to 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueueName(String);

impl QueueName {
    pub fn is_valid(name: &str) -> bool {
        !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    }

    pub fn parse(name: &str) -> Option<QueueName> {
        QueueName::is_valid(name).then(|| QueueName(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for QueueName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The keys of one queue. Scripts get `base` as KEYS[1] and derive the rest the same way.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    pub base: String,
}

impl Keys {
    pub fn new(prefix: &str, queue: &QueueName) -> Keys {
        Keys {
            base: format!("{{{prefix}:{queue}}}"),
        }
    }

    pub fn sub(&self, suffix: &str) -> String {
        format!("{}:{suffix}", self.base)
    }

    pub fn job(&self, id: &str) -> String {
        format!("{}:job:{id}", self.base)
    }

    pub fn minute(&self, minute: i64) -> String {
        format!("{}:m:{minute}", self.base)
    }

    /// The set of queue names this prefix has seen, for listing queues without a key scan.
    pub fn registry(prefix: &str) -> String {
        format!("{prefix}:queues")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(QueueName::parse("import-orders").is_some());
        assert!(QueueName::parse("noop").is_some());
        assert!(QueueName::parse("").is_none());
        assert!(QueueName::parse("Import").is_none());
        assert!(QueueName::parse("a{b}").is_none());
        assert!(QueueName::parse(&"x".repeat(65)).is_none());
    }

    #[test]
    fn every_key_of_a_queue_shares_one_hash_tag() {
        let keys = Keys::new("sy", &QueueName::parse("sync-stock").unwrap());
        assert_eq!(keys.base, "{sy:sync-stock}");
        assert!(keys.job("01J").starts_with("{sy:sync-stock}:"));
        assert!(keys.sub("ready").starts_with("{sy:sync-stock}:"));
    }
}
