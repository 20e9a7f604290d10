//! PostgreSQL access, one module per aggregate, with the SQL written out in full.
//!
//! Every function that serves a tenant takes an [`AccountId`] and filters by it in the same
//! statement, so a row of another account reads as absent: the API turns that into a 404 without
//! a separate ownership check that could be forgotten. Functions for workers (which act on a
//! channel id taken from a job) are named for that and are not account-scoped.

pub mod accounting;
pub mod accounts;
pub mod channel_products;
pub mod channels;
pub mod events;
pub mod fulfilments;
pub mod hosted_pages;
pub mod idempotency;
pub mod import_state;
pub mod invoices;
pub mod order_import;
pub mod order_state;
pub mod orders;
pub mod outbox;
pub mod plugin_rules;
pub mod plugins;
pub mod products;
pub mod retention;
pub mod stock;
pub mod stock_drift;
pub mod stores;
pub mod webhooks;

use serde::{Deserialize, Serialize};
use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgExecutor};

use crate::crypto::CryptoError;

/// A tenant. A distinct type so an account id cannot be passed where a store or channel id is
/// meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountId(pub i64);

impl AccountId {
    /// The account as a job's tenant (`EnqueueOptions::tenant`), so the queue's fetches take its
    /// jobs in turn with other accounts'.
    pub fn tenant(self) -> String {
        self.0.to_string()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// A uniqueness rule refused the write (a store name already used, ...); the text says which.
    #[error("{0}")]
    Conflict(String),
    /// The row names something that does not exist in the account (a channel's store).
    #[error("{0} not found")]
    MissingParent(&'static str),
    #[error("credentials: {0}")]
    Crypto(#[from] CryptoError),
    /// A stored value no longer reads as its type (a status this build does not know, a cursor
    /// of another format): a bug or a downgrade, never a caller's mistake.
    #[error("stored data does not decode: {0}")]
    Corrupt(String),
}

impl From<i64> for AccountId {
    fn from(id: i64) -> AccountId {
        AccountId(id)
    }
}

/// A row read across accounts, with the account and the store it belongs to: what the
/// operators' dashboard shows. Read from the row's columns and `account_id` and `store_name`.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct WithOwner<T> {
    #[sqlx(flatten)]
    pub row: T,
    #[sqlx(rename = "account_id", try_from = "i64")]
    pub account: AccountId,
    pub store_name: String,
}

/// The account of row `id`, which `sql` (a statement whose one parameter is the id) reads as
/// `account_id`; `None` when there is no such row. For the operators' dashboard, which acts on
/// a row of any account through the functions scoped to its own.
async fn owner_of(
    db: impl PgExecutor<'_>,
    sql: &str,
    id: i64,
) -> Result<Option<AccountId>, StoreError> {
    let account: Option<i64> = sqlx::query_scalar(sql).bind(id).fetch_optional(db).await?;
    Ok(account.map(AccountId))
}

/// SQLSTATE of a unique violation.
const UNIQUE_VIOLATION: &str = "23505";

/// True when `err` is a unique violation of the constraint `name`.
fn is_unique_violation(err: &sqlx::Error, name: &str) -> bool {
    err.as_database_error().is_some_and(|d| {
        d.code().as_deref() == Some(UNIQUE_VIOLATION) && d.constraint() == Some(name)
    })
}

/// The row the account's `id` picks with `sql` (a statement whose parameters are the account,
/// then the id); `None` when the account has no such row. Each aggregate writes its statement;
/// this only binds the two and reads the row.
async fn account_row<R>(
    db: impl PgExecutor<'_>,
    sql: &str,
    account: AccountId,
    id: i64,
) -> Result<Option<R>, StoreError>
where
    R: for<'r> FromRow<'r, PgRow> + Send + Unpin,
{
    Ok(sqlx::query_as(sql)
        .bind(account.0)
        .bind(id)
        .fetch_optional(db)
        .await?)
}

/// Runs `sql`, a `DELETE` of the account's row `id` (parameters: the account, then the id);
/// whether it removed one.
async fn delete_account_row(
    db: impl PgExecutor<'_>,
    sql: &str,
    account: AccountId,
    id: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(sql)
        .bind(account.0)
        .bind(id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Text of a serde enum's wire name (`"partially_shipped"`), for columns that store it.
fn enum_text<T: Serialize>(value: &T) -> Result<String, StoreError> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => Ok(s),
        Ok(other) => Err(StoreError::Corrupt(format!("not a unit enum: {other}"))),
        Err(e) => Err(StoreError::Corrupt(e.to_string())),
    }
}

/// Reads a serde enum back from its wire name.
fn enum_from_text<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|e| StoreError::Corrupt(format!("`{text}`: {e}")))
}
