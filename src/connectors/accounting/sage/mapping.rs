//! An invoice draft in Sage's terms: each line's tax rate, and the bodies of the creates.
//!
//! Every line of the draft, shipping and discounts included, becomes an `invoice_lines` entry
//! with the draft's own tax amount, so Sage's totals are the draft's to the penny (Sage's
//! `shipping_net_amount` would have Sage work the shipping tax out from a rate instead).

use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::connectors::ConnectorError;
use crate::domain::invoice::{InvoiceContact, InvoiceDraft, InvoiceLine};

/// A Sage tax rate as the connector matches it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rate {
    pub id: String,
    pub percentage: Decimal,
}

/// The rate an untaxed line is posted with: zero-rated when the draft says its rate is 0 %,
/// outside the scope of tax when it names no rate. Sage's ids are country-prefixed
/// (`GB_ZERO`, `IE_ZERO`), so the suffix is matched, then any 0 % rate.
fn zero_rate(rates: &[Rate], stated_zero: bool) -> Option<&Rate> {
    let suffix = if stated_zero { "_ZERO" } else { "_NO_TAX" };
    let zero = |r: &&Rate| r.percentage.is_zero();
    rates
        .iter()
        .filter(zero)
        .find(|r| r.id.ends_with(suffix))
        .or_else(|| rates.iter().find(zero))
}

/// The Sage tax rate id for line `index`: for a taxed line the connection's `tax_type` when
/// set, else the rate of the line's percentage, else the ledger account's own default rate;
/// for an untaxed line the rate of its percentage, else a zero rate.
pub fn tax_rate_id(
    line: &InvoiceLine,
    index: usize,
    tax_type: Option<&str>,
    rates: &[Rate],
    account_default: Option<&str>,
) -> Result<String, ConnectorError> {
    let taxed = !line.tax_amount.is_zero();
    if let (true, Some(id)) = (taxed, tax_type) {
        return Ok(id.to_owned());
    }
    let by_percentage = line.tax_rate.filter(|p| !p.is_zero()).and_then(|p| {
        rates
            .iter()
            .find(|r| r.percentage == p)
            .map(|r| r.id.clone())
    });
    if let Some(id) = by_percentage {
        return Ok(id);
    }
    let fallback = if taxed {
        account_default.filter(|id| rates.iter().any(|r| r.id == *id && !r.percentage.is_zero()))
    } else {
        zero_rate(rates, line.tax_rate.is_some()).map(|r| r.id.as_str())
    };
    fallback.map(str::to_owned).ok_or_else(|| {
        let rate = line
            .tax_rate
            .map_or("no stated rate".to_owned(), |p| format!("{p} %"));
        ConnectorError::Invalid(format!(
            "lines[{index}] carries tax {} ({rate}) and the Sage business has no tax rate for \
             it: set settings.tax_type to a Sage tax rate id",
            line.tax_amount
        ))
    })
}

/// `POST /contacts`: a customer, with the email on its main contact person.
pub fn new_contact(contact: &InvoiceContact) -> Value {
    let mut body = json!({
        "name": contact.name,
        "contact_type_ids": ["CUSTOMER"],
    });
    if let Some(email) = &contact.email {
        body["main_contact_person"] = json!({ "email": email });
    }
    json!({ "contact": body })
}

/// `POST /sales_invoices`: one line per draft line, each with its tax rate id (`rate_ids`, in
/// line order). [`with_idempotency_id`] adds the create's key.
pub fn new_sales_invoice(
    draft: &InvoiceDraft,
    contact_id: &str,
    ledger_account_id: &str,
    rate_ids: &[String],
) -> Value {
    let lines: Vec<Value> = draft
        .lines
        .iter()
        .zip(rate_ids)
        .map(|(line, rate)| {
            json!({
                "description": line.description,
                "ledger_account_id": ledger_account_id,
                "quantity": line.quantity.to_string(),
                "unit_price": line.unit_amount.to_string(),
                "tax_rate_id": rate,
                "tax_amount": line.tax_amount.to_string(),
            })
        })
        .collect();
    json!({
        "sales_invoice": {
            "contact_id": contact_id,
            "date": draft.date.format("%Y-%m-%d").to_string(),
            "reference": draft.reference,
            "currency_id": draft.currency,
            "invoice_lines": lines,
        }
    })
}

/// `body` with `idempotency_id` inside the resource, where Sage reads it.
pub fn with_idempotency_id(body: &Value, idempotency_key: &str) -> Value {
    let mut body = body.clone();
    if let Some(invoice) = body.get_mut("sales_invoice").and_then(Value::as_object_mut) {
        invoice.insert("idempotency_id".to_owned(), json!(idempotency_key));
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn uk() -> Vec<Rate> {
        [
            ("GB_STANDARD", "20.0"),
            ("GB_LOWER", "5.0"),
            ("GB_ZERO", "0.0"),
            ("GB_EXEMPT", "0.0"),
            ("GB_NO_TAX", "0.0"),
        ]
        .into_iter()
        .map(|(id, p)| Rate {
            id: id.into(),
            percentage: d(p),
        })
        .collect()
    }

    fn line(tax: &str, rate: Option<&str>) -> InvoiceLine {
        InvoiceLine {
            sku: None,
            description: "Tent".into(),
            quantity: d("2"),
            unit_amount: d("10.00"),
            tax_amount: d(tax),
            tax_rate: rate.map(d),
        }
    }

    #[test]
    fn a_line_takes_the_setting_then_its_percentage_then_the_accounts_default() {
        let rates = uk();
        let pick = |l: &InvoiceLine, setting, default| tax_rate_id(l, 0, setting, &rates, default);
        let taxed = line("4.00", Some("20"));
        assert_eq!(pick(&taxed, None, None).unwrap(), "GB_STANDARD");
        assert_eq!(pick(&taxed, Some("GB_LOWER"), None).unwrap(), "GB_LOWER");
        assert_eq!(
            pick(&line("1.00", Some("5")), None, None).unwrap(),
            "GB_LOWER"
        );
        let odd = line("1.37", None);
        assert_eq!(
            pick(&odd, None, Some("GB_STANDARD")).unwrap(),
            "GB_STANDARD"
        );
        assert_eq!(
            pick(&line("1.37", Some("17.5")), None, Some("GB_STANDARD")).unwrap(),
            "GB_STANDARD"
        );
        let err = pick(&odd, None, Some("GB_ZERO")).unwrap_err();
        assert!(
            matches!(&err, ConnectorError::Invalid(m) if m.contains("lines[0]") && m.contains("settings.tax_type")),
            "{err:?}"
        );
    }

    #[test]
    fn an_untaxed_line_is_zero_rated_or_outside_the_scope_of_tax() {
        let rates = uk();
        let pick = |l: &InvoiceLine| tax_rate_id(l, 0, Some("GB_STANDARD"), &rates, None);
        assert_eq!(pick(&line("0", Some("0"))).unwrap(), "GB_ZERO");
        assert_eq!(pick(&line("0", None)).unwrap(), "GB_NO_TAX");
        let irish = vec![Rate {
            id: "IE_ZERO".into(),
            percentage: Decimal::ZERO,
        }];
        assert_eq!(
            tax_rate_id(&line("0", None), 0, None, &irish, None).unwrap(),
            "IE_ZERO"
        );
    }

    #[test]
    fn the_invoice_carries_every_line_with_its_tax_and_the_idempotency_id_inside() {
        let draft = InvoiceDraft {
            reference: "#1001".into(),
            date: chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
            currency: "GBP".into(),
            contact: InvoiceContact {
                name: "Jo".into(),
                email: None,
            },
            lines: vec![line("4.00", Some("20")), line("0", Some("0"))],
        };
        let rates = ["GB_STANDARD".to_owned(), "GB_ZERO".to_owned()];
        let body = with_idempotency_id(&new_sales_invoice(&draft, "c1", "la1", &rates), "key-1");
        let invoice = &body["sales_invoice"];
        assert_eq!(invoice["idempotency_id"], "key-1");
        assert_eq!(invoice["date"], "2026-03-01");
        assert_eq!(invoice["reference"], "#1001");
        assert_eq!(invoice["invoice_lines"][0]["tax_amount"], "4.00");
        assert_eq!(invoice["invoice_lines"][0]["unit_price"], "10.00");
        assert_eq!(invoice["invoice_lines"][1]["tax_rate_id"], "GB_ZERO");
        assert_eq!(invoice["invoice_lines"][1]["ledger_account_id"], "la1");
        let contact = new_contact(&draft.contact);
        assert_eq!(contact["contact"]["contact_type_ids"][0], "CUSTOMER");
        assert!(contact["contact"].get("main_contact_person").is_none());
    }
}
