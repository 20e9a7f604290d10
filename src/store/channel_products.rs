//! Channel products: the listings each channel sells, mapped by SKU to the store's product or
//! kit, with what switchyard last pushed as their stock.
//!
//! Mapping follows the SKU: a listing maps to the product of its store with the same SKU, and a
//! listing whose SKU matches nothing is unmapped (and gets no stock pushed), because pushing one
//! product's stock to a listing that now sells something else is how channels oversell.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};

use super::outbox::OutboxItem;
use super::{AccountId, StoreError};
use crate::domain::stock::{available_kit, available_product};
use crate::domain::{Customs, Dimensions, Listing, ListingId, Weight};

use crate::jobs::SyncStock;

/// SQLSTATE of a foreign key violation.
const FOREIGN_KEY_VIOLATION: &str = "23503";

/// A listing as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = ChannelProduct, example = json!({
    "id": 311, "channel_id": 7, "store_id": 12, "external_product_id": "7900000000000",
    "external_variant_id": "40000000000037", "inventory_item_id": "42000000000031",
    "sku": "TR-8", "title": "Trail Runner - 8",
    "image_url": "https://cdn.shopify.com/s/files/1/trail-runner.jpg", "price": "89.00",
    "dimensions": null, "weight": {"unit": "kg", "value": "0.78"},
    "customs": {"country_of_origin": "PT", "hs_code": "6404.11"},
    "channel_quantity": 40, "product_id": 55, "last_pushed_quantity": 12,
    "last_pushed_at": "2026-12-04T10:20:11.402218Z",
    "created_at": "2026-12-04T10:17:45.019274Z", "updated_at": "2026-12-04T10:17:45.019274Z"
}))]
pub struct ChannelProductRow {
    pub id: i64,
    pub channel_id: i64,
    pub store_id: i64,
    /// The platform's product id.
    pub external_product_id: String,
    /// The variant (Shopify) or variation (WooCommerce); null for a simple WooCommerce product.
    pub external_variant_id: Option<String>,
    /// Shopify's inventory item, which stock is set on.
    pub inventory_item_id: Option<String>,
    /// Null when the listing has none; such a listing maps to no product.
    pub sku: Option<String>,
    pub title: String,
    /// The main image's address.
    pub image_url: Option<String>,
    /// A decimal string, as the channel gives it.
    pub price: Option<String>,
    #[schema(value_type = Option<Dimensions>)]
    pub dimensions: Option<Value>,
    #[schema(value_type = Option<Weight>)]
    pub weight: Option<Value>,
    #[schema(value_type = Option<Customs>)]
    pub customs: Option<Value>,
    /// The channel's own stock figure when last downloaded; null where it does not track stock.
    pub channel_quantity: Option<i32>,
    /// The product or kit it is mapped to; `None` when no product of the store has its SKU.
    pub product_id: Option<i64>,
    /// The quantity switchyard last pushed; null when it never did, or "push all" asked for it
    /// to be sent again.
    pub last_pushed_quantity: Option<i32>,
    pub last_pushed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, channel_id, store_id, external_product_id, external_variant_id, \
     inventory_item_id, sku, title, image_url, price, dimensions, weight, customs, \
     channel_quantity, product_id, last_pushed_quantity, last_pushed_at, created_at, updated_at";

/// A channel's listings written by the caller's transaction (inserted or changed: their
/// `updated_at` is the transaction's `now()`), each with whether it is new: what that
/// transaction's `channel_product.created` / `channel_product.updated` events carry.
pub async fn changed_in_tx(
    conn: &mut PgConnection,
    channel_id: i64,
) -> Result<Vec<(bool, ChannelProductRow)>, StoreError> {
    let rows: Vec<ChannelProductRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM channel_products \
         WHERE channel_id = $1 AND updated_at = now() ORDER BY id"
    ))
    .bind(channel_id)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.created_at == r.updated_at, r))
        .collect())
}

/// What a listing should show on its channel now, against what it was last sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedStock {
    pub channel_product_id: i64,
    /// The product or kit the listing is mapped to.
    pub product_id: i64,
    pub listing: ListingId,
    pub sku: Option<String>,
    /// The available quantity by the DESIGN.md rule, with the channel's buffer.
    pub quantity: i64,
    /// What switchyard last pushed; `None` when it never did.
    pub last_pushed: Option<i64>,
    /// When the channel accepted it.
    pub last_pushed_at: Option<DateTime<Utc>>,
}

impl PlannedStock {
    /// True when the channel does not have this figure yet.
    pub fn needs_push(&self) -> bool {
        self.last_pushed != Some(self.quantity)
    }
}

/// Stores a listing downloaded from `channel_id` (a channel of `store_id` in `account`), keyed on
/// its external ids, and maps it by SKU. Returns the listing's id. `updated_at` moves only when
/// the channel's data or the mapping changed. `MissingParent("channel")` when the channel is not
/// the account's store's.
pub async fn upsert_listing(
    conn: &mut PgConnection,
    account: AccountId,
    channel_id: i64,
    store_id: i64,
    listing: &Listing,
) -> Result<i64, StoreError> {
    let sku = listing.sku.as_deref().filter(|s| !s.is_empty());
    let channel_quantity = listing
        .quantity
        .map(|q| i32::try_from(q).unwrap_or(if q < 0 { i32::MIN } else { i32::MAX }));
    let json = |v: Option<Value>| v.filter(|v| !v.is_null()).map(Json);
    let weight = json(listing.weight.as_ref().map(|w| serde_json::json!(w)));
    let dimensions = json(listing.dimensions.as_ref().map(|d| serde_json::json!(d)));
    let customs = json(listing.customs.as_ref().map(|c| serde_json::json!(c)));
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO channel_products AS cp (account_id, store_id, channel_id, \
             external_product_id, external_variant_id, inventory_item_id, sku, title, price, \
             channel_quantity, image_url, weight, dimensions, customs, product_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
                 (SELECT id FROM products WHERE account_id = $1 AND store_id = $2 AND sku = $7)) \
         ON CONFLICT (channel_id, external_product_id, external_variant_id) DO UPDATE SET \
             inventory_item_id = EXCLUDED.inventory_item_id, sku = EXCLUDED.sku, \
             title = EXCLUDED.title, price = EXCLUDED.price, \
             channel_quantity = EXCLUDED.channel_quantity, image_url = EXCLUDED.image_url, \
             weight = EXCLUDED.weight, dimensions = EXCLUDED.dimensions, \
             customs = EXCLUDED.customs, product_id = EXCLUDED.product_id, \
             updated_at = now() \
         WHERE (cp.inventory_item_id, cp.sku, cp.title, cp.price, cp.channel_quantity, \
                cp.image_url, cp.weight, cp.dimensions, cp.customs, cp.product_id) \
               IS DISTINCT FROM \
               (EXCLUDED.inventory_item_id, EXCLUDED.sku, EXCLUDED.title, EXCLUDED.price, \
                EXCLUDED.channel_quantity, EXCLUDED.image_url, EXCLUDED.weight, \
                EXCLUDED.dimensions, EXCLUDED.customs, EXCLUDED.product_id) \
         RETURNING id",
    )
    .bind(account.0)
    .bind(store_id)
    .bind(channel_id)
    .bind(&listing.id.product_id)
    .bind(&listing.id.variant_id)
    .bind(&listing.id.inventory_item_id)
    .bind(sku)
    .bind(&listing.title)
    .bind(&listing.price)
    .bind(channel_quantity)
    .bind(&listing.image_url)
    .bind(weight)
    .bind(dimensions)
    .bind(customs)
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| {
        let fk = e
            .as_database_error()
            .and_then(|d| d.code())
            .is_some_and(|c| c == FOREIGN_KEY_VIOLATION);
        match fk {
            true => StoreError::MissingParent("channel"),
            false => e.into(),
        }
    })?;
    if let Some(id) = id {
        return Ok(id);
    }
    // Unchanged: the row is there, the update was skipped.
    Ok(sqlx::query_scalar(
        "SELECT id FROM channel_products \
         WHERE channel_id = $1 AND external_product_id = $2 \
           AND external_variant_id IS NOT DISTINCT FROM $3",
    )
    .bind(channel_id)
    .bind(&listing.id.product_id)
    .bind(&listing.id.variant_id)
    .fetch_one(conn)
    .await?)
}

/// For a channel whose "add to main products" setting is on: creates a product in the store
/// for each SKU of the channel's unmapped listings that the store does not have yet (titled as
/// the first such listing, with no stock), and maps the listings to them. Returns the ids of the
/// products created.
pub async fn add_missing_products(
    conn: &mut PgConnection,
    account: AccountId,
    store_id: i64,
    channel_id: i64,
) -> Result<Vec<i64>, StoreError> {
    let created: Vec<i64> = sqlx::query_scalar(
        "INSERT INTO products (account_id, store_id, sku, title) \
         SELECT DISTINCT ON (sku) account_id, store_id, sku, title FROM channel_products \
         WHERE account_id = $1 AND store_id = $2 AND channel_id = $3 \
           AND product_id IS NULL AND sku IS NOT NULL AND sku <> '' \
         ORDER BY sku, id \
         ON CONFLICT (store_id, sku) DO NOTHING \
         RETURNING id",
    )
    .bind(account.0)
    .bind(store_id)
    .bind(channel_id)
    .fetch_all(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE channel_products cp SET product_id = p.id, updated_at = now() \
         FROM products p \
         WHERE cp.account_id = $1 AND cp.store_id = $2 AND cp.channel_id = $3 \
           AND cp.product_id IS NULL \
           AND p.account_id = cp.account_id AND p.store_id = cp.store_id AND p.sku = cp.sku",
    )
    .bind(account.0)
    .bind(store_id)
    .bind(channel_id)
    .execute(&mut *conn)
    .await?;
    Ok(created)
}

/// Maps the store's unmapped listings with `sku` to `product_id`, when a product is created or
/// given that SKU.
pub(super) async fn map_unmapped_in_tx(
    conn: &mut PgConnection,
    account: AccountId,
    store_id: i64,
    product_id: i64,
    sku: &str,
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE channel_products SET product_id = $3, updated_at = now() \
         WHERE account_id = $1 AND store_id = $2 AND sku = $4 AND product_id IS NULL",
    )
    .bind(account.0)
    .bind(store_id)
    .bind(product_id)
    .bind(sku)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// The channels (ids, ascending) that list any of these products, or a kit containing one of
/// them: the channels sync-stock must visit after these products' stock changed. Whether each
/// channel wants stock pushed (its settings, `active`) is the caller's to check.
pub async fn channels_listing_products(
    conn: &mut PgConnection,
    product_ids: &[i64],
) -> Result<Vec<i64>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT DISTINCT channel_id FROM channel_products \
         WHERE product_id = ANY($1) \
            OR product_id IN (SELECT kit_id FROM kit_components WHERE component_id = ANY($1)) \
         ORDER BY channel_id",
    )
    .bind(product_ids)
    .fetch_all(conn)
    .await?)
}

#[derive(sqlx::FromRow)]
struct PlanRaw {
    id: i64,
    product_id: i64,
    external_product_id: String,
    external_variant_id: Option<String>,
    inventory_item_id: Option<String>,
    sku: Option<String>,
    last_pushed_quantity: Option<i32>,
    last_pushed_at: Option<DateTime<Utc>>,
    api_quantity: i32,
    plugin_quantity: i32,
    is_kit: bool,
    kit_api: Option<Vec<i64>>,
    kit_plugin: Option<Vec<i64>>,
    kit_per: Option<Vec<i64>>,
}

/// The outbox jobs that push stock to every channel listing one of `product_ids` (or a kit
/// containing one) with auto sync on, each coalesced per channel: what a stock change writes in
/// its own transaction.
pub async fn stock_sync_jobs_in_tx(
    conn: &mut PgConnection,
    product_ids: &[i64],
) -> Result<Vec<OutboxItem>, StoreError> {
    if product_ids.is_empty() {
        return Ok(Vec::new());
    }
    let listing = channels_listing_products(conn, product_ids).await?;
    let targets = super::channels::auto_sync_targets(conn, &listing).await?;
    targets
        .into_iter()
        .map(|channel_id| {
            let job = SyncStock { channel_id };
            OutboxItem::job(&job, Some(job.unique_key()))
        })
        .collect()
}

/// What each mapped listing of the channel should show now (the DESIGN.md rule, kits included,
/// less `buffer`, never below zero), with what it was last sent. One statement, so every figure
/// comes from the same snapshot. Unmapped listings are left out: there is nothing to push.
pub async fn stock_plan(
    pool: &PgPool,
    channel_id: i64,
    buffer: i64,
) -> Result<Vec<PlannedStock>, StoreError> {
    let rows: Vec<PlanRaw> = sqlx::query_as(
        "SELECT cp.id, p.id AS product_id, cp.external_product_id, cp.external_variant_id, \
                cp.inventory_item_id, cp.sku, cp.last_pushed_quantity, cp.last_pushed_at, \
                p.api_quantity, p.plugin_quantity, p.is_kit, \
                k.api AS kit_api, k.plugin AS kit_plugin, k.per AS kit_per \
         FROM channel_products cp \
         JOIN products p ON p.id = cp.product_id \
         LEFT JOIN LATERAL ( \
             SELECT array_agg(c.api_quantity::bigint ORDER BY c.id) AS api, \
                    array_agg(c.plugin_quantity::bigint ORDER BY c.id) AS plugin, \
                    array_agg(kc.quantity::bigint ORDER BY c.id) AS per \
             FROM kit_components kc JOIN products c ON c.id = kc.component_id \
             WHERE kc.kit_id = p.id \
         ) k ON p.is_kit \
         WHERE cp.channel_id = $1 \
         ORDER BY cp.id",
    )
    .bind(channel_id)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let quantity = if r.is_kit {
                let api = r.kit_api.unwrap_or_default();
                let plugin = r.kit_plugin.unwrap_or_default();
                let per = r.kit_per.unwrap_or_default();
                let parts: Vec<(i64, i64, i64)> = api
                    .into_iter()
                    .zip(plugin)
                    .zip(per)
                    .map(|((a, p), q)| (a, p, q))
                    .collect();
                available_kit(&parts, buffer)
            } else {
                available_product(
                    i64::from(r.api_quantity),
                    i64::from(r.plugin_quantity),
                    buffer,
                )
            };
            PlannedStock {
                channel_product_id: r.id,
                product_id: r.product_id,
                listing: ListingId {
                    product_id: r.external_product_id,
                    variant_id: r.external_variant_id,
                    inventory_item_id: r.inventory_item_id,
                },
                sku: r.sku,
                quantity,
                last_pushed: r.last_pushed_quantity.map(i64::from),
                last_pushed_at: r.last_pushed_at,
            }
        })
        .collect())
}

/// Records that the channel accepted `quantity` for the listing; false when the listing is gone.
/// On the pool, or in the caller's transaction (`&mut *tx`).
pub async fn record_pushed<'e>(
    db: impl sqlx::PgExecutor<'e>,
    channel_product_id: i64,
    quantity: i64,
) -> Result<bool, StoreError> {
    let quantity = i32::try_from(quantity)
        .map_err(|_| StoreError::Corrupt(format!("pushed quantity {quantity} out of range")))?;
    let done = sqlx::query(
        "UPDATE channel_products SET last_pushed_quantity = $2, last_pushed_at = now() \
         WHERE id = $1",
    )
    .bind(channel_product_id)
    .bind(quantity)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// One page of the listings of one of the account's channels, by id; `None` when the channel
/// is not the account's.
pub async fn list_for_channel(
    pool: &PgPool,
    account: AccountId,
    channel_id: i64,
    after: Option<i64>,
    limit: i64,
) -> Result<Option<Vec<ChannelProductRow>>, StoreError> {
    let mut conn = pool.acquire().await?;
    if !super::channels::is_accounts(&mut *conn, account, channel_id).await? {
        return Ok(None);
    }
    let rows: Vec<ChannelProductRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM channel_products \
         WHERE account_id = $1 AND channel_id = $2 AND id > $3 ORDER BY id LIMIT $4"
    ))
    .bind(account.0)
    .bind(channel_id)
    .bind(after.unwrap_or(0))
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    Ok(Some(rows))
}

/// Forgets what every listing of the channel was last sent, so the next sync pushes them all
/// (the "push all stocks" action).
pub async fn forget_pushed(pool: &PgPool, channel_id: i64) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE channel_products SET last_pushed_quantity = NULL WHERE channel_id = $1",
    )
    .bind(channel_id)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}
