//! Moves of an order's sync status (`docs/order-states.md`), each decided by
//! [`crate::domain::order_state::next`] and written here with its `order_events` row and its
//! `order.*` event, in the caller's transaction: the callers' actions (release, exclude,
//! include, notes, tags), plugins' answers and fulfilments' progress. The import writes its own
//! moves in its page statements (`super::orders`, `super::plugin_rules`), with the same
//! answers and the same history rows.

use sqlx::{PgConnection, PgPool};

use super::events::Event;
use super::outbox::{self, OutboxItem};
use super::{enum_from_text, enum_text, orders, AccountId, StoreError};
use crate::domain::event_type::Action;
use crate::domain::order_state::{self, SyncEvent, SyncState};
use crate::domain::OrderStatus;
use crate::jobs::RunPlugin;

/// Most characters of a note, as the schema holds them.
pub const MAX_NOTE: usize = 4000;

/// A sync status move of one order, for its history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncMove {
    pub order_id: i64,
    pub kind: &'static str,
    pub from: Option<SyncState>,
    pub to: SyncState,
}

/// Writes a sync status move into the order's history.
pub async fn write_sync_event(
    conn: &mut PgConnection,
    order_id: i64,
    kind: &'static str,
    from: Option<&SyncState>,
    to: &SyncState,
) -> Result<(), StoreError> {
    let one = SyncMove {
        order_id,
        kind,
        from: from.cloned(),
        to: to.clone(),
    };
    write_sync_events(conn, &[one]).await
}

/// Writes sync status moves into their orders' histories, in one statement.
pub async fn write_sync_events(
    conn: &mut PgConnection,
    moves: &[SyncMove],
) -> Result<(), StoreError> {
    if moves.is_empty() {
        return Ok(());
    }
    let mut ids = Vec::with_capacity(moves.len());
    let mut kinds = Vec::with_capacity(moves.len());
    let mut froms = Vec::with_capacity(moves.len());
    let mut tos = Vec::with_capacity(moves.len());
    let mut details = Vec::with_capacity(moves.len());
    for m in moves {
        ids.push(m.order_id);
        kinds.push(m.kind);
        froms.push(m.from.as_ref().map(|s| enum_text(&s.sync)).transpose()?);
        tos.push(enum_text(&m.to.sync)?);
        details.push(m.to.reason.clone());
    }
    sqlx::query(
        "INSERT INTO order_events (order_id, kind, from_sync_status, to_sync_status, detail) \
         SELECT m.order_id, m.kind, m.from_sync, m.to_sync, m.detail \
         FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[]) \
              WITH ORDINALITY AS m(order_id, kind, from_sync, to_sync, detail, n) \
         ORDER BY m.n",
    )
    .bind(&ids)
    .bind(&kinds)
    .bind(&froms)
    .bind(&tos)
    .bind(&details)
    .execute(conn)
    .await?;
    Ok(())
}

async fn write_note_event(
    conn: &mut PgConnection,
    order_id: i64,
    kind: &str,
    detail: &str,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO order_events (order_id, kind, detail) VALUES ($1, $2, $3)")
        .bind(order_id)
        .bind(kind)
        .bind(detail)
        .execute(conn)
        .await?;
    Ok(())
}

/// The order's sync state and channel status, locked for the caller's transaction.
async fn lock(
    conn: &mut PgConnection,
    order_id: i64,
) -> Result<Option<(SyncState, OrderStatus)>, StoreError> {
    type Row = (String, Option<String>, Option<String>, String);
    let row: Option<Row> = sqlx::query_as(
        "SELECT sync_status, excluded_reason, sync_set_by, status FROM orders \
         WHERE id = $1 FOR UPDATE",
    )
    .bind(order_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|(sync, reason, by, status)| {
        Ok((
            SyncState::new(
                enum_from_text(&sync)?,
                reason,
                by.as_deref().map(enum_from_text).transpose()?,
            ),
            enum_from_text(&status)?,
        ))
    })
    .transpose()
}

/// A move that was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub from: SyncState,
    pub to: SyncState,
}

/// Moves the order on `event`, in the caller's transaction: the new state, the history row.
/// `Ok(None)` when the event leaves the order as it was (or the order is gone); a refused move
/// is a [`StoreError::Conflict`] saying why.
pub async fn move_in_tx(
    conn: &mut PgConnection,
    order_id: i64,
    event: &SyncEvent,
) -> Result<Option<Moved>, StoreError> {
    move_on_in_tx(conn, order_id, |_| event.clone()).await
}

/// [`move_in_tx`] on the event `event` makes of the order's channel status, read under the
/// order's lock.
async fn move_on_in_tx(
    conn: &mut PgConnection,
    order_id: i64,
    event: impl FnOnce(OrderStatus) -> SyncEvent,
) -> Result<Option<Moved>, StoreError> {
    let Some((from, status)) = lock(conn, order_id).await? else {
        return Ok(None);
    };
    let event = event(status);
    let to = order_state::next(&from, &event).map_err(|r| StoreError::Conflict(r.0))?;
    if to == from {
        return Ok(None);
    }
    sqlx::query(
        "UPDATE orders SET sync_status = $2, excluded_reason = $3, sync_set_by = $4, \
             updated_at = now() \
         WHERE id = $1",
    )
    .bind(order_id)
    .bind(enum_text(&to.sync)?)
    .bind(&to.reason)
    .bind(to.by.as_ref().map(enum_text).transpose()?)
    .execute(&mut *conn)
    .await?;
    write_sync_event(conn, order_id, event.kind(&to), Some(&from), &to).await?;
    Ok(Some(Moved { from, to }))
}

/// The event announcing the order as it is now.
pub async fn announce_in_tx(
    conn: &mut PgConnection,
    order_id: i64,
    action: Action,
) -> Result<Vec<OutboxItem>, StoreError> {
    orders::read_in_tx(conn, &[order_id])
        .await?
        .iter()
        .map(|order| Event::Order(action, order).outbox_item())
        .collect()
}

/// Moves the order on the event `event` makes of its channel status and, when it moved,
/// announces it (`order.updated`), all in one transaction: for workers, whose events are never
/// refused.
async fn move_and_announce(
    pool: &PgPool,
    order_id: i64,
    event: impl FnOnce(OrderStatus) -> SyncEvent,
) -> Result<Option<Moved>, StoreError> {
    let mut tx = pool.begin().await?;
    let moved = move_on_in_tx(&mut tx, order_id, event).await?;
    if moved.is_some() {
        let items = announce_in_tx(&mut tx, order_id, Action::Updated).await?;
        outbox::push_many_in_tx(&mut tx, &items).await?;
        outbox::notify_in_tx(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(moved)
}

/// What a plugin's answer to an order does to it: accepted, the order is in progress (or, a
/// cancellation passed on, synced); refused for good, it failed.
pub async fn after_plugin_answer(
    pool: &PgPool,
    order_id: i64,
    refused: Option<&str>,
) -> Result<Option<Moved>, StoreError> {
    move_and_announce(pool, order_id, |status| match refused {
        Some(reason) => SyncEvent::PluginFailed {
            reason: reason.to_owned(),
        },
        None => SyncEvent::PluginAccepted { status },
    })
    .await
}

/// Whether anything of the order is left to ship or on its way to the channel: what decides
/// whether a synced fulfilment leaves it in progress or synced.
pub async fn outstanding_in_tx(conn: &mut PgConnection, order_id: i64) -> Result<bool, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT o.status IN ('unpaid', 'unshipped', 'partially_shipped') \
             OR EXISTS (SELECT 1 FROM fulfilments f WHERE f.order_id = o.id \
                        AND f.status IN ('pending', 'sending')) \
         FROM orders o WHERE o.id = $1",
    )
    .bind(order_id)
    .fetch_optional(conn)
    .await?
    .unwrap_or(false))
}

/// A caller's action on an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderAction {
    /// A held order continues: it becomes pending and goes to the plugin its rules routed it
    /// to, if any.
    Release,
    /// The order is not to be fulfilled, for the reason given.
    Exclude { reason: String },
    /// An excluded order becomes work; the store's rules run on it if they never did.
    Include,
    /// A note, shown with the order and in its history.
    Note { body: String },
    /// Tags added and removed (only tags a caller added can be removed).
    Tags {
        add: Vec<String>,
        remove: Vec<String>,
    },
}

/// Applies a caller's action to one of the account's orders, with its history row, its event
/// and the jobs it causes, in one transaction. `Ok(None)`: no such order in the account. A
/// move the state model refuses is a [`StoreError::Conflict`] saying why, and changes nothing.
pub async fn act(
    pool: &PgPool,
    account: AccountId,
    order_id: i64,
    action: &OrderAction,
) -> Result<Option<orders::StoredOrder>, StoreError> {
    let mut tx = pool.begin().await?;
    let owned: Option<i64> =
        sqlx::query_scalar("SELECT id FROM orders WHERE account_id = $1 AND id = $2 FOR UPDATE")
            .bind(account.0)
            .bind(order_id)
            .fetch_optional(&mut *tx)
            .await?;
    if owned.is_none() {
        return Ok(None);
    }
    let mut items = Vec::new();
    let announced = match action {
        OrderAction::Release => {
            move_in_tx(&mut tx, order_id, &SyncEvent::Released).await?;
            items.extend(route_held_in_tx(&mut tx, order_id).await?);
            Some(Action::Updated)
        }
        OrderAction::Exclude { reason } => {
            let event = SyncEvent::Excluded {
                reason: reason.clone(),
            };
            let moved = move_in_tx(&mut tx, order_id, &event).await?;
            moved.map(|_| Action::Excluded)
        }
        OrderAction::Include => {
            move_in_tx(&mut tx, order_id, &SyncEvent::Included).await?;
            items.extend(super::plugin_rules::apply_to_included_in_tx(&mut tx, order_id).await?);
            Some(Action::Updated)
        }
        OrderAction::Note { body } => {
            sqlx::query("INSERT INTO order_notes (order_id, body) VALUES ($1, $2)")
                .bind(order_id)
                .bind(body)
                .execute(&mut *tx)
                .await?;
            write_note_event(&mut tx, order_id, "note", body).await?;
            touch(&mut tx, order_id).await?;
            Some(Action::Updated)
        }
        OrderAction::Tags { add, remove } => change_tags(&mut tx, order_id, add, remove)
            .await?
            .then_some(Action::Updated),
    };
    if let Some(action) = announced {
        items.extend(announce_in_tx(&mut tx, order_id, action).await?);
    }
    if !items.is_empty() {
        outbox::push_many_in_tx(&mut tx, &items).await?;
        outbox::notify_in_tx(&mut tx).await?;
    }
    let order = orders::read_in_tx(&mut tx, &[order_id]).await?.pop();
    tx.commit().await?;
    Ok(order)
}

async fn touch(conn: &mut PgConnection, order_id: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE orders SET updated_at = now() WHERE id = $1")
        .bind(order_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The run-plugin job of a released order its rules routed to a plugin while it was held.
async fn route_held_in_tx(
    conn: &mut PgConnection,
    order_id: i64,
) -> Result<Vec<OutboxItem>, StoreError> {
    let plugin: Option<Option<i64>> = sqlx::query_scalar(
        "UPDATE orders SET routed_at = now() \
         WHERE id = $1 AND plugin_id IS NOT NULL AND routed_at IS NULL RETURNING plugin_id",
    )
    .bind(order_id)
    .fetch_optional(conn)
    .await?;
    match plugin.flatten() {
        Some(plugin_id) => {
            let job = RunPlugin {
                plugin_id,
                order_id,
            };
            Ok(vec![OutboxItem::job(&job, Some(job.unique_key()))?])
        }
        None => Ok(Vec::new()),
    }
}

/// Adds and removes caller tags; true when anything changed. A tag the channel or a rule gave
/// cannot be removed: the next import would bring it back.
async fn change_tags(
    conn: &mut PgConnection,
    order_id: i64,
    add: &[String],
    remove: &[String],
) -> Result<bool, StoreError> {
    let (tags, user_tags): (Vec<String>, Vec<String>) =
        sqlx::query_as("SELECT tags, user_tags FROM orders WHERE id = $1")
            .bind(order_id)
            .fetch_one(&mut *conn)
            .await?;
    if let Some(t) = remove
        .iter()
        .find(|t| tags.contains(t) && !user_tags.contains(t))
    {
        return Err(StoreError::Conflict(format!(
            "tag `{t}` comes from the channel or a plugin rule; only tags added through the API \
             can be removed"
        )));
    }
    let keep = |t: &&String| !remove.contains(t);
    let mut new_tags: Vec<String> = tags.iter().filter(keep).cloned().collect();
    let mut new_user: Vec<String> = user_tags.iter().filter(keep).cloned().collect();
    let mut added = Vec::new();
    for t in add {
        if !new_tags.contains(t) {
            new_tags.push(t.clone());
            added.push(t.as_str());
        }
        if !new_user.contains(t) {
            new_user.push(t.clone());
        }
    }
    let removed: Vec<&str> = remove
        .iter()
        .filter(|t| tags.contains(t))
        .map(String::as_str)
        .collect();
    if added.is_empty() && removed.is_empty() {
        return Ok(false);
    }
    sqlx::query("UPDATE orders SET tags = $2, user_tags = $3, updated_at = now() WHERE id = $1")
        .bind(order_id)
        .bind(&new_tags)
        .bind(&new_user)
        .execute(&mut *conn)
        .await?;
    let mut said = Vec::new();
    if !added.is_empty() {
        said.push(format!("added {}", added.join(", ")));
    }
    if !removed.is_empty() {
        said.push(format!("removed {}", removed.join(", ")));
    }
    write_note_event(conn, order_id, "tagged", &said.join("; ")).await?;
    Ok(true)
}
