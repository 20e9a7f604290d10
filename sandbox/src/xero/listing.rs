//! What every Accounting API list endpoint shares: query parameters read the ASP.NET way (names
//! in any letter case), the `where` filter, `order`, comma-separated id lists, and paging (`page`
//! from 1, `pageSize` up to 1,000, 100 by default; a paged answer carries `pagination`).

use std::cmp::Ordering;

use axum::response::Response;
use serde_json::{json, Value};

use super::errors::query_parse;
use super::filter::Filter;
use crate::query::Query;

const DEFAULT_PAGE_SIZE: usize = 100;
const MAX_PAGE_SIZE: usize = 1000;

/// A request's query, read case-insensitively.
pub struct Params(Query);

impl Params {
    pub fn parse(raw: Option<&str>) -> Params {
        Params(Query::parse(raw.unwrap_or("")))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(k, _)| self.0.get(k))
            .filter(|v| !v.is_empty())
    }

    /// A comma-separated list (`IDs`, `InvoiceNumbers`, `Statuses`, ...), values trimmed.
    pub fn list(&self, name: &str) -> Option<Vec<String>> {
        self.get(name).map(|v| {
            v.split(',')
                .map(|s| s.trim().trim_matches('"').to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
    }

    pub fn flag(&self, name: &str) -> Option<bool> {
        self.get(name).map(|v| v.eq_ignore_ascii_case("true"))
    }

    /// `unitdp=4` opts in to four decimal places on unit amounts; two otherwise.
    pub fn unit_dp(&self) -> u32 {
        if self.get("unitdp") == Some("4") {
            4
        } else {
            2
        }
    }
}

/// Applies `where`, `order` and paging to rendered entities and builds the answer's parts:
/// the page of entities and the `pagination` object when a page was asked for.
pub fn select(
    params: &Params,
    entity: &str,
    fields: &[&str],
    mut items: Vec<Value>,
) -> Result<(Vec<Value>, Option<Value>), Response> {
    if let Some(text) = params.get("where") {
        let filter = Filter::parse(text, entity, fields).map_err(|e| query_parse(&e))?;
        items.retain(|item| filter.matches(item));
    }
    if let Some(order) = params.get("order") {
        let mut words = order.split_whitespace();
        let field = words.next().unwrap_or_default().to_owned();
        if !fields.contains(&field.as_str()) {
            return Err(query_parse(&format!(
                "No property or field '{field}' exists in type '{entity}'"
            )));
        }
        let descending = words.next().is_some_and(|w| w.eq_ignore_ascii_case("DESC"));
        items.sort_by(|a, b| {
            let ordering = compare_values(&a[&field], &b[&field]);
            if descending {
                ordering.reverse()
            } else {
                ordering
            }
        });
    }
    let Some(page) = params.get("page") else {
        return Ok((items, None));
    };
    let page: usize = page.parse().unwrap_or(1).max(1);
    let size: usize = params
        .get("pageSize")
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_PAGE_SIZE)
        .clamp(1, MAX_PAGE_SIZE);
    let count = items.len();
    let pagination = json!({
        "page": page,
        "pageSize": size,
        "pageCount": count.div_ceil(size),
        "itemCount": count
    });
    let slice = items
        .into_iter()
        .skip((page - 1) * size)
        .take(size)
        .collect();
    Ok((slice, Some(pagination)))
}

fn compare_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Value::String(x), Value::String(y)) => {
            match (super::wire::parse_ms_date(x), super::wire::parse_ms_date(y)) {
                (Some(p), Some(q)) => p.cmp(&q),
                _ => x.to_lowercase().cmp(&y.to_lowercase()),
            }
        }
        _ => Ordering::Equal,
    }
}

/// Keeps the entities whose `field` is one of `wanted` (letter case ignored), when asked.
pub fn keep_listed(items: &mut Vec<Value>, field: &str, wanted: Option<Vec<String>>) {
    if let Some(wanted) = wanted {
        items.retain(|item| {
            item[field]
                .as_str()
                .is_some_and(|v| wanted.iter().any(|w| w.eq_ignore_ascii_case(v)))
        });
    }
}

/// Top-level fields of each entity (from the document's schemas), for `where` and `order`.
pub const CONTACT_FIELDS: &[&str] = &[
    "ContactID",
    "MergedToContactID",
    "ContactNumber",
    "AccountNumber",
    "ContactStatus",
    "Name",
    "FirstName",
    "LastName",
    "CompanyNumber",
    "EmailAddress",
    "ContactPersons",
    "BankAccountDetails",
    "TaxNumber",
    "AccountsReceivableTaxType",
    "AccountsPayableTaxType",
    "Addresses",
    "Phones",
    "IsSupplier",
    "IsCustomer",
    "DefaultCurrency",
    "UpdatedDateUTC",
    "ContactGroups",
    "Website",
    "HasAttachments",
    "HasValidationErrors",
];
pub const INVOICE_FIELDS: &[&str] = &[
    "Type",
    "Contact",
    "LineItems",
    "Date",
    "DueDate",
    "LineAmountTypes",
    "InvoiceNumber",
    "Reference",
    "BrandingThemeID",
    "Url",
    "CurrencyCode",
    "CurrencyRate",
    "Status",
    "SentToContact",
    "ExpectedPaymentDate",
    "PlannedPaymentDate",
    "SubTotal",
    "TotalTax",
    "Total",
    "TotalDiscount",
    "InvoiceID",
    "RepeatingInvoiceID",
    "HasAttachments",
    "IsDiscounted",
    "AmountDue",
    "AmountPaid",
    "FullyPaidOnDate",
    "AmountCredited",
    "UpdatedDateUTC",
];
pub const ITEM_FIELDS: &[&str] = &[
    "Code",
    "InventoryAssetAccountCode",
    "Name",
    "IsSold",
    "IsPurchased",
    "Description",
    "PurchaseDescription",
    "PurchaseDetails",
    "SalesDetails",
    "IsTrackedAsInventory",
    "TotalCostPool",
    "QuantityOnHand",
    "UpdatedDateUTC",
    "ItemID",
];
pub const ACCOUNT_FIELDS: &[&str] = &[
    "Code",
    "Name",
    "AccountID",
    "Type",
    "BankAccountNumber",
    "Status",
    "Description",
    "BankAccountType",
    "CurrencyCode",
    "TaxType",
    "EnablePaymentsToAccount",
    "ShowInExpenseClaims",
    "Class",
    "SystemAccount",
    "ReportingCode",
    "ReportingCodeName",
    "HasAttachments",
    "UpdatedDateUTC",
    "AddToWatchlist",
];
pub const TAX_RATE_FIELDS: &[&str] = &[
    "Name",
    "TaxType",
    "TaxComponents",
    "Status",
    "ReportTaxType",
    "CanApplyToAssets",
    "CanApplyToEquity",
    "CanApplyToExpenses",
    "CanApplyToLiabilities",
    "CanApplyToRevenue",
    "DisplayTaxRate",
    "EffectiveRate",
];
