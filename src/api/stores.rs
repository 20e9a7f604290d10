//! `/v1/stores`: the account's stores (brands or customers), which group its channels.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use super::extract::{ApiJson, ApiQuery};
use super::tenant::{check_name, conflict, created, db, found, Account, PageQuery};
use super::AppState;
use crate::api::error::AppError;
use crate::store::stores::{self, Deleted};
use crate::store::StoreError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/stores", get(list).post(create))
        .route("/stores/{id}", get(read).patch(update).delete(remove))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreBody {
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

async fn list(
    State(state): State<AppState>,
    Account(account): Account,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Response, AppError> {
    let page = q.page()?;
    let rows = stores::list(db(&state)?, account, page.cursor, page.fetch()).await?;
    Ok(page.of(rows, |s| s.id).into_response())
}

async fn read(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    found(stores::get(db(&state)?, account, id).await?, || {
        not_found(id)
    })
}

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
