//! Worker pools: one apalis worker per handled queue, fed by the Redis backend, at the queue's
//! configured concurrency, stopped gracefully on shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use apalis_core::worker::builder::WorkerBuilder;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::limit::ConcurrencyLimitLayer;

use super::{
    deliver_webhook, import_orders, import_products, noop, post_invoice, prune, push_fulfilment,
    reconcile_stock, run_plugin, sync_stock, Deps,
};
use crate::jobs::{
    DeliverWebhook, ImportOrders, ImportProducts, Kind, Noop, PostInvoice, Prune, PushFulfilment,
    ReconcileStock, RunPlugin, SyncStock, QUEUES,
};
use crate::queue::{Broker, QueueError, RedisBackend};

#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("`{0}` is not a typed queue; the queues are: {queues}", queues = QUEUES.join(", "))]
    NotHandled(String),
    #[error("queue `{0}` needs the database; start it with one")]
    NeedsDatabase(String),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// Queues whose workers need the database (and so `Deps`).
pub fn needs_deps(queue: &str) -> bool {
    Kind::parse(queue).is_some_and(|kind| kind != Kind::Noop)
}

/// Builds one queue's worker and runs it until `stop` resolves. Returns the run and the worker's
/// unstarted jobs.
macro_rules! worker_run {
    ($q:expr, $args:ty, $handler:expr, $stop:expr $(, $data:expr)?) => {{
        let backend = RedisBackend::<$args>::new($q);
        let unstarted = backend.unstarted();
        let concurrency = backend.queue().policy().concurrency;
        let worker = WorkerBuilder::new(backend.worker_id().0.clone())
            .backend(backend)
            $(.data($data))?
            .layer(ConcurrencyLimitLayer::new(concurrency))
            .build($handler);
        let stop = $stop;
        let run = Box::pin(async move {
            worker
                .run_until(async move {
                    stop.await;
                    Ok::<(), std::io::Error>(())
                })
                .await
        }) as std::pin::Pin<Box<dyn Future<Output = Result<(), apalis_core::error::WorkerError>> + Send>>;
        (run, unstarted)
    }};
}

/// Runs one queue's pool until `shutdown` turns true, then hands unstarted jobs back at once and
/// lets running jobs finish (for at most the configured grace).
pub fn spawn_pool(
    broker: &Broker,
    queue: &str,
    shutdown: watch::Receiver<bool>,
) -> Result<impl Future<Output = ()> + Send + 'static, PoolError> {
    spawn_pool_with(broker, queue, None, shutdown)
}

/// [`spawn_pool`] for any handled queue; the domain queues need `deps`.
pub fn spawn_pool_with(
    broker: &Broker,
    queue: &str,
    deps: Option<Arc<Deps>>,
    shutdown: watch::Receiver<bool>,
) -> Result<impl Future<Output = ()> + Send + 'static, PoolError> {
    let q = broker.queue(queue)?;
    let grace = Duration::from_secs(broker.settings().shutdown.grace_secs);
    let concurrency = q.policy().concurrency;
    let name = q.name().to_owned();
    let stop = crate::shutdown::wait(shutdown.clone());
    let kind = Kind::parse(queue).ok_or_else(|| PoolError::NotHandled(queue.to_owned()))?;
    let deps = || {
        deps.clone()
            .ok_or_else(|| PoolError::NeedsDatabase(queue.to_owned()))
    };
    // Each queue's worker, registered here and only here; exhaustive, so a queue of the job
    // contract without a worker does not compile.
    let (mut run, unstarted) = match kind {
        Kind::Noop => worker_run!(q, Noop, noop::run, stop),
        Kind::ImportOrders => worker_run!(q, ImportOrders, import_orders::run, stop, deps()?),
        Kind::ImportProducts => {
            worker_run!(q, ImportProducts, import_products::run, stop, deps()?)
        }
        Kind::SyncStock => worker_run!(q, SyncStock, sync_stock::run, stop, deps()?),
        Kind::ReconcileStock => {
            worker_run!(q, ReconcileStock, reconcile_stock::run, stop, deps()?)
        }
        Kind::PushFulfilment => {
            worker_run!(q, PushFulfilment, push_fulfilment::run, stop, deps()?)
        }
        Kind::DeliverWebhook => {
            worker_run!(q, DeliverWebhook, deliver_webhook::run, stop, deps()?)
        }
        Kind::RunPlugin => worker_run!(q, RunPlugin, run_plugin::run, stop, deps()?),
        Kind::PostInvoice => worker_run!(q, PostInvoice, post_invoice::run, stop, deps()?),
        Kind::Prune => worker_run!(q, Prune, prune::run, stop, deps()?),
    };
    Ok(async move {
        tracing::info!(queue = %name, concurrency, "worker pool started");
        let outcome = tokio::select! {
            r = &mut run => Some(r),
            _ = crate::shutdown::wait(shutdown) => None,
        };
        let outcome = match outcome {
            Some(r) => Some(r),
            None => {
                // Fetched jobs that have not started go back now, whatever the running ones do:
                // other workers can take them during the grace, and none waits out its lease
                // (and is charged an attempt it never had) when running jobs outlive the grace.
                let (_, finished) = tokio::join!(
                    tokio::time::timeout(grace, unstarted.hand_back()),
                    tokio::time::timeout(grace, run)
                );
                finished.ok()
            }
        };
        match outcome {
            Some(Ok(())) => tracing::info!(queue = %name, "worker pool stopped"),
            Some(Err(e)) => tracing::error!(queue = %name, error = %e, "worker pool failed"),
            None => tracing::warn!(
                queue = %name,
                "running jobs outlived the shutdown grace; their leases will expire and another worker will take them"
            ),
        }
    })
}

/// Runs the pools of `queues` until `shutdown`, returning when all have stopped.
pub async fn run_pools(
    broker: &Broker,
    queues: &[String],
    deps: Option<Arc<Deps>>,
    shutdown: watch::Receiver<bool>,
) -> Result<(), PoolError> {
    let mut set = JoinSet::new();
    for q in queues {
        set.spawn(spawn_pool_with(broker, q, deps.clone(), shutdown.clone())?);
    }
    while set.join_next().await.is_some() {}
    Ok(())
}
