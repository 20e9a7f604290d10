//! Fulfilments and their lines: the create the API serves (the fulfilment, its lines, its push
//! job and its event in one transaction), the account-scoped reads, and the status moves the
//! push-fulfilment worker makes (each with its `fulfilment.updated` event, and a synced one with
//! the order status its shipped quantities imply).
//!
//! Every event's `data` is the entity read back inside the transaction that changed it, in the
//! same shape `GET /v1/fulfilments/{id}` (or `GET /v1/orders/{id}`) serves, so webhook receivers
//! see what the API shows (`super::events`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};

use super::events::Event;
use super::outbox::{self, OutboxItem};
use super::{account_row, enum_from_text, enum_text, order_state, AccountId, StoreError};
use crate::domain::event_type::Action;
use crate::domain::fulfilment::{
    order_status_after, plan_lines, FulfilmentStatus, OrderedLine, RequestedLine, Tracking,
};
use crate::domain::order_events::event_kind;
use crate::domain::order_state::SyncEvent;
use crate::domain::FieldError;
use crate::domain::{FulfilmentLine, FulfilmentRequest, OrderStatus};
use crate::jobs::PushFulfilment;

/// A fulfilment as the API serves it and events carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(example = json!({
    "id": 1,
    "store_id": 1,
    "order_id": 1,
    "channel_id": 1,
    "status": "synced",
    "lines": [{"order_line_id": 1, "channel_line_id": "13500000000007", "sku": "HL-1",
               "quantity": 1}],
    "carrier": "UPS",
    "tracking_number": "1Z999AA10123456784",
    "tracking_url": "https://www.ups.com/track?tracknum=1Z999AA10123456784",
    "channel_fulfilment_id": "4800000000013",
    "failure_reason": null,
    "created_at": "2026-12-04T22:43:30.543457Z",
    "updated_at": "2026-12-04T22:43:30.590167Z",
    "synced_at": "2026-12-04T22:43:30.590167Z"
}))]
pub struct Fulfilment {
    pub id: i64,
    pub store_id: i64,
    pub order_id: i64,
    pub channel_id: i64,
    pub status: FulfilmentStatus,
    pub lines: Vec<FulfilmentLineView>,
    #[schema(required = true)]
    pub carrier: Option<String>,
    #[schema(required = true)]
    pub tracking_number: Option<String>,
    #[schema(required = true)]
    pub tracking_url: Option<String>,
    /// The channel's id for it, once synced.
    #[schema(required = true)]
    pub channel_fulfilment_id: Option<String>,
    /// Why it failed: the channel's own words, or why switchyard gave up.
    #[schema(required = true)]
    pub failure_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[schema(required = true)]
    pub synced_at: Option<DateTime<Utc>>,
}

/// A line a fulfilment ships.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = FulfilmentLine)]
pub struct FulfilmentLineView {
    /// switchyard's order line; null once the channel removed the line from the order.
    #[schema(required = true)]
    pub order_line_id: Option<i64>,
    pub channel_line_id: String,
    #[schema(required = true)]
    pub sku: Option<String>,
    pub quantity: u32,
}

/// What a create did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    pub fulfilment: Fulfilment,
    /// The idempotency key was seen before: this is the fulfilment that request made, and
    /// nothing was written.
    pub replayed: bool,
}

/// Why a create was refused.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// No such order in the account.
    #[error("order not found")]
    OrderNotFound,
    /// The idempotency key already made a fulfilment of another order.
    #[error("this `Idempotency-Key` was already used for a fulfilment of order {0}")]
    KeyReused(i64),
    #[error(transparent)]
    Invalid(#[from] FieldError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for CreateError {
    fn from(e: sqlx::Error) -> CreateError {
        CreateError::Store(StoreError::Database(e))
    }
}

#[derive(sqlx::FromRow)]
struct FulfilmentRaw {
    id: i64,
    store_id: i64,
    order_id: i64,
    channel_id: i64,
    status: String,
    carrier: Option<String>,
    tracking_number: Option<String>,
    tracking_url: Option<String>,
    channel_fulfilment_id: Option<String>,
    failure_reason: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    synced_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "f.id, f.store_id, f.order_id, o.channel_id, f.status, f.carrier, \
     f.tracking_number, f.tracking_url, f.channel_fulfilment_id, f.failure_reason, \
     f.created_at, f.updated_at, f.synced_at";

type LineRow = (i64, Option<i64>, String, Option<String>, i32);

/// The fulfilments `raw` with their lines, in the order given.
async fn with_lines(
    conn: &mut PgConnection,
    raw: Vec<FulfilmentRaw>,
) -> Result<Vec<Fulfilment>, StoreError> {
    let ids: Vec<i64> = raw.iter().map(|r| r.id).collect();
    let rows: Vec<LineRow> = sqlx::query_as(
        "SELECT fulfilment_id, order_line_id, channel_line_id, sku, quantity \
         FROM fulfilment_lines WHERE fulfilment_id = ANY($1) \
         ORDER BY fulfilment_id, order_line_id NULLS LAST, channel_line_id",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(raw.len());
    for r in raw {
        let lines = rows
            .iter()
            .filter(|l| l.0 == r.id)
            .map(|(_, order_line_id, channel_line_id, sku, quantity)| {
                Ok(FulfilmentLineView {
                    order_line_id: *order_line_id,
                    channel_line_id: channel_line_id.clone(),
                    sku: sku.clone(),
                    quantity: u32::try_from(*quantity).map_err(|_| {
                        StoreError::Corrupt(format!("fulfilment {} line quantity", r.id))
                    })?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        out.push(Fulfilment {
            id: r.id,
            store_id: r.store_id,
            order_id: r.order_id,
            channel_id: r.channel_id,
            status: enum_from_text(&r.status)?,
            lines,
            carrier: r.carrier,
            tracking_number: r.tracking_number,
            tracking_url: r.tracking_url,
            channel_fulfilment_id: r.channel_fulfilment_id,
            failure_reason: r.failure_reason,
            created_at: r.created_at,
            updated_at: r.updated_at,
            synced_at: r.synced_at,
        });
    }
    Ok(out)
}

/// One fulfilment by id, whatever its account (for workers and inside a transaction).
async fn read(conn: &mut PgConnection, id: i64) -> Result<Option<Fulfilment>, StoreError> {
    let raw: Vec<FulfilmentRaw> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM fulfilments f JOIN orders o ON o.id = f.order_id WHERE f.id = $1"
    ))
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(with_lines(conn, raw).await?.into_iter().next())
}

/// A create request: the lines to ship (everything still unshipped when `None`), the tracking,
/// and the caller's idempotency key if it sent one.
#[derive(Debug, Clone, Copy)]
pub struct NewFulfilment<'a> {
    pub order_id: i64,
    pub lines: Option<&'a [RequestedLine]>,
    pub tracking: &'a Tracking,
    pub idempotency_key: Option<&'a str>,
}

/// Creates a fulfilment of one of the account's orders, its lines checked against the order's
/// lines less what earlier non-failed fulfilments took. Writes the fulfilment, its lines, its
/// push job and its `fulfilment.created` event in one transaction; the order row is locked
/// meanwhile, so two creates racing for the same units (or replaying the same key) cannot both
/// take them.
pub async fn create(
    pool: &PgPool,
    account: AccountId,
    new: &NewFulfilment<'_>,
) -> Result<Created, CreateError> {
    match create_inner(pool, account, new).await {
        Err(CreateError::Store(StoreError::Database(e)))
            if super::is_unique_violation(&e, "fulfilments_idempotency_key") =>
        {
            // The same key raced in for another order and committed first.
            replay(pool, account, new).await
        }
        other => other,
    }
}

/// The fulfilment an idempotency key already made, answered as a replay.
async fn replay(
    pool: &PgPool,
    account: AccountId,
    new: &NewFulfilment<'_>,
) -> Result<Created, CreateError> {
    let mut conn = pool.acquire().await?;
    match existing_for_key(&mut conn, account, new.idempotency_key).await? {
        Some(f) if f.order_id == new.order_id => Ok(Created {
            fulfilment: f,
            replayed: true,
        }),
        Some(f) => Err(CreateError::KeyReused(f.order_id)),
        None => Err(CreateError::Store(StoreError::Conflict(
            "the `Idempotency-Key` is in use by a request still running; retry".into(),
        ))),
    }
}

async fn existing_for_key(
    conn: &mut PgConnection,
    account: AccountId,
    key: Option<&str>,
) -> Result<Option<Fulfilment>, StoreError> {
    let Some(key) = key else {
        return Ok(None);
    };
    let id: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM fulfilments WHERE account_id = $1 AND idempotency_key = $2",
    )
    .bind(account.0)
    .bind(key)
    .fetch_optional(&mut *conn)
    .await?;
    match id {
        Some(id) => read(conn, id).await,
        None => Ok(None),
    }
}

async fn create_inner(
    pool: &PgPool,
    account: AccountId,
    new: &NewFulfilment<'_>,
) -> Result<Created, CreateError> {
    let (order_id, requested, tracking) = (new.order_id, new.lines, new.tracking);
    let mut tx = pool.begin().await?;
    let order: Option<(i64, String)> = sqlx::query_as(
        "SELECT store_id, status FROM orders WHERE account_id = $1 AND id = $2 FOR UPDATE",
    )
    .bind(account.0)
    .bind(order_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((store_id, status)) = order else {
        return Err(CreateError::OrderNotFound);
    };
    // Read after the order lock: a retry of the same request waits for the first to commit and
    // then finds what it made.
    if let Some(f) = existing_for_key(&mut tx, account, new.idempotency_key).await? {
        if f.order_id != order_id {
            return Err(CreateError::KeyReused(f.order_id));
        }
        return Ok(Created {
            fulfilment: f,
            replayed: true,
        });
    }
    let status: OrderStatus = enum_from_text(&status)?;
    // Taken quantities are counted by channel line id, which a fulfilment line keeps even when
    // the order line it was made from is gone.
    let rows: Vec<(i64, String, Option<String>, i32, i64)> = sqlx::query_as(
        "SELECT l.id, l.channel_line_id, l.sku, l.quantity, \
                COALESCE((SELECT SUM(fl.quantity) FROM fulfilment_lines fl \
                          JOIN fulfilments f ON f.id = fl.fulfilment_id \
                          WHERE f.order_id = l.order_id AND f.status <> 'failed' \
                            AND fl.channel_line_id = l.channel_line_id), 0)::bigint \
         FROM order_lines l WHERE l.order_id = $1 ORDER BY l.id",
    )
    .bind(order_id)
    .fetch_all(&mut *tx)
    .await?;
    let ordered: Vec<OrderedLine> = rows
        .into_iter()
        .map(|(id, channel_line_id, sku, quantity, taken)| OrderedLine {
            order_line_id: id,
            channel_line_id,
            sku,
            quantity: u32::try_from(quantity).unwrap_or(0),
            taken: u32::try_from(taken).unwrap_or(u32::MAX),
        })
        .collect();
    let planned = plan_lines(status, &ordered, requested)?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO fulfilments (account_id, store_id, order_id, status, carrier, \
             tracking_number, tracking_url, idempotency_key) \
         VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7) RETURNING id",
    )
    .bind(account.0)
    .bind(store_id)
    .bind(order_id)
    .bind(&tracking.carrier)
    .bind(&tracking.number)
    .bind(&tracking.url)
    .bind(new.idempotency_key)
    .fetch_one(&mut *tx)
    .await?;
    let line_ids: Vec<i64> = planned.iter().map(|p| p.order_line_id).collect();
    let channel_ids: Vec<String> = planned.iter().map(|p| p.channel_line_id.clone()).collect();
    let skus: Vec<Option<String>> = planned.iter().map(|p| p.sku.clone()).collect();
    let quantities: Vec<i32> = planned
        .iter()
        .map(|p| i32::try_from(p.quantity).unwrap_or(i32::MAX))
        .collect();
    sqlx::query(
        "INSERT INTO fulfilment_lines (fulfilment_id, order_line_id, channel_line_id, sku, \
             quantity) \
         SELECT $1, l.line_id, l.channel_line_id, l.sku, l.quantity \
         FROM UNNEST($2::bigint[], $3::text[], $4::text[], $5::int[]) \
              AS l(line_id, channel_line_id, sku, quantity)",
    )
    .bind(id)
    .bind(&line_ids)
    .bind(&channel_ids)
    .bind(&skus)
    .bind(&quantities)
    .execute(&mut *tx)
    .await?;
    let created = read(&mut tx, id)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("fulfilment {id} vanished in its insert")))?;
    let mut items = vec![
        OutboxItem::job(&PushFulfilment { fulfilment_id: id }, None)?,
        Event::Fulfilment(Action::Created, &created).outbox_item()?,
    ];
    if order_state::move_in_tx(&mut tx, order_id, &SyncEvent::FulfilmentCreated)
        .await?
        .is_some()
    {
        items.extend(order_state::announce_in_tx(&mut tx, order_id, Action::Updated).await?);
    }
    outbox::push_many_in_tx(&mut tx, &items).await?;
    outbox::notify_in_tx(&mut tx).await?;
    tx.commit().await?;
    Ok(Created {
        fulfilment: created,
        replayed: false,
    })
}

/// One of the account's fulfilments.
pub async fn get(
    pool: &PgPool,
    account: AccountId,
    id: i64,
) -> Result<Option<Fulfilment>, StoreError> {
    let mut conn = pool.acquire().await?;
    let sql = format!(
        "SELECT {COLUMNS} FROM fulfilments f JOIN orders o ON o.id = f.order_id \
         WHERE f.account_id = $1 AND f.id = $2"
    );
    let raw: Option<FulfilmentRaw> = account_row(&mut *conn, &sql, account, id).await?;
    Ok(with_lines(&mut conn, raw.into_iter().collect())
        .await?
        .pop())
}

/// The fulfilments of one of the account's orders, oldest first; `None` when the account has no
/// such order.
pub async fn list_for_order(
    pool: &PgPool,
    account: AccountId,
    order_id: i64,
) -> Result<Option<Vec<Fulfilment>>, StoreError> {
    let mut conn = pool.acquire().await?;
    let sql = "SELECT id FROM orders WHERE account_id = $1 AND id = $2";
    let known: Option<(i64,)> = account_row(&mut *conn, sql, account, order_id).await?;
    if known.is_none() {
        return Ok(None);
    }
    let raw: Vec<FulfilmentRaw> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM fulfilments f JOIN orders o ON o.id = f.order_id \
         WHERE f.account_id = $1 AND f.order_id = $2 ORDER BY f.id"
    ))
    .bind(account.0)
    .bind(order_id)
    .fetch_all(&mut *conn)
    .await?;
    with_lines(&mut conn, raw).await.map(Some)
}

/// What the push worker needs: the fulfilment, and the request that creates it on the channel.
#[derive(Debug, Clone)]
pub struct PushTarget {
    pub fulfilment: Fulfilment,
    pub request: FulfilmentRequest,
}

/// Starts a push attempt (for workers; not account-scoped): a pending fulfilment moves to
/// `sending` (with its event) before the channel is called, so that whatever happens next the
/// row says a push may have reached the channel. Returns the status before this attempt and the
/// target, or `None` for an unknown fulfilment.
pub async fn begin_push(
    pool: &PgPool,
    id: i64,
) -> Result<Option<(FulfilmentStatus, PushTarget)>, StoreError> {
    let mut tx = pool.begin().await?;
    let locked: Option<(String, String)> = sqlx::query_as(
        "SELECT f.status, o.channel_order_id FROM fulfilments f \
         JOIN orders o ON o.id = f.order_id WHERE f.id = $1 FOR UPDATE OF f",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((status, channel_order_id)) = locked else {
        return Ok(None);
    };
    let before: FulfilmentStatus = enum_from_text(&status)?;
    if matches!(
        before,
        FulfilmentStatus::Pending | FulfilmentStatus::Sending
    ) {
        sqlx::query(
            "UPDATE fulfilments SET status = 'sending', push_attempts = push_attempts + 1, \
                 updated_at = CASE WHEN status = 'sending' THEN updated_at ELSE now() END \
             WHERE id = $1",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
    }
    let fulfilment = read(&mut tx, id)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("fulfilment {id} vanished while locked")))?;
    if before == FulfilmentStatus::Pending {
        let event = Event::Fulfilment(Action::Updated, &fulfilment).outbox_item()?;
        outbox::push_in_tx(&mut tx, &event).await?;
        outbox::notify_in_tx(&mut tx).await?;
    }
    tx.commit().await?;
    let request = FulfilmentRequest {
        channel_order_id,
        lines: fulfilment
            .lines
            .iter()
            .map(|l| FulfilmentLine {
                channel_line_id: l.channel_line_id.clone(),
                quantity: l.quantity,
            })
            .collect(),
        carrier: fulfilment.carrier.clone(),
        tracking_number: fulfilment.tracking_number.clone(),
        tracking_url: fulfilment.tracking_url.clone(),
    };
    Ok(Some((
        before,
        PushTarget {
            fulfilment,
            request,
        },
    )))
}

/// Records that the channel holds the fulfilment (for workers). In the same transaction the order
/// takes the status its synced quantities imply, with its history row and `order.updated` event.
/// A fulfilment already synced or failed is left as it is.
pub async fn mark_synced(
    pool: &PgPool,
    id: i64,
    channel_fulfilment_id: &str,
) -> Result<Option<Fulfilment>, StoreError> {
    let mut tx = pool.begin().await?;
    let moved: Option<i64> = sqlx::query_scalar(
        "UPDATE fulfilments SET status = 'synced', channel_fulfilment_id = $2, \
             failure_reason = NULL, synced_at = now(), updated_at = now() \
         WHERE id = $1 AND status IN ('pending', 'sending') RETURNING order_id",
    )
    .bind(id)
    .bind(channel_fulfilment_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(order_id) = moved else {
        return Ok(None);
    };
    let moved = follow_order_status(&mut tx, order_id).await?;
    let outstanding = order_state::outstanding_in_tx(&mut tx, order_id).await?;
    let synced = SyncEvent::FulfilmentSynced { outstanding };
    let sync_moved = order_state::move_in_tx(&mut tx, order_id, &synced).await?;
    let mut items = match moved || sync_moved.is_some() {
        true => order_state::announce_in_tx(&mut tx, order_id, Action::Updated).await?,
        false => Vec::new(),
    };
    let f = read(&mut tx, id)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("fulfilment {id} vanished while synced")))?;
    items.push(Event::Fulfilment(Action::Updated, &f).outbox_item()?);
    outbox::push_many_in_tx(&mut tx, &items).await?;
    outbox::notify_in_tx(&mut tx).await?;
    tx.commit().await?;
    Ok(Some(f))
}

/// Moves the order to the status its synced fulfilments imply, with its history row; true when
/// it moved.
async fn follow_order_status(conn: &mut PgConnection, order_id: i64) -> Result<bool, StoreError> {
    let status: String = sqlx::query_scalar("SELECT status FROM orders WHERE id = $1 FOR UPDATE")
        .bind(order_id)
        .fetch_one(&mut *conn)
        .await?;
    let current: OrderStatus = enum_from_text(&status)?;
    let to_pairs = |rows: Vec<(String, i64)>| -> Vec<(String, u32)> {
        rows.into_iter()
            .map(|(line, q)| (line, u32::try_from(q).unwrap_or(u32::MAX)))
            .collect()
    };
    let ordered: Vec<(String, i64)> = sqlx::query_as(
        "SELECT channel_line_id, quantity::bigint FROM order_lines WHERE order_id = $1",
    )
    .bind(order_id)
    .fetch_all(&mut *conn)
    .await?;
    let shipped: Vec<(String, i64)> = sqlx::query_as(
        "SELECT fl.channel_line_id, fl.quantity::bigint FROM fulfilment_lines fl \
         JOIN fulfilments f ON f.id = fl.fulfilment_id \
         WHERE f.order_id = $1 AND f.status = 'synced'",
    )
    .bind(order_id)
    .fetch_all(&mut *conn)
    .await?;
    let next = order_status_after(current, &to_pairs(ordered), &to_pairs(shipped));
    if next == current {
        return Ok(false);
    }
    sqlx::query("UPDATE orders SET status = $2, updated_at = now() WHERE id = $1")
        .bind(order_id)
        .bind(enum_text(&next)?)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO order_events (order_id, kind, from_status, to_status) VALUES ($1, $2, $3, $4)",
    )
    .bind(order_id)
    .bind(event_kind(current, next))
    .bind(enum_text(&current)?)
    .bind(enum_text(&next)?)
    .execute(&mut *conn)
    .await?;
    Ok(true)
}

/// Records that the fulfilment will not reach the channel, and why (for workers). Only a
/// fulfilment not yet synced or failed moves.
pub async fn mark_failed(
    pool: &PgPool,
    id: i64,
    reason: &str,
) -> Result<Option<Fulfilment>, StoreError> {
    let mut tx = pool.begin().await?;
    let moved = sqlx::query(
        "UPDATE fulfilments SET status = 'failed', failure_reason = $2, updated_at = now() \
         WHERE id = $1 AND status IN ('pending', 'sending')",
    )
    .bind(id)
    .bind(reason)
    .execute(&mut *tx)
    .await?;
    if moved.rows_affected() == 0 {
        return Ok(None);
    }
    let f = read(&mut tx, id)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("fulfilment {id} vanished while failing")))?;
    let mut items = vec![Event::Fulfilment(Action::Updated, &f).outbox_item()?];
    let failed = SyncEvent::FulfilmentFailed {
        reason: format!("fulfilment {id} did not reach the channel: {reason}"),
    };
    if order_state::move_in_tx(&mut tx, f.order_id, &failed)
        .await?
        .is_some()
    {
        items.extend(order_state::announce_in_tx(&mut tx, f.order_id, Action::Updated).await?);
    }
    outbox::push_many_in_tx(&mut tx, &items).await?;
    outbox::notify_in_tx(&mut tx).await?;
    tx.commit().await?;
    Ok(Some(f))
}
/// How many fulfilments of the store's plugin-routed orders are in each status, most advanced
/// status first: what a fulfilment centre's shipments came to on the channels.
pub async fn routed_status_counts(
    pool: &PgPool,
    store_id: i64,
) -> Result<Vec<(String, i64)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT f.status, count(*) FROM fulfilments f JOIN orders o ON o.id = f.order_id \
         WHERE f.store_id = $1 AND o.plugin_id IS NOT NULL GROUP BY f.status ORDER BY 1 DESC",
    )
    .bind(store_id)
    .fetch_all(pool)
    .await?)
}
