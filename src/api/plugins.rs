//! `/v1/stores/{store_id}/plugins` and `/v1/plugins/{id}`: a store's fulfilment-centre plugins.
//!
//! Creating a plugin answers, once, with its signing secret (what the plugin verifies the
//! orders it receives with) and its callback token (what it calls back with). Neither is ever
//! shown again: a lost one means a new plugin.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use super::extract::{ApiJson, ApiQuery};
use super::openapi::Problem;
use super::tenant::{
    check_name, conflict, created, credentials_key, db, found, Account, Page, PageQuery,
};
use super::AppState;
use crate::api::error::AppError;
use crate::outbound::target::{self, Query};
use crate::outbound::SsrfGuard;
use crate::store::plugins::{self, Deleted, NewPlugin, NewPluginSecrets, PluginRow, PluginUpdate};
use crate::store::StoreError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/stores/{store_id}/plugins", get(list).post(create))
        .route("/plugins/{id}", get(read).patch(update).delete(remove))
}

/// The only kind so far: orders are POSTed to an HTTP endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = PluginKind)]
enum Kind {
    Http,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "kind": "http", "name": "Northfield Fulfilment",
    "endpoint_url": "https://fc.example.com/switchyard/orders"
}))]
struct CreatePlugin {
    kind: Kind,
    /// 1 to 200 characters, trimmed.
    name: String,
    /// Where orders are POSTed: an absolute http(s) URL of at most 2000 characters, without
    /// credentials or a fragment, whose host the deployment's outbound guard admits (no private
    /// or loopback address unless `outbound.allow_cidrs` lets it).
    endpoint_url: String,
    /// Default true.
    #[serde(default)]
    active: Option<bool>,
}

/// Only the fields sent change.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"active": false}))]
struct UpdatePlugin {
    /// 1 to 200 characters, trimmed.
    #[serde(default)]
    name: Option<String>,
    /// As on create.
    #[serde(default)]
    endpoint_url: Option<String>,
    /// Off: no order is sent to it, rules routing to it are skipped, and its callback token
    /// opens nothing.
    #[serde(default)]
    active: Option<bool>,
}

fn not_found(id: i64) -> AppError {
    AppError::NotFound(format!("plugin {id}"))
}

fn store_not_found(id: i64) -> AppError {
    AppError::NotFound(format!("store {id}"))
}

/// The endpoint as [`target::check`] has it (the same rules as a webhook's URL): a host name is
/// judged at every send, where it resolves.
fn check_endpoint(text: &str, guard: &SsrfGuard) -> Result<String, AppError> {
    target::check(text, guard, Query::Allowed)
        .map(String::from)
        .map_err(|why| {
            AppError::invalid(
                format!("`endpoint_url` {why}"),
                Some("endpoint_url".to_owned()),
            )
        })
}

/// Create a plugin in a store.
///
/// The answer is the only one that carries the plugin's `signing_secret` and `callback_token`:
/// reads show the plugin without them, and only `callback_prefix` of the token. A lost one
/// means a new plugin.
#[utoipa::path(
    post, path = "/v1/stores/{store_id}/plugins", operation_id = "createPlugin", tag = "Plugins",
    params(("store_id" = i64, Path, description = "The store's id")),
    request_body = CreatePlugin,
    responses(
        (status = 201, description = "Created, with its secrets (shown this once)", body = NewPluginSecrets,
         headers(("location" = String, description = "`/v1/plugins/{id}`"))),
    ),
)]
async fn create(
    State(state): State<AppState>,
    Account(account): Account,
    Path(store_id): Path<i64>,
    ApiJson(body): ApiJson<CreatePlugin>,
) -> Result<Response, AppError> {
    let Kind::Http = body.kind;
    let name = check_name(&body.name)?;
    let endpoint = check_endpoint(
        &body.endpoint_url,
        &SsrfGuard::from_settings(&state.settings.outbound),
    )?;
    let key = credentials_key(&state)?;
    let new = NewPlugin {
        store_id,
        name,
        endpoint_url: &endpoint,
        active: body.active.unwrap_or(true),
    };
    match plugins::create(db(&state)?, &key, account, &new).await {
        Ok(made) => Ok(created(format!("/v1/plugins/{}", made.plugin.id), made)),
        Err(StoreError::MissingParent(_)) => Err(store_not_found(store_id)),
        Err(e) => Err(e.into()),
    }
}

/// List a store's plugins, oldest first.
#[utoipa::path(
    get, path = "/v1/stores/{store_id}/plugins", operation_id = "listPlugins", tag = "Plugins",
    params(("store_id" = i64, Path, description = "The store's id"), PageQuery),
    responses((status = 200, description = "A page of plugins (without their secrets)", body = Page<PluginRow>)),
)]
async fn list(
    State(state): State<AppState>,
    Account(account): Account,
    Path(store_id): Path<i64>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Response, AppError> {
    let page = q.page()?;
    let rows = plugins::list(db(&state)?, account, store_id, page.cursor, page.fetch())
        .await?
        .ok_or_else(|| store_not_found(store_id))?;
    Ok(page.of(rows, |p| p.id).into_response())
}

/// Read a plugin (without its secrets).
#[utoipa::path(
    get, path = "/v1/plugins/{id}", operation_id = "getPlugin", tag = "Plugins",
    params(("id" = i64, Path, description = "The plugin's id")),
    responses((status = 200, description = "The plugin", body = PluginRow)),
)]
async fn read(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    found(plugins::get(db(&state)?, account, id).await?, || {
        not_found(id)
    })
}

/// Rename a plugin, move its endpoint, or turn it on or off.
///
/// Turning it off is also how a leaked callback token is shut off at once.
#[utoipa::path(
    patch, path = "/v1/plugins/{id}", operation_id = "updatePlugin", tag = "Plugins",
    params(("id" = i64, Path, description = "The plugin's id")),
    request_body = UpdatePlugin,
    responses((status = 200, description = "The changed plugin", body = PluginRow)),
)]
async fn update(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<UpdatePlugin>,
) -> Result<Response, AppError> {
    let endpoint = body
        .endpoint_url
        .as_deref()
        .map(|url| check_endpoint(url, &SsrfGuard::from_settings(&state.settings.outbound)))
        .transpose()?;
    let change = PluginUpdate {
        name: body.name.as_deref().map(check_name).transpose()?,
        endpoint_url: endpoint.as_deref(),
        active: body.active,
    };
    let plugin = plugins::update(db(&state)?, account, id, &change).await?;
    found(plugin, || not_found(id))
}

/// Delete a plugin that no rule routes to.
///
/// Orders it was given keep their history but no longer name it.
#[utoipa::path(
    delete, path = "/v1/plugins/{id}", operation_id = "deletePlugin", tag = "Plugins",
    params(("id" = i64, Path, description = "The plugin's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 409, description = "Plugin rules route to it (`conflict`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn remove(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    match plugins::delete(db(&state)?, account, id).await? {
        Deleted::Deleted => Ok(StatusCode::NO_CONTENT.into_response()),
        Deleted::NotFound => Err(not_found(id)),
        Deleted::HasRules(rules) => Ok(conflict(&format!(
            "plugin rule(s) {rules:?} route to plugin {id}; change or delete them first"
        ))),
    }
}

/// This module's part of the OpenAPI document (see [`super::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, create, read, update, remove))]
pub(super) struct Doc;
