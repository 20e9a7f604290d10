//! Shopify's GraphQL Admin API on the wire: one endpoint, `POST {base}/admin/api/{version}/graphql.json`,
//! every answer a `{data, errors, extensions}` envelope, and a rate limit by calculated query cost.
//!
//! Each operation is charged what it asked for last time (`requestedQueryCost`; a first guess of
//! [`FIRST_GUESS`] points before that), every answer's `extensions.cost` teaches the throttle the
//! bucket and refunds what the query did not spend, and a `THROTTLED` answer (HTTP 200 on Shopify)
//! is waited out like a 429: the throttle knows how long the query's cost takes to restore, and a
//! wait longer than the call may hold goes back to the queue as [`ConnectorError::RateLimited`].
//!
//! Top-level errors map as REST statuses did: `THROTTLED` waits, `ACCESS_DENIED` is an auth
//! failure, `INTERNAL_SERVER_ERROR` is transient, anything else (a query the API does not accept)
//! is a permanent rejection. A mutation's `userErrors` are the caller's to read
//! ([`user_errors`]).

use std::collections::HashMap;
use std::sync::Mutex;

use reqwest::header::HeaderValue;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::time::Instant;
use url::Url;

use crate::connectors::error::ConnectorError;
use crate::connectors::http;
use crate::connectors::throttle::BucketReport;
use crate::connectors::transport::Transport;

/// Points charged for an operation before the shop has told us what it costs.
pub const FIRST_GUESS: f64 = 100.0;
/// The shortest wait after a `THROTTLED` answer.
const MIN_THROTTLED_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

/// A named GraphQL document; the name keys its learnt cost.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    pub name: &'static str,
    pub document: &'static str,
}

/// A client of one shop's GraphQL endpoint.
#[derive(Debug)]
pub struct Client {
    endpoint: Url,
    token: HeaderValue,
    transport: Transport,
    /// The requested cost each operation was last charged by the shop.
    costs: Mutex<HashMap<&'static str, f64>>,
}

#[derive(Debug, Deserialize)]
struct Answer {
    #[serde(default)]
    data: Option<Value>,
    #[serde(default)]
    errors: Option<Value>,
    #[serde(default)]
    extensions: Option<Extensions>,
}

#[derive(Debug, Deserialize)]
struct Extensions {
    cost: Option<Cost>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Cost {
    requested_query_cost: f64,
    actual_query_cost: Option<f64>,
    throttle_status: ThrottleStatus,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ThrottleStatus {
    maximum_available: f64,
    currently_available: f64,
    restore_rate: f64,
}

/// One entry of a top-level `errors` array.
#[derive(Debug, Deserialize)]
struct GraphQlError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    extensions: Option<ErrorExtensions>,
}

#[derive(Debug, Deserialize)]
struct ErrorExtensions {
    #[serde(default)]
    code: Option<String>,
}

impl Client {
    pub fn new(endpoint: Url, token: HeaderValue, transport: Transport) -> Client {
        Client {
            endpoint,
            token,
            transport,
            costs: Mutex::default(),
        }
    }

    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    fn expected_cost(&self, op: &Operation) -> f64 {
        self.costs
            .lock()
            .ok()
            .and_then(|c| c.get(op.name).copied())
            .unwrap_or(FIRST_GUESS)
    }

    fn remember_cost(&self, op: &Operation, cost: f64) {
        if let Ok(mut costs) = self.costs.lock() {
            costs.insert(op.name, cost);
        }
    }

    /// Runs `op` with `variables` and reads its `data` as `T`.
    pub async fn run<T: DeserializeOwned>(
        &self,
        op: &Operation,
        variables: Value,
    ) -> Result<T, ConnectorError> {
        let body = json!({
            "query": op.document,
            "variables": variables,
            "operationName": op.name,
        });
        let throttle = self.transport.throttle();
        let settings = throttle.settings();
        let deadline = Instant::now() + settings.max_wait;
        let mut refused = 0u32;
        loop {
            let charged = self.expected_cost(op);
            let raw = self
                .transport
                .send_costing(op.name, charged, deadline, || {
                    self.transport
                        .client()
                        .request(reqwest::Method::POST, self.endpoint.clone())
                        .header("X-Shopify-Access-Token", self.token.clone())
                        .header("Accept", "application/json")
                        .json(&body)
                        .build()
                        .map_err(|e| {
                            ConnectorError::Invalid(format!("{}: {}", op.name, e.without_url()))
                        })
                })
                .await?;
            let answer: Answer = http::parse_json(&raw.body, op.name)?;
            let errors = answer.errors();
            let throttled = errors.iter().any(|e| e.code() == Some("THROTTLED"));
            if let Some(cost) = answer.extensions.as_ref().and_then(|e| e.cost.as_ref()) {
                self.remember_cost(op, cost.requested_query_cost);
                let status = &cost.throttle_status;
                throttle.learn(BucketReport {
                    capacity: status.maximum_available,
                    available: status.currently_available,
                    rate: status.restore_rate,
                    charged,
                    spent: if throttled {
                        0.0
                    } else {
                        cost.actual_query_cost.unwrap_or(cost.requested_query_cost)
                    },
                });
            }
            if !throttled {
                return answer.into_data(op, &errors);
            }
            refused += 1;
            // As long as the cost takes to restore, and never at once: a refusal with room
            // reported (another app's burst, a platform hiccup) is not met again immediately.
            let wait = throttle
                .wait_for(self.expected_cost(op))
                .max(MIN_THROTTLED_WAIT);
            if refused > settings.max_429_retries || Instant::now() + wait > deadline {
                tracing::warn!(
                    call = op.name,
                    ?wait,
                    refused,
                    "Shopify throttled the query: handing the wait to the queue"
                );
                return Err(ConnectorError::RateLimited {
                    retry_after: wait,
                    message: "Throttled".into(),
                });
            }
            tracing::info!(
                call = op.name,
                ?wait,
                "Shopify throttled the query; waiting"
            );
            throttle.pause(wait);
        }
    }
}

impl Answer {
    fn errors(&self) -> Vec<GraphQlError> {
        match &self.errors {
            Some(Value::Array(items)) => items
                .iter()
                .map(|e| {
                    serde_json::from_value(e.clone()).unwrap_or_else(|_| GraphQlError {
                        message: e.to_string(),
                        extensions: None,
                    })
                })
                .collect(),
            Some(Value::Null) | None => Vec::new(),
            Some(other) => vec![GraphQlError {
                message: other
                    .as_str()
                    .map_or_else(|| other.to_string(), str::to_owned),
                extensions: None,
            }],
        }
    }

    /// `data` as `T`, unless `errors` (this answer's, read once) name a failure.
    fn into_data<T: DeserializeOwned>(
        self,
        op: &Operation,
        errors: &[GraphQlError],
    ) -> Result<T, ConnectorError> {
        if !errors.is_empty() {
            return Err(error_of(errors));
        }
        let data = self.data.ok_or_else(|| {
            ConnectorError::Malformed(format!(
                "{}: an answer with neither data nor errors",
                op.name
            ))
        })?;
        serde_path_to_error::deserialize(data)
            .map_err(|e| ConnectorError::Malformed(format!("{}: {e}", op.name)))
    }
}

impl GraphQlError {
    fn code(&self) -> Option<&str> {
        self.extensions.as_ref().and_then(|e| e.code.as_deref())
    }
}

/// The failure a non-empty top-level `errors` array stands for.
fn error_of(errors: &[GraphQlError]) -> ConnectorError {
    let message = errors
        .iter()
        .map(|e| match e.code() {
            Some(code) => format!("{} ({code})", e.message),
            None => e.message.clone(),
        })
        .collect::<Vec<_>>()
        .join("; ");
    let has = |code: &str| errors.iter().any(|e| e.code() == Some(code));
    if has("ACCESS_DENIED") {
        ConnectorError::Auth {
            status: 403,
            message,
        }
    } else if has("INTERNAL_SERVER_ERROR") || has("SERVICE_UNAVAILABLE") {
        ConnectorError::Transient {
            status: None,
            message,
        }
    } else {
        ConnectorError::Rejected {
            status: 400,
            message,
        }
    }
}

/// A mutation's `userErrors`: each as Shopify sends it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UserError {
    #[serde(default)]
    pub field: Option<Vec<String>>,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub code: Option<String>,
}

/// `Ok` when a mutation reported no `userErrors`, else a permanent rejection naming each.
pub fn user_errors(what: &str, errors: &[UserError]) -> Result<(), ConnectorError> {
    if errors.is_empty() {
        return Ok(());
    }
    let message = errors
        .iter()
        .map(|e| {
            let field = e.field.as_ref().map(|f| f.join(".")).unwrap_or_default();
            match (field.is_empty(), e.code.as_deref()) {
                (true, None) => e.message.clone(),
                (true, Some(code)) => format!("{} ({code})", e.message),
                (false, None) => format!("{field}: {}", e.message),
                (false, Some(code)) => format!("{field}: {} ({code})", e.message),
            }
        })
        .collect::<Vec<_>>()
        .join("; ");
    Err(ConnectorError::Rejected {
        status: 422,
        message: format!("{what}: {message}"),
    })
}

/// `gid://shopify/{kind}/{id}` for a numeric id, as the GraphQL API names objects.
pub fn gid(kind: &str, id: &str) -> String {
    format!("gid://shopify/{kind}/{id}")
}

/// The numeric id at the end of a global id (`gid://shopify/Order/123` is `123`), which is what
/// switchyard stores, so ids read from webhooks (which carry numbers) and from GraphQL agree.
pub fn legacy_id(gid: &str) -> Result<String, ConnectorError> {
    let tail = gid.rsplit('/').next().unwrap_or_default();
    let tail = tail.split('?').next().unwrap_or_default();
    if tail.is_empty() || !tail.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ConnectorError::Malformed(format!(
            "{gid:?} is not a Shopify global id"
        )));
    }
    Ok(tail.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_ids_round_trip_to_the_numbers_switchyard_stores() {
        assert_eq!(gid("Order", "42"), "gid://shopify/Order/42");
        assert_eq!(legacy_id("gid://shopify/Order/42").as_deref(), Ok("42"));
        assert_eq!(
            legacy_id("gid://shopify/InventoryItem/7?inventory_item_id=7").as_deref(),
            Ok("7")
        );
        assert!(legacy_id("gid://shopify/Order/").is_err());
        assert!(legacy_id("not an id").is_err());
    }

    #[test]
    fn top_level_errors_map_to_what_the_queue_should_do() {
        let answer = |errors: Value| Answer {
            data: None,
            errors: Some(errors),
            extensions: None,
        };
        let op = Operation {
            name: "Test",
            document: "",
        };
        let err = |errors| {
            let answer = answer(errors);
            let read = answer.errors();
            answer.into_data::<Value>(&op, &read).unwrap_err()
        };
        assert!(matches!(
            err(json!([{"message": "Access denied", "extensions": {"code": "ACCESS_DENIED"}}])),
            ConnectorError::Auth { .. }
        ));
        assert!(matches!(
            err(
                json!([{"message": "Internal error", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}])
            ),
            ConnectorError::Transient { .. }
        ));
        assert_eq!(
            err(
                json!([{"message": "Field 'x' doesn't exist on type 'Order'",
                        "extensions": {"code": "undefinedField"}}])
            ),
            ConnectorError::Rejected {
                status: 400,
                message: "Field 'x' doesn't exist on type 'Order' (undefinedField)".into()
            }
        );
        assert!(
            answer(json!([{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]))
                .errors()
                .iter()
                .any(|e| e.code() == Some("THROTTLED"))
        );
        assert!(matches!(
            err(json!("[API] Invalid API key or access token")),
            ConnectorError::Rejected { .. }
        ));
    }

    #[test]
    fn user_errors_name_their_field_and_code() {
        assert_eq!(user_errors("set stock", &[]), Ok(()));
        let err = user_errors(
            "set stock",
            &[UserError {
                field: Some(vec!["input".into(), "quantities".into(), "0".into()]),
                message: "The specified inventory item could not be found.".into(),
                code: Some("INVALID_INVENTORY_ITEM".into()),
            }],
        );
        assert_eq!(
            err,
            Err(ConnectorError::Rejected {
                status: 422,
                message:
                    "set stock: input.quantities.0: The specified inventory item could not be \
                          found. (INVALID_INVENTORY_ITEM)"
                        .into()
            })
        );
    }
}
