//! Client-side rate limiting driven by the platform's own figures, so that a busy channel is slowed
//! by us before the platform has to refuse us.
//!
//! Shopify's GraphQL Admin API limits by calculated query cost in a leaky bucket: each query is
//! charged its requested cost (refunded down to its actual cost once it has run), the bucket
//! restores at a fixed rate (100 points/s on the standard plan, 2,000 points in all), and a query
//! that does not fit is refused as `THROTTLED`. Every answer reports the bucket in
//! `extensions.cost.throttleStatus`. [`Throttle`] keeps an estimate of the points in use which
//! only ever errs high: it charges a call when we *send* it, restores at the rate last reported,
//! refunds what an answer says was not spent, and takes the platform's figure whenever it is
//! higher (a bigger plan's capacity and rate are learnt the same way). A call waits until the
//! estimate has room for its cost plus `headroom`, so in steady state the bucket is never
//! exceeded.
//!
//! Amazon's usage plans are token buckets of the same shape, one per operation, a call costing
//! one point: each answer states the plan's rate (`x-amzn-RateLimit-Limit`) but not its size, so
//! [`Throttle::learn_rate`] takes the rate, and a 429 ([`Throttle::refused`]) says the bucket is
//! empty whatever the estimate said.
//!
//! A 429 (on any platform) pauses every caller sharing the throttle until its `Retry-After` has
//! passed. Callers queue in FIFO order on one async mutex, so one throttle shared by every task
//! working on a channel gives them fair turns.

use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::error::ConnectorError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ThrottleSettings {
    /// How fast the platform's bucket restores, in points per second, until an answer reports it
    /// (Shopify's GraphQL Admin API: 100 on the standard plan, 1,000 on Plus).
    pub leak_per_second: f64,
    /// Bucket size in points assumed until an answer reports it (Shopify standard: 2,000).
    pub assumed_capacity: u32,
    /// Points left free in the bucket, for other callers of the same bucket.
    pub headroom: u32,
    /// Longest a call waits in-process, for a slot or for a `Retry-After`. A longer wait is handed
    /// back as [`ConnectorError::RateLimited`] so the queue reschedules the job instead of holding
    /// a worker.
    pub max_wait: Duration,
    /// How many refusals (429, or `THROTTLED`) one call may absorb, each waited out, before giving
    /// up.
    pub max_429_retries: u32,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        ThrottleSettings {
            leak_per_second: 100.0,
            assumed_capacity: 2000,
            headroom: 0,
            max_wait: Duration::from_secs(10),
            max_429_retries: 3,
        }
    }
}

#[derive(Debug)]
struct Bucket {
    /// Points in use.
    level: f64,
    capacity: f64,
    /// Points restored per second.
    rate: f64,
    at: Instant,
}

/// What an answer says of the platform's bucket (Shopify's `throttleStatus`), and what the call
/// was charged by us and by the platform.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketReport {
    pub capacity: f64,
    pub available: f64,
    pub rate: f64,
    /// The points [`Throttle::acquire`] charged for the call.
    pub charged: f64,
    /// The points the platform kept (its actual cost; 0 when it refused the call).
    pub spent: f64,
}

#[derive(Debug)]
struct State {
    /// `None` for platforms without a bucket header: only `Retry-After` pauses apply.
    bucket: Option<Bucket>,
    paused_until: Option<Instant>,
}

/// One channel's limiter; share it (`Arc`) between every task calling that channel.
#[derive(Debug)]
pub struct Throttle {
    settings: ThrottleSettings,
    /// Callers wait here in turn; held across the sleep so turns are FIFO.
    turnstile: tokio::sync::Mutex<()>,
    /// The estimate; never held across an await, so responses can update it while callers sleep.
    state: Mutex<State>,
    /// Wakes a waiting caller when an answer has been learnt from.
    learnt: tokio::sync::Notify,
}

impl Throttle {
    /// A leaky-bucket throttle (Shopify).
    pub fn leaky_bucket(settings: ThrottleSettings) -> Throttle {
        let bucket = Bucket {
            level: 0.0,
            capacity: f64::from(settings.assumed_capacity.max(1)),
            rate: settings.leak_per_second.max(0.01),
            at: Instant::now(),
        };
        Throttle::build(settings, Some(bucket))
    }

    /// A throttle that only honours `Retry-After` (platforms that publish no bucket, like
    /// WooCommerce, whose limits come from the host in front of it).
    pub fn retry_after_only(settings: ThrottleSettings) -> Throttle {
        Throttle::build(settings, None)
    }

    fn build(settings: ThrottleSettings, bucket: Option<Bucket>) -> Throttle {
        Throttle {
            settings,
            turnstile: tokio::sync::Mutex::new(()),
            learnt: tokio::sync::Notify::new(),
            state: Mutex::new(State {
                bucket,
                paused_until: None,
            }),
        }
    }

    pub fn settings(&self) -> &ThrottleSettings {
        &self.settings
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for a turn and room for a call costing `points`, then charges it. Fails with
    /// `RateLimited` rather than wait past `deadline`.
    pub async fn acquire(&self, points: f64, deadline: Instant) -> Result<(), ConnectorError> {
        let _turn = match tokio::time::timeout_at(deadline, self.turnstile.lock()).await {
            Ok(turn) => turn,
            Err(_) => {
                let wait = self.wait_for(points).max(Duration::from_millis(500));
                return Err(self.too_long(wait));
            }
        };
        loop {
            // Registered before the estimate is read, so a refund learnt meanwhile wakes us.
            let learnt = self.learnt.notified();
            tokio::pin!(learnt);
            learnt.as_mut().enable();
            let wait = {
                let mut state = self.state();
                let now = Instant::now();
                let wait = self.wait(&mut state, points, now);
                if wait.is_zero() {
                    if let Some(bucket) = state.bucket.as_mut() {
                        bucket.level += points;
                    }
                    return Ok(());
                }
                wait
            };
            if Instant::now() + wait > deadline {
                return Err(self.too_long(wait));
            }
            // The wait counts the calls in flight at their full charge; an answer refunding
            // what one did not spend shortens it.
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = &mut learnt => {}
            }
        }
    }

    /// How long a call costing `points` arriving now would wait (ignoring callers already queued).
    pub fn wait_for(&self, points: f64) -> Duration {
        let mut state = self.state();
        self.wait(&mut state, points, Instant::now())
    }

    fn wait(&self, state: &mut State, points: f64, now: Instant) -> Duration {
        let paused = state
            .paused_until
            .map_or(Duration::ZERO, |until| until.saturating_duration_since(now));
        let filling = match state.bucket.as_mut() {
            None => Duration::ZERO,
            Some(bucket) => {
                leak(bucket, now);
                let room = bucket.capacity - f64::from(self.settings.headroom);
                // A call bigger than the room still goes alone into an empty bucket.
                let excess = bucket.level + points - room.max(points);
                if excess <= 0.0 {
                    Duration::ZERO
                } else {
                    Duration::from_secs_f64(excess / bucket.rate)
                }
            }
        };
        paused.max(filling)
    }

    fn too_long(&self, wait: Duration) -> ConnectorError {
        ConnectorError::RateLimited {
            retry_after: wait,
            message: format!(
                "the channel's rate limit needs a wait of {wait:?}, longer than the {:?} a call may wait",
                self.settings.max_wait
            ),
        }
    }

    /// Learns from an answer's report of the bucket: the points not spent are given back, then
    /// the platform's capacity and rate are taken, and its fill wherever it is higher than ours.
    pub fn learn(&self, report: BucketReport) {
        let mut state = self.state();
        let now = Instant::now();
        if let Some(bucket) = state.bucket.as_mut() {
            leak(bucket, now);
            let refund = (report.charged - report.spent).max(0.0);
            bucket.level = (bucket.level - refund).max(0.0);
            if report.capacity >= 1.0 {
                bucket.capacity = report.capacity;
            }
            if report.rate > 0.0 {
                bucket.rate = report.rate;
            }
            bucket.level = bucket.level.max(bucket.capacity - report.available);
        }
        drop(state);
        self.learnt.notify_waiters();
    }

    /// Takes the rate a platform states on its answers (Amazon's `x-amzn-RateLimit-Limit`): the
    /// bucket restores at it from now on. Its size stays as assumed, since such a platform does
    /// not state it.
    pub fn learn_rate(&self, rate: f64) {
        if !rate.is_finite() || rate <= 0.0 {
            return;
        }
        let mut state = self.state();
        let now = Instant::now();
        if let Some(bucket) = state.bucket.as_mut() {
            leak(bucket, now);
            bucket.rate = rate;
        }
        drop(state);
        self.learnt.notify_waiters();
    }

    /// The platform refused a call for want of room without saying how long to wait (Amazon's
    /// 429 has no `Retry-After`): its bucket is full, whatever the estimate said. Returns how
    /// long a call of `points` now waits for room; `None` for a throttle that keeps no bucket.
    pub fn refused(&self, points: f64) -> Option<Duration> {
        let mut state = self.state();
        let now = Instant::now();
        let bucket = state.bucket.as_mut()?;
        leak(bucket, now);
        bucket.level = bucket.level.max(bucket.capacity);
        Some(Duration::from_secs_f64(points / bucket.rate))
    }

    /// Holds every caller back for `wait` (a platform's `Retry-After`).
    pub fn pause(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut state = self.state();
        state.paused_until = Some(state.paused_until.map_or(until, |u| u.max(until)));
    }

    /// The current estimate of `(used, capacity, restore rate)`, in points.
    pub fn estimate(&self) -> Option<(f64, f64, f64)> {
        let mut state = self.state();
        let now = Instant::now();
        let bucket = state.bucket.as_mut()?;
        leak(bucket, now);
        Some((bucket.level, bucket.capacity, bucket.rate))
    }
}

fn leak(bucket: &mut Bucket, now: Instant) {
    let drained = now.saturating_duration_since(bucket.at).as_secs_f64() * bucket.rate;
    bucket.level = (bucket.level - drained).max(0.0);
    bucket.at = now;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(capacity: u32, leak: f64) -> ThrottleSettings {
        ThrottleSettings {
            leak_per_second: leak,
            assumed_capacity: capacity,
            headroom: 0,
            max_wait: Duration::from_secs(5),
            max_429_retries: 3,
        }
    }

    fn report(capacity: f64, available: f64, rate: f64, charged: f64, spent: f64) -> BucketReport {
        BucketReport {
            capacity,
            available,
            rate,
            charged,
            spent,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_bucket_makes_callers_wait_for_the_restore() {
        let throttle = Throttle::leaky_bucket(settings(100, 50.0));
        let start = Instant::now();
        let deadline = start + Duration::from_secs(5);
        for _ in 0..4 {
            assert_eq!(throttle.acquire(25.0, deadline).await, Ok(()));
        }
        assert_eq!(
            Instant::now(),
            start,
            "four calls of 25 fit a bucket of 100"
        );
        assert_eq!(throttle.acquire(25.0, deadline).await, Ok(()));
        let waited = Instant::now() - start;
        assert!(
            (Duration::from_millis(490)..=Duration::from_millis(510)).contains(&waited),
            "the fifth call waits for 25 points at 50/s (0.5 s), waited {waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn answers_refund_unspent_points_and_teach_the_plan() {
        let throttle = Throttle::leaky_bucket(settings(2000, 100.0));
        let deadline = Instant::now() + Duration::from_secs(5);
        assert_eq!(throttle.acquire(900.0, deadline).await, Ok(()));
        // The query asked for 900 and spent 52: the platform's bucket shows 52 used.
        throttle.learn(report(2000.0, 1948.0, 100.0, 900.0, 52.0));
        assert_eq!(throttle.estimate(), Some((52.0, 2000.0, 100.0)));
        // A Plus shop's answer teaches its bucket; a higher fill than ours wins.
        throttle.learn(report(20000.0, 19000.0, 1000.0, 0.0, 0.0));
        assert_eq!(throttle.estimate(), Some((1000.0, 20000.0, 1000.0)));
        // A lower report (an answer overtaken by our own later calls) does not lower the estimate.
        throttle.learn(report(20000.0, 20000.0, 1000.0, 0.0, 0.0));
        assert_eq!(throttle.estimate(), Some((1000.0, 20000.0, 1000.0)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_call_is_refunded_and_waits_for_its_cost_to_be_restored() {
        let throttle = Throttle::leaky_bucket(settings(2000, 100.0));
        let start = Instant::now();
        assert_eq!(
            throttle
                .acquire(500.0, start + Duration::from_secs(5))
                .await,
            Ok(())
        );
        // Other callers emptied the bucket to 300 available: the call was refused, nothing spent.
        throttle.learn(report(2000.0, 300.0, 100.0, 500.0, 0.0));
        assert_eq!(
            throttle.wait_for(500.0),
            Duration::from_secs(2),
            "200 points short at 100/s"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_stated_rate_is_taken_and_a_refusal_empties_the_bucket() {
        // Amazon's published getOrderItems plan: 30 deep, 0.5 a second.
        let throttle = Throttle::leaky_bucket(settings(30, 0.5));
        assert_eq!(throttle.wait_for(1.0), Duration::ZERO);
        // The seller's plan is faster than the published one, and smaller: a call is refused
        // with room left in the estimate.
        throttle.learn_rate(20.0);
        assert_eq!(throttle.refused(1.0), Some(Duration::from_millis(50)));
        assert_eq!(throttle.wait_for(1.0), Duration::from_millis(50));
        let start = Instant::now();
        let deadline = start + Duration::from_secs(5);
        for _ in 0..3 {
            assert_eq!(throttle.acquire(1.0, deadline).await, Ok(()));
        }
        assert_eq!(
            Instant::now() - start,
            Duration::from_millis(150),
            "one call a twentieth of a second"
        );
        // A nonsense rate changes nothing; a throttle without a bucket has nothing to empty.
        throttle.learn_rate(f64::NAN);
        throttle.learn_rate(0.0);
        assert_eq!(throttle.estimate().map(|(_, _, rate)| rate), Some(20.0));
        assert_eq!(
            Throttle::retry_after_only(settings(1, 1.0)).refused(1.0),
            None
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_callers_and_a_long_wait_is_handed_back() {
        let throttle = Throttle::retry_after_only(settings(1, 1.0));
        throttle.pause(Duration::from_secs(2));
        let start = Instant::now();
        assert_eq!(
            throttle.acquire(1.0, start + Duration::from_secs(5)).await,
            Ok(())
        );
        assert_eq!(Instant::now() - start, Duration::from_secs(2));
        throttle.pause(Duration::from_secs(30));
        let err = throttle
            .acquire(1.0, Instant::now() + Duration::from_secs(5))
            .await;
        assert!(
            matches!(err, Err(ConnectorError::RateLimited { retry_after, .. }) if retry_after == Duration::from_secs(30)),
            "{err:?}"
        );
    }
}
