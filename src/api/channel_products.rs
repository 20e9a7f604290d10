//! `/v1/channels/{id}/products`: a channel's listings as last downloaded, with the product or
//! kit each is mapped to and the stock switchyard last pushed to it, so a merchant can see which
//! listings are unmapped (and so get no stock) and what each channel was told; and
//! `/v1/channels/{id}/stock/...`: pushing every listing again, reconciling the channel's own
//! figures with switchyard's, and the corrections reconciliations made.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use serde::Serialize;

use super::channels::{check_exists, enqueue_now, JobAccepted};
use super::extract::ApiQuery;
use super::tenant::{db, Account, Page, PageQuery};
use super::AppState;
use crate::api::error::AppError;
use crate::jobs::{ImportProducts, ReconcileStock};
use crate::store::channel_products::{self, ChannelProductRow};
use crate::store::stock_drift::{self, DriftCorrection};

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
        .route(
            "/channels/{id}/stock/reconcile",
            axum::routing::post(reconcile),
        )
        .route("/channels/{id}/stock/drift", get(drift))
}

/// Download the channel's listings now.
///
/// Beside the product timer; a second ask while one waits answers the waiting job.
#[utoipa::path(
    post, path = "/v1/channels/{id}/products/import", operation_id = "importChannelProducts",
    tag = "Channel products",
    params(("id" = i64, Path, description = "The channel's id")),
    responses((status = 202, description = "The download is queued", body = JobAccepted)),
)]
async fn import_products(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let job = ImportProducts { channel_id: id };
    enqueue_now(&state, account, id, &job, format!("products-manual:{id}")).await
}

/// How many listings a "push all stocks" will send again.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"listings": 10}))]
struct PushAll {
    /// The channel's listings, each sent again at the sync now queued (unmapped ones get none).
    listings: u64,
}

/// Push every listing's stock again.
///
/// Forgets what each listing of the channel was last sent and queues a stock sync now, which
/// sends every mapped listing its quantity whether or not it changed. Nothing is sent while the
/// channel's `stock_management` is off.
#[utoipa::path(
    post, path = "/v1/channels/{id}/stock/push-all", operation_id = "pushChannelStock",
    tag = "Channel products",
    params(("id" = i64, Path, description = "The channel's id")),
    responses((status = 202, description = "The sync is queued", body = PushAll)),
)]
async fn push_all(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    check_exists(&state, account, id).await?;
    let listings = super::stock_sync::push_all(&state, id).await?;
    Ok((axum::http::StatusCode::ACCEPTED, Json(PushAll { listings })).into_response())
}

/// Reconcile the channel's stock now.
///
/// Beside the channel's timer (`stock_reconcile_interval_secs`): reads what the channel holds for
/// each listing, brings the channel's orders up to date, and sets back every listing whose
/// figure differs from the one switchyard pushed (a hand edit in the platform's admin), each
/// recorded as a correction (`GET /v1/channels/{id}/stock/drift`). Nothing is read or set while
/// the channel's `stock_management` is off. A second ask while one waits answers the waiting job.
#[utoipa::path(
    post, path = "/v1/channels/{id}/stock/reconcile", operation_id = "reconcileChannelStock",
    tag = "Channel products",
    params(("id" = i64, Path, description = "The channel's id")),
    responses((status = 202, description = "The reconciliation is queued", body = JobAccepted)),
)]
async fn reconcile(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let job = ReconcileStock { channel_id: id };
    let key = job.unique_key();
    enqueue_now(&state, account, id, &job, key).await
}

/// List the corrections stock reconciliations made on the channel, oldest first.
///
/// Each is a listing whose channel held another figure than switchyard's and was set back: what
/// it held (`found`) and what it was set to (`expected`). Each is also a `channel_drift` row of
/// the product's movements and a `stock_drift.corrected` event.
#[utoipa::path(
    get, path = "/v1/channels/{id}/stock/drift", operation_id = "listChannelStockDrift",
    tag = "Channel products",
    params(("id" = i64, Path, description = "The channel's id"), PageQuery),
    responses((status = 200, description = "A page of the channel's drift corrections", body = Page<DriftCorrection>)),
)]
async fn drift(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Response, AppError> {
    let page = q.page()?;
    let rows = stock_drift::for_channel(db(&state)?, account, id, page.cursor, page.fetch())
        .await?
        .ok_or_else(|| AppError::NotFound(format!("channel {id}")))?;
    Ok(page.of(rows, |c| c.id).into_response())
}

/// List the channel's listings, oldest first.
///
/// As last downloaded, each with the product or kit its SKU maps it to (none: it gets no stock)
/// and the quantity switchyard last pushed to it.
#[utoipa::path(
    get, path = "/v1/channels/{id}/products", operation_id = "listChannelProducts",
    tag = "Channel products",
    params(("id" = i64, Path, description = "The channel's id"), PageQuery),
    responses((status = 200, description = "A page of the channel's listings", body = Page<ChannelProductRow>)),
)]
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
#[openapi(paths(list, import_products, push_all, reconcile, drift))]
pub(super) struct Doc;
