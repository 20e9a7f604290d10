//! Orders in the unified format: the idempotent upsert the import is built on, and the reads the
//! API serves.
//!
//! An order is unique on (channel, channel order id). Importing the same order again changes
//! nothing (no `updated_at` bump, no event, no line rewritten) unless the channel's copy changed,
//! because channels resend orders all the time (overlapping import windows, duplicate webhooks)
//! and every spurious change would reach webhooks and fulfilment.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};

use super::channels::ChannelRow;
use super::{account_row, enum_from_text, enum_text, AccountId, StoreError};
use crate::domain::filters::Decision;
use crate::domain::fulfilment::status_on_reimport;
use crate::domain::order_changes::{normalised, same_channel_data, same_channel_lines};
use crate::domain::order_events::event_kind;
use crate::domain::order_state::{self, SetBy, SyncEvent, SyncState};
use crate::domain::plugin_rules;
use crate::domain::PageCursor;
use crate::domain::{
    Address, ChannelKind, ChannelOrder, Customer, KitComponent, OrderLine, OrderStatus, SyncStatus,
    Totals, UnifiedOrder,
};

/// Most orders one list page returns.
pub const MAX_PAGE: u32 = 200;

/// What an upsert did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpsertOutcome {
    pub order_id: i64,
    /// The order was new.
    pub created: bool,
    /// Anything was written (always true when created).
    pub changed: bool,
    /// The channel status moved (an `order_events` row was written).
    pub status_change: Option<(OrderStatus, OrderStatus)>,
    /// The sync status the order has now.
    pub sync_status: SyncStatus,
}

/// A stored order: the unified order, and why it is held or excluded when it is. What
/// `GET /v1/orders/{id}` answers and every `order.*` event carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = Order, example = json!({
    "id": 1,
    "store_id": 1,
    "channel_id": 1,
    "sync_status": "pending",
    "updated_at": "2026-12-04T22:43:30.329919Z",
    "channel_kind": "shopify",
    "channel_order_id": "5600000001017",
    "order_number": "#1001",
    "status": "unshipped",
    "currency": "USD",
    "totals": {"subtotal": "68.00", "shipping": "7.95", "tax": "5.44", "discount": "0.00",
               "total": "81.39"},
    "customer": {"name": "Alan Ritchie", "email": "alan.ritchie1@example.com",
                 "phone": "+1 555-010-868"},
    "shipping_address": {"name": "Alan Ritchie", "company": null, "line1": "81 Mill Road",
                         "line2": null, "city": "Austin", "region": "TX", "postcode": "78701",
                         "country_code": "US"},
    "billing_address": {"name": "Alan Ritchie", "company": null, "line1": "81 Mill Road",
                        "line2": null, "city": "Austin", "region": "TX", "postcode": "78701",
                        "country_code": "US"},
    "lines": [{"id": 1, "channel_line_id": "13500000000007", "sku": "HL-1", "title": "Headlamp",
               "quantity": 2, "unit_price": "34.00", "tax": "0.00", "product_id": 2,
               "kit_components": [{"product_id": 1, "sku": "MS-1", "quantity": 2}]}],
    "placed_at": "2026-12-04T22:43:30Z",
    "paid_at": "2026-12-04T22:43:30Z",
    "channel_updated_at": "2026-12-04T22:43:30Z",
    "tags": [],
    "notes": null,
    "excluded_reason": null,
    "sync_set_by": null,
    "internal_notes": [{"id": 1, "body": "Customer asked for gift wrap", "created_at": "2026-12-04T22:50:02.118031Z"}]
}))]
pub struct StoredOrder {
    #[serde(flatten)]
    pub order: UnifiedOrder,
    /// Why switchyard holds, excludes or failed the order (`sync_status` `on_hold`, `excluded`
    /// or `failed`).
    #[schema(required = true)]
    pub excluded_reason: Option<String>,
    /// Whose decision holds or excludes the order, or included it by hand: `channel` (its
    /// settings or status, decided afresh on each import), `rule` (a plugin rule) or `user` (an
    /// API caller; no import overrides it). Null otherwise.
    #[schema(required = true)]
    pub sync_set_by: Option<SetBy>,
    /// Notes added through the API (`POST /v1/orders/{id}/notes`), oldest first; the channel's
    /// own note is `notes`.
    pub internal_notes: Vec<OrderNote>,
}

/// A note added to an order through the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(example = json!({"id": 1, "body": "Customer asked for gift wrap",
                          "created_at": "2026-12-04T22:50:02.118031Z"}))]
pub struct OrderNote {
    pub id: i64,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// Filters of the order list; all optional, combined with AND.
#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    pub store_id: Option<i64>,
    pub channel_id: Option<i64>,
    pub status: Option<OrderStatus>,
    pub sync_status: Option<SyncStatus>,
    /// Orders switchyard changed at or after this time.
    pub updated_since: Option<DateTime<Utc>>,
    /// Continue after this row (from the previous page's `next_cursor`).
    pub after: Option<PageCursor>,
    /// 1..=[`MAX_PAGE`]; values outside are clamped.
    pub limit: u32,
}

/// One page of orders, oldest change first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderListPage {
    pub orders: Vec<StoredOrder>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<String>,
}

#[derive(sqlx::FromRow)]
struct OrderRaw {
    id: i64,
    store_id: i64,
    channel_id: i64,
    channel_kind: String,
    channel_order_id: String,
    order_number: String,
    status: String,
    sync_status: String,
    currency: String,
    totals: Json<Totals>,
    customer: Json<Customer>,
    shipping_address: Option<Json<Address>>,
    billing_address: Option<Json<Address>>,
    placed_at: DateTime<Utc>,
    paid_at: Option<DateTime<Utc>>,
    channel_updated_at: DateTime<Utc>,
    tags: Vec<String>,
    notes: Option<String>,
    excluded_reason: Option<String>,
    updated_at: DateTime<Utc>,
    /// What plugin rules added (crate::domain::plugin_rules), kept through re-imports.
    rule_tags: Vec<String>,
    sync_set_by: Option<String>,
    /// What callers added, kept through re-imports like `rule_tags`.
    user_tags: Vec<String>,
}

const ORDER_COLUMNS: &str = "o.id, o.store_id, o.channel_id, c.kind AS channel_kind, \
     o.channel_order_id, o.order_number, o.status, o.sync_status, o.currency, o.totals, \
     o.customer, o.shipping_address, o.billing_address, o.placed_at, o.paid_at, \
     o.channel_updated_at, o.tags, o.notes, o.excluded_reason, o.updated_at, o.rule_tags, \
     o.sync_set_by, o.user_tags";

#[derive(sqlx::FromRow)]
struct LineRaw {
    id: i64,
    order_id: i64,
    channel_line_id: String,
    sku: Option<String>,
    title: String,
    quantity: i32,
    unit_price: String,
    tax: String,
    product_id: Option<i64>,
    kit_components: Json<Vec<KitComponent>>,
}

impl LineRaw {
    fn into_line(self) -> Result<OrderLine, StoreError> {
        Ok(OrderLine {
            id: Some(self.id),
            channel_line_id: self.channel_line_id,
            sku: self.sku,
            title: self.title,
            quantity: u32::try_from(self.quantity)
                .map_err(|_| StoreError::Corrupt(format!("line {} quantity", self.id)))?,
            unit_price: self.unit_price,
            tax: self.tax,
            product_id: self.product_id,
            kit_components: self.kit_components.0,
        })
    }
}

impl OrderRaw {
    /// The order's sync state as the state model sees it.
    pub(crate) fn sync_state(&self) -> Result<SyncState, StoreError> {
        Ok(SyncState::new(
            enum_from_text(&self.sync_status)?,
            self.excluded_reason.clone(),
            self.sync_set_by
                .as_deref()
                .map(enum_from_text)
                .transpose()?,
        ))
    }

    fn into_stored(
        self,
        lines: Vec<OrderLine>,
        internal_notes: Vec<OrderNote>,
    ) -> Result<StoredOrder, StoreError> {
        let sync_set_by = self
            .sync_set_by
            .as_deref()
            .map(enum_from_text)
            .transpose()?;
        let kind: ChannelKind = enum_from_text(&self.channel_kind)?;
        Ok(StoredOrder {
            order: UnifiedOrder {
                id: self.id,
                store_id: self.store_id,
                channel_id: self.channel_id,
                sync_status: enum_from_text(&self.sync_status)?,
                updated_at: self.updated_at,
                order: ChannelOrder {
                    channel_kind: kind,
                    channel_order_id: self.channel_order_id,
                    order_number: self.order_number,
                    status: enum_from_text(&self.status)?,
                    currency: self.currency,
                    totals: self.totals.0,
                    customer: self.customer.0,
                    shipping_address: self.shipping_address.map(|a| a.0),
                    billing_address: self.billing_address.map(|a| a.0),
                    lines,
                    placed_at: self.placed_at,
                    paid_at: self.paid_at,
                    channel_updated_at: self.channel_updated_at,
                    tags: self.tags,
                    notes: self.notes,
                    not_ready: None,
                },
            },
            excluded_reason: self.excluded_reason,
            sync_set_by,
            internal_notes,
        })
    }
}

async fn select_for_update(
    conn: &mut PgConnection,
    channel_id: i64,
    channel_order_id: &str,
) -> Result<Option<OrderRaw>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {ORDER_COLUMNS} FROM orders o JOIN channels c ON c.id = o.channel_id \
         WHERE o.channel_id = $1 AND o.channel_order_id = $2 FOR UPDATE OF o"
    ))
    .bind(channel_id)
    .bind(channel_order_id)
    .fetch_optional(conn)
    .await?)
}

async fn lines_of(
    conn: &mut PgConnection,
    order_ids: &[i64],
) -> Result<HashMap<i64, Vec<OrderLine>>, StoreError> {
    let rows: Vec<LineRaw> = sqlx::query_as(
        "SELECT id, order_id, channel_line_id, sku, title, quantity, unit_price, tax, \
                product_id, kit_components \
         FROM order_lines WHERE order_id = ANY($1) ORDER BY order_id, id",
    )
    .bind(order_ids)
    .fetch_all(conn)
    .await?;
    let mut by_order: HashMap<i64, Vec<OrderLine>> = HashMap::new();
    for row in rows {
        let order_id = row.order_id;
        by_order.entry(order_id).or_default().push(row.into_line()?);
    }
    Ok(by_order)
}

/// Lines as parallel columns, for multi-row statements over `UNNEST`.
#[derive(Default)]
struct LineColumns {
    ids: Vec<String>,
    skus: Vec<Option<String>>,
    titles: Vec<String>,
    quantities: Vec<i32>,
    prices: Vec<String>,
    taxes: Vec<String>,
    kits: Vec<String>,
}

impl LineColumns {
    fn push(&mut self, l: &OrderLine) -> Result<(), StoreError> {
        self.ids.push(l.channel_line_id.clone());
        self.skus.push(l.sku.clone());
        self.titles.push(l.title.clone());
        self.quantities
            .push(i32::try_from(l.quantity).unwrap_or(i32::MAX));
        self.prices.push(l.unit_price.clone());
        self.taxes.push(l.tax.clone());
        self.kits.push(
            serde_json::to_string(&l.kit_components)
                .map_err(|e| StoreError::Corrupt(format!("kit components: {e}")))?,
        );
        Ok(())
    }
}

/// Inserts the order's lines, or updates the channel's fields of lines already there, and
/// removes lines the channel no longer has (an edited order).
async fn write_lines(
    conn: &mut PgConnection,
    order_id: i64,
    lines: &[OrderLine],
) -> Result<(), StoreError> {
    let mut c = LineColumns::default();
    for l in lines {
        c.push(l)?;
    }
    sqlx::query(
        "INSERT INTO order_lines \
             (order_id, channel_line_id, sku, title, quantity, unit_price, tax, kit_components) \
         SELECT $1, l.id, l.sku, l.title, l.quantity, l.price, l.tax, l.kit::jsonb \
         FROM UNNEST($2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::text[], \
                     $8::text[]) AS l(id, sku, title, quantity, price, tax, kit) \
         ON CONFLICT (order_id, channel_line_id) DO UPDATE SET \
             sku = EXCLUDED.sku, title = EXCLUDED.title, quantity = EXCLUDED.quantity, \
             unit_price = EXCLUDED.unit_price, tax = EXCLUDED.tax",
    )
    .bind(order_id)
    .bind(&c.ids)
    .bind(&c.skus)
    .bind(&c.titles)
    .bind(&c.quantities)
    .bind(&c.prices)
    .bind(&c.taxes)
    .bind(&c.kits)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM order_lines WHERE order_id = $1 AND NOT (channel_line_id = ANY($2))")
        .bind(order_id)
        .bind(&c.ids)
        .execute(conn)
        .await?;
    Ok(())
}

async fn write_event(
    conn: &mut PgConnection,
    order_id: i64,
    kind: &str,
    from: Option<OrderStatus>,
    to: OrderStatus,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO order_events (order_id, kind, from_status, to_status) VALUES ($1, $2, $3, $4)",
    )
    .bind(order_id)
    .bind(kind)
    .bind(from.as_ref().map(enum_text).transpose()?)
    .bind(enum_text(&to)?)
    .execute(conn)
    .await?;
    Ok(())
}

/// The `created` rows of new orders' histories: each order's channel status, and the sync status
/// it starts in with why.
async fn write_created(
    conn: &mut PgConnection,
    created: &[(i64, OrderStatus, &SyncState)],
) -> Result<(), StoreError> {
    if created.is_empty() {
        return Ok(());
    }
    let mut ids = Vec::with_capacity(created.len());
    let mut statuses = Vec::with_capacity(created.len());
    let mut syncs = Vec::with_capacity(created.len());
    let mut details = Vec::with_capacity(created.len());
    for (id, status, first) in created {
        ids.push(*id);
        statuses.push(enum_text(status)?);
        syncs.push(enum_text(&first.sync)?);
        details.push(first.reason.clone());
    }
    sqlx::query(
        "INSERT INTO order_events (order_id, kind, from_status, to_status, to_sync_status, detail) \
         SELECT e.order_id, 'created', NULL, e.status, e.sync, e.detail \
         FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[]) \
              WITH ORDINALITY AS e(order_id, status, sync, detail, n) \
         ORDER BY e.n",
    )
    .bind(&ids)
    .bind(&statuses)
    .bind(&syncs)
    .bind(&details)
    .execute(conn)
    .await?;
    Ok(())
}

/// Binds the order's own columns as `$3..=$18` in the order of [`DATA_COLUMNS`].
macro_rules! bind_data {
    ($query:expr, $o:expr, $sync:expr, $reason:expr) => {
        $query
            .bind(&$o.order_number)
            .bind(enum_text(&$o.status)?)
            .bind(enum_text(&$sync)?)
            .bind(&$o.currency)
            .bind(Json(&$o.totals))
            .bind(Json(&$o.customer))
            .bind($o.shipping_address.as_ref().map(Json))
            .bind($o.billing_address.as_ref().map(Json))
            .bind($o.placed_at)
            .bind($o.paid_at)
            .bind($o.channel_updated_at)
            .bind(&$o.tags)
            .bind(&$o.notes)
            .bind($reason)
    };
}

/// Stores an order read from `channel`, idempotently, in the caller's transaction.
///
/// `decision` is what the channel's filters say about the order now
/// ([`crate::domain::decide`]); for an order already stored it is combined with the stored sync
/// status by [`order_state::next`], so an order already being worked keeps its sync status. A
/// status change writes an `order_events` row; a new order writes a `created` one.
pub async fn upsert_order(
    conn: &mut PgConnection,
    channel: &ChannelRow,
    order: &ChannelOrder,
    decision: &Decision,
) -> Result<UpsertOutcome, StoreError> {
    let incoming = normalised(order);
    // Two passes at most: if a concurrent import inserts the order between our read and our
    // insert, the insert does nothing and the second pass updates the row it wrote.
    for _ in 0..2 {
        if let Some(existing) =
            select_for_update(conn, channel.id, &incoming.channel_order_id).await?
        {
            let mut lines = lines_of(conn, &[existing.id]).await?;
            let stored_lines = lines.remove(&existing.id).unwrap_or_default();
            return update_existing(conn, existing, stored_lines, &incoming, decision).await;
        }
        let first = order_state::first(decision);
        let (sync, reason) = (first.sync, first.reason.clone());
        let inserted: Option<i64> = bind_data!(
            sqlx::query_scalar(
                "INSERT INTO orders (account_id, store_id, channel_id, channel_order_id, \
                     order_number, status, sync_status, currency, totals, customer, \
                     shipping_address, billing_address, placed_at, paid_at, channel_updated_at, \
                     tags, notes, excluded_reason, sync_set_by) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
                         $17, $18, $19) \
                 ON CONFLICT (channel_id, channel_order_id) DO NOTHING \
                 RETURNING id",
            )
            .bind(channel.account_id.0)
            .bind(channel.store_id)
            .bind(channel.id)
            .bind(&incoming.channel_order_id),
            incoming,
            sync,
            reason.as_deref()
        )
        .bind(first.by.as_ref().map(enum_text).transpose()?)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(order_id) = inserted {
            write_lines(conn, order_id, &incoming.lines).await?;
            write_created(conn, &[(order_id, incoming.status, &first)]).await?;
            return Ok(UpsertOutcome {
                order_id,
                created: true,
                changed: true,
                status_change: None,
                sync_status: sync,
            });
        }
    }
    Err(StoreError::Conflict(format!(
        "order {} of channel {} could be neither inserted nor read",
        incoming.channel_order_id, channel.id
    )))
}

/// Updates a stored order (read and locked by the caller, with its `stored_lines`) from the
/// channel's copy, writing only what changed.
async fn update_existing(
    conn: &mut PgConnection,
    mut existing: OrderRaw,
    stored_lines: Vec<OrderLine>,
    incoming: &ChannelOrder,
    decision: &Decision,
) -> Result<UpsertOutcome, StoreError> {
    let order_id = existing.id;
    // The stored tags hold what plugin rules and callers added; the channel's copy is compared
    // and written with them, so they neither count as a change nor get lost.
    let mut added = std::mem::take(&mut existing.rule_tags);
    added.extend(std::mem::take(&mut existing.user_tags));
    let current = existing.sync_state()?;
    let merged;
    let incoming = match added.is_empty() {
        true => incoming,
        false => {
            merged = ChannelOrder {
                tags: plugin_rules::merged_tags(&incoming.tags, &added),
                ..incoming.clone()
            };
            &merged
        }
    };
    let stored = existing.into_stored(stored_lines, Vec::new())?;
    // An older copy of the order than the one held (a webhook delivered late or again) changes
    // nothing.
    if incoming.channel_updated_at < stored.order.order.channel_updated_at {
        return Ok(UpsertOutcome {
            order_id,
            created: false,
            changed: false,
            status_change: None,
            sync_status: stored.order.sync_status,
        });
    }
    let kept_status;
    let incoming = {
        let status = status_on_reimport(stored.order.order.status, incoming.status);
        match status == incoming.status {
            true => incoming,
            false => {
                kept_status = ChannelOrder {
                    status,
                    ..incoming.clone()
                };
                &kept_status
            }
        }
    };
    let event = SyncEvent::Imported {
        decision: decision.clone(),
        status: incoming.status,
    };
    let next = order_state::next(&current, &event)
        .map_err(|r| StoreError::Corrupt(format!("an import was refused: {r}")))?;
    let (sync, reason) = (next.sync, next.reason.clone());
    let before = &stored.order.order;
    let data_same = same_channel_data(before, incoming);
    let lines_same = same_channel_lines(&before.lines, &incoming.lines);
    let changed = !data_same || next != current;
    let status_change =
        (before.status != incoming.status).then_some((before.status, incoming.status));
    if changed {
        bind_data!(
            sqlx::query(
                "UPDATE orders SET order_number = $3, status = $4, sync_status = $5, \
                     currency = $6, totals = $7, customer = $8, shipping_address = $9, \
                     billing_address = $10, placed_at = $11, paid_at = $12, \
                     channel_updated_at = $13, tags = $14, notes = $15, excluded_reason = $16, \
                     sync_set_by = $17, updated_at = now() \
                 WHERE id = $1 AND channel_id = $2",
            )
            .bind(order_id)
            .bind(stored.order.channel_id),
            incoming,
            sync,
            reason.as_deref()
        )
        .bind(next.by.as_ref().map(enum_text).transpose()?)
        .execute(&mut *conn)
        .await?;
    }
    if !lines_same {
        write_lines(conn, order_id, &incoming.lines).await?;
    }
    if let Some((from, to)) = status_change {
        write_event(conn, order_id, event_kind(from, to), Some(from), to).await?;
    }
    if next != current {
        let kind = event.kind(&next);
        super::order_state::write_sync_event(conn, order_id, kind, Some(&current), &next).await?;
    }
    Ok(UpsertOutcome {
        order_id,
        created: false,
        changed,
        status_change,
        sync_status: sync,
    })
}

/// Stores a page of orders read from `channel`, in the caller's transaction: the same rows,
/// events and outcomes (one per order, in page order) as [`upsert_order`] on each order in turn,
/// in a few statements for the whole page rather than several per order, because an import's
/// time goes on database round trips.
///
/// The page's known orders are read and locked in one statement and compared in memory, so an
/// unchanged order (the common case: import windows overlap) writes nothing, and a changed one is
/// updated as [`upsert_order`] would. New orders, their lines and their `created` events are
/// written with one multi-row statement each. An order a concurrent import inserted after the
/// read is then upserted on its own, which finds and updates it.
pub async fn upsert_page(
    conn: &mut PgConnection,
    channel: &ChannelRow,
    page: &[(ChannelOrder, Decision)],
) -> Result<Vec<UpsertOutcome>, StoreError> {
    let incoming: Vec<ChannelOrder> = page.iter().map(|(o, _)| normalised(o)).collect();
    let mut distinct = HashSet::new();
    if !incoming
        .iter()
        .all(|o| distinct.insert(o.channel_order_id.as_str()))
    {
        // An order twice in one page: each copy must see the one before it, as one at a time
        // does. Pages rarely repeat an order, so this path need not be fast.
        let mut out = Vec::with_capacity(page.len());
        for (order, decision) in page {
            out.push(upsert_order(conn, channel, order, decision).await?);
        }
        return Ok(out);
    }
    let ids: Vec<&str> = incoming
        .iter()
        .map(|o| o.channel_order_id.as_str())
        .collect();
    let mut known = select_page_for_update(conn, channel.id, &ids).await?;
    let known_ids: Vec<i64> = known.values().map(|r| r.id).collect();
    let mut known_lines = match known_ids.is_empty() {
        true => HashMap::new(),
        false => lines_of(conn, &known_ids).await?,
    };
    let mut outcomes: Vec<Option<UpsertOutcome>> = vec![None; page.len()];
    let mut fresh = Vec::new();
    for (i, (order, (_, decision))) in incoming.iter().zip(page).enumerate() {
        match known.remove(&order.channel_order_id) {
            Some(row) => {
                let lines = known_lines.remove(&row.id).unwrap_or_default();
                outcomes[i] = Some(update_existing(conn, row, lines, order, decision).await?);
            }
            None => fresh.push(i),
        }
    }
    let new: Vec<(&ChannelOrder, &Decision)> =
        fresh.iter().map(|&i| (&incoming[i], &page[i].1)).collect();
    let mut inserted = insert_new(conn, channel, &new).await?;
    for i in fresh {
        outcomes[i] = Some(match inserted.remove(&incoming[i].channel_order_id) {
            Some((order_id, sync_status)) => UpsertOutcome {
                order_id,
                created: true,
                changed: true,
                status_change: None,
                sync_status,
            },
            None => upsert_order(conn, channel, &page[i].0, &page[i].1).await?,
        });
    }
    outcomes
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| StoreError::Conflict("an order of the page was left unstored".into()))
}

/// The channel's stored orders among `channel_order_ids`, locked, by channel order id.
async fn select_page_for_update(
    conn: &mut PgConnection,
    channel_id: i64,
    channel_order_ids: &[&str],
) -> Result<HashMap<String, OrderRaw>, StoreError> {
    // Locked in id order, so two transactions locking overlapping pages cannot deadlock.
    let rows: Vec<OrderRaw> = sqlx::query_as(&format!(
        "SELECT {ORDER_COLUMNS} FROM orders o JOIN channels c ON c.id = o.channel_id \
         WHERE o.channel_id = $1 AND o.channel_order_id = ANY($2) \
         ORDER BY o.id FOR UPDATE OF o"
    ))
    .bind(channel_id)
    .bind(channel_order_ids)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.channel_order_id.clone(), r))
        .collect())
}

fn json_text<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(format!("order JSON: {e}")))
}

/// New orders (normalised) as parallel columns, for one `INSERT ... SELECT FROM UNNEST`.
#[derive(Default)]
struct OrderColumns {
    channel_order_ids: Vec<String>,
    numbers: Vec<String>,
    statuses: Vec<String>,
    syncs: Vec<String>,
    currencies: Vec<String>,
    totals: Vec<String>,
    customers: Vec<String>,
    shipping: Vec<Option<String>>,
    billing: Vec<Option<String>>,
    placed: Vec<DateTime<Utc>>,
    paid: Vec<Option<DateTime<Utc>>>,
    channel_updated: Vec<DateTime<Utc>>,
    tags: Vec<String>,
    notes: Vec<Option<String>>,
    reasons: Vec<Option<String>>,
    set_by: Vec<Option<String>>,
}

impl OrderColumns {
    fn push(&mut self, o: &ChannelOrder, first: &SyncState) -> Result<(), StoreError> {
        self.channel_order_ids.push(o.channel_order_id.clone());
        self.numbers.push(o.order_number.clone());
        self.statuses.push(enum_text(&o.status)?);
        self.syncs.push(enum_text(&first.sync)?);
        self.currencies.push(o.currency.clone());
        self.totals.push(json_text(&o.totals)?);
        self.customers.push(json_text(&o.customer)?);
        self.shipping
            .push(o.shipping_address.as_ref().map(json_text).transpose()?);
        self.billing
            .push(o.billing_address.as_ref().map(json_text).transpose()?);
        self.placed.push(o.placed_at);
        self.paid.push(o.paid_at);
        self.channel_updated.push(o.channel_updated_at);
        self.tags.push(json_text(&o.tags)?);
        self.notes.push(o.notes.clone());
        self.reasons.push(first.reason.clone());
        self.set_by
            .push(first.by.as_ref().map(enum_text).transpose()?);
        Ok(())
    }
}

/// Inserts `orders` (normalised, none stored at the read) with their lines and `created`
/// events. Returns each inserted order's id and sync status by channel order id; an order a
/// concurrent import inserted first is left out.
async fn insert_new(
    conn: &mut PgConnection,
    channel: &ChannelRow,
    orders: &[(&ChannelOrder, &Decision)],
) -> Result<HashMap<String, (i64, SyncStatus)>, StoreError> {
    if orders.is_empty() {
        return Ok(HashMap::new());
    }
    let mut cols = OrderColumns::default();
    let mut firsts = HashMap::with_capacity(orders.len());
    for (order, decision) in orders {
        let first = order_state::first(decision);
        cols.push(order, &first)?;
        firsts.insert(order.channel_order_id.as_str(), first);
    }
    // ORDER BY the input position, so ids (and so the list order) follow the page as one at a
    // time would.
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "INSERT INTO orders (account_id, store_id, channel_id, channel_order_id, \
             order_number, status, sync_status, currency, totals, customer, \
             shipping_address, billing_address, placed_at, paid_at, channel_updated_at, \
             tags, notes, excluded_reason, sync_set_by) \
         SELECT $1, $2, $3, o.id, o.number, o.status, o.sync, o.currency, o.totals::jsonb, \
                o.customer::jsonb, o.shipping::jsonb, o.billing::jsonb, o.placed_at, \
                o.paid_at, o.updated_at, \
                ARRAY(SELECT jsonb_array_elements_text(o.tags::jsonb)), o.notes, o.reason, \
                o.set_by \
         FROM UNNEST($4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], \
                     $10::text[], $11::text[], $12::text[], $13::timestamptz[], \
                     $14::timestamptz[], $15::timestamptz[], $16::text[], $17::text[], \
                     $18::text[], $19::text[]) \
              WITH ORDINALITY AS o(id, number, status, sync, currency, totals, customer, \
                                   shipping, billing, placed_at, paid_at, updated_at, tags, \
                                   notes, reason, set_by, n) \
         ORDER BY o.n \
         ON CONFLICT (channel_id, channel_order_id) DO NOTHING \
         RETURNING id, channel_order_id",
    )
    .bind(channel.account_id.0)
    .bind(channel.store_id)
    .bind(channel.id)
    .bind(&cols.channel_order_ids)
    .bind(&cols.numbers)
    .bind(&cols.statuses)
    .bind(&cols.syncs)
    .bind(&cols.currencies)
    .bind(&cols.totals)
    .bind(&cols.customers)
    .bind(&cols.shipping)
    .bind(&cols.billing)
    .bind(&cols.placed)
    .bind(&cols.paid)
    .bind(&cols.channel_updated)
    .bind(&cols.tags)
    .bind(&cols.notes)
    .bind(&cols.reasons)
    .bind(&cols.set_by)
    .fetch_all(&mut *conn)
    .await?;
    let ids: HashMap<String, i64> = rows.into_iter().map(|(id, coid)| (coid, id)).collect();

    let mut line_orders = Vec::new();
    let mut lines = LineColumns::default();
    let mut created = Vec::with_capacity(ids.len());
    for (order, _) in orders {
        let Some(&order_id) = ids.get(&order.channel_order_id) else {
            continue;
        };
        for l in &order.lines {
            line_orders.push(order_id);
            lines.push(l)?;
        }
        if let Some(first) = firsts.get(order.channel_order_id.as_str()) {
            created.push((order_id, order.status, first));
        }
    }
    if !line_orders.is_empty() {
        sqlx::query(
            "INSERT INTO order_lines \
                 (order_id, channel_line_id, sku, title, quantity, unit_price, tax, \
                  kit_components) \
             SELECT l.order_id, l.id, l.sku, l.title, l.quantity, l.price, l.tax, l.kit::jsonb \
             FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::int[], \
                         $6::text[], $7::text[], $8::text[]) \
                  WITH ORDINALITY AS l(order_id, id, sku, title, quantity, price, tax, kit, n) \
             ORDER BY l.n",
        )
        .bind(&line_orders)
        .bind(&lines.ids)
        .bind(&lines.skus)
        .bind(&lines.titles)
        .bind(&lines.quantities)
        .bind(&lines.prices)
        .bind(&lines.taxes)
        .bind(&lines.kits)
        .execute(&mut *conn)
        .await?;
    }
    write_created(conn, &created).await?;
    Ok(ids
        .into_iter()
        .filter_map(|(coid, id)| {
            let sync = firsts.get(coid.as_str())?.sync;
            Some((coid, (id, sync)))
        })
        .collect())
}

/// How long after an order's change (on the channel's clock) switchyard must have read it for
/// the stored copy to count as the order as it is: platforms stamp changes to the second, so an
/// order read within its change's second may have changed again unseen, and the two clocks may
/// differ by a few seconds.
pub const SETTLED_AFTER: Duration = Duration::seconds(5);

/// The channel's orders changed on it at or after `since` that switchyard holds as they are
/// (read at least [`SETTLED_AFTER`] after their last change): their channel ids and change
/// times. An import walking the channel from `since` needs to read in full only the others.
pub async fn channel_versions_since(
    pool: &PgPool,
    channel_id: i64,
    since: DateTime<Utc>,
) -> Result<HashMap<String, DateTime<Utc>>, StoreError> {
    let rows: Vec<(String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT channel_order_id, channel_updated_at FROM orders \
         WHERE channel_id = $1 AND channel_updated_at >= $2 \
           AND channel_read_at >= channel_updated_at + make_interval(secs => $3)",
    )
    .bind(channel_id)
    .bind(since)
    .bind(SETTLED_AFTER.num_seconds() as f64)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().collect())
}

/// Records that the channel's orders `channel_order_ids` were just read from it, where that
/// tells the next import something: for an order never marked, or one this read settles (the
/// first read at least [`SETTLED_AFTER`] after its last change). One statement, which touches no
/// row already settled nor one read again too soon to settle it, so an import re-reading its
/// overlap writes nothing.
pub async fn mark_read_in_tx(
    conn: &mut PgConnection,
    channel_id: i64,
    channel_order_ids: &[&str],
) -> Result<(), StoreError> {
    if channel_order_ids.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE orders SET channel_read_at = now() \
         WHERE channel_id = $1 AND channel_order_id = ANY($2) \
           AND (channel_read_at IS NULL \
                OR (channel_read_at < channel_updated_at + make_interval(secs => $3) \
                    AND now() >= channel_updated_at + make_interval(secs => $3)))",
    )
    .bind(channel_id)
    .bind(channel_order_ids)
    .bind(SETTLED_AFTER.num_seconds() as f64)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// One of the account's orders.
pub async fn get_order(
    pool: &PgPool,
    account: AccountId,
    id: i64,
) -> Result<Option<StoredOrder>, StoreError> {
    let mut conn = pool.acquire().await?;
    let sql = format!(
        "SELECT {ORDER_COLUMNS} FROM orders o JOIN channels c ON c.id = o.channel_id \
         WHERE o.account_id = $1 AND o.id = $2"
    );
    let raw: Option<OrderRaw> = account_row(&mut *conn, &sql, account, id).await?;
    Ok(with_lines(&mut conn, raw.into_iter().collect())
        .await?
        .pop())
}

/// Orders by id, whatever their account, as the API shows them, in id order: what the events
/// of the transaction that changed them carry.
pub async fn read_in_tx(
    conn: &mut PgConnection,
    ids: &[i64],
) -> Result<Vec<StoredOrder>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<OrderRaw> = sqlx::query_as(&format!(
        "SELECT {ORDER_COLUMNS} FROM orders o JOIN channels c ON c.id = o.channel_id \
         WHERE o.id = ANY($1) ORDER BY o.id"
    ))
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    with_lines(conn, rows).await
}

/// The orders of `rows`, in the order given, with their lines.
async fn with_lines(
    conn: &mut PgConnection,
    rows: Vec<OrderRaw>,
) -> Result<Vec<StoredOrder>, StoreError> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut lines = lines_of(conn, &ids).await?;
    let mut notes = notes_of(conn, &ids).await?;
    rows.into_iter()
        .map(|r| {
            let order_lines = lines.remove(&r.id).unwrap_or_default();
            let order_notes = notes.remove(&r.id).unwrap_or_default();
            r.into_stored(order_lines, order_notes)
        })
        .collect()
}

/// The notes callers added to the orders, oldest first, by order.
async fn notes_of(
    conn: &mut PgConnection,
    order_ids: &[i64],
) -> Result<HashMap<i64, Vec<OrderNote>>, StoreError> {
    if order_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(i64, i64, String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT order_id, id, body, created_at FROM order_notes \
         WHERE order_id = ANY($1) ORDER BY order_id, id",
    )
    .bind(order_ids)
    .fetch_all(conn)
    .await?;
    let mut out: HashMap<i64, Vec<OrderNote>> = HashMap::new();
    for (order_id, id, body, created_at) in rows {
        out.entry(order_id).or_default().push(OrderNote {
            id,
            body,
            created_at,
        });
    }
    Ok(out)
}

/// A page of the account's orders by `(updated_at, id)`, oldest change first, so a client
/// syncing changes can walk forward from `updated_since` and resume from `next_cursor`.
pub async fn list_orders(
    pool: &PgPool,
    account: AccountId,
    filter: &OrderFilter,
) -> Result<OrderListPage, StoreError> {
    let limit = filter.limit.clamp(1, MAX_PAGE);
    let mut conn = pool.acquire().await?;
    let mut rows: Vec<OrderRaw> = sqlx::query_as(&format!(
        "SELECT {ORDER_COLUMNS} FROM orders o JOIN channels c ON c.id = o.channel_id \
         WHERE o.account_id = $1 \
           AND ($2::bigint IS NULL OR o.store_id = $2) \
           AND ($3::bigint IS NULL OR o.channel_id = $3) \
           AND ($4::text IS NULL OR o.status = $4) \
           AND ($5::text IS NULL OR o.sync_status = $5) \
           AND ($6::timestamptz IS NULL OR o.updated_at >= $6) \
           AND ($7::timestamptz IS NULL OR (o.updated_at, o.id) > ($7, $8)) \
         ORDER BY o.updated_at, o.id \
         LIMIT $9"
    ))
    .bind(account.0)
    .bind(filter.store_id)
    .bind(filter.channel_id)
    .bind(filter.status.as_ref().map(enum_text).transpose()?)
    .bind(filter.sync_status.as_ref().map(enum_text).transpose()?)
    .bind(filter.updated_since)
    .bind(filter.after.map(|c| c.updated_at))
    .bind(filter.after.map(|c| c.id).unwrap_or(0))
    // One more than asked shows whether another page follows.
    .bind(i64::from(limit) + 1)
    .fetch_all(&mut *conn)
    .await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_cursor = match (more, rows.last()) {
        (true, Some(last)) => Some(
            PageCursor {
                updated_at: last.updated_at,
                id: last.id,
            }
            .encode(),
        ),
        _ => None,
    };
    let orders = with_lines(&mut conn, rows).await?;
    Ok(OrderListPage {
        orders,
        next_cursor,
    })
}

/// One of the account's orders' status history, oldest first (empty for an unknown order).
pub async fn events(
    pool: &PgPool,
    account: AccountId,
    order_id: i64,
) -> Result<Vec<OrderEvent>, StoreError> {
    let rows: Vec<EventRaw> = sqlx::query_as(
        "SELECT e.kind, e.from_status, e.to_status, e.from_sync_status, e.to_sync_status, \
                e.detail, e.at \
         FROM order_events e JOIN orders o ON o.id = e.order_id \
         WHERE o.account_id = $1 AND e.order_id = $2 ORDER BY e.id",
    )
    .bind(account.0)
    .bind(order_id)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(OrderEvent {
                kind: r.kind,
                from_status: optional_enum(r.from_status)?,
                to_status: optional_enum(r.to_status)?,
                from_sync_status: optional_enum(r.from_sync_status)?,
                to_sync_status: optional_enum(r.to_sync_status)?,
                detail: r.detail,
                at: r.at,
            })
        })
        .collect()
}

fn optional_enum<T: serde::de::DeserializeOwned>(
    text: Option<String>,
) -> Result<Option<T>, StoreError> {
    text.as_deref().map(enum_from_text).transpose()
}

#[derive(sqlx::FromRow)]
struct EventRaw {
    kind: String,
    from_status: Option<String>,
    to_status: Option<String>,
    from_sync_status: Option<String>,
    to_sync_status: Option<String>,
    detail: Option<String>,
    at: DateTime<Utc>,
}

/// One entry of an order's history: a move of its channel status, of its sync status, or a note
/// or tags added (`docs/order-states.md` lists every kind).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"kind": "shipped", "from_status": "unshipped",
                          "to_status": "partially_shipped", "from_sync_status": null,
                          "to_sync_status": null, "detail": null,
                          "at": "2026-12-04T22:43:30.590167Z"}))]
pub struct OrderEvent {
    /// `created`; a channel status move (`paid`, `shipped`, `cancelled`, `refunded`,
    /// `updated`); a sync status move (`held`, `excluded`, `released`, `included`,
    /// `taken_as_work`, `changed_on_channel`, `accepted_by_plugin`, `plugin_failed`,
    /// `fulfilment_created`, `fulfilment_synced`, `fulfilment_failed`); or `note` or `tagged`.
    pub kind: String,
    /// The channel status before a channel status move; null otherwise.
    #[schema(required = true)]
    pub from_status: Option<OrderStatus>,
    /// The channel status after a channel status move or at `created`; null otherwise.
    #[schema(required = true)]
    pub to_status: Option<OrderStatus>,
    /// The sync status before a sync status move; null otherwise.
    #[schema(required = true)]
    pub from_sync_status: Option<SyncStatus>,
    /// The sync status after a sync status move or at `created`; null otherwise.
    #[schema(required = true)]
    pub to_sync_status: Option<SyncStatus>,
    /// What was said: the reason of a hold, exclusion or failure, a note's text, the tags added
    /// and removed.
    #[schema(required = true)]
    pub detail: Option<String>,
    pub at: DateTime<Utc>,
}
