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

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Acme Trading Ltd"}))]
struct CreateAccount {
    /// 1 to 200 characters (spaces at either end are dropped).
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    name: String,
}

/// A new account and its first API token.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = CreatedAccount, example = json!({
    "id": 3, "name": "Acme Trading Ltd",
    "token": {"id": 5, "token": "sy_cQ4OEXiGEj5Y29GXn9RcM2PGykizW8-RAw67FLuNK9c", "prefix": "sy_cQ4OEXi"}
}))]
struct Created {
    id: i64,
    name: String,
    token: NewToken,
}

/// Create an account, with its first API token.
///
/// The token is answered here only: switchyard keeps its hash, never the token.
#[utoipa::path(
    post, path = "/v1/accounts", operation_id = "createAccount", tag = "Accounts",
    request_body = CreateAccount,
    responses((status = 201, description = "Created; the token is shown this once", body = Created)),
)]
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
#[openapi(paths(create))]
pub(super) struct Doc;
