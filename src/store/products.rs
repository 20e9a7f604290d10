//! The main catalogue: each store's products and kits, with the available quantity the API
//! shows (DESIGN.md "Domain model"). Quantities change only through [`super::stock`], which
//! writes the ledger; this module creates, reads, renames and deletes products and sets a kit's
//! components.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};

use super::channel_products;
use super::events::{self, Event};
use super::stock::StockError;
use super::{account_row, is_unique_violation, AccountId, StoreError};
use crate::domain::event_type::Action;
use crate::domain::stock::{
    available_kit, available_product, check_components, ComponentFacts, ProposedComponent,
};

/// A component of a kit, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = ProductComponent)]
pub struct ComponentRow {
    /// The component product's id.
    pub product_id: i64,
    /// The component product's SKU.
    pub sku: String,
    /// Units of this product in one kit.
    pub quantity: i64,
    /// The component's own available quantity (API + plugin, never below zero).
    pub available_quantity: i64,
}

/// A product or kit as the API shows it: the answer of `GET /v1/products/{id}`, and the `data` of
/// the `product.*` events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = Product, example = json!({
    "id": 3, "store_id": 1, "sku": "TENT-KIT", "title": "Tent with spare pegs",
    "api_quantity": 0, "plugin_quantity": 0, "is_kit": true,
    "components": [
        {"product_id": 1, "sku": "TENT-2P", "quantity": 1, "available_quantity": 15},
        {"product_id": 2, "sku": "PEG-10", "quantity": 2, "available_quantity": 30}
    ],
    "available_quantity": 15,
    "created_at": "2026-12-04T22:34:07.563129Z", "updated_at": "2026-12-04T22:34:07.594029Z"
}))]
pub struct ProductRow {
    pub id: i64,
    pub store_id: i64,
    /// Unique in the store; matched against the channels' listings and order lines.
    pub sku: String,
    pub title: String,
    /// The quantity set and adjusted through the API and taken by orders; below zero when orders
    /// took more than there was. Not counted while `is_kit`.
    pub api_quantity: i64,
    /// The quantity fulfilment-centre plugins report. Not counted while `is_kit`.
    pub plugin_quantity: i64,
    /// A kit has no stock of its own: it is sold from its components'
    /// (`PUT /v1/products/{id}/components`).
    pub is_kit: bool,
    /// Empty unless `is_kit`.
    pub components: Vec<ComponentRow>,
    /// What a channel without a buffer would be offered: API + plugin for a product, whole kits
    /// the components allow for a kit; never below zero.
    pub available_quantity: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A product to create.
#[derive(Debug, Clone)]
pub struct NewProduct<'a> {
    pub store_id: i64,
    pub sku: &'a str,
    pub title: &'a str,
    /// Opening API quantity, recorded in the ledger as a `set` movement.
    pub api_quantity: Option<i64>,
}

/// A partial update: `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProductUpdate<'a> {
    pub sku: Option<&'a str>,
    pub title: Option<&'a str>,
}

/// What deleting a product did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deleted {
    Deleted,
    NotFound,
    /// The product is a component of these kits; deleting it would make them look more
    /// available than they are, so their components must change first.
    InKits(Vec<i64>),
}

#[derive(sqlx::FromRow)]
struct Raw {
    id: i64,
    store_id: i64,
    sku: String,
    title: String,
    api_quantity: i32,
    plugin_quantity: i32,
    is_kit: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "id, store_id, sku, title, api_quantity, plugin_quantity, is_kit, created_at, updated_at";

/// The SKU constraint's name, as PostgreSQL derives it.
const SKU_UNIQUE: &str = "products_store_id_sku_key";

fn duplicate(sku: &str) -> StoreError {
    StoreError::Conflict(format!("the store already has a product with SKU `{sku}`"))
}

fn on_duplicate(sku: &str) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
    move |e| match is_unique_violation(&e, SKU_UNIQUE) {
        true => duplicate(sku),
        false => e.into(),
    }
}

/// Rows with their kits' components and available quantities filled in.
async fn complete(conn: &mut PgConnection, rows: Vec<Raw>) -> Result<Vec<ProductRow>, StoreError> {
    let kit_ids: Vec<i64> = rows.iter().filter(|r| r.is_kit).map(|r| r.id).collect();
    let mut components: HashMap<i64, Vec<(ComponentRow, i64, i64)>> = HashMap::new();
    if !kit_ids.is_empty() {
        let parts: Vec<(i64, i64, String, i32, i32, i32)> = sqlx::query_as(
            "SELECT kc.kit_id, c.id, c.sku, kc.quantity, c.api_quantity, c.plugin_quantity \
             FROM kit_components kc JOIN products c ON c.id = kc.component_id \
             WHERE kc.kit_id = ANY($1) ORDER BY kc.kit_id, c.id",
        )
        .bind(&kit_ids)
        .fetch_all(&mut *conn)
        .await?;
        for (kit_id, id, sku, quantity, api, plugin) in parts {
            let (api, plugin) = (i64::from(api), i64::from(plugin));
            components.entry(kit_id).or_default().push((
                ComponentRow {
                    product_id: id,
                    sku,
                    quantity: i64::from(quantity),
                    available_quantity: available_product(api, plugin, 0),
                },
                api,
                plugin,
            ));
        }
    }
    Ok(rows
        .into_iter()
        .map(|r| {
            let (api, plugin) = (i64::from(r.api_quantity), i64::from(r.plugin_quantity));
            let parts = components.remove(&r.id).unwrap_or_default();
            let available_quantity = if r.is_kit {
                let facts: Vec<(i64, i64, i64)> = parts
                    .iter()
                    .map(|(c, api, plugin)| (*api, *plugin, c.quantity))
                    .collect();
                available_kit(&facts, 0)
            } else {
                available_product(api, plugin, 0)
            };
            ProductRow {
                id: r.id,
                store_id: r.store_id,
                sku: r.sku,
                title: r.title,
                api_quantity: api,
                plugin_quantity: plugin,
                is_kit: r.is_kit,
                components: parts.into_iter().map(|(c, _, _)| c).collect(),
                available_quantity,
                created_at: r.created_at,
                updated_at: r.updated_at,
            }
        })
        .collect())
}

async fn get_in(
    conn: &mut PgConnection,
    account: AccountId,
    id: i64,
) -> Result<Option<ProductRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM products WHERE account_id = $1 AND id = $2");
    let raw: Option<Raw> = account_row(&mut *conn, &sql, account, id).await?;
    match raw {
        Some(raw) => Ok(complete(conn, vec![raw]).await?.pop()),
        None => Ok(None),
    }
}

/// Products by id, whatever their account, as the API shows them, in id order: what the events
/// of the transaction that changed them carry.
pub async fn read_in_tx(
    conn: &mut PgConnection,
    ids: &[i64],
) -> Result<Vec<ProductRow>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let raw: Vec<Raw> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM products WHERE id = ANY($1) ORDER BY id"
    ))
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    complete(conn, raw).await
}

/// Creates a product in one of the account's stores: `MissingParent("store")` when the store is
/// not the account's, `Conflict` when the store already has the SKU. Listings of the store's
/// channels with this SKU and no product yet are mapped to it, and an opening API quantity is
/// written to the ledger, all in one transaction with its `product.created` event.
pub async fn create(
    pool: &PgPool,
    account: AccountId,
    new: &NewProduct<'_>,
) -> Result<ProductRow, StockError> {
    let mut tx = pool.begin().await?;
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO products (account_id, store_id, sku, title) \
         SELECT s.account_id, s.id, $3, $4 FROM stores s WHERE s.account_id = $1 AND s.id = $2 \
         RETURNING id",
    )
    .bind(account.0)
    .bind(new.store_id)
    .bind(new.sku)
    .bind(new.title)
    .fetch_optional(&mut *tx)
    .await
    .map_err(on_duplicate(new.sku))?;
    let id = id.ok_or(StoreError::MissingParent("store"))?;
    if let Some(quantity) = new.api_quantity {
        super::stock::set_opening_in_tx(&mut tx, id, quantity).await?;
    }
    channel_products::map_unmapped_in_tx(&mut tx, account, new.store_id, id, new.sku).await?;
    let row = get_in(&mut tx, account, id)
        .await?
        .ok_or(StockError::NotFound(id))?;
    events::write_in_tx(&mut tx, &[Event::Product(Action::Created, &row)]).await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn get(
    pool: &PgPool,
    account: AccountId,
    id: i64,
) -> Result<Option<ProductRow>, StoreError> {
    let mut conn = pool.acquire().await?;
    get_in(&mut conn, account, id).await
}

/// One page of the account's products by id (those after `after`, at most `limit`), optionally
/// of one store or one SKU.
pub async fn list(
    pool: &PgPool,
    account: AccountId,
    store_id: Option<i64>,
    sku: Option<&str>,
    after: Option<i64>,
    limit: i64,
) -> Result<Vec<ProductRow>, StoreError> {
    let mut conn = pool.acquire().await?;
    let rows: Vec<Raw> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM products \
         WHERE account_id = $1 AND ($2::bigint IS NULL OR store_id = $2) \
           AND ($3::text IS NULL OR sku = $3) AND id > $4 \
         ORDER BY id LIMIT $5"
    ))
    .bind(account.0)
    .bind(store_id)
    .bind(sku)
    .bind(after.unwrap_or(0))
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    complete(&mut conn, rows).await
}

/// Renames a product or changes its SKU; `Conflict` when the new SKU is taken in the store.
/// Listings with the new SKU and no product yet are mapped to it. Its `product.updated` event
/// commits with it.
pub async fn update(
    pool: &PgPool,
    account: AccountId,
    id: i64,
    change: &ProductUpdate<'_>,
) -> Result<Option<ProductRow>, StoreError> {
    let mut tx = pool.begin().await?;
    let store_id: Option<i64> = sqlx::query_scalar(
        "UPDATE products SET sku = COALESCE($3, sku), title = COALESCE($4, title), \
             updated_at = now() \
         WHERE account_id = $1 AND id = $2 RETURNING store_id",
    )
    .bind(account.0)
    .bind(id)
    .bind(change.sku)
    .bind(change.title)
    .fetch_optional(&mut *tx)
    .await
    .map_err(on_duplicate(change.sku.unwrap_or_default()))?;
    let Some(store_id) = store_id else {
        return Ok(None);
    };
    if let Some(sku) = change.sku {
        channel_products::map_unmapped_in_tx(&mut tx, account, store_id, id, sku).await?;
    }
    let row = get_in(&mut tx, account, id).await?;
    if let Some(row) = &row {
        events::write_in_tx(&mut tx, &[Event::Product(Action::Updated, row)]).await?;
    }
    tx.commit().await?;
    Ok(row)
}

/// Deletes a product that no kit uses. Its ledger goes with it; its listings stay, unmapped.
pub async fn delete(pool: &PgPool, account: AccountId, id: i64) -> Result<Deleted, StoreError> {
    let mut tx = pool.begin().await?;
    let sql = "SELECT id FROM products WHERE account_id = $1 AND id = $2 FOR UPDATE";
    let exists: Option<(i64,)> = account_row(&mut *tx, sql, account, id).await?;
    if exists.is_none() {
        return Ok(Deleted::NotFound);
    }
    // The lock above keeps the product from being added to a kit between this check and the
    // delete (adding a component locks it too, `FOR SHARE`).
    let kits: Vec<i64> = sqlx::query_scalar(
        "SELECT kit_id FROM kit_components WHERE component_id = $1 ORDER BY kit_id",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    if !kits.is_empty() {
        return Ok(Deleted::InKits(kits));
    }
    sqlx::query("DELETE FROM products WHERE account_id = $1 AND id = $2")
        .bind(account.0)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Deleted::Deleted)
}

/// Makes one of the account's products a kit of `components` `(product id, quantity in kit)`,
/// replacing any it had; an empty list makes it a plain product again. The list is checked by
/// [`check_components`] (same store, no kit as component, no nesting, quantities of at least
/// one); a refusal is `StockError::Invalid` naming the entry. The kit's `product.updated` event
/// commits with it.
pub async fn set_components(
    pool: &PgPool,
    account: AccountId,
    kit_id: i64,
    components: &[(i64, i64)],
) -> Result<ProductRow, StockError> {
    let mut tx = pool.begin().await?;
    let kit: Option<(i64, bool)> = sqlx::query_as(
        "SELECT store_id, is_kit FROM products WHERE account_id = $1 AND id = $2 FOR UPDATE",
    )
    .bind(account.0)
    .bind(kit_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((store_id, is_kit)) = kit else {
        return Err(StockError::NotFound(kit_id));
    };
    let is_component: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM kit_components WHERE component_id = $1)")
            .bind(kit_id)
            .fetch_one(&mut *tx)
            .await?;
    let ids: Vec<i64> = components.iter().map(|(id, _)| *id).collect();
    // FOR SHARE: a component cannot become a kit, or be deleted, until this commits.
    let facts: HashMap<i64, ComponentFacts> = sqlx::query_as::<_, (i64, i64, bool)>(
        "SELECT id, store_id, is_kit FROM products \
         WHERE account_id = $1 AND id = ANY($2) ORDER BY id FOR SHARE",
    )
    .bind(account.0)
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|(id, store_id, is_kit)| (id, ComponentFacts { store_id, is_kit }))
    .collect();
    let proposed: Vec<ProposedComponent> = components
        .iter()
        .map(|&(product_id, quantity)| ProposedComponent {
            product_id,
            quantity,
            facts: facts.get(&product_id).copied(),
        })
        .collect();
    check_components(kit_id, store_id, is_component, &proposed)?;

    sqlx::query("DELETE FROM kit_components WHERE kit_id = $1")
        .bind(kit_id)
        .execute(&mut *tx)
        .await?;
    let want_kit = !components.is_empty();
    if want_kit != is_kit {
        sqlx::query("UPDATE products SET is_kit = $2, updated_at = now() WHERE id = $1")
            .bind(kit_id)
            .bind(want_kit)
            .execute(&mut *tx)
            .await?;
    }
    if want_kit {
        let quantities: Vec<i32> = components
            .iter()
            .map(|(_, q)| i32::try_from(*q).unwrap_or(i32::MAX))
            .collect();
        sqlx::query(
            "INSERT INTO kit_components (account_id, store_id, kit_id, component_id, quantity) \
             SELECT $1, $2, $3, c.id, c.quantity \
             FROM UNNEST($4::bigint[], $5::int[]) AS c(id, quantity)",
        )
        .bind(account.0)
        .bind(store_id)
        .bind(kit_id)
        .bind(&ids)
        .bind(&quantities)
        .execute(&mut *tx)
        .await?;
    }
    let row = get_in(&mut tx, account, kit_id)
        .await?
        .ok_or(StockError::NotFound(kit_id))?;
    events::write_in_tx(&mut tx, &[Event::Product(Action::Updated, &row)]).await?;
    tx.commit().await?;
    Ok(row)
}

/// Of `skus`, those the store has a product or kit for: lets an import skip the stock path for
/// orders that touch nothing switchyard manages, in one query per page.
pub async fn known_skus(
    conn: &mut sqlx::PgConnection,
    store_id: i64,
    skus: &[String],
) -> Result<std::collections::HashSet<String>, StoreError> {
    if skus.is_empty() {
        return Ok(Default::default());
    }
    let found: Vec<String> =
        sqlx::query_scalar("SELECT sku FROM products WHERE store_id = $1 AND sku = ANY($2)")
            .bind(store_id)
            .bind(skus)
            .fetch_all(conn)
            .await?;
    Ok(found.into_iter().collect())
}
