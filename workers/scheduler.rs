//! The import timers. Every few seconds it looks for active channels whose poll interval has
//! passed since their last import and enqueues an import for each. The enqueue carries a unique
//! key per channel per poll slot that outlives the job, so however many processes run the timer,
//! a channel is imported once per interval. On the same tick it enqueues each stock-managed
//! channel's stock reconciliation once per its `stock_reconcile_interval_secs` slot, the same way,
//! and the prune job once per `retention.prune_every_secs` slot.

use std::sync::Arc;
use std::time::Duration;

use apalis_core::error::BoxDynError;

use super::Deps;
use crate::jobs::{ImportOrders, ImportProducts, ImportReason, JobKind, Prune, ReconcileStock};
use crate::queue::timers::run_every;
use crate::queue::EnqueueOptions;
use crate::store::{channels, AccountId};

/// The unique key of a channel's scheduled import in the poll slot containing `now_secs`.
pub fn slot_key(channel_id: i64, interval_secs: u32, now_secs: u64) -> String {
    timer_key("import-timer", channel_id, interval_secs, now_secs)
}

/// `<timer>:<channel>:<slot>`, the slot being the `interval_secs`-long one containing `now_secs`.
fn timer_key(timer: &str, channel_id: i64, interval_secs: u32, now_secs: u64) -> String {
    let slot = now_secs / u64::from(interval_secs.max(1));
    format!("{timer}:{channel_id}:{slot}")
}

/// Options of a timer's enqueue in a slot: its key outlives the job for two intervals, so a
/// later tick of the same slot (on this process or another) enqueues nothing.
fn slot_options(key: String, interval_secs: u32) -> EnqueueOptions {
    EnqueueOptions {
        unique_key: Some(key),
        unique_for: Some(Duration::from_secs(u64::from(interval_secs.max(1)) * 2)),
        ..EnqueueOptions::default()
    }
}

/// [`slot_options`] for a job of `account`'s, which takes its turn with other accounts' jobs.
fn account_slot_options(account: AccountId, key: String, interval_secs: u32) -> EnqueueOptions {
    EnqueueOptions {
        tenant: Some(account.tenant()),
        ..slot_options(key, interval_secs)
    }
}

/// Enqueues the imports that are due. Returns how many this call created.
pub async fn enqueue_due_imports(deps: &Deps, now_secs: u64) -> Result<usize, BoxDynError> {
    let queue = deps.broker.queue(ImportOrders::QUEUE)?;
    let mut created = 0;
    for due in channels::active_channels_due(&deps.db).await? {
        let interval = due.poll_interval_secs;
        let key = slot_key(due.channel_id, interval, now_secs);
        let opts = account_slot_options(due.account_id, key, interval);
        let job = ImportOrders {
            channel_id: due.channel_id,
            reason: ImportReason::Timer,
        };
        if queue.enqueue(&job, &opts).await?.created {
            created += 1;
        }
    }
    Ok(created)
}

/// Enqueues each product-downloading channel's product import once per `every`.
pub async fn enqueue_product_imports(
    deps: &Deps,
    every: Duration,
    now_secs: u64,
) -> Result<usize, BoxDynError> {
    let queue = deps.broker.queue(ImportProducts::QUEUE)?;
    let interval = every.as_secs().max(1);
    let mut created = 0;
    for channel_id in channels::product_download_channels(&deps.db).await? {
        let opts = EnqueueOptions {
            unique_key: Some(format!(
                "products-timer:{channel_id}:{}",
                now_secs / interval
            )),
            unique_for: Some(every * 2),
            ..EnqueueOptions::default()
        };
        if queue
            .enqueue(&ImportProducts { channel_id }, &opts)
            .await?
            .created
        {
            created += 1;
        }
    }
    Ok(created)
}

/// The unique key of a channel's scheduled stock reconciliation in the slot containing
/// `now_secs`.
pub fn reconcile_slot_key(channel_id: i64, interval_secs: u32, now_secs: u64) -> String {
    timer_key("reconcile-timer", channel_id, interval_secs, now_secs)
}

/// Enqueues the stock reconciliation of every stock-managed channel whose reconcile interval
/// (a channel setting, 0: off) starts a new slot at `now_secs`. Returns how many this call
/// created.
pub async fn enqueue_due_reconciles(deps: &Deps, now_secs: u64) -> Result<usize, BoxDynError> {
    let queue = deps.broker.queue(ReconcileStock::QUEUE)?;
    let mut created = 0;
    for due in channels::stock_reconcile_channels(&deps.db).await? {
        let interval = due.interval_secs;
        let key = reconcile_slot_key(due.channel_id, interval, now_secs);
        let opts = account_slot_options(due.account_id, key, interval);
        let job = ReconcileStock {
            channel_id: due.channel_id,
        };
        if queue.enqueue(&job, &opts).await?.created {
            created += 1;
        }
    }
    Ok(created)
}

/// The unique key of the prune job in the slot of `every_secs` containing `now_secs`.
pub fn prune_slot_key(every_secs: u64, now_secs: u64) -> String {
    format!("prune-timer:{}", now_secs / every_secs.max(1))
}

/// Enqueues the prune job once per `retention.prune_every_secs` slot, however many processes
/// tick. Returns whether this call created it.
pub async fn enqueue_prune(deps: &Deps, now_secs: u64) -> Result<bool, BoxDynError> {
    let every = deps.broker.settings().retention.prune_every_secs;
    let key = prune_slot_key(every, now_secs);
    let opts = slot_options(key, u32::try_from(every).unwrap_or(u32::MAX));
    let queue = deps.broker.queue(Prune::QUEUE)?;
    Ok(queue.enqueue(&Prune {}, &opts).await?.created)
}

/// Runs the import timer until `shutdown` resolves, looking every `every` for due order imports
/// and enqueueing product imports every `products_every`.
pub async fn run(
    deps: Arc<Deps>,
    every: Duration,
    products_every: Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), apalis_core::error::WorkerError> {
    let on_tick = move |tick| {
        let deps = deps.clone();
        async move {
            enqueue_product_imports(&deps, products_every, tick).await?;
            enqueue_due_reconciles(&deps, tick).await?;
            enqueue_prune(&deps, tick).await?;
            let created = enqueue_due_imports(&deps, tick).await?;
            if created > 0 {
                tracing::debug!(created, "scheduled imports enqueued");
            }
            Ok(())
        }
    };
    run_every("timer-imports".into(), every, on_tick, shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_change_once_per_interval() {
        assert_eq!(slot_key(7, 180, 0), slot_key(7, 180, 179));
        assert_ne!(slot_key(7, 180, 179), slot_key(7, 180, 180));
        assert_ne!(slot_key(7, 180, 10), slot_key(8, 180, 10));
        assert_eq!(
            reconcile_slot_key(7, 900, 900),
            reconcile_slot_key(7, 900, 1799)
        );
        assert_ne!(
            reconcile_slot_key(7, 900, 899),
            reconcile_slot_key(7, 900, 900)
        );
        assert_ne!(reconcile_slot_key(7, 900, 10), slot_key(7, 900, 10));
        assert_eq!(prune_slot_key(3600, 3600), prune_slot_key(3600, 7199));
        assert_ne!(prune_slot_key(3600, 3599), prune_slot_key(3600, 3600));
    }
}
