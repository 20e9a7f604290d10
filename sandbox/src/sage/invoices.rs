//! `POST /sales_invoices`, `GET /sales_invoices` (`search` on reference or contact name,
//! `contact_id`, `from_date`, `to_date`) and `GET /sales_invoices/{key}`.
//!
//! Amounts as Sage v3.1 works them out: a line's net is `quantity * unit_price - discount_amount`
//! rounded to pennies (with `unit_price_includes_tax`, that product is the gross and the net is
//! what is left after tax); its tax is the `tax_amount` the client states, which v3.1 requires
//! unless the rate is a zero, exempt or no-tax one (then it is 0.0); shipping tax is worked out
//! from `shipping_net_amount` and the shipping rate; the invoice's net, tax and total are the
//! sums. An `idempotency_id` in the resource makes a repeat of the create answer the first
//! invoice (201, same body) for seven days and create nothing.

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::NaiveDate;
use serde_json::{Map, Value};

use super::business::{LostAnswer, SageState};
use super::decimal;
use super::errors::{self, SageError};
use super::listing::{self, PerPageKey};
use super::model::{Address, InvoiceLine, SalesInvoice};
use super::request::{earlier, root_object, text};
use super::Api;
use crate::http_util::json;
use crate::query::Query;
use crate::timefmt;

/// Days to the due date when none is given (the business's default credit terms).
const CREDIT_DAYS: u64 = 30;

fn parse_date(text: &str) -> Option<NaiveDate> {
    let date = text.get(..10).unwrap_or(text);
    NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()
}

/// An optional decimal field; `Err` names it when present but not a number.
fn amount(
    fields: &Map<String, Value>,
    name: &str,
    source: &str,
) -> Result<Option<i128>, SageError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => decimal::parse(value)
            .map(Some)
            .ok_or_else(|| SageError::invalid("is not a number", source)),
    }
}

/// Works out one line, or says what is wrong with it.
pub fn work_out_line(
    state: &SageState,
    fields: &Map<String, Value>,
    id: String,
) -> Result<InvoiceLine, Vec<SageError>> {
    let mut problems = Vec::new();
    let mut note = |r: Result<Option<i128>, SageError>| match r {
        Ok(v) => v,
        Err(e) => {
            problems.push(e);
            None
        }
    };
    let unit_price = note(amount(fields, "unit_price", "invoice_lines.unit_price"));
    let quantity = note(amount(fields, "quantity", "invoice_lines.quantity"));
    let discount = note(amount(
        fields,
        "discount_amount",
        "invoice_lines.discount_amount",
    ));
    let stated_tax = note(amount(fields, "tax_amount", "invoice_lines.tax_amount"));
    let description = text(fields, "description");
    if description.is_none() {
        problems.push(SageError::required("invoice_lines.description"));
    }
    if fields.get("unit_price").is_none_or(Value::is_null) {
        problems.push(SageError::required("invoice_lines.unit_price"));
    }
    let account = match text(fields, "ledger_account_id") {
        None => {
            problems.push(SageError::required("invoice_lines.ledger_account_id"));
            None
        }
        Some(id) => match state.ledger_account(&id) {
            Some(account) if account.visible_in_sales => Some(account),
            _ => {
                problems.push(SageError::invalid(
                    "Couldn't find LedgerAccount.",
                    "invoice_lines.ledger_account_id",
                ));
                None
            }
        },
    };
    let rate_id = text(fields, "tax_rate_id")
        .or_else(|| account.and_then(|a| a.tax_rate_id.map(str::to_owned)))
        .unwrap_or_else(|| "GB_NO_TAX".to_string());
    let rate = state.tax_rate(&rate_id);
    if rate.is_none() {
        problems.push(SageError::invalid(
            "Couldn't find TaxRate.",
            "invoice_lines.tax_rate_id",
        ));
    }
    let product_id = text(fields, "product_id");
    if product_id.is_some() {
        problems.push(SageError::invalid(
            "Couldn't find Product.",
            "invoice_lines.product_id",
        ));
    }
    let tax = match (rate, stated_tax) {
        (Some(rate), _) if rate.inferred_zero => Some(0),
        (_, Some(tax)) => Some(decimal::round_money(tax)),
        (Some(_), None) => {
            problems.push(SageError::required("invoice_lines.tax_amount"));
            None
        }
        (None, None) => None,
    };
    let (Some(description), Some(account), Some(unit_price), Some(tax), true) =
        (description, account, unit_price, tax, problems.is_empty())
    else {
        return Err(problems);
    };
    let includes_tax = fields
        .get("unit_price_includes_tax")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let quantity = quantity.unwrap_or(decimal::units(1));
    let discount = decimal::round_money(discount.unwrap_or(0));
    let extended = decimal::times(quantity, unit_price) - discount;
    let (net, total) = if includes_tax {
        (extended - tax, extended)
    } else {
        (extended, extended + tax)
    };
    Ok(InvoiceLine {
        id,
        description,
        product_id,
        ledger_account_id: account.id.clone(),
        quantity,
        unit_price,
        unit_price_includes_tax: includes_tax,
        discount_amount: discount,
        tax_rate_id: rate_id,
        net_amount: net,
        tax_amount: tax,
        total_amount: total,
    })
}

/// Builds the invoice a create request describes, numbered and with ids, or the problems found.
fn build(
    state: &mut SageState,
    fields: &Map<String, Value>,
) -> Result<SalesInvoice, Vec<SageError>> {
    let mut problems = Vec::new();
    let contact = match text(fields, "contact_id") {
        None => {
            problems.push(SageError::required("contact_id"));
            None
        }
        Some(id) => match state.contact(&id) {
            Some(c) if c.is_customer() => Some(c.clone()),
            _ => {
                problems.push(SageError::invalid("Couldn't find Customer.", "contact_id"));
                None
            }
        },
    };
    let date = match text(fields, "date") {
        None => {
            problems.push(SageError::required("date"));
            None
        }
        Some(d) => parse_date(&d).or_else(|| {
            problems.push(SageError::invalid("is not a valid date", "date"));
            None
        }),
    };
    let due_date = match text(fields, "due_date") {
        None => None,
        Some(d) => parse_date(&d).or_else(|| {
            problems.push(SageError::invalid("is not a valid date", "due_date"));
            None
        }),
    };
    let raw_lines: Vec<Map<String, Value>> = match fields.get("invoice_lines") {
        Some(Value::Array(lines)) if !lines.is_empty() => lines
            .iter()
            .map(|l| l.as_object().cloned().unwrap_or_default())
            .collect(),
        _ => {
            problems.push(SageError::required("invoice_lines"));
            Vec::new()
        }
    };
    let mut lines = Vec::new();
    for raw in &raw_lines {
        let id = state.new_id("invoice_line");
        match work_out_line(state, raw, id) {
            Ok(line) => lines.push(line),
            Err(found) => problems.extend(found),
        }
    }
    let shipping_net = match amount(fields, "shipping_net_amount", "shipping_net_amount") {
        Ok(v) => decimal::round_money(v.unwrap_or(0)),
        Err(e) => {
            problems.push(e);
            0
        }
    };
    let shipping_rate = text(fields, "shipping_tax_rate_id");
    let shipping_percent = match &shipping_rate {
        None => Some(0),
        Some(id) => state.tax_rate(id).map(|r| r.percentage),
    };
    if shipping_percent.is_none() {
        problems.push(SageError::invalid(
            "Couldn't find TaxRate.",
            "shipping_tax_rate_id",
        ));
    }
    let (Some(contact), Some(date), true) = (contact, date, problems.is_empty()) else {
        return Err(problems);
    };
    let shipping_tax = decimal::times(shipping_net, shipping_percent.unwrap_or(0)) / 100;
    Ok(SalesInvoice {
        id: state.new_id("sales_invoice"),
        number: state.take_invoice_number(),
        contact_name: text(fields, "contact_name").unwrap_or_else(|| contact.name.clone()),
        contact_reference: text(fields, "contact_reference").or(contact.reference.clone()),
        contact_id: contact.id.clone(),
        date,
        due_date: due_date.unwrap_or(date + chrono::Days::new(CREDIT_DAYS)),
        reference: text(fields, "reference"),
        notes: text(fields, "notes"),
        terms_and_conditions: text(fields, "terms_and_conditions"),
        main_address: Address::from_json(fields.get("main_address"))
            .or(contact.main_address.clone()),
        lines,
        shipping_net_amount: shipping_net,
        shipping_tax_rate_id: shipping_rate,
        shipping_tax_amount: decimal::round_money(shipping_tax),
        created_at: timefmt::now(),
        idempotency_id: text(fields, "idempotency_id"),
    })
}

pub async fn create(State(ctx): State<Api>, body: Bytes) -> Response {
    let fields = match root_object(&body, "sales_invoice") {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    let idempotency_id = text(&fields, "idempotency_id");
    let now = Instant::now();
    let rendered = {
        let mut state = ctx.business.state();
        match earlier(&state, idempotency_id.as_deref(), "sales_invoice", now) {
            Ok(Some(id)) => {
                if let Some(invoice) = state.invoices.iter().find(|i| i.id == id) {
                    return json(StatusCode::CREATED, &state.invoice_json(invoice));
                }
            }
            Ok(None) => {}
            Err(response) => return response,
        }
        let invoice = match build(&mut state, &fields) {
            Ok(invoice) => invoice,
            Err(problems) => return errors::unprocessable(&problems),
        };
        state.remember(idempotency_id, "sales_invoice", &invoice.id, now);
        let rendered = state.invoice_json(&invoice);
        state.invoices.push(invoice);
        rendered
    };
    match ctx.business.take_lost_answer() {
        None => json(StatusCode::CREATED, &rendered),
        Some(LostAnswer::GatewayTimeout) => errors::gateway_timeout(),
        Some(LostAnswer::Late { delay_ms }) => {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(delay_ms)) => {}
                _ = ctx.shutdown.cancelled() => {}
            }
            json(StatusCode::CREATED, &rendered)
        }
    }
}

pub async fn list(State(ctx): State<Api>, RawQuery(raw): RawQuery) -> Response {
    let q = Query::parse(raw.as_deref().unwrap_or(""));
    let search = q.get("search").filter(|s| !s.is_empty());
    let contact_id = q.get("contact_id").filter(|s| !s.is_empty());
    let mut bounds = [None, None];
    for (slot, key) in bounds.iter_mut().zip(["from_date", "to_date"]) {
        match q.get(key).filter(|s| !s.is_empty()) {
            None => {}
            Some(text) => match parse_date(text) {
                Some(date) => *slot = Some(date),
                None => {
                    return errors::unprocessable(&[SageError::invalid("is not a valid date", key)])
                }
            },
        }
    }
    let [from, to] = bounds;
    let state = ctx.business.state();
    let items: Vec<Value> = state
        .invoices
        .iter()
        .filter(|i| {
            search.is_none_or(|s| {
                listing::matches(i.reference.as_deref(), s)
                    || listing::matches(Some(&i.contact_name), s)
            })
        })
        .filter(|i| contact_id.is_none_or(|c| i.contact_id == c))
        .filter(|i| from.is_none_or(|d| i.date >= d))
        .filter(|i| to.is_none_or(|d| i.date <= d))
        .map(|i| state.invoice_json(i))
        .collect();
    listing::answer(items, &q, "sales_invoices", PerPageKey::Camel)
}

pub async fn get_one(State(ctx): State<Api>, Path(key): Path<String>) -> Response {
    let state = ctx.business.state();
    match state.invoices.iter().find(|i| i.id == key) {
        Some(invoice) => json(StatusCode::OK, &state.invoice_json(invoice)),
        None => errors::not_found(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn state() -> SageState {
        SageState::new("test")
    }

    fn line(state: &SageState, fields: Value) -> Result<InvoiceLine, Vec<SageError>> {
        let account = state.ledger_accounts[1].id.clone();
        let mut map = json!({"description": "Socks", "ledger_account_id": account})
            .as_object()
            .cloned()
            .unwrap_or_default();
        map.extend(fields.as_object().cloned().unwrap_or_default());
        work_out_line(state, &map, "l".into())
    }

    #[test]
    fn a_standard_line_takes_the_tax_the_client_states() {
        let state = state();
        let l = line(
            &state,
            json!({"quantity": 2, "unit_price": "12.50", "tax_rate_id": "GB_STANDARD", "tax_amount": 5}),
        )
        .expect("valid");
        assert_eq!(
            (l.net_amount, l.tax_amount, l.total_amount),
            (25_000_000, 5_000_000, 30_000_000)
        );
    }

    #[test]
    fn zero_and_exempt_rates_infer_no_tax_and_standard_needs_it_stated() {
        let state = state();
        let l = line(
            &state,
            json!({"quantity": 3, "unit_price": 1.99, "tax_rate_id": "GB_ZERO", "tax_amount": 1}),
        )
        .expect("valid");
        assert_eq!((l.net_amount, l.tax_amount), (5_970_000, 0));
        let missing = line(
            &state,
            json!({"unit_price": 10, "tax_rate_id": "GB_STANDARD"}),
        );
        assert_eq!(
            missing.err(),
            Some(vec![SageError::required("invoice_lines.tax_amount")])
        );
    }

    #[test]
    fn discounts_and_tax_inclusive_prices() {
        let state = state();
        let l = line(
            &state,
            json!({"quantity": 1, "unit_price": 120, "unit_price_includes_tax": true,
                   "tax_rate_id": "GB_STANDARD", "tax_amount": 20}),
        )
        .expect("valid");
        assert_eq!((l.net_amount, l.total_amount), (100_000_000, 120_000_000));
        let d = line(
            &state,
            json!({"quantity": 2, "unit_price": 10, "discount_amount": 5,
                   "tax_rate_id": "GB_STANDARD", "tax_amount": 3}),
        )
        .expect("valid");
        assert_eq!((d.net_amount, d.total_amount), (15_000_000, 18_000_000));
    }

    #[test]
    fn unknown_ids_are_named() {
        let state = state();
        let bad = line(
            &state,
            json!({"ledger_account_id": "nope", "unit_price": 1, "tax_rate_id": "XX", "tax_amount": 0}),
        );
        let sources: Vec<String> = bad
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.source)
            .collect();
        assert_eq!(
            sources,
            vec![
                "invoice_lines.ledger_account_id",
                "invoice_lines.tax_rate_id"
            ]
        );
    }
}
