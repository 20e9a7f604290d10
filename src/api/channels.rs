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
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::extract::{ApiJson, ApiQuery};
use super::tenant::{
    check_name, created, credentials_key, db, found, Account, Page, StorePageQuery,
};
use super::AppState;
use crate::api::error::{field, AppError};
use crate::connectors::{self, ConnectorError};
use crate::domain::ChannelKind;
use crate::domain::{ChannelCredentials, ChannelSettings};
use crate::jobs::{ImportOrders, ImportReason, JobKind};
use crate::outbound::target::{self, Query};
use crate::outbound::{ClientSettings, SsrfGuard};
use crate::queue::EnqueueOptions;
use crate::store::channels::{self, ChannelRow, ChannelUpdate, NewChannel};
use crate::store::import_state::{self, ImportHealth};
use crate::store::{stores, AccountId, StoreError};

/// Longest a credentials check may take, within the request's own timeout.
const CHECK_TIMEOUT: Duration = Duration::from_secs(15);

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/channels", get(list).post(create))
        .route("/channels/{id}", get(read).patch(update).delete(remove))
        .route("/channels/{id}/health", get(health))
        .route("/channels/{id}/import", axum::routing::post(import_now))
        .route(
            "/channels/{id}/breaker/reset",
            axum::routing::post(reset_breaker),
        )
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "store_id": 12, "kind": "shopify", "name": "Acme Outdoor Shopify",
    "base_url": "https://acme-outdoor.myshopify.com",
    "credentials": {"access_token": "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", "app_secret": "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"},
    "settings": {"country_filter": {"mode": "deny", "countries": ["FR"]}, "stock_management": true, "auto_sync_stock": true}
}))]
struct CreateChannel {
    /// A store of the account.
    store_id: i64,
    kind: ChannelKind,
    /// 1 to 200 characters (spaces at either end are dropped).
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    name: String,
    /// The shop's address (`https://<shop>.myshopify.com`, the WordPress site's root), without a
    /// query; it must not point into a private network.
    base_url: String,
    #[schema(value_type = ChannelCredentials)]
    credentials: Value,
    /// Keys left out take their defaults; none: every default.
    #[serde(default)]
    #[schema(value_type = Option<ChannelSettings>)]
    settings: Option<Value>,
}

/// A partial update: fields left out (or null) stay as they are. `settings` is merged onto the
/// current settings key by key, a null key resetting to its default; `credentials` replaces them
/// whole. New credentials, or a new `base_url`, are checked with the platform first.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"settings": {"stock_buffer": 2, "country_filter": null}, "active": true}))]
struct UpdateChannel {
    /// 1 to 200 characters (spaces at either end are dropped).
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    name: Option<String>,
    /// As at creation; checked with the platform, with the new or the current credentials.
    #[serde(default)]
    base_url: Option<String>,
    /// Of the shape of the channel's `kind`.
    #[serde(default)]
    #[schema(value_type = Option<ChannelCredentials>)]
    credentials: Option<Value>,
    #[serde(default)]
    #[schema(schema_with = settings_change)]
    settings: Option<Value>,
    /// False pauses the channel: no imports, no stock pushes.
    #[serde(default)]
    active: Option<bool>,
}

/// The schema of a settings change: any keys of `ChannelSettings`, each also taking null (back
/// to its default).
fn settings_change() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{AdditionalProperties, AnyOfBuilder, Schema, SchemaType, Type};
    use utoipa::openapi::{ObjectBuilder, RefOr};
    use utoipa::PartialSchema;
    let description = "Keys to change, as in `ChannelSettings`; a null key goes back to its \
                       default, a key left out stays as it is.";
    let RefOr::T(Schema::Object(settings)) = ChannelSettings::schema() else {
        return ObjectBuilder::new().description(Some(description)).into();
    };
    let mut change = ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
        .description(Some(description))
        .additional_properties(Some(AdditionalProperties::FreeForm(false)));
    for (key, property) in settings.properties {
        let nullable = AnyOfBuilder::new()
            .item(property)
            .item(ObjectBuilder::new().schema_type(Type::Null));
        change = change.property(key, nullable);
    }
    change.into()
}

/// The answer to a request for work now: the job that will do it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"job_id": "01M91KQWNK66QQGPTWYXDA9JTN", "queue": "import-orders"}))]
pub(super) struct JobAccepted {
    /// The job's id (`GET /v1/jobs/{queue}/{id}` with the ops token); the waiting job's own when
    /// one was already asked for.
    pub(super) job_id: String,
    /// The queue it waits in.
    pub(super) queue: &'static str,
}

fn not_found(id: i64) -> AppError {
    AppError::NotFound(format!("channel {id}"))
}

/// The base URL as [`target::check`] has it, without a query (the connector adds its own), kept
/// without a trailing `/`.
pub(super) fn check_base_url(text: &str, guard: &SsrfGuard) -> Result<String, AppError> {
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
pub(super) async fn check_channel_credentials(
    http: &ClientSettings,
    base_url: &str,
    credentials: &ChannelCredentials,
) -> Result<(), ConnectorError> {
    let connector = connectors::build(base_url, credentials, &ChannelSettings::default(), http)?;
    within_check_timeout(connector.check_credentials()).await
}

/// `call`'s outcome, or a transient failure once `CHECK_TIMEOUT` has passed.
async fn within_check_timeout<T>(
    call: impl std::future::Future<Output = Result<T, ConnectorError>>,
) -> Result<T, ConnectorError> {
    match tokio::time::timeout(CHECK_TIMEOUT, call).await {
        Ok(result) => result,
        Err(_) => Err(ConnectorError::Transient {
            status: None,
            message: format!("no answer within {} s", CHECK_TIMEOUT.as_secs()),
        }),
    }
}

pub(super) fn platform_name(kind: ChannelKind) -> &'static str {
    match kind {
        ChannelKind::Shopify => "Shopify",
        ChannelKind::WooCommerce => "WooCommerce",
        ChannelKind::Ebay => "eBay",
        ChannelKind::Amazon => "Amazon",
    }
}

/// Settings only some kinds understand, refused for the others: a 422 naming the setting.
fn check_kind_settings(kind: ChannelKind, settings: &ChannelSettings) -> Result<(), AppError> {
    let no_locations = match kind {
        ChannelKind::Shopify => None,
        ChannelKind::WooCommerce => Some("WooCommerce keeps one stock figure per product"),
        ChannelKind::Amazon => Some("Amazon keeps one quantity per listing the seller fulfils"),
        ChannelKind::Ebay => Some("eBay keeps one quantity per listing"),
    };
    if let (Some(why), Some(_)) = (no_locations, settings.location_id) {
        return Err(field(
            format!("{why} and has no locations; leave `location_id` null"),
            "settings.location_id",
        ));
    }
    if settings.skip_fba_orders && kind != ChannelKind::Amazon {
        return Err(field(
            format!(
                "only Amazon fulfils orders itself (FBA); {} has none to skip",
                platform_name(kind)
            ),
            "settings.skip_fba_orders",
        ));
    }
    Ok(())
}

/// The settings that name something on the platform, checked with it: a 422 naming the
/// setting when the platform has no such thing. [`check_kind_settings`] has passed.
async fn verify_settings(
    http: &ClientSettings,
    base_url: &str,
    credentials: &ChannelCredentials,
    settings: &ChannelSettings,
) -> Result<(), AppError> {
    let Some(location) = settings.location_id else {
        return Ok(());
    };
    let platform = platform_name(credentials.kind());
    let connector = connectors::build(base_url, credentials, settings, http)
        .map_err(|e| field(e.said_by(platform), "base_url"))?;
    within_check_timeout(connector.check_settings())
        .await
        .map_err(|e| {
            field(
                format!("location {location}: {}", e.said_by(platform)),
                "settings.location_id",
            )
        })
}

/// Subscribes a new channel's order webhooks on its platform, to its inbound route under
/// `server.public_url`, and records them: the platform's refusal in its own words otherwise.
pub(super) async fn subscribe_webhooks(
    state: &AppState,
    channel: &ChannelRow,
    credentials: &ChannelCredentials,
) -> Result<(), String> {
    let address = format!(
        "{}/v1/channels/{}/inbound/",
        state.settings.server.public_url.trim_end_matches('/'),
        channel.id
    );
    let platform = platform_name(credentials.kind());
    let connector = connectors::build(
        &channel.base_url,
        credentials,
        &channel.settings,
        state.connectors.http(),
    )
    .map_err(|e| e.said_by(platform))?;
    let ids = within_check_timeout(connector.subscribe_order_webhooks(&address))
        .await
        .map_err(|e| {
            format!(
                "subscribing its order webhooks at {address}: {}",
                e.said_by(platform)
            )
        })?;
    let pool = db(state).map_err(|e| e.to_string())?;
    channels::set_webhook_subscriptions(pool, channel.id, &ids)
        .await
        .map_err(|e| e.to_string())
}

/// The platform's verdict as a 422 naming what to fix: the credentials when the platform refused
/// them, the base URL when it could not be reached or answered as no such platform would.
async fn verify(
    http: &ClientSettings,
    base_url: &str,
    credentials: &ChannelCredentials,
) -> Result<(), AppError> {
    let platform = platform_name(credentials.kind());
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

/// Create a channel, once its platform accepts the credentials.
///
/// The credentials are checked with the platform before anything is stored: a refusal is a 422
/// naming `credentials` with the platform's own words, a shop that cannot be reached or answers
/// as no such platform would a 422 naming `base_url`. The check may take up to 15 seconds.
#[utoipa::path(
    post, path = "/v1/channels", operation_id = "createChannel", tag = "Channels",
    request_body = CreateChannel,
    responses(
        (status = 201, description = "Created", body = ChannelRow,
         headers(("location" = String, description = "`/v1/channels/{id}`"))),
    ),
)]
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
    check_kind_settings(body.kind, &settings)?;
    verify(state.connectors.http(), &base_url, &credentials).await?;
    verify_settings(state.connectors.http(), &base_url, &credentials, &settings).await?;
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
    // A channel whose orders only arrive on the timer would look connected while lagging by its
    // poll interval, so a refused subscription undoes the creation.
    if let Err(why) = subscribe_webhooks(&state, &channel, &credentials).await {
        channels::delete(pool, account, channel.id).await?;
        return Err(field(
            format!("the channel was not created: {why}"),
            "base_url",
        ));
    }
    Ok(created(format!("/v1/channels/{}", channel.id), channel))
}

/// List the account's channels, oldest first.
#[utoipa::path(
    get, path = "/v1/channels", operation_id = "listChannels", tag = "Channels",
    params(StorePageQuery),
    responses((status = 200, description = "A page of channels", body = Page<ChannelRow>)),
)]
async fn list(
    State(state): State<AppState>,
    Account(account): Account,
    ApiQuery(q): ApiQuery<StorePageQuery>,
) -> Result<Response, AppError> {
    let page = q.page()?;
    let rows = channels::list(db(&state)?, account, q.store_id, page.cursor, page.fetch()).await?;
    Ok(page.of(rows, |c| c.id).into_response())
}

/// Read a channel (never its credentials).
#[utoipa::path(
    get, path = "/v1/channels/{id}", operation_id = "getChannel", tag = "Channels",
    params(("id" = i64, Path, description = "The channel's id")),
    responses((status = 200, description = "The channel", body = ChannelRow)),
)]
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

/// Change a channel's name, address, credentials, settings or whether it is active.
///
/// New credentials, or the current ones sent to a new `base_url`, are checked with the platform
/// first, and answer 422 as at creation when it refuses them.
#[utoipa::path(
    patch, path = "/v1/channels/{id}", operation_id = "updateChannel", tag = "Channels",
    params(("id" = i64, Path, description = "The channel's id")),
    request_body = UpdateChannel,
    responses((status = 200, description = "The channel as changed", body = ChannelRow)),
)]
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
    if let Some(settings) = &settings {
        check_kind_settings(current.kind, settings)?;
    }
    // New credentials, or old ones sent somewhere new, must pass the platform first; so must a
    // location, new or on a new shop.
    let moved = credentials.is_some() || base_url.as_ref().is_some_and(|u| *u != current.base_url);
    let new_location = settings
        .as_ref()
        .is_some_and(|s| s.location_id != current.settings.location_id);
    if moved || new_location {
        let check_url = base_url.as_deref().unwrap_or(&current.base_url);
        let check_credentials = match &credentials {
            Some(c) => c.clone(),
            None => channels::credentials(pool, &key, account, id)
                .await?
                .ok_or_else(|| not_found(id))?,
        };
        if moved {
            verify(state.connectors.http(), check_url, &check_credentials).await?;
        }
        let check_settings = settings.as_ref().unwrap_or(&current.settings);
        verify_settings(
            state.connectors.http(),
            check_url,
            &check_credentials,
            check_settings,
        )
        .await?;
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

/// Delete a channel, with its orders, listings and import state.
#[utoipa::path(
    delete, path = "/v1/channels/{id}", operation_id = "deleteChannel", tag = "Channels",
    params(("id" = i64, Path, description = "The channel's id")),
    responses((status = 204, description = "Deleted")),
)]
async fn remove(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let pool = db(&state)?;
    let subscriptions = channels::webhook_subscriptions(pool, account, id).await?;
    // Read before the delete: removing the subscriptions needs the channel's credentials.
    let platform = if subscriptions.is_empty() {
        None
    } else {
        let channel = channels::get(pool, account, id).await?;
        let credentials =
            channels::credentials(pool, &credentials_key(&state)?, account, id).await?;
        channel.zip(credentials)
    };
    if !channels::delete(pool, account, id).await? {
        return Err(not_found(id));
    }
    if let Some((channel, credentials)) = platform {
        unsubscribe_webhooks(&state, &channel, &credentials, &subscriptions).await;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Removes a deleted channel's webhook subscriptions from its platform. The channel is gone
/// whatever the platform answers: a subscription left behind delivers to a route that answers
/// 404, which Shopify stops after its retries, so a failure is logged rather than refused.
async fn unsubscribe_webhooks(
    state: &AppState,
    channel: &ChannelRow,
    credentials: &ChannelCredentials,
    subscriptions: &[String],
) {
    let removed = match connectors::build(
        &channel.base_url,
        credentials,
        &channel.settings,
        state.connectors.http(),
    ) {
        Ok(connector) => within_check_timeout(connector.unsubscribe_webhooks(subscriptions)).await,
        Err(e) => Err(e),
    };
    if let Err(e) = removed {
        tracing::warn!(
            channel_id = channel.id,
            subscriptions = subscriptions.len(),
            error = %e,
            "the deleted channel's webhook subscriptions could not be removed from its platform"
        );
    }
}

/// Read how the channel's order imports are going.
#[utoipa::path(
    get, path = "/v1/channels/{id}/health", operation_id = "getChannelHealth", tag = "Channels",
    params(("id" = i64, Path, description = "The channel's id")),
    responses((status = 200, description = "The channel's import health; all empty before its first run", body = ImportHealth)),
)]
async fn health(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let health = import_state::import_health(db(&state)?, account, id).await?;
    found(health, || not_found(id))
}

/// Close the channel's import breaker.
///
/// For when its platform is known to be back (an outage over, credentials fixed): imports call
/// it again at once instead of after the breaker's next probe, and its failures count from zero.
/// A breaker that was open or half open sends `channel.breaker_closed`.
#[utoipa::path(
    post, path = "/v1/channels/{id}/breaker/reset", operation_id = "resetChannelBreaker", tag = "Channels",
    params(("id" = i64, Path, description = "The channel's id")),
    responses((status = 200, description = "The channel's import health, its breaker closed", body = ImportHealth)),
)]
async fn reset_breaker(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let health = import_state::reset_breaker(db(&state)?, account, id).await?;
    found(health, || not_found(id))
}

/// Import the channel's orders now.
///
/// Beside the channel's timer; a second ask while one waits answers the waiting job.
#[utoipa::path(
    post, path = "/v1/channels/{id}/import", operation_id = "importChannelOrders", tag = "Channels",
    params(("id" = i64, Path, description = "The channel's id")),
    responses((status = 202, description = "The import is queued", body = JobAccepted)),
)]
async fn import_now(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let (job, unique_key) = manual_import(id);
    enqueue_now(&state, account, id, &job, unique_key).await
}

/// The import of channel `id` someone asked for, and the unique key that makes asks made while
/// it waits one job.
pub(super) fn manual_import(id: i64) -> (ImportOrders, String) {
    let job = ImportOrders {
        channel_id: id,
        reason: ImportReason::Manual,
    };
    (job, format!("import-manual:{id}"))
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

/// [`queue_now`], answered 202 with the job's id and queue.
pub(super) async fn enqueue_now<J: JobKind>(
    state: &AppState,
    account: AccountId,
    id: i64,
    job: &J,
    unique_key: String,
) -> Result<Response, AppError> {
    let accepted = queue_now(state, account, id, job, unique_key).await?;
    Ok((StatusCode::ACCEPTED, Json(accepted)).into_response())
}

/// Enqueues `job` for the account's channel `id` now, beside its timer; a second ask while one
/// waits (same `unique_key`) answers the waiting job.
pub(super) async fn queue_now<J: JobKind>(
    state: &AppState,
    account: AccountId,
    id: i64,
    job: &J,
    unique_key: String,
) -> Result<JobAccepted, AppError> {
    check_exists(state, account, id).await?;
    let opts = EnqueueOptions {
        unique_key: Some(unique_key),
        tenant: Some(account.tenant()),
        ..EnqueueOptions::default()
    };
    let enqueued = state.broker.queue(J::QUEUE)?.enqueue(job, &opts).await?;
    Ok(JobAccepted {
        job_id: enqueued.id,
        queue: J::QUEUE,
    })
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
#[openapi(paths(list, create, read, update, remove, health, import_now, reset_breaker))]
pub(super) struct Doc;
