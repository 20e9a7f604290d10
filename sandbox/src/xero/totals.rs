//! Invoice arithmetic as Xero does it: each line's amount from quantity, unit amount and discount,
//! its tax from the line's tax rate (added on top for `Exclusive`, taken out of the amount for
//! `Inclusive`, none for `NoTax`), rounded to the cent per line, then summed into `SubTotal`,
//! `TotalTax` and `Total`. Integer arithmetic throughout so totals always equal the sum of lines.

/// Quantities, unit amounts and rates are carried in ten-thousandths (four decimal places, the
/// most Xero accepts); money in cents.
pub const E4: i64 = 10_000;

/// `LineAmountTypes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmountTypes {
    Exclusive,
    Inclusive,
    NoTax,
}

impl AmountTypes {
    pub fn parse(text: &str) -> Option<AmountTypes> {
        match text.to_ascii_lowercase().as_str() {
            "exclusive" => Some(AmountTypes::Exclusive),
            "inclusive" => Some(AmountTypes::Inclusive),
            "notax" => Some(AmountTypes::NoTax),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AmountTypes::Exclusive => "Exclusive",
            AmountTypes::Inclusive => "Inclusive",
            AmountTypes::NoTax => "NoTax",
        }
    }
}

/// Divides rounding half away from zero, as Xero rounds money.
pub fn div_round(numerator: i128, denominator: i128) -> i64 {
    if denominator == 0 {
        return 0;
    }
    let half = denominator.abs() / 2;
    let magnitude = (numerator.abs() + half) / denominator.abs();
    let negative = (numerator < 0) != (denominator < 0);
    let value = if negative { -magnitude } else { magnitude };
    i64::try_from(value).unwrap_or(if negative { i64::MIN } else { i64::MAX })
}

/// Rounds a value in ten-thousandths to `dp` decimal places (still in ten-thousandths).
pub fn round_e4(value: i64, dp: u32) -> i64 {
    let step = 10_i64.pow(4 - dp.min(4));
    div_round(value as i128, step as i128) * step
}

/// `quantity × unit amount`, less a percentage or fixed discount, in cents.
pub fn line_amount(
    quantity_e4: i64,
    unit_e4: i64,
    discount_rate_e4: Option<i64>,
    discount_cents: Option<i64>,
) -> i64 {
    let gross = quantity_e4 as i128 * unit_e4 as i128; // 1e-8 units
    let gross = match discount_rate_e4 {
        Some(rate) => gross * (100 * E4 - rate) as i128 / (100 * E4) as i128,
        None => gross,
    };
    div_round(gross, 1_000_000) - discount_cents.unwrap_or(0)
}

/// The tax on a line of `line_cents` at `rate_e4` percent (in ten-thousandths).
pub fn line_tax(line_cents: i64, rate_e4: i64, types: AmountTypes) -> i64 {
    let line = line_cents as i128;
    let rate = rate_e4 as i128;
    match types {
        AmountTypes::Exclusive => div_round(line * rate, 100 * E4 as i128),
        AmountTypes::Inclusive => div_round(line * rate, 100 * E4 as i128 + rate),
        AmountTypes::NoTax => 0,
    }
}

/// `(SubTotal, TotalTax, Total)` of lines given as `(line amount, tax)` in cents.
pub fn invoice_totals(lines: &[(i64, i64)], types: AmountTypes) -> (i64, i64, i64) {
    let amounts: i64 = lines.iter().map(|(a, _)| a).sum();
    let tax: i64 = lines.iter().map(|(_, t)| t).sum();
    let sub_total = match types {
        AmountTypes::Inclusive => amounts - tax,
        AmountTypes::Exclusive | AmountTypes::NoTax => amounts,
    };
    (sub_total, tax, sub_total + tax)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VAT: i64 = 20 * E4;

    #[test]
    fn exclusive_adds_tax_per_line() {
        // 3 × 19.99 = 59.97; VAT 11.994 -> 11.99.
        let a = line_amount(3 * E4, 199_900, None, None);
        assert_eq!(a, 5997);
        let t = line_tax(a, VAT, AmountTypes::Exclusive);
        assert_eq!(t, 1199);
        let b = line_amount(E4, 450_000, None, None);
        let u = line_tax(b, VAT, AmountTypes::Exclusive);
        assert_eq!(
            invoice_totals(&[(a, t), (b, u)], AmountTypes::Exclusive),
            (10497, 2099, 12596)
        );
    }

    #[test]
    fn inclusive_takes_tax_out_of_the_amount() {
        // 120.00 including 20 % VAT is 100.00 + 20.00; 19.99 including VAT holds 3.33.
        assert_eq!(line_tax(12_000, VAT, AmountTypes::Inclusive), 2000);
        assert_eq!(line_tax(1999, VAT, AmountTypes::Inclusive), 333);
        assert_eq!(
            invoice_totals(&[(12_000, 2000), (1999, 333)], AmountTypes::Inclusive),
            (11_666, 2333, 13_999)
        );
        assert_eq!(line_tax(1999, VAT, AmountTypes::NoTax), 0);
    }

    #[test]
    fn discounts_and_rounding() {
        // 2 × 10.00 at 12.5 % off = 17.50; 1 × 10.00 less 2.50 = 7.50.
        assert_eq!(line_amount(2 * E4, 10 * E4, Some(125_000), None), 1750);
        assert_eq!(line_amount(E4, 10 * E4, None, Some(250)), 750);
        // 0.3333 × 1.00 = 0.3333 -> 0.33; half away from zero.
        assert_eq!(line_amount(3333, E4, None, None), 33);
        assert_eq!(div_round(-5, 10), -1);
        assert_eq!(div_round(5, 10), 1);
        assert_eq!(round_e4(199_949, 2), 199_900);
        assert_eq!(round_e4(199_950, 2), 200_000);
        assert_eq!(AmountTypes::parse("NOTAX"), Some(AmountTypes::NoTax));
    }
}
