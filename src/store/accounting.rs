//! Accounting connections and the OAuth grants they hold.
//!
//! The client credentials and the tokens go in and out of this module only sealed with
//! [`CredentialsKey`]; no [`ConnectionRow`] carries them. Two rules keep a rotating refresh token
//! from ever being lost:
//!
//! - refreshes of one connection are serialised on its row (`SELECT ... FOR UPDATE`), and a
//!   caller that waited finds the token the first one stored and does not refresh again;
//! - the new tokens are committed before the access token is handed to anyone, so a crash after
//!   the platform rotated the grant can at worst lose an access token, never the refresh token.

use std::future::Future;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::types::Json;
use sqlx::PgPool;

use super::{account_row, delete_account_row, enum_from_text, enum_text, AccountId, StoreError};
use crate::crypto::CredentialsKey;
use crate::domain::accounting::{
    AccountingKind, AccountingSettings, ClientCredentials, ConnectionStatus, RefreshFailure, Tokens,
};
use crate::domain::Secret;

/// A connection as the API shows it (never its credentials or tokens).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = AccountingConnection, example = json!({
    "id": 3, "store_id": 12, "kind": "xero", "name": "Acme Outdoor Ltd",
    "base_url": null, "status": "connected", "status_reason": null,
    "organisation_id": "9c2ea1b5-7d0f-4c1a-9b8e-2f5d6a3c4e1b",
    "organisation_name": "Acme Outdoor Ltd",
    "settings": {"invoice_status": "draft", "sales_account_code": "200", "tax_type": null,
                 "create_missing_products": false},
    "created_at": "2026-12-05T10:16:02.482913Z", "updated_at": "2026-12-05T10:18:40.100230Z"
}))]
pub struct ConnectionRow {
    pub id: i64,
    #[serde(skip)]
    pub account_id: AccountId,
    /// The store whose invoices go to this organisation.
    pub store_id: i64,
    pub kind: AccountingKind,
    pub name: String,
    /// Where the platform is reached; null for the platform's own hosts.
    pub base_url: Option<String>,
    pub status: ConnectionStatus,
    /// Why the connection needs authorizing again, in the platform's words where it gave any.
    pub status_reason: Option<String>,
    /// The organisation the grant reaches: Xero's tenant id, Sage's business id.
    pub organisation_id: Option<String>,
    pub organisation_name: Option<String>,
    pub settings: AccountingSettings,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Raw {
    id: i64,
    account_id: i64,
    store_id: i64,
    kind: String,
    name: String,
    base_url: Option<String>,
    status: String,
    status_reason: Option<String>,
    organisation_id: Option<String>,
    organisation_name: Option<String>,
    settings: Json<serde_json::Value>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, account_id, store_id, kind, name, base_url, status, status_reason, \
     organisation_id, organisation_name, settings, created_at, updated_at";

impl TryFrom<Raw> for ConnectionRow {
    type Error = StoreError;

    fn try_from(r: Raw) -> Result<ConnectionRow, StoreError> {
        let settings = serde_json::from_value(r.settings.0).map_err(|e| {
            StoreError::Corrupt(format!("accounting connection {} settings: {e}", r.id))
        })?;
        Ok(ConnectionRow {
            id: r.id,
            account_id: AccountId(r.account_id),
            store_id: r.store_id,
            kind: enum_from_text(&r.kind)?,
            name: r.name,
            base_url: r.base_url,
            status: enum_from_text(&r.status)?,
            status_reason: r.status_reason,
            organisation_id: r.organisation_id,
            organisation_name: r.organisation_name,
            settings,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// What a new connection is made of.
pub struct NewConnection<'a> {
    pub store_id: i64,
    pub kind: AccountingKind,
    pub name: &'a str,
    pub base_url: Option<&'a str>,
    pub client: &'a ClientCredentials,
    pub settings: &'a AccountingSettings,
}

fn seal<T: Serialize>(key: &CredentialsKey, value: &T) -> Result<Vec<u8>, StoreError> {
    let plain = serde_json::to_vec(value)
        .map_err(|e| StoreError::Corrupt(format!("does not serialise: {e}")))?;
    Ok(key.seal(&plain)?)
}

fn open<T: serde::de::DeserializeOwned>(
    key: &CredentialsKey,
    sealed: &[u8],
) -> Result<T, StoreError> {
    let plain = key.open(sealed)?;
    serde_json::from_slice(&plain).map_err(|e| StoreError::Corrupt(format!("sealed value: {e}")))
}

pub async fn create(
    pool: &PgPool,
    key: &CredentialsKey,
    account: AccountId,
    new: &NewConnection<'_>,
) -> Result<ConnectionRow, StoreError> {
    let settings = serde_json::to_value(new.settings)
        .map_err(|e| StoreError::Corrupt(format!("settings do not serialise: {e}")))?;
    let raw: Option<Raw> = sqlx::query_as(&format!(
        "INSERT INTO accounting_connections \
         (account_id, store_id, kind, name, base_url, client_enc, settings) \
         SELECT s.account_id, s.id, $3, $4, $5, $6, $7 FROM stores s \
         WHERE s.account_id = $1 AND s.id = $2 \
         RETURNING {COLUMNS}"
    ))
    .bind(account.0)
    .bind(new.store_id)
    .bind(enum_text(&new.kind)?)
    .bind(new.name)
    .bind(new.base_url)
    .bind(seal(key, new.client)?)
    .bind(Json(settings))
    .fetch_optional(pool)
    .await?;
    raw.ok_or(StoreError::MissingParent("store"))?.try_into()
}

/// One page of the account's connections by id, optionally of one store.
pub async fn list(
    pool: &PgPool,
    account: AccountId,
    store_id: Option<i64>,
    after: Option<i64>,
    limit: i64,
) -> Result<Vec<ConnectionRow>, StoreError> {
    let rows: Vec<Raw> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM accounting_connections \
         WHERE account_id = $1 AND ($2::bigint IS NULL OR store_id = $2) AND id > $3 \
         ORDER BY id LIMIT $4"
    ))
    .bind(account.0)
    .bind(store_id)
    .bind(after.unwrap_or(0))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(ConnectionRow::try_from).collect()
}

pub async fn get(
    pool: &PgPool,
    account: AccountId,
    id: i64,
) -> Result<Option<ConnectionRow>, StoreError> {
    let sql =
        format!("SELECT {COLUMNS} FROM accounting_connections WHERE account_id = $1 AND id = $2");
    let raw: Option<Raw> = account_row(pool, &sql, account, id).await?;
    raw.map(ConnectionRow::try_from).transpose()
}

pub async fn delete(pool: &PgPool, account: AccountId, id: i64) -> Result<bool, StoreError> {
    let sql = "DELETE FROM accounting_connections WHERE account_id = $1 AND id = $2";
    delete_account_row(pool, sql, account, id).await
}

/// The connection's OAuth app, opened: for building the authorization redirect and for the
/// token calls.
pub async fn client(
    pool: &PgPool,
    key: &CredentialsKey,
    id: i64,
) -> Result<Option<ClientCredentials>, StoreError> {
    let sealed: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT client_enc FROM accounting_connections WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?;
    sealed.map(|s| open(key, &s)).transpose()
}

fn state_hash(state: &str) -> Vec<u8> {
    Sha256::digest(state.as_bytes()).to_vec()
}

/// How long a merchant has to complete the platform's authorization.
pub const AUTHORIZATION_TTL: Duration = Duration::minutes(15);

/// Starts an authorization of the account's connection `id`: answers the `state` to send to
/// the platform (random, single use, valid [`AUTHORIZATION_TTL`]); `None` when there is no such
/// connection.
pub async fn begin_authorization(
    pool: &PgPool,
    account: AccountId,
    id: i64,
    redirect_uri: &str,
) -> Result<Option<String>, StoreError> {
    begin_authorization_from(pool, account, id, redirect_uri, None).await
}

/// [`begin_authorization`] from hosted page `hosted_page`, which the callback completes.
pub async fn begin_authorization_from(
    pool: &PgPool,
    account: AccountId,
    id: i64,
    redirect_uri: &str,
    hosted_page: Option<i64>,
) -> Result<Option<String>, StoreError> {
    let state = crate::crypto::random_token(32);
    let done = sqlx::query(
        "INSERT INTO accounting_authorizations (state_hash, connection_id, redirect_uri, \
         expires_at, hosted_page_id) \
         SELECT $1, c.id, $3, now() + make_interval(secs => $4), $6 FROM accounting_connections c \
         WHERE c.account_id = $5 AND c.id = $2",
    )
    .bind(state_hash(&state))
    .bind(id)
    .bind(redirect_uri)
    .bind(AUTHORIZATION_TTL.num_seconds() as f64)
    .bind(account.0)
    .bind(hosted_page)
    .execute(pool)
    .await?;
    Ok((done.rows_affected() == 1).then_some(state))
}

/// An authorization the platform sent the merchant back from.
pub struct Authorization {
    pub connection: ConnectionRow,
    pub redirect_uri: String,
    pub client: ClientCredentials,
    /// The hosted page it began on, if any.
    pub hosted_page_id: Option<i64>,
}

/// Takes the authorization `state` names, once: a second use, an expired or an unknown state
/// answers `None`.
pub async fn take_authorization(
    pool: &PgPool,
    key: &CredentialsKey,
    state: &str,
) -> Result<Option<Authorization>, StoreError> {
    // The state is spent in the same statement that reads its connection.
    let taken: Option<Taken> = sqlx::query_as(&format!(
        "WITH taken AS (UPDATE accounting_authorizations SET used_at = now() \
         WHERE state_hash = $1 AND used_at IS NULL AND expires_at > now() \
         RETURNING connection_id, redirect_uri, hosted_page_id) \
         SELECT {COLUMNS}, client_enc, redirect_uri, hosted_page_id \
         FROM taken JOIN accounting_connections ON id = connection_id"
    ))
    .bind(state_hash(state))
    .fetch_optional(pool)
    .await?;
    taken
        .map(|t| {
            Ok(Authorization {
                client: open(key, &t.client_enc)?,
                connection: t.raw.try_into()?,
                redirect_uri: t.redirect_uri,
                hosted_page_id: t.hosted_page_id,
            })
        })
        .transpose()
}

#[derive(sqlx::FromRow)]
struct Taken {
    #[sqlx(flatten)]
    raw: Raw,
    client_enc: Vec<u8>,
    redirect_uri: String,
    hosted_page_id: Option<i64>,
}

/// Stores the tokens of a completed authorization and the organisation they reach: the
/// connection is `connected`.
pub async fn connect(
    pool: &PgPool,
    key: &CredentialsKey,
    id: i64,
    tokens: &Tokens,
    organisation_id: &str,
    organisation_name: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE accounting_connections SET tokens_enc = $2, access_expires_at = $3, \
         organisation_id = $4, organisation_name = $5, status = 'connected', \
         status_reason = NULL, updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(seal(key, tokens)?)
    .bind(tokens.access_expires_at)
    .bind(organisation_id)
    .bind(organisation_name)
    .execute(pool)
    .await?;
    Ok(())
}

/// Why a connection gave no access token.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// Not connected, or the platform refused the grant: the merchant must authorize again.
    #[error("the accounting connection needs authorizing again: {0}")]
    NeedsReauth(String),
    /// The refresh could not be done now (the platform did not answer, or answered 5xx).
    #[error("the access token could not be refreshed: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(sqlx::FromRow)]
struct Grant {
    status: String,
    status_reason: Option<String>,
    tokens_enc: Option<Vec<u8>>,
    client_enc: Vec<u8>,
}

impl Grant {
    fn usable(&self, key: &CredentialsKey) -> Result<Tokens, GrantError> {
        let status: ConnectionStatus = enum_from_text(&self.status)?;
        match (status, &self.tokens_enc) {
            (ConnectionStatus::Connected, Some(sealed)) => Ok(open(key, sealed)?),
            (ConnectionStatus::AwaitingAuthorization, _) | (_, None) => Err(
                GrantError::NeedsReauth("the connection has not been authorized yet".to_owned()),
            ),
            (ConnectionStatus::NeedsReauth, _) => Err(GrantError::NeedsReauth(
                self.status_reason
                    .clone()
                    .unwrap_or_else(|| "the platform refused the grant".to_owned()),
            )),
        }
    }
}

/// A working access token for connection `id`, refreshed first with `refresh` when it is within
/// [`crate::domain::accounting::REFRESH_AHEAD`] of expiry. Refreshes of one connection run one at
/// a time, and each stores the rotated tokens before the access token is used. A refresh the
/// platform refuses marks the connection `needs_reauth` with the platform's reason.
pub async fn access_token<F, Fut>(
    pool: &PgPool,
    key: &CredentialsKey,
    id: i64,
    refresh: F,
) -> Result<Secret, GrantError>
where
    F: FnOnce(ClientCredentials, Secret) -> Fut,
    Fut: Future<Output = Result<Tokens, RefreshFailure>>,
{
    const GRANT: &str = "SELECT status, status_reason, tokens_enc, client_enc \
                         FROM accounting_connections WHERE id = $1";
    // Most calls find a fresh token and take no lock.
    let grant: Grant = sqlx::query_as(GRANT)
        .bind(id)
        .fetch_optional(pool)
        .await
        .map_err(StoreError::from)?
        .ok_or(StoreError::MissingParent("accounting connection"))?;
    let tokens = grant.usable(key)?;
    if tokens.fresh_at(Utc::now()) {
        return Ok(tokens.access_token);
    }
    let mut tx = pool.begin().await.map_err(StoreError::from)?;
    let grant: Grant = sqlx::query_as(&format!("{GRANT} FOR UPDATE"))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::from)?
        .ok_or(StoreError::MissingParent("accounting connection"))?;
    let tokens = grant.usable(key)?;
    if tokens.fresh_at(Utc::now()) {
        // Another caller refreshed while this one waited for the row.
        return Ok(tokens.access_token);
    }
    let client: ClientCredentials = open(key, &grant.client_enc)?;
    match refresh(client, tokens.refresh_token).await {
        Ok(new) => {
            sqlx::query(
                "UPDATE accounting_connections SET tokens_enc = $2, access_expires_at = $3, \
                 updated_at = now() WHERE id = $1",
            )
            .bind(id)
            .bind(seal(key, &new)?)
            .bind(new.access_expires_at)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
            tx.commit().await.map_err(StoreError::from)?;
            Ok(new.access_token)
        }
        Err(RefreshFailure::Refused(reason)) => {
            sqlx::query(
                "UPDATE accounting_connections SET status = 'needs_reauth', status_reason = $2, \
                 updated_at = now() WHERE id = $1",
            )
            .bind(id)
            .bind(&reason)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
            tx.commit().await.map_err(StoreError::from)?;
            Err(GrantError::NeedsReauth(reason))
        }
        Err(RefreshFailure::Unavailable(why)) => Err(GrantError::Unavailable(why)),
    }
}
