//! Timestamps as the platforms write and read them. Stored times are whole seconds, because that is
//! the precision both APIs render: a connector that passes back a rendered `updated_at` as its next
//! `updated_at_min` must match the order it came from.

use chrono::{
    DateTime, FixedOffset, NaiveDate, NaiveDateTime, Offset, SecondsFormat, TimeZone, Utc,
};

/// Now, truncated to the second.
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now)
}

fn offset(minutes: i32) -> FixedOffset {
    FixedOffset::east_opt(minutes * 60).unwrap_or_else(|| Utc.fix())
}

/// ISO-8601 with the shop's offset, Shopify style: `2024-07-01T10:00:00-04:00`.
pub fn with_offset(ts: DateTime<Utc>, offset_minutes: i32) -> String {
    ts.with_timezone(&offset(offset_minutes))
        .to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// ISO-8601 without an offset, WooCommerce style (`date_created` in site time, `_gmt` in UTC).
pub fn naive(ts: DateTime<Utc>, offset_minutes: i32) -> String {
    ts.with_timezone(&offset(offset_minutes))
        .naive_local()
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

/// Parses a timestamp from a query parameter: RFC 3339, or a date/time without offset read in
/// `default_offset_minutes`. A `+` sent unencoded in a query arrives as a space; that is repaired.
pub fn parse(text: &str, default_offset_minutes: i32) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(ts) = DateTime::parse_from_rfc3339(text) {
        return Some(ts.with_timezone(&Utc));
    }
    if let Some((date, zone)) = text.rsplit_once(' ') {
        if zone.len() == 5 && zone.contains(':') {
            if let Ok(ts) = DateTime::parse_from_rfc3339(&format!("{date}+{zone}")) {
                return Some(ts.with_timezone(&Utc));
            }
        }
    }
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S"))
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })?;
    offset(default_offset_minutes)
        .from_local_datetime(&naive)
        .single()
        .map(|ts| ts.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_parses() {
        let ts = DateTime::from_timestamp(1_719_842_400, 0).unwrap_or_default();
        assert_eq!(with_offset(ts, -240), "2024-07-01T10:00:00-04:00");
        assert_eq!(naive(ts, 0), "2024-07-01T14:00:00");
        assert_eq!(parse("2024-07-01T10:00:00-04:00", 0), Some(ts));
        assert_eq!(
            parse("2024-07-01T10:00:00 04:00", 0).map(|t| t.timestamp()),
            Some(1_719_813_600)
        );
        assert_eq!(parse("2024-07-01T14:00:00", 0), Some(ts));
        assert_eq!(parse("nonsense", 0), None);
    }
}
