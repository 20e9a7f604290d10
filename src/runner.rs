//! The worker side of a process: every worker pool asked for, the timers and the outbox relay,
//! until shutdown. `switchyard work`, `run` and `demo` all run their workers through this.

use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::Settings;
use crate::crypto::CredentialsKey;
use crate::outbox::relay;
use crate::queue::timers::{run_timer, Timer};
use crate::queue::Broker;
use crate::workers::{self, Deps};
use crate::{db, shutdown};

/// Runs the worker pools of `queues` (every handled queue when empty), the import timer, the
/// periodic timers and the outbox relay until `stop` turns true. The database is needed (and
/// migrated) only when a domain queue is among `queues`. `switchyard work`, `run` and `demo`
/// all run their workers through this.
pub async fn run_workers(
    settings: &Settings,
    queues: Vec<String>,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let broker = Broker::connect(settings)
        .await
        .context("connecting to Redis")?;
    let queues: Vec<String> = if queues.is_empty() {
        crate::jobs::QUEUES.iter().map(|q| q.to_string()).collect()
    } else {
        queues
    };
    let mut background = JoinSet::new();
    let deps = if queues.iter().any(|q| workers::needs_deps(q)) {
        let pool = db::prepare(&settings.database).await?;
        let key = CredentialsKey::from_hex(&settings.crypto.credentials_key)?;
        let deps = Deps::new(pool.clone(), key, broker.clone());
        background.spawn(relay::run(pool, broker.clone(), stop.clone()));
        let every = Duration::from_secs(settings.timers.import_scan_secs);
        let products_every = Duration::from_secs(settings.timers.import_products_secs);
        let (d, s) = (deps.clone(), shutdown::wait(stop.clone()));
        background.spawn(async move {
            if let Err(e) = workers::scheduler::run(d, every, products_every, s).await {
                tracing::error!(error = %e, "import timer stopped");
            }
        });
        Some(deps)
    } else {
        None
    };
    for p in &settings.timers.periodic {
        let timer = Timer {
            name: p.name.clone(),
            every: Duration::from_secs(p.every_secs),
            queue: broker.queue(&p.queue)?,
            payload: p.payload.clone(),
        };
        let stop = shutdown::wait(stop.clone());
        background.spawn(async move {
            if let Err(e) = run_timer(timer, stop).await {
                tracing::error!(error = %e, "timer stopped");
            }
        });
    }
    workers::run_pools(&broker, &queues, deps, stop).await?;
    background.join_all().await;
    Ok(())
}
