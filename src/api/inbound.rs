//! Inbound channel webhooks: a platform tells switchyard an order changed. The call carries no
//! bearer token; it is trusted only if the platform's HMAC over the raw body verifies with the
//! channel's secret, and then it only asks for an immediate import (the import reads the order
//! from the channel itself, so a forged body could not inject data even if it got through).
//! Platforms resend webhooks, so pending imports of one channel coalesce under one unique key.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;

use super::tenant::{credentials_key, db};
use super::AppState;
use crate::api::error::AppError;
use crate::jobs::{ImportOrders, ImportReason, JobKind};
use crate::queue::EnqueueOptions;
use crate::store::channels;

pub fn router() -> Router<AppState> {
    Router::new().route("/channels/{id}/inbound/{*topic}", post(inbound))
}

async fn inbound(
    State(state): State<AppState>,
    Path((id, topic)): Path<(i64, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, AppError> {
    let pool = db(&state)?;
    // An unknown channel answers like a bad signature: the caller learns nothing about ids.
    let Some(ic) = channels::get_for_import(pool, &credentials_key(&state)?, id).await? else {
        return Err(AppError::BadSignature);
    };
    let connector = state
        .connectors
        .get(
            id,
            ic.channel.updated_at,
            &ic.channel.base_url,
            &ic.credentials,
        )
        .map_err(|e| AppError::invalid(e.to_string(), None))?;
    if !connector.verify_webhook(&headers, &body) {
        tracing::warn!(channel_id = id, %topic, "inbound webhook with a bad signature refused");
        return Err(AppError::BadSignature);
    }
    if ic.channel.active {
        let job = ImportOrders {
            channel_id: id,
            reason: ImportReason::ChannelWebhook,
        };
        let opts = EnqueueOptions {
            unique_key: Some(format!("import-webhook:{id}")),
            ..EnqueueOptions::default()
        };
        state
            .broker
            .queue(ImportOrders::QUEUE)?
            .enqueue(&job, &opts)
            .await?;
    }
    Ok(StatusCode::ACCEPTED)
}

/// This module's part of the OpenAPI document (see [`super::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi()]
pub(super) struct Doc;
