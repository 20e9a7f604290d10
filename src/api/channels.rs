//! `/v1/channels`: the account's sales channels.
//!
//! Credentials are written, checked against the platform, sealed, and never read back out: no
//! response carries them. A channel is created (or its credentials or URL changed) only after the
//! platform accepted the credentials, so a typo shows up here, with the platform's own words,
//! rather than as a failing import later.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::{ApiJson, ApiQuery};
use super::tenant::{check_name, created, credentials_key, db, found, Account, IdPage};
use super::AppState;
use crate::api::error::AppError;
use crate::connectors::{self, ConnectorError};
use crate::domain::ChannelKind;
use crate::domain::{ChannelCredentials, ChannelSettings};
use crate::jobs::{ImportOrders, ImportReason, JobKind};
use crate::outbound::target::{self, Query};
use crate::outbound::{ClientSettings, SsrfGuard};
use crate::queue::EnqueueOptions;
use crate::store::channels::{self, ChannelUpdate, NewChannel};
use crate::store::{import_state, stores, AccountId, StoreError};

/// Longest a credentials check may take, within the request's own timeout.
const CHECK_TIMEOUT: Duration = Duration::from_secs(15);

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/channels", get(list).post(create))
        .route("/channels/{id}", get(read).patch(update).delete(remove))
        .route("/channels/{id}/health", get(health))
        .route("/channels/{id}/import", axum::routing::post(import_now))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateChannel {
    store_id: i64,
    kind: ChannelKind,
    name: String,
    base_url: String,
    credentials: Value,
    #[serde(default)]
    settings: Option<Value>,
}

/// A partial update. `settings` is merged onto the current settings key by key (a `null`
/// resets a key to its default); `credentials` replaces them whole.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateChannel {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    base_url: Option<String>,
    #[serde(default)]
    credentials: Option<Value>,
    #[serde(default)]
    settings: Option<Value>,
    #[serde(default)]
    active: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    store_id: Option<i64>,
    cursor: Option<String>,
    limit: Option<u32>,
}

fn not_found(id: i64) -> AppError {
    AppError::NotFound(format!("channel {id}"))
}

fn field(detail: impl Into<String>, field: &str) -> AppError {
    AppError::invalid(detail, Some(field.to_owned()))
}

/// The base URL as [`target::check`] has it, without a query (the connector adds its own), kept
/// without a trailing `/`.
fn check_base_url(text: &str, guard: &SsrfGuard) -> Result<String, AppError> {
    let url = target::check(text, guard, Query::Refused)
        .map_err(|why| field(format!("`base_url` {why}"), "base_url"))?;
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

fn settings_from(value: &Value) -> Result<ChannelSettings, AppError> {
    ChannelSettings::from_json(value).map_err(|e| e.under("settings").into())
}

fn credentials_from(kind: ChannelKind, value: &Value) -> Result<ChannelCredentials, AppError> {
    ChannelCredentials::from_json(kind, value).map_err(|e| e.under("credentials").into())
}

/// Builds the channel's connector and makes its cheapest authenticated call, within
/// `CHECK_TIMEOUT`.
async fn check_channel_credentials(
    http: &ClientSettings,
    base_url: &str,
    credentials: &ChannelCredentials,
) -> Result<(), ConnectorError> {
    let connector = connectors::build(base_url, credentials, http)?;
    match tokio::time::timeout(CHECK_TIMEOUT, connector.check_credentials()).await {
        Ok(result) => result,
        Err(_) => Err(ConnectorError::Transient {
            status: None,
            message: format!("no answer within {} s", CHECK_TIMEOUT.as_secs()),
        }),
    }
}

/// The platform's verdict as a 422 naming what to fix: the credentials when the platform refused
/// them, the base URL when it could not be reached or answered as no such platform would.
async fn verify(
    http: &ClientSettings,
    base_url: &str,
    credentials: &ChannelCredentials,
) -> Result<(), AppError> {
    let platform = match credentials.kind() {
        ChannelKind::Shopify => "Shopify",
        ChannelKind::WooCommerce => "WooCommerce",
    };
    match check_channel_credentials(http, base_url, credentials).await {
        Ok(()) => Ok(()),
        Err(ConnectorError::Auth { status, message }) => Err(field(
            format!("{platform} refused the credentials ({status}): {message}"),
            "credentials",
        )),
        Err(ConnectorError::Invalid(message)) => Err(field(
            format!("the channel cannot be reached as configured: {message}"),
            "base_url",
        )),
        Err(ConnectorError::Rejected { status, message }) => Err(field(
            format!(
                "{platform} at `{base_url}` answered {status} ({message}); is this the store's \
                 URL?"
            ),
            "base_url",
        )),
        Err(other) => Err(field(
            format!("could not check the credentials with {platform} at `{base_url}`: {other}"),
            "base_url",
        )),
    }
}

async fn create(
    State(state): State<AppState>,
    Account(account): Account,
    ApiJson(body): ApiJson<CreateChannel>,
) -> Result<Response, AppError> {
    let pool = db(&state)?;
    let name = check_name(&body.name)?;
    let base_url = check_base_url(
        &body.base_url,
        &SsrfGuard::from_settings(&state.settings.outbound),
    )?;
    let credentials = credentials_from(body.kind, &body.credentials)?;
    let settings = match &body.settings {
        Some(value) => settings_from(value)?,
        None => ChannelSettings::default(),
    };
    if stores::get(pool, account, body.store_id).await?.is_none() {
        return Err(field(
            format!("store {} does not exist in this account", body.store_id),
            "store_id",
        ));
    }
    verify(state.connectors.http(), &base_url, &credentials).await?;
    let new = NewChannel {
        store_id: body.store_id,
        name,
        base_url: &base_url,
        credentials: &credentials,
        settings: &settings,
    };
    let channel = channels::create(pool, &credentials_key(&state)?, account, &new)
        .await
        .map_err(|e| match e {
            // Deleted between the check and the insert.
            StoreError::MissingParent(_) => field(
                format!("store {} does not exist in this account", body.store_id),
                "store_id",
            ),
            other => other.into(),
        })?;
    Ok(created(format!("/v1/channels/{}", channel.id), channel))
}

async fn list(
    State(state): State<AppState>,
    Account(account): Account,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, AppError> {
    let page = IdPage::new(q.limit, q.cursor.as_deref())?;
    let rows = channels::list(db(&state)?, account, q.store_id, page.cursor, page.fetch()).await?;
    Ok(page.of(rows, |c| c.id).into_response())
}

async fn read(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    found(channels::get(db(&state)?, account, id).await?, || {
        not_found(id)
    })
}

/// Merges a partial settings object onto the current settings: keys given replace, `null`
/// resets a key to its default.
fn merge_settings(current: &ChannelSettings, patch: &Value) -> Result<ChannelSettings, AppError> {
    let Value::Object(changes) = patch else {
        return Err(field("`settings` must be a JSON object", "settings"));
    };
    let mut merged = match current.to_json() {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    for (key, value) in changes {
        if value.is_null() {
            merged.remove(key);
        } else {
            merged.insert(key.clone(), value.clone());
        }
    }
    settings_from(&Value::Object(merged))
}

async fn update(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<UpdateChannel>,
) -> Result<Response, AppError> {
    let pool = db(&state)?;
    let key = credentials_key(&state)?;
    let current = channels::get(pool, account, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let name = body.name.as_deref().map(check_name).transpose()?;
    let base_url = body
        .base_url
        .as_deref()
        .map(|url| check_base_url(url, &SsrfGuard::from_settings(&state.settings.outbound)))
        .transpose()?;
    let credentials = body
        .credentials
        .as_ref()
        .map(|c| credentials_from(current.kind, c))
        .transpose()?;
    let settings = body
        .settings
        .as_ref()
        .map(|s| merge_settings(&current.settings, s))
        .transpose()?;
    // New credentials, or old ones sent somewhere new, must pass the platform first.
    if credentials.is_some() || base_url.as_ref().is_some_and(|u| *u != current.base_url) {
        let check_url = base_url.as_deref().unwrap_or(&current.base_url);
        let check_credentials = match &credentials {
            Some(c) => c.clone(),
            None => channels::credentials(pool, &key, account, id)
                .await?
                .ok_or_else(|| not_found(id))?,
        };
        verify(state.connectors.http(), check_url, &check_credentials).await?;
    }
    let change = ChannelUpdate {
        name,
        base_url: base_url.as_deref(),
        credentials: credentials.as_ref(),
        settings: settings.as_ref(),
        active: body.active,
    };
    let channel = channels::update(pool, &key, account, id, &change).await?;
    found(channel, || not_found(id))
}

async fn remove(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    if channels::delete(db(&state)?, account, id).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(not_found(id))
    }
}

async fn health(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let health = import_state::import_health(db(&state)?, account, id).await?;
    found(health, || not_found(id))
}

/// Asks for an import of the channel now, beside its timer: 202 with the job's id.
async fn import_now(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let job = ImportOrders {
        channel_id: id,
        reason: ImportReason::Manual,
    };
    enqueue_now(&state, account, id, &job, format!("import-manual:{id}")).await
}

/// 404 unless the account has channel `id`.
pub(super) async fn check_exists(
    state: &AppState,
    account: AccountId,
    id: i64,
) -> Result<(), AppError> {
    channels::get(db(state)?, account, id)
        .await?
        .map(drop)
        .ok_or_else(|| not_found(id))
}

/// Enqueues `job` for the account's channel `id` now, beside its timer; a second ask while one
/// waits (same `unique_key`) answers the waiting job. 202 with the job's id and queue.
pub(super) async fn enqueue_now<J: JobKind>(
    state: &AppState,
    account: AccountId,
    id: i64,
    job: &J,
    unique_key: String,
) -> Result<Response, AppError> {
    check_exists(state, account, id).await?;
    let opts = EnqueueOptions {
        unique_key: Some(unique_key),
        ..Default::default()
    };
    let enqueued = state.broker.queue(J::QUEUE)?.enqueue(job, &opts).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "job_id": enqueued.id, "queue": J::QUEUE })),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_lose_their_trailing_slash_and_take_no_query() {
        let loopback = SsrfGuard::new(&["127.0.0.0/8".into()]).unwrap_or_default();
        let check = |url: &str| check_base_url(url, &loopback).ok();
        assert_eq!(
            check("https://shop.example.com/").as_deref(),
            Some("https://shop.example.com")
        );
        assert_eq!(
            check("http://127.0.0.1:9000/shopify/demo-shop").as_deref(),
            Some("http://127.0.0.1:9000/shopify/demo-shop")
        );
        assert_eq!(check("https://shop.example.com/?x=1"), None);
        assert_eq!(
            check_base_url("http://127.0.0.1:9000/", &SsrfGuard::default()).ok(),
            None
        );
    }

    #[test]
    fn settings_patches_merge_key_by_key() {
        let current = ChannelSettings {
            import_unpaid: true,
            stock_buffer: 4,
            ..ChannelSettings::default()
        };
        let merged = merge_settings(&current, &serde_json::json!({"stock_buffer": 2}))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(merged.import_unpaid);
        assert_eq!(merged.stock_buffer, 2);
        let reset = merge_settings(&current, &serde_json::json!({"import_unpaid": null}))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!reset.import_unpaid);
        assert!(matches!(
            merge_settings(&current, &serde_json::json!({"poll_interval_secs": 1})),
            Err(AppError::Invalid { field: Some(f), .. }) if f == "settings.poll_interval_secs"
        ));
    }
}

/// This module's part of the OpenAPI document (see [`super::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi()]
pub(super) struct Doc;
