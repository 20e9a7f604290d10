//! `/v1/channels/{id}/products`: a channel's listings as last downloaded, with the product or
//! kit each is mapped to and the stock switchyard last pushed to it, so a merchant can see which
//! listings are unmapped (and so get no stock) and what each channel was told.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::extract::ApiQuery;
use super::tenant::{db, id_cursor, id_page, limit, Account};
use super::AppState;
use crate::api::error::AppError;
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
    use crate::jobs::{ImportProducts, JobKind};
    crate::store::channels::get(db(&state)?, account, id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("channel {id}")))?;
    let opts = crate::queue::EnqueueOptions {
        unique_key: Some(format!("products-manual:{id}")),
        ..Default::default()
    };
    let job = state
        .broker
        .queue(ImportProducts::QUEUE)?
        .enqueue(&ImportProducts { channel_id: id }, &opts)
        .await?;
    Ok((
        axum::http::StatusCode::ACCEPTED,
        Json(serde_json::json!({ "job_id": job.id, "queue": ImportProducts::QUEUE })),
    )
        .into_response())
}

/// "Push all stocks": every listing of the channel is sent again at the next sync, which is
/// enqueued now. 202 with how many listings will be pushed.
async fn push_all(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    crate::store::channels::get(db(&state)?, account, id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("channel {id}")))?;
    let listings = super::stock_sync::push_all(&state, id).await?;
    Ok((
        axum::http::StatusCode::ACCEPTED,
        Json(serde_json::json!({ "listings": listings })),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PageQuery {
    cursor: Option<String>,
    limit: Option<u32>,
}

async fn list(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Response, AppError> {
    let limit = limit(q.limit)?;
    let after = id_cursor(q.cursor.as_deref())?;
    let rows =
        channel_products::list_for_channel(db(&state)?, account, id, after, i64::from(limit) + 1)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("channel {id}")))?;
    Ok(Json(id_page(rows, limit, |l| l.id)).into_response())
}
