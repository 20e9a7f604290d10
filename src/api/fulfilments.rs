//! `/v1/orders/{id}/fulfilments` and `/v1/fulfilments/{id}`: shipments of imported orders, which
//! the push-fulfilment worker records on the order's channel.
//!
//! A create is checked whole before anything is written (an unknown or repeated line, more than
//! is left once earlier non-failed fulfilments are counted, a cancelled order, an empty list:
//! 422 naming the field), then the fulfilment, its lines, its push job and its event are written
//! in one transaction. Another account's order or fulfilment is 404, like every tenant lookup.

use axum::extract::{Path, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::extract::ApiJson;
use super::tenant::{db, Account, Page};
use super::AppState;
use crate::domain::fulfilment::{check_tracking, RequestedLine};
use crate::error::AppError;
use crate::store::fulfilments::{self, CreateError};

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

async fn create(
    State(state): State<AppState>,
    Account(account): Account,
    Path(order_id): Path<i64>,
    ApiJson(body): ApiJson<CreateFulfilment>,
) -> Result<Response, AppError> {
    let tracking = check_tracking(
        body.carrier.as_deref(),
        body.tracking_number.as_deref(),
        body.tracking_url.as_deref(),
    )?;
    let created = fulfilments::create(
        db(&state)?,
        account,
        order_id,
        body.lines.as_deref(),
        &tracking,
    )
    .await;
    match created {
        Ok(f) => {
            let location = HeaderValue::from_str(&format!("/v1/fulfilments/{}", f.id))
                .map_err(|_| AppError::NotFound(format!("fulfilment {}", f.id)))?;
            Ok((StatusCode::CREATED, [(LOCATION, location)], Json(f)).into_response())
        }
        Err(CreateError::OrderNotFound) => Err(order_not_found(order_id)),
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
    Ok(Json(Page {
        items: list,
        next_cursor: None,
    })
    .into_response())
}

async fn read(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let f = fulfilments::get(db(&state)?, account, id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("fulfilment {id}")))?;
    Ok(Json(f).into_response())
}
