//! Work on one channel that must not overlap (an import walking its cursor, a stock sync whose
//! later figures must reach the channel last) takes a PostgreSQL advisory lock on a session of
//! its own. If the worker dies, its session ends and the lock with it.

use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};

use crate::queue::JobError;

/// Kinds of per-channel work, each with its own lock namespace (the high half of the key).
#[derive(Debug, Clone, Copy)]
pub enum LockKind {
    Import = 0x5359_0001,
    StockSync = 0x5359_0002,
    /// Keyed by fulfilment id, not channel id: one push attempt of a fulfilment at a time.
    Fulfilment = 0x5359_0003,
}

/// A held lock; released by [`ChannelLock::release`], or with the session if that fails.
pub struct ChannelLock {
    conn: PoolConnection<Postgres>,
    key: i64,
}

/// Waits up to `wait` for the lock of `kind` on `channel_id`. A lock still held after that is
/// reported as a retry-after error, so the job runs again once the other run is done.
pub async fn lock(
    db: &PgPool,
    kind: LockKind,
    channel_id: i64,
    wait: Duration,
) -> Result<ChannelLock, JobError> {
    let db_err = |e: sqlx::Error| JobError::retry(format!("database: {e}"));
    let mut conn = db.acquire().await.map_err(db_err)?;
    sqlx::query(&format!(
        "SET lock_timeout = '{}ms'",
        wait.as_millis().max(1)
    ))
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    let key = ((kind as i64) << 32) | (channel_id & 0xFFFF_FFFF);
    if let Err(e) = sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(key)
        .execute(&mut *conn)
        .await
    {
        return Err(JobError::RetryAfter {
            message: format!("channel {channel_id} is busy with another {kind:?} run: {e}"),
            after: Duration::from_secs(2),
        });
    }
    Ok(ChannelLock { conn, key })
}

impl ChannelLock {
    pub async fn release(mut self) {
        let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(self.key)
            .execute(&mut *self.conn)
            .await;
        if unlocked.is_err() {
            // The lock lives as long as the session: close it rather than pool it.
            self.conn.detach();
        }
    }
}
