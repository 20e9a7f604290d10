//! The import-orders worker: pages through a channel's orders changed since its cursor (minus an
//! overlap window), applies the channel's filters, upserts each order idempotently, writes the
//! events it causes to the outbox, and advances the cursor in the same transaction as the page,
//! so a crash replays at most one committed page and never skips one.

use std::sync::Arc;
use std::time::Duration;

use apalis_core::task::data::Data;
use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;

use super::{Deps, ImportOrders};
use crate::connectors::{ConnectorError, OrderCursor, OrderPage, SalesChannel};
use crate::domain::{decide, Decision};
use crate::queue::JobError;
use crate::store::channels::ImportChannel;
use crate::store::import_state::{self, RunOutcome};
use crate::store::orders::{self, UpsertOutcome};
use crate::store::outbox::{self, OutboxItem};
use crate::store::{channels, StoreError};

/// Imports of one channel run one at a time; a second waits this long for the first.
const LOCK_WAIT: Duration = Duration::from_secs(120);
/// Advisory-lock namespace of channel imports (the high half of the 64-bit key).
const IMPORT_LOCK_NS: i64 = 0x5359_0001 << 32;

fn store_err(e: StoreError) -> JobError {
    JobError::retry(format!("database: {e}"))
}

fn db_err(e: sqlx::Error) -> JobError {
    JobError::retry(format!("database: {e}"))
}

/// The event an upsert causes, if any: what webhooks will announce.
fn event_for(o: &UpsertOutcome, decision: &Decision) -> Option<&'static str> {
    if o.created {
        return Some(match decision {
            Decision::Import => "order.created",
            Decision::Hold { .. } => "order.on_hold",
            Decision::Exclude { .. } => "order.excluded",
        });
    }
    o.changed.then_some("order.updated")
}

pub async fn run(job: ImportOrders, deps: Data<Arc<Deps>>) -> Result<(), JobError> {
    let Some(ic) = channels::get_for_import(&deps.db, &deps.credentials_key, job.channel_id)
        .await
        .map_err(store_err)?
    else {
        tracing::info!(
            channel_id = job.channel_id,
            "channel is gone; nothing to import"
        );
        return Ok(());
    };
    if !ic.channel.active {
        return Ok(());
    }
    // One import per channel at a time, held on a session of its own: if this worker dies the
    // session ends and the lock with it.
    let mut lock_conn = deps.db.acquire().await.map_err(db_err)?;
    sqlx::query(&format!("SET lock_timeout = '{}s'", LOCK_WAIT.as_secs()))
        .execute(&mut *lock_conn)
        .await
        .map_err(db_err)?;
    let key = IMPORT_LOCK_NS | job.channel_id;
    if let Err(e) = sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(key)
        .execute(&mut *lock_conn)
        .await
    {
        return Err(JobError::RetryAfter {
            message: format!(
                "another import of channel {} is still running: {e}",
                job.channel_id
            ),
            after: Duration::from_secs(5),
        });
    }
    let result = import(&deps, &ic).await;
    let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(key)
        .execute(&mut *lock_conn)
        .await;
    if unlocked.is_err() {
        // The lock lives as long as the session: drop the connection rather than return it.
        lock_conn.detach();
    }
    let outcome = match &result {
        Ok(_) => RunOutcome::Success,
        Err(e) => RunOutcome::Error(e.to_string()),
    };
    if let Err(e) = import_state::record_run(&deps.db, job.channel_id, &outcome).await {
        tracing::warn!(channel_id = job.channel_id, error = %e, "could not record the import run");
    }
    match result {
        Ok(n) => {
            tracing::info!(channel_id = job.channel_id, reason = ?job.reason, orders = n, "import finished");
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Where this walk starts: the saved checkpoint less the overlap window.
async fn start_cursor(deps: &Deps, channel_id: i64) -> Result<OrderCursor, JobError> {
    let saved = import_state::load_cursor(&deps.db, channel_id)
        .await
        .map_err(store_err)?;
    let overlap = chrono::Duration::from_std(deps.import_overlap).unwrap_or_default();
    Ok(match saved {
        Some(OrderCursor::Since(Some(t))) => OrderCursor::Since(Some(t - overlap)),
        _ => OrderCursor::Since(None),
    })
}

/// Walks every page; returns how many orders it looked at.
async fn import(deps: &Deps, ic: &ImportChannel) -> Result<usize, JobError> {
    let channel = &ic.channel;
    let connector = deps
        .connectors
        .get(
            channel.id,
            channel.updated_at,
            &channel.base_url,
            &ic.credentials,
        )
        .map_err(JobError::from)?;
    let walk_started = Utc::now();
    let mut cursor = start_cursor(deps, channel.id).await?;
    let mut checkpoint: Option<DateTime<Utc>> = None;
    let mut seen = 0;
    loop {
        let page = read_page(connector.as_ref(), &cursor)
            .await
            .map_err(JobError::from)?;
        seen += page.orders.len();
        // Page-numbered listings can shift under a walk, so never checkpoint past its start.
        if let Some(t) = page.max_updated_at() {
            checkpoint = Some(checkpoint.map_or(t, |c| c.max(t)).min(walk_started));
        }
        store_page(&deps.db, ic, &page.orders, checkpoint).await?;
        match page.next {
            Some(next) => cursor = next,
            None => return Ok(seen),
        }
    }
}

/// Tries per page before the job itself fails.
const PAGE_TRIES: u32 = 5;

/// Reads one page, retrying a transient failure a few times: a read is safe to repeat, and
/// failing the job instead would restart a long walk for one bad page.
async fn read_page(
    connector: &dyn SalesChannel,
    cursor: &OrderCursor,
) -> Result<OrderPage, ConnectorError> {
    let mut pause = Duration::from_millis(200);
    let mut tries = 1;
    loop {
        match connector.list_orders_since(cursor).await {
            Err(e) if e.is_retryable() && tries < PAGE_TRIES => {
                let wait = match &e {
                    ConnectorError::RateLimited { retry_after, .. } => *retry_after,
                    _ => pause,
                };
                tracing::debug!(error = %e, tries, "page read failed; trying again");
                tokio::time::sleep(wait.min(Duration::from_secs(10))).await;
                pause *= 2;
                tries += 1;
            }
            other => return other,
        }
    }
}

/// One page in one transaction: orders, their events, and the cursor after them.
async fn store_page(
    db: &PgPool,
    ic: &ImportChannel,
    page: &[crate::connectors::ChannelOrder],
    checkpoint: Option<DateTime<Utc>>,
) -> Result<(), JobError> {
    let channel = &ic.channel;
    let mut tx = db.begin().await.map_err(db_err)?;
    let mut created = 0i64;
    let mut events = 0;
    for order in page {
        let decision = decide(&channel.settings, order);
        let outcome = orders::upsert_order(&mut tx, channel, order, &decision)
            .await
            .map_err(store_err)?;
        if outcome.created {
            created += 1;
        }
        if let Some(kind) = event_for(&outcome, &decision) {
            let event = OutboxItem::Event {
                payload: json!({
                    "type": kind,
                    "order_id": outcome.order_id,
                    "store_id": channel.store_id,
                    "channel_id": channel.id,
                    "sync_status": outcome.sync_status,
                }),
            };
            outbox::push_in_tx(&mut tx, &event)
                .await
                .map_err(store_err)?;
            events += 1;
        }
    }
    if let Some(t) = checkpoint {
        import_state::save_cursor_in_tx(&mut tx, channel.id, &OrderCursor::Since(Some(t)), created)
            .await
            .map_err(store_err)?;
    }
    if events > 0 {
        outbox::notify_in_tx(&mut tx).await.map_err(store_err)?;
    }
    tx.commit().await.map_err(db_err)?;
    Ok(())
}
