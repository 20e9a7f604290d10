//! The Sage Accounting v3.1 JSON the connector reads, as far as switchyard needs it. Lists carry
//! only `id`, `displayed_as` and `$path` unless `attributes` asks for more, so every list call
//! names the attributes these types require; a field we rely on missing is a malformed answer.

use chrono::{DateTime, FixedOffset};
use serde::Deserialize;
use serde_json::Value;

use crate::connectors::http::string_or_number;

/// A page of a list: `$items`, and `$next` (a path) while more pages follow.
#[derive(Debug, Deserialize)]
pub struct Page<T> {
    #[serde(rename = "$items")]
    pub items: Vec<T>,
    #[serde(rename = "$next", default)]
    pub next: Option<String>,
}

/// A reference to another record (`{"id", "displayed_as", "$path"}`).
#[derive(Debug, Deserialize)]
pub struct Link {
    pub id: String,
}

#[derive(Debug, Deserialize)]
pub struct Contact {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
}

/// Asked for with `attributes=nominal_code,tax_rate`.
#[derive(Debug, Deserialize)]
pub struct LedgerAccount {
    pub id: String,
    /// A number in the live API (`4000`), a string in some documents.
    #[serde(deserialize_with = "string_or_number")]
    pub nominal_code: String,
    /// The account's default tax rate.
    #[serde(default)]
    pub tax_rate: Option<Link>,
}

/// Asked for with `attributes=percentage`.
#[derive(Debug, Deserialize)]
pub struct TaxRate {
    pub id: String,
    /// A decimal string (`"20.0"`) in the live API.
    #[serde(deserialize_with = "string_or_number")]
    pub percentage: String,
}

/// The attributes of a sales invoice that a list must ask for to fill [`SalesInvoice`].
pub const INVOICE_ATTRIBUTES: &str =
    "invoice_number,total_amount,reference,deleted_at,void_reason,status,created_at";

/// A sales invoice: the create's answer, or a list item with [`INVOICE_ATTRIBUTES`].
#[derive(Debug, Deserialize)]
pub struct SalesInvoice {
    pub id: String,
    pub invoice_number: String,
    #[serde(deserialize_with = "string_or_number")]
    pub total_amount: String,
    #[serde(default)]
    pub reference: Option<String>,
    #[serde(default)]
    pub deleted_at: Option<String>,
    #[serde(default)]
    pub void_reason: Option<String>,
    /// `UNPAID`, `PART_PAID`, `PAID`, `VOID`, ...
    #[serde(default)]
    pub status: Option<Link>,
    #[serde(default)]
    pub created_at: Option<DateTime<FixedOffset>>,
}

impl SalesInvoice {
    /// Voided or deleted: no longer the platform's copy of anything.
    pub fn is_void(&self) -> bool {
        self.deleted_at.is_some()
            || self.void_reason.is_some()
            || self.status.as_ref().is_some_and(|s| s.id == "VOID")
    }
}

/// Sage's words from an error body: its array of `{"$dataCode", "$message", "$source"}` (each
/// as `source: message`), or the gateway's and the OAuth host's `{"error": ...}`. `None` when
/// the body is neither.
pub fn error_message(body: &[u8]) -> Option<String> {
    fn text<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
        v.get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }
    let value: Value = serde_json::from_slice(body).ok()?;
    match &value {
        Value::Array(errors) => {
            let said: Vec<String> = errors
                .iter()
                .filter_map(|e| {
                    let message = text(e, "$message").or_else(|| text(e, "$dataCode"))?;
                    Some(match text(e, "$source") {
                        Some(source) => format!("{source}: {message}"),
                        None => message.to_owned(),
                    })
                })
                .collect();
            (!said.is_empty()).then(|| said.join("; "))
        }
        Value::Object(_) => {
            let error = text(&value, "error")?;
            Some(match text(&value, "error_description") {
                Some(d) => format!("{error}: {d}"),
                None => error.to_owned(),
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sage_errors_read_as_their_source_and_message() {
        let body = br#"[
            {"$severity": "error", "$dataCode": "RecordInvalid", "$message": "Couldn't find TaxRate.", "$source": "invoice_lines.tax_rate_id"},
            {"$severity": "error", "$dataCode": "RecordInvalid", "$message": "This field is required.", "$source": "date"}
        ]"#;
        assert_eq!(
            error_message(body).as_deref(),
            Some(
                "invoice_lines.tax_rate_id: Couldn't find TaxRate.; date: This field is required."
            )
        );
        let unsourced = br#"[{"$dataCode": "UnexpectedError", "$message": "An unexpected error occurred.", "$source": ""}]"#;
        assert_eq!(
            error_message(unsourced).as_deref(),
            Some("An unexpected error occurred.")
        );
        assert_eq!(
            error_message(br#"{"error": "Gateway Timeout"}"#).as_deref(),
            Some("Gateway Timeout")
        );
        assert_eq!(error_message(b"<html>busy</html>"), None);
        assert_eq!(error_message(b"[]"), None);
    }
}
