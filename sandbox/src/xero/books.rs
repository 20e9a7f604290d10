//! The organisation's books and the rules Xero applies when a client writes to them: contacts
//! (names unique among active contacts; an invoice naming an unknown contact creates it), items
//! (codes unique), invoices (codes, tax types and items checked; totals computed; numbers
//! `INV-0001`...; status changes as Xero allows them) and payments (against authorised invoices,
//! never more than is due). Each write answers the record as rendered, or the rendered element
//! with the messages Xero would put in its `ValidationErrors`.

use chrono::{NaiveDate, Utc};
use serde_json::{json, Value};

use super::model::{
    addresses, phones, render_account, render_contact, render_invoice, render_item, render_payment,
    render_payment_brief, uk_chart, uk_tax_rates, Account, Contact, Details, Invoice, Item, Line,
    Payment, TaxRate,
};
use super::totals::{div_round, invoice_totals, line_amount, line_tax, round_e4, AmountTypes, E4};
use super::wire::{guid, parse_day};

/// The zero GUID Xero puts in an element that failed before it got an id.
const NO_ID: &str = "00000000-0000-0000-0000-000000000000";

/// Everything the organisation holds.
#[derive(Debug, Clone)]
pub struct Books {
    pub accounts: Vec<Account>,
    pub tax_rates: Vec<TaxRate>,
    pub contacts: Vec<Contact>,
    pub items: Vec<Item>,
    pub invoices: Vec<Invoice>,
    pub payments: Vec<Payment>,
    currency: String,
    /// Currencies subscribed to besides `currency`.
    currencies: Vec<String>,
    next_number: u32,
    opened: chrono::DateTime<Utc>,
}

fn text(el: &Value, key: &str) -> Option<String> {
    el.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// A number sent as a JSON number or numeric string, scaled to `scale` units; `Err` if present
/// but not a number.
fn scaled(el: &Value, key: &str, scale: i64) -> Result<Option<i64>, String> {
    let bad = || format!("{key} is not a valid number");
    match el.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            let f = n.as_f64().ok_or_else(bad)?;
            Ok(Some((f * scale as f64).round() as i64))
        }
        Some(Value::String(s)) => {
            let f: f64 = s.trim().parse().map_err(|_| bad())?;
            Ok(Some((f * scale as f64).round() as i64))
        }
        Some(_) => Err(bad()),
    }
}

fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// A status change Xero accepts on an existing invoice.
fn may_move(from: &str, to: &str) -> bool {
    from == to
        || matches!(
            (from, to),
            ("DRAFT", "SUBMITTED" | "AUTHORISED" | "DELETED")
                | ("SUBMITTED", "DRAFT" | "AUTHORISED" | "DELETED")
                | ("AUTHORISED", "VOIDED")
        )
}

impl Books {
    pub fn new(currency: &str) -> Books {
        Books {
            accounts: uk_chart(),
            tax_rates: uk_tax_rates(),
            currencies: Vec::new(),
            contacts: Vec::new(),
            items: Vec::new(),
            invoices: Vec::new(),
            payments: Vec::new(),
            currency: currency.to_owned(),
            next_number: 1,
            opened: Utc::now(),
        }
    }

    /// The books of an organisation set up as `config` says: its base currency, the others it
    /// is subscribed to, and the sales tax rates it added to the UK defaults.
    pub fn of(config: &super::XeroOrgConfig) -> Books {
        let mut books = Books::new(&config.currency);
        books.currencies = config.currencies.iter().map(|c| c.to_uppercase()).collect();
        for (i, added) in config.tax_rates.iter().enumerate() {
            books.tax_rates.push(TaxRate {
                name: added.name.clone(),
                tax_type: format!("TAX{:03}", i + 1),
                rate_e4: i64::from(added.percent) * 10_000,
                report_tax_type: "OUTPUT",
                revenue: true,
                expenses: false,
            });
        }
        books
    }

    pub fn accounts_json(&self) -> Vec<Value> {
        self.accounts
            .iter()
            .map(|a| render_account(a, self.opened))
            .collect()
    }

    pub fn contact_json(&self, id: &str) -> Value {
        self.contacts
            .iter()
            .find(|c| c.id == id)
            .map(render_contact)
            .unwrap_or_else(|| json!({"ContactID": id}))
    }

    /// An invoice as Xero renders it, with or without its lines.
    pub fn invoice_json(&self, inv: &Invoice, lines: bool, unit_dp: u32) -> Value {
        let payments = self
            .payments
            .iter()
            .filter(|p| p.invoice_id == inv.id)
            .map(render_payment_brief)
            .collect();
        render_invoice(
            inv,
            self.contact_json(&inv.contact_id),
            payments,
            lines,
            unit_dp,
        )
    }

    pub fn invoice(&self, id: &str) -> Option<&Invoice> {
        self.invoices.iter().find(|i| same(&i.id, id))
    }

    fn with_errors(mut element: Value, errors: &[String], flag: &str) -> Value {
        element[flag] = json!(true);
        element["StatusAttributeString"] = json!("ERROR");
        element["ValidationErrors"] = errors.iter().map(|m| json!({ "Message": m })).collect();
        element
    }

    fn contact_by_name(&self, name: &str, except: Option<&str>) -> Option<&Contact> {
        self.contacts
            .iter()
            .find(|c| same(c.name.trim(), name.trim()) && Some(c.id.as_str()) != except)
    }

    /// `PUT /Contacts` (and `POST`, which updates the contact named by `ContactID`).
    pub fn save_contact(&mut self, el: &Value) -> Result<Value, Value> {
        let existing = text(el, "ContactID")
            .and_then(|id| self.contacts.iter().position(|c| same(&c.id, &id)));
        let previous = existing.map(|i| self.contacts[i].clone());
        let name = text(el, "Name")
            .or(previous.as_ref().map(|c| c.name.clone()))
            .unwrap_or_default();
        let mut errors = Vec::new();
        if name.trim().is_empty() {
            errors.push("A contact name must be specified".to_owned());
        } else if self
            .contact_by_name(&name, previous.as_ref().map(|c| c.id.as_str()))
            .is_some()
        {
            errors.push(format!(
                "The contact name {name} is already assigned to another contact. The contact name must be unique across all active contacts."
            ));
        }
        let keep = |key: &str, field: fn(&Contact) -> &Option<String>| {
            text(el, key).or_else(|| previous.as_ref().and_then(|c| field(c).clone()))
        };
        let contact = Contact {
            id: previous.as_ref().map_or_else(guid, |c| c.id.clone()),
            name,
            first_name: keep("FirstName", |c| &c.first_name),
            last_name: keep("LastName", |c| &c.last_name),
            email: keep("EmailAddress", |c| &c.email),
            contact_number: keep("ContactNumber", |c| &c.contact_number),
            account_number: keep("AccountNumber", |c| &c.account_number),
            tax_number: keep("TaxNumber", |c| &c.tax_number),
            addresses: match el.get("Addresses") {
                Some(list) => addresses(Some(list)),
                None => previous
                    .as_ref()
                    .map(|c| c.addresses.clone())
                    .unwrap_or_default(),
            },
            phones: match el.get("Phones") {
                Some(list) => phones(Some(list)),
                None => previous
                    .as_ref()
                    .map(|c| c.phones.clone())
                    .unwrap_or_default(),
            },
            is_customer: previous.as_ref().is_some_and(|c| c.is_customer),
            is_supplier: previous.as_ref().is_some_and(|c| c.is_supplier),
            updated: Utc::now(),
        };
        if !errors.is_empty() {
            let mut element = render_contact(&contact);
            if previous.is_none() {
                element["ContactID"] = json!(NO_ID);
            }
            return Err(Self::with_errors(element, &errors, "HasValidationErrors"));
        }
        let rendered = render_contact(&contact);
        match existing {
            Some(i) => self.contacts[i] = contact,
            None => self.contacts.push(contact),
        }
        Ok(rendered)
    }

    /// `PUT /Items`.
    pub fn create_item(&mut self, el: &Value) -> Result<Value, Value> {
        let mut errors = Vec::new();
        let code = text(el, "Code").unwrap_or_default();
        if code.trim().is_empty() {
            errors.push("Item code must be specified".to_owned());
        } else if self.items.iter().any(|i| same(&i.code, &code)) {
            errors.push(format!("Item code '{code}' already exists"));
        }
        let mut details = |key: &str| -> Details {
            let d = el.get(key).cloned().unwrap_or(Value::Null);
            let unit_price_e4 = scaled(&d, "UnitPrice", E4).unwrap_or_else(|e| {
                errors.push(e);
                None
            });
            Details {
                unit_price_e4,
                account_code: text(&d, "AccountCode"),
                tax_type: text(&d, "TaxType"),
            }
        };
        let sales = details("SalesDetails");
        let purchase = details("PurchaseDetails");
        for d in [&sales, &purchase] {
            if let Some(code) = &d.account_code {
                if self.account(code).is_none() {
                    errors.push(format!("Account code '{code}' is not a valid code"));
                }
            }
            if let Some(tax) = &d.tax_type {
                if self.tax_rate(tax).is_none() {
                    errors.push(format!("The TaxType code '{tax}' does not exist"));
                }
            }
        }
        let item = Item {
            id: guid(),
            name: text(el, "Name").unwrap_or_else(|| code.clone()),
            code,
            description: text(el, "Description"),
            purchase_description: text(el, "PurchaseDescription"),
            sales,
            purchase,
            updated: Utc::now(),
        };
        let mut rendered = render_item(&item);
        if !errors.is_empty() {
            rendered["ItemID"] = json!(NO_ID);
            return Err(Self::with_errors(rendered, &errors, "HasValidationErrors"));
        }
        self.items.push(item);
        Ok(rendered)
    }

    fn account(&self, code: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| same(&a.code, code))
    }

    fn tax_rate(&self, tax_type: &str) -> Option<&TaxRate> {
        self.tax_rates.iter().find(|t| same(&t.tax_type, tax_type))
    }

    fn next_invoice_number(&mut self) -> String {
        loop {
            let number = format!("INV-{:04}", self.next_number);
            self.next_number += 1;
            if !self.invoices.iter().any(|i| same(&i.number, &number)) {
                return number;
            }
        }
    }

    /// The contact an invoice names: by `ContactID`, `ContactNumber` or `Name`; an unknown name
    /// creates the contact, as Xero does.
    fn invoice_contact(&mut self, el: &Value, errors: &mut Vec<String>) -> Option<String> {
        let c = el.get("Contact")?;
        if let Some(id) = text(c, "ContactID") {
            let found = self.contacts.iter().find(|x| same(&x.id, &id));
            if found.is_none() {
                errors.push(format!(
                    "The Contact with ContactID '{id}' could not be found"
                ));
            }
            return found.map(|x| x.id.clone());
        }
        if let Some(number) = text(c, "ContactNumber") {
            let found = self.contacts.iter().find(|x| {
                x.contact_number
                    .as_deref()
                    .is_some_and(|n| same(n, &number))
            });
            if let Some(found) = found {
                return Some(found.id.clone());
            }
        }
        let name = text(c, "Name").filter(|n| !n.trim().is_empty())?;
        if let Some(found) = self.contact_by_name(&name, None) {
            return Some(found.id.clone());
        }
        match self.save_contact(c) {
            Ok(created) => created["ContactID"].as_str().map(str::to_owned),
            Err(element) => {
                for e in element["ValidationErrors"].as_array().into_iter().flatten() {
                    errors.push(e["Message"].as_str().unwrap_or_default().to_owned());
                }
                None
            }
        }
    }

    fn build_line(
        &self,
        el: &Value,
        kind: &str,
        types: AmountTypes,
        unit_dp: u32,
        errors: &mut Vec<String>,
    ) -> Line {
        let mut num = |key: &str, scale: i64| {
            scaled(el, key, scale).unwrap_or_else(|e| {
                errors.push(e);
                None
            })
        };
        let quantity = num("Quantity", E4);
        let unit = num("UnitAmount", E4);
        let given_line = num("LineAmount", 100);
        let given_tax = num("TaxAmount", 100);
        let discount_rate = num("DiscountRate", E4);
        let discount_cents = num("DiscountAmount", 100);
        let sales = kind == "ACCREC";
        let item = text(el, "ItemCode").and_then(|code| {
            let found = self.items.iter().find(|i| same(&i.code, &code));
            if found.is_none() {
                errors.push(format!("Item code '{code}' is not valid"));
            }
            found
        });
        let defaults = item.map(|i| if sales { &i.sales } else { &i.purchase });
        let quantity = quantity.unwrap_or(
            if unit.is_some() || given_line.is_some() || item.is_some() {
                E4
            } else {
                0
            },
        );
        let unit = unit
            .or_else(|| defaults.and_then(|d| d.unit_price_e4))
            .or_else(|| {
                given_line
                    .filter(|_| quantity != 0)
                    .map(|cents| div_round(cents as i128 * 100 * E4 as i128, quantity as i128))
            })
            .map_or(0, |u| round_e4(u, unit_dp));
        let account = text(el, "AccountCode")
            .or_else(|| defaults.and_then(|d| d.account_code.clone()))
            .and_then(|code| {
                let found = self.account(&code).filter(|a| a.usable_on_lines());
                if found.is_none() {
                    errors.push(format!(
                        "Account code '{code}' is not a valid code for this document."
                    ));
                }
                found
            });
        let tax_type = if types == AmountTypes::NoTax {
            "NONE".to_owned()
        } else {
            text(el, "TaxType")
                .or_else(|| defaults.and_then(|d| d.tax_type.clone()))
                .or_else(|| account.map(|a| a.tax_type.to_owned()))
                .unwrap_or_else(|| "NONE".to_owned())
        };
        let rate = match self.tax_rate(&tax_type) {
            Some(t) if (sales && t.revenue) || (!sales && t.expenses) => t.rate_e4,
            _ => {
                errors.push(format!(
                    "The TaxType code '{tax_type}' does not exist or cannot be used for this type of transaction."
                ));
                0
            }
        };
        let (discount_rate, discount_cents) = if sales {
            (discount_rate, discount_cents)
        } else {
            (None, None)
        };
        let line_cents = line_amount(quantity, unit, discount_rate, discount_cents);
        let description = text(el, "Description").or_else(|| {
            item.map(|i| {
                let d = if sales {
                    &i.description
                } else {
                    &i.purchase_description
                };
                d.clone().unwrap_or_else(|| i.name.clone())
            })
        });
        Line {
            id: text(el, "LineItemID").unwrap_or_else(guid),
            description,
            quantity_e4: quantity,
            unit_e4: unit,
            item: item.map(|i| (i.id.clone(), i.code.clone(), i.name.clone())),
            account: account.map(|a| (a.id.clone(), a.code.clone())),
            tax_cents: given_tax.unwrap_or_else(|| line_tax(line_cents, rate, types)),
            tax_type: tax_type.to_uppercase(),
            discount_rate_e4: discount_rate,
            discount_cents,
            line_cents,
        }
    }

    /// Builds the invoice an element describes (on top of `previous` for an update), collecting
    /// every validation message rather than stopping at the first, as Xero reports them.
    fn build_invoice(
        &mut self,
        el: &Value,
        previous: Option<&Invoice>,
        unit_dp: u32,
        errors: &mut Vec<String>,
    ) -> Invoice {
        let kind = text(el, "Type")
            .map(|t| t.to_uppercase())
            .or(previous.map(|p| p.kind.clone()))
            .unwrap_or_else(|| {
                errors.push("Invoice Type must be specified".to_owned());
                "ACCREC".to_owned()
            });
        if kind != "ACCREC" && kind != "ACCPAY" {
            errors.push(format!("Invoice Type '{kind}' is not valid"));
        }
        let contact_id = match self.invoice_contact(el, errors) {
            Some(id) => id,
            None if el.get("Contact").is_some() => String::new(),
            None => previous.map(|p| p.contact_id.clone()).unwrap_or_else(|| {
                errors.push("A Contact must be specified for this type of transaction".to_owned());
                String::new()
            }),
        };
        let status = text(el, "Status")
            .map(|s| s.to_uppercase())
            .or(previous.map(|p| p.status.clone()))
            .unwrap_or_else(|| "DRAFT".to_owned());
        match previous {
            None if !matches!(status.as_str(), "DRAFT" | "SUBMITTED" | "AUTHORISED") => {
                errors.push("Invoice not of valid status for creation".to_owned())
            }
            Some(p) if p.status == "PAID" || (p.amount_paid > 0 && el.get("LineItems").is_some()) => {
                errors.push(
                    "This document cannot be edited as it has a payment or credit note allocated to it."
                        .to_owned(),
                )
            }
            Some(p) if !may_move(&p.status, &status) => {
                errors.push("Invoice not of valid status for modification".to_owned())
            }
            _ => {}
        }
        let amount_types = match text(el, "LineAmountTypes") {
            Some(t) => AmountTypes::parse(&t).unwrap_or_else(|| {
                errors.push(format!("LineAmountTypes '{t}' is not valid"));
                AmountTypes::Exclusive
            }),
            None => previous.map_or(AmountTypes::Exclusive, |p| p.amount_types),
        };
        let mut day = |key: &str, old: Option<NaiveDate>| match text(el, key) {
            Some(t) => parse_day(&t).or_else(|| {
                errors.push(format!("{key} '{t}' is not a valid date"));
                old
            }),
            None => old,
        };
        let date = day("Date", previous.map(|p| p.date)).unwrap_or_else(|| Utc::now().date_naive());
        let due_date = day("DueDate", previous.and_then(|p| p.due_date));
        let currency = text(el, "CurrencyCode").unwrap_or_else(|| self.currency.clone());
        if !same(&currency, &self.currency) && !self.currencies.iter().any(|c| same(c, &currency)) {
            errors.push(format!(
                "Organisation is not subscribed to currency {currency}"
            ));
        }
        let number = match text(el, "InvoiceNumber").filter(|n| !n.is_empty()) {
            Some(n) => {
                let taken = self.invoices.iter().any(|i| {
                    same(&i.number, &n) && Some(i.id.as_str()) != previous.map(|p| p.id.as_str())
                });
                if taken && kind == "ACCREC" {
                    errors.push("Invoice # must be unique.".to_owned());
                }
                n
            }
            None => previous.map(|p| p.number.clone()).unwrap_or_default(),
        };
        let lines = match el.get("LineItems").and_then(Value::as_array) {
            Some(items) => items
                .iter()
                .map(|l| self.build_line(l, &kind, amount_types, unit_dp, errors))
                .collect(),
            None => previous.map(|p| p.lines.clone()).unwrap_or_default(),
        };
        let sums: Vec<(i64, i64)> = lines.iter().map(|l| (l.line_cents, l.tax_cents)).collect();
        let (sub_total, total_tax, total) = invoice_totals(&sums, amount_types);
        Invoice {
            id: previous.map_or_else(guid, |p| p.id.clone()),
            kind,
            number,
            reference: text(el, "Reference").or(previous.and_then(|p| p.reference.clone())),
            contact_id,
            date,
            due_date,
            status,
            amount_types,
            lines,
            currency: currency.to_uppercase(),
            url: text(el, "Url").or(previous.and_then(|p| p.url.clone())),
            sub_total,
            total_tax,
            total,
            amount_paid: previous.map_or(0, |p| p.amount_paid),
            payments: previous.map(|p| p.payments.clone()).unwrap_or_default(),
            fully_paid_on: previous.and_then(|p| p.fully_paid_on),
            updated: Utc::now(),
        }
    }

    /// `PUT /Invoices` (`update: false`) creates; `POST` updates the invoice an element names by
    /// `InvoiceID` (or an existing `InvoiceNumber`) and creates the others.
    pub fn save_invoice(&mut self, el: &Value, update: bool, unit_dp: u32) -> Result<Value, Value> {
        let position = update
            .then(|| {
                let id = text(el, "InvoiceID");
                let number = text(el, "InvoiceNumber");
                self.invoices.iter().position(|i| {
                    id.as_deref().is_some_and(|id| same(&i.id, id))
                        || (id.is_none() && number.as_deref().is_some_and(|n| same(&i.number, n)))
                })
            })
            .flatten();
        let mut errors = Vec::new();
        if update && position.is_none() && text(el, "InvoiceID").is_some() {
            errors.push("The Invoice specified does not exist".to_owned());
        }
        let previous = position.map(|i| self.invoices[i].clone());
        let mut invoice = self.build_invoice(el, previous.as_ref(), unit_dp, &mut errors);
        if !errors.is_empty() {
            let mut element = self.invoice_json(&invoice, true, unit_dp);
            if previous.is_none() {
                element["InvoiceID"] = json!(NO_ID);
            }
            return Err(Self::with_errors(element, &errors, "HasErrors"));
        }
        if invoice.number.is_empty() {
            invoice.number = self.next_invoice_number();
        }
        if let Some(contact) = self
            .contacts
            .iter_mut()
            .find(|c| c.id == invoice.contact_id)
        {
            match invoice.kind.as_str() {
                "ACCREC" => contact.is_customer = true,
                _ => contact.is_supplier = true,
            }
        }
        let mut rendered = self.invoice_json(&invoice, true, unit_dp);
        rendered["StatusAttributeString"] = json!("OK");
        match position {
            Some(i) => self.invoices[i] = invoice,
            None => self.invoices.push(invoice),
        }
        Ok(rendered)
    }

    /// `PUT /Payments`: a payment against an authorised invoice, from a bank account.
    pub fn create_payment(&mut self, el: &Value) -> Result<Value, Value> {
        let mut errors = Vec::new();
        let target = el.get("Invoice").cloned().unwrap_or(Value::Null);
        let position = self.invoices.iter().position(|i| {
            text(&target, "InvoiceID").is_some_and(|id| same(&i.id, &id))
                || text(&target, "InvoiceNumber").is_some_and(|n| same(&i.number, &n))
        });
        match position.map(|i| &self.invoices[i]) {
            None => errors.push("Invoice could not be found".to_owned()),
            Some(inv) if inv.status != "AUTHORISED" => {
                errors.push("Payment can only be made against Authorised documents".to_owned())
            }
            _ => {}
        }
        let account_el = el.get("Account").cloned().unwrap_or(Value::Null);
        let account = self
            .accounts
            .iter()
            .find(|a| {
                text(&account_el, "AccountID").is_some_and(|id| same(&a.id, &id))
                    || text(&account_el, "Code").is_some_and(|c| same(&a.code, &c))
            })
            .cloned();
        if !account.as_ref().is_some_and(Account::takes_payments) {
            errors.push("Account type is invalid for making a payment to/from".to_owned());
        }
        let amount = scaled(el, "Amount", 100).unwrap_or_else(|e| {
            errors.push(e);
            None
        });
        let due = position.map_or(0, |i| self.invoices[i].amount_due());
        match amount {
            Some(a) if a <= 0 => errors.push("Payment amount must be greater than zero".to_owned()),
            Some(a) if a > due => errors
                .push("Payment amount exceeds the amount outstanding on this document".to_owned()),
            None => errors.push("Payment amount must be specified".to_owned()),
            _ => {}
        }
        let date = text(el, "Date")
            .and_then(|d| parse_day(&d))
            .unwrap_or_else(|| Utc::now().date_naive());
        let payment = Payment {
            id: guid(),
            invoice_id: position
                .map(|i| self.invoices[i].id.clone())
                .unwrap_or_default(),
            date,
            amount_cents: amount.unwrap_or(0),
            reference: text(el, "Reference"),
            updated: Utc::now(),
        };
        let account_json = account
            .as_ref()
            .map_or(Value::Null, |a| json!({"AccountID": a.id, "Code": a.code}));
        let (Some(i), true) = (position, errors.is_empty()) else {
            let mut element = render_payment(&payment, account_json, target);
            element["PaymentID"] = json!(NO_ID);
            return Err(Self::with_errors(element, &errors, "HasValidationErrors"));
        };
        let invoice = &mut self.invoices[i];
        invoice.amount_paid += payment.amount_cents;
        invoice.payments.push(payment.id.clone());
        invoice.updated = Utc::now();
        if invoice.amount_due() == 0 {
            invoice.status = "PAID".to_owned();
            invoice.fully_paid_on = Some(date);
        }
        self.payments.push(payment.clone());
        let invoice = &self.invoices[i];
        let summary = json!({
            "Type": invoice.kind,
            "InvoiceID": invoice.id,
            "InvoiceNumber": invoice.number,
            "Contact": {"ContactID": invoice.contact_id, "Name": self.contact_json(&invoice.contact_id)["Name"]},
            "CurrencyCode": invoice.currency
        });
        Ok(render_payment(&payment, account_json, summary))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn books() -> Books {
        let mut b = Books::new("GBP");
        let item = json!({"Code": "TR-9", "Name": "Trail Runner", "Description": "Trail Runner size 9",
            "SalesDetails": {"UnitPrice": 89.0, "AccountCode": "200", "TaxType": "OUTPUT2"}});
        assert!(b.create_item(&item).is_ok());
        b
    }

    /// The `ValidationErrors` an element carries.
    fn errors(messages: &[&str]) -> Value {
        messages.iter().map(|m| json!({ "Message": m })).collect()
    }

    #[test]
    fn the_demo_organisation_takes_the_demo_shops_currencies_and_tax_rates() {
        let config = crate::SandboxConfig::demo().xero.remove(0);
        let mut b = Books::of(&config);
        let rates: Vec<(&str, i64)> = b
            .tax_rates
            .iter()
            .filter(|t| t.tax_type.starts_with("TAX"))
            .map(|t| (t.tax_type.as_str(), t.rate_e4 / 10_000))
            .collect();
        assert_eq!(
            rates,
            [
                ("TAX001", 8),
                ("TAX002", 19),
                ("TAX003", 13),
                ("TAX004", 10)
            ]
        );
        let invoice = |currency: &str, tax_type: &str| {
            json!({"Type": "ACCREC", "Contact": {"Name": "Ana Smith"}, "CurrencyCode": currency,
                "LineItems": [{"Description": "Tent", "Quantity": 1, "UnitAmount": 100.0,
                               "AccountCode": "200", "TaxType": tax_type}]})
        };
        let dollars = b
            .save_invoice(&invoice("usd", "TAX002"), false, 2)
            .expect("subscribed to USD");
        assert_eq!(dollars["CurrencyCode"], "USD");
        assert_eq!(dollars["TotalTax"], json!(19.0));
        let euros = b
            .save_invoice(&invoice("EUR", "OUTPUT2"), false, 2)
            .expect_err("not subscribed to EUR");
        assert_eq!(
            euros["ValidationErrors"],
            errors(&["Organisation is not subscribed to currency EUR"])
        );
    }

    #[test]
    fn invoice_with_item_and_free_lines_totals_like_xero() {
        let mut b = books();
        let el = json!({"Type": "ACCREC", "Contact": {"Name": "Ana Smith"}, "Reference": "#1001",
            "Status": "AUTHORISED", "LineItems": [
                {"ItemCode": "TR-9", "Quantity": 2},
                {"Description": "Shipping", "Quantity": 1, "UnitAmount": 4.99, "AccountCode": "260"}]});
        let inv = match b.save_invoice(&el, false, 2) {
            Ok(inv) => inv,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(inv["InvoiceNumber"], "INV-0001");
        assert_eq!(inv["SubTotal"], 182.99);
        assert_eq!(inv["TotalTax"], 36.6); // 35.60 + 1.00 (0.998)
        assert_eq!(inv["Total"], 219.59);
        assert_eq!(inv["LineItems"][0]["Description"], "Trail Runner size 9");
        assert_eq!(inv["LineItems"][0]["TaxType"], "OUTPUT2");
        assert_eq!(inv["LineItems"][1]["TaxType"], "OUTPUT2");
        assert_eq!(inv["Contact"]["Name"], "Ana Smith");
        assert_eq!(inv["Contact"]["IsCustomer"], true);
        assert_eq!(b.contacts.len(), 1);
        assert!(b.contacts[0].is_customer);
    }

    #[test]
    fn validation_collects_xero_messages() {
        let mut b = books();
        let el = json!({"Type": "ACCREC", "LineItems": [
            {"ItemCode": "NOPE", "Quantity": 1, "UnitAmount": 1, "AccountCode": "999"},
            {"Description": "x", "Quantity": 1, "UnitAmount": 1, "AccountCode": "090"},
            {"Description": "y", "Quantity": 1, "UnitAmount": 1, "AccountCode": "200", "TaxType": "INPUT2"}]});
        let Err(element) = b.save_invoice(&el, false, 2) else {
            panic!("accepted an invalid invoice")
        };
        assert_eq!(
            element["ValidationErrors"],
            errors(&[
                "A Contact must be specified for this type of transaction",
                "Item code 'NOPE' is not valid",
                "Account code '999' is not a valid code for this document.",
                "Account code '090' is not a valid code for this document.",
                "The TaxType code 'INPUT2' does not exist or cannot be used for this type of transaction.",
            ])
        );
        assert_eq!(element["InvoiceID"], NO_ID);
        assert_eq!(element["HasErrors"], true);
        assert!(b.invoices.is_empty());
    }

    #[test]
    fn contact_names_are_unique_and_numbers_too() {
        let mut b = books();
        assert!(b.save_contact(&json!({"Name": "Ana"})).is_ok());
        let Err(dup) = b.save_contact(&json!({"Name": "ana"})) else {
            panic!("duplicate accepted")
        };
        assert_eq!(
            dup["ValidationErrors"],
            errors(&["The contact name ana is already assigned to another contact. The contact name must be unique across all active contacts."])
        );
        let el = json!({"Type": "ACCREC", "Contact": {"Name": "Ana"}, "InvoiceNumber": "X-1"});
        assert!(b.save_invoice(&el, false, 2).is_ok());
        let Err(again) = b.save_invoice(&el, false, 2) else {
            panic!("duplicate number accepted")
        };
        assert_eq!(
            again["ValidationErrors"],
            errors(&["Invoice # must be unique."])
        );
    }

    #[test]
    fn status_changes_and_payments() {
        let mut b = books();
        let el = json!({"Type": "ACCREC", "Contact": {"Name": "Bo"},
            "LineItems": [{"Description": "x", "Quantity": 1, "UnitAmount": 100, "AccountCode": "200"}]});
        let Ok(draft) = b.save_invoice(&el, false, 2) else {
            panic!("draft refused")
        };
        let id = draft["InvoiceID"].as_str().unwrap_or_default().to_owned();
        let pay =
            json!({"Invoice": {"InvoiceID": id}, "Account": {"Code": "090"}, "Amount": 120.0});
        assert!(b.create_payment(&pay).is_err(), "paid a draft");
        let approve = json!({"InvoiceID": id, "Status": "AUTHORISED"});
        assert!(b.save_invoice(&approve, true, 2).is_ok());
        let too_much =
            json!({"Invoice": {"InvoiceID": id}, "Account": {"Code": "090"}, "Amount": 121.0});
        let Err(refused) = b.create_payment(&too_much) else {
            panic!("overpaid")
        };
        assert_eq!(
            refused["ValidationErrors"],
            errors(&["Payment amount exceeds the amount outstanding on this document"])
        );
        assert!(b.create_payment(&pay).is_ok());
        assert_eq!(b.invoices[0].status, "PAID");
        let void = json!({"InvoiceID": id, "Status": "VOIDED"});
        assert!(b.save_invoice(&void, true, 2).is_err());
    }
}
