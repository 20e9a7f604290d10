//! Timers: apalis-cron drives periodic enqueues. Ticks fall on multiples of the period since the
//! epoch, so every replica computes the same tick; the enqueue carries a unique key per tick that
//! outlives the job, so a tick enqueues exactly once however many processes run the timer.

use std::time::Duration;

use apalis_core::error::BoxDynError;
use apalis_core::task::data::Data;
use apalis_core::worker::builder::WorkerBuilder;
use apalis_cron::timezone::Utc;
use apalis_cron::{CronScheduler, Schedule, Tick};

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

async fn on_tick(tick: Tick<Utc>, timer: Data<Timer>) -> Result<(), BoxDynError> {
    let created = timer.fire(tick.get_timestamp()).await?;
    tracing::debug!(timer = %timer.name, tick = tick.get_timestamp(), created, "timer tick");
    Ok(())
}

/// Runs a timer until `shutdown` resolves.
pub async fn run_timer(
    timer: Timer,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), apalis_core::error::WorkerError> {
    let scheduler = CronScheduler::new(Every(timer.every));
    let worker = WorkerBuilder::new(format!("timer-{}", timer.name))
        .backend(scheduler)
        .data(timer)
        .build(on_tick);
    worker
        .run_until(async move {
            shutdown.await;
            Ok::<(), std::io::Error>(())
        })
        .await
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
