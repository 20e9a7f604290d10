//! Xero's wire conventions: GUIDs, `/Date(ms+0000)/` timestamps beside ISO `...String` fields,
//! the response envelope (`Id`, `Status`, `ProviderName`, `DateTimeUTC`) and the amounts it renders.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use rand::Rng;
use serde_json::{json, Map, Value};

/// A random (version 4) GUID in Xero's lower-case hyphenated form.
pub fn guid() -> String {
    let mut bytes: [u8; 16] = rand::rng().random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// True for a GUID in any letter case (Xero compares them case-insensitively).
pub fn is_guid(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `/Date(1552262400000+0000)/`, as entity timestamps and dates are rendered.
pub fn ms_date(ts: DateTime<Utc>) -> String {
    format!("/Date({}+0000)/", ts.timestamp_millis())
}

/// A calendar date as Xero renders it: midnight UTC in the `/Date(...)/` form.
pub fn ms_day(day: NaiveDate) -> String {
    ms_date(day.and_time(chrono::NaiveTime::MIN).and_utc())
}

/// The `DateString` beside a date: `2019-03-11T00:00:00`.
pub fn day_string(day: NaiveDate) -> String {
    day.format("%Y-%m-%dT00:00:00").to_string()
}

/// `UpdatedDateUTCString`: `2019-11-14T18:10:38Z`.
pub fn utc_string(ts: DateTime<Utc>) -> String {
    ts.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Milliseconds of a `/Date(ms)/` or `/Date(ms+hhmm)/` string.
pub fn parse_ms_date(text: &str) -> Option<i64> {
    let inner = text.strip_prefix("/Date(")?.strip_suffix(")/")?;
    let digits_end = inner
        .char_indices()
        .skip(1)
        .find(|(_, c)| *c == '+' || *c == '-')
        .map_or(inner.len(), |(i, _)| i);
    inner[..digits_end].parse().ok()
}

/// A date as clients send it: `2019-03-11`, `2019-03-11T00:00:00` or `/Date(ms[+0000])/` (what
/// the official SDKs serialise).
pub fn parse_day(text: &str) -> Option<NaiveDate> {
    let text = text.trim();
    if let Some(ms) = parse_ms_date(text) {
        return DateTime::from_timestamp_millis(ms).map(|ts| ts.date_naive());
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
                .ok()
                .map(|t| t.date())
        })
        .or_else(|| {
            DateTime::parse_from_rfc3339(text)
                .ok()
                .map(|t| t.date_naive())
        })
}

/// The envelope every Accounting API answer carries, around `key: items` (and `pagination` when
/// the client asked for a page).
pub fn envelope(key: &str, items: Vec<Value>, pagination: Option<Value>) -> Value {
    let mut body = Map::new();
    body.insert("Id".into(), json!(guid()));
    body.insert("Status".into(), json!("OK"));
    body.insert("ProviderName".into(), json!("switchyard sandbox"));
    body.insert(
        "DateTimeUTC".into(),
        json!(format!("/Date({})/", Utc::now().timestamp_millis())),
    );
    if let Some(pagination) = pagination {
        body.insert("pagination".into(), pagination);
    }
    body.insert(key.into(), Value::Array(items));
    Value::Object(body)
}

/// Minor units (cents, or ten-thousandths for unit amounts) as a JSON number.
pub fn amount(units: i64, scale: i64) -> Value {
    json!(units as f64 / scale as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_in_both_forms() {
        let day = NaiveDate::from_ymd_opt(2019, 3, 11).unwrap_or_default();
        assert_eq!(ms_day(day), "/Date(1552262400000+0000)/");
        assert_eq!(day_string(day), "2019-03-11T00:00:00");
        assert_eq!(parse_day("/Date(1552262400000+0000)/"), Some(day));
        assert_eq!(parse_day("/Date(1552262400000)/"), Some(day));
        assert_eq!(parse_day("2019-03-11"), Some(day));
        assert_eq!(parse_day("2019-03-11T00:00:00"), Some(day));
        assert_eq!(parse_day("11/03/2019"), None);
    }

    #[test]
    fn guids_are_well_formed() {
        let id = guid();
        assert!(is_guid(&id), "{id}");
        assert!(is_guid(&id.to_uppercase()));
        assert!(!is_guid("not-a-guid"));
        assert_ne!(guid(), id);
    }
}
