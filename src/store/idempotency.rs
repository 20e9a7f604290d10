//! Saved answers for `Idempotency-Key` (see `api::idempotency`): claim a key before running the
//! request, save the answer after, replay it on a retry.
//!
//! An answer may show a secret once (a new API token, a webhook's signing secret), so its body
//! goes in and out of the table only sealed with the [`CredentialsKey`], as channel credentials
//! do: a dump or a backup of the database hands out no live credential.

use std::time::Duration;

use sqlx::PgPool;

use super::StoreError;
use crate::crypto::CredentialsKey;

/// Expired keys each claim deletes: more than one, so deletion outpaces creation.
const PURGE_PER_CLAIM: i64 = 16;

/// A key's row when it was already taken, its body opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    pub request_hash: Vec<u8>,
    /// `None` while the first request is still running.
    pub status: Option<i16>,
    pub content_type: Option<String>,
    pub body: Option<Vec<u8>>,
}

#[derive(sqlx::FromRow)]
struct SavedRow {
    request_hash: Vec<u8>,
    status: Option<i16>,
    content_type: Option<String>,
    sealed_body: Option<Vec<u8>>,
}

impl SavedRow {
    fn open(self, sealer: &CredentialsKey) -> Result<Saved, StoreError> {
        Ok(Saved {
            request_hash: self.request_hash,
            status: self.status,
            content_type: self.content_type,
            body: self.sealed_body.map(|b| sealer.open(&b)).transpose()?,
        })
    }
}

/// What claiming a key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is this request's: run it, then [`save`] or [`release`].
    Claimed,
    /// Another request took the key first.
    Taken(Saved),
}

/// Claims `key` in `scope` for a request hashing to `request_hash`. A saved answer older than
/// `ttl`, and a claim older than `abandoned_after` that never saved one (its process died), are
/// dropped first, so the key can be used again. A taken key's answer is opened with `sealer`.
pub async fn claim(
    pool: &PgPool,
    sealer: &CredentialsKey,
    scope: &str,
    key: &str,
    request_hash: &[u8],
    ttl: Duration,
    abandoned_after: Duration,
) -> Result<Claim, StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 \
           AND (created_at < now() - make_interval(secs => $3) \
                OR (status IS NULL AND created_at < now() - make_interval(secs => $4)))",
    )
    .bind(scope)
    .bind(key)
    .bind(ttl.as_secs_f64())
    .bind(abandoned_after.as_secs_f64())
    .execute(&mut *tx)
    .await?;
    // Every claim also clears a few expired keys of anyone's, oldest first, so the table stays
    // as small as a day's keys without a sweeper of its own.
    sqlx::query(
        "DELETE FROM idempotency_keys WHERE ctid IN ( \
             SELECT ctid FROM idempotency_keys \
             WHERE created_at < now() - make_interval(secs => $1) \
             ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
    )
    .bind(ttl.as_secs_f64())
    .bind(PURGE_PER_CLAIM)
    .execute(&mut *tx)
    .await?;
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (scope, key, request_hash) VALUES ($1, $2, $3) \
         ON CONFLICT (scope, key) DO NOTHING",
    )
    .bind(scope)
    .bind(key)
    .bind(request_hash)
    .execute(&mut *tx)
    .await?;
    let claim = if inserted.rows_affected() == 1 {
        Claim::Claimed
    } else {
        let saved: SavedRow = sqlx::query_as(
            "SELECT request_hash, status, content_type, sealed_body FROM idempotency_keys \
             WHERE scope = $1 AND key = $2",
        )
        .bind(scope)
        .bind(key)
        .fetch_one(&mut *tx)
        .await?;
        Claim::Taken(saved.open(sealer)?)
    };
    tx.commit().await?;
    Ok(claim)
}

/// Saves the answer to a claimed key, its body sealed with `sealer`.
pub async fn save(
    pool: &PgPool,
    sealer: &CredentialsKey,
    scope: &str,
    key: &str,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<(), StoreError> {
    let status = i16::try_from(status)
        .map_err(|_| StoreError::Corrupt(format!("status {status} out of range")))?;
    let sealed = sealer.seal(body)?;
    sqlx::query(
        "UPDATE idempotency_keys SET status = $3, content_type = $4, sealed_body = $5 \
         WHERE scope = $1 AND key = $2",
    )
    .bind(scope)
    .bind(key)
    .bind(status)
    .bind(content_type)
    .bind(sealed)
    .execute(pool)
    .await?;
    Ok(())
}

/// Gives a claimed key up without an answer (the request failed in a way a retry may fix).
pub async fn release(pool: &PgPool, scope: &str, key: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND status IS NULL")
        .bind(scope)
        .bind(key)
        .execute(pool)
        .await?;
    Ok(())
}
