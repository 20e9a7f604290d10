//! Worker pools: one apalis worker per handled queue, fed by the Redis backend, at the queue's
//! configured concurrency, stopped gracefully on shutdown.

use std::future::Future;
use std::time::Duration;

use apalis_core::worker::builder::WorkerBuilder;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::limit::ConcurrencyLimitLayer;

use super::{noop, JobKind, Noop, HANDLED};
use crate::queue::{Broker, QueueError, RedisBackend};

#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("queue `{0}` has no worker yet; handled queues: {handled}", handled = HANDLED.join(", "))]
    NotHandled(String),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

async fn stopped(mut rx: watch::Receiver<bool>) {
    while !*rx.borrow() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

/// Runs one queue's pool until `shutdown` turns true, then lets running jobs finish (for at most
/// the configured grace) and hands unstarted ones back.
pub fn spawn_pool(
    broker: &Broker,
    queue: &str,
    shutdown: watch::Receiver<bool>,
) -> Result<impl Future<Output = ()> + Send + 'static, PoolError> {
    let q = broker.queue(queue)?;
    let grace = Duration::from_secs(broker.settings().shutdown.grace_secs);
    let concurrency = q.policy().concurrency;
    let name = q.name().to_owned();
    let run = match queue {
        Noop::QUEUE => {
            let backend = RedisBackend::<Noop>::new(q);
            let worker = WorkerBuilder::new(backend.worker_id().0.clone())
                .backend(backend)
                .layer(ConcurrencyLimitLayer::new(concurrency))
                .build(noop::run);
            let stop = stopped(shutdown.clone());
            async move {
                worker
                    .run_until(async move {
                        stop.await;
                        Ok::<(), std::io::Error>(())
                    })
                    .await
            }
        }
        other => return Err(PoolError::NotHandled(other.to_owned())),
    };
    Ok(async move {
        tracing::info!(queue = %name, concurrency, "worker pool started");
        let mut run = Box::pin(run);
        let outcome = tokio::select! {
            r = &mut run => Some(r),
            _ = stopped(shutdown) => None,
        };
        let outcome = match outcome {
            Some(r) => Some(r),
            None => tokio::time::timeout(grace, run).await.ok(),
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
    shutdown: watch::Receiver<bool>,
) -> Result<(), PoolError> {
    let mut set = JoinSet::new();
    for q in queues {
        set.spawn(spawn_pool(broker, q, shutdown.clone())?);
    }
    while set.join_next().await.is_some() {}
    Ok(())
}
