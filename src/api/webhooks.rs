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
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType, Type};

use super::extract::{ApiJson, ApiQuery, Timestamp};
use super::openapi::Problem;
use super::tenant::{
    conflict, created, credentials_key, db, found, Account, IdPage, Page, PageQuery,
};
use super::AppState;
use crate::api::error::{field, AppError};
use crate::domain::webhook_schedule::check_triggers;
use crate::outbound::target::{self, Query};
use crate::outbound::SsrfGuard;
use crate::store::webhooks::{
    self, delivery_status_schema, triggers_schema, AttemptRow, DeliveryRow, NewWebhook, Resend,
    WebhookRow, WebhookUpdate, DELIVERY_STATUSES,
};
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

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "url": "https://hooks.example/switchyard",
    "triggers": ["order.created", "order.updated"],
    "description": "Order feed for the warehouse"
}))]
struct CreateWebhook {
    /// An absolute http(s) URL of at most 2000 characters, naming a host, without credentials or
    /// a fragment; a query is kept. An IP literal must be one the SSRF guard admits.
    #[schema(max_length = 2000)]
    url: String,
    #[schema(schema_with = new_triggers_schema)]
    triggers: Vec<String>,
    /// At most 500 characters; blank is none.
    #[serde(default)]
    #[schema(max_length = 500)]
    description: Option<String>,
    /// Default true.
    #[serde(default)]
    enabled: Option<bool>,
}

/// A partial update: an absent (or null) field is left as it is, except `description`, which
/// null clears.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"description": "Orders for the warehouse"}))]
struct UpdateWebhook {
    /// As on creation.
    #[serde(default)]
    #[schema(max_length = 2000)]
    url: Option<String>,
    #[serde(default)]
    #[schema(schema_with = changed_triggers_schema)]
    triggers: Option<Vec<String>>,
    /// At most 500 characters; null or blank clears it.
    #[serde(default, deserialize_with = "some_or_null")]
    #[schema(value_type = Option<String>, max_length = 500)]
    description: Option<Option<String>>,
    /// True also clears `disabled_reason` (and `failing_since`, when it was disabled).
    #[serde(default)]
    enabled: Option<bool>,
}

fn new_triggers_schema() -> ArrayBuilder {
    triggers_schema().description(Some(
        "The event types to send it, `<entity>.<action>`; surrounding spaces and duplicates are \
         dropped.",
    ))
}

/// Triggers, or null for "leave them".
fn changed_triggers_schema() -> ArrayBuilder {
    triggers_schema()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .description(Some("As on creation; replaces the list."))
}

fn status_filter_schema() -> ObjectBuilder {
    delivery_status_schema().description(Some("Only the deliveries in this state."))
}

/// Tells a `null` (clear it) from an absent key (leave it).
fn some_or_null<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct DeliveryQuery {
    #[param(schema_with = status_filter_schema)]
    status: Option<String>,
    /// The previous page's `next_cursor`; none for the first page.
    #[param(pattern = "^[0-9]{1,18}$")]
    cursor: Option<String>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct RotateQuery {
    /// How long the previous secret keeps signing beside the new one, in seconds, at most 31
    /// days (default `[webhooks] rotation_grace_secs`, a day); 0 retires it at once.
    #[param(maximum = 2_678_400)]
    grace_secs: Option<u64>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WebhookRecover, example = json!({"since": "2026-12-01T00:00:00Z"}))]
struct Recover {
    /// Resend the failed deliveries created at or after this time.
    #[schema(value_type = String, format = DateTime)]
    since: Timestamp,
}

/// A webhook with its secret, as the create and rotate answers show it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = WebhookWithSecret, example = json!({
    "id": 18,
    "store_id": 1,
    "url": "https://hooks.example/switchyard",
    "description": "Order feed for the warehouse",
    "triggers": ["order.created", "order.updated"],
    "enabled": true,
    "disabled_reason": null,
    "failing_since": null,
    "previous_secret_until": null,
    "created_at": "2026-12-04T23:01:16.894692Z",
    "updated_at": "2026-12-04T23:01:16.894692Z",
    "secret": "whsec_KZtajqLU16oFzNWcdLM3kSUcfuRWInpFWi1rn22cbUg="
}))]
struct WithSecret {
    #[serde(flatten)]
    webhook: WebhookRow,
    /// The signing secret, `whsec_` and the base64 of 32 random bytes (Standard Webhooks):
    /// shown in this answer only.
    secret: String,
}

/// A test send or replay is under way: its delivery's attempts show how the endpoint answers.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = WebhookDeliveryQueued, example = json!({"delivery_id": 1}))]
struct DeliveryQueued {
    delivery_id: i64,
}

/// How many failed deliveries a recovery sends again.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = WebhookRecovery, example = json!({"recovered": 1}))]
struct Recovered {
    recovered: u64,
}

/// Every attempt of a delivery, oldest first.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = WebhookAttemptList, example = json!({"items": [{
    "id": 1,
    "delivery_id": 1,
    "attempt": 1,
    "succeeded": true,
    "response_code": 200,
    "duration_ms": 3,
    "response_excerpt": "ok",
    "error": null,
    "created_at": "2026-12-04T22:43:30.955232Z"
}]}))]
struct Attempts {
    items: Vec<AttemptRow>,
}

fn not_found(id: i64) -> AppError {
    AppError::NotFound(format!("webhook {id}"))
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

/// Create a webhook in a store.
///
/// The answer is the only one besides a rotation's that shows the secret: keep it.
#[utoipa::path(
    post, path = "/v1/stores/{store_id}/webhooks", operation_id = "createWebhook", tag = "Webhooks",
    params(("store_id" = i64, Path, description = "The store whose events it is sent")),
    request_body = CreateWebhook,
    responses(
        (status = 201, description = "Created, with its secret", body = WithSecret,
         headers(("location" = String, description = "`/v1/webhooks/{id}`"))),
        (status = 404, description = "No such store in the account (`not-found`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
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

/// List a store's webhooks, oldest first.
#[utoipa::path(
    get, path = "/v1/stores/{store_id}/webhooks", operation_id = "listWebhooks", tag = "Webhooks",
    params(("store_id" = i64, Path, description = "The store's id"), PageQuery),
    responses(
        (status = 200, description = "A page of webhooks", body = Page<WebhookRow>),
        (status = 404, description = "No such store in the account (`not-found`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
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

/// Read a webhook (without its secret).
#[utoipa::path(
    get, path = "/v1/webhooks/{id}", operation_id = "getWebhook", tag = "Webhooks",
    params(("id" = i64, Path, description = "The webhook's id")),
    responses((status = 200, description = "The webhook", body = WebhookRow)),
)]
async fn read(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    found(webhooks::get(db(&state)?, account, id).await?, || {
        not_found(id)
    })
}

/// Change a webhook's URL, triggers, description or whether it is enabled.
#[utoipa::path(
    patch, path = "/v1/webhooks/{id}", operation_id = "updateWebhook", tag = "Webhooks",
    params(("id" = i64, Path, description = "The webhook's id")),
    request_body = UpdateWebhook,
    responses((status = 200, description = "The webhook as changed", body = WebhookRow)),
)]
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

/// Delete a webhook, with its deliveries and their attempts.
#[utoipa::path(
    delete, path = "/v1/webhooks/{id}", operation_id = "deleteWebhook", tag = "Webhooks",
    params(("id" = i64, Path, description = "The webhook's id")),
    responses((status = 204, description = "Deleted")),
)]
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

/// Give a webhook a new secret.
///
/// The previous secret signs beside the new one (two `v1,` signatures) for the grace period, so
/// the receiver can switch without dropping a message. The answer is the only one that shows
/// the new secret.
#[utoipa::path(
    post, path = "/v1/webhooks/{id}/rotate-secret", operation_id = "rotateWebhookSecret", tag = "Webhooks",
    params(("id" = i64, Path, description = "The webhook's id"), RotateQuery),
    responses((status = 200, description = "The webhook with its new secret; `previous_secret_until` ends the grace", body = WithSecret)),
)]
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

/// Send a `webhook.test` event to a webhook now.
///
/// The answer names the new delivery; its attempts show how the endpoint answered.
#[utoipa::path(
    post, path = "/v1/webhooks/{id}/test", operation_id = "testWebhook", tag = "Webhooks",
    params(("id" = i64, Path, description = "The webhook's id")),
    responses(
        (status = 202, description = "The test delivery is queued", body = DeliveryQueued),
        (status = 409, description = "The webhook is disabled (`conflict`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
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
        Json(DeliveryQueued {
            delivery_id: delivery,
        }),
    )
        .into_response())
}

/// List a webhook's deliveries, newest first.
#[utoipa::path(
    get, path = "/v1/webhooks/{id}/deliveries", operation_id = "listWebhookDeliveries", tag = "Webhooks",
    params(("id" = i64, Path, description = "The webhook's id"), DeliveryQuery),
    responses((status = 200, description = "A page of deliveries", body = Page<DeliveryRow>)),
)]
async fn deliveries(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
    ApiQuery(q): ApiQuery<DeliveryQuery>,
) -> Result<Response, AppError> {
    let page = IdPage::new(q.limit, q.cursor.as_deref())?;
    if let Some(s) = q.status.as_deref() {
        if !DELIVERY_STATUSES.contains(&s) {
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

/// List every attempt of one delivery, oldest first.
#[utoipa::path(
    get, path = "/v1/webhooks/{id}/deliveries/{delivery_id}/attempts", operation_id = "listWebhookAttempts", tag = "Webhooks",
    params(
        ("id" = i64, Path, description = "The webhook's id"),
        ("delivery_id" = i64, Path, description = "One of its deliveries"),
    ),
    responses((status = 200, description = "The attempts", body = Attempts)),
)]
async fn attempts(
    State(state): State<AppState>,
    Account(account): Account,
    Path((id, delivery_id)): Path<(i64, i64)>,
) -> Result<Response, AppError> {
    let rows = webhooks::attempts(db(&state)?, account, id, delivery_id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("delivery {delivery_id} of webhook {id}")))?;
    Ok(Json(Attempts { items: rows }).into_response())
}

/// The 202 of a resend, its body made by `body`, or why it was refused.
fn resend_answer<T, B: Serialize>(
    id: i64,
    what: &str,
    r: Resend<T>,
    body: impl FnOnce(T) -> B,
) -> Response {
    match r {
        Resend::Done(v) => (StatusCode::ACCEPTED, Json(body(v))).into_response(),
        Resend::NotFound => AppError::NotFound(what.to_owned()).into_response(),
        Resend::Disabled => conflict(&format!("webhook {id} is disabled; enable it first")),
        Resend::Pending => conflict(&format!(
            "{what} is still being tried; replay it once it has been delivered or has failed"
        )),
    }
}

/// Send one delivery again, with the same `webhook-id` and the whole retry schedule.
#[utoipa::path(
    post, path = "/v1/webhooks/{id}/deliveries/{delivery_id}/replay", operation_id = "replayWebhookDelivery", tag = "Webhooks",
    params(
        ("id" = i64, Path, description = "The webhook's id"),
        ("delivery_id" = i64, Path, description = "One of its deliveries, delivered or failed"),
    ),
    responses(
        (status = 202, description = "The delivery is queued again", body = DeliveryQueued),
        (status = 409, description = "The webhook is disabled, or the delivery is still pending (`conflict`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn replay(
    State(state): State<AppState>,
    Account(account): Account,
    Path((id, delivery_id)): Path<(i64, i64)>,
) -> Result<Response, AppError> {
    let what = format!("delivery {delivery_id} of webhook {id}");
    let outcome = webhooks::replay(db(&state)?, account, id, delivery_id).await?;
    Ok(resend_answer(id, &what, outcome, |delivery_id| {
        DeliveryQueued { delivery_id }
    }))
}

/// Send again every failed delivery of a webhook created since a time.
#[utoipa::path(
    post, path = "/v1/webhooks/{id}/recover", operation_id = "recoverWebhook", tag = "Webhooks",
    params(("id" = i64, Path, description = "The webhook's id")),
    request_body = Recover,
    responses(
        (status = 202, description = "The failed deliveries are queued again", body = Recovered),
        (status = 409, description = "The webhook is disabled (`conflict`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
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
        outcome,
        |recovered| Recovered { recovered },
    ))
}

/// This module's part of the OpenAPI document (see [`super::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    list, create, read, update, remove, rotate, test_send, deliveries, attempts, replay, recover
))]
pub(super) struct Doc;
