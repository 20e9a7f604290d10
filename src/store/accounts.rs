//! Accounts (tenants) and their API tokens.
//!
//! A token is shown once, when it is made, and stored only as its SHA-256: a leaked dump cannot
//! be replayed against the API. Tokens are 32 random bytes, so a plain hash (no salt, no slow
//! KDF) is enough: there is no dictionary to guess from, and lookup stays one indexed read.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};

use super::{AccountId, StoreError};

/// What every token starts with, so secret scanners and people recognise one.
pub const TOKEN_PREFIX: &str = "sy_";
/// Characters of a token kept in clear for display (`sy_AbCdEf…`).
const DISPLAY_LEN: usize = 10;

/// A token just made: `token` is the only copy of the secret there will ever be.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = NewApiToken)]
pub struct NewToken {
    pub id: i64,
    /// The token itself, `sy_` and 43 URL-safe base64 characters: answered this once only, and
    /// sent as `Authorization: Bearer <token>`.
    pub token: String,
    /// The token's first 10 characters, kept in clear to tell tokens apart.
    pub prefix: String,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Creates an account and its first token in one transaction, so there is never an account no
/// one can reach.
pub async fn create_account(
    pool: &PgPool,
    name: &str,
    token_name: &str,
) -> Result<(AccountId, NewToken), StoreError> {
    let mut tx = pool.begin().await?;
    let id: i64 = sqlx::query_scalar("INSERT INTO accounts (name) VALUES ($1) RETURNING id")
        .bind(name)
        .fetch_one(&mut *tx)
        .await?;
    let account = AccountId(id);
    let token = insert_token(&mut tx, account, token_name).await?;
    tx.commit().await?;
    Ok((account, token))
}

/// Adds a token to an account (for rotation: make a new one, switch, revoke the old).
pub async fn create_token(
    pool: &PgPool,
    account: AccountId,
    name: &str,
) -> Result<NewToken, StoreError> {
    let mut conn = pool.acquire().await?;
    insert_token(&mut conn, account, name).await
}

async fn insert_token(
    conn: &mut PgConnection,
    account: AccountId,
    name: &str,
) -> Result<NewToken, StoreError> {
    let token = generate();
    let prefix: String = token.chars().take(DISPLAY_LEN).collect();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO api_tokens (account_id, name, token_hash, prefix) \
         VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(account.0)
    .bind(name)
    .bind(hash(&token))
    .bind(&prefix)
    .fetch_one(conn)
    .await?;
    Ok(NewToken { id, token, prefix })
}

/// The account a presented token belongs to, if it is a live token. Notes the use, at most once
/// a minute per token, so a busy client does not turn every read into a write.
pub async fn authenticate(pool: &PgPool, token: &str) -> Result<Option<AccountId>, StoreError> {
    if !token.starts_with(TOKEN_PREFIX) {
        return Ok(None);
    }
    let account: Option<i64> = sqlx::query_scalar(
        "WITH found AS ( \
             SELECT id, account_id, last_used_at FROM api_tokens \
             WHERE token_hash = $1 AND revoked_at IS NULL \
         ), touched AS ( \
             UPDATE api_tokens t SET last_used_at = now() FROM found \
             WHERE t.id = found.id \
               AND (found.last_used_at IS NULL \
                    OR found.last_used_at < now() - interval '1 minute') \
         ) \
         SELECT account_id FROM found",
    )
    .bind(hash(token))
    .fetch_optional(pool)
    .await?;
    Ok(account.map(AccountId))
}

/// Revokes one of the account's tokens; false when it has no such live token.
pub async fn revoke_token(
    pool: &PgPool,
    account: AccountId,
    token_id: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE api_tokens SET revoked_at = now() \
         WHERE id = $1 AND account_id = $2 AND revoked_at IS NULL",
    )
    .bind(token_id)
    .bind(account.0)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The account's tokens, without their secrets.
pub async fn list_tokens(pool: &PgPool, account: AccountId) -> Result<Vec<TokenInfo>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, name, prefix, created_at, last_used_at, revoked_at \
         FROM api_tokens WHERE account_id = $1 ORDER BY id",
    )
    .bind(account.0)
    .fetch_all(pool)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_random_and_url_safe() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert!(a.starts_with("sy_"));
        assert_eq!(a.len(), 3 + 43, "32 bytes of base64url without padding");
        assert!(a[3..]
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_eq!(hash(&a).len(), 32);
        assert_ne!(hash(&a), hash(&b));
    }
}
