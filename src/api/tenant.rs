//! Tenant routes' shared parts, first the [`Account`] extractor, which every tenant route takes.
//!
//! Tenant routes are guarded by an account's API token (not the ops token), looked up by hash in
//! PostgreSQL once per request by [`super::auth::authenticate`]. Taking the account as an extractor
//! puts it in every handler's signature, where the store functions need it: a handler cannot
//! reach tenant data without naming whose it is.

use axum::extract::FromRequestParts;
use axum::http::header::LOCATION;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use super::auth::{unauthorized, Principal};
use super::{problem, AppState};
use crate::api::error::AppError;
use crate::crypto::CredentialsKey;
use crate::domain::FieldError;
use crate::store::{AccountId, StoreError};

/// The account whose token the request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Account(pub AccountId);

impl FromRequestParts<AppState> for Account {
    type Rejection = Response;

    /// The account [`super::auth::authenticate`] proved; only a route outside the tenant group, a
    /// wiring mistake, finds none, and is refused rather than served unscoped.
    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Response> {
        match parts.extensions.get::<Principal>() {
            Some(Principal::Account(account)) => Ok(Account(*account)),
            _ => Err(unauthorized()),
        }
    }
}

/// The pool; tenant routes cannot be served by an API started without PostgreSQL.
pub(super) fn db(state: &AppState) -> Result<&PgPool, AppError> {
    state
        .db
        .as_ref()
        .ok_or(AppError::Database(sqlx::Error::PoolClosed))
}

/// The credentials key (validated at start, so this fails only on a bug).
pub(super) fn credentials_key(state: &AppState) -> Result<CredentialsKey, AppError> {
    CredentialsKey::from_hex(&state.settings.crypto.credentials_key)
        .map_err(|e| AppError::Database(sqlx::Error::Configuration(Box::new(e))))
}

impl From<StoreError> for AppError {
    fn from(err: StoreError) -> AppError {
        match err {
            StoreError::Database(e) => AppError::from(e),
            StoreError::Conflict(detail) => AppError::invalid(detail, None),
            StoreError::MissingParent(what) => {
                AppError::invalid(format!("no such {what} in this account"), None)
            }
            // Unreadable stored data or a wrong key: the service's fault, shown as a 5xx and
            // logged, never as the caller's.
            other @ (StoreError::Crypto(_) | StoreError::Corrupt(_)) => {
                AppError::Database(sqlx::Error::Protocol(other.to_string()))
            }
        }
    }
}

impl From<FieldError> for AppError {
    fn from(err: FieldError) -> AppError {
        let detail = err.to_string();
        AppError::invalid(detail, Some(err.field))
    }
}

/// 409 problem+json: the request is well formed but clashes with the current state.
pub(super) fn conflict(detail: &str) -> Response {
    problem::problem(StatusCode::CONFLICT, "conflict", "Conflict", detail)
}

/// A page of a list: the items and where the next page starts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

impl<T: Serialize> IntoResponse for Page<T> {
    fn into_response(self) -> Response {
        Json(self).into_response()
    }
}

/// Default and largest page of the store and channel lists.
pub(super) const DEFAULT_LIMIT: u32 = 50;
pub(super) const MAX_LIMIT: u32 = 200;

/// Checks `limit` (1..=`MAX_LIMIT`, default `DEFAULT_LIMIT`).
pub(super) fn limit(limit: Option<u32>) -> Result<u32, AppError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(AppError::invalid(
            format!("`limit` must be between 1 and {MAX_LIMIT}"),
            Some("limit".to_owned()),
        )),
    }
}

/// A `cursor` this API did not hand out.
pub(super) fn bad_cursor() -> AppError {
    AppError::invalid(
        "`cursor` is not one this API returned",
        Some("cursor".into()),
    )
}

/// The paging parameters of a list that has no filters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct PageQuery {
    /// The previous page's `next_cursor`; none for the first page.
    #[param(pattern = "^[0-9]+$")]
    pub cursor: Option<String>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

impl PageQuery {
    pub fn page(&self) -> Result<IdPage, AppError> {
        IdPage::new(self.limit, self.cursor.as_deref())
    }
}

/// The filter and paging of a list of one kind of a store's things (channels, accounting
/// connections, hosted pages).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct StorePageQuery {
    /// Only this store's.
    pub store_id: Option<i64>,
    /// The previous page's `next_cursor`; none for the first page.
    pub cursor: Option<String>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

impl StorePageQuery {
    pub fn page(&self) -> Result<IdPage, AppError> {
        IdPage::new(self.limit, self.cursor.as_deref())
    }
}

/// One page of an id-ordered list as asked for: up to `limit` rows past the id `cursor`, the
/// last of the previous page (none: the first page).
#[derive(Debug, Clone, Copy)]
pub(super) struct IdPage {
    pub limit: u32,
    pub cursor: Option<i64>,
}

impl IdPage {
    /// Checks `limit` and reads `cursor` (the last id of the previous page).
    pub fn new(limit: Option<u32>, cursor: Option<&str>) -> Result<IdPage, AppError> {
        Ok(IdPage {
            limit: self::limit(limit)?,
            cursor: cursor
                .map(|c| c.parse::<i64>().map_err(|_| bad_cursor()))
                .transpose()?,
        })
    }

    /// How many rows to fetch: one more than the page, to learn whether another follows.
    pub fn fetch(&self) -> i64 {
        i64::from(self.limit) + 1
    }

    /// The page of `rows` (fetched with [`IdPage::fetch`]), with the cursor of the next one
    /// when there are more.
    pub fn of<T>(&self, mut rows: Vec<T>, id: impl Fn(&T) -> i64) -> Page<T> {
        let more = rows.len() > self.limit as usize;
        rows.truncate(self.limit as usize);
        let next_cursor = if more {
            rows.last().map(|r| id(r).to_string())
        } else {
            None
        };
        Page {
            items: rows,
            next_cursor,
        }
    }
}

/// 201 with the new resource, and where it lives in `Location`.
pub(super) fn created<T: Serialize>(location: String, body: T) -> Response {
    (StatusCode::CREATED, [(LOCATION, location)], Json(body)).into_response()
}

/// The answer to a read of one resource: `row`, or the 404 `missing` makes.
pub(super) fn found<T: Serialize>(
    row: Option<T>,
    missing: impl FnOnce() -> AppError,
) -> Result<Response, AppError> {
    row.map(|r| Json(r).into_response()).ok_or_else(missing)
}

/// A display name: non-empty, trimmed, at most 200 characters.
pub(super) fn check_name(name: &str) -> Result<&str, AppError> {
    let trimmed = name.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 200 {
        return Err(AppError::invalid(
            "`name` must be 1 to 200 characters",
            Some("name".to_owned()),
        ));
    }
    Ok(trimmed)
}
