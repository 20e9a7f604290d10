//! Work on one channel that must not overlap (an import walking its cursor, a stock sync whose
//! later figures must reach the channel last) takes a PostgreSQL advisory lock on a session of
//! its own. If the worker dies, its session ends and the lock with it.

use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};

use super::JobKind;
use crate::queue::{Broker, EnqueueOptions, JobError};

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
    let locked = sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(key)
        .execute(&mut *conn)
        .await;
    // The timeout is a session setting: left in place, it would cancel the next user's
    // ordinary statements on this pooled connection after a millisecond of waiting.
    if sqlx::query("RESET lock_timeout")
        .execute(&mut *conn)
        .await
        .is_err()
    {
        conn.detach();
        return Err(JobError::retry(format!(
            "database: could not reset lock_timeout after locking channel {channel_id}"
        )));
    }
    if let Err(e) = locked {
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

/// Leaves `job` to run `delay` from now, coalesced with any waiting job of the same
/// `unique_key`: what a job does when it finds its channel busy, rather than holding a worker
/// slot while it waits (a burst of triggers then costs one extra run, not one blocked slot each).
pub async fn follow_up<J: JobKind>(
    broker: &Broker,
    job: &J,
    delay: Duration,
    unique_key: String,
) -> Result<(), JobError> {
    let opts = EnqueueOptions {
        delay: Some(delay),
        unique_key: Some(unique_key),
        ..EnqueueOptions::default()
    };
    broker
        .queue(J::QUEUE)
        .map_err(|e| JobError::retry(e.to_string()))?
        .enqueue(job, &opts)
        .await
        .map_err(|e| JobError::retry(e.to_string()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::postgres::PgPoolOptions;

    /// A connection that waited on a channel lock goes back to the pool with PostgreSQL's
    /// default lock timeout, not the lock's: the next user's statements must be able to wait.
    #[tokio::test]
    async fn a_released_connection_keeps_no_lock_timeout() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        let settings = crate::config::Settings::load_env(&dir, "test").expect("test config");
        // Advisory locks need no tables: the database only has to exist.
        crate::db::create_database_if_missing(&settings.database.url)
            .await
            .expect("test database");
        // One connection, so the lock's connection is the one the next query gets.
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect(&settings.database.url)
            .await
            .expect("PostgreSQL");
        let channel = i64::from(std::process::id());
        let busy = PgPoolOptions::new()
            .max_connections(1)
            .connect(&settings.database.url)
            .await
            .expect("PostgreSQL");
        let held = lock(&busy, LockKind::Import, channel, Duration::ZERO)
            .await
            .expect("free lock");
        let refused = lock(&pool, LockKind::Import, channel, Duration::ZERO).await;
        assert!(matches!(refused, Err(JobError::RetryAfter { .. })));
        held.release().await;
        let guard = lock(&pool, LockKind::Import, channel, Duration::ZERO)
            .await
            .expect("free again");
        guard.release().await;
        let timeout: String = sqlx::query_scalar("SHOW lock_timeout")
            .fetch_one(&pool)
            .await
            .expect("SHOW");
        assert_eq!(timeout, "0");
    }
}
