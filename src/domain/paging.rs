//! Opaque list cursors. Lists page by keyset (the last row's sort key), not by offset, so a page
//! costs the same however deep it is and rows changing meanwhile never shift a page. Clients get
//! the key as an opaque token so its shape can change without breaking them.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};

/// Where the next page of orders starts: after the row with this `(updated_at, id)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageCursor {
    pub updated_at: DateTime<Utc>,
    pub id: i64,
}

/// The version tag inside a token, so a later format can refuse old tokens cleanly.
const TAG: &str = "o1";

impl PageCursor {
    pub fn encode(&self) -> String {
        let micros = self.updated_at.timestamp_micros();
        URL_SAFE_NO_PAD.encode(format!("{TAG}:{micros}:{}", self.id))
    }

    /// `None` for anything [`PageCursor::encode`] did not produce, including a well-formed token
    /// whose time PostgreSQL cannot hold (only a forged one can carry such a time).
    pub fn decode(token: &str) -> Option<PageCursor> {
        let bytes = URL_SAFE_NO_PAD.decode(token.trim()).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let mut parts = text.split(':');
        if parts.next()? != TAG {
            return None;
        }
        let micros: i64 = parts.next()?.parse().ok()?;
        let id: i64 = parts.next()?.parse().ok()?;
        if parts.next().is_some() {
            return None;
        }
        let updated_at =
            DateTime::from_timestamp_micros(micros).filter(super::storable::holds_time)?;
        Some(PageCursor { updated_at, id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_to_the_microsecond() {
        let at = DateTime::from_timestamp(1_719_842_400, 123_456_000).unwrap_or_default();
        let c = PageCursor {
            updated_at: at,
            id: 42,
        };
        let token = c.encode();
        assert!(token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(PageCursor::decode(&token), Some(c));
    }

    #[test]
    fn anything_else_is_refused() {
        assert_eq!(PageCursor::decode(""), None);
        assert_eq!(PageCursor::decode("not a cursor"), None);
        assert_eq!(PageCursor::decode(&URL_SAFE_NO_PAD.encode("o1:12")), None);
        assert_eq!(PageCursor::decode(&URL_SAFE_NO_PAD.encode("o2:12:3")), None);
        assert_eq!(
            PageCursor::decode(&URL_SAFE_NO_PAD.encode("o1:12:3:4")),
            None
        );
        assert_eq!(PageCursor::decode(&URL_SAFE_NO_PAD.encode("o1:x:3")), None);
        let before = super::super::storable::EARLIEST_MICROS - 1;
        assert_eq!(
            PageCursor::decode(&URL_SAFE_NO_PAD.encode(format!("o1:{before}:3"))),
            None,
            "a time before PostgreSQL's range"
        );
        assert_eq!(
            PageCursor::decode(&URL_SAFE_NO_PAD.encode(format!("o1:{}:3", i64::MIN))),
            None
        );
    }
}
