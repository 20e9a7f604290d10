//! `/v1/orders`: the account's imported orders in the unified format (DESIGN.md "Unified
//! order"), listed oldest change first with cursor paging, so a client can sync changes by
//! walking forward from `updated_since`; and the actions a caller takes on one (release,
//! exclude, include, notes, tags), each a move of the order state model
//! (`docs/order-states.md`) with its history row and its event.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::extract::{ApiJson, ApiQuery, Timestamp};
use super::openapi::Problem;
use super::tenant::{bad_cursor, conflict, db, found, limit, Account, Page};
use super::AppState;
use crate::api::error::AppError;
use crate::domain::PageCursor;
use crate::domain::{FieldError, OrderStatus, SyncStatus};
use crate::store::order_state::{self, OrderAction, MAX_NOTE};
use crate::store::orders::{self, OrderEvent, OrderFilter, StoredOrder};
use crate::store::StoreError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orders", get(list))
        .route("/orders/{id}", get(read))
        .route("/orders/{id}/events", get(events))
        .route("/orders/{id}/release", post(release))
        .route("/orders/{id}/exclude", post(exclude))
        .route("/orders/{id}/include", post(include))
        .route("/orders/{id}/notes", post(add_note))
        .route("/orders/{id}/tags", post(change_tags))
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

/// Why an order is excluded by hand.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "duplicate of order #1042"}))]
struct ExcludeOrder {
    /// Shown as the order's `excluded_reason`: 1 to 500 characters, no control characters.
    #[schema(min_length = 1, max_length = 500)]
    reason: String,
}

/// A note to add to an order.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"body": "Customer asked for gift wrap"}))]
struct NewNote {
    /// 1 to 4000 characters; line breaks allowed.
    #[schema(min_length = 1, max_length = 4000)]
    body: String,
}

/// Tags to add to and remove from an order.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"add": ["gift"], "remove": ["rush"]}))]
struct ChangeTags {
    /// Tags to add: 1 to 100 characters each, no comma or control character, at most 50.
    #[serde(default)]
    add: Vec<String>,
    /// Tags to remove: only tags added through the API can be removed.
    #[serde(default)]
    remove: Vec<String>,
}

/// Most tags one request adds or removes.
const MAX_TAGS: usize = 50;

fn check_text(field: &str, text: &str, max: usize, lines: bool) -> Result<String, FieldError> {
    let trimmed = text.trim();
    let bad = |c: char| c.is_control() && !(lines && (c == '\n' || c == '\r' || c == '\t'));
    if trimmed.is_empty() || trimmed.chars().count() > max || trimmed.chars().any(bad) {
        let what = match lines {
            true => "text",
            false => "text without control characters",
        };
        return Err(FieldError::new(
            field,
            format!("must be 1 to {max} characters of {what}"),
        ));
    }
    Ok(trimmed.to_owned())
}

fn check_tags(field: &str, tags: &[String]) -> Result<Vec<String>, FieldError> {
    if tags.len() > MAX_TAGS {
        return Err(FieldError::new(
            field,
            format!("must list at most {MAX_TAGS} tags"),
        ));
    }
    tags.iter()
        .enumerate()
        .map(|(i, t)| {
            let tag = check_text(&format!("{field}[{i}]"), t, 100, false)?;
            match tag.contains(',') {
                true => Err(FieldError::new(
                    format!("{field}[{i}]"),
                    "must not contain a comma",
                )),
                false => Ok(tag),
            }
        })
        .collect()
}

/// Applies an action and answers the order as it is after it: 404 for an order not in the
/// account, 409 for a move the order's state does not allow.
async fn act(
    state: &AppState,
    account: crate::store::AccountId,
    id: i64,
    action: OrderAction,
    status: StatusCode,
) -> Result<Response, AppError> {
    match order_state::act(db(state)?, account, id, &action).await {
        Ok(Some(order)) => Ok((status, Json(order)).into_response()),
        Ok(None) => Err(not_found(id)),
        Err(StoreError::Conflict(detail)) => Ok(conflict(&detail)),
        Err(e) => Err(e.into()),
    }
}

/// Release a held order.
///
/// An order on hold (by the channel's `import_not_ready`, or by a plugin rule) becomes
/// `pending` and continues as if it had never been held: it goes to the plugin its rules routed
/// it to, and `order.updated` announces it. The channel no longer holds it on later imports.
/// 409 for an order not on hold.
#[utoipa::path(
    post, path = "/v1/orders/{id}/release", operation_id = "releaseOrder", tag = "Orders",
    params(("id" = i64, Path, description = "The order's id")),
    responses(
        (status = 200, description = "The order, released", body = StoredOrder),
        (status = 409, description = "The order is not on hold (`conflict`)", body = Problem,
         content_type = "application/problem+json"),
    ),
)]
async fn release(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    act(&state, account, id, OrderAction::Release, StatusCode::OK).await
}

/// Exclude an order by hand.
///
/// The order is not to be fulfilled: it becomes `excluded` with the reason given, whatever the
/// channel's filters say on later imports, until it is included again. `order.excluded`
/// announces it. An order already with a plugin or being shipped (`in_progress`, `updated`,
/// `synced`) cannot be excluded: 409. The stock it took stays taken, since the channel still
/// sold its units.
#[utoipa::path(
    post, path = "/v1/orders/{id}/exclude", operation_id = "excludeOrder", tag = "Orders",
    params(("id" = i64, Path, description = "The order's id")),
    request_body = ExcludeOrder,
    responses(
        (status = 200, description = "The order, excluded", body = StoredOrder),
        (status = 409, description = "The order is already being worked on (`conflict`)",
         body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn exclude(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<ExcludeOrder>,
) -> Result<Response, AppError> {
    let reason = check_text("reason", &body.reason, 500, false)?;
    act(
        &state,
        account,
        id,
        OrderAction::Exclude { reason },
        StatusCode::OK,
    )
    .await
}

/// Include an excluded order.
///
/// The order becomes `pending` work, whatever the channel's filters say on later imports (a
/// cancellation on the channel still excludes it). The store's plugin rules run on it if they
/// never did, so it may go to a plugin, or be held by a rule. `order.updated` announces it. 409
/// for an order not excluded.
#[utoipa::path(
    post, path = "/v1/orders/{id}/include", operation_id = "includeOrder", tag = "Orders",
    params(("id" = i64, Path, description = "The order's id")),
    responses(
        (status = 200, description = "The order, included", body = StoredOrder),
        (status = 409, description = "The order is not excluded (`conflict`)", body = Problem,
         content_type = "application/problem+json"),
    ),
)]
async fn include(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    act(&state, account, id, OrderAction::Include, StatusCode::OK).await
}

/// Add a note to an order.
///
/// The note is shown with the order (`internal_notes`) and in its history (kind `note`), and
/// `order.updated` announces it. The channel's own note (`notes`) is untouched.
#[utoipa::path(
    post, path = "/v1/orders/{id}/notes", operation_id = "addOrderNote", tag = "Orders",
    params(("id" = i64, Path, description = "The order's id")),
    request_body = NewNote,
    responses((status = 201, description = "The order, with the note", body = StoredOrder)),
)]
async fn add_note(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<NewNote>,
) -> Result<Response, AppError> {
    let body = check_text("body", &body.body, MAX_NOTE, true)?;
    act(
        &state,
        account,
        id,
        OrderAction::Note { body },
        StatusCode::CREATED,
    )
    .await
}

/// Add and remove an order's tags.
///
/// Added tags stay through later imports, beside the channel's and the plugin rules'. Only
/// tags added through the API can be removed (a channel's or a rule's would come back): 409
/// otherwise. A change is recorded in the history (kind `tagged`) and announced with
/// `order.updated`; a request that changes nothing writes nothing.
#[utoipa::path(
    post, path = "/v1/orders/{id}/tags", operation_id = "changeOrderTags", tag = "Orders",
    params(("id" = i64, Path, description = "The order's id")),
    request_body = ChangeTags,
    responses(
        (status = 200, description = "The order, with its tags", body = StoredOrder),
        (status = 409, description = "A tag to remove came from the channel or a rule \
         (`conflict`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn change_tags(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<ChangeTags>,
) -> Result<Response, AppError> {
    let add = check_tags("add", &body.add)?;
    let remove = check_tags("remove", &body.remove)?;
    if add.is_empty() && remove.is_empty() {
        return Err(FieldError::new("add", "name at least one tag to add or remove").into());
    }
    act(
        &state,
        account,
        id,
        OrderAction::Tags { add, remove },
        StatusCode::OK,
    )
    .await
}

/// This module's part of the OpenAPI document (see [`super::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, read, events, release, exclude, include, add_note, change_tags))]
pub(super) struct Doc;
