//! Benchmarks behind `switchyard bench`. They print figures; tests never time anything.

#[cfg(feature = "bench-apalis-redis")]
mod apalis_redis_peer;
pub mod dashboard;
pub mod import;
pub mod import_limits;
pub mod invoices;
pub mod queue;
pub mod retention;
pub mod scale_out;
pub mod stock;
pub mod stock_load;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app::Application;
use crate::queue::Broker;
use crate::store::{accounts, stores, AccountId};
use crate::workers::{self, Deps};

/// The API, every worker pool that needs the database and the outbox relay, running as one
/// process does until [`Running::stop`].
struct Running {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    broker: Broker,
}

impl Running {
    fn start(
        app: Application,
        pool: &PgPool,
        broker: &Broker,
        deps: &Arc<Deps>,
    ) -> anyhow::Result<Running> {
        let (stop, stopped) = watch::channel(false);
        let api_stopped = stopped.clone();
        let mut tasks = vec![tokio::spawn(async move {
            let _ = app.run_until(api_stopped).await;
        })];
        for q in crate::jobs::QUEUES
            .iter()
            .filter(|q| workers::needs_deps(q))
        {
            tasks.push(tokio::spawn(workers::spawn_pool_with(
                broker,
                q,
                Some(deps.clone()),
                stopped.clone(),
            )?));
        }
        tasks.push(tokio::spawn(crate::outbox::relay::run(
            pool.clone(),
            broker.clone(),
            stopped,
        )));
        Ok(Running {
            stop,
            tasks,
            broker: broker.clone(),
        })
    }

    /// Stops everything, waiting for each part up to 40 s, and removes the run's queues.
    async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(40), t).await;
        }
        for q in crate::jobs::QUEUES {
            if let Ok(queue) = self.broker.queue(q) {
                let _ = queue.destroy().await;
            }
        }
    }
}

/// A fresh account of its own for one run of the benchmark `bench`, with one store; the
/// account and the store's id.
async fn bench_store(pool: &PgPool, bench: &str) -> anyhow::Result<(AccountId, i64)> {
    let name = format!("bench-{bench}-{}", ulid::Ulid::new());
    let (account, _) = accounts::create_account(pool, &name, "bench").await?;
    let store = stores::create(pool, account, "bench").await?;
    Ok((account, store.id))
}

/// The value at quantile `q` (0..=1) of an ascending slice.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize;
    sorted[idx]
}

pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    quantile(&v, 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_of_a_small_sample() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(quantile(&v, 0.5), 3.0);
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert_eq!(quantile(&v, 1.0), 5.0);
        assert_eq!(median(&[9.0, 1.0, 5.0]), 5.0);
        assert!(quantile(&[], 0.5).is_nan());
    }
}
