//! `/v1/stores`: the account's stores (brands or customers), which group its channels.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use super::extract::{ApiJson, ApiQuery};
use super::openapi::Problem;
use super::tenant::{check_name, conflict, created, db, found, Account, Page, PageQuery};
use super::AppState;
use crate::api::error::AppError;
use crate::store::stores::{self, Deleted, StoreRow};
use crate::store::StoreError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/stores", get(list).post(create))
        .route("/stores/{id}", get(read).patch(update).delete(remove))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Acme Outdoor"}))]
struct StoreBody {
    /// 1 to 200 characters, unique in the account.
    name: String,
}

fn not_found(id: i64) -> AppError {
    AppError::NotFound(format!("store {id}"))
}

/// A duplicate name is a 409; anything else goes through `AppError`.
fn or_conflict(err: StoreError) -> Result<Response, AppError> {
    match err {
        StoreError::Conflict(detail) => Ok(conflict(&detail)),
        other => Err(other.into()),
    }
}

/// Create a store.
#[utoipa::path(
    post, path = "/v1/stores", operation_id = "createStore", tag = "Stores",
    request_body = StoreBody,
    responses(
        (status = 201, description = "Created", body = StoreRow,
         headers(("location" = String, description = "`/v1/stores/{id}`"))),
        (status = 409, description = "A store of this name exists (`conflict`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn create(
    State(state): State<AppState>,
    Account(account): Account,
    ApiJson(body): ApiJson<StoreBody>,
) -> Result<Response, AppError> {
    let name = check_name(&body.name)?;
    match stores::create(db(&state)?, account, name).await {
        Ok(store) => Ok(created(format!("/v1/stores/{}", store.id), store)),
        Err(e) => or_conflict(e),
    }
}

/// List the account's stores, oldest first.
#[utoipa::path(
    get, path = "/v1/stores", operation_id = "listStores", tag = "Stores",
    params(PageQuery),
    responses((status = 200, description = "A page of stores", body = Page<StoreRow>)),
)]
async fn list(
    State(state): State<AppState>,
    Account(account): Account,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Response, AppError> {
    let page = q.page()?;
    let rows = stores::list(db(&state)?, account, page.cursor, page.fetch()).await?;
    Ok(page.of(rows, |s| s.id).into_response())
}

/// Read a store.
#[utoipa::path(
    get, path = "/v1/stores/{id}", operation_id = "getStore", tag = "Stores",
    params(("id" = i64, Path, description = "The store's id")),
    responses((status = 200, description = "The store", body = StoreRow)),
)]
async fn read(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    found(stores::get(db(&state)?, account, id).await?, || {
        not_found(id)
    })
}

/// Rename a store.
#[utoipa::path(
    patch, path = "/v1/stores/{id}", operation_id = "updateStore", tag = "Stores",
    params(("id" = i64, Path, description = "The store's id")),
    request_body = StoreBody,
    responses(
        (status = 200, description = "The renamed store", body = StoreRow),
        (status = 409, description = "A store of this name exists (`conflict`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn update(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<StoreBody>,
) -> Result<Response, AppError> {
    let name = check_name(&body.name)?;
    match stores::rename(db(&state)?, account, id, name).await {
        Ok(store) => found(store, || not_found(id)),
        Err(e) => or_conflict(e),
    }
}

/// Delete a store that has no channels.
#[utoipa::path(
    delete, path = "/v1/stores/{id}", operation_id = "deleteStore", tag = "Stores",
    params(("id" = i64, Path, description = "The store's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 409, description = "The store still has channels (`conflict`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn remove(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    match stores::delete(db(&state)?, account, id).await? {
        Deleted::Deleted => Ok(StatusCode::NO_CONTENT.into_response()),
        Deleted::NotFound => Err(not_found(id)),
        Deleted::HasChannels => Ok(conflict(
            "the store still has channels; delete them first (their orders go with them)",
        )),
    }
}

/// This module's part of the OpenAPI document (see [`super::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, create, read, update, remove))]
pub(super) struct Doc;
