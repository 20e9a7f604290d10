//! `/v1/stores/{store_id}/webhooks` and `/v1/webhooks/{id}`: a store's outbound webhooks, their
//! deliveries and attempts, test sends, replay and recovery.
//!
//! A webhook's secret is shown twice only: in the answer that creates it and in the one that
//! rotates it. After a rotation the previous secret keeps signing beside the new one for a grace
//! period (`[webhooks] rotation_grace_secs`, or `?grace_secs=` on the rotation), so receivers can
//! switch without dropping a message.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::extract::{ApiJson, ApiQuery, Timestamp};
use super::tenant::{conflict, created, credentials_key, db, found, Account, IdPage, PageQuery};
use super::AppState;
use crate::api::error::AppError;
use crate::domain::webhook_schedule::check_triggers;
use crate::outbound::target::{self, Query};
use crate::outbound::SsrfGuard;
use crate::store::webhooks::{self, NewWebhook, Resend, WebhookRow, WebhookUpdate};
use crate::store::{stores, StoreError};

/// Longest grace a rotation may ask for: a month.
const MAX_GRACE_SECS: u64 = 31 * 86_400;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/stores/{store_id}/webhooks", get(list).post(create))
        .route("/webhooks/{id}", get(read).patch(update).delete(remove))
        .route("/webhooks/{id}/rotate-secret", post(rotate))
        .route("/webhooks/{id}/test", post(test_send))
        .route("/webhooks/{id}/deliveries", get(deliveries))
        .route(
            "/webhooks/{id}/deliveries/{delivery_id}/attempts",
            get(attempts),
        )
        .route(
            "/webhooks/{id}/deliveries/{delivery_id}/replay",
            post(replay),
        )
        .route("/webhooks/{id}/recover", post(recover))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateWebhook {
    url: String,
    triggers: Vec<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    enabled: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateWebhook {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    triggers: Option<Vec<String>>,
    #[serde(default, deserialize_with = "some_or_null")]
    description: Option<Option<String>>,
    #[serde(default)]
    enabled: Option<bool>,
}

/// Tells a `null` (clear it) from an absent key (leave it).
fn some_or_null<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeliveryQuery {
    status: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RotateQuery {
    grace_secs: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Recover {
    since: Timestamp,
}

/// A webhook with its secret, as the create and rotate answers show it.
#[derive(Serialize)]
struct WithSecret {
    #[serde(flatten)]
    webhook: WebhookRow,
    secret: String,
}

fn not_found(id: i64) -> AppError {
    AppError::NotFound(format!("webhook {id}"))
}

fn field(detail: impl Into<String>, field: &str) -> AppError {
    AppError::invalid(detail, Some(field.to_owned()))
}

/// A target URL as [`target::check`] has it, with queries allowed.
fn check_url(text: &str, guard: &SsrfGuard) -> Result<String, AppError> {
    target::check(text, guard, Query::Allowed)
        .map(String::from)
        .map_err(|why| field(format!("`url` {why}"), "url"))
}

fn triggers(list: &[String]) -> Result<Vec<String>, AppError> {
    check_triggers(list).map_err(|why| field(why, "triggers"))
}

fn description(text: Option<&str>) -> Result<Option<&str>, AppError> {
    match text.map(str::trim) {
        Some(t) if t.chars().count() > 500 => Err(field(
            "`description` must be at most 500 characters",
            "description",
        )),
        Some("") | None => Ok(None),
        Some(t) => Ok(Some(t)),
    }
}

async fn create(
    State(state): State<AppState>,
    Account(account): Account,
    Path(store_id): Path<i64>,
    ApiJson(body): ApiJson<CreateWebhook>,
) -> Result<Response, AppError> {
    let pool = db(&state)?;
    let url = check_url(
        &body.url,
        &SsrfGuard::from_settings(&state.settings.outbound),
    )?;
    let triggers = triggers(&body.triggers)?;
    let description = description(body.description.as_deref())?;
    if stores::get(pool, account, store_id).await?.is_none() {
        return Err(AppError::NotFound(format!("store {store_id}")));
    }
    let secret = crate::webhooks::generate_secret();
    let new = NewWebhook {
        store_id,
        url: &url,
        description,
        triggers: &triggers,
        enabled: body.enabled.unwrap_or(true),
        secret: &secret,
    };
    let webhook = webhooks::create(pool, &credentials_key(&state)?, account, &new)
        .await
        .map_err(|e| match e {
            StoreError::MissingParent(_) => AppError::NotFound(format!("store {store_id}")),
            other => other.into(),
        })?;
    let location = format!("/v1/webhooks/{}", webhook.id);
    Ok(created(location, WithSecret { webhook, secret }))
}

async fn list(
    State(state): State<AppState>,
    Account(account): Account,
    Path(store_id): Path<i64>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Response, AppError> {
    let pool = db(&state)?;
    let page = q.page()?;
    if stores::get(pool, account, store_id).await?.is_none() {
        return Err(AppError::NotFound(format!("store {store_id}")));
    }
    let rows = webhooks::list(pool, account, store_id, page.cursor, page.fetch()).await?;
    Ok(page.of(rows, |w| w.id).into_response())
}

async fn read(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    found(webhooks::get(db(&state)?, account, id).await?, || {
        not_found(id)
    })
}

async fn update(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<UpdateWebhook>,
) -> Result<Response, AppError> {
    let url = match &body.url {
        Some(u) => Some(check_url(
            u,
            &SsrfGuard::from_settings(&state.settings.outbound),
        )?),
        None => None,
    };
    let triggers = body.triggers.as_deref().map(triggers).transpose()?;
    let description = match &body.description {
        Some(d) => Some(description(d.as_deref())?),
        None => None,
    };
    let change = WebhookUpdate {
        url: url.as_deref(),
        description,
        triggers: triggers.as_deref(),
        enabled: body.enabled,
    };
    let webhook = webhooks::update(db(&state)?, account, id, &change).await?;
    found(webhook, || not_found(id))
}

async fn remove(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    match webhooks::delete(db(&state)?, account, id).await? {
        true => Ok(StatusCode::NO_CONTENT.into_response()),
        false => Err(not_found(id)),
    }
}

/// A new secret; the previous one signs beside it for the grace period.
async fn rotate(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
    ApiQuery(q): ApiQuery<RotateQuery>,
) -> Result<Response, AppError> {
    let grace = q
        .grace_secs
        .unwrap_or(state.settings.webhooks.rotation_grace_secs);
    if grace > MAX_GRACE_SECS {
        return Err(field(
            format!("`grace_secs` must be at most {MAX_GRACE_SECS}"),
            "grace_secs",
        ));
    }
    let secret = crate::webhooks::generate_secret();
    let webhook = webhooks::rotate_secret(
        db(&state)?,
        &credentials_key(&state)?,
        account,
        id,
        &secret,
        Duration::from_secs(grace),
    )
    .await?
    .ok_or_else(|| not_found(id))?;
    Ok(Json(WithSecret { webhook, secret }).into_response())
}

/// Sends a `webhook.test` event to this webhook now: 202 with the delivery's id, whose attempts
/// show how the endpoint answered.
async fn test_send(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let pool = db(&state)?;
    let webhook = webhooks::get(pool, account, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    if !webhook.enabled {
        return Ok(conflict(&format!(
            "webhook {id} is disabled; enable it first"
        )));
    }
    let delivery = webhooks::test_send(pool, account, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "delivery_id": delivery })),
    )
        .into_response())
}

async fn deliveries(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
    ApiQuery(q): ApiQuery<DeliveryQuery>,
) -> Result<Response, AppError> {
    let page = IdPage::new(q.limit, q.cursor.as_deref())?;
    if let Some(s) = q.status.as_deref() {
        if !matches!(s, "pending" | "delivered" | "failed") {
            return Err(field(
                "`status` must be pending, delivered or failed",
                "status",
            ));
        }
    }
    let rows = webhooks::list_deliveries(
        db(&state)?,
        account,
        id,
        q.status.as_deref(),
        page.cursor,
        page.fetch(),
    )
    .await?
    .ok_or_else(|| not_found(id))?;
    Ok(page.of(rows, |d| d.id).into_response())
}

async fn attempts(
    State(state): State<AppState>,
    Account(account): Account,
    Path((id, delivery_id)): Path<(i64, i64)>,
) -> Result<Response, AppError> {
    let rows = webhooks::attempts(db(&state)?, account, id, delivery_id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("delivery {delivery_id} of webhook {id}")))?;
    Ok(Json(json!({ "items": rows })).into_response())
}

/// The 202 of a resend, or why it was refused.
fn resend_answer<T: Serialize>(id: i64, what: &str, key: &str, r: Resend<T>) -> Response {
    match r {
        Resend::Done(v) => (StatusCode::ACCEPTED, Json(json!({ key: v }))).into_response(),
        Resend::NotFound => AppError::NotFound(what.to_owned()).into_response(),
        Resend::Disabled => conflict(&format!("webhook {id} is disabled; enable it first")),
        Resend::Pending => conflict(&format!(
            "{what} is still being tried; replay it once it has been delivered or has failed"
        )),
    }
}

/// Sends one delivery again (same `webhook-id`, the whole retry schedule): 202.
async fn replay(
    State(state): State<AppState>,
    Account(account): Account,
    Path((id, delivery_id)): Path<(i64, i64)>,
) -> Result<Response, AppError> {
    let what = format!("delivery {delivery_id} of webhook {id}");
    let outcome = webhooks::replay(db(&state)?, account, id, delivery_id).await?;
    Ok(resend_answer(id, &what, "delivery_id", outcome))
}

/// Sends again every failed delivery of the webhook since a time: 202 with how many.
async fn recover(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<Recover>,
) -> Result<Response, AppError> {
    let per_job = state.settings.webhooks.deliveries_per_job;
    let outcome = webhooks::recover(db(&state)?, account, id, body.since.0, per_job).await?;
    Ok(resend_answer(
        id,
        &format!("webhook {id}"),
        "recovered",
        outcome,
    ))
}

/// This module's part of the OpenAPI document (see [`super::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi()]
pub(super) struct Doc;
