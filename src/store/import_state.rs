//! Where each channel's order import resumes, how its runs went, and while it fails, how it
//! backs off.
//!
//! The cursor is saved in the same transaction as the orders of the page it follows, so a crash
//! can only replay a committed page (harmless: upserts are idempotent), never skip one.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};

use super::{AccountId, StoreError};
use crate::domain::OrderCursor;

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
}

/// A channel's import health as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = ChannelHealth, example = json!({
    "channel_id": 7, "last_run_at": "2026-12-04T10:19:02.117342Z",
    "last_success_at": "2026-12-04T10:16:02.903512Z",
    "last_error": "channel unavailable: could not connect: client error (Connect): tcp connect error: Connection refused (os error 111)",
    "orders_imported": 42, "consecutive_failures": 2,
    "backoff_until": "2026-12-04T10:19:32.117342Z"
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

/// The channel's backoff; a channel that never failed has none.
pub async fn backoff(pool: &PgPool, channel_id: i64) -> Result<Backoff, StoreError> {
    let row: Option<(i32, Option<String>, f64)> = sqlx::query_as(
        "SELECT failures, retry_job, \
                COALESCE(GREATEST(EXTRACT(EPOCH FROM retry_at - now()), 0), 0)::float8 \
         FROM channel_import_state WHERE channel_id = $1",
    )
    .bind(channel_id)
    .fetch_optional(pool)
    .await?;
    Ok(
        row.map_or_else(Backoff::default, |(failures, retry_job, wait)| Backoff {
            failures: u32::try_from(failures).unwrap_or_default(),
            retry_job,
            wait: Duration::try_from_secs_f64(wait).unwrap_or_default(),
        }),
    )
}

/// Records the end of a run: success clears the last error and the backoff; a failure keeps the
/// last success and saves the backoff it leads to.
pub async fn record_run(
    pool: &PgPool,
    channel_id: i64,
    outcome: &RunOutcome,
) -> Result<(), StoreError> {
    let (error, backoff) = match outcome {
        RunOutcome::Success => (None, None),
        RunOutcome::Failed { error, backoff } => (Some(truncate(error)), Some(backoff)),
    };
    sqlx::query(
        "INSERT INTO channel_import_state \
             (channel_id, last_run_at, last_success_at, last_error, failures, retry_at, retry_job) \
         VALUES ($1, now(), CASE WHEN $2::text IS NULL THEN now() END, $2, $3, \
                 now() + make_interval(secs => $4), $5) \
         ON CONFLICT (channel_id) DO UPDATE SET \
             last_run_at = now(), \
             last_success_at = COALESCE(EXCLUDED.last_success_at, \
                                        channel_import_state.last_success_at), \
             last_error = EXCLUDED.last_error, \
             failures = EXCLUDED.failures, \
             retry_at = EXCLUDED.retry_at, \
             retry_job = EXCLUDED.retry_job",
    )
    .bind(channel_id)
    .bind(error)
    .bind(backoff.map_or(0, |b| i32::try_from(b.failures).unwrap_or(i32::MAX)))
    .bind(backoff.map(|b| b.wait.as_secs_f64()))
    .bind(backoff.and_then(|b| b.retry_job.clone()))
    .execute(pool)
    .await?;
    Ok(())
}

fn truncate(text: &str) -> String {
    match text.char_indices().nth(MAX_ERROR_LEN) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// The import health of one of the account's channels; `None` when the account has no such
/// channel. A channel that never ran reads as all empty.
pub async fn import_health(
    pool: &PgPool,
    account: AccountId,
    channel_id: i64,
) -> Result<Option<ImportHealth>, StoreError> {
    type Row = (
        i64,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
        Option<String>,
        Option<i64>,
        Option<i32>,
        Option<DateTime<Utc>>,
    );
    let row: Option<Row> = sqlx::query_as(
        "SELECT c.id, s.last_run_at, s.last_success_at, s.last_error, s.orders_imported, \
                s.failures, CASE WHEN s.retry_at > now() THEN s.retry_at END \
         FROM channels c LEFT JOIN channel_import_state s ON s.channel_id = c.id \
         WHERE c.account_id = $1 AND c.id = $2",
    )
    .bind(account.0)
    .bind(channel_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(
        |(channel_id, last_run_at, last_success_at, last_error, imported, failures, until)| {
            ImportHealth {
                channel_id,
                last_run_at,
                last_success_at,
                last_error,
                orders_imported: imported.unwrap_or(0),
                consecutive_failures: failures.map_or(0, i64::from),
                backoff_until: until,
            }
        },
    ))
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
