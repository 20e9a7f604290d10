//! Invoices switchyard posts to an accounting platform: what one says (its contact, lines,
//! amounts and tax) independently of the platform, and what the platform answered.
//!
//! Amounts are exact decimals. A line's `unit_amount` excludes tax, and its `tax_amount` is the
//! tax on the whole line as the order charged it, so the invoice's total is the order's total
//! whatever rounding rule a platform would apply to a rate.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::FieldError;

/// Who the invoice is made out to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Jo Bloggs", "email": "jo@example.com"}))]
pub struct InvoiceContact {
    /// 1 to 255 characters: how the platform's contact is found, or named when it is created.
    #[schema(min_length = 1, max_length = 255)]
    pub name: String,
    /// Found by first, when given.
    #[serde(default)]
    pub email: Option<String>,
}

/// One line of an invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"sku": "TENT-2P", "description": "Two-person tent", "quantity": "2",
    "unit_amount": "149.00", "tax_amount": "59.60", "tax_rate": "20"}))]
pub struct InvoiceLine {
    /// The item code on the platform (the product's SKU); null for a line without an item, such
    /// as shipping.
    #[serde(default)]
    pub sku: Option<String>,
    /// 1 to 4000 characters.
    #[schema(min_length = 1, max_length = 4000)]
    pub description: String,
    /// More than 0.
    #[schema(value_type = String, example = "2")]
    pub quantity: Decimal,
    /// The price of one unit before tax; may be negative for a discount line.
    #[schema(value_type = String, example = "149.00")]
    pub unit_amount: Decimal,
    /// The tax on the whole line; 0 for an untaxed line.
    #[schema(value_type = String, example = "59.60")]
    pub tax_amount: Decimal,
    /// The line's tax rate in percent, when known: picks the platform's tax rate.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "20")]
    pub tax_rate: Option<Decimal>,
}

impl InvoiceLine {
    /// Quantity times unit amount, before tax.
    pub fn net(&self) -> Decimal {
        self.quantity * self.unit_amount
    }
}

/// An invoice as switchyard posts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InvoiceDraft {
    /// The order number, or the caller's reference: how the platform's copy is found again.
    pub reference: String,
    pub date: NaiveDate,
    /// ISO 4217.
    pub currency: String,
    pub contact: InvoiceContact,
    pub lines: Vec<InvoiceLine>,
}

impl InvoiceDraft {
    pub fn subtotal(&self) -> Decimal {
        self.lines.iter().map(InvoiceLine::net).sum()
    }

    pub fn total_tax(&self) -> Decimal {
        self.lines.iter().map(|l| l.tax_amount).sum()
    }

    pub fn total(&self) -> Decimal {
        self.subtotal() + self.total_tax()
    }

    /// The rules every platform shares; the first broken one names its field.
    pub fn validate(&self) -> Result<(), FieldError> {
        let text = |field: &str, value: &str, max: usize| -> Result<(), FieldError> {
            if value.trim().is_empty() || value.chars().count() > max {
                return Err(FieldError::new(
                    field,
                    format!("must be 1 to {max} characters, not only spaces"),
                ));
            }
            Ok(())
        };
        text("reference", &self.reference, 255)?;
        text("contact.name", &self.contact.name, 255)?;
        if let Some(email) = &self.contact.email {
            if !email.contains('@') || email.len() > 255 {
                return Err(FieldError::new("contact.email", "must be an email address"));
            }
        }
        if self.currency.len() != 3 || !self.currency.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(FieldError::new(
                "currency",
                "must be an ISO 4217 code such as GBP",
            ));
        }
        if self.lines.is_empty() || self.lines.len() > 500 {
            return Err(FieldError::new("lines", "must hold 1 to 500 lines"));
        }
        for (i, line) in self.lines.iter().enumerate() {
            let at = |f: &str| format!("lines[{i}].{f}");
            text(&at("description"), &line.description, 4000)?;
            if let Some(sku) = &line.sku {
                text(&at("sku"), sku, 30)?;
            }
            if line.quantity <= Decimal::ZERO {
                return Err(FieldError::new(at("quantity"), "must be more than 0"));
            }
            for (f, v) in [
                ("unit_amount", line.unit_amount),
                ("tax_amount", line.tax_amount),
            ] {
                if v.scale() > 4 || v.abs() > Decimal::from(1_000_000_000) {
                    return Err(FieldError::new(
                        at(f),
                        "must have at most 4 decimal places and be below 1,000,000,000",
                    ));
                }
            }
            if line.tax_amount < Decimal::ZERO {
                return Err(FieldError::new(at("tax_amount"), "must not be negative"));
            }
            if let Some(rate) = line.tax_rate {
                if rate < Decimal::ZERO || rate > Decimal::from(100) {
                    return Err(FieldError::new(at("tax_rate"), "must be 0 to 100"));
                }
            }
        }
        Ok(())
    }
}

/// Why an order cannot be invoiced as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("order {field}: {reason}")]
pub struct NotInvoiceable {
    pub field: String,
    pub reason: String,
}

fn amount(text: &str, field: &str) -> Result<Decimal, NotInvoiceable> {
    text.trim().parse::<Decimal>().map_err(|_| NotInvoiceable {
        field: field.to_owned(),
        reason: format!("`{text}` is not a decimal amount"),
    })
}

/// The invoice of an order: a line per order line (its SKU as the item code, its unit price and
/// its tax), a shipping line carrying the tax the lines do not, and a discount line; dated the
/// day the order was placed, referenced by the order number, made out to its customer (or its
/// billing name, or the order number when the order names no one).
pub fn from_order(order: &super::ChannelOrder) -> Result<InvoiceDraft, NotInvoiceable> {
    let mut lines = Vec::new();
    for (i, l) in order.lines.iter().enumerate() {
        let tax = amount(&l.tax, &format!("lines[{i}].tax"))?;
        lines.push(InvoiceLine {
            sku: l.sku.clone().filter(|s| !s.trim().is_empty()),
            description: if l.title.trim().is_empty() {
                l.sku.clone().unwrap_or_else(|| "Item".to_owned())
            } else {
                l.title.clone()
            },
            quantity: Decimal::from(l.quantity),
            unit_amount: amount(&l.unit_price, &format!("lines[{i}].unit_price"))?,
            tax_amount: tax,
            tax_rate: None,
        });
    }
    let t = &order.totals;
    let line_tax: Decimal = lines.iter().map(|l| l.tax_amount).sum();
    let shipping = amount(&t.shipping, "totals.shipping")?;
    let shipping_tax = (amount(&t.tax, "totals.tax")? - line_tax).max(Decimal::ZERO);
    if shipping > Decimal::ZERO || shipping_tax > Decimal::ZERO {
        lines.push(InvoiceLine {
            sku: None,
            description: "Shipping".to_owned(),
            quantity: Decimal::ONE,
            unit_amount: shipping,
            tax_amount: shipping_tax,
            tax_rate: None,
        });
    }
    let discount = amount(&t.discount, "totals.discount")?;
    if discount > Decimal::ZERO {
        lines.push(InvoiceLine {
            sku: None,
            description: "Discount".to_owned(),
            quantity: Decimal::ONE,
            unit_amount: -discount,
            tax_amount: Decimal::ZERO,
            tax_rate: None,
        });
    }
    for line in &mut lines {
        line.tax_rate = rate_of(line);
    }
    let billing_name = order
        .billing_address
        .as_ref()
        .map(|a| a.name.clone())
        .filter(|n| !n.trim().is_empty());
    let name = Some(order.customer.name.clone())
        .filter(|n| !n.trim().is_empty())
        .or(billing_name)
        .unwrap_or_else(|| format!("Order {}", order.order_number));
    Ok(InvoiceDraft {
        reference: order.order_number.clone(),
        date: order.placed_at.date_naive(),
        currency: order.currency.to_ascii_uppercase(),
        contact: InvoiceContact {
            name,
            email: order.customer.email.clone().filter(|e| e.contains('@')),
        },
        lines,
    })
}

/// The line's tax rate in whole percent when its tax is that rate of its net amount to the
/// penny (20 % of 149.00 is 29.80): how a platform's tax rate is picked for it.
fn rate_of(line: &InvoiceLine) -> Option<Decimal> {
    let net = line.net();
    if net <= Decimal::ZERO {
        return (line.tax_amount == Decimal::ZERO).then_some(Decimal::ZERO);
    }
    let rate = (line.tax_amount * Decimal::from(100) / net).round();
    let expected = (net * rate / Decimal::from(100)).round_dp(2);
    ((expected - line.tax_amount).abs() <= Decimal::new(1, 2)).then_some(rate)
}

/// The platform's copy of an invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostedInvoice {
    /// The platform's id (Xero's `InvoiceID`, Sage's `id`).
    pub id: String,
    /// The number the platform gave it (`INV-0001`, `SI-1`).
    pub number: String,
    /// The total the platform computed, for comparing with switchyard's.
    pub total: Decimal,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    pub fn draft() -> InvoiceDraft {
        InvoiceDraft {
            reference: "#1001".into(),
            date: NaiveDate::from_ymd_opt(2026, 12, 5).unwrap(),
            currency: "GBP".into(),
            contact: InvoiceContact {
                name: "Jo Bloggs".into(),
                email: Some("jo@example.com".into()),
            },
            lines: vec![
                InvoiceLine {
                    sku: Some("TENT-2P".into()),
                    description: "Tent".into(),
                    quantity: d("2"),
                    unit_amount: d("149.00"),
                    tax_amount: d("59.60"),
                    tax_rate: Some(d("20")),
                },
                InvoiceLine {
                    sku: None,
                    description: "Shipping".into(),
                    quantity: d("1"),
                    unit_amount: d("4.99"),
                    tax_amount: d("1.00"),
                    tax_rate: Some(d("20")),
                },
            ],
        }
    }

    #[test]
    fn totals_are_the_lines_exactly() {
        let inv = draft();
        assert_eq!(inv.subtotal(), d("302.99"));
        assert_eq!(inv.total_tax(), d("60.60"));
        assert_eq!(inv.total(), d("363.59"));
        assert!(inv.validate().is_ok());
    }

    #[test]
    fn an_order_becomes_lines_shipping_and_discount_with_its_total() {
        use crate::domain::order::test_orders::{line, order};
        let mut taxed = line("2", Some("TENT"), 2);
        taxed.unit_price = "149.00".into();
        taxed.tax = "59.60".into();
        let mut o = order(vec![line("1", Some("PEG"), 3), taxed]);
        o.customer.name = "Jo Bloggs".into();
        o.currency = "gbp".into();
        o.totals.shipping = "4.99".into();
        o.totals.discount = "10.00".into();
        let line_tax: Decimal = o.lines.iter().map(|l| d(&l.tax)).sum();
        o.totals.tax = (line_tax + d("1.00")).to_string();
        let inv = from_order(&o).unwrap();
        assert_eq!(inv.reference, "#1001");
        assert_eq!(inv.currency, "GBP");
        assert_eq!(inv.lines.len(), o.lines.len() + 2);
        let shipping = &inv.lines[o.lines.len()];
        assert_eq!(
            (shipping.unit_amount, shipping.tax_amount),
            (d("4.99"), d("1.00"))
        );
        let discount = inv.lines.last().unwrap();
        assert_eq!(discount.unit_amount, d("-10.00"));
        let subtotal: Decimal = o
            .lines
            .iter()
            .map(|l| d(&l.unit_price) * Decimal::from(l.quantity))
            .sum();
        assert_eq!(
            inv.total(),
            subtotal + d("4.99") - d("10.00") + d(&o.totals.tax)
        );
        assert!(inv.validate().is_ok(), "{:?}", inv.validate());
        assert_eq!(inv.contact.name, "Jo Bloggs");
        assert_eq!(inv.lines[1].tax_rate, Some(d("20")));
        assert_eq!(inv.lines[0].tax_rate, Some(Decimal::ZERO));
    }

    #[test]
    fn a_line_tax_rate_is_read_off_its_amounts_when_exact() {
        let mut line = draft().lines[0].clone();
        assert_eq!(rate_of(&line), Some(d("20")));
        line.tax_amount = d("59.61");
        assert_eq!(rate_of(&line), Some(d("20")), "a penny of rounding");
        line.tax_amount = d("62.00");
        assert_eq!(rate_of(&line), None, "no rate gives that");
        line.tax_amount = Decimal::ZERO;
        assert_eq!(rate_of(&line), Some(Decimal::ZERO));
    }

    #[test]
    fn each_broken_rule_names_its_field() {
        type Change = Box<dyn Fn(&mut InvoiceDraft)>;
        let cases: Vec<(Change, &str)> = vec![
            (Box::new(|i| i.reference = " ".into()), "reference"),
            (Box::new(|i| i.currency = "gbp".into()), "currency"),
            (Box::new(|i| i.lines.clear()), "lines"),
            (
                Box::new(|i| i.lines[1].quantity = Decimal::ZERO),
                "lines[1].quantity",
            ),
            (
                Box::new(|i| i.lines[0].tax_amount = d("-1")),
                "lines[0].tax_amount",
            ),
            (
                Box::new(|i| i.lines[0].unit_amount = d("0.00001")),
                "lines[0].unit_amount",
            ),
            (
                Box::new(|i| i.contact.email = Some("nope".into())),
                "contact.email",
            ),
            (
                Box::new(|i| i.lines[0].tax_rate = Some(d("120"))),
                "lines[0].tax_rate",
            ),
        ];
        for (change, field) in cases {
            let mut inv = draft();
            change(&mut inv);
            assert_eq!(inv.validate().unwrap_err().field, field);
        }
    }
}
