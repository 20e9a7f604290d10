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
use super::openapi::Problem;
use super::tenant::{conflict, created, db, found, Account, Page};
use super::AppState;
use crate::api::error::AppError;
use crate::domain::fulfilment::{check_tracking, RequestedLine};
use crate::store::fulfilments::{self, CreateError, Created, Fulfilment, NewFulfilment};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orders/{id}/fulfilments", get(list).post(create))
        .route("/fulfilments/{id}", get(read))
}

/// A shipment of an order. Every field may be left out: a body of `{}` ships everything still
/// unshipped, untracked.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "lines": [{"order_line_id": 1, "quantity": 1}],
    "carrier": "UPS",
    "tracking_number": "1Z999AA10123456784",
    "tracking_url": "https://www.ups.com/track?tracknum=1Z999AA10123456784"
}))]
struct CreateFulfilment {
    /// The lines to ship, each named once; left out, everything still unshipped.
    #[serde(default)]
    lines: Option<Vec<RequestedLine>>,
    /// At most 255 characters, no control characters; blank is none.
    #[serde(default)]
    #[schema(max_length = 255, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    carrier: Option<String>,
    /// At most 255 characters, no control characters; blank is none.
    #[serde(default)]
    #[schema(max_length = 255, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    tracking_number: Option<String>,
    /// An absolute http(s) URL, at most 2048 characters; blank is none.
    #[serde(default)]
    #[schema(max_length = 2048, pattern = r"^\s*(https?://\S|$)")]
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

/// Ship some or all of an order.
///
/// Records the shipment and queues its push to the order's channel: its `status` goes from
/// `pending` to `synced`, or to `failed` with the reason in `failure_reason`. Refused with 422
/// naming the field for a cancelled or refunded order, an unknown, repeated or zero line, more
/// than is left of a line, or an order with nothing left to ship.
#[utoipa::path(
    post, path = "/v1/orders/{id}/fulfilments", operation_id = "createFulfilment",
    tag = "Fulfilments",
    params(("id" = i64, Path, description = "The order's id")),
    request_body = CreateFulfilment,
    responses(
        (status = 201, description = "Created", body = Fulfilment,
         headers(("location" = String, description = "`/v1/fulfilments/{id}`"))),
        (status = 200, description = "A retry with an `Idempotency-Key` whose first answer is no \
         longer kept: the fulfilment that request made, with `Idempotent-Replayed: true`",
         body = Fulfilment,
         headers(("idempotent-replayed" = String, description = "`true`"))),
        (status = 409, description = "The `Idempotency-Key` made a fulfilment of another order \
         (`conflict`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
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

/// List an order's fulfilments, oldest first.
///
/// One page holds them all: `next_cursor` is always null.
#[utoipa::path(
    get, path = "/v1/orders/{id}/fulfilments", operation_id = "listOrderFulfilments",
    tag = "Fulfilments",
    params(("id" = i64, Path, description = "The order's id")),
    responses((status = 200, description = "The order's fulfilments", body = Page<Fulfilment>)),
)]
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

/// Read a fulfilment.
#[utoipa::path(
    get, path = "/v1/fulfilments/{id}", operation_id = "getFulfilment", tag = "Fulfilments",
    params(("id" = i64, Path, description = "The fulfilment's id")),
    responses((status = 200, description = "The fulfilment", body = Fulfilment)),
)]
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
#[openapi(paths(list, create, read))]
pub(super) struct Doc;
