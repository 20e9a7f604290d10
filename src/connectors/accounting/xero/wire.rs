//! The Accounting API's JSON as far as the connector reads it, and its error bodies. Unknown
//! fields are ignored; the ids and amounts relied on are required, so an answer without them is
//! malformed rather than half-read.

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde_json::Value;

use crate::connectors::http;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Contacts {
    pub contacts: Vec<Contact>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Contact {
    #[serde(rename = "ContactID")]
    pub contact_id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub email_address: Option<String>,
    #[serde(default)]
    pub contact_status: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Items {
    pub items: Vec<Item>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Item {
    pub code: String,
    /// Set on elements of a write that failed (`summarizeErrors=false`).
    #[serde(default)]
    pub validation_errors: Vec<ValidationError>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ValidationError {
    #[serde(default)]
    pub message: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaxRates {
    pub tax_rates: Vec<TaxRate>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaxRate {
    pub tax_type: String,
    #[serde(default)]
    pub status: Option<String>,
    /// A percentage, as a JSON number.
    #[serde(deserialize_with = "http::string_or_number")]
    pub effective_rate: String,
    #[serde(default)]
    pub can_apply_to_revenue: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Invoices {
    pub invoices: Vec<Invoice>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Invoice {
    #[serde(rename = "InvoiceID")]
    pub invoice_id: String,
    #[serde(default)]
    pub invoice_number: String,
    #[serde(default, rename = "Type")]
    pub kind: String,
    #[serde(default)]
    pub reference: Option<String>,
    #[serde(default)]
    pub status: String,
    #[serde(deserialize_with = "http::string_or_number")]
    pub total: String,
    /// `/Date(1552262400000+0000)/`.
    #[serde(default, rename = "UpdatedDateUTC")]
    pub updated: Option<String>,
}

/// Milliseconds since the epoch of a `/Date(ms+0000)/` timestamp.
pub fn ms_date(text: &str) -> Option<i64> {
    let inner = text.strip_prefix("/Date(")?.strip_suffix(")/")?;
    let end = inner
        .char_indices()
        .skip(1)
        .find(|(_, c)| *c == '+' || *c == '-')
        .map_or(inner.len(), |(i, _)| i);
    inner[..end].parse().ok()
}

/// Xero's words from an error body: an `ApiException`'s message with every validation message
/// of its elements and their lines, or the gateway's problem `Detail` (401/403). `None` for a
/// body in neither shape (the plain-text 404, an empty 429).
pub fn error_message(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let text = |v: &Value, key: &str| {
        v.get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    if let Some(message) = text(&value, "Message") {
        let mut details: Vec<String> = Vec::new();
        let elements = value.get("Elements").and_then(Value::as_array);
        for element in elements.into_iter().flatten() {
            let lines = element.get("LineItems").and_then(Value::as_array);
            let owners = std::iter::once(element).chain(lines.into_iter().flatten());
            for owner in owners {
                let errors = owner.get("ValidationErrors").and_then(Value::as_array);
                for found in errors
                    .into_iter()
                    .flatten()
                    .filter_map(|e| text(e, "Message"))
                {
                    if !details.contains(&found) {
                        details.push(found);
                    }
                }
            }
        }
        return Some(if details.is_empty() {
            message
        } else {
            format!("{message}: {}", details.join("; "))
        });
    }
    text(&value, "Detail").or_else(|| text(&value, "Title"))
}

/// Which limit a 429 names (`X-Rate-Limit-Problem`: `concurrent`, `minute`, `day`, `appminute`).
pub fn rate_limit_problem(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-rate-limit-problem")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty())
}

/// What a 429 asks: its `Retry-After`, or a guess by limit when it sends none (Xero sends none
/// for the concurrent limit, which frees as soon as a call ends).
pub fn throttled_wait(headers: &HeaderMap, problem: Option<&str>) -> Duration {
    http::retry_after(headers).unwrap_or(match problem {
        Some("concurrent") => Duration::from_millis(500),
        Some("day") => Duration::from_secs(3600),
        _ => Duration::from_secs(2),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn validation_messages_of_elements_and_lines_are_xeros_words() {
        let body = serde_json::json!({
            "ErrorNumber": 10, "Type": "ValidationException",
            "Message": "A validation exception occurred",
            "Elements": [{
                "ValidationErrors": [{"Message": "Organisation is not subscribed to currency USD"}],
                "LineItems": [
                    {"ValidationErrors": [{"Message": "Account code '999' is not a valid code for this document."}]},
                    {"ValidationErrors": [{"Message": "Account code '999' is not a valid code for this document."}]}
                ]
            }]
        });
        assert_eq!(
            error_message(body.to_string().as_bytes()).as_deref(),
            Some(
                "A validation exception occurred: Organisation is not subscribed to currency \
                 USD; Account code '999' is not a valid code for this document."
            )
        );
        let parse = br#"{"ErrorNumber":16,"Type":"QueryParseException","Message":"No property or field 'Nope' exists"}"#;
        assert_eq!(
            error_message(parse).as_deref(),
            Some("No property or field 'Nope' exists")
        );
        let problem = br#"{"Type":null,"Title":"Unauthorized","Status":401,"Detail":"TokenExpired: token expired at 12/05/2026 10:00:00"}"#;
        assert_eq!(
            error_message(problem).as_deref(),
            Some("TokenExpired: token expired at 12/05/2026 10:00:00")
        );
        assert_eq!(
            error_message(b"The resource you're looking for cannot be found"),
            None
        );
        assert_eq!(error_message(b""), None);
    }

    #[test]
    fn a_429_says_which_limit_and_how_long() {
        let mut headers = HeaderMap::new();
        assert_eq!(rate_limit_problem(&headers), None);
        assert_eq!(throttled_wait(&headers, None), Duration::from_secs(2));
        headers.insert(
            "x-rate-limit-problem",
            HeaderValue::from_static("Concurrent"),
        );
        let problem = rate_limit_problem(&headers);
        assert_eq!(problem.as_deref(), Some("concurrent"));
        assert_eq!(
            throttled_wait(&headers, problem.as_deref()),
            Duration::from_millis(500)
        );
        headers.insert("retry-after", HeaderValue::from_static("41"));
        assert_eq!(
            throttled_wait(&headers, Some("minute")),
            Duration::from_secs(41)
        );
    }

    #[test]
    fn dates_in_xeros_json_form() {
        assert_eq!(ms_date("/Date(1552262400000+0000)/"), Some(1552262400000));
        assert_eq!(ms_date("/Date(1552262400000)/"), Some(1552262400000));
        assert_eq!(ms_date("2019-03-11"), None);
    }
}
