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
use super::tenant::{
    check_name, conflict, created, credentials_key, db, found, Account, PageQuery,
};
use super::AppState;
use crate::api::error::AppError;
use crate::outbound::target::{self, Query};
use crate::outbound::SsrfGuard;
use crate::store::plugins::{self, Deleted, NewPlugin, PluginUpdate};
use crate::store::StoreError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/stores/{store_id}/plugins", get(list).post(create))
        .route("/plugins/{id}", get(read).patch(update).delete(remove))
}

/// The only kind so far: orders are POSTed to an HTTP endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    Http,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreatePlugin {
    kind: Kind,
    name: String,
    endpoint_url: String,
    #[serde(default)]
    active: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdatePlugin {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    endpoint_url: Option<String>,
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

async fn read(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    found(plugins::get(db(&state)?, account, id).await?, || {
        not_found(id)
    })
}

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
#[openapi()]
pub(super) struct Doc;
