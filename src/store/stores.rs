//! Stores: a brand or a customer of the account, grouping its channels.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

use super::{account_row, is_unique_violation, AccountId, StoreError};

/// A store: a brand or customer of the account, which groups its channels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = Store, example = json!({"id": 12, "name": "Acme Outdoor", "created_at": "2026-12-04T10:15:00.123456Z"}))]
pub struct StoreRow {
    pub id: i64,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// What deleting a store did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    Deleted,
    NotFound,
    /// The store still has channels: deleting it would delete them and their orders with it, so
    /// the caller must delete those first, on purpose.
    HasChannels,
}

fn duplicate(name: &str) -> StoreError {
    StoreError::Conflict(format!("the account already has a store named `{name}`"))
}

pub async fn create(pool: &PgPool, account: AccountId, name: &str) -> Result<StoreRow, StoreError> {
    sqlx::query_as(
        "INSERT INTO stores (account_id, name) VALUES ($1, $2) RETURNING id, name, created_at",
    )
    .bind(account.0)
    .bind(name)
    .fetch_one(pool)
    .await
    .map_err(
        |e| match is_unique_violation(&e, "stores_account_id_name_key") {
            true => duplicate(name),
            false => e.into(),
        },
    )
}

/// One page of the account's stores by id: those after `after`, at most `limit`.
pub async fn list(
    pool: &PgPool,
    account: AccountId,
    after: Option<i64>,
    limit: i64,
) -> Result<Vec<StoreRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, name, created_at FROM stores \
         WHERE account_id = $1 AND id > $2 ORDER BY id LIMIT $3",
    )
    .bind(account.0)
    .bind(after.unwrap_or(0))
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

pub async fn get(
    pool: &PgPool,
    account: AccountId,
    id: i64,
) -> Result<Option<StoreRow>, StoreError> {
    let sql = "SELECT id, name, created_at FROM stores WHERE account_id = $1 AND id = $2";
    account_row(pool, sql, account, id).await
}

pub async fn rename(
    pool: &PgPool,
    account: AccountId,
    id: i64,
    name: &str,
) -> Result<Option<StoreRow>, StoreError> {
    sqlx::query_as(
        "UPDATE stores SET name = $3 WHERE account_id = $1 AND id = $2 \
         RETURNING id, name, created_at",
    )
    .bind(account.0)
    .bind(id)
    .bind(name)
    .fetch_optional(pool)
    .await
    .map_err(
        |e| match is_unique_violation(&e, "stores_account_id_name_key") {
            true => duplicate(name),
            false => e.into(),
        },
    )
}

/// Deletes a store that has no channels left.
pub async fn delete(pool: &PgPool, account: AccountId, id: i64) -> Result<Deleted, StoreError> {
    // One statement: the store is deleted only if no channel references it, and the second
    // column tells a missing store from one that still has channels.
    let row: Option<(bool, bool)> = sqlx::query_as(
        "WITH target AS ( \
             SELECT id FROM stores WHERE account_id = $1 AND id = $2 \
         ), gone AS ( \
             DELETE FROM stores s USING target \
             WHERE s.id = target.id \
               AND NOT EXISTS (SELECT 1 FROM channels c WHERE c.store_id = target.id) \
             RETURNING s.id \
         ) \
         SELECT EXISTS (SELECT 1 FROM gone), EXISTS (SELECT 1 FROM target)",
    )
    .bind(account.0)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(match row {
        Some((true, _)) => Deleted::Deleted,
        Some((false, true)) => Deleted::HasChannels,
        _ => Deleted::NotFound,
    })
}
