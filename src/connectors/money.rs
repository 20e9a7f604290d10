//! Money as platforms send it (decimal strings, sometimes numbers) into switchyard's decimal
//! strings. Parsing checks the text really is a decimal, so a garbled amount is a malformed
//! response rather than a wrong total.

use std::str::FromStr;

use rust_decimal::Decimal;

use super::error::ConnectorError;
use crate::domain::Totals;

/// Parses an amount; `field` names it in the error.
pub fn parse(text: &str, field: &str) -> Result<Decimal, ConnectorError> {
    Decimal::from_str(text.trim())
        .map_err(|_| ConnectorError::Malformed(format!("{field} is not an amount: {text:?}")))
}

/// Normalises an amount to switchyard's form (the platform's own scale, at least two places).
pub fn normalise(text: &str, field: &str) -> Result<String, ConnectorError> {
    parse(text, field).map(format)
}

/// Renders a decimal with at least two decimal places.
pub fn format(amount: Decimal) -> String {
    let mut amount = amount;
    if amount.scale() < 2 {
        amount.rescale(2);
    }
    amount.to_string()
}

/// An order's totals from its parts: `stated` is the platform's own total when it gives one,
/// else the parts' `subtotal - discount + shipping + tax`.
pub fn totals(
    subtotal: Decimal,
    discount: Decimal,
    shipping: Decimal,
    tax: Decimal,
    stated: Option<Decimal>,
) -> Totals {
    let total = stated.unwrap_or(subtotal - discount + shipping + tax);
    Totals {
        subtotal: format(subtotal),
        shipping: format(shipping),
        tax: format(tax),
        discount: format(discount),
        total: format(total),
    }
}

/// Sums amounts, each named by `field` in errors.
pub fn sum<'a>(
    texts: impl IntoIterator<Item = &'a str>,
    field: &str,
) -> Result<Decimal, ConnectorError> {
    texts
        .into_iter()
        .try_fold(Decimal::ZERO, |acc, text| Ok(acc + parse(text, field)?))
}

/// The price of one unit from a line total, to at most four places, shown at the total's scale
/// when it fits (`178.00 / 2` is `89.00`, `1.00 / 8` is `0.125`, `10.00 / 3` is `3.3333`).
pub fn per_unit(total: Decimal, quantity: u32) -> Decimal {
    if quantity == 0 {
        return total;
    }
    let unit = (total / Decimal::from(quantity)).round_dp(4).normalize();
    let mut shown = unit;
    if shown.scale() < total.scale() {
        shown.rescale(total.scale());
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_keep_two_places_and_garbage_is_refused() {
        assert_eq!(normalise("12.5", "price").ok().as_deref(), Some("12.50"));
        assert_eq!(normalise("89", "price").ok().as_deref(), Some("89.00"));
        assert_eq!(normalise("0.125", "price").ok().as_deref(), Some("0.125"));
        assert!(matches!(
            normalise("12,50", "price"),
            Err(ConnectorError::Malformed(m)) if m.contains("price")
        ));
    }

    #[test]
    fn sums_and_unit_prices() {
        assert_eq!(
            sum(["1.10", "2.20"], "x").map(format).ok().as_deref(),
            Some("3.30")
        );
        let total = parse("178.00", "x").unwrap_or_default();
        assert_eq!(format(per_unit(total, 2)), "89.00");
        let odd = parse("10.00", "x").unwrap_or_default();
        assert_eq!(format(per_unit(odd, 3)), "3.3333");
        let small = parse("1.00", "x").unwrap_or_default();
        assert_eq!(format(per_unit(small, 8)), "0.125");
    }
}
