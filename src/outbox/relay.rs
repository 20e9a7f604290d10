//! The outbox relay: moves rows that domain transactions wrote to the outbox into Redis (jobs
//! onto their queues, events onto the capped events stream) and deletes them, in one PostgreSQL
//! transaction per batch. A crash before the delete commits pushes the batch again, which is
//! harmless: every job is idempotent and events carry ids. Several relays may run at once (one
//! per process); `SKIP LOCKED` gives each its own rows.
//!
//! The same transaction fans events out to webhook deliveries. Their jobs are pushed straight
//! after the commit, with a deferred outbox row as the fallback should that push never happen.

use std::collections::BTreeMap;
use std::time::Duration;

use redis::AsyncCommands;
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::watch;

use crate::jobs::{DeliverWebhook, JobKind};
use crate::queue::{Broker, EnqueueOptions};
use crate::store::invoices::{self, OrderEvent};
use crate::store::outbox::{self, Taken, NOTIFY_CHANNEL};
use crate::store::webhooks::{self, EventRow, FanOut};

/// Rows moved per transaction.
const BATCH: i64 = 500;
/// Longest sleep between looks when no notification arrives (a lost one, or a relay that
/// started after the commit).
const POLL: Duration = Duration::from_secs(1);
/// Events kept in the stream for readers that catch up later.
const EVENTS_KEPT: usize = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("outbox: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("queue: {0}")]
    Queue(#[from] crate::queue::QueueError),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
}

/// The Redis stream domain events are published on.
pub fn events_key(broker: &Broker) -> String {
    format!("{}:events", broker.settings().redis.key_prefix)
}

/// How long the fallback row of a fan-out's jobs waits before any relay may push it: far longer
/// than the relay's own push after its commit takes, short enough that a crash in between delays
/// those deliveries by no more than this.
const FALLBACK_AFTER: Duration = Duration::from_secs(30);

/// One relay's state between batches.
#[derive(Default)]
struct Relay {
    /// Fallback rows whose jobs this relay pushed itself; deleted with the next batch.
    pushed_fallbacks: Vec<i64>,
}

impl Relay {
    /// Moves one batch. Returns how many rows it moved.
    async fn once(&mut self, db: &PgPool, broker: &Broker) -> Result<usize, RelayError> {
        let mut tx = db.begin().await?;
        let rows = outbox::take_batch(&mut tx, BATCH).await?;
        if rows.is_empty() {
            if !self.pushed_fallbacks.is_empty() {
                outbox::delete(&mut tx, &self.pushed_fallbacks).await?;
                tx.commit().await?;
                self.pushed_fallbacks.clear();
            }
            return Ok(0);
        }
        let mut events = redis::pipe();
        let key = events_key(broker);
        let mut has_events = false;
        // Jobs without a unique key go in one bulk call per queue: a fan-out of hundreds of
        // webhook deliveries would otherwise cost a round trip each.
        let mut bulk: BTreeMap<&str, Vec<&String>> = Default::default();
        for (id, item) in &rows {
            match item {
                Taken::Job {
                    queue,
                    payload,
                    unique_key: None,
                } => bulk.entry(queue.as_str()).or_default().push(payload),
                Taken::Job {
                    queue,
                    payload,
                    unique_key,
                } => {
                    let opts = EnqueueOptions {
                        unique_key: unique_key.clone(),
                        ..EnqueueOptions::default()
                    };
                    broker.queue(queue)?.enqueue_json(payload, &opts).await?;
                }
                Taken::Jobs { queue, payloads } => bulk
                    .entry(queue.as_str())
                    .or_default()
                    .extend(payloads.iter()),
                Taken::Event { payload, .. } => {
                    has_events = true;
                    events
                        .cmd("XADD")
                        .arg(&key)
                        .arg("MAXLEN")
                        .arg("~")
                        .arg(EVENTS_KEPT)
                        .arg("*")
                        .arg("outbox_id")
                        .arg(id)
                        .arg("event")
                        .arg(payload)
                        .ignore();
                }
            }
        }
        for (queue, payloads) in &bulk {
            broker
                .queue(queue)?
                .enqueue_bulk_json(payloads, &EnqueueOptions::default())
                .await?;
        }
        if has_events {
            let mut conn = broker.conn();
            let _: () = events.query_async(&mut conn).await?;
        }
        // Deliveries are made in this transaction, which also deletes the events: an event is
        // fanned out exactly once, or not at all if this rolls back.
        let event_rows: Vec<EventRow<'_>> = rows
            .iter()
            .filter_map(|(id, item)| match item {
                Taken::Event {
                    store_id: Some(store_id),
                    event_type: Some(event_type),
                    ..
                } => Some(EventRow {
                    outbox_id: *id,
                    store_id: *store_id,
                    event_type,
                }),
                _ => None,
            })
            .collect();
        let per_job = broker.settings().webhooks.deliveries_per_job;
        let fanned = webhooks::fan_out_in_tx(&mut tx, &event_rows, per_job, FALLBACK_AFTER).await?;
        // Orders the store's accounting connections invoice by themselves, in the same
        // transaction: each event is acted on once. Their jobs go out on the next turn.
        let order_events: Vec<OrderEvent<'_>> = rows
            .iter()
            .filter_map(|(_, item)| match item {
                Taken::Event {
                    payload,
                    store_id: Some(store_id),
                    event_type: Some(event_type),
                } => Some(OrderEvent {
                    store_id: *store_id,
                    event_type,
                    payload,
                }),
                _ => None,
            })
            .collect();
        if invoices::auto_invoice_in_tx(&mut tx, &order_events).await? > 0 {
            outbox::notify_in_tx(&mut tx).await?;
        }
        let mut ids: Vec<i64> = rows.iter().map(|(id, _)| *id).collect();
        ids.extend_from_slice(&self.pushed_fallbacks);
        outbox::delete(&mut tx, &ids).await?;
        tx.commit().await?;
        self.pushed_fallbacks.clear();
        // The deliveries' jobs go to Redis now rather than on the next turn through the outbox:
        // that saves a row per delivery and a turn of latency. Should this push not happen, the
        // fallback row pushes the same jobs once FALLBACK_AFTER has passed.
        if let Some(FanOut { jobs, fallback_row }) = fanned {
            match broker
                .queue(DeliverWebhook::QUEUE)?
                .enqueue_bulk(&jobs, &EnqueueOptions::default())
                .await
            {
                Ok(_) => self.pushed_fallbacks.push(fallback_row),
                Err(e) => tracing::warn!(
                    error = %e,
                    jobs = jobs.len(),
                    "could not queue webhook deliveries; the outbox will in {FALLBACK_AFTER:?}"
                ),
            }
        }
        Ok(rows.len())
    }
}

/// Relays until `stop` turns true, woken by the outbox's notifications.
pub async fn run(db: PgPool, broker: Broker, mut stop: watch::Receiver<bool>) {
    let mut listener = match PgListener::connect_with(&db).await {
        Ok(mut l) => match l.listen(NOTIFY_CHANNEL).await {
            Ok(()) => Some(l),
            Err(e) => {
                tracing::warn!(error = %e, "outbox relay cannot listen; polling instead");
                None
            }
        },
        Err(e) => {
            tracing::warn!(error = %e, "outbox relay cannot listen; polling instead");
            None
        }
    };
    let mut relay = Relay::default();
    let mut pause = Duration::from_millis(100);
    while !*stop.borrow() {
        match relay.once(&db, &broker).await {
            Ok(n) if n > 0 => {
                pause = Duration::from_millis(100);
                continue;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "outbox relay failed; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
                continue;
            }
        }
        let woken = async {
            match listener.as_mut() {
                Some(l) => {
                    let _ = l.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = woken => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = stop.changed() => {}
        }
    }
    // What this relay pushed need not be pushed again by another.
    if !relay.pushed_fallbacks.is_empty() {
        if let Ok(mut conn) = db.acquire().await {
            let _ = outbox::delete(&mut conn, &relay.pushed_fallbacks).await;
        }
    }
}

/// Reads up to `count` events from the stream, oldest first (for tests and tools).
pub async fn read_events(
    broker: &Broker,
    count: usize,
) -> Result<Vec<serde_json::Value>, RelayError> {
    let mut conn = broker.conn();
    let entries: redis::streams::StreamRangeReply = conn
        .xrange_count(events_key(broker), "-", "+", count)
        .await?;
    Ok(entries
        .ids
        .iter()
        .filter_map(|e| e.get::<String>("event"))
        .filter_map(|s| serde_json::from_str(&s).ok())
        .collect())
}
