//! `POST /v1/accounts` (ops token): onboarding a tenant. Answers the account's first API token,
//! the only time it is ever shown.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::extract::ApiJson;
use super::tenant::{check_name, db};
use super::AppState;
use crate::api::error::AppError;
use crate::store::accounts::{self, NewToken};

pub fn router() -> Router<AppState> {
    Router::new().route("/accounts", post(create))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateAccount {
    name: String,
}

#[derive(Debug, Serialize)]
struct Created {
    id: i64,
    name: String,
    token: NewToken,
}

async fn create(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateAccount>,
) -> Result<Response, AppError> {
    let name = check_name(&body.name)?;
    let (account, token) = accounts::create_account(db(&state)?, name, "initial").await?;
    let created = Created {
        id: account.0,
        name: name.to_owned(),
        token,
    };
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// This module's part of the OpenAPI document (see [`super::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi()]
pub(super) struct Doc;
