//! Fulfilment-centre plugins: where a store's orders are sent, the secret they are signed with,
//! and the token a plugin calls back with.
//!
//! Both secrets are shown once, when the plugin is made. The signing secret must be read again
//! (every order sent is signed with it), so it is sealed with the credentials key like channel
//! credentials; the callback token need only be recognised, so only its SHA-256 is kept, like
//! API tokens. No [`PluginRow`] carries either.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use super::{account_row, delete_account_row, AccountId, StoreError, WithOwner};
use crate::crypto::CredentialsKey;
use crate::domain::event_type::{Action, Entity, EventType};
use crate::domain::OrderStatus;
use crate::error::FieldError;
use crate::store::channel_products;
use crate::store::stock::{self, StockError};

/// What every callback token starts with, so people and secret scanners tell it from an API
/// token.
pub const CALLBACK_TOKEN_PREFIX: &str = "syp_";
/// What a Standard Webhooks signing secret starts with.
pub const SECRET_PREFIX: &str = "whsec_";
/// Characters of a callback token kept in clear for display.
const DISPLAY_LEN: usize = 12;

/// A plugin as the API shows it (never its secrets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = Plugin, example = json!({
    "id": 1, "store_id": 1, "kind": "http", "name": "Northfield Fulfilment",
    "endpoint_url": "https://fc.example.com/switchyard/orders", "callback_prefix": "syp_AyCr5XXv",
    "active": true,
    "created_at": "2026-12-04T22:34:14.422883Z", "updated_at": "2026-12-04T22:34:14.422883Z"
}))]
pub struct PluginRow {
    pub id: i64,
    pub store_id: i64,
    /// How orders reach the plugin; see [`kind_schema`].
    #[schema(schema_with = kind_schema)]
    pub kind: String,
    pub name: String,
    /// Where the plugin's orders are POSTed, signed with its signing secret.
    pub endpoint_url: String,
    /// The callback token's first characters, to tell tokens apart.
    pub callback_prefix: String,
    /// Off: no order is sent to it, rules routing to it are skipped, and its callback token
    /// opens nothing.
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "id, store_id, kind, name, endpoint_url, callback_prefix, active, created_at, updated_at";

/// [`PluginRow::kind`]: the kinds the table's CHECK constraint allows.
fn kind_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .description(Some(
            "How orders reach the plugin: `http`, POSTed to `endpoint_url`.",
        ))
        .enum_values(Some(["http"]))
        .build()
}

/// A plugin just made, with the only copies of its secrets there will ever be.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = CreatedPlugin, example = json!({
    "id": 1, "store_id": 1, "kind": "http", "name": "Northfield Fulfilment",
    "endpoint_url": "https://fc.example.com/switchyard/orders", "callback_prefix": "syp_AyCr5XXv",
    "active": true,
    "created_at": "2026-12-04T22:34:14.422883Z", "updated_at": "2026-12-04T22:34:14.422883Z",
    "signing_secret": "whsec_8VrEttbvM2ynXc5NoMN9X1IIQXr9DQOBLYywvPxjNsI=",
    "callback_token": "syp_AyCr5XXvdplAti6S16TIfpjhLevoZwMLwNEuB1Sx46M"
}))]
pub struct NewPluginSecrets {
    #[serde(flatten)]
    pub plugin: PluginRow,
    /// `whsec_<base64>`: the Standard Webhooks secret every order sent to the plugin is signed
    /// with. Answered only here, never again.
    pub signing_secret: String,
    /// `syp_...`: the bearer token the plugin calls `/v1/plugin-callbacks/...` with. Answered only
    /// here, never again; only its hash is kept.
    pub callback_token: String,
}

/// A plugin to create.
#[derive(Debug)]
pub struct NewPlugin<'a> {
    pub store_id: i64,
    pub name: &'a str,
    pub endpoint_url: &'a str,
    pub active: bool,
}

/// A partial update: `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct PluginUpdate<'a> {
    pub name: Option<&'a str>,
    pub endpoint_url: Option<&'a str>,
    pub active: Option<bool>,
}

/// The plugin a callback token belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallbackCaller {
    pub plugin_id: i64,
    pub account: AccountId,
    pub store_id: i64,
}

/// What the run-plugin worker needs to send an order: where, and the opened signing secret.
#[derive(Debug, Clone)]
pub struct PluginForRun {
    pub plugin: PluginRow,
    pub signing_secret: String,
}

fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// A fresh `whsec_<base64 of 32 random bytes>`, the Standard Webhooks secret format.
fn generate_secret() -> String {
    format!("{SECRET_PREFIX}{}", STANDARD.encode(random_bytes::<32>()))
}

fn generate_token() -> String {
    format!(
        "{CALLBACK_TOKEN_PREFIX}{}",
        URL_SAFE_NO_PAD.encode(random_bytes::<32>())
    )
}

/// Creates a plugin in one of the account's stores; `MissingParent("store")` when the store is
/// not the account's.
pub async fn create(
    pool: &PgPool,
    key: &CredentialsKey,
    account: AccountId,
    new: &NewPlugin<'_>,
) -> Result<NewPluginSecrets, StoreError> {
    let signing_secret = generate_secret();
    let callback_token = generate_token();
    let prefix: String = callback_token.chars().take(DISPLAY_LEN).collect();
    let sealed = key.seal(signing_secret.as_bytes())?;
    let plugin: Option<PluginRow> = sqlx::query_as(&format!(
        "INSERT INTO plugins (account_id, store_id, kind, name, endpoint_url, \
             signing_secret_enc, callback_token_hash, callback_prefix, active) \
         SELECT s.account_id, s.id, 'http', $3, $4, $5, $6, $7, $8 FROM stores s \
         WHERE s.account_id = $1 AND s.id = $2 \
         RETURNING {COLUMNS}"
    ))
    .bind(account.0)
    .bind(new.store_id)
    .bind(new.name)
    .bind(new.endpoint_url)
    .bind(sealed)
    .bind(token_hash(&callback_token))
    .bind(&prefix)
    .bind(new.active)
    .fetch_optional(pool)
    .await?;
    Ok(NewPluginSecrets {
        plugin: plugin.ok_or(StoreError::MissingParent("store"))?,
        signing_secret,
        callback_token,
    })
}

/// One page of a store's plugins by id; `None` when the store is not the account's.
pub async fn list(
    pool: &PgPool,
    account: AccountId,
    store_id: i64,
    after: Option<i64>,
    limit: i64,
) -> Result<Option<Vec<PluginRow>>, StoreError> {
    if super::stores::get(pool, account, store_id).await?.is_none() {
        return Ok(None);
    }
    Ok(Some(
        sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM plugins \
             WHERE account_id = $1 AND store_id = $2 AND id > $3 ORDER BY id LIMIT $4"
        ))
        .bind(account.0)
        .bind(store_id)
        .bind(after.unwrap_or(0))
        .bind(limit)
        .fetch_all(pool)
        .await?,
    ))
}

pub async fn get(
    pool: &PgPool,
    account: AccountId,
    id: i64,
) -> Result<Option<PluginRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM plugins WHERE account_id = $1 AND id = $2");
    account_row(pool, &sql, account, id).await
}

/// Applies a partial update; `None` when the account has no such plugin.
pub async fn update(
    pool: &PgPool,
    account: AccountId,
    id: i64,
    update: &PluginUpdate<'_>,
) -> Result<Option<PluginRow>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "UPDATE plugins SET \
             name = COALESCE($3, name), \
             endpoint_url = COALESCE($4, endpoint_url), \
             active = COALESCE($5, active), \
             updated_at = now() \
         WHERE account_id = $1 AND id = $2 \
         RETURNING {COLUMNS}"
    ))
    .bind(account.0)
    .bind(id)
    .bind(update.name)
    .bind(update.endpoint_url)
    .bind(update.active)
    .fetch_optional(pool)
    .await?)
}

/// What deleting a plugin did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deleted {
    Deleted,
    NotFound,
    /// Rules still route to it: deleting it would leave them routing nowhere.
    HasRules(Vec<i64>),
}

/// Deletes a plugin. Orders it was given keep their history but no longer name it.
pub async fn delete(pool: &PgPool, account: AccountId, id: i64) -> Result<Deleted, StoreError> {
    let mut tx = pool.begin().await?;
    let rules: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM plugin_rules WHERE account_id = $1 AND plugin_id = $2 ORDER BY id",
    )
    .bind(account.0)
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    if !rules.is_empty() {
        return Ok(Deleted::HasRules(rules));
    }
    let sql = "DELETE FROM plugins WHERE account_id = $1 AND id = $2";
    let deleted = delete_account_row(&mut *tx, sql, account, id).await?;
    tx.commit().await?;
    Ok(match deleted {
        true => Deleted::Deleted,
        false => Deleted::NotFound,
    })
}

/// The active plugin a callback token belongs to. A disabled plugin's token opens nothing, so
/// disabling a plugin is also how a leaked token is shut off at once.
pub async fn authenticate(
    pool: &PgPool,
    token: &str,
) -> Result<Option<CallbackCaller>, StoreError> {
    if !token.starts_with(CALLBACK_TOKEN_PREFIX) {
        return Ok(None);
    }
    let row: Option<(i64, i64, i64)> = sqlx::query_as(
        "SELECT id, account_id, store_id FROM plugins \
         WHERE callback_token_hash = $1 AND active",
    )
    .bind(token_hash(token))
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(plugin_id, account, store_id)| CallbackCaller {
        plugin_id,
        account: AccountId(account),
        store_id,
    }))
}

/// A plugin and its opened signing secret, by id alone: for the run-plugin worker, which holds
/// a plugin id from a job. `None` when the plugin no longer exists.
pub async fn get_for_run(
    pool: &PgPool,
    key: &CredentialsKey,
    plugin_id: i64,
) -> Result<Option<PluginForRun>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct WithSecret {
        #[sqlx(flatten)]
        plugin: PluginRow,
        signing_secret_enc: Vec<u8>,
    }
    let row: Option<WithSecret> = sqlx::query_as(&format!(
        "SELECT {COLUMNS}, signing_secret_enc FROM plugins WHERE id = $1"
    ))
    .bind(plugin_id)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let secret = key.open_text(&row.signing_secret_enc)?;
    Ok(Some(PluginForRun {
        plugin: row.plugin,
        signing_secret: secret,
    }))
}

/// An order as the run-plugin worker sends it to its plugin (docs/plugin-protocol.md).
#[derive(Debug, Clone)]
pub struct PluginDelivery {
    pub plugin: PluginForRun,
    /// `order.created` the first time, `order.updated` once the plugin has answered with its
    /// reference (it takes a resend as an update of the same order).
    pub event: &'static str,
    /// The request body: `{"type", "plugin_id", "order": <unified order>}`.
    pub body: serde_json::Value,
}

/// The message a plugin gets when an order it booked is cancelled or refunded on its channel.
pub const ORDER_CANCELLED: &str = "order.cancelled";

/// What to send for a `RunPlugin { plugin_id, order_id }` job: the plugin (with its opened
/// secret) and the order as it is now. `None` when either is gone, or the order is no longer
/// routed to that plugin or is held or excluded since the send was queued, which a job then
/// treats as done.
pub async fn delivery_for_run(
    pool: &PgPool,
    key: &CredentialsKey,
    plugin_id: i64,
    order_id: i64,
) -> Result<Option<PluginDelivery>, StoreError> {
    let routed: Option<(i64, Option<String>)> = sqlx::query_as(
        "SELECT account_id, plugin_reference FROM orders WHERE id = $1 AND plugin_id = $2 \
           AND sync_status NOT IN ('on_hold', 'excluded')",
    )
    .bind(order_id)
    .bind(plugin_id)
    .fetch_optional(pool)
    .await?;
    let Some((account, reference)) = routed else {
        return Ok(None);
    };
    let (Some(plugin), Some(order)) = (
        get_for_run(pool, key, plugin_id).await?,
        super::orders::get_order(pool, AccountId(account), order_id).await?,
    ) else {
        return Ok(None);
    };
    let gone = matches!(
        order.order.order.status,
        OrderStatus::Cancelled | OrderStatus::Refunded
    );
    let event = match (reference, gone) {
        // A plugin that booked the order hears of its cancellation as such, so it can stop the
        // shipment (`docs/plugin-protocol.md`).
        (Some(_), true) => ORDER_CANCELLED,
        (Some(_), false) => EventType::new(Entity::Order, Action::Updated).name(),
        (None, _) => EventType::new(Entity::Order, Action::Created).name(),
    };
    let body = serde_json::json!({
        "type": event,
        "plugin_id": plugin_id,
        "order": order,
    });
    Ok(Some(PluginDelivery {
        plugin,
        event,
        body,
    }))
}

/// Records the reference a plugin answered for an order it accepted (for the run-plugin
/// worker). False when the order is no longer routed to that plugin.
pub async fn record_reference(
    pool: &PgPool,
    plugin_id: i64,
    order_id: i64,
    reference: &str,
) -> Result<bool, StoreError> {
    let done =
        sqlx::query("UPDATE orders SET plugin_reference = $3 WHERE id = $1 AND plugin_id = $2")
            .bind(order_id)
            .bind(plugin_id)
            .bind(reference)
            .execute(pool)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// What a plugin's stock report did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"product_id": 1, "sku": "MS-1", "plugin_quantity": 40, "changed": true, "replayed": false}))]
pub struct StockReport {
    pub product_id: i64,
    pub sku: String,
    /// The product's plugin quantity now.
    pub plugin_quantity: i64,
    /// A movement was written by this report.
    pub changed: bool,
    /// The report's key was seen before: nothing was done now.
    pub replayed: bool,
}

/// Why a stock report was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("no product with SKU `{0}` in the plugin's store")]
    UnknownSku(String),
    /// A report key came back with another SKU or quantity than it first carried: applying
    /// either would be a guess.
    #[error("report key `{0}` was already used for another SKU or quantity")]
    KeyReused(String),
    #[error(transparent)]
    Stock(#[from] StockError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ReportError {
    fn from(err: sqlx::Error) -> ReportError {
        ReportError::Store(StoreError::Database(err))
    }
}

/// Sets the plugin quantity of the SKU's product in the caller's store to what the plugin
/// reports, announces it (`product.updated`) and queues a stock push for every auto-sync channel
/// that lists it (or a kit of it), all in one transaction with the outbox.
///
/// Idempotent twice over: a report carrying a `key` already seen from this plugin changes
/// nothing (even if later reports moved the quantity since, so a late replay cannot undo them),
/// and a report of the quantity the product already has writes no movement.
pub async fn report_stock(
    pool: &PgPool,
    caller: &CallbackCaller,
    sku: &str,
    quantity: i64,
    key: Option<&str>,
) -> Result<StockReport, ReportError> {
    let mut tx = pool.begin().await?;
    let product: Option<(i64, i32, bool)> = sqlx::query_as(
        "SELECT id, plugin_quantity, is_kit FROM products \
         WHERE account_id = $1 AND store_id = $2 AND sku = $3 FOR UPDATE",
    )
    .bind(caller.account.0)
    .bind(caller.store_id)
    .bind(sku)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((product_id, current, is_kit)) = product else {
        return Err(ReportError::UnknownSku(sku.to_owned()));
    };
    // Before any other answer: a kit's figure is its components', whatever was reported.
    if is_kit {
        return Err(ReportError::Stock(StockError::Invalid(FieldError::new(
            "sku",
            format!("`{sku}` is a kit: report its components' stock instead"),
        ))));
    }
    let report = |plugin_quantity: i64, changed, replayed| StockReport {
        product_id,
        sku: sku.to_owned(),
        plugin_quantity,
        changed,
        replayed,
    };
    if let Some(key) = key {
        let quantity32 = i32::try_from(quantity).unwrap_or(i32::MAX);
        let fresh: Option<i64> = sqlx::query_scalar(
            "INSERT INTO plugin_stock_reports (plugin_id, report_key, product_id, quantity) \
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING product_id",
        )
        .bind(caller.plugin_id)
        .bind(key)
        .bind(product_id)
        .bind(quantity32)
        .fetch_optional(&mut *tx)
        .await?;
        if fresh.is_none() {
            let first: Option<(i64, i32)> = sqlx::query_as(
                "SELECT product_id, quantity FROM plugin_stock_reports \
                 WHERE plugin_id = $1 AND report_key = $2",
            )
            .bind(caller.plugin_id)
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
            if first != Some((product_id, quantity32)) {
                return Err(ReportError::KeyReused(key.to_owned()));
            }
            return Ok(report(i64::from(current), false, true));
        }
    }
    if i64::from(current) == quantity {
        tx.commit().await?;
        return Ok(report(quantity, false, false));
    }
    let cause = format!(
        "plugin:{}:{}",
        caller.plugin_id,
        key.map_or_else(|| ulid::Ulid::new().to_string(), str::to_owned)
    );
    let change = stock::set_plugin_quantity(&mut tx, product_id, quantity, &cause).await?;
    let mut items = stock::moved_events_in_tx(&mut tx, &[product_id]).await?;
    items.extend(channel_products::stock_sync_jobs_in_tx(&mut tx, &[product_id]).await?);
    super::outbox::push_many_in_tx(&mut tx, &items).await?;
    super::outbox::notify_in_tx(&mut tx).await?;
    tx.commit().await?;
    Ok(report(change.movement.quantity_after, true, false))
}

/// True when `order_id` is an order of the caller's store routed to the caller: the only orders a
/// plugin may report on.
pub async fn is_routed_to(
    pool: &PgPool,
    caller: &CallbackCaller,
    order_id: i64,
) -> Result<bool, StoreError> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM orders \
         WHERE id = $1 AND account_id = $2 AND store_id = $3 AND plugin_id = $4",
    )
    .bind(order_id)
    .bind(caller.account.0)
    .bind(caller.store_id)
    .bind(caller.plugin_id)
    .fetch_optional(pool)
    .await?;
    Ok(found.is_some())
}

/// Disables a plugin (for workers; not account-scoped): what a 410 Gone from its endpoint means.
pub async fn disable(pool: &PgPool, plugin_id: i64) -> Result<bool, StoreError> {
    let done = sqlx::query("UPDATE plugins SET active = false, updated_at = now() WHERE id = $1")
        .bind(plugin_id)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The plugins of `ids`, whatever their account, by id: for the operators' dashboard, which
/// finds failing plugins in the run-plugin queue and names them from here.
pub async fn overviews(
    pool: &PgPool,
    ids: &[i64],
) -> Result<Vec<WithOwner<PluginRow>>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT p.*, st.name AS store_name FROM ( \
             SELECT {COLUMNS}, account_id FROM plugins WHERE id = ANY($1)) p \
         JOIN stores st ON st.id = p.store_id ORDER BY p.id"
    ))
    .bind(ids)
    .fetch_all(pool)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_have_their_formats() {
        let secret = generate_secret();
        let body = secret.strip_prefix("whsec_").unwrap_or_default();
        assert_eq!(STANDARD.decode(body).map(|b| b.len()).ok(), Some(32));
        let (a, b) = (generate_token(), generate_token());
        assert_ne!(a, b);
        assert!(a.starts_with("syp_"));
        assert_eq!(a.len(), 4 + 43);
        assert_ne!(token_hash(&a), token_hash(&b));
    }
}
