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
use crate::domain::plugin_rules::{parse_action, parse_condition, Action, Condition};
use crate::store::plugin_rules::{self, NewRule, RuleRow, RuleUpdate};
use crate::store::StoreError;

/// Largest position a rule may be given (positions need not be contiguous).
const MAX_POSITION: i32 = 1_000_000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/stores/{store_id}/plugin-rules", get(list).post(create))
        .route("/plugin-rules/{id}", get(read).patch(update).delete(remove))
}

// `condition` and `action` are read as JSON and then parsed, so an error can name the field
// under them (`condition.skus[1]`); the document shows the shapes they parse into.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreatePluginRule, example = json!({
    "name": "Tents go to Northfield",
    "condition": {"type": "sku_in", "skus": ["TENT-2P", "TENT-KIT"]},
    "action": {"type": "send_to_plugin", "plugin_id": 1}
}))]
struct CreateRule {
    /// 1 to 200 characters, trimmed.
    name: String,
    #[schema(value_type = Condition)]
    condition: Value,
    /// A `send_to_plugin` action names a plugin of the rule's store.
    #[schema(value_type = Action)]
    action: Value,
    /// 0 to 1000000; default one past the store's last rule.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1_000_000)]
    position: Option<i32>,
    /// Default true.
    #[serde(default)]
    active: Option<bool>,
}

/// Only the fields sent change.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = UpdatePluginRule, example = json!({"position": 1}))]
struct UpdateRule {
    /// 1 to 200 characters, trimmed.
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Condition>)]
    condition: Option<Value>,
    /// A `send_to_plugin` action names a plugin of the rule's store.
    #[serde(default)]
    #[schema(value_type = Option<Action>)]
    action: Option<Value>,
    /// 0 to 1000000.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1_000_000)]
    position: Option<i32>,
    #[serde(default)]
    active: Option<bool>,
}

/// The rules of a store, in the order they are evaluated.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = PluginRuleList)]
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

/// Add a rule to a store's plugin rules.
///
/// A `send_to_plugin` action naming a plugin that is not the store's answers 422 naming
/// `action.plugin_id`; a `channel_in` condition naming a channel that is not the store's, 422
/// naming `condition.channel_ids`.
#[utoipa::path(
    post, path = "/v1/stores/{store_id}/plugin-rules", operation_id = "createPluginRule",
    tag = "Plugin rules",
    params(("store_id" = i64, Path, description = "The store's id")),
    request_body = CreateRule,
    responses(
        (status = 201, description = "Created", body = RuleRow,
         headers(("location" = String, description = "`/v1/plugin-rules/{id}`"))),
    ),
)]
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

/// List a store's plugin rules, in the order they are evaluated.
///
/// All of them, in one answer: a store's rules are few, and are read as a whole.
#[utoipa::path(
    get, path = "/v1/stores/{store_id}/plugin-rules", operation_id = "listPluginRules",
    tag = "Plugin rules",
    params(("store_id" = i64, Path, description = "The store's id")),
    responses((status = 200, description = "The store's rules, by position then id", body = RuleList)),
)]
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

/// Read a plugin rule.
#[utoipa::path(
    get, path = "/v1/plugin-rules/{id}", operation_id = "getPluginRule", tag = "Plugin rules",
    params(("id" = i64, Path, description = "The rule's id")),
    responses((status = 200, description = "The rule", body = RuleRow)),
)]
async fn read(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    found(plugin_rules::get(db(&state)?, account, id).await?, || {
        not_found(id)
    })
}

/// Change a plugin rule.
///
/// A new condition or action is checked as on create.
#[utoipa::path(
    patch, path = "/v1/plugin-rules/{id}", operation_id = "updatePluginRule",
    tag = "Plugin rules",
    params(("id" = i64, Path, description = "The rule's id")),
    request_body = UpdateRule,
    responses((status = 200, description = "The changed rule", body = RuleRow)),
)]
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

/// Delete a plugin rule.
#[utoipa::path(
    delete, path = "/v1/plugin-rules/{id}", operation_id = "deletePluginRule",
    tag = "Plugin rules",
    params(("id" = i64, Path, description = "The rule's id")),
    responses((status = 204, description = "Deleted")),
)]
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
#[openapi(paths(list, create, read, update, remove))]
pub(super) struct Doc;
