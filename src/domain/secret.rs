//! Credentials wrapped so they cannot leak through `Debug`, `Display` or a log line by accident:
//! the only way to the text is [`Secret::expose`], which a reviewer can grep for.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A credential (access token, consumer secret, app secret). Serialises as itself so a channel's
/// encrypted settings can round-trip it, but never prints.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret text, for the one place that must send or sign with it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Secret {
        Secret(value.to_string())
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Secret {
        Secret(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let secret = Secret::new("shpat_do_not_print");
        let shown = format!("{secret:?} {:?}", Some(&secret));
        assert!(!shown.contains("do_not_print"), "{shown}");
        assert_eq!(secret.expose(), "shpat_do_not_print");
    }
}
