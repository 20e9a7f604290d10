//! Retention: the deletes that keep finished records from piling up forever (`[retention]`).
//!
//! Each statement deletes at most a batch of rows and holds its row locks for milliseconds, so
//! the hot paths (recording webhook attempts, importing orders) never queue behind it; the
//! prune worker runs statements one after another, with a pause between, until a table is done
//! or the run's time budget is spent. Tables with a serial key are walked by that key, from
//! oldest to newest, so a statement reads a bounded range of the primary key's index and the walk
//! ends where rows are too young, never scanning the recent part of a large table.
//!
//! Only settled records go: a pending webhook delivery, its attempts and its event are kept
//! whatever their age, and rows a hot path holds locked are skipped until the next run. Outbox
//! rows need no pruning: the relay deletes each row once it is in Redis.

use std::time::Duration;

use sqlx::PgPool;

use super::StoreError;
use crate::config::RetentionSettings;

/// A table the prune deletes from, in the order a run visits them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// Settled deliveries, each with its attempts (`webhook_attempts`).
    WebhookDeliveries,
    /// Events no delivery points at any more: visited after the deliveries that held them.
    WebhookEvents,
    OrderEvents,
    IdempotencyKeys,
}

impl Table {
    pub fn name(self) -> &'static str {
        match self {
            Table::WebhookDeliveries => "webhook_deliveries",
            Table::WebhookEvents => "webhook_events",
            Table::OrderEvents => "order_events",
            Table::IdempotencyKeys => "idempotency_keys",
        }
    }
}

/// The tables to prune and the age past which their rows go, in visiting order; a table kept
/// forever (a retention of 0) is left out.
pub fn plan(settings: &RetentionSettings) -> Vec<(Table, Duration)> {
    let days = |d: u32| Duration::from_secs(u64::from(d) * 86_400);
    let hours = |h: u32| Duration::from_secs(u64::from(h) * 3_600);
    [
        (Table::WebhookDeliveries, days(settings.webhook_days)),
        (Table::WebhookEvents, days(settings.webhook_days)),
        (Table::OrderEvents, days(settings.order_events_days)),
        (
            Table::IdempotencyKeys,
            hours(settings.idempotency_keys_hours),
        ),
    ]
    .into_iter()
    .filter(|(_, age)| !age.is_zero())
    .collect()
}

/// What one statement did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Step {
    /// Rows deleted, by table (a delivery's attempts are counted apart from it).
    pub deleted: Vec<(&'static str, u64)>,
    /// The key the walk reached: the next statement starts after it.
    pub scanned_to: i64,
    /// Nothing older than the age is left beyond what was scanned: the table is done.
    pub finished: bool,
}

/// Deletes up to `limit` rows of `table` older than `age`, with keys after `after` (0 to start).
pub async fn prune_step(
    pool: &PgPool,
    table: Table,
    after: i64,
    age: Duration,
    limit: u32,
) -> Result<Step, StoreError> {
    let secs = age.as_secs_f64();
    let limit = i64::from(limit);
    // (last key scanned, whether the scan reached rows younger than the age, deleted, attempts)
    type Row = (Option<i64>, Option<bool>, i64, i64);
    let sql = match table {
        // A settled delivery goes with its attempts once its last attempt is old; the trigger
        // that deletes attempts finds them gone already. Locked rows (an attempt being recorded,
        // a replay) are skipped, and the status is read under the lock.
        Table::WebhookDeliveries => {
            "WITH scan AS ( \
                 SELECT id, created_at FROM webhook_deliveries WHERE id > $1 ORDER BY id LIMIT $3), \
             doomed AS ( \
                 SELECT d.id FROM webhook_deliveries d JOIN scan USING (id) \
                 WHERE d.status <> 'pending' \
                   AND COALESCE(d.last_attempt_at, d.created_at) < now() - make_interval(secs => $2) \
                 FOR UPDATE OF d SKIP LOCKED), \
             a AS (DELETE FROM webhook_attempts a USING doomed WHERE a.delivery_id = doomed.id \
                   RETURNING 1), \
             d AS (DELETE FROM webhook_deliveries d USING doomed WHERE d.id = doomed.id \
                   RETURNING 1) \
             SELECT (SELECT max(id) FROM scan), \
                    (SELECT bool_or(created_at >= now() - make_interval(secs => $2)) FROM scan), \
                    (SELECT count(*) FROM d), (SELECT count(*) FROM a)"
        }
        // An event is never given a delivery after the transaction that wrote it, so one that
        // no delivery points at now never will again.
        Table::WebhookEvents => {
            "WITH scan AS ( \
                 SELECT id, created_at FROM webhook_events WHERE id > $1 ORDER BY id LIMIT $3), \
             d AS ( \
                 DELETE FROM webhook_events e USING scan WHERE e.id = scan.id \
                   AND e.created_at < now() - make_interval(secs => $2) \
                   AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id) \
                 RETURNING 1) \
             SELECT (SELECT max(id) FROM scan), \
                    (SELECT bool_or(created_at >= now() - make_interval(secs => $2)) FROM scan), \
                    (SELECT count(*) FROM d), 0::bigint"
        }
        Table::OrderEvents => {
            "WITH scan AS ( \
                 SELECT id, at FROM order_events WHERE id > $1 ORDER BY id LIMIT $3), \
             d AS ( \
                 DELETE FROM order_events e USING scan WHERE e.id = scan.id \
                   AND e.at < now() - make_interval(secs => $2) \
                 RETURNING 1) \
             SELECT (SELECT max(id) FROM scan), \
                    (SELECT bool_or(at >= now() - make_interval(secs => $2)) FROM scan), \
                    (SELECT count(*) FROM d), 0::bigint"
        }
        Table::IdempotencyKeys => return prune_idempotency_keys(pool, secs, limit).await,
    };
    let (last, reached_young, deleted, attempts): Row = sqlx::query_as(sql)
        .bind(after)
        .bind(secs)
        .bind(limit)
        .fetch_one(pool)
        .await?;
    let deleted = u64::try_from(deleted).unwrap_or_default();
    let finished = last.is_none() || reached_young == Some(true);
    let mut counts = vec![(table.name(), deleted)];
    if table == Table::WebhookDeliveries {
        counts.push((
            "webhook_attempts",
            u64::try_from(attempts).unwrap_or_default(),
        ));
    }
    Ok(Step {
        deleted: counts,
        scanned_to: last.unwrap_or(after),
        finished,
    })
}

/// Saved keys have no serial key: the oldest go through the index on `created_at`, as a claim's
/// own purge takes them.
async fn prune_idempotency_keys(pool: &PgPool, secs: f64, limit: i64) -> Result<Step, StoreError> {
    let deleted = sqlx::query(
        "DELETE FROM idempotency_keys WHERE ctid IN ( \
             SELECT ctid FROM idempotency_keys \
             WHERE created_at < now() - make_interval(secs => $1) \
             ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
    )
    .bind(secs)
    .bind(limit)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(Step {
        deleted: vec![(Table::IdempotencyKeys.name(), deleted)],
        scanned_to: 0,
        finished: deleted < limit.unsigned_abs(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_visits_deliveries_before_their_events_and_skips_what_is_kept_forever() {
        let defaults = RetentionSettings::default();
        let tables: Vec<Table> = plan(&defaults).into_iter().map(|(t, _)| t).collect();
        assert_eq!(
            tables,
            [
                Table::WebhookDeliveries,
                Table::WebhookEvents,
                Table::OrderEvents,
                Table::IdempotencyKeys
            ]
        );
        assert_eq!(
            plan(&defaults)[2].1,
            Duration::from_secs(365 * 86_400),
            "order events for a year"
        );
        assert_eq!(plan(&defaults)[3].1, Duration::from_secs(48 * 3_600));
        let forever = RetentionSettings {
            webhook_days: 0,
            idempotency_keys_hours: 0,
            ..defaults
        };
        assert_eq!(
            plan(&forever),
            vec![(Table::OrderEvents, Duration::from_secs(365 * 86_400))]
        );
    }
}
