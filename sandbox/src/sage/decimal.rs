//! Sage's decimals: read from a JSON number or a numeric string (Sage accepts both), held as
//! integer millionths so sums of lines equal the totals exactly, and written the way Sage's Rails
//! back end serialises a `BigDecimal`: a string with at least one decimal place and no trailing
//! zeros (`"120.0"`, `"12.5"`, `"19.99"`). The published schema types these fields `number`; the
//! live API sends strings.

use serde_json::Value;

/// Millionths per unit.
pub const SCALE: i128 = 1_000_000;
/// Millionths per penny.
const CENT: i128 = SCALE / 100;

/// Parses `12`, `12.5`, `"12.50"`, `"-3"`; `None` for anything else or more than six decimals.
pub fn parse(value: &Value) -> Option<i128> {
    match value {
        Value::Number(n) => parse_text(&n.to_string()),
        Value::String(s) => parse_text(s),
        _ => None,
    }
}

fn parse_text(text: &str) -> Option<i128> {
    let text = text.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let valid = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || whole.len() > 15 || !valid(whole) || !valid(frac) || frac.len() > 6 {
        return None;
    }
    let whole: i128 = whole.parse().ok()?;
    let frac_value: i128 = if frac.is_empty() {
        0
    } else {
        frac.parse::<i128>().ok()? * 10_i128.pow(6 - frac.len() as u32)
    };
    let value = whole * SCALE + frac_value;
    Some(if negative { -value } else { value })
}

/// Rounds to whole pennies, half away from zero.
pub fn round_money(micros: i128) -> i128 {
    let half = CENT / 2;
    let rounded = if micros >= 0 {
        (micros + half) / CENT
    } else {
        (micros - half) / CENT
    };
    rounded * CENT
}

/// `quantity * unit_price`, rounded to pennies.
pub fn times(quantity: i128, unit_price: i128) -> i128 {
    let product = quantity * unit_price;
    let half = SCALE / 2;
    let micros = if product >= 0 {
        (product + half) / SCALE
    } else {
        (product - half) / SCALE
    };
    round_money(micros)
}

/// Rails' `BigDecimal#to_s` as JSON shows it: `"120.0"`, `"0.5"`, `"-2.25"`.
pub fn render(micros: i128) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let abs = micros.unsigned_abs();
    let whole = abs / SCALE as u128;
    let frac = format!("{:06}", abs % SCALE as u128);
    let frac = frac.trim_end_matches('0');
    let frac = if frac.is_empty() { "0" } else { frac };
    format!("{sign}{whole}.{frac}")
}

/// [`render`] as a JSON value.
pub fn json(micros: i128) -> Value {
    Value::String(render(micros))
}

/// Whole units as millionths.
pub fn units(n: i64) -> i128 {
    i128::from(n) * SCALE
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_numbers_and_strings_and_writes_like_rails() {
        assert_eq!(parse(&json!(12)), Some(12 * SCALE));
        assert_eq!(parse(&json!(19.99)), Some(19_990_000));
        assert_eq!(parse(&json!("2.5")), Some(2_500_000));
        assert_eq!(parse(&json!("-0.25")), Some(-250_000));
        assert_eq!(parse(&json!("1.2345678")), None);
        assert_eq!(parse(&json!("abc")), None);
        assert_eq!(parse(&json!(true)), None);
        assert_eq!(render(120 * SCALE), "120.0");
        assert_eq!(render(12_500_000), "12.5");
        assert_eq!(render(19_990_000), "19.99");
        assert_eq!(render(0), "0.0");
        assert_eq!(render(-2_250_000), "-2.25");
    }

    #[test]
    fn line_amounts_round_to_pennies_half_away_from_zero() {
        assert_eq!(times(3 * SCALE, 3_333_333), 10_000_000);
        assert_eq!(times(SCALE / 2, 1_010_000), 510_000);
        assert_eq!(round_money(-5_000), -10_000);
        assert_eq!(round_money(4_999), 0);
    }
}
