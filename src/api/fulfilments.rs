//! `/v1/orders/{id}/fulfilments` and `/v1/fulfilments/{id}`: shipments of imported orders, which
//! the push-fulfilment worker records on the order's channel.
//!
//! A create is checked whole before anything is written (an unknown or repeated line, more than
//! is left once earlier non-failed fulfilments are counted, a cancelled order, an empty list:
//! 422 naming the field), then the fulfilment, its lines, its push job and its event are written
//! in one transaction. Another account's order or fulfilment is 404, like every tenant lookup.
//! An optional `Idempotency-Key` makes a retried create answer the fulfilment it first made.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use super::extract::ApiJson;
use super::tenant::{conflict, created, db, found, Account, Page};
use super::AppState;
use crate::api::error::AppError;
use crate::domain::fulfilment::{check_tracking, RequestedLine};
use crate::store::fulfilments::{self, CreateError, Created, NewFulfilment};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orders/{id}/fulfilments", get(list).post(create))
        .route("/fulfilments/{id}", get(read))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateFulfilment {
    /// The lines to ship; left out, everything still unshipped.
    #[serde(default)]
    lines: Option<Vec<RequestedLine>>,
    #[serde(default)]
    carrier: Option<String>,
    #[serde(default)]
    tracking_number: Option<String>,
    #[serde(default)]
    tracking_url: Option<String>,
}

fn order_not_found(id: i64) -> AppError {
    AppError::NotFound(format!("order {id}"))
}

/// Set on the answer to a replayed create, whose body is the fulfilment the first one made.
static REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// The optional `Idempotency-Key` header (see [`super::idempotency::parse_key`]). A client that
/// retries a create whose answer it lost sends the same key and gets the same fulfilment, rather
/// than a second shipment of the same goods.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, AppError> {
    headers
        .get("idempotency-key")
        .map(super::idempotency::parse_key)
        .transpose()
}

async fn create(
    State(state): State<AppState>,
    Account(account): Account,
    Path(order_id): Path<i64>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CreateFulfilment>,
) -> Result<Response, AppError> {
    let key = idempotency_key(&headers)?;
    let tracking = check_tracking(
        body.carrier.as_deref(),
        body.tracking_number.as_deref(),
        body.tracking_url.as_deref(),
    )?;
    let new = NewFulfilment {
        order_id,
        lines: body.lines.as_deref(),
        tracking: &tracking,
        idempotency_key: key.as_deref(),
    };
    match fulfilments::create(db(&state)?, account, &new).await {
        Ok(Created {
            fulfilment,
            replayed,
        }) => {
            let mut res = created(format!("/v1/fulfilments/{}", fulfilment.id), fulfilment);
            // A replay is the first answer again, not a new fulfilment.
            if replayed {
                *res.status_mut() = StatusCode::OK;
                res.headers_mut()
                    .insert(REPLAYED.clone(), HeaderValue::from_static("true"));
            }
            Ok(res)
        }
        Err(CreateError::OrderNotFound) => Err(order_not_found(order_id)),
        Err(e @ CreateError::KeyReused(_)) => Ok(conflict(&e.to_string())),
        Err(CreateError::Invalid(e)) => Err(e.into()),
        Err(CreateError::Store(e)) => Err(e.into()),
    }
}

async fn list(
    State(state): State<AppState>,
    Account(account): Account,
    Path(order_id): Path<i64>,
) -> Result<Response, AppError> {
    let list = fulfilments::list_for_order(db(&state)?, account, order_id)
        .await?
        .ok_or_else(|| order_not_found(order_id))?;
    // An order has a handful of shipments: one page, in the list shape every resource uses.
    let page = Page {
        items: list,
        next_cursor: None,
    };
    Ok(page.into_response())
}

async fn read(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let fulfilment = fulfilments::get(db(&state)?, account, id).await?;
    found(fulfilment, || {
        AppError::NotFound(format!("fulfilment {id}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_keys_are_optional_and_bounded() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_str(v) {
                h.insert("idempotency-key", v);
            }
            idempotency_key(&h)
        };
        assert_eq!(with("ship-1").ok().flatten().as_deref(), Some("ship-1"));
        assert!(matches!(idempotency_key(&HeaderMap::new()), Ok(None)));
        assert!(with("").is_err());
        assert!(with("has space").is_err());
        assert!(with(&"k".repeat(super::super::idempotency::MAX_KEY + 1)).is_err());
    }
}

/// This module's part of the OpenAPI document (see [`super::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi()]
pub(super) struct Doc;
