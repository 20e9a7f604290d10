//! The push-fulfilment worker: records a fulfilment on its order's channel and moves it
//! pending -> sending -> synced, or failed with the channel's reason.
//!
//! Pushed at most once per success. The row is `sending` before the channel is called, so a job
//! that finds it `sending` knows an earlier attempt may have reached the channel (its worker died,
//! or the answer was lost to a timeout or a 5xx) and asks the channel first, adopting the
//! shipment it finds instead of creating another. A retryable failure (429, 5xx, timeout,
//! malformed answer) leaves the row `sending` and retries through the queue; a refusal (any other
//! 4xx) fails the row at once with the channel's message and the job goes to the dead letters.

use std::sync::Arc;
use std::time::Duration;

use apalis_core::task::data::Data;

use super::channel_lock::{lock, LockKind};
use super::retry::retry_or_give_up;
use super::Deps;
use crate::connectors::ConnectorError;
use crate::domain::fulfilment::{push_step, PushStep};
use crate::domain::FulfilmentReceipt;
use crate::jobs::{JobKind, PushFulfilment};
use crate::queue::{JobError, JobMeta};
use crate::store::{channels, fulfilments};

pub async fn run(
    job: PushFulfilment,
    deps: Data<Arc<Deps>>,
    meta: Data<JobMeta>,
) -> Result<(), JobError> {
    // Two attempts of one fulfilment at once (a lease that expired under a slow call) would both
    // see `sending` and could both create it; one at a time, the second finds the first's work.
    let guard = lock(
        &deps.db,
        LockKind::Fulfilment,
        job.fulfilment_id,
        Duration::ZERO,
    )
    .await?;
    let result = push(&deps, job.fulfilment_id, &meta).await;
    guard.release().await;
    result
}

async fn push(deps: &Deps, id: i64, meta: &JobMeta) -> Result<(), JobError> {
    let Some((before, target)) = fulfilments::begin_push(&deps.db, id).await? else {
        tracing::info!(fulfilment_id = id, "fulfilment is gone; nothing to push");
        return Ok(());
    };
    let step = push_step(before);
    if step == PushStep::Done {
        return Ok(());
    }
    let channel_id = target.fulfilment.channel_id;
    let Some(ic) = channels::get_for_import(&deps.db, &deps.credentials_key, channel_id).await?
    else {
        return give_up(deps, id, "the order's channel no longer exists".into()).await;
    };
    let connector = match deps.connector(&ic) {
        Ok(c) => c,
        Err(e) => return failure(deps, id, meta, e).await,
    };
    if step == PushStep::Reconcile {
        match connector.find_fulfilment(&target.request).await {
            Ok(Some(receipt)) => {
                tracing::info!(
                    fulfilment_id = id,
                    channel_fulfilment_id = %receipt.channel_fulfilment_id,
                    "the channel already holds this fulfilment; adopting it"
                );
                return synced(deps, id, &receipt, "adopted").await;
            }
            Ok(None) => {}
            Err(e) => return failure(deps, id, meta, e).await,
        }
    }
    match connector.create_fulfilment(&target.request).await {
        Ok(receipt) => synced(deps, id, &receipt, "created").await,
        Err(e) => failure(deps, id, meta, e).await,
    }
}

async fn synced(
    deps: &Deps,
    id: i64,
    receipt: &FulfilmentReceipt,
    how: &'static str,
) -> Result<(), JobError> {
    // A failure to record this is retried like any database error: the row stays `sending`, so
    // the retry finds the channel's fulfilment and adopts it rather than pushing again.
    fulfilments::mark_synced(&deps.db, id, &receipt.channel_fulfilment_id).await?;
    metrics::counter!("switchyard_fulfilments_synced_total", "how" => how).increment(1);
    Ok(())
}

/// A failed channel call: retried through the queue while it may yet work and attempts remain,
/// else the fulfilment fails with the reason and the job goes to the dead letters.
async fn failure(
    deps: &Deps,
    id: i64,
    meta: &JobMeta,
    err: ConnectorError,
) -> Result<(), JobError> {
    match retry_or_give_up(
        &deps.broker,
        PushFulfilment::QUEUE,
        meta.attempt,
        err,
        "push",
        "channel",
    ) {
        Ok(err) => {
            tracing::info!(fulfilment_id = id, attempt = meta.attempt, error = %err, "fulfilment push failed; will retry");
            Err(JobError::from(err))
        }
        Err(reason) => give_up(deps, id, reason).await,
    }
}

async fn give_up(deps: &Deps, id: i64, reason: String) -> Result<(), JobError> {
    fulfilments::mark_failed(&deps.db, id, &reason).await?;
    metrics::counter!("switchyard_fulfilments_failed_total").increment(1);
    tracing::warn!(fulfilment_id = id, %reason, "fulfilment failed");
    Err(JobError::Permanent(reason))
}
