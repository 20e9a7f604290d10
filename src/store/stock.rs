//! The stock ledger: every change of a product's API or plugin quantity is a movement, unique on
//! its cause, written in the same transaction as the quantity column it moves (DESIGN.md "Data
//! flow and the outbox"). A channel figure set back after it drifted is a movement too, of field
//! `channel` (see `super::stock_drift`): it moves none of the product's quantities, so every sum
//! here is over one field.
//!
//! Every writer locks the products it moves (`FOR UPDATE`, in id order, so two writers never
//! wait on each other in a cycle) before it looks for or writes a movement. Under that lock a
//! movement's cause is either already there, and the change is a replay that does nothing, or
//! it is not and the movement and the column change together. Because of the lock, a product's
//! movement ids are in the order they were applied, so the running sum up to a movement is the
//! quantity right after it: that is how a replayed request answers with the same figures as the
//! first time.
//!
//! Whoever owns the transaction of a movement writes, in it, the `product.updated` events of
//! [`moved_events_in_tx`], so the new figures are announced if and only if they committed.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};

use super::events::Event;
use super::outbox::{self, OutboxItem};
use super::{account_row, products, AccountId, StoreError};
use crate::domain::event_type::Action;
use crate::domain::stock::{checked_quantity, delta_to, line_movements, ProductKind};
use crate::domain::FieldError;
use crate::domain::KitComponent;

/// Which of a product's two quantities a movement changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StockField {
    /// Set and adjusted through the API, decremented by orders.
    Api,
    /// Reported by fulfilment-centre plugins.
    Plugin,
    /// What one channel holds for one of the product's listings, set back by a reconciliation
    /// after it drifted (cause `channel_drift`); not part of the product's quantity.
    Channel,
}

impl StockField {
    fn as_str(self) -> &'static str {
        match self {
            StockField::Api => "api",
            StockField::Plugin => "plugin",
            StockField::Channel => "channel",
        }
    }

    fn parse(text: &str) -> Result<StockField, StoreError> {
        match text {
            "api" => Ok(StockField::Api),
            "plugin" => Ok(StockField::Plugin),
            "channel" => Ok(StockField::Channel),
            other => Err(StoreError::Corrupt(format!("stock field `{other}`"))),
        }
    }
}

/// Cause kinds, as the ledger's CHECK constraint lists them.
pub const CAUSE_ORDER_LINE: &str = "order_line";
pub const CAUSE_ORDER_CANCEL: &str = "order_cancel";
pub const CAUSE_SET: &str = "set";
pub const CAUSE_ADJUSTMENT: &str = "adjustment";
pub const CAUSE_PLUGIN_REPORT: &str = "plugin_report";
pub const CAUSE_CHANNEL_DRIFT: &str = "channel_drift";

/// One entry of the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = StockMovement, example = json!({
    "id": 3, "product_id": 1, "field": "api", "delta": -3, "quantity_after": 11,
    "cause_kind": "adjustment", "cause_id": "restock-2026-12-04", "order_id": null,
    "created_at": "2026-12-04T22:34:07.695680Z"
}))]
pub struct Movement {
    /// Increasing in the order movements were applied.
    pub id: i64,
    pub product_id: i64,
    pub field: StockField,
    /// The change: positive, negative, or 0 for a set to the quantity it already had.
    pub delta: i64,
    /// The field's quantity right after this movement; for a `channel` movement, the figure the
    /// channel was set back to.
    pub quantity_after: i64,
    /// Why the quantity moved: see [`cause_kind_schema`].
    #[schema(schema_with = cause_kind_schema)]
    pub cause_kind: String,
    /// The cause's own id, unique per product, field and kind: `opening` for a create's quantity,
    /// a ULID for `PUT .../stock`, the `Idempotency-Key` of an adjustment, `admin:<ulid>` for
    /// `PUT .../plugin-stock`, `plugin:<plugin id>:<report key or ulid>` for a plugin's report,
    /// the order line's id for `order_line` and `order_cancel`,
    /// `<reconcile job id>.<attempt>/<channel product id>` for `channel_drift`.
    pub cause_id: String,
    /// The order whose line or cancellation moved it; null otherwise.
    #[schema(required = true)]
    pub order_id: Option<i64>,
    /// A `channel` movement's channel; absent on the others.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<i64>,
    /// What a `channel` movement's channel held before it was set back (`quantity_after` is
    /// what it was set to); absent on the others.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub found: Option<i64>,
    pub created_at: DateTime<Utc>,
}

/// [`Movement::cause_kind`]: one of the kinds the ledger's CHECK constraint lists.
fn cause_kind_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .description(Some(
            "Why the quantity moved: `set` (`PUT .../stock`, or the opening quantity of a \
             create), `adjustment` (`POST .../stock/adjust`), `plugin_report` (a plugin's report \
             or `PUT .../plugin-stock`), `order_line` (an imported order took it), \
             `order_cancel` (a cancelled order gave it back), `channel_drift` (a channel held \
             another figure than switchyard's for the listing, and was set back).",
        ))
        .enum_values(Some([
            CAUSE_SET,
            CAUSE_ADJUSTMENT,
            CAUSE_PLUGIN_REPORT,
            CAUSE_ORDER_LINE,
            CAUSE_ORDER_CANCEL,
            CAUSE_CHANNEL_DRIFT,
        ]))
        .build()
}

/// What a set, adjustment or plugin report did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockChange {
    pub movement: Movement,
    /// The cause was already in the ledger: nothing changed now, and `movement` is the one
    /// written the first time.
    pub replayed: bool,
}

/// Why a stock change was refused.
#[derive(Debug, thiserror::Error)]
pub enum StockError {
    /// No such product (in the account, for tenant calls).
    #[error("product {0} not found")]
    NotFound(i64),
    /// The change breaks a rule; the field says which input.
    #[error(transparent)]
    Invalid(#[from] FieldError),
    /// An idempotency key came back with a different change than the one it first carried:
    /// doing either would be a guess.
    #[error("idempotency key `{key}` was already used for a change of {delta}")]
    KeyReused { key: String, delta: i64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for StockError {
    fn from(err: sqlx::Error) -> StockError {
        StockError::Store(StoreError::Database(err))
    }
}

#[derive(sqlx::FromRow)]
struct MovementRaw {
    id: i64,
    product_id: i64,
    field: String,
    delta: i32,
    quantity_after: i64,
    cause_kind: String,
    cause_id: String,
    order_id: Option<i64>,
    channel_id: Option<i64>,
    found: Option<i32>,
    created_at: DateTime<Utc>,
}

impl MovementRaw {
    fn into_movement(self) -> Result<Movement, StoreError> {
        Ok(Movement {
            id: self.id,
            product_id: self.product_id,
            field: StockField::parse(&self.field)?,
            delta: i64::from(self.delta),
            quantity_after: self.quantity_after,
            cause_kind: self.cause_kind,
            cause_id: self.cause_id,
            order_id: self.order_id,
            channel_id: self.channel_id,
            found: self.found.map(i64::from),
            created_at: self.created_at,
        })
    }
}

/// Columns of a movement with its running quantity, over `stock_movements m`. The running sum
/// is over the same product and field up to and including the row, which the lock discipline
/// above makes the quantity right after it.
const MOVEMENT_COLUMNS: &str = "m.id, m.product_id, m.field, m.delta, \
     (SELECT COALESCE(sum(r.delta), 0)::bigint FROM stock_movements r \
      WHERE r.product_id = m.product_id AND r.field = m.field AND r.id <= m.id) AS quantity_after, \
     m.cause_kind, m.cause_id, m.order_id, m.channel_id, m.found, m.created_at";

/// A movement by its cause, if the ledger has it.
async fn movement_by_cause(
    conn: &mut PgConnection,
    product_id: i64,
    field: StockField,
    cause_kind: &str,
    cause_id: &str,
) -> Result<Option<Movement>, StoreError> {
    let raw: Option<MovementRaw> = sqlx::query_as(&format!(
        "SELECT {MOVEMENT_COLUMNS} FROM stock_movements m \
         WHERE m.product_id = $1 AND m.field = $2 AND m.cause_kind = $3 AND m.cause_id = $4"
    ))
    .bind(product_id)
    .bind(field.as_str())
    .bind(cause_kind)
    .bind(cause_id)
    .fetch_optional(conn)
    .await?;
    raw.map(MovementRaw::into_movement).transpose()
}

/// How a single-product change says what it wants.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// Make the field this value.
    Absolute(i64),
    /// Move the field by this much.
    Delta(i64),
}

/// A single-product change: what, why, and which request field to blame.
struct Change<'a> {
    account: Option<AccountId>,
    product_id: i64,
    field: StockField,
    target: Target,
    cause_kind: &'a str,
    cause_id: &'a str,
    /// The input field an error names (`api_quantity`, `delta`, ...).
    input: &'a str,
}

impl<'a> Change<'a> {
    /// The API quantity set to `absolute` (cause `set`).
    fn set_api(
        account: Option<AccountId>,
        product_id: i64,
        absolute: i64,
        cause_id: &'a str,
    ) -> Change<'a> {
        Change {
            account,
            product_id,
            field: StockField::Api,
            target: Target::Absolute(absolute),
            cause_kind: CAUSE_SET,
            cause_id,
            input: "api_quantity",
        }
    }

    /// The API quantity moved by `delta` (cause `adjustment`, keyed by the request).
    fn adjust_api(
        account: Option<AccountId>,
        product_id: i64,
        delta: i64,
        idempotency_key: &'a str,
    ) -> Change<'a> {
        Change {
            account,
            product_id,
            field: StockField::Api,
            target: Target::Delta(delta),
            cause_kind: CAUSE_ADJUSTMENT,
            cause_id: idempotency_key,
            input: "delta",
        }
    }

    /// The plugin quantity a plugin reported (cause `plugin_report`, keyed by the report).
    fn plugin_report(
        account: Option<AccountId>,
        product_id: i64,
        absolute: i64,
        cause: &'a str,
    ) -> Change<'a> {
        Change {
            account,
            product_id,
            field: StockField::Plugin,
            target: Target::Absolute(absolute),
            cause_kind: CAUSE_PLUGIN_REPORT,
            cause_id: cause,
            input: "plugin_quantity",
        }
    }
}

/// Locks the product, replays a cause already in the ledger, or writes the movement and the
/// quantity together. The caller owns the transaction.
async fn change_in_tx(
    conn: &mut PgConnection,
    change: &Change<'_>,
) -> Result<StockChange, StockError> {
    let row: Option<(i64, i32, i32, bool)> = sqlx::query_as(
        "SELECT account_id, api_quantity, plugin_quantity, is_kit FROM products \
         WHERE id = $1 AND ($2::bigint IS NULL OR account_id = $2) FOR UPDATE",
    )
    .bind(change.product_id)
    .bind(change.account.map(|a| a.0))
    .fetch_optional(&mut *conn)
    .await?;
    let Some((account_id, api, plugin, is_kit)) = row else {
        return Err(StockError::NotFound(change.product_id));
    };
    if is_kit {
        return Err(FieldError::new(
            change.input,
            format!(
                "product {} is a kit: its stock is what its components allow",
                change.product_id
            ),
        )
        .into());
    }
    if let Some(existing) = movement_by_cause(
        conn,
        change.product_id,
        change.field,
        change.cause_kind,
        change.cause_id,
    )
    .await?
    {
        if let Target::Delta(delta) = change.target {
            if delta != existing.delta {
                return Err(StockError::KeyReused {
                    key: change.cause_id.to_owned(),
                    delta: existing.delta,
                });
            }
        }
        return Ok(StockChange {
            movement: existing,
            replayed: true,
        });
    }
    let current = i64::from(match change.field {
        StockField::Api => api,
        StockField::Plugin => plugin,
        // A channel's figure is no quantity of the product: `super::stock_drift` records it.
        StockField::Channel => {
            return Err(StoreError::Corrupt(format!(
                "a change of product {}'s channel figure is no quantity change",
                change.product_id
            ))
            .into())
        }
    });
    let delta = match change.target {
        Target::Absolute(value) => delta_to(current, value),
        Target::Delta(delta) => delta,
    };
    let (Some(after), Ok(delta32)) = (checked_quantity(current, delta), i32::try_from(delta))
    else {
        return Err(FieldError::new(
            change.input,
            format!(
                "the {} quantity would leave the range {}..={}",
                change.field.as_str(),
                i32::MIN,
                i32::MAX
            ),
        )
        .into());
    };
    let (id, created_at): (i64, DateTime<Utc>) = sqlx::query_as(
        "INSERT INTO stock_movements (account_id, product_id, field, delta, cause_kind, cause_id) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id, created_at",
    )
    .bind(account_id)
    .bind(change.product_id)
    .bind(change.field.as_str())
    .bind(delta32)
    .bind(change.cause_kind)
    .bind(change.cause_id)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE products SET \
             api_quantity = CASE WHEN $2 = 'api' THEN $3 ELSE api_quantity END, \
             plugin_quantity = CASE WHEN $2 = 'plugin' THEN $3 ELSE plugin_quantity END, \
             updated_at = now() \
         WHERE id = $1",
    )
    .bind(change.product_id)
    .bind(change.field.as_str())
    .bind(after)
    .execute(&mut *conn)
    .await?;
    Ok(StockChange {
        movement: Movement {
            id,
            product_id: change.product_id,
            field: change.field,
            delta,
            quantity_after: i64::from(after),
            cause_kind: change.cause_kind.to_owned(),
            cause_id: change.cause_id.to_owned(),
            order_id: None,
            channel_id: None,
            found: None,
            created_at,
        },
        replayed: false,
    })
}

/// A change in a transaction of its own, with its `product.updated` events.
async fn change(pool: &PgPool, change: &Change<'_>) -> Result<StockChange, StockError> {
    let mut tx = pool.begin().await?;
    let done = change_in_tx(&mut tx, change).await?;
    if !done.replayed {
        let events = moved_events_in_tx(&mut tx, &[change.product_id]).await?;
        outbox::push_many_in_tx(&mut tx, &events).await?;
        outbox::notify_in_tx(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(done)
}

/// The `product.updated` events of a stock movement, in its transaction: one for each product
/// of `moved` and one for each kit with one of them as a component (whose available quantity
/// follows its components'), as the API shows them now. Several movements of a product in one
/// transaction are announced once, when called once with them all.
pub async fn moved_events_in_tx(
    conn: &mut PgConnection,
    moved: &[i64],
) -> Result<Vec<OutboxItem>, StoreError> {
    if moved.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM products WHERE id = ANY($1) \
         UNION SELECT kit_id FROM kit_components WHERE component_id = ANY($1)",
    )
    .bind(moved)
    .fetch_all(&mut *conn)
    .await?;
    products::read_in_tx(conn, &ids)
        .await?
        .iter()
        .map(|p| Event::Product(Action::Updated, p).outbox_item())
        .collect()
}

/// Writes a new product's opening API quantity as its first movement (cause `set`,
/// `opening`), in the transaction that creates it.
pub(super) async fn set_opening_in_tx(
    conn: &mut PgConnection,
    product_id: i64,
    quantity: i64,
) -> Result<StockChange, StockError> {
    change_in_tx(
        conn,
        &Change::set_api(None, product_id, quantity, "opening"),
    )
    .await
}

/// Sets one of the account's products' API quantity to `absolute`, recorded as the movement
/// that gets it there (cause `set`, `cause_id`). A `cause_id` already in the ledger changes
/// nothing and answers the first movement, so a retried request cannot undo a sale that came in
/// between.
pub async fn set_api_quantity(
    pool: &PgPool,
    account: AccountId,
    product_id: i64,
    absolute: i64,
    cause_id: &str,
) -> Result<StockChange, StockError> {
    let set = Change::set_api(Some(account), product_id, absolute, cause_id);
    change(pool, &set).await
}

/// Moves one of the account's products' API quantity by `delta` (cause `adjustment`,
/// `idempotency_key`). The same key again, with the same delta, changes nothing and answers the
/// first movement; with another delta it is [`StockError::KeyReused`].
pub async fn adjust_api_quantity(
    pool: &PgPool,
    account: AccountId,
    product_id: i64,
    delta: i64,
    idempotency_key: &str,
) -> Result<StockChange, StockError> {
    let adjust = Change::adjust_api(Some(account), product_id, delta, idempotency_key);
    change(pool, &adjust).await
}

/// Sets a product's plugin quantity to what a plugin reported (cause `plugin_report`, `cause`:
/// the report's own id, so a report delivered twice counts once). For plugin workers, which act
/// on a product id they were given; not account-scoped.
pub async fn set_plugin_quantity(
    conn: &mut PgConnection,
    product_id: i64,
    absolute: i64,
    cause: &str,
) -> Result<StockChange, StockError> {
    let report = Change::plugin_report(None, product_id, absolute, cause);
    change_in_tx(conn, &report).await
}

/// [`set_plugin_quantity`] for one of the account's products, for the admin API that stands in
/// for plugins until they report.
pub async fn set_plugin_quantity_for(
    pool: &PgPool,
    account: AccountId,
    product_id: i64,
    absolute: i64,
    cause: &str,
) -> Result<StockChange, StockError> {
    let report = Change::plugin_report(Some(account), product_id, absolute, cause);
    change(pool, &report).await
}

/// One of the account's products' movements, oldest first, after movement `after`; `None` when
/// the product is not the account's.
pub async fn movements(
    pool: &PgPool,
    account: AccountId,
    product_id: i64,
    after: Option<i64>,
    limit: i64,
) -> Result<Option<Vec<Movement>>, StoreError> {
    let mut conn = pool.acquire().await?;
    let sql = "SELECT id FROM products WHERE account_id = $1 AND id = $2";
    let exists: Option<(i64,)> = account_row(&mut *conn, sql, account, product_id).await?;
    if exists.is_none() {
        return Ok(None);
    }
    // One pass over the product's ledger with a running sum per field, rather than a sum per
    // row. A channel movement is no step of a running figure: it says what it set.
    let rows: Vec<MovementRaw> = sqlx::query_as(
        "SELECT id, product_id, field, delta, quantity_after, cause_kind, cause_id, order_id, \
                channel_id, found, created_at \
         FROM (SELECT m.*, \
                      CASE WHEN m.field = 'channel' THEN m.expected::bigint \
                           ELSE (sum(m.delta) OVER (PARTITION BY m.field ORDER BY m.id))::bigint \
                      END AS quantity_after \
               FROM stock_movements m WHERE m.account_id = $1 AND m.product_id = $2) l \
         WHERE id > $3 ORDER BY id LIMIT $4",
    )
    .bind(account.0)
    .bind(product_id)
    .bind(after.unwrap_or(0))
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(MovementRaw::into_movement)
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// Locks the products in id order, which every multi-product writer uses so two of them never
/// deadlock.
async fn lock_products(conn: &mut PgConnection, ids: &[i64]) -> Result<(), StoreError> {
    sqlx::query("SELECT id FROM products WHERE id = ANY($1) ORDER BY id FOR UPDATE")
        .bind(ids)
        .fetch_all(conn)
        .await?;
    Ok(())
}

/// What the lines of a page's orders take and which product or kit each one is, read before
/// anything is locked: one entry per movement, and one per line matched to a product.
#[derive(Default)]
struct PageTakes {
    accounts: Vec<i64>,
    products: Vec<i64>,
    deltas: Vec<i32>,
    causes: Vec<String>,
    orders: Vec<i64>,
    lines: Vec<i64>,
    line_products: Vec<i64>,
    line_kits: Vec<String>,
}

/// The lines of `order_ids` (in that order, each line in id order) matched by SKU to their
/// store's products, and what each one takes ([`line_movements`]).
async fn page_takes(conn: &mut PgConnection, order_ids: &[i64]) -> Result<PageTakes, StoreError> {
    let mut takes = PageTakes::default();
    if order_ids.is_empty() {
        return Ok(takes);
    }
    // A line with no SKU, or one no product of the order's store has, matches nothing. The
    // lines are gathered first, so each is looked up once by its store and SKU, whatever the
    // planner guesses of a page's lines.
    let matched: Vec<(i64, i64, i64, i32, i64, bool)> = sqlx::query_as(
        "WITH l AS MATERIALIZED ( \
             SELECT t.n, o.id AS order_id, o.account_id, o.store_id, ol.id, ol.quantity, ol.sku \
             FROM UNNEST($1::bigint[]) WITH ORDINALITY AS t(order_id, n) \
             JOIN orders o ON o.id = t.order_id \
             JOIN order_lines ol ON ol.order_id = o.id \
         ) \
         SELECT l.order_id, l.account_id, l.id, l.quantity, p.id, p.is_kit \
         FROM l JOIN products p ON p.store_id = l.store_id AND p.sku = l.sku \
                               AND p.account_id = l.account_id \
         ORDER BY l.n, l.id",
    )
    .bind(order_ids)
    .fetch_all(&mut *conn)
    .await?;
    let kit_ids: Vec<i64> = matched
        .iter()
        .filter(|m| m.5)
        .map(|m| m.4)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut components: HashMap<i64, Vec<KitComponent>> = HashMap::new();
    if !kit_ids.is_empty() {
        let rows: Vec<(i64, i64, i32, String)> = sqlx::query_as(
            "SELECT kc.kit_id, kc.component_id, kc.quantity, c.sku \
             FROM kit_components kc JOIN products c ON c.id = kc.component_id \
             WHERE kc.kit_id = ANY($1) ORDER BY kc.kit_id, kc.component_id",
        )
        .bind(&kit_ids)
        .fetch_all(&mut *conn)
        .await?;
        for (kit_id, component_id, quantity, sku) in rows {
            components.entry(kit_id).or_default().push(KitComponent {
                product_id: component_id,
                sku,
                quantity: u32::try_from(quantity)
                    .map_err(|_| StoreError::Corrupt(format!("kit {kit_id} component quantity")))?,
            });
        }
    }
    for (order_id, account_id, line_id, quantity, product_id, is_kit) in matched {
        let kit = if is_kit {
            components.get(&product_id).cloned().unwrap_or_default()
        } else {
            Vec::new()
        };
        let kind = if is_kit {
            ProductKind::Kit(
                kit.iter()
                    .map(|c| (c.product_id, i64::from(c.quantity)))
                    .collect(),
            )
        } else {
            ProductKind::Simple(product_id)
        };
        for (moved, delta) in line_movements(i64::from(quantity), &kind) {
            takes.accounts.push(account_id);
            takes.products.push(moved);
            takes.deltas.push(i32::try_from(delta).map_err(|_| {
                StoreError::Corrupt(format!("order line {line_id} moves {delta} units"))
            })?);
            takes.causes.push(line_id.to_string());
            takes.orders.push(order_id);
        }
        takes.lines.push(line_id);
        takes.line_products.push(product_id);
        takes.line_kits.push(
            serde_json::to_string(&kit)
                .map_err(|e| StoreError::Corrupt(format!("kit components: {e}")))?,
        );
    }
    Ok(takes)
}

/// Moves the stock of a page of imported orders, in the caller's transaction (the one writing
/// them), in the same few statements whatever the page's size.
///
/// Each order of `taking` takes its lines' stock. Each line is matched by SKU to its store's
/// product or kit; a product line takes its quantity, a kit line each component times its
/// quantity in the kit ([`line_movements`]). Each product a line moves gets one movement of
/// cause `('order_line', line id)`, inserted with ON CONFLICT DO NOTHING, so importing the order
/// again (overlapping windows, duplicate webhooks, a retried job) takes nothing twice. Lines
/// with no SKU or an unknown one take nothing. The matched product and kit components are
/// written onto the order's lines, as the unified order shows them. A line is counted once, at
/// the quantity it had when first applied: an edit of the quantity on the channel afterwards is
/// not re-counted.
///
/// Each order of `giving_back` puts back what it took, for a cancellation before despatch: each
/// of its `order_line` movements gets its exact opposite, cause `('order_cancel', line id)`, so
/// what comes back is what was taken, whatever happened to the kit's recipe or the order's lines
/// since; a second cancellation finds its movements there and changes nothing. An order
/// imported again after its cancellation takes nothing either: its line movements are already
/// in the ledger.
///
/// Which orders take stock and which give it back (not excluded ones, say) is the caller's
/// decision. Every product either moves is locked once, in id order, before any movement is
/// looked for or written, so a page's orders are applied as one writer and two pages sharing
/// products never deadlock. Per product, the page's movements are in the order of `taking`.
///
/// Returns the ids of the products whose quantity changed now (empty on a re-import): the
/// products whose listings sync-stock must push, found with
/// [`super::channel_products::channels_listing_products`].
pub async fn apply_page_in_tx(
    conn: &mut PgConnection,
    taking: &[i64],
    giving_back: &[i64],
) -> Result<Vec<i64>, StoreError> {
    let mut seen = BTreeSet::new();
    let taking: Vec<i64> = taking
        .iter()
        .copied()
        .filter(|id| seen.insert(*id))
        .collect();
    let takes = page_takes(conn, &taking).await?;
    if !takes.lines.is_empty() {
        sqlx::query(
            "UPDATE order_lines ol \
             SET product_id = m.product_id, kit_components = m.kit::jsonb \
             FROM UNNEST($1::bigint[], $2::bigint[], $3::text[]) AS m(line_id, product_id, kit) \
             WHERE ol.id = m.line_id \
               AND (ol.product_id IS DISTINCT FROM m.product_id \
                    OR ol.kit_components <> m.kit::jsonb)",
        )
        .bind(&takes.lines)
        .bind(&takes.line_products)
        .bind(&takes.line_kits)
        .execute(&mut *conn)
        .await?;
    }
    let returned: Vec<i64> = if giving_back.is_empty() {
        Vec::new()
    } else {
        sqlx::query_scalar(
            "SELECT DISTINCT product_id FROM stock_movements \
             WHERE order_id = ANY($1) AND cause_kind = 'order_line'",
        )
        .bind(giving_back)
        .fetch_all(&mut *conn)
        .await?
    };
    let to_lock: Vec<i64> = takes
        .products
        .iter()
        .chain(&returned)
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if to_lock.is_empty() {
        return Ok(Vec::new());
    }
    lock_products(conn, &to_lock).await?;
    let mut changed: Vec<i64> = Vec::new();
    if !takes.products.is_empty() {
        changed = sqlx::query_scalar(
            "WITH ins AS ( \
                 INSERT INTO stock_movements \
                     (account_id, product_id, field, delta, cause_kind, cause_id, order_id) \
                 SELECT m.account_id, m.product_id, 'api', m.delta, 'order_line', m.cause_id, \
                        m.order_id \
                 FROM UNNEST($1::bigint[], $2::bigint[], $3::int[], $4::text[], $5::bigint[]) \
                      WITH ORDINALITY AS m(account_id, product_id, delta, cause_id, order_id, n) \
                 ORDER BY m.product_id, m.n \
                 ON CONFLICT (product_id, field, cause_kind, cause_id) DO NOTHING \
                 RETURNING product_id, delta \
             ), upd AS ( \
                 UPDATE products p \
                 SET api_quantity = p.api_quantity + s.delta, updated_at = now() \
                 FROM (SELECT product_id, sum(delta)::int AS delta FROM ins GROUP BY product_id) s \
                 WHERE p.id = s.product_id AND s.delta <> 0 \
                 RETURNING p.id \
             ) \
             SELECT id FROM upd",
        )
        .bind(&takes.accounts)
        .bind(&takes.products)
        .bind(&takes.deltas)
        .bind(&takes.causes)
        .bind(&takes.orders)
        .fetch_all(&mut *conn)
        .await?;
    }
    if !returned.is_empty() {
        let restored: Vec<i64> = sqlx::query_scalar(
            "WITH ins AS ( \
                 INSERT INTO stock_movements \
                     (account_id, product_id, field, delta, cause_kind, cause_id, order_id) \
                 SELECT account_id, product_id, field, -delta, 'order_cancel', cause_id, order_id \
                 FROM stock_movements \
                 WHERE order_id = ANY($1) AND cause_kind = 'order_line' \
                 ORDER BY product_id, id \
                 ON CONFLICT (product_id, field, cause_kind, cause_id) DO NOTHING \
                 RETURNING product_id, field, delta \
             ), upd AS ( \
                 UPDATE products p SET \
                     api_quantity = p.api_quantity + s.api, \
                     plugin_quantity = p.plugin_quantity + s.plugin, \
                     updated_at = now() \
                 FROM (SELECT product_id, \
                              COALESCE(sum(delta) FILTER (WHERE field = 'api'), 0)::int AS api, \
                              COALESCE(sum(delta) FILTER (WHERE field = 'plugin'), 0)::int \
                                  AS plugin \
                       FROM ins GROUP BY product_id) s \
                 WHERE p.id = s.product_id AND (s.api <> 0 OR s.plugin <> 0) \
                 RETURNING p.id \
             ) \
             SELECT id FROM upd",
        )
        .bind(giving_back)
        .fetch_all(&mut *conn)
        .await?;
        changed.extend(restored);
    }
    changed.sort_unstable();
    changed.dedup();
    Ok(changed)
}

/// [`apply_page_in_tx`] for one order already written in this transaction, taking its stock.
pub async fn apply_stored_order_in_tx(
    conn: &mut PgConnection,
    order_id: i64,
) -> Result<Vec<i64>, StoreError> {
    apply_page_in_tx(conn, &[order_id], &[]).await
}

/// [`apply_page_in_tx`] for one order, putting back what it took: a cancellation before
/// despatch.
pub async fn restore_order_in_tx(
    conn: &mut PgConnection,
    order_id: i64,
) -> Result<Vec<i64>, StoreError> {
    apply_page_in_tx(conn, &[], &[order_id]).await
}
