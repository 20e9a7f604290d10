//! Hosted pages: single-use links on which a provider's customer connects a channel to a store.
//! A page is `open` until the customer connects a channel (`completed`, in the transaction that
//! creates the channel, with its `hosted_page.completed` event), the provider revokes it
//! (`revoked`), or it passes `expires_at` (answered as `expired`). The link's token is stored as
//! its SHA-256 only.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::types::Json;
use sqlx::PgPool;

use super::channels::{self, ChannelRow, NewChannel};
use super::events::Event;
use super::{enum_from_text, AccountId, StoreError};
use crate::crypto::CredentialsKey;
use crate::domain::accounting::AccountingKind;
use crate::domain::event_type::Action;
use crate::domain::hosted::{Branding, Inputs};
use crate::domain::{ChannelKind, ChannelSettings};

/// How long a customer has to finish a platform's authorization once they left the page.
pub const AUTHORIZATION_TTL: Duration = Duration::minutes(15);

/// Where a page stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PageStatus {
    /// The link works.
    Open,
    /// The customer connected a channel: `channel_id`.
    Completed,
    /// The provider revoked the link.
    Revoked,
    /// The link passed `expires_at` unused.
    Expired,
}

/// A hosted page as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = HostedPage)]
pub struct HostedPageRow {
    pub id: i64,
    #[serde(skip)]
    pub account_id: AccountId,
    pub store_id: i64,
    pub status: PageStatus,
    /// The channel kinds offered, in the page's order.
    pub channels: Vec<ChannelKind>,
    /// The accounting platforms offered, after the channels.
    pub accounting: Vec<AccountingKind>,
    pub branding: Branding,
    pub inputs: Inputs,
    /// Where the customer is sent once connected.
    pub return_url: Option<String>,
    pub expires_at: DateTime<Utc>,
    /// The channel the customer connected.
    pub channel_id: Option<i64>,
    /// Or the accounting connection.
    pub accounting_connection_id: Option<i64>,
    pub completed_at: Option<DateTime<Utc>>,
    /// Branding colours the page replaced because they would not be readable, and why.
    pub contrast_fallbacks: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Raw {
    id: i64,
    account_id: i64,
    store_id: i64,
    status: String,
    channels: Vec<String>,
    accounting: Vec<String>,
    branding: Json<Branding>,
    inputs: Json<Inputs>,
    return_url: Option<String>,
    expires_at: DateTime<Utc>,
    channel_id: Option<i64>,
    accounting_connection_id: Option<i64>,
    completed_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, account_id, store_id, status, channels, accounting, branding, inputs, \
     return_url, expires_at, channel_id, accounting_connection_id, completed_at, created_at, \
     updated_at";

impl TryFrom<Raw> for HostedPageRow {
    type Error = StoreError;

    fn try_from(r: Raw) -> Result<HostedPageRow, StoreError> {
        let mut status: PageStatus = enum_from_text(&r.status)?;
        if status == PageStatus::Open && r.expires_at <= Utc::now() {
            status = PageStatus::Expired;
        }
        let channels = r
            .channels
            .iter()
            .map(|k| enum_from_text(k))
            .collect::<Result<Vec<ChannelKind>, _>>()?;
        let accounting = r
            .accounting
            .iter()
            .map(|k| enum_from_text(k))
            .collect::<Result<Vec<AccountingKind>, _>>()?;
        Ok(HostedPageRow {
            contrast_fallbacks: r.branding.palette().replaced,
            id: r.id,
            account_id: AccountId(r.account_id),
            store_id: r.store_id,
            status,
            channels,
            accounting,
            branding: r.branding.0,
            inputs: r.inputs.0,
            return_url: r.return_url,
            expires_at: r.expires_at,
            channel_id: r.channel_id,
            accounting_connection_id: r.accounting_connection_id,
            completed_at: r.completed_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// What a new page is.
pub struct NewHostedPage<'a> {
    pub store_id: i64,
    pub channels: &'a [ChannelKind],
    pub accounting: &'a [AccountingKind],
    pub branding: &'a Branding,
    pub inputs: &'a Inputs,
    pub return_url: Option<&'a str>,
    pub expires_at: DateTime<Utc>,
}

/// Creates a page of the account's store; answers it and its link's token (shown this once).
/// `None` when the store is not the account's.
pub async fn create(
    pool: &PgPool,
    account: AccountId,
    new: &NewHostedPage<'_>,
) -> Result<Option<(HostedPageRow, String)>, StoreError> {
    let token = crate::crypto::random_token(32);
    let kinds: Vec<&str> = new.channels.iter().map(|k| k.as_str()).collect();
    let books: Vec<&str> = new.accounting.iter().map(|k| k.as_str()).collect();
    let raw: Option<Raw> = sqlx::query_as(&format!(
        "INSERT INTO hosted_pages (account_id, store_id, token_hash, channels, branding, inputs, \
         return_url, expires_at, accounting) \
         SELECT s.account_id, s.id, $3, $4, $5, $6, $7, $8, $9 FROM stores s \
         WHERE s.account_id = $1 AND s.id = $2 RETURNING {COLUMNS}"
    ))
    .bind(account.0)
    .bind(new.store_id)
    .bind(hash(&token))
    .bind(&kinds)
    .bind(Json(new.branding))
    .bind(Json(new.inputs))
    .bind(new.return_url)
    .bind(new.expires_at)
    .bind(&books)
    .fetch_optional(pool)
    .await?;
    raw.map(|r| Ok((HostedPageRow::try_from(r)?, token)))
        .transpose()
}

pub async fn get(
    pool: &PgPool,
    account: AccountId,
    id: i64,
) -> Result<Option<HostedPageRow>, StoreError> {
    let raw: Option<Raw> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM hosted_pages WHERE account_id = $1 AND id = $2"
    ))
    .bind(account.0)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    raw.map(HostedPageRow::try_from).transpose()
}

/// One page of the account's hosted pages by id, optionally of one store.
pub async fn list(
    pool: &PgPool,
    account: AccountId,
    store_id: Option<i64>,
    after: Option<i64>,
    limit: i64,
) -> Result<Vec<HostedPageRow>, StoreError> {
    let rows: Vec<Raw> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM hosted_pages \
         WHERE account_id = $1 AND ($2::bigint IS NULL OR store_id = $2) AND id > $3 \
         ORDER BY id LIMIT $4"
    ))
    .bind(account.0)
    .bind(store_id)
    .bind(after.unwrap_or(0))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(HostedPageRow::try_from).collect()
}

/// Revokes an open (or expired) page; answers the page as it now stands, or `None` when the
/// account has no such page. A completed page stays completed.
pub async fn revoke(
    pool: &PgPool,
    account: AccountId,
    id: i64,
) -> Result<Option<HostedPageRow>, StoreError> {
    sqlx::query(
        "UPDATE hosted_pages SET status = 'revoked', updated_at = now() \
         WHERE account_id = $1 AND id = $2 AND status = 'open'",
    )
    .bind(account.0)
    .bind(id)
    .execute(pool)
    .await?;
    get(pool, account, id).await
}

/// The page a link's token opens, whatever its status: the caller answers anything but
/// [`PageStatus::Open`] with why the link does not work.
pub async fn by_token(pool: &PgPool, token: &str) -> Result<Option<HostedPageRow>, StoreError> {
    let raw: Option<Raw> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM hosted_pages WHERE token_hash = $1"
    ))
    .bind(hash(token))
    .fetch_optional(pool)
    .await?;
    raw.map(HostedPageRow::try_from).transpose()
}

/// Page `id`, whoever's it is: for the accounting callback, which an authorization begun on
/// the page brought back.
pub async fn by_id(pool: &PgPool, id: i64) -> Result<Option<HostedPageRow>, StoreError> {
    let raw: Option<Raw> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM hosted_pages WHERE id = $1"))
            .bind(id)
            .fetch_optional(pool)
            .await?;
    raw.map(HostedPageRow::try_from).transpose()
}

/// Completes page `page_id` with the accounting connection its customer just authorized, with
/// the page's `hosted_page.completed` event.
pub async fn complete_with_accounting(
    pool: &PgPool,
    page_id: i64,
    connection_id: i64,
) -> Result<HostedPageRow, CompleteError> {
    let mut tx = pool.begin().await.map_err(StoreError::from)?;
    let raw: Option<Raw> = sqlx::query_as(&format!(
        "UPDATE hosted_pages SET status = 'completed', accounting_connection_id = $2, \
         completed_at = now(), updated_at = now() \
         WHERE id = $1 AND status = 'open' AND expires_at > now() RETURNING {COLUMNS}"
    ))
    .bind(page_id)
    .bind(connection_id)
    .fetch_optional(&mut *tx)
    .await
    .map_err(StoreError::from)?;
    let Some(raw) = raw else {
        return Err(CompleteError::NotOpen);
    };
    let page = HostedPageRow::try_from(raw)?;
    super::events::write_in_tx(&mut tx, &[Event::HostedPage(Action::Completed, &page)]).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(page)
}

/// Starts a platform authorization from open page `page_id`: answers the `state` to send
/// (random, single use, valid [`AUTHORIZATION_TTL`]).
pub async fn begin_authorization(
    pool: &PgPool,
    page_id: i64,
    kind: ChannelKind,
    base_url: &str,
    settings: &ChannelSettings,
) -> Result<String, StoreError> {
    let state = crate::crypto::random_token(32);
    sqlx::query(
        "INSERT INTO hosted_page_authorizations (state_hash, page_id, kind, base_url, settings, \
         expires_at) VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))",
    )
    .bind(hash(&state))
    .bind(page_id)
    .bind(kind.as_str())
    .bind(base_url)
    .bind(Json(settings.to_json()))
    .bind(AUTHORIZATION_TTL.num_seconds() as f64)
    .execute(pool)
    .await?;
    Ok(state)
}

/// An authorization the platform came back from, and the page it began on.
pub struct Authorization {
    pub page: HostedPageRow,
    pub kind: ChannelKind,
    pub base_url: String,
    pub settings: ChannelSettings,
}

#[derive(sqlx::FromRow)]
struct RawAuthorization {
    page_id: i64,
    kind: String,
    base_url: String,
    settings: Json<serde_json::Value>,
}

/// Spends the authorization `state` names, once: a second use, an expired or an unknown state
/// answers `None`. The page may have been completed, revoked or expired meanwhile; the caller
/// checks its status.
pub async fn take_authorization(
    pool: &PgPool,
    state: &str,
) -> Result<Option<Authorization>, StoreError> {
    let raw: Option<RawAuthorization> = sqlx::query_as(
        "UPDATE hosted_page_authorizations SET used_at = now() \
         WHERE state_hash = $1 AND used_at IS NULL AND expires_at > now() \
         RETURNING page_id, kind, base_url, settings",
    )
    .bind(hash(state))
    .fetch_optional(pool)
    .await?;
    let Some(raw) = raw else {
        return Ok(None);
    };
    let page: Option<Raw> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM hosted_pages WHERE id = $1"))
            .bind(raw.page_id)
            .fetch_optional(pool)
            .await?;
    let Some(page) = page else {
        return Ok(None);
    };
    let settings = ChannelSettings::from_json(&raw.settings.0)
        .map_err(|e| StoreError::Corrupt(format!("hosted page authorization settings: {e}")))?;
    Ok(Some(Authorization {
        page: HostedPageRow::try_from(page)?,
        kind: enum_from_text(&raw.kind)?,
        base_url: raw.base_url,
        settings,
    }))
}

/// Why a page could not be completed.
#[derive(Debug, thiserror::Error)]
pub enum CompleteError {
    /// Completed, revoked or expired since it was read.
    #[error("the link can no longer be used")]
    NotOpen,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Creates the customer's channel and completes page `page_id` in one transaction, with the
/// page's `hosted_page.completed` event: a link connects one channel, once, even when two
/// tabs finish at the same moment.
pub async fn complete(
    pool: &PgPool,
    key: &CredentialsKey,
    page_id: i64,
    new: &NewChannel<'_>,
) -> Result<(HostedPageRow, ChannelRow), CompleteError> {
    let mut tx = pool.begin().await.map_err(StoreError::from)?;
    let account: Option<i64> = sqlx::query_scalar(
        "SELECT account_id FROM hosted_pages \
         WHERE id = $1 AND status = 'open' AND expires_at > now() FOR UPDATE",
    )
    .bind(page_id)
    .fetch_optional(&mut *tx)
    .await
    .map_err(StoreError::from)?;
    let Some(account) = account else {
        return Err(CompleteError::NotOpen);
    };
    let channel = channels::create_in_tx(&mut tx, key, AccountId(account), new).await?;
    let raw: Raw = sqlx::query_as(&format!(
        "UPDATE hosted_pages SET status = 'completed', channel_id = $2, completed_at = now(), \
         updated_at = now() WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(page_id)
    .bind(channel.id)
    .fetch_one(&mut *tx)
    .await
    .map_err(StoreError::from)?;
    let page = HostedPageRow::try_from(raw)?;
    super::events::write_in_tx(&mut tx, &[Event::HostedPage(Action::Completed, &page)]).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok((page, channel))
}
