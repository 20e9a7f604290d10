//! From switchyard's invoice to Xero's JSON and back: the `where` filters that find contacts,
//! items and invoices, the bodies that create them, the tax type of each line, and which of
//! Xero's answers is the one wanted.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde_json::{json, Map, Value};

use super::wire;
use crate::connectors::{money, ConnectorError};
use crate::domain::accounting::{AccountingSettings, InvoiceStatus};
use crate::domain::invoice::{InvoiceContact, InvoiceDraft, InvoiceLine, PostedInvoice};

/// Xero's longest item name.
const ITEM_NAME_MAX: usize = 50;

/// The tax type of untaxed lines.
const NO_TAX: &str = "NONE";

/// A string literal of a `where` filter. Xero's filters are .NET Dynamic LINQ, where a quote
/// inside a literal is written twice.
pub fn literal(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// `field=="a" OR field=="b"`: one lookup for several values.
pub fn any_of<'a>(field: &str, values: impl IntoIterator<Item = &'a str>) -> String {
    values
        .into_iter()
        .map(|v| format!("{field}=={}", literal(v)))
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// The contacts that may be the invoice's: by email when it has one, or by name. Both in one
/// call; [`pick_contact`] prefers the email.
pub fn contact_filter(contact: &InvoiceContact) -> String {
    let name = format!("Name=={}", literal(contact.name.trim()));
    match contact
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        Some(email) => format!("EmailAddress=={} OR {name}", literal(email)),
        None => name,
    }
}

/// The active contact with the invoice's email, else the one with its name (Xero compares both
/// without regard to case, and names are unique among active contacts).
pub fn pick_contact<'a>(found: &'a [wire::Contact], contact: &InvoiceContact) -> Option<&'a str> {
    let active = || {
        found.iter().filter(|c| {
            c.contact_status
                .as_deref()
                .is_none_or(|s| s.eq_ignore_ascii_case("ACTIVE"))
        })
    };
    let same = |a: &str, b: &str| a.trim().eq_ignore_ascii_case(b.trim());
    let by_email = contact.email.as_deref().and_then(|email| {
        active().find(|c| c.email_address.as_deref().is_some_and(|e| same(e, email)))
    });
    by_email
        .or_else(|| active().find(|c| same(&c.name, &contact.name)))
        .map(|c| c.contact_id.as_str())
}

pub fn contact_body(contact: &InvoiceContact) -> Value {
    let mut element = json!({ "Name": contact.name.trim() });
    if let Some(email) = contact.email.as_deref().map(str::trim) {
        element["EmailAddress"] = json!(email);
    }
    json!({ "Contacts": [element] })
}

/// The distinct item codes the invoice's lines name, in order of first use.
pub fn item_codes(invoice: &InvoiceDraft) -> Vec<&str> {
    let mut codes: Vec<&str> = Vec::new();
    for sku in invoice.lines.iter().filter_map(|l| sku(l)) {
        if !codes.iter().any(|c| c.eq_ignore_ascii_case(sku)) {
            codes.push(sku);
        }
    }
    codes
}

fn sku(line: &InvoiceLine) -> Option<&str> {
    line.sku.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Items for the codes Xero does not know, each from the first line naming it: sold at the
/// line's price into the connection's sales account.
pub fn items_body(
    invoice: &InvoiceDraft,
    missing: &[&str],
    settings: &AccountingSettings,
) -> Value {
    let items: Vec<Value> = missing
        .iter()
        .filter_map(|code| {
            let line = invoice
                .lines
                .iter()
                .find(|l| sku(l).is_some_and(|s| s.eq_ignore_ascii_case(code)))?;
            let name: String = line
                .description
                .trim()
                .chars()
                .take(ITEM_NAME_MAX)
                .collect();
            Some(json!({
                "Code": code,
                "Name": name,
                "Description": line.description,
                "SalesDetails": {
                    "UnitPrice": number(line.unit_amount),
                    "AccountCode": settings.sales_account_code,
                },
            }))
        })
        .collect();
    json!({ "Items": items })
}

/// Whether a line carries tax: an amount, or a rate above zero.
fn taxed(line: &InvoiceLine) -> bool {
    !line.tax_amount.is_zero() || line.tax_rate.is_some_and(|r| r > Decimal::ZERO)
}

/// Whether choosing the lines' tax types needs Xero's tax rates.
pub fn needs_tax_rates(invoice: &InvoiceDraft, settings: &AccountingSettings) -> bool {
    settings.tax_type.is_none()
        && invoice
            .lines
            .iter()
            .any(|l| taxed(l) && l.tax_rate.is_some())
}

/// Each line's `TaxType`: `NONE` when untaxed; the connection's tax type when set; else the
/// active sales rate of Xero's equal to the line's rate. `None` (a taxed line without a rate)
/// leaves it to the account's default. A rate Xero does not have is a configuration to fix.
pub fn tax_types(
    invoice: &InvoiceDraft,
    settings: &AccountingSettings,
    rates: &[wire::TaxRate],
) -> Result<Vec<Option<String>>, ConnectorError> {
    invoice
        .lines
        .iter()
        .map(|line| {
            if !taxed(line) {
                return Ok(Some(NO_TAX.to_owned()));
            }
            if let Some(tax_type) = &settings.tax_type {
                return Ok(Some(tax_type.clone()));
            }
            let Some(rate) = line.tax_rate else {
                return Ok(None);
            };
            rates
                .iter()
                .find(|r| {
                    r.can_apply_to_revenue
                        && r.status
                            .as_deref()
                            .is_none_or(|s| s.eq_ignore_ascii_case("ACTIVE"))
                        && money::parse(&r.effective_rate, "EffectiveRate").ok() == Some(rate)
                })
                .map(|r| Some(r.tax_type.clone()))
                .ok_or_else(|| {
                    ConnectorError::Invalid(format!(
                        "the Xero organisation has no active sales tax rate of {rate}% (line \
                         {:?}); add one, or set the connection's tax_type",
                        line.description
                    ))
                })
        })
        .collect()
}

/// A decimal as a JSON number, as Xero's API takes amounts and quantities.
fn number(amount: Decimal) -> Value {
    amount
        .to_f64()
        .and_then(serde_json::Number::from_f64)
        .map_or_else(|| json!(amount.to_string()), Value::Number)
}

/// The `PUT Invoices` body: a sales invoice (`ACCREC`) to the contact, amounts exclusive of tax
/// with each line's tax as the order charged it, so Xero's total is the order's.
/// `item_codes[i]` and `tax_types[i]` belong to line `i`.
pub fn invoice_body(
    invoice: &InvoiceDraft,
    contact_id: &str,
    item_codes: &[Option<String>],
    tax_types: &[Option<String>],
    settings: &AccountingSettings,
) -> Value {
    let lines: Vec<Value> = invoice
        .lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let mut element = Map::new();
            if let Some(Some(code)) = item_codes.get(i) {
                element.insert("ItemCode".into(), json!(code));
            }
            element.insert("Description".into(), json!(line.description));
            element.insert("Quantity".into(), number(line.quantity));
            element.insert("UnitAmount".into(), number(line.unit_amount));
            element.insert("AccountCode".into(), json!(settings.sales_account_code));
            if let Some(Some(tax_type)) = tax_types.get(i) {
                element.insert("TaxType".into(), json!(tax_type));
            }
            element.insert("TaxAmount".into(), number(line.tax_amount));
            Value::Object(element)
        })
        .collect();
    let status = match settings.invoice_status {
        InvoiceStatus::Draft => "DRAFT",
        InvoiceStatus::Authorised => "AUTHORISED",
    };
    json!({ "Invoices": [{
        "Type": "ACCREC",
        "Contact": { "ContactID": contact_id },
        "Date": invoice.date.format("%Y-%m-%d").to_string(),
        "Reference": invoice.reference,
        "CurrencyCode": invoice.currency,
        "Status": status,
        "LineAmountTypes": "Exclusive",
        "LineItems": lines,
    }]})
}

pub fn posted(invoice: &wire::Invoice) -> Result<PostedInvoice, ConnectorError> {
    Ok(PostedInvoice {
        id: invoice.invoice_id.clone(),
        number: invoice.invoice_number.clone(),
        total: money::parse(&invoice.total, "Invoice Total")?,
    })
}

/// The sales invoice with exactly this reference (Xero's filter ignores letter case), not
/// voided or deleted; the most recently updated when there are several.
pub fn newest_live<'a>(
    invoices: &'a [wire::Invoice],
    reference: &str,
) -> Option<&'a wire::Invoice> {
    invoices
        .iter()
        .filter(|i| i.kind.is_empty() || i.kind.eq_ignore_ascii_case("ACCREC"))
        .filter(|i| i.reference.as_deref() == Some(reference))
        .filter(|i| !matches!(i.status.to_ascii_uppercase().as_str(), "VOIDED" | "DELETED"))
        // `max_by_key` keeps the last of equals: Xero lists in the order they were created.
        .max_by_key(|i| {
            i.updated
                .as_deref()
                .and_then(wire::ms_date)
                .unwrap_or(i64::MIN)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn line(sku: Option<&str>, tax: &str, rate: Option<&str>) -> InvoiceLine {
        InvoiceLine {
            sku: sku.map(str::to_owned),
            description: format!("{} line", sku.unwrap_or("free")),
            quantity: d("2"),
            unit_amount: d("10.125"),
            tax_amount: d(tax),
            tax_rate: rate.map(d),
        }
    }

    fn draft(lines: Vec<InvoiceLine>) -> InvoiceDraft {
        InvoiceDraft {
            reference: "#1001".into(),
            date: NaiveDate::from_ymd_opt(2026, 12, 5).unwrap(),
            currency: "GBP".into(),
            contact: InvoiceContact {
                name: "Jo \"JB\" Bloggs".into(),
                email: Some("jo@example.com".into()),
            },
            lines,
        }
    }

    fn rate(tax_type: &str, effective: &str, revenue: bool) -> wire::TaxRate {
        wire::TaxRate {
            tax_type: tax_type.into(),
            status: Some("ACTIVE".into()),
            effective_rate: effective.into(),
            can_apply_to_revenue: revenue,
        }
    }

    #[test]
    fn filters_quote_their_literals() {
        let inv = draft(vec![]);
        assert_eq!(
            contact_filter(&inv.contact),
            r#"EmailAddress=="jo@example.com" OR Name=="Jo ""JB"" Bloggs""#
        );
        assert_eq!(any_of("Code", ["A", "B"]), r#"Code=="A" OR Code=="B""#);
    }

    #[test]
    fn the_email_wins_over_the_name_and_archived_contacts_are_passed_over() {
        let c = |id: &str, name: &str, email: Option<&str>, status: &str| wire::Contact {
            contact_id: id.into(),
            name: name.into(),
            email_address: email.map(str::to_owned),
            contact_status: Some(status.into()),
        };
        let inv = draft(vec![]);
        let found = vec![
            c("1", "jo \"jb\" bloggs", Some(""), "ACTIVE"),
            c("2", "Jo at work", Some("JO@example.com"), "ACTIVE"),
        ];
        assert_eq!(pick_contact(&found, &inv.contact), Some("2"));
        assert_eq!(pick_contact(&found[..1], &inv.contact), Some("1"));
        let archived = vec![c("3", "Jo \"JB\" Bloggs", None, "ARCHIVED")];
        assert_eq!(pick_contact(&archived, &inv.contact), None);
    }

    #[test]
    fn each_line_gets_its_tax_type() {
        let inv = draft(vec![
            line(Some("A"), "4.05", Some("20")),
            line(None, "0", None),
            line(None, "0", Some("0")),
            line(None, "1.00", None),
        ]);
        let rates = [
            rate("INPUT2", "20.0", false),
            rate("OUTPUT2", "20.0", true),
            rate("NONE", "0.0", true),
        ];
        let settings = AccountingSettings::default();
        assert!(needs_tax_rates(&inv, &settings));
        assert_eq!(
            tax_types(&inv, &settings, &rates).unwrap(),
            vec![
                Some("OUTPUT2".into()),
                Some("NONE".into()),
                Some("NONE".into()),
                None
            ]
        );
        let fixed = AccountingSettings {
            tax_type: Some("RROUTPUT".into()),
            ..settings.clone()
        };
        assert!(!needs_tax_rates(&inv, &fixed));
        assert_eq!(
            tax_types(&inv, &fixed, &[]).unwrap()[0].as_deref(),
            Some("RROUTPUT")
        );
        let odd = draft(vec![line(None, "1.00", Some("7.5"))]);
        assert!(matches!(
            tax_types(&odd, &settings, &rates),
            Err(ConnectorError::Invalid(m)) if m.contains("7.5%")
        ));
    }

    #[test]
    fn the_invoice_body_says_what_the_draft_says() {
        let inv = draft(vec![
            line(Some("A"), "4.05", Some("20")),
            line(None, "0", None),
        ]);
        let settings = AccountingSettings {
            invoice_status: InvoiceStatus::Authorised,
            ..AccountingSettings::default()
        };
        let body = invoice_body(
            &inv,
            "c-1",
            &[Some("A".into()), None],
            &[Some("OUTPUT2".into()), Some("NONE".into())],
            &settings,
        );
        let sent = &body["Invoices"][0];
        assert_eq!(sent["Type"], "ACCREC");
        assert_eq!(sent["Contact"], json!({"ContactID": "c-1"}));
        assert_eq!(sent["Date"], "2026-12-05");
        assert_eq!(sent["Reference"], "#1001");
        assert_eq!(sent["Status"], "AUTHORISED");
        assert_eq!(sent["LineAmountTypes"], "Exclusive");
        assert_eq!(
            sent["LineItems"][0],
            json!({"ItemCode": "A", "Description": "A line", "Quantity": 2.0,
                   "UnitAmount": 10.125, "AccountCode": "200", "TaxType": "OUTPUT2", "TaxAmount": 4.05})
        );
        assert!(sent["LineItems"][1].get("ItemCode").is_none());
    }

    #[test]
    fn items_are_made_from_the_first_line_naming_them() {
        let mut long = line(Some("b"), "0", None);
        long.description = "x".repeat(80);
        let inv = draft(vec![
            line(Some("A"), "0", None),
            long,
            line(Some("B"), "0", None),
        ]);
        assert_eq!(item_codes(&inv), vec!["A", "b"]);
        let body = items_body(&inv, &["b"], &AccountingSettings::default());
        let item = &body["Items"][0];
        assert_eq!(item["Code"], "b");
        assert_eq!(item["Name"].as_str().map(str::len), Some(50));
        assert_eq!(item["SalesDetails"]["AccountCode"], "200");
        assert_eq!(item["SalesDetails"]["UnitPrice"], 10.125);
    }

    #[test]
    fn the_newest_live_invoice_with_the_exact_reference_is_the_one() {
        let i = |id: &str, reference: &str, status: &str, updated: i64| wire::Invoice {
            invoice_id: id.into(),
            invoice_number: format!("INV-{id}"),
            kind: "ACCREC".into(),
            reference: Some(reference.into()),
            status: status.into(),
            total: "1.00".into(),
            updated: Some(format!("/Date({updated}+0000)/")),
        };
        let found = vec![
            i("1", "web-1001", "AUTHORISED", 10),
            i("2", "web-1001", "DRAFT", 30),
            i("3", "web-1001", "VOIDED", 50),
            i("4", "web-1001a", "DRAFT", 60),
            i("5", "WEB-1001", "DRAFT", 70),
        ];
        assert_eq!(
            newest_live(&found, "web-1001").map(|i| i.invoice_id.as_str()),
            Some("2")
        );
        assert!(newest_live(&found[2..3], "web-1001").is_none());
        let posted = posted(&found[0]).unwrap();
        assert_eq!((posted.number.as_str(), posted.total), ("INV-1", d("1")));
    }
}
