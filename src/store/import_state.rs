//! Where each channel's order import resumes, how its runs went, and while it fails, how it
//! backs off and where its circuit breaker stands ([`crate::domain::breaker`]).
//!
//! The cursor is saved in the same transaction as the orders of the page it follows, so a crash
//! can only replay a committed page (harmless: upserts are idempotent), never skip one.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};

use super::events::{self, Event};
use super::{enum_from_text, AccountId, StoreError};
use crate::domain::breaker::BreakerState;
use crate::domain::event_type::Action;
use crate::domain::{ChannelKind, OrderCursor};

/// How one import run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    Success,
    /// A failed run, and the channel's backoff after it.
    Failed {
        error: String,
        backoff: Backoff,
    },
}

/// Where a failing channel's import stands. Kept per channel rather than per job, so the
/// failures of every job that imports the channel count together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Backoff {
    /// Runs failed in a row since the last success.
    pub failures: u32,
    /// The job that makes the next attempt, while one is meant to.
    pub retry_job: Option<String>,
    /// How long from now until the platform may be called again (zero: now).
    pub wait: Duration,
    /// The channel's breaker: open while enough runs failed in a row, when `wait` is how long
    /// until the next probe.
    pub breaker: BreakerState,
}

/// A channel's import health as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = ChannelHealth, example = json!({
    "channel_id": 7, "last_run_at": "2026-12-04T10:19:02.117342Z",
    "last_success_at": "2026-12-04T10:16:02.903512Z",
    "last_error": "channel unavailable: could not connect: client error (Connect): tcp connect error: Connection refused (os error 111)",
    "orders_imported": 42, "consecutive_failures": 2,
    "backoff_until": "2026-12-04T10:19:32.117342Z",
    "breaker": "closed", "breaker_opened_at": null, "next_probe_at": null
}))]
pub struct ImportHealth {
    pub channel_id: i64,
    /// When the last import run ended; null before the first.
    pub last_run_at: Option<DateTime<Utc>>,
    /// When the last successful run ended; null before the first.
    pub last_success_at: Option<DateTime<Utc>>,
    /// Why the last run failed, cut after 2000 characters; null when it succeeded.
    pub last_error: Option<String>,
    /// Orders the channel's imports have created (updates of known orders not counted).
    pub orders_imported: i64,
    /// Runs failed in a row since the last success.
    pub consecutive_failures: i64,
    /// While the channel is failing: no import calls the platform before this.
    pub backoff_until: Option<DateTime<Utc>>,
    /// The channel's import breaker: `open` after `connectors.breaker_failures` runs failed in
    /// a row (no import calls the platform until `next_probe_at`), `half_open` while one import
    /// probes it, `closed` otherwise.
    pub breaker: BreakerState,
    /// When the breaker last opened; null while it is closed.
    pub breaker_opened_at: Option<DateTime<Utc>>,
    /// While the breaker is open: when one import may probe the platform.
    pub next_probe_at: Option<DateTime<Utc>>,
}

/// The longest error text kept: enough for a platform's message, bounded so a huge HTML error
/// page does not land in every health response.
const MAX_ERROR_LEN: usize = 2000;

/// The saved cursor, or `None` before the first committed page.
pub async fn load_cursor(
    pool: &PgPool,
    channel_id: i64,
) -> Result<Option<OrderCursor>, StoreError> {
    let cursor: Option<Option<Json<serde_json::Value>>> =
        sqlx::query_scalar("SELECT cursor FROM channel_import_state WHERE channel_id = $1")
            .bind(channel_id)
            .fetch_optional(pool)
            .await?;
    match cursor.flatten() {
        None => Ok(None),
        Some(Json(value)) => serde_json::from_value(value)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("channel {channel_id} cursor: {e}"))),
    }
}

/// Saves the cursor and adds `orders_imported` (the orders the page created) to the count, in
/// the caller's transaction, the one that wrote the page's orders.
pub async fn save_cursor_in_tx(
    conn: &mut PgConnection,
    channel_id: i64,
    cursor: &OrderCursor,
    orders_imported: i64,
) -> Result<(), StoreError> {
    let value = serde_json::to_value(cursor)
        .map_err(|e| StoreError::Corrupt(format!("cursor does not serialise: {e}")))?;
    sqlx::query(
        "INSERT INTO channel_import_state (channel_id, cursor, orders_imported) \
         VALUES ($1, $2, $3) \
         ON CONFLICT (channel_id) DO UPDATE SET \
             cursor = EXCLUDED.cursor, \
             orders_imported = channel_import_state.orders_imported + EXCLUDED.orders_imported",
    )
    .bind(channel_id)
    .bind(Json(value))
    .bind(orders_imported)
    .execute(conn)
    .await?;
    Ok(())
}

/// Adds `orders_imported` to the channel's count without moving its cursor: orders stored from
/// a webhook, outside any walk. In the caller's transaction.
pub async fn count_imported_in_tx(
    conn: &mut PgConnection,
    channel_id: i64,
    orders_imported: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO channel_import_state (channel_id, orders_imported) VALUES ($1, $2) \
         ON CONFLICT (channel_id) DO UPDATE SET \
             orders_imported = channel_import_state.orders_imported + EXCLUDED.orders_imported",
    )
    .bind(channel_id)
    .bind(orders_imported)
    .execute(conn)
    .await?;
    Ok(())
}

/// The channel's backoff; a channel that never failed has none.
pub async fn backoff(pool: &PgPool, channel_id: i64) -> Result<Backoff, StoreError> {
    let row: Option<(i32, Option<String>, f64, String)> = sqlx::query_as(
        "SELECT failures, retry_job, \
                COALESCE(GREATEST(EXTRACT(EPOCH FROM retry_at - now()), 0), 0)::float8, breaker \
         FROM channel_import_state WHERE channel_id = $1",
    )
    .bind(channel_id)
    .fetch_optional(pool)
    .await?;
    let Some((failures, retry_job, wait, breaker)) = row else {
        return Ok(Backoff::default());
    };
    Ok(Backoff {
        failures: u32::try_from(failures).unwrap_or_default(),
        retry_job,
        wait: Duration::try_from_secs_f64(wait).unwrap_or_default(),
        breaker: enum_from_text(&breaker)?,
    })
}

/// Marks channel `channel_id`'s open breaker half open: the run about to call the platform is
/// its probe. Under the channel's import lock, so one probe runs at a time.
pub async fn begin_probe(pool: &PgPool, channel_id: i64) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE channel_import_state SET breaker = 'half_open' \
         WHERE channel_id = $1 AND breaker = 'open'",
    )
    .bind(channel_id)
    .execute(pool)
    .await?;
    Ok(())
}

/// Records the end of a run: success clears the last error and the backoff, and closes the
/// breaker; a failure keeps the last success and saves the backoff it leads to, the breaker
/// open or closed as the backoff says. A breaker that opens from closed, or closes, writes
/// `channel.breaker_opened` or `channel.breaker_closed` to the outbox in the same transaction.
/// Returns the breaker's move, if it moved so.
pub async fn record_run(
    pool: &PgPool,
    channel_id: i64,
    outcome: &RunOutcome,
) -> Result<Option<Action>, StoreError> {
    let (error, backoff) = match outcome {
        RunOutcome::Success => (None, None),
        RunOutcome::Failed { error, backoff } => (Some(truncate(error)), Some(backoff)),
    };
    let breaker = backoff.map_or(BreakerState::Closed, |b| b.breaker);
    let mut tx = pool.begin().await?;
    let before: Option<String> = sqlx::query_scalar(
        "SELECT breaker FROM channel_import_state WHERE channel_id = $1 FOR UPDATE",
    )
    .bind(channel_id)
    .fetch_optional(&mut *tx)
    .await?;
    let before = before
        .as_deref()
        .map_or(Ok(BreakerState::Closed), enum_from_text)?;
    sqlx::query(
        "INSERT INTO channel_import_state \
             (channel_id, last_run_at, last_success_at, last_error, failures, retry_at, retry_job, \
              breaker, breaker_opened_at) \
         VALUES ($1, now(), CASE WHEN $2::text IS NULL THEN now() END, $2, $3, \
                 now() + make_interval(secs => $4), $5, $6, \
                 CASE WHEN $6 = 'open' THEN now() END) \
         ON CONFLICT (channel_id) DO UPDATE SET \
             last_run_at = now(), \
             last_success_at = COALESCE(EXCLUDED.last_success_at, \
                                        channel_import_state.last_success_at), \
             last_error = EXCLUDED.last_error, \
             failures = EXCLUDED.failures, \
             retry_at = EXCLUDED.retry_at, \
             retry_job = EXCLUDED.retry_job, \
             breaker = EXCLUDED.breaker, \
             breaker_opened_at = CASE \
                 WHEN EXCLUDED.breaker = 'closed' THEN NULL \
                 WHEN channel_import_state.breaker = 'closed' THEN now() \
                 ELSE channel_import_state.breaker_opened_at END",
    )
    .bind(channel_id)
    .bind(error)
    .bind(backoff.map_or(0, |b| i32::try_from(b.failures).unwrap_or(i32::MAX)))
    .bind(backoff.map(|b| b.wait.as_secs_f64()))
    .bind(backoff.and_then(|b| b.retry_job.clone()))
    .bind(breaker.as_str())
    .execute(&mut *tx)
    .await?;
    let moved = match (before, breaker) {
        (BreakerState::Closed, BreakerState::Open) => Some(Action::BreakerOpened),
        (BreakerState::Open | BreakerState::HalfOpen, BreakerState::Closed) => {
            Some(Action::BreakerClosed)
        }
        _ => None,
    };
    if let Some(action) = moved {
        let (store_id, health) = health_in_tx(&mut tx, channel_id).await?;
        events::write_in_tx(&mut tx, &[Event::Channel(action, store_id, &health)]).await?;
    }
    tx.commit().await?;
    Ok(moved)
}

/// Closes the breaker of the account's channel `channel_id` by hand and forgets its failures, so
/// the next import calls the platform at once; a breaker that was not closed writes
/// `channel.breaker_closed`. Returns the channel's health after, or `None` when the account has
/// no such channel.
pub async fn reset_breaker(
    pool: &PgPool,
    account: AccountId,
    channel_id: i64,
) -> Result<Option<ImportHealth>, StoreError> {
    let mut tx = pool.begin().await?;
    let before: Option<Option<String>> = sqlx::query_scalar(
        "SELECT s.breaker FROM channels c \
         LEFT JOIN channel_import_state s ON s.channel_id = c.id \
         WHERE c.account_id = $1 AND c.id = $2 FOR UPDATE OF c",
    )
    .bind(account.0)
    .bind(channel_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(before) = before else {
        return Ok(None);
    };
    sqlx::query(
        "UPDATE channel_import_state SET breaker = 'closed', breaker_opened_at = NULL, \
             failures = 0, retry_at = NULL, retry_job = NULL \
         WHERE channel_id = $1",
    )
    .bind(channel_id)
    .execute(&mut *tx)
    .await?;
    let (store_id, health) = health_in_tx(&mut tx, channel_id).await?;
    let was = before
        .as_deref()
        .map_or(Ok(BreakerState::Closed), enum_from_text)?;
    if was != BreakerState::Closed {
        let closed = Event::Channel(Action::BreakerClosed, store_id, &health);
        events::write_in_tx(&mut tx, &[closed]).await?;
    }
    tx.commit().await?;
    Ok(Some(health))
}

/// Channel `channel_id`'s store and import health, in the caller's transaction.
async fn health_in_tx(
    conn: &mut PgConnection,
    channel_id: i64,
) -> Result<(i64, ImportHealth), StoreError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        health: HealthRaw,
        store_id: i64,
    }
    let row: Row = sqlx::query_as(&format!(
        "SELECT {HEALTH_COLUMNS}, c.store_id \
         FROM channels c LEFT JOIN channel_import_state s ON s.channel_id = c.id \
         WHERE c.id = $1"
    ))
    .bind(channel_id)
    .fetch_one(conn)
    .await?;
    Ok((row.store_id, ImportHealth::try_from(row.health)?))
}

/// How many channels' breakers are open, and how many half open, over every account.
pub async fn breakers_not_closed(pool: &PgPool) -> Result<(i64, i64), StoreError> {
    let counts: (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE breaker = 'open'), \
                count(*) FILTER (WHERE breaker = 'half_open') \
         FROM channel_import_state WHERE breaker <> 'closed'",
    )
    .fetch_one(pool)
    .await?;
    Ok(counts)
}

fn truncate(text: &str) -> String {
    match text.char_indices().nth(MAX_ERROR_LEN) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// The import health columns, read from `channels c LEFT JOIN channel_import_state s`: a
/// channel that never ran reads as all empty.
const HEALTH_COLUMNS: &str = "c.id AS channel_id, s.last_run_at, s.last_success_at, s.last_error, \
     s.orders_imported, s.failures, CASE WHEN s.retry_at > now() THEN s.retry_at END AS backoff_until, \
     s.breaker, s.breaker_opened_at, \
     CASE WHEN s.breaker = 'open' THEN s.retry_at END AS next_probe_at";

#[derive(sqlx::FromRow)]
struct HealthRaw {
    channel_id: i64,
    last_run_at: Option<DateTime<Utc>>,
    last_success_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
    orders_imported: Option<i64>,
    failures: Option<i32>,
    backoff_until: Option<DateTime<Utc>>,
    breaker: Option<String>,
    breaker_opened_at: Option<DateTime<Utc>>,
    next_probe_at: Option<DateTime<Utc>>,
}

impl TryFrom<HealthRaw> for ImportHealth {
    type Error = StoreError;

    fn try_from(r: HealthRaw) -> Result<ImportHealth, StoreError> {
        Ok(ImportHealth {
            channel_id: r.channel_id,
            last_run_at: r.last_run_at,
            last_success_at: r.last_success_at,
            last_error: r.last_error,
            orders_imported: r.orders_imported.unwrap_or(0),
            consecutive_failures: r.failures.map_or(0, i64::from),
            backoff_until: r.backoff_until,
            breaker: r
                .breaker
                .as_deref()
                .map_or(Ok(BreakerState::Closed), enum_from_text)?,
            breaker_opened_at: r.breaker_opened_at,
            next_probe_at: r.next_probe_at,
        })
    }
}

/// The import health of one of the account's channels; `None` when the account has no such
/// channel. A channel that never ran reads as all empty.
pub async fn import_health(
    pool: &PgPool,
    account: AccountId,
    channel_id: i64,
) -> Result<Option<ImportHealth>, StoreError> {
    let row: Option<HealthRaw> = sqlx::query_as(&format!(
        "SELECT {HEALTH_COLUMNS} \
         FROM channels c LEFT JOIN channel_import_state s ON s.channel_id = c.id \
         WHERE c.account_id = $1 AND c.id = $2"
    ))
    .bind(account.0)
    .bind(channel_id)
    .fetch_optional(pool)
    .await?;
    row.map(ImportHealth::try_from).transpose()
}

/// A channel of any account with its import health: what the operators' dashboard lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelOverview {
    pub account: AccountId,
    pub store_id: i64,
    pub store_name: String,
    pub kind: ChannelKind,
    pub name: String,
    pub active: bool,
    pub health: ImportHealth,
    /// Orders the channel's imports created in the last hour.
    pub orders_last_hour: i64,
}

/// Every account's channels with their import health, newest first, `limit` at most, with ids
/// below `before` when given. Orders of the last hour are counted through the orders'
/// `(account_id, channel_id, updated_at)` index: an order is created with `updated_at` equal to
/// its `created_at` and only moves it on, so the count reads no order older than the hour.
pub async fn all_channels(
    pool: &PgPool,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<ChannelOverview>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        health: HealthRaw,
        account_id: i64,
        store_id: i64,
        store_name: String,
        kind: String,
        name: String,
        active: bool,
        orders_last_hour: i64,
    }
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {HEALTH_COLUMNS}, c.account_id, c.store_id, st.name AS store_name, c.kind, \
                c.name, c.active, \
                (SELECT count(*) FROM orders o \
                 WHERE o.account_id = c.account_id AND o.channel_id = c.id \
                   AND o.updated_at >= now() - interval '1 hour' \
                   AND o.created_at >= now() - interval '1 hour') AS orders_last_hour \
         FROM channels c \
         JOIN stores st ON st.id = c.store_id \
         LEFT JOIN channel_import_state s ON s.channel_id = c.id \
         WHERE ($1::bigint IS NULL OR c.id < $1) \
         ORDER BY c.id DESC LIMIT $2"
    ))
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(ChannelOverview {
                account: AccountId(r.account_id),
                store_id: r.store_id,
                store_name: r.store_name,
                kind: enum_from_text(&r.kind)?,
                name: r.name,
                active: r.active,
                health: r.health.try_into()?,
                orders_last_hour: r.orders_last_hour,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_errors_are_cut_on_a_character_boundary() {
        assert_eq!(truncate("short"), "short");
        let long = "é".repeat(MAX_ERROR_LEN + 5);
        let cut = truncate(&long);
        assert_eq!(cut.chars().count(), MAX_ERROR_LEN + 1);
        assert!(cut.ends_with('…'));
    }
}
