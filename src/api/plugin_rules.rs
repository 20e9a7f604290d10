//! `/v1/stores/{store_id}/plugin-rules` and `/v1/plugin-rules/{id}`: the ordered rules that
//! route a store's imported orders to its plugins, hold, exclude or tag them. The conditions,
//! actions and how they are evaluated are [`crate::domain::plugin_rules`].

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::extract::ApiJson;
use super::tenant::{check_name, created, db, found, Account};
use super::AppState;
use crate::api::error::AppError;
use crate::domain::plugin_rules::{parse_action, parse_condition};
use crate::store::plugin_rules::{self, NewRule, RuleRow, RuleUpdate};
use crate::store::StoreError;

/// Largest position a rule may be given (positions need not be contiguous).
const MAX_POSITION: i32 = 1_000_000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/stores/{store_id}/plugin-rules", get(list).post(create))
        .route("/plugin-rules/{id}", get(read).patch(update).delete(remove))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRule {
    name: String,
    condition: Value,
    action: Value,
    #[serde(default)]
    position: Option<i32>,
    #[serde(default)]
    active: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateRule {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    condition: Option<Value>,
    #[serde(default)]
    action: Option<Value>,
    #[serde(default)]
    position: Option<i32>,
    #[serde(default)]
    active: Option<bool>,
}

/// The rules of a store, in the order they are evaluated.
#[derive(Debug, Serialize)]
struct RuleList {
    items: Vec<RuleRow>,
}

fn not_found(id: i64) -> AppError {
    AppError::NotFound(format!("plugin rule {id}"))
}

fn check_position(position: Option<i32>) -> Result<Option<i32>, AppError> {
    match position {
        Some(p) if !(0..=MAX_POSITION).contains(&p) => Err(AppError::invalid(
            format!("`position` must be between 0 and {MAX_POSITION}"),
            Some("position".to_owned()),
        )),
        other => Ok(other),
    }
}

/// A store refusal as the client should see it: the store missing is a 404 (it is in the
/// path), a plugin not of the store a 422 on the action.
fn refusal(store_id: i64, err: StoreError) -> AppError {
    match err {
        StoreError::MissingParent("store") => AppError::NotFound(format!("store {store_id}")),
        StoreError::MissingParent("plugin") => AppError::invalid(
            "`action.plugin_id` is not a plugin of the rule's store",
            Some("action.plugin_id".to_owned()),
        ),
        StoreError::MissingParent("channel") => AppError::invalid(
            "`condition.channel_ids` names a channel that is not the rule's store's",
            Some("condition.channel_ids".to_owned()),
        ),
        other => other.into(),
    }
}

async fn create(
    State(state): State<AppState>,
    Account(account): Account,
    Path(store_id): Path<i64>,
    ApiJson(body): ApiJson<CreateRule>,
) -> Result<Response, AppError> {
    let name = check_name(&body.name)?;
    let condition = parse_condition(&body.condition).map_err(|e| e.under("condition"))?;
    let action = parse_action(&body.action).map_err(|e| e.under("action"))?;
    let new = NewRule {
        store_id,
        name,
        position: check_position(body.position)?,
        condition: &condition,
        action: &action,
        active: body.active.unwrap_or(true),
    };
    match plugin_rules::create(db(&state)?, account, &new).await {
        Ok(rule) => Ok(created(format!("/v1/plugin-rules/{}", rule.id), rule)),
        Err(e) => Err(refusal(store_id, e)),
    }
}

async fn list(
    State(state): State<AppState>,
    Account(account): Account,
    Path(store_id): Path<i64>,
) -> Result<Response, AppError> {
    let items = plugin_rules::list(db(&state)?, account, store_id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("store {store_id}")))?;
    Ok(Json(RuleList { items }).into_response())
}

async fn read(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    found(plugin_rules::get(db(&state)?, account, id).await?, || {
        not_found(id)
    })
}

async fn update(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<UpdateRule>,
) -> Result<Response, AppError> {
    let condition = body
        .condition
        .as_ref()
        .map(|c| parse_condition(c).map_err(|e| e.under("condition")))
        .transpose()?;
    let action = body
        .action
        .as_ref()
        .map(|a| parse_action(a).map_err(|e| e.under("action")))
        .transpose()?;
    let change = RuleUpdate {
        name: body.name.as_deref().map(check_name).transpose()?,
        position: check_position(body.position)?,
        condition: condition.as_ref(),
        action: action.as_ref(),
        active: body.active,
    };
    match plugin_rules::update(db(&state)?, account, id, &change).await {
        Ok(rule) => found(rule, || not_found(id)),
        Err(e) => Err(refusal(0, e)),
    }
}

async fn remove(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    match plugin_rules::delete(db(&state)?, account, id).await? {
        true => Ok(StatusCode::NO_CONTENT.into_response()),
        false => Err(not_found(id)),
    }
}

/// This module's part of the OpenAPI document (see [`super::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi()]
pub(super) struct Doc;
