//! Work on one channel that must not overlap (an import walking its cursor, a stock sync whose
//! later figures must reach the channel last) takes a PostgreSQL advisory lock on a session of
//! its own. If the worker dies, its session ends and the lock with it. The lock is a session's,
//! not a transaction's, so no error path may put its connection back in the pool still holding
//! it: that would hold the channel until the connection closes.

use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};

use crate::jobs::JobKind;
use crate::queue::{Broker, EnqueueOptions, JobError};

/// Kinds of per-channel work, each with its own lock namespace (the high half of the key).
#[derive(Debug, Clone, Copy)]
pub enum LockKind {
    Import = 0x5359_0001,
    StockSync = 0x5359_0002,
    /// Keyed by fulfilment id, not channel id: one push attempt of a fulfilment at a time.
    Fulfilment = 0x5359_0003,
    /// Keyed by invoice id: one post attempt of an invoice at a time.
    Invoice = 0x5359_0004,
}

/// A held lock; released by [`ChannelLock::release`]. One dropped unreleased (a panic, a
/// cancelled job) closes its session instead, so the lock never goes back to the pool held.
pub struct ChannelLock {
    /// `None` once released.
    conn: Option<PoolConnection<Postgres>>,
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
    let key = ((kind as i64) << 32) | (channel_id & 0xFFFF_FFFF);
    let taken = if wait.is_zero() {
        // A try never waits, so it needs no lock_timeout.
        sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut *conn)
            .await
    } else {
        sqlx::query(&format!(
            "SET lock_timeout = '{}ms'",
            wait.as_millis().max(1)
        ))
        .execute(&mut *conn)
        .await?;
        let locked = sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(key)
            .execute(&mut *conn)
            .await;
        // The timeout is a session setting: left in place, it would cancel the next user's
        // ordinary statements on this pooled connection. Ending the session ends the lock too.
        if sqlx::query("RESET lock_timeout")
            .execute(&mut *conn)
            .await
            .is_err()
        {
            drop(conn.detach());
            return Err(LockError::Reset(channel_id));
        }
        locked.map(|_| true)
    };
    let conn = match taken {
        Ok(true) => conn,
        Ok(false) => return Err(LockError::Busy { kind, channel_id }),
        // The statement can fail just as the lock is granted (a lock timeout or a cancel that
        // lands as the holder lets go): the error is reported, yet the session holds the lock.
        Err(e) => match holds(&mut conn, key).await {
            Ok(true) => conn,
            Ok(false) if is_lock_timeout(&e) => return Err(LockError::Busy { kind, channel_id }),
            Ok(false) => return Err(LockError::Database(e)),
            Err(_) => {
                drop(conn.detach());
                return Err(LockError::Database(e));
            }
        },
    };
    Ok(ChannelLock {
        conn: Some(conn),
        key,
    })
}

fn is_lock_timeout(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|c| c == LOCK_NOT_AVAILABLE)
}

/// Whether this session holds advisory lock `key` (PostgreSQL shows a bigint key as its high
/// half in `classid` and its low half in `objid`).
async fn holds(conn: &mut PoolConnection<Postgres>, key: i64) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_locks \
         WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted \
           AND objsubid = 1 AND (classid::bigint << 32) | objid::bigint = $1)",
    )
    .bind(key)
    .fetch_one(&mut **conn)
    .await
}

impl ChannelLock {
    pub async fn release(mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(self.key)
            .execute(&mut *conn)
            .await;
        if unlocked.is_err() {
            // The lock lives as long as the session: close it rather than pool it.
            drop(conn.detach());
        }
    }
}

impl Drop for ChannelLock {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            drop(conn.detach());
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

    /// The id of the session of a one-connection pool.
    async fn session(pool: &PgPool) -> i32 {
        sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(pool)
            .await
            .expect("pid")
    }

    /// Returns once session `pid` waits for a lock.
    async fn waits_on_a_lock(admin: &PgPool, pid: i32) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let event: Option<String> =
                sqlx::query_scalar("SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1")
                    .bind(pid)
                    .fetch_one(admin)
                    .await
                    .expect("activity");
            if event.as_deref() == Some("Lock") {
                return;
            }
            assert!(std::time::Instant::now() < deadline, "never waited");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// A lock statement can fail just as its lock is granted (a cancel, or a lock timeout, that
    /// lands as the holder lets go): PostgreSQL reports the error, yet the session holds the
    /// lock. It must not stay behind on a pooled connection, holding the channel for good.
    #[tokio::test]
    async fn a_lock_granted_as_its_statement_fails_is_not_left_behind() {
        let (holder, waiter) = (one_connection().await, one_connection().await);
        let (admin, other) = (one_connection().await, one_connection().await);
        let pid = session(&waiter).await;
        let channel = i64::from(std::process::id()) + 2_000_000;
        for round in 0..20 {
            let mut held = lock(&holder, LockKind::Import, channel, Duration::ZERO)
                .await
                .expect("free lock");
            let waiter = waiter.clone();
            let waiting = tokio::spawn(async move {
                lock(&waiter, LockKind::Import, channel, Duration::from_secs(30)).await
            });
            waits_on_a_lock(&admin, pid).await;
            // Let go and cancel the waiter in one statement: the lock is handed to the waiter
            // moments before the cancel reaches it.
            sqlx::query("SELECT pg_advisory_unlock($1), pg_cancel_backend($2)")
                .bind(held.key)
                .bind(pid)
                .execute(&mut **held.conn.as_mut().expect("held"))
                .await
                .expect("unlock and cancel");
            held.release().await;
            if let Ok(guard) = waiting.await.expect("lock task") {
                guard.release().await;
            }
            let free = lock(&other, LockKind::Import, channel, Duration::ZERO).await;
            match free {
                Ok(guard) => guard.release().await,
                Err(e) => panic!("round {round}: the lock was left behind: {e}"),
            }
        }
    }

    /// A lock dropped without being released (its job panicked) goes with its session, not back
    /// to the pool still held.
    #[tokio::test]
    async fn a_lock_dropped_unreleased_is_not_pooled_held() {
        let (pool, other) = (one_connection().await, one_connection().await);
        let channel = i64::from(std::process::id()) + 3_000_000;
        let held = lock(&pool, LockKind::Import, channel, Duration::ZERO)
            .await
            .expect("free lock");
        drop(held);
        let free = lock(&other, LockKind::Import, channel, Duration::from_secs(5)).await;
        match free {
            Ok(guard) => guard.release().await,
            Err(e) => panic!("the dropped lock is still held: {e}"),
        }
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
        let pid = session(&waiter).await;
        let channel = i64::from(std::process::id()) + 1_000_000;
        let held = lock(&holder, LockKind::Import, channel, Duration::ZERO)
            .await
            .expect("free lock");
        let waiting = tokio::spawn(async move {
            lock(&waiter, LockKind::Import, channel, Duration::from_secs(30)).await
        });
        waits_on_a_lock(&admin, pid).await;
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
