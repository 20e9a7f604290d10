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
use crate::store::orders::{self, OrderEvent, OrderFilter, StoredOrder};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orders", get(list))
        .route("/orders/{id}", get(read))
        .route("/orders/{id}/events", get(events))
}

/// The order list's filters, combined with AND, and its paging.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only orders of this store.
    store_id: Option<i64>,
    /// Only orders of this channel.
    channel_id: Option<i64>,
    /// Only orders in this status.
    status: Option<OrderStatus>,
    /// Only orders in this sync status.
    sync_status: Option<SyncStatus>,
    /// Only orders switchyard changed at or after this time (RFC 3339).
    #[param(value_type = Option<chrono::DateTime<chrono::Utc>>)]
    updated_since: Option<Timestamp>,
    /// The previous page's `next_cursor`; none for the first page.
    cursor: Option<String>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

fn not_found(id: i64) -> AppError {
    AppError::NotFound(format!("order {id}"))
}

/// List the account's orders, oldest change first.
///
/// Ordered by when switchyard last changed each order, so a client keeps in step by walking
/// forward from `updated_since` (the last `updated_at` it saw) through `next_cursor`. An order
/// changed in the same instant as that checkpoint is listed again rather than lost.
#[utoipa::path(
    get, path = "/v1/orders", operation_id = "listOrders", tag = "Orders",
    params(ListQuery),
    responses((status = 200, description = "A page of orders", body = Page<StoredOrder>)),
)]
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

/// Read an order.
#[utoipa::path(
    get, path = "/v1/orders/{id}", operation_id = "getOrder", tag = "Orders",
    params(("id" = i64, Path, description = "The order's id")),
    responses((status = 200, description = "The order", body = StoredOrder)),
)]
async fn read(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    found(orders::get_order(db(&state)?, account, id).await?, || {
        not_found(id)
    })
}

/// List an order's status history, oldest first.
#[utoipa::path(
    get, path = "/v1/orders/{id}/events", operation_id = "listOrderEvents", tag = "Orders",
    params(("id" = i64, Path, description = "The order's id")),
    responses((status = 200, description = "Every status change of the order", body = Vec<OrderEvent>)),
)]
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
#[openapi(paths(list, read, events))]
pub(super) struct Doc;
