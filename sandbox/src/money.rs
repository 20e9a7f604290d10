//! Money as integer minor units, rendered the way both platforms do: decimal strings with two places.
//! Integer cents avoid the float drift that would make totals disagree with the sum of their lines.

/// Formats cents as `"12.34"` (negative amounts keep their sign).
pub fn format_cents(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// Parses `"12"`, `"12.3"` or `"12.34"` into cents; `None` for anything else.
pub fn parse_cents(text: &str) -> Option<i64> {
    let text = text.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, frac) = match digits.split_once('.') {
        Some((w, f)) => (w, f),
        None => (digits, ""),
    };
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 2 {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let frac_cents: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().ok()? * 10,
        _ => frac.parse().ok()?,
    };
    let cents = whole.checked_mul(100)?.checked_add(frac_cents)?;
    Some(if negative { -cents } else { cents })
}

/// Tax at a whole-percent rate, rounded half up as shops do.
pub fn percent_of(cents: i64, percent: i64) -> i64 {
    (cents * percent + 50) / 100
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        assert_eq!(format_cents(1234), "12.34");
        assert_eq!(format_cents(5), "0.05");
        assert_eq!(format_cents(-250), "-2.50");
        assert_eq!(parse_cents("12.3"), Some(1230));
        assert_eq!(parse_cents("7"), Some(700));
        assert_eq!(parse_cents("1.234"), None);
        assert_eq!(parse_cents("abc"), None);
        assert_eq!(percent_of(1999, 20), 400);
    }
}
