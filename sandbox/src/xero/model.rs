//! The organisation's records and how the Accounting API renders them. Field names and shapes
//! follow the document's schemas (`Account`, `TaxRate`, `Contact`, `Item`, `Invoice`, `LineItem`,
//! `Payment`); the seeded chart of accounts and tax rates are a UK organisation's defaults.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Map, Value};

use super::totals::{AmountTypes, E4};
use super::wire::{amount, day_string, guid, ms_date, ms_day, utc_string};

#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub code: String,
    pub name: String,
    /// `Type`: BANK, CURRENT, REVENUE, SALES, OVERHEADS, ...
    pub kind: &'static str,
    pub class: &'static str,
    pub tax_type: &'static str,
    pub system_account: Option<&'static str>,
    pub enable_payments: bool,
}

impl Account {
    /// Whether a line of an invoice may be coded to it: not a bank account nor a system account.
    pub fn usable_on_lines(&self) -> bool {
        self.kind != "BANK" && self.system_account.is_none()
    }

    /// Whether a payment may be made from or to it.
    pub fn takes_payments(&self) -> bool {
        self.kind == "BANK" || self.enable_payments
    }
}

#[derive(Debug, Clone)]
pub struct TaxRate {
    pub name: String,
    pub tax_type: String,
    /// Percent, in ten-thousandths.
    pub rate_e4: i64,
    pub report_tax_type: &'static str,
    pub revenue: bool,
    pub expenses: bool,
}

/// A UK organisation's starting chart (codes and tax defaults as a new Xero UK organisation has them).
pub fn uk_chart() -> Vec<Account> {
    let a = |code: &str, name: &str, kind, class, tax_type, system_account| Account {
        id: guid(),
        code: code.into(),
        name: name.into(),
        kind,
        class,
        tax_type,
        system_account,
        enable_payments: false,
    };
    vec![
        a(
            "090",
            "Business Bank Account",
            "BANK",
            "ASSET",
            "NONE",
            None,
        ),
        a("200", "Sales", "REVENUE", "REVENUE", "OUTPUT2", None),
        a(
            "260",
            "Other Revenue",
            "REVENUE",
            "REVENUE",
            "OUTPUT2",
            None,
        ),
        a(
            "270",
            "Interest Income",
            "OTHERINCOME",
            "REVENUE",
            "EXEMPTOUTPUT",
            None,
        ),
        a(
            "310",
            "Cost of Goods Sold",
            "DIRECTCOSTS",
            "EXPENSE",
            "INPUT2",
            None,
        ),
        a("400", "Advertising", "OVERHEADS", "EXPENSE", "INPUT2", None),
        a(
            "425",
            "Postage, Freight & Courier",
            "OVERHEADS",
            "EXPENSE",
            "INPUT2",
            None,
        ),
        a(
            "429",
            "General Expenses",
            "OVERHEADS",
            "EXPENSE",
            "INPUT2",
            None,
        ),
        a(
            "610",
            "Accounts Receivable",
            "CURRENT",
            "ASSET",
            "NONE",
            Some("DEBTORS"),
        ),
        a(
            "800",
            "Accounts Payable",
            "CURRLIAB",
            "LIABILITY",
            "NONE",
            Some("CREDITORS"),
        ),
        a("820", "VAT", "CURRLIAB", "LIABILITY", "NONE", Some("GST")),
        a(
            "960",
            "Retained Earnings",
            "EQUITY",
            "EQUITY",
            "NONE",
            Some("RETAINEDEARNINGS"),
        ),
    ]
}

/// A UK organisation's VAT rates.
pub fn uk_tax_rates() -> Vec<TaxRate> {
    let t = |name: &str, tax_type: &str, percent: i64, report, revenue, expenses| TaxRate {
        name: name.to_owned(),
        tax_type: tax_type.to_owned(),
        rate_e4: percent * E4,
        report_tax_type: report,
        revenue,
        expenses,
    };
    vec![
        t("20% (VAT on Income)", "OUTPUT2", 20, "OUTPUT", true, false),
        t("20% (VAT on Expenses)", "INPUT2", 20, "INPUT", false, true),
        t("5% (VAT on Income)", "RROUTPUT", 5, "OUTPUT", true, false),
        t("5% (VAT on Expenses)", "RRINPUT", 5, "INPUT", false, true),
        t(
            "Zero Rated Income",
            "ZERORATEDOUTPUT",
            0,
            "OUTPUT",
            true,
            false,
        ),
        t(
            "Zero Rated Expenses",
            "ZERORATEDINPUT",
            0,
            "INPUT",
            false,
            true,
        ),
        t(
            "Exempt Income",
            "EXEMPTOUTPUT",
            0,
            "EXEMPTOUTPUT",
            true,
            false,
        ),
        t(
            "Exempt Expenses",
            "EXEMPTINPUT",
            0,
            "EXEMPTINPUT",
            false,
            true,
        ),
        t("No VAT", "NONE", 0, "NONE", true, true),
    ]
}

pub fn render_account(a: &Account, updated: DateTime<Utc>) -> Value {
    let mut v = json!({
        "AccountID": a.id,
        "Code": a.code,
        "Name": a.name,
        "Status": "ACTIVE",
        "Type": a.kind,
        "TaxType": a.tax_type,
        "Class": a.class,
        "EnablePaymentsToAccount": a.enable_payments,
        "ShowInExpenseClaims": false,
        "ReportingCode": "",
        "ReportingCodeName": "",
        "HasAttachments": false,
        "UpdatedDateUTC": ms_date(updated),
        "AddToWatchlist": false
    });
    if a.kind == "BANK" {
        v["BankAccountNumber"] = json!("12345678");
        v["BankAccountType"] = json!("BANK");
        v["CurrencyCode"] = json!("GBP");
    }
    if let Some(system) = a.system_account {
        v["SystemAccount"] = json!(system);
    }
    v
}

pub fn render_tax_rate(t: &TaxRate) -> Value {
    let rate = amount(t.rate_e4, E4);
    json!({
        "Name": t.name,
        "TaxType": t.tax_type,
        "ReportTaxType": t.report_tax_type,
        "CanApplyToAssets": t.expenses,
        "CanApplyToEquity": t.expenses,
        "CanApplyToExpenses": t.expenses,
        "CanApplyToLiabilities": t.expenses,
        "CanApplyToRevenue": t.revenue,
        "DisplayTaxRate": rate,
        "EffectiveRate": rate,
        "Status": "ACTIVE",
        "TaxComponents": [{"Name": "VAT", "Rate": rate, "IsCompound": false, "IsNonRecoverable": false}]
    })
}

#[derive(Debug, Clone)]
pub struct Contact {
    pub id: String,
    pub name: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub contact_number: Option<String>,
    pub account_number: Option<String>,
    pub tax_number: Option<String>,
    pub addresses: Vec<Value>,
    pub phones: Vec<Value>,
    pub is_customer: bool,
    pub is_supplier: bool,
    pub updated: DateTime<Utc>,
}

/// The `Address` and `Phone` fields the schema has; anything else a client sends is dropped.
const ADDRESS_FIELDS: &[&str] = &[
    "AddressType",
    "AddressLine1",
    "AddressLine2",
    "AddressLine3",
    "AddressLine4",
    "City",
    "Region",
    "PostalCode",
    "Country",
    "AttentionTo",
];
const PHONE_FIELDS: &[&str] = &[
    "PhoneType",
    "PhoneNumber",
    "PhoneAreaCode",
    "PhoneCountryCode",
];

/// Keeps the known string fields of each object in `list`.
pub fn keep_fields(list: Option<&Value>, fields: &[&str]) -> Vec<Value> {
    list.and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(|item| {
                    let kept: Map<String, Value> = fields
                        .iter()
                        .filter_map(|f| item.get(*f).map(|v| ((*f).to_owned(), v.clone())))
                        .collect();
                    Value::Object(kept)
                })
                .collect()
        })
        .unwrap_or_default()
}

pub fn addresses(list: Option<&Value>) -> Vec<Value> {
    keep_fields(list, ADDRESS_FIELDS)
}

pub fn phones(list: Option<&Value>) -> Vec<Value> {
    keep_fields(list, PHONE_FIELDS)
}

pub fn render_contact(c: &Contact) -> Value {
    let addresses = if c.addresses.is_empty() {
        ["STREET", "POBOX"]
            .map(|t| json!({"AddressType": t, "City": "", "Region": "", "PostalCode": "", "Country": ""}))
            .to_vec()
    } else {
        c.addresses.clone()
    };
    let phones = if c.phones.is_empty() {
        ["DEFAULT", "DDI", "FAX", "MOBILE"]
            .map(|t| json!({"PhoneType": t, "PhoneNumber": "", "PhoneAreaCode": "", "PhoneCountryCode": ""}))
            .to_vec()
    } else {
        c.phones.clone()
    };
    let mut v = json!({
        "ContactID": c.id,
        "ContactStatus": "ACTIVE",
        "Name": c.name,
        "EmailAddress": c.email.clone().unwrap_or_default(),
        "BankAccountDetails": "",
        "Addresses": addresses,
        "Phones": phones,
        "UpdatedDateUTC": ms_date(c.updated),
        "ContactGroups": [],
        "IsSupplier": c.is_supplier,
        "IsCustomer": c.is_customer,
        "SalesTrackingCategories": [],
        "PurchasesTrackingCategories": [],
        "ContactPersons": [],
        "HasAttachments": false,
        "HasValidationErrors": false
    });
    for (key, value) in [
        ("FirstName", &c.first_name),
        ("LastName", &c.last_name),
        ("ContactNumber", &c.contact_number),
        ("AccountNumber", &c.account_number),
        ("TaxNumber", &c.tax_number),
    ] {
        if let Some(value) = value {
            v[key] = json!(value);
        }
    }
    v
}

/// An item's sales or purchase defaults.
#[derive(Debug, Clone, Default)]
pub struct Details {
    pub unit_price_e4: Option<i64>,
    pub account_code: Option<String>,
    pub tax_type: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Item {
    pub id: String,
    pub code: String,
    pub name: String,
    pub description: Option<String>,
    pub purchase_description: Option<String>,
    pub sales: Details,
    pub purchase: Details,
    pub updated: DateTime<Utc>,
}

fn render_details(d: &Details) -> Value {
    let mut v = json!({});
    if let Some(price) = d.unit_price_e4 {
        v["UnitPrice"] = amount(price, E4);
    }
    if let Some(code) = &d.account_code {
        v["AccountCode"] = json!(code);
    }
    if let Some(tax) = &d.tax_type {
        v["TaxType"] = json!(tax);
    }
    v
}

pub fn render_item(i: &Item) -> Value {
    let mut v = json!({
        "ItemID": i.id,
        "Code": i.code,
        "Name": i.name,
        "IsSold": true,
        "IsPurchased": true,
        "IsTrackedAsInventory": false,
        "SalesDetails": render_details(&i.sales),
        "PurchaseDetails": render_details(&i.purchase),
        "UpdatedDateUTC": ms_date(i.updated)
    });
    if let Some(d) = &i.description {
        v["Description"] = json!(d);
    }
    if let Some(d) = &i.purchase_description {
        v["PurchaseDescription"] = json!(d);
    }
    v
}

#[derive(Debug, Clone)]
pub struct Line {
    pub id: String,
    pub description: Option<String>,
    pub quantity_e4: i64,
    pub unit_e4: i64,
    pub item: Option<(String, String, String)>,
    pub account: Option<(String, String)>,
    pub tax_type: String,
    pub discount_rate_e4: Option<i64>,
    pub discount_cents: Option<i64>,
    pub line_cents: i64,
    pub tax_cents: i64,
}

#[derive(Debug, Clone)]
pub struct Invoice {
    pub id: String,
    /// `Type`: ACCREC (sales invoice) or ACCPAY (bill).
    pub kind: String,
    pub number: String,
    pub reference: Option<String>,
    pub contact_id: String,
    pub date: NaiveDate,
    pub due_date: Option<NaiveDate>,
    pub status: String,
    pub amount_types: AmountTypes,
    pub lines: Vec<Line>,
    pub currency: String,
    pub url: Option<String>,
    pub sub_total: i64,
    pub total_tax: i64,
    pub total: i64,
    pub amount_paid: i64,
    pub payments: Vec<String>,
    pub fully_paid_on: Option<NaiveDate>,
    pub updated: DateTime<Utc>,
}

impl Invoice {
    pub fn amount_due(&self) -> i64 {
        match self.status.as_str() {
            "VOIDED" | "DELETED" => 0,
            _ => self.total - self.amount_paid,
        }
    }
}

pub fn render_line(l: &Line, unit_scale_dp: u32) -> Value {
    let mut v = json!({
        "LineItemID": l.id,
        "Quantity": amount(l.quantity_e4, E4),
        "UnitAmount": amount(super::totals::round_e4(l.unit_e4, unit_scale_dp), E4),
        "TaxType": l.tax_type,
        "TaxAmount": amount(l.tax_cents, 100),
        "LineAmount": amount(l.line_cents, 100),
        "Tracking": [],
        "ValidationErrors": []
    });
    if let Some(d) = &l.description {
        v["Description"] = json!(d);
    }
    if let Some((id, code, name)) = &l.item {
        v["ItemCode"] = json!(code);
        v["Item"] = json!({"ItemID": id, "Name": name, "Code": code});
    }
    if let Some((id, code)) = &l.account {
        v["AccountCode"] = json!(code);
        v["AccountID"] = json!(id);
    }
    if let Some(rate) = l.discount_rate_e4 {
        v["DiscountRate"] = amount(rate, E4);
    }
    if let Some(cents) = l.discount_cents {
        v["DiscountAmount"] = amount(cents, 100);
    }
    v
}

/// An invoice as Xero renders it; `lines` false gives the line-less form of unpaged lists.
pub fn render_invoice(
    inv: &Invoice,
    contact: Value,
    payments: Vec<Value>,
    lines: bool,
    unit_dp: u32,
) -> Value {
    let line_items: Vec<Value> = if lines {
        inv.lines.iter().map(|l| render_line(l, unit_dp)).collect()
    } else {
        Vec::new()
    };
    let discounted = inv
        .lines
        .iter()
        .any(|l| l.discount_rate_e4.is_some() || l.discount_cents.is_some());
    let mut v = json!({
        "Type": inv.kind,
        "InvoiceID": inv.id,
        "InvoiceNumber": inv.number,
        "Reference": inv.reference.clone().unwrap_or_default(),
        "Payments": payments,
        "CreditNotes": [],
        "Prepayments": [],
        "Overpayments": [],
        "AmountDue": amount(inv.amount_due(), 100),
        "AmountPaid": amount(inv.amount_paid, 100),
        "AmountCredited": 0.0,
        "SentToContact": false,
        "CurrencyRate": 1.0,
        "IsDiscounted": discounted,
        "HasAttachments": false,
        "HasErrors": false,
        "Contact": contact,
        "DateString": day_string(inv.date),
        "Date": ms_day(inv.date),
        "Status": inv.status,
        "LineAmountTypes": inv.amount_types.as_str(),
        "LineItems": line_items,
        "SubTotal": amount(inv.sub_total, 100),
        "TotalTax": amount(inv.total_tax, 100),
        "Total": amount(inv.total, 100),
        "UpdatedDateUTC": ms_date(inv.updated),
        "UpdatedDateUTCString": utc_string(inv.updated),
        "CurrencyCode": inv.currency
    });
    if let Some(due) = inv.due_date {
        v["DueDateString"] = json!(day_string(due));
        v["DueDate"] = json!(ms_day(due));
    }
    if let Some(url) = &inv.url {
        v["Url"] = json!(url);
    }
    if let Some(paid) = inv.fully_paid_on {
        v["FullyPaidOnDate"] = json!(ms_day(paid));
    }
    if discounted {
        let discount: i64 = inv
            .lines
            .iter()
            .map(|l| {
                super::totals::line_amount(l.quantity_e4, l.unit_e4, None, None) - l.line_cents
            })
            .sum();
        v["TotalDiscount"] = amount(discount, 100);
    }
    v
}

#[derive(Debug, Clone)]
pub struct Payment {
    pub id: String,
    pub invoice_id: String,
    pub date: NaiveDate,
    pub amount_cents: i64,
    pub reference: Option<String>,
    pub updated: DateTime<Utc>,
}

/// A payment as listed inside its invoice.
pub fn render_payment_brief(p: &Payment) -> Value {
    json!({
        "PaymentID": p.id,
        "Date": ms_day(p.date),
        "Amount": amount(p.amount_cents, 100),
        "Reference": p.reference.clone().unwrap_or_default(),
        "CurrencyRate": 1.0,
        "HasAccount": false,
        "HasValidationErrors": false
    })
}

/// A payment as `PUT /Payments` answers it.
pub fn render_payment(p: &Payment, account: Value, invoice: Value) -> Value {
    let mut v = render_payment_brief(p);
    v["PaymentType"] = json!("ACCRECPAYMENT");
    v["Status"] = json!("AUTHORISED");
    v["IsReconciled"] = json!(false);
    v["UpdatedDateUTC"] = json!(ms_date(p.updated));
    v["HasAccount"] = json!(true);
    v["Account"] = account;
    v["Invoice"] = invoice;
    v
}
