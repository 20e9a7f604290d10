//! `/v1/orders`: the account's imported orders in the unified format (DESIGN.md "Unified
//! order"), listed oldest change first with cursor paging, so a client can sync changes by
//! walking forward from `updated_since`.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::extract::{ApiQuery, Timestamp};
use super::tenant::{bad_cursor, db, found, limit, Account, Page};
use super::AppState;
use crate::api::error::AppError;
use crate::domain::PageCursor;
use crate::domain::{OrderStatus, SyncStatus};
use crate::store::orders::{self, OrderFilter};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orders", get(list))
        .route("/orders/{id}", get(read))
        .route("/orders/{id}/events", get(events))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    store_id: Option<i64>,
    channel_id: Option<i64>,
    status: Option<OrderStatus>,
    sync_status: Option<SyncStatus>,
    updated_since: Option<Timestamp>,
    cursor: Option<String>,
    limit: Option<u32>,
}

fn not_found(id: i64) -> AppError {
    AppError::NotFound(format!("order {id}"))
}

async fn list(
    State(state): State<AppState>,
    Account(account): Account,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, AppError> {
    let limit = limit(q.limit)?;
    let after = q
        .cursor
        .as_deref()
        .map(|c| PageCursor::decode(c).ok_or_else(bad_cursor))
        .transpose()?;
    let filter = OrderFilter {
        store_id: q.store_id,
        channel_id: q.channel_id,
        status: q.status,
        sync_status: q.sync_status,
        updated_since: q.updated_since.map(|t| t.0),
        after,
        limit,
    };
    let page = orders::list_orders(db(&state)?, account, &filter).await?;
    let page = Page {
        items: page.orders,
        next_cursor: page.next_cursor,
    };
    Ok(page.into_response())
}

async fn read(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    found(orders::get_order(db(&state)?, account, id).await?, || {
        not_found(id)
    })
}

async fn events(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let pool = db(&state)?;
    // An order of another account reads as absent, like every other lookup.
    if orders::get_order(pool, account, id).await?.is_none() {
        return Err(not_found(id));
    }
    let events = orders::events(pool, account, id).await?;
    Ok(Json(events).into_response())
}

/// This module's part of the OpenAPI document (see [`super::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi()]
pub(super) struct Doc;
