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

use super::channel_lock::{follow_up, lock, LockError, LockKind};
use super::context::{db_err, store_err};
use super::{Deps, ImportOrders};
use crate::connectors::{ConnectorError, OrderCursor, OrderPage, SalesChannel};
use crate::connectors::{OrderStatus, SyncStatus, UnifiedOrder};
use crate::domain::{decide, Decision};
use crate::queue::JobError;
use crate::store::channels::ImportChannel;
use crate::store::import_state::{self, RunOutcome};
use crate::store::orders::{self, UpsertOutcome};
use crate::store::outbox::{self, OutboxItem};
use crate::store::{channel_products, channels, plugin_rules, products, stock};

/// How long after a busy channel's running import its follow-up runs, at the earliest.
const FOLLOW_UP: Duration = Duration::from_secs(1);

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
    // One import per channel at a time: the cursor is walked by one run. A request that finds
    // one running leaves a single follow-up behind it rather than holding a worker slot while it
    // waits, so a burst of webhooks costs one extra run, not one blocked slot each.
    let guard = match lock(&deps.db, LockKind::Import, job.channel_id, Duration::ZERO).await {
        Ok(guard) => guard,
        Err(LockError::Busy { .. }) => {
            let key = format!("import-followup:{}", job.channel_id);
            return follow_up(&deps.broker, &job, FOLLOW_UP, key).await;
        }
        Err(e) => return Err(e.into()),
    };
    let result = import(&deps, &ic).await;
    let outcome = match &result {
        Ok(_) => RunOutcome::Success,
        Err(e) => RunOutcome::Error(e.to_string()),
    };
    // Recorded under the lock: the next run's first page would otherwise hold the row.
    if let Err(e) = import_state::record_run(&deps.db, job.channel_id, &outcome).await {
        tracing::warn!(channel_id = job.channel_id, error = %e, "could not record the import run");
    }
    guard.release().await;
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
    let connector = deps.connector(ic).map_err(JobError::from)?;
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

/// The order's effect on stock, in the page's transaction: an order taken for work decrements
/// its lines' products (kits by their components); one cancelled or refunded on the channel puts
/// back what it took. Both are idempotent per order line, so a re-import never counts twice.
/// Returns the products whose quantity moved.
async fn apply_stock(
    tx: &mut sqlx::PgConnection,
    outcome: &UpsertOutcome,
    status: OrderStatus,
) -> Result<Vec<i64>, JobError> {
    let gone = matches!(status, OrderStatus::Cancelled | OrderStatus::Refunded);
    if gone && outcome.status_change.is_some() {
        return stock::restore_order_in_tx(tx, outcome.order_id)
            .await
            .map_err(store_err);
    }
    let live = !gone && outcome.sync_status != SyncStatus::Excluded;
    if live && (outcome.created || outcome.changed) {
        return stock::apply_stored_order_in_tx(tx, outcome.order_id)
            .await
            .map_err(store_err);
    }
    Ok(Vec::new())
}

/// The event of an imported order, carrying the unified order (built from the copy in memory:
/// its lines' switchyard ids are not known here and read as null) under `data`.
fn order_event(
    kind: &str,
    channel: &crate::store::channels::ChannelRow,
    outcome: &UpsertOutcome,
    order: &crate::connectors::ChannelOrder,
    decision: &Decision,
) -> Result<OutboxItem, JobError> {
    let excluded_reason = match (outcome.sync_status, decision) {
        (SyncStatus::Excluded, Decision::Exclude { reason }) => Some(reason.clone()),
        _ => None,
    };
    let unified = orders::StoredOrder {
        order: UnifiedOrder {
            id: outcome.order_id,
            store_id: channel.store_id,
            channel_id: channel.id,
            sync_status: outcome.sync_status,
            updated_at: Utc::now(),
            order: order.clone(),
        },
        excluded_reason,
    };
    let mut item =
        crate::webhooks::events::event(kind, channel.store_id, outcome.order_id, &unified)
            .map_err(store_err)?;
    // Kept beside `data` for readers of the events stream that predate it.
    if let OutboxItem::Event { payload } = &mut item {
        payload["channel_id"] = json!(channel.id);
        payload["sync_status"] = json!(outcome.sync_status);
    }
    Ok(item)
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
    let decided: Vec<_> = page
        .iter()
        .map(|order| (order.clone(), decide(&channel.settings, order)))
        .collect();
    let outcomes = orders::upsert_page(&mut tx, channel, &decided)
        .await
        .map_err(store_err)?;
    let mut created = 0i64;
    let mut items = Vec::new();
    let mut stock_changed: Vec<i64> = Vec::new();
    let page_skus: Vec<String> = page
        .iter()
        .flat_map(|o| o.lines.iter().filter_map(|l| l.sku.clone()))
        .collect();
    let managed = products::known_skus(&mut tx, channel.store_id, &page_skus)
        .await
        .map_err(store_err)?;
    // The store's plugin rules, on orders that just became work: their status, tags and route.
    let routing =
        plugin_rules::apply_at_import_in_tx(&mut tx, channel, &outcomes, &decided, &managed)
            .await
            .map_err(store_err)?;
    for (outcome, (order, decision)) in outcomes.iter().zip(&decided) {
        let outcome = &routing.adjusted(outcome);
        if outcome.created {
            created += 1;
        }
        let touches_stock = order
            .lines
            .iter()
            .any(|l| l.sku.as_ref().is_some_and(|s| managed.contains(s)));
        if touches_stock {
            stock_changed.extend(apply_stock(&mut tx, outcome, order.status).await?);
        }
        if let Some(kind) = routing
            .event(outcome.order_id)
            .or_else(|| event_for(outcome, decision))
        {
            items.push(order_event(kind, channel, outcome, order, decision)?);
        }
    }
    items.extend(
        channel_products::stock_sync_jobs_in_tx(&mut tx, &stock_changed)
            .await
            .map_err(store_err)?,
    );
    items.extend(routing.jobs);
    // One statement for the page's outbox rows: a round trip per order would dominate the page.
    outbox::push_many_in_tx(&mut tx, &items)
        .await
        .map_err(store_err)?;
    if let Some(t) = checkpoint {
        import_state::save_cursor_in_tx(&mut tx, channel.id, &OrderCursor::Since(Some(t)), created)
            .await
            .map_err(store_err)?;
    }
    if !items.is_empty() {
        outbox::notify_in_tx(&mut tx).await.map_err(store_err)?;
    }
    tx.commit().await.map_err(db_err)?;
    Ok(())
}
