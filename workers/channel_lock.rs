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

/// SQLSTATE `lock_not_available`: the lock wait ran past `lock_timeout`.
const LOCK_NOT_AVAILABLE: &str = "55P03";

/// Why a lock was not taken. Only a lock still held by another run is `Busy`; anything else the
/// database says is its own failure, retried like any database error.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("channel {channel_id} is busy with another {kind:?} run")]
    Busy { kind: LockKind, channel_id: i64 },
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database: could not reset lock_timeout after locking channel {0}")]
    Reset(i64),
}

impl From<LockError> for JobError {
    fn from(e: LockError) -> JobError {
        match e {
            // The other run is likely short: come back soon rather than after the backoff.
            LockError::Busy { .. } => JobError::RetryAfter {
                message: e.to_string(),
                after: Duration::from_secs(2),
            },
            LockError::Database(_) | LockError::Reset(_) => JobError::retry(e),
        }
    }
}

/// Waits up to `wait` for the lock of `kind` on `channel_id`. A lock still held after that is
/// [`LockError::Busy`]; the caller decides whether to wait again or leave a follow-up.
pub async fn lock(
    db: &PgPool,
    kind: LockKind,
    channel_id: i64,
    wait: Duration,
) -> Result<ChannelLock, LockError> {
    let mut conn = db.acquire().await?;
    sqlx::query(&format!(
        "SET lock_timeout = '{}ms'",
        wait.as_millis().max(1)
    ))
    .execute(&mut *conn)
    .await?;
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
        return Err(LockError::Reset(channel_id));
    }
    match locked {
        Ok(_) => Ok(ChannelLock { conn, key }),
        Err(e) if is_lock_timeout(&e) => Err(LockError::Busy { kind, channel_id }),
        Err(e) => Err(LockError::Database(e)),
    }
}

fn is_lock_timeout(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|c| c == LOCK_NOT_AVAILABLE)
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

    /// A pool of one connection on the test database, so a lock's connection is the one the
    /// next query on that pool gets. Advisory locks need no tables: the database only has to
    /// exist.
    async fn one_connection() -> PgPool {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        let settings = crate::config::Settings::load_env(&dir, "test").expect("test config");
        crate::db::create_database_if_missing(&settings.database.url)
            .await
            .expect("test database");
        PgPoolOptions::new()
            .max_connections(1)
            .connect(&settings.database.url)
            .await
            .expect("PostgreSQL")
    }

    /// A connection that waited on a channel lock goes back to the pool with PostgreSQL's
    /// default lock timeout, not the lock's: the next user's statements must be able to wait.
    #[tokio::test]
    async fn a_released_connection_keeps_no_lock_timeout() {
        let pool = one_connection().await;
        let channel = i64::from(std::process::id());
        let busy = one_connection().await;
        let held = lock(&busy, LockKind::Import, channel, Duration::ZERO)
            .await
            .expect("free lock");
        let refused = lock(&pool, LockKind::Import, channel, Duration::ZERO).await;
        assert!(matches!(refused, Err(LockError::Busy { .. })));
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

    /// A lock statement that fails for any reason but the lock being held (here PostgreSQL
    /// cancels it) is a database error, retried as one: a busy channel would leave a follow-up
    /// and report the job done.
    #[tokio::test]
    async fn a_failed_lock_statement_is_a_database_error_not_a_busy_channel() {
        let (holder, waiter) = (one_connection().await, one_connection().await);
        let admin = one_connection().await;
        // One connection, so this is the session the lock below waits on.
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&waiter)
            .await
            .expect("pid");
        let channel = i64::from(std::process::id()) + 1_000_000;
        let held = lock(&holder, LockKind::Import, channel, Duration::ZERO)
            .await
            .expect("free lock");
        let waiting = tokio::spawn(async move {
            lock(&waiter, LockKind::Import, channel, Duration::from_secs(30)).await
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let event: Option<String> =
                sqlx::query_scalar("SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1")
                    .bind(pid)
                    .fetch_one(&admin)
                    .await
                    .expect("activity");
            if event.as_deref() == Some("Lock") {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "never waited");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        sqlx::query("SELECT pg_cancel_backend($1)")
            .bind(pid)
            .execute(&admin)
            .await
            .expect("cancel");
        let refused = waiting.await.expect("lock task");
        held.release().await;
        match refused.map(|_| ()).map_err(JobError::from) {
            Err(JobError::Retry(message)) => assert!(message.starts_with("database"), "{message}"),
            Err(other) => panic!("a database error reported as {other:?}"),
            Ok(()) => panic!("locked after a cancelled statement"),
        }
    }
}
