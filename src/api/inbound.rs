//! Inbound channel webhooks: a platform tells switchyard an order changed. The call carries no
//! bearer token; it is trusted only if the platform's HMAC over the raw body verifies with the
//! channel's secret. An order webhook whose body is the whole order (Shopify's `orders/*`,
//! WooCommerce's `order.created`/`order.updated`) is stored at once, as an import stores a page:
//! the sale moves stock without a read back from the platform, which on Shopify costs the shop's
//! GraphQL bucket. Any other verified call asks for an immediate import; platforms resend
//! webhooks, so pending imports of one channel coalesce under one unique key.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;

use super::openapi::Problem;
use super::tenant::{credentials_key, db};
use super::AppState;
use crate::api::error::AppError;
use crate::jobs::{ImportOrders, ImportReason, JobKind};
use crate::queue::EnqueueOptions;
use crate::store::{channels, order_import};

pub fn router() -> Router<AppState> {
    Router::new().route("/channels/{id}/inbound/{*topic}", post(inbound))
}

/// Receive a channel platform's webhook.
///
/// The URL to register on the platform for the channel's order webhooks. It takes no token: the
/// call is trusted only when the platform's signature over the raw body verifies with the
/// channel's secret. Shopify sends `X-Shopify-Hmac-Sha256`, base64 HMAC-SHA256 of the body with
/// the app's client secret (`credentials.app_secret`); WooCommerce sends `X-WC-Webhook-Signature`,
/// the same over the body with the webhook's secret (`credentials.webhook_secret`). A verified
/// order webhook (topic header `X-Shopify-Topic: orders/create`, `orders/updated`,
/// `orders/cancelled`, `orders/paid`, `orders/fulfilled`, `orders/partially_fulfilled`;
/// `X-WC-Webhook-Topic: order.created` or `order.updated`) carries the whole order and is stored
/// before the answer, through the channel's filters and rules as an import would (a copy older
/// than the one held changes nothing). Any other verified call asks for an import of the channel
/// now (coalesced with one already waiting). An inactive channel's webhooks are verified and
/// answered 202 but change nothing.
#[utoipa::path(
    post, path = "/v1/channels/{id}/inbound/{topic}", operation_id = "receiveChannelWebhook",
    tag = "Inbound webhooks",
    params(
        ("id" = i64, Path, description = "The channel's id"),
        ("topic" = String, Path, description = "Any path, for the platform's topic (`orders/create`, `order.updated`); it may hold `/` and is only logged", example = "orders/updated"),
        ("X-Shopify-Hmac-Sha256" = Option<String>, Header, nullable = false, description = "Shopify's signature: base64 HMAC-SHA256 of the raw body with the app's client secret", example = "TTbp2HPiT2MbVLzQA+LOixMJQRXSJcyZG5ipzD82no0="),
        ("X-WC-Webhook-Signature" = Option<String>, Header, nullable = false, description = "WooCommerce's signature: base64 HMAC-SHA256 of the raw body with the webhook's secret", example = "JACtZdzI3MBGJ1LjVR62aNnbEZhc3cXiznVYfgkR72Y="),
    ),
    request_body(content = serde_json::Value, content_type = "application/json", description = "The platform's payload: the order, for order topics"),
    responses(
        (status = 202, description = "Verified; the order it carries is stored, or an import of the channel is asked for"),
        (status = 401, description = "No signature, one that does not verify, or no such channel (`unauthorized`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
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
            &ic.channel.settings,
        )
        .map_err(|e| AppError::invalid(e.to_string(), None))?;
    if !connector.verify_webhook(&headers, &body) {
        tracing::warn!(channel_id = id, %topic, "inbound webhook with a bad signature refused");
        return Err(AppError::BadSignature);
    }
    if !ic.channel.active {
        return Ok(StatusCode::ACCEPTED);
    }
    match connector.order_in_webhook(&headers, &body) {
        Some(Ok(order)) => {
            order_import::store_page(pool, &ic, &[order], None).await?;
            return Ok(StatusCode::ACCEPTED);
        }
        // A body that does not read as the order it should be: the import reads it instead.
        Some(Err(e)) => {
            tracing::warn!(channel_id = id, %topic, error = %e, "webhook order unreadable; importing");
        }
        None => {}
    }
    let job = ImportOrders {
        channel_id: id,
        reason: ImportReason::ChannelWebhook,
    };
    let opts = EnqueueOptions {
        unique_key: Some(format!("import-webhook:{id}")),
        tenant: Some(ic.channel.account_id.tenant()),
        ..EnqueueOptions::default()
    };
    state
        .broker
        .queue(ImportOrders::QUEUE)?
        .enqueue(&job, &opts)
        .await?;
    Ok(StatusCode::ACCEPTED)
}

/// This module's part of the OpenAPI document (see [`super::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi(paths(inbound))]
pub(super) struct Doc;
