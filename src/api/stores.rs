//! `/v1/stores`: the account's stores (brands or customers), which group its channels.

use axum::extract::{Path, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::extract::{ApiJson, ApiQuery};
use super::tenant::{check_name, conflict, db, id_cursor, id_page, limit, Account};
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    cursor: Option<String>,
    limit: Option<u32>,
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
        Ok(store) => {
            let location = HeaderValue::from_str(&format!("/v1/stores/{}", store.id))
                .map_err(|_| not_found(store.id))?;
            Ok((StatusCode::CREATED, [(LOCATION, location)], Json(store)).into_response())
        }
        Err(e) => or_conflict(e),
    }
}

async fn list(
    State(state): State<AppState>,
    Account(account): Account,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, AppError> {
    let limit = limit(q.limit)?;
    let after = id_cursor(q.cursor.as_deref())?;
    let rows = stores::list(db(&state)?, account, after, i64::from(limit) + 1).await?;
    Ok(Json(id_page(rows, limit, |s| s.id)).into_response())
}

async fn read(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let store = stores::get(db(&state)?, account, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    Ok(Json(store).into_response())
}

async fn update(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<StoreBody>,
) -> Result<Response, AppError> {
    let name = check_name(&body.name)?;
    match stores::rename(db(&state)?, account, id, name).await {
        Ok(Some(store)) => Ok(Json(store).into_response()),
        Ok(None) => Err(not_found(id)),
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
