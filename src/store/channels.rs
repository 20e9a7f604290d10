//! Sales channels: where a store sells, how to reach it, and its settings.
//!
//! Credentials go in and out of this module only sealed with [`CredentialsKey`]: the row holds
//! ciphertext, and no [`ChannelRow`] carries them, so an API response built from a row cannot
//! leak them. Only [`get_for_import`] and [`credentials`] open them, for the code that must call
//! the platform.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::types::Json;
use sqlx::PgPool;

use super::{
    account_row, delete_account_row, enum_from_text, enum_text, owner_of, AccountId, StoreError,
};
use crate::crypto::CredentialsKey;
use crate::domain::ChannelKind;
use crate::domain::{ChannelCredentials, ChannelSettings};

/// A channel as the API shows it and the import works with it (never its credentials).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = Channel, example = json!({
    "id": 7, "store_id": 12, "kind": "shopify", "name": "Acme Outdoor Shopify",
    "base_url": "https://acme-outdoor.myshopify.com",
    "settings": {
        "import_unpaid": false, "import_not_ready": false,
        "country_filter": {"mode": "deny", "countries": ["FR"]}, "sku_filter": null,
        "poll_interval_secs": 180, "stock_management": true, "download_products": true,
        "add_to_main_products": false, "auto_sync_stock": true, "stock_buffer": 2
    },
    "active": true,
    "created_at": "2026-12-04T10:16:02.482913Z", "updated_at": "2026-12-04T10:16:02.482913Z"
}))]
pub struct ChannelRow {
    pub id: i64,
    #[serde(skip)]
    pub account_id: AccountId,
    /// The store the channel sells for.
    pub store_id: i64,
    pub kind: ChannelKind,
    pub name: String,
    /// The shop's address, without a trailing `/`: the connector adds the platform's API path.
    pub base_url: String,
    pub settings: ChannelSettings,
    /// False: switchyard neither imports from the channel nor sends it stock, and its webhooks
    /// are verified but start nothing.
    pub active: bool,
    pub created_at: DateTime<Utc>,
    /// Moves with every change of the channel, its credentials included.
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Raw {
    id: i64,
    account_id: i64,
    store_id: i64,
    kind: String,
    name: String,
    base_url: String,
    settings: Json<serde_json::Value>,
    active: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "id, account_id, store_id, kind, name, base_url, settings, active, created_at, updated_at";

impl TryFrom<Raw> for ChannelRow {
    type Error = StoreError;

    fn try_from(r: Raw) -> Result<ChannelRow, StoreError> {
        let settings: ChannelSettings = serde_json::from_value(r.settings.0)
            .map_err(|e| StoreError::Corrupt(format!("channel {} settings: {e}", r.id)))?;
        Ok(ChannelRow {
            id: r.id,
            account_id: AccountId(r.account_id),
            store_id: r.store_id,
            kind: enum_from_text(&r.kind)?,
            name: r.name,
            base_url: r.base_url,
            settings,
            active: r.active,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// A channel to create. The credentials must be of `kind`'s shape (the API checks that).
#[derive(Debug)]
pub struct NewChannel<'a> {
    pub store_id: i64,
    pub name: &'a str,
    pub base_url: &'a str,
    pub credentials: &'a ChannelCredentials,
    pub settings: &'a ChannelSettings,
}

/// A partial update: `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct ChannelUpdate<'a> {
    pub name: Option<&'a str>,
    pub base_url: Option<&'a str>,
    pub credentials: Option<&'a ChannelCredentials>,
    pub settings: Option<&'a ChannelSettings>,
    pub active: Option<bool>,
}

/// A channel whose next scheduled import is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueChannel {
    pub channel_id: i64,
    pub account_id: AccountId,
    pub poll_interval_secs: u32,
}

/// What a worker needs to import from a channel.
#[derive(Debug, Clone)]
pub struct ImportChannel {
    pub channel: ChannelRow,
    pub credentials: ChannelCredentials,
}

fn seal(key: &CredentialsKey, credentials: &ChannelCredentials) -> Result<Vec<u8>, StoreError> {
    let plain = credentials
        .to_json_bytes()
        .map_err(|e| StoreError::Corrupt(format!("credentials do not serialise: {e}")))?;
    Ok(key.seal(&plain)?)
}

fn open(
    key: &CredentialsKey,
    kind: ChannelKind,
    sealed: &[u8],
) -> Result<ChannelCredentials, StoreError> {
    let plain = key.open(sealed)?;
    ChannelCredentials::from_json_bytes(kind, &plain)
        .map_err(|e| StoreError::Corrupt(format!("credentials do not decode: {e}")))
}

/// Creates a channel in one of the account's stores; `MissingParent("store")` when the store is
/// not the account's.
pub async fn create(
    pool: &PgPool,
    key: &CredentialsKey,
    account: AccountId,
    new: &NewChannel<'_>,
) -> Result<ChannelRow, StoreError> {
    let mut conn = pool.acquire().await?;
    create_in_tx(&mut conn, key, account, new).await
}

/// [`create`] in the caller's transaction.
pub async fn create_in_tx(
    conn: &mut sqlx::PgConnection,
    key: &CredentialsKey,
    account: AccountId,
    new: &NewChannel<'_>,
) -> Result<ChannelRow, StoreError> {
    let kind = enum_text(&new.credentials.kind())?;
    let sealed = seal(key, new.credentials)?;
    let raw: Option<Raw> = sqlx::query_as(&format!(
        "INSERT INTO channels (account_id, store_id, kind, name, base_url, credentials_enc, settings) \
         SELECT s.account_id, s.id, $3, $4, $5, $6, $7 FROM stores s \
         WHERE s.account_id = $1 AND s.id = $2 \
         RETURNING {COLUMNS}"
    ))
    .bind(account.0)
    .bind(new.store_id)
    .bind(kind)
    .bind(new.name)
    .bind(new.base_url)
    .bind(sealed)
    .bind(Json(new.settings.to_json()))
    .fetch_optional(&mut *conn)
    .await?;
    raw.ok_or(StoreError::MissingParent("store"))?.try_into()
}

/// One page of the account's channels by id, optionally of one store.
pub async fn list(
    pool: &PgPool,
    account: AccountId,
    store_id: Option<i64>,
    after: Option<i64>,
    limit: i64,
) -> Result<Vec<ChannelRow>, StoreError> {
    let rows: Vec<Raw> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM channels \
         WHERE account_id = $1 AND ($2::bigint IS NULL OR store_id = $2) AND id > $3 \
         ORDER BY id LIMIT $4"
    ))
    .bind(account.0)
    .bind(store_id)
    .bind(after.unwrap_or(0))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(ChannelRow::try_from).collect()
}

pub async fn get(
    pool: &PgPool,
    account: AccountId,
    id: i64,
) -> Result<Option<ChannelRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM channels WHERE account_id = $1 AND id = $2");
    let raw: Option<Raw> = account_row(pool, &sql, account, id).await?;
    raw.map(ChannelRow::try_from).transpose()
}

/// The account's channel's credentials, opened: for re-checking them against the platform when
/// only the base URL changes.
pub async fn credentials(
    pool: &PgPool,
    key: &CredentialsKey,
    account: AccountId,
    id: i64,
) -> Result<Option<ChannelCredentials>, StoreError> {
    let row: Option<(String, Vec<u8>)> = sqlx::query_as(
        "SELECT kind, credentials_enc FROM channels WHERE account_id = $1 AND id = $2",
    )
    .bind(account.0)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    row.map(|(kind, sealed)| open(key, enum_from_text(&kind)?, &sealed))
        .transpose()
}

/// Applies a partial update; `None` when the account has no such channel. Credentials, when
/// given, must be of the channel's kind (the API checks that).
pub async fn update(
    pool: &PgPool,
    key: &CredentialsKey,
    account: AccountId,
    id: i64,
    update: &ChannelUpdate<'_>,
) -> Result<Option<ChannelRow>, StoreError> {
    let sealed = update.credentials.map(|c| seal(key, c)).transpose()?;
    let raw: Option<Raw> = sqlx::query_as(&format!(
        "UPDATE channels SET \
             name = COALESCE($3, name), \
             base_url = COALESCE($4, base_url), \
             credentials_enc = COALESCE($5, credentials_enc), \
             settings = COALESCE($6, settings), \
             active = COALESCE($7, active), \
             updated_at = now() \
         WHERE account_id = $1 AND id = $2 \
         RETURNING {COLUMNS}"
    ))
    .bind(account.0)
    .bind(id)
    .bind(update.name)
    .bind(update.base_url)
    .bind(sealed)
    .bind(update.settings.map(|s| Json(s.to_json())))
    .bind(update.active)
    .fetch_optional(pool)
    .await?;
    raw.map(ChannelRow::try_from).transpose()
}

/// Deletes a channel and, with it, its orders and import state.
pub async fn delete(pool: &PgPool, account: AccountId, id: i64) -> Result<bool, StoreError> {
    let sql = "DELETE FROM channels WHERE account_id = $1 AND id = $2";
    delete_account_row(pool, sql, account, id).await
}

/// Records the webhook subscriptions made on the platform for channel `id`.
pub async fn set_webhook_subscriptions(
    pool: &PgPool,
    id: i64,
    subscriptions: &[String],
) -> Result<(), StoreError> {
    sqlx::query("UPDATE channels SET webhook_subscriptions = $2 WHERE id = $1")
        .bind(id)
        .bind(subscriptions)
        .execute(pool)
        .await?;
    Ok(())
}

/// The webhook subscriptions recorded for the account's channel `id` (none when it has none or
/// there is no such channel).
pub async fn webhook_subscriptions(
    pool: &PgPool,
    account: AccountId,
    id: i64,
) -> Result<Vec<String>, StoreError> {
    let row: Option<(Vec<String>,)> = sqlx::query_as(
        "SELECT webhook_subscriptions FROM channels WHERE account_id = $1 AND id = $2",
    )
    .bind(account.0)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(s,)| s).unwrap_or_default())
}

/// Whether the account has channel `id`: what a listing of the channel's rows checks first, so
/// another account's channel answers `None`, not an empty page.
pub(super) async fn is_accounts(
    db: impl sqlx::PgExecutor<'_>,
    account: AccountId,
    id: i64,
) -> Result<bool, StoreError> {
    let sql = "SELECT id FROM channels WHERE account_id = $1 AND id = $2";
    let row: Option<(i64,)> = account_row(db, sql, account, id).await?;
    Ok(row.is_some())
}

/// The account channel `id` belongs to (see [`super::owner_of`]).
pub async fn account_of(pool: &PgPool, id: i64) -> Result<Option<AccountId>, StoreError> {
    owner_of(pool, "SELECT account_id FROM channels WHERE id = $1", id).await
}

/// Active channels whose last import run is older than their poll interval (or that never ran),
/// oldest first: what the import timer enqueues.
pub async fn active_channels_due(pool: &PgPool) -> Result<Vec<DueChannel>, StoreError> {
    let rows: Vec<(i64, i64, i32)> = sqlx::query_as(
        "SELECT c.id, c.account_id, \
                COALESCE((c.settings->>'poll_interval_secs')::int, $1) AS poll \
         FROM channels c \
         LEFT JOIN channel_import_state s ON s.channel_id = c.id \
         WHERE c.active \
           AND (s.last_run_at IS NULL \
                OR s.last_run_at + make_interval( \
                       secs => COALESCE((c.settings->>'poll_interval_secs')::int, $1)) <= now()) \
         ORDER BY s.last_run_at NULLS FIRST, c.id",
    )
    .bind(crate::domain::settings::DEFAULT_POLL_INTERVAL_SECS as i32)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(channel_id, account_id, poll)| DueChannel {
            channel_id,
            account_id: AccountId(account_id),
            poll_interval_secs: u32::try_from(poll).unwrap_or_default(),
        })
        .collect())
}

/// A channel and its opened credentials, by id alone: for workers, which hold a channel id from
/// a job rather than an account's request. `None` when the channel no longer exists.
pub async fn get_for_import(
    pool: &PgPool,
    key: &CredentialsKey,
    channel_id: i64,
) -> Result<Option<ImportChannel>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct WithSecret {
        #[sqlx(flatten)]
        raw: Raw,
        credentials_enc: Vec<u8>,
    }
    let row: Option<WithSecret> = sqlx::query_as(&format!(
        "SELECT {COLUMNS}, credentials_enc FROM channels WHERE id = $1"
    ))
    .bind(channel_id)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let channel = ChannelRow::try_from(row.raw)?;
    let credentials = open(key, channel.kind, &row.credentials_enc)?;
    Ok(Some(ImportChannel {
        channel,
        credentials,
    }))
}

/// Of `ids`, the active channels whose settings ask for stock to be pushed automatically
/// (stock management and auto sync stock both on): the channels a stock change is sent to.
pub async fn auto_sync_targets(
    conn: &mut sqlx::PgConnection,
    ids: &[i64],
) -> Result<Vec<i64>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(sqlx::query_scalar(
        "SELECT id FROM channels \
         WHERE id = ANY($1) AND active \
           AND COALESCE((settings->>'stock_management')::boolean, false) \
           AND COALESCE((settings->>'auto_sync_stock')::boolean, false) \
         ORDER BY id",
    )
    .bind(ids)
    .fetch_all(conn)
    .await?)
}

/// A stock-managed channel's reconcile interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconcileChannel {
    pub channel_id: i64,
    pub account_id: AccountId,
    pub interval_secs: u32,
}

/// Active channels with stock management on and a reconcile interval (not 0): what the stock
/// reconcile timer visits. A channel stored before the setting existed takes its default.
pub async fn stock_reconcile_channels(pool: &PgPool) -> Result<Vec<ReconcileChannel>, StoreError> {
    let rows: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT id, account_id, secs FROM ( \
             SELECT id, account_id, COALESCE((settings->>'stock_reconcile_interval_secs')::bigint, $1) \
                        AS secs \
             FROM channels \
             WHERE active AND COALESCE((settings->>'stock_management')::boolean, false)) c \
         WHERE secs > 0 ORDER BY id",
    )
    .bind(i64::from(
        crate::domain::settings::DEFAULT_STOCK_RECONCILE_INTERVAL_SECS,
    ))
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(channel_id, account_id, interval)| ReconcileChannel {
            channel_id,
            account_id: AccountId(account_id),
            interval_secs: u32::try_from(interval).unwrap_or(u32::MAX),
        })
        .collect())
}

/// Active channels that download their products: what the product import timer visits.
pub async fn product_download_channels(pool: &PgPool) -> Result<Vec<i64>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM channels \
         WHERE active AND COALESCE((settings->>'download_products')::boolean, false) \
         ORDER BY id",
    )
    .fetch_all(pool)
    .await?)
}
