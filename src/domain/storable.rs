//! The limits of what PostgreSQL stores and compares, which a value a client sends must keep.
//!
//! A `text` (or `jsonb`) value cannot hold the NUL character, and a `timestamptz` starts at
//! 4714-11-24 BC. Rust's `String` and chrono's `DateTime` go further, so a value can pass serde
//! and the API's own checks and still be refused by the database. The API checks these at its
//! edge, so such a value is the caller's 422 naming the field rather than a database error.

use chrono::{DateTime, Utc};

/// The earliest instant a `timestamptz` holds, in microseconds since 1970: midnight UTC of
/// 4714-11-24 BC in the proleptic Gregorian calendar (ISO 8601 year -4713), Julian day 0.
/// (The latest, 294276 AD, is past the latest time chrono holds, so no `DateTime` exceeds it.)
pub const EARLIEST_MICROS: i64 = -210_866_803_200_000_000;

/// The earliest instant as a client would write it.
pub const EARLIEST: &str = "-4713-11-24T00:00:00Z";

/// True when PostgreSQL can store and compare `t` as a `timestamptz`.
pub fn holds_time(t: &DateTime<Utc>) -> bool {
    t.timestamp_micros() >= EARLIEST_MICROS
}

/// True when PostgreSQL can store `text` as `text` or inside `jsonb` (`\u0000` is refused by
/// both).
pub fn holds_text(text: &str) -> bool {
    !text.contains('\0')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parsed as serde parses a client's time (RFC 3339, and years before 0 too).
    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn times_from_julian_day_zero_on_are_held() {
        assert!(holds_time(&at(EARLIEST)));
        assert_eq!(at(EARLIEST).timestamp_micros(), EARLIEST_MICROS);
        assert!(holds_time(&at("2025-01-01T00:00:00Z")));
        assert!(holds_time(&DateTime::<Utc>::MAX_UTC));
        assert!(!holds_time(&at("-4713-11-23T23:59:59.999999Z")));
        assert!(!holds_time(&at("-4714-11-24T00:00:00Z")));
        assert!(!holds_time(&DateTime::<Utc>::MIN_UTC));
        // An offset moves the instant, not the check.
        assert!(!holds_time(&at("-4713-11-24T00:00:00+01:00")));
    }

    #[test]
    fn text_without_nul_is_held() {
        assert!(holds_text(""));
        assert!(holds_text("tab\tnewline\ncontrol\u{1}é😀"));
        assert!(!holds_text("a\0b"));
        assert!(!holds_text("\0"));
    }
}
