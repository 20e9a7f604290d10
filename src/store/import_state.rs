//! Where each channel's order import resumes, and how its runs went.
//!
//! The cursor is saved in the same transaction as the orders of the page it follows, so a crash
//! can only replay a committed page (harmless: upserts are idempotent), never skip one.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};

use super::{AccountId, StoreError};
use crate::connectors::OrderCursor;

/// How one import run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    Success,
    Error(String),
}

/// A channel's import health as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportHealth {
    pub channel_id: i64,
    pub last_run_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub orders_imported: i64,
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

/// Records the end of a run: success clears the last error; an error keeps the last success.
pub async fn record_run(
    pool: &PgPool,
    channel_id: i64,
    outcome: &RunOutcome,
) -> Result<(), StoreError> {
    let error = match outcome {
        RunOutcome::Success => None,
        RunOutcome::Error(e) => Some(truncate(e)),
    };
    sqlx::query(
        "INSERT INTO channel_import_state (channel_id, last_run_at, last_success_at, last_error) \
         VALUES ($1, now(), CASE WHEN $2::text IS NULL THEN now() END, $2) \
         ON CONFLICT (channel_id) DO UPDATE SET \
             last_run_at = now(), \
             last_success_at = COALESCE(EXCLUDED.last_success_at, \
                                        channel_import_state.last_success_at), \
             last_error = EXCLUDED.last_error",
    )
    .bind(channel_id)
    .bind(error)
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
    );
    let row: Option<Row> = sqlx::query_as(
        "SELECT c.id, s.last_run_at, s.last_success_at, s.last_error, s.orders_imported \
         FROM channels c LEFT JOIN channel_import_state s ON s.channel_id = c.id \
         WHERE c.account_id = $1 AND c.id = $2",
    )
    .bind(account.0)
    .bind(channel_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(
        |(channel_id, last_run_at, last_success_at, last_error, imported)| ImportHealth {
            channel_id,
            last_run_at,
            last_success_at,
            last_error,
            orders_imported: imported.unwrap_or(0),
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
