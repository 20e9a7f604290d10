//! The outbox: jobs to enqueue and events to publish, written in the same transaction as the
//! domain change that caused them, so the two cannot part ways (DESIGN.md "Data flow and the
//! outbox"). A relay takes a batch, pushes it to Redis and deletes it, all inside one transaction
//! whose row locks keep other relays off the same rows; a crash before the commit leaves the rows
//! for the next take, and the duplicate push that may follow is harmless because jobs are
//! idempotent.

use std::borrow::Cow;

use serde_json::Value;
use sqlx::types::Json;
use sqlx::PgConnection;

use super::StoreError;
use crate::jobs::JobKind;

/// One thing to hand to Redis.
#[derive(Debug, Clone, PartialEq)]
pub enum OutboxItem {
    /// A job for `queue`, coalesced with a pending one of the same `unique_key` when given.
    Job {
        queue: String,
        payload: Value,
        unique_key: Option<String>,
    },
    /// Many jobs for `queue` without unique keys, in one row: what the webhook fan-out leaves
    /// behind, deferred, in case its own push after the commit never happens.
    Jobs { queue: String, payloads: Vec<Value> },
    /// A domain event (`{"type": "order.created", ...}`) for the webhook fan-out.
    Event { payload: Value },
}

impl OutboxItem {
    /// A typed job for its own queue.
    pub fn job<J: JobKind>(job: &J, unique_key: Option<String>) -> Result<OutboxItem, StoreError> {
        Ok(OutboxItem::Job {
            queue: J::QUEUE.to_owned(),
            payload: encode(job)?,
            unique_key,
        })
    }

    /// Many jobs of one kind, without unique keys, as one row.
    pub fn jobs<J: JobKind>(jobs: &[J]) -> Result<OutboxItem, StoreError> {
        Ok(OutboxItem::Jobs {
            queue: J::QUEUE.to_owned(),
            payloads: jobs.iter().map(encode).collect::<Result<_, _>>()?,
        })
    }
}

fn encode<J: JobKind>(job: &J) -> Result<Value, StoreError> {
    serde_json::to_value(job)
        .map_err(|e| StoreError::Corrupt(format!("job does not serialise: {e}")))
}

/// An item as its row's columns: kind, queue, payload, unique key.
fn columns(item: &OutboxItem) -> (&'static str, Option<&str>, Cow<'_, Value>, Option<&str>) {
    match item {
        OutboxItem::Job {
            queue,
            payload,
            unique_key,
        } => (
            "job",
            Some(queue),
            Cow::Borrowed(payload),
            unique_key.as_deref(),
        ),
        OutboxItem::Jobs { queue, payloads } => (
            "jobs",
            Some(queue),
            Cow::Owned(Value::from(payloads.clone())),
            None,
        ),
        OutboxItem::Event { payload } => ("event", None, Cow::Borrowed(payload), None),
    }
}

/// Writes an item in the caller's transaction.
pub async fn push_in_tx(conn: &mut PgConnection, item: &OutboxItem) -> Result<i64, StoreError> {
    push_deferred_in_tx(conn, item, None).await
}

/// Writes an item that no relay takes before `after` has passed (`None`: at once).
pub async fn push_deferred_in_tx(
    conn: &mut PgConnection,
    item: &OutboxItem,
    after: Option<std::time::Duration>,
) -> Result<i64, StoreError> {
    let (kind, queue, payload, unique_key) = columns(item);
    let after_ms = after.map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    Ok(sqlx::query_scalar(
        "INSERT INTO outbox (kind, queue, payload, unique_key, available_at) \
         VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5::double precision / 1000)) \
         RETURNING id",
    )
    .bind(kind)
    .bind(queue)
    .bind(Json(payload))
    .bind(unique_key)
    .bind(after_ms)
    .fetch_one(conn)
    .await?)
}

/// Writes `items` in the caller's transaction with one statement, in order, so a page of
/// imported orders costs one round trip for its events rather than one per event.
pub async fn push_many_in_tx(
    conn: &mut PgConnection,
    items: &[OutboxItem],
) -> Result<Vec<i64>, StoreError> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let mut kinds = Vec::with_capacity(items.len());
    let mut queues = Vec::with_capacity(items.len());
    let mut payloads = Vec::with_capacity(items.len());
    let mut unique_keys = Vec::with_capacity(items.len());
    for item in items {
        let (kind, queue, payload, unique_key) = columns(item);
        kinds.push(kind);
        queues.push(queue);
        payloads.push(payload.to_string());
        unique_keys.push(unique_key);
    }
    Ok(sqlx::query_scalar(
        "INSERT INTO outbox (kind, queue, payload, unique_key) \
         SELECT i.kind, i.queue, i.payload::jsonb, i.unique_key \
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[]) \
              WITH ORDINALITY AS i(kind, queue, payload, unique_key, n) \
         ORDER BY i.n \
         RETURNING id",
    )
    .bind(&kinds)
    .bind(&queues)
    .bind(&payloads)
    .bind(&unique_keys)
    .fetch_all(conn)
    .await?)
}

/// An outbox row as the relay takes it. Payloads stay JSON text: the relay hands them to Redis
/// as they are, so parsing and re-encoding them would be wasted work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    Job {
        queue: String,
        payload: String,
        unique_key: Option<String>,
    },
    Jobs {
        queue: String,
        payloads: Vec<String>,
    },
    /// With its `store_id` and `type` when it has them (an integer and a string).
    Event {
        payload: String,
        store_id: Option<i64>,
        event_type: Option<String>,
    },
}

/// Locks and returns up to `n` of the oldest items no other transaction holds and no deferral
/// keeps back. Call it inside a transaction and [`delete`] what was pushed before committing:
/// the locks last as long as that transaction, which is what keeps two relays from pushing the
/// same rows.
pub async fn take_batch(conn: &mut PgConnection, n: i64) -> Result<Vec<(i64, Taken)>, StoreError> {
    type Row = (
        i64,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<Vec<String>>,
        Option<i64>,
        Option<String>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, kind, queue, CASE WHEN kind <> 'jobs' THEN payload::text END, unique_key, \
             CASE WHEN kind = 'jobs' AND jsonb_typeof(payload) = 'array' \
                 THEN ARRAY(SELECT e::text FROM jsonb_array_elements(payload) e) END, \
             CASE WHEN kind = 'event' AND jsonb_typeof(payload->'store_id') = 'number' \
                     AND payload->>'store_id' ~ '^-?[0-9]{1,18}$' \
                 THEN (payload->>'store_id')::bigint END, \
             CASE WHEN kind = 'event' AND jsonb_typeof(payload->'type') = 'string' \
                 THEN payload->>'type' END \
         FROM outbox \
         WHERE available_at IS NULL OR available_at <= now() \
         ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
    )
    .bind(n)
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(
            |(id, kind, queue, payload, unique_key, jobs, store_id, event_type)| {
                let taken = match (kind.as_str(), queue, payload, jobs) {
                    ("job", Some(queue), Some(payload), _) => Taken::Job {
                        queue,
                        payload,
                        unique_key,
                    },
                    ("jobs", Some(queue), _, Some(payloads)) => Taken::Jobs { queue, payloads },
                    ("event", _, Some(payload), _) => Taken::Event {
                        payload,
                        store_id,
                        event_type,
                    },
                    (other, ..) => {
                        return Err(StoreError::Corrupt(format!(
                            "outbox row {id} of kind `{other}` is malformed"
                        )))
                    }
                };
                Ok((id, taken))
            },
        )
        .collect()
}

/// Deletes pushed items.
pub async fn delete(conn: &mut PgConnection, ids: &[i64]) -> Result<u64, StoreError> {
    let done = sqlx::query("DELETE FROM outbox WHERE id = ANY($1)")
        .bind(ids)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

/// The channel the relay listens on.
pub const NOTIFY_CHANNEL: &str = "switchyard_outbox";

/// Wakes the relay when the caller's transaction commits (PostgreSQL delivers a notification
/// only then, and folds repeats within one transaction into one).
pub async fn notify_in_tx(conn: &mut PgConnection) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(NOTIFY_CHANNEL)
        .execute(conn)
        .await?;
    Ok(())
}
