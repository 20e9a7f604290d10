//! The sync-stock worker: computes what each of a channel's mapped listings should show (the
//! stock rule, kits, the channel's buffer) and pushes only the figures that differ from what the
//! channel was last sent, through the channel's throttle. Runs for one channel at a time, so the
//! last figure computed is the last one pushed; jobs for a channel coalesce while they wait.
//!
//! Pushes to a channel are at least `connectors.stock_push_interval_ms` apart: a change that
//! finds the channel idle goes at once, and a job arriving sooner waits out the interval, so the
//! changes made meanwhile join it and go in one call (Shopify: 250 levels, WooCommerce: 100).

use std::sync::Arc;
use std::time::Duration;

use apalis_core::task::data::Data;

use super::channel_lock::{follow_up, lock, LockError, LockKind};
use super::Deps;
use crate::jobs::SyncStock;
use crate::queue::JobError;
use crate::store::{channel_products, channels};

/// How soon after a busy channel's running sync its follow-up runs: short, because the figures
/// it will push are what a sale is waiting on.
const FOLLOW_UP: Duration = Duration::from_millis(50);

pub async fn run(job: SyncStock, deps: Data<Arc<Deps>>) -> Result<(), JobError> {
    let Some(ic) =
        channels::get_for_import(&deps.db, &deps.credentials_key, job.channel_id).await?
    else {
        return Ok(());
    };
    let settings = &ic.channel.settings;
    if !ic.channel.active || !settings.stock_management {
        return Ok(());
    }
    let interval = deps.broker.settings().connectors.stock_push_interval();
    if let Some(wait) = deps.stock_pushes.wait(job.channel_id, interval) {
        return follow_up(&deps.broker, &job, wait, job.unique_key()).await;
    }
    // One run per channel at a time, so the last figure computed is the last one pushed. A job
    // that finds a run in progress leaves one follow-up, coalesced with any sync already waiting,
    // instead of holding a worker slot: waiting jobs of a slow channel (a 2 calls/s Shopify
    // bucket) would otherwise fill the pool and hold up every other channel's stock.
    let guard = match lock(
        &deps.db,
        LockKind::StockSync,
        job.channel_id,
        Duration::ZERO,
    )
    .await
    {
        Ok(guard) => guard,
        Err(LockError::Busy { .. }) => {
            let key = job.unique_key();
            return follow_up(&deps.broker, &job, FOLLOW_UP, key).await;
        }
        Err(e) => return Err(e.into()),
    };
    deps.stock_pushes.record(job.channel_id);
    let result = push(&deps, &ic, i64::from(settings.stock_buffer)).await;
    guard.release().await;
    let pushed = result?;
    if pushed > 0 {
        metrics::counter!("switchyard_stock_pushes_total", "channel" => job.channel_id.to_string())
            .increment(pushed);
        tracing::info!(channel_id = job.channel_id, pushed, "stock pushed");
    }
    Ok(())
}

/// Pushes the changed figures; each accepted one is recorded at once, so a retry after a failure
/// sends only what is still different.
async fn push(deps: &Deps, ic: &channels::ImportChannel, buffer: i64) -> Result<u64, JobError> {
    let channel = &ic.channel;
    let plan = channel_products::stock_plan(&deps.db, channel.id, buffer).await?;
    let connector = deps.connector(ic).map_err(JobError::from)?;
    let due: Vec<_> = plan.iter().filter(|p| p.needs_push()).collect();
    let levels: Vec<_> = due
        .iter()
        .map(|p| (p.listing.clone(), p.quantity))
        .collect();
    let outcomes = connector.set_stocks(&levels).await;
    let mut pushed = 0;
    let mut failed = None;
    for (p, outcome) in due.iter().zip(outcomes) {
        match outcome {
            Ok(()) => {
                channel_products::record_pushed(&deps.db, p.channel_product_id, p.quantity).await?;
                pushed += 1;
            }
            Err(e) => {
                failed.get_or_insert(e);
            }
        }
    }
    match failed {
        // What was accepted is recorded; the retry sends only what is still different.
        Some(e) => Err(JobError::from(e)),
        None => Ok(pushed),
    }
}
