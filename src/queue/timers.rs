//! Timers: apalis-cron drives periodic enqueues. Ticks fall on multiples of the period since the
//! epoch, so every replica computes the same tick; the enqueue carries a unique key per tick that
//! outlives the job, so a tick enqueues exactly once however many processes run the timer.

use std::time::Duration;

use apalis_core::error::BoxDynError;
use apalis_core::worker::builder::WorkerBuilder;
use apalis_cron::timezone::Utc;
use apalis_cron::{CronScheduler, Schedule, Tick};
use futures::future::BoxFuture;

use super::client::Queue;
use super::job::EnqueueOptions;

/// Fires every `period`, aligned to the epoch.
#[derive(Debug, Clone, Copy)]
pub struct Every(pub Duration);

impl Every {
    /// The first tick strictly after `now_secs`.
    pub fn next_after(&self, now_secs: u64) -> u64 {
        let p = self.0.as_secs().max(1);
        (now_secs / p + 1) * p
    }
}

impl Schedule<Utc> for Every {
    fn next_tick(&mut self, _: &Utc) -> Option<Tick<Utc>> {
        let now = chrono::Utc::now().timestamp().max(0) as u64;
        Some(Tick::new(self.next_after(now)))
    }
}

/// A timer: at every tick, enqueue `payload` on `queue`.
#[derive(Clone)]
pub struct Timer {
    pub name: String,
    pub every: Duration,
    pub queue: Queue,
    pub payload: serde_json::Value,
}

impl Timer {
    /// The unique key of one tick: the same on every replica.
    pub fn tick_key(&self, tick: u64) -> String {
        format!("timer:{}:{tick}", self.name)
    }

    /// Enqueues this tick's job unless another replica already did. Returns whether this call
    /// created it.
    pub async fn fire(&self, tick: u64) -> Result<bool, super::QueueError> {
        let opts = EnqueueOptions {
            unique_key: Some(self.tick_key(tick)),
            // Long enough that a replica whose clock or scheduler lags still finds the key.
            unique_for: Some(self.every.max(Duration::from_secs(60)) * 2),
            ..EnqueueOptions::default()
        };
        let payload = serde_json::to_string(&self.payload)?;
        Ok(self.queue.enqueue_json(&payload, &opts).await?.created)
    }
}

/// Runs `on_tick` at every tick of `every` (given the tick's epoch seconds) until `shutdown`
/// resolves: the one cron loop of the process, which the periodic timers and the import timer
/// both run on.
///
/// The loop's future is boxed here, where its types are concrete: nested unboxed inside a
/// caller's generic async fn, rustc can no longer prove it `Send` ("implementation of `Send` is
/// not general enough" for the borrows the worker holds across awaits), and `tokio::spawn`
/// refuses it.
pub fn run_every<F, Fut>(
    name: String,
    every: Duration,
    mut on_tick: F,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> BoxFuture<'static, Result<(), apalis_core::error::WorkerError>>
where
    F: FnMut(u64) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), BoxDynError>> + Send + 'static,
{
    let worker = WorkerBuilder::new(name)
        .backend(CronScheduler::new(Every(every)))
        .build(move |tick: Tick<Utc>| on_tick(tick.get_timestamp()));
    Box::pin(worker.run_until(async move {
        shutdown.await;
        Ok::<(), std::io::Error>(())
    }))
}

/// Runs a timer until `shutdown` resolves.
pub async fn run_timer(
    timer: Timer,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), apalis_core::error::WorkerError> {
    let (name, every) = (format!("timer-{}", timer.name), timer.every);
    let on_tick = move |tick| {
        let timer = timer.clone();
        async move {
            let created = timer.fire(tick).await?;
            tracing::debug!(timer = %timer.name, tick, created, "timer tick");
            Ok(())
        }
    };
    run_every(name, every, on_tick, shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_align_to_the_period() {
        let every = Every(Duration::from_secs(180));
        assert_eq!(every.next_after(0), 180);
        assert_eq!(every.next_after(179), 180);
        assert_eq!(every.next_after(180), 360);
        assert_eq!(Every(Duration::from_secs(1)).next_after(41), 42);
    }
}
