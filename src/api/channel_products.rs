//! `/v1/channels/{id}/products`: a channel's listings as last downloaded, with the product or
//! kit each is mapped to and the stock switchyard last pushed to it, so a merchant can see which
//! listings are unmapped (and so get no stock) and what each channel was told.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use super::channels::{check_exists, enqueue_now};
use super::extract::ApiQuery;
use super::tenant::{db, Account, PageQuery};
use super::AppState;
use crate::api::error::AppError;
use crate::jobs::ImportProducts;
use crate::store::channel_products;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/channels/{id}/products", get(list))
        .route(
            "/channels/{id}/stock/push-all",
            axum::routing::post(push_all),
        )
        .route(
            "/channels/{id}/products/import",
            axum::routing::post(import_products),
        )
}

/// Downloads the channel's listings now, beside the product timer: 202 with the job's id.
async fn import_products(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let job = ImportProducts { channel_id: id };
    enqueue_now(&state, account, id, &job, format!("products-manual:{id}")).await
}

/// "Push all stocks": every listing of the channel is sent again at the next sync, which is
/// enqueued now. 202 with how many listings will be pushed.
async fn push_all(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    check_exists(&state, account, id).await?;
    let listings = super::stock_sync::push_all(&state, id).await?;
    Ok((
        axum::http::StatusCode::ACCEPTED,
        Json(serde_json::json!({ "listings": listings })),
    )
        .into_response())
}

async fn list(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Response, AppError> {
    let page = q.page()?;
    let rows =
        channel_products::list_for_channel(db(&state)?, account, id, page.cursor, page.fetch())
            .await?
            .ok_or_else(|| AppError::NotFound(format!("channel {id}")))?;
    Ok(page.of(rows, |l| l.id).into_response())
}

/// This module's part of the OpenAPI document (see [`super::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi()]
pub(super) struct Doc;
