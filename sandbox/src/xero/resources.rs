//! The Accounting API endpoints the simulator serves under `/api.xro/2.0`: Contacts, Items,
//! Invoices, Payments, Accounts and TaxRates.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::errors::not_found;
use super::listing::{
    keep_listed, select, Params, ACCOUNT_FIELDS, CONTACT_FIELDS, INVOICE_FIELDS, ITEM_FIELDS,
    TAX_RATE_FIELDS,
};
use super::model::{render_item, render_tax_rate};
use super::store::XeroOrg;
use super::wire::{envelope, is_guid};
use super::writes::batch;
use crate::http_util::json;

type Org = State<Arc<XeroOrg>>;

/// Answers a list after `where`, `order` and paging.
fn list(params: &Params, key: &str, entity: &str, fields: &[&str], items: Vec<Value>) -> Response {
    match select(params, entity, fields, items) {
        Ok((page, pagination)) => json(StatusCode::OK, &envelope(key, page, pagination)),
        Err(response) => response,
    }
}

pub async fn get_contacts(State(org): Org, RawQuery(q): RawQuery) -> Response {
    let params = Params::parse(q.as_deref());
    let mut items = org.contacts();
    keep_listed(&mut items, "ContactID", params.list("IDs"));
    if let Some(term) = params.get("searchTerm").map(str::to_lowercase) {
        items.retain(|c| {
            [
                "Name",
                "FirstName",
                "LastName",
                "ContactNumber",
                "EmailAddress",
            ]
            .iter()
            .any(|f| {
                c[*f]
                    .as_str()
                    .is_some_and(|v| v.to_lowercase().contains(&term))
            })
        });
    }
    list(&params, "Contacts", "Contact", CONTACT_FIELDS, items)
}

pub async fn get_contact(State(org): Org, Path(id): Path<String>) -> Response {
    let found = org.contacts().into_iter().find(|c| {
        c["ContactID"]
            .as_str()
            .is_some_and(|v| v.eq_ignore_ascii_case(&id))
    });
    match found {
        Some(contact) => json(StatusCode::OK, &envelope("Contacts", vec![contact], None)),
        None => not_found(),
    }
}

pub async fn write_contacts(State(org): Org, RawQuery(q): RawQuery, body: Bytes) -> Response {
    let params = Params::parse(q.as_deref());
    batch(&org, &body, &params, "Contacts", |books, el| {
        books.save_contact(el)
    })
}

pub async fn get_items(State(org): Org, RawQuery(q): RawQuery) -> Response {
    let params = Params::parse(q.as_deref());
    let items = org.books().items.iter().map(render_item).collect();
    list(&params, "Items", "Item", ITEM_FIELDS, items)
}

pub async fn create_items(State(org): Org, RawQuery(q): RawQuery, body: Bytes) -> Response {
    let params = Params::parse(q.as_deref());
    batch(&org, &body, &params, "Items", |books, el| {
        books.create_item(el)
    })
}

/// `GET /Invoices`: line items only on paged answers, as Xero does.
pub async fn get_invoices(State(org): Org, RawQuery(q): RawQuery) -> Response {
    let params = Params::parse(q.as_deref());
    let with_lines = params.get("page").is_some();
    let mut items: Vec<Value> = {
        let books = org.books();
        books
            .invoices
            .iter()
            .map(|i| books.invoice_json(i, with_lines, params.unit_dp()))
            .collect()
    };
    keep_listed(&mut items, "InvoiceID", params.list("IDs"));
    keep_listed(&mut items, "InvoiceNumber", params.list("InvoiceNumbers"));
    keep_listed(&mut items, "Status", params.list("Statuses"));
    if let Some(ids) = params.list("ContactIDs") {
        items.retain(|i| {
            i["Contact"]["ContactID"]
                .as_str()
                .is_some_and(|c| ids.iter().any(|w| w.eq_ignore_ascii_case(c)))
        });
    }
    list(&params, "Invoices", "Invoice", INVOICE_FIELDS, items)
}

/// `GET /Invoices/{InvoiceID}` (or an invoice number in the same place, as Xero allows).
pub async fn get_invoice(
    State(org): Org,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let params = Params::parse(q.as_deref());
    let books = org.books();
    let found = books.invoices.iter().find(|i| {
        if is_guid(&id) {
            i.id.eq_ignore_ascii_case(&id)
        } else {
            i.number.eq_ignore_ascii_case(&id)
        }
    });
    match found {
        Some(inv) => {
            let rendered = books.invoice_json(inv, true, params.unit_dp());
            json(StatusCode::OK, &envelope("Invoices", vec![rendered], None))
        }
        None => not_found(),
    }
}

pub async fn create_invoices(State(org): Org, RawQuery(q): RawQuery, body: Bytes) -> Response {
    let params = Params::parse(q.as_deref());
    let dp = params.unit_dp();
    batch(&org, &body, &params, "Invoices", |books, el| {
        books.save_invoice(el, false, dp)
    })
}

pub async fn update_or_create_invoices(
    State(org): Org,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let params = Params::parse(q.as_deref());
    let dp = params.unit_dp();
    batch(&org, &body, &params, "Invoices", |books, el| {
        books.save_invoice(el, true, dp)
    })
}

/// `POST /Invoices/{InvoiceID}`: updates that invoice with the (single) element sent.
pub async fn update_invoice(
    State(org): Org,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    if org.books().invoice(&id).is_none() {
        return not_found();
    }
    let params = Params::parse(q.as_deref());
    let dp = params.unit_dp();
    batch(&org, &body, &params, "Invoices", move |books, el| {
        let mut el = el.clone();
        el["InvoiceID"] = Value::String(id.clone());
        books.save_invoice(&el, true, dp)
    })
}

pub async fn create_payments(State(org): Org, RawQuery(q): RawQuery, body: Bytes) -> Response {
    let params = Params::parse(q.as_deref());
    batch(&org, &body, &params, "Payments", |books, el| {
        books.create_payment(el)
    })
}

pub async fn get_accounts(State(org): Org, RawQuery(q): RawQuery) -> Response {
    let params = Params::parse(q.as_deref());
    let items = org.books().accounts_json();
    list(&params, "Accounts", "Account", ACCOUNT_FIELDS, items)
}

pub async fn get_tax_rates(State(org): Org, RawQuery(q): RawQuery) -> Response {
    let params = Params::parse(q.as_deref());
    let mut items: Vec<Value> = org.books().tax_rates.iter().map(render_tax_rate).collect();
    keep_listed(&mut items, "TaxType", params.list("TaxType"));
    list(&params, "TaxRates", "TaxRate", TAX_RATE_FIELDS, items)
}
