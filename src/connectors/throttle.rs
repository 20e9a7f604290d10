//! Client-side rate limiting driven by the platform's own figures, so that a busy channel is slowed
//! by us before the platform has to refuse us (fixed client-side rates still earn 429s: the
//! platform's bucket is shared with every other app on the shop).
//!
//! Shopify's REST limit is a leaky bucket: each call adds one, the bucket drains at a fixed rate
//! (2/s on the standard plan), and a call that would overflow it is refused with 429. Every answer
//! reports the fill as `X-Shopify-Shop-Api-Call-Limit: used/capacity`. [`Throttle`] keeps an
//! estimate of that fill which only ever errs high: it counts a call when we *send* it (before the
//! platform counts it), drains at the configured rate, and takes the platform's figure whenever it
//! is higher (other apps' calls, or a bigger plan's capacity learnt from the header). A call waits
//! until the estimate has room for it plus `headroom`, so in steady state the bucket is never
//! exceeded.
//!
//! A 429 (on any platform) pauses every caller sharing the throttle until its `Retry-After` has
//! passed. Callers queue in FIFO order on one async mutex, so one throttle shared by every task
//! working on a channel gives them fair turns.

use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::error::ConnectorError;

/// Shopify's header reporting the bucket: `32/40`.
pub const SHOPIFY_CALL_LIMIT: &str = "x-shopify-shop-api-call-limit";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ThrottleSettings {
    /// How fast the platform's bucket drains, in calls per second (Shopify standard: 2; Plus: 20).
    /// It cannot be read from the headers, so it must match the shop's plan; too high earns 429s.
    pub leak_per_second: f64,
    /// Bucket size assumed until the first response reports the real one.
    pub assumed_capacity: u32,
    /// Slots left free for the merchant's other apps.
    pub headroom: u32,
    /// Longest a call waits in-process, for a slot or for a `Retry-After`. A longer wait is handed
    /// back as [`ConnectorError::RateLimited`] so the queue reschedules the job instead of holding
    /// a worker.
    pub max_wait: Duration,
    /// How many 429s one call may absorb (each waiting its `Retry-After`) before giving up.
    pub max_429_retries: u32,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        ThrottleSettings {
            leak_per_second: 2.0,
            assumed_capacity: 40,
            headroom: 1,
            max_wait: Duration::from_secs(10),
            max_429_retries: 3,
        }
    }
}

#[derive(Debug)]
struct Bucket {
    level: f64,
    capacity: f64,
    at: Instant,
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
}

impl Throttle {
    /// A leaky-bucket throttle (Shopify).
    pub fn leaky_bucket(settings: ThrottleSettings) -> Throttle {
        let bucket = Bucket {
            level: 0.0,
            capacity: f64::from(settings.assumed_capacity.max(1)),
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

    /// Waits for a turn and a slot, then counts the call about to be sent. Fails with
    /// `RateLimited` rather than wait past `deadline`.
    pub async fn acquire(&self, deadline: Instant) -> Result<(), ConnectorError> {
        let _turn = match tokio::time::timeout_at(deadline, self.turnstile.lock()).await {
            Ok(turn) => turn,
            Err(_) => {
                return Err(self.too_long(self.wait_now().max(Duration::from_millis(500))));
            }
        };
        loop {
            let wait = {
                let mut state = self.state();
                let now = Instant::now();
                let wait = self.wait(&mut state, now);
                if wait.is_zero() {
                    if let Some(bucket) = state.bucket.as_mut() {
                        bucket.level += 1.0;
                    }
                    return Ok(());
                }
                wait
            };
            if Instant::now() + wait > deadline {
                return Err(self.too_long(wait));
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// How long a call arriving now would wait (ignoring callers already queued).
    fn wait_now(&self) -> Duration {
        let mut state = self.state();
        self.wait(&mut state, Instant::now())
    }

    fn wait(&self, state: &mut State, now: Instant) -> Duration {
        let paused = state
            .paused_until
            .map_or(Duration::ZERO, |until| until.saturating_duration_since(now));
        let filling = match state.bucket.as_mut() {
            None => Duration::ZERO,
            Some(bucket) => {
                self.leak(bucket, now);
                let room = bucket.capacity - f64::from(self.settings.headroom);
                // With capacity <= headroom, still allow one call at a time into an empty bucket.
                let excess = bucket.level + 1.0 - room.max(1.0);
                if excess <= 0.0 {
                    Duration::ZERO
                } else {
                    Duration::from_secs_f64(excess / self.leak_rate())
                }
            }
        };
        paused.max(filling)
    }

    fn leak_rate(&self) -> f64 {
        self.settings.leak_per_second.max(0.01)
    }

    fn leak(&self, bucket: &mut Bucket, now: Instant) {
        let drained = now.saturating_duration_since(bucket.at).as_secs_f64() * self.leak_rate();
        bucket.level = (bucket.level - drained).max(0.0);
        bucket.at = now;
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

    /// Learns from a response's headers (any status: a 429 reports the full bucket too).
    pub fn observe(&self, headers: &HeaderMap) {
        let Some((used, capacity)) = headers
            .get(SHOPIFY_CALL_LIMIT)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_call_limit)
        else {
            return;
        };
        let mut state = self.state();
        let now = Instant::now();
        if let Some(bucket) = state.bucket.as_mut() {
            self.leak(bucket, now);
            bucket.capacity = f64::from(capacity.max(1));
            bucket.level = bucket.level.max(f64::from(used));
        }
    }

    /// Holds every caller back for `wait` (a platform's `Retry-After`).
    pub fn pause(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut state = self.state();
        state.paused_until = Some(state.paused_until.map_or(until, |u| u.max(until)));
    }

    /// The current estimate of `(used, capacity)`, rounded up as the platform reports it.
    pub fn estimate(&self) -> Option<(u32, u32)> {
        let mut state = self.state();
        let now = Instant::now();
        let bucket = state.bucket.as_mut()?;
        self.leak(bucket, now);
        Some((bucket.level.ceil() as u32, bucket.capacity as u32))
    }
}

/// Parses `32/40`.
pub fn parse_call_limit(text: &str) -> Option<(u32, u32)> {
    let (used, capacity) = text.trim().split_once('/')?;
    Some((used.trim().parse().ok()?, capacity.trim().parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn settings(capacity: u32, leak: f64) -> ThrottleSettings {
        ThrottleSettings {
            leak_per_second: leak,
            assumed_capacity: capacity,
            headroom: 0,
            max_wait: Duration::from_secs(5),
            max_429_retries: 3,
        }
    }

    #[test]
    fn parses_the_call_limit_header() {
        assert_eq!(parse_call_limit("32/40"), Some((32, 40)));
        assert_eq!(parse_call_limit(" 1 / 80 "), Some((1, 80)));
        assert_eq!(parse_call_limit("40"), None);
        assert_eq!(parse_call_limit("a/b"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_bucket_makes_callers_wait_for_the_leak() {
        let throttle = Throttle::leaky_bucket(settings(4, 2.0));
        let start = Instant::now();
        let deadline = start + Duration::from_secs(5);
        for _ in 0..4 {
            assert_eq!(throttle.acquire(deadline).await, Ok(()));
        }
        assert_eq!(Instant::now(), start, "four calls fit a bucket of four");
        assert_eq!(throttle.acquire(deadline).await, Ok(()));
        let waited = Instant::now() - start;
        assert!(
            (Duration::from_millis(490)..=Duration::from_millis(510)).contains(&waited),
            "the fifth call waits for one leak (0.5 s), waited {waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_platform_figure_wins_when_it_is_higher() {
        let throttle = Throttle::leaky_bucket(settings(40, 2.0));
        let mut headers = HeaderMap::new();
        headers.insert(SHOPIFY_CALL_LIMIT, HeaderValue::from_static("10/10"));
        throttle.observe(&headers);
        assert_eq!(throttle.estimate(), Some((10, 10)));
        let start = Instant::now();
        assert_eq!(
            throttle.acquire(start + Duration::from_secs(5)).await,
            Ok(())
        );
        assert!(Instant::now() - start >= Duration::from_millis(490));
        // A lower report (a response overtaken by our own later calls) does not lower the estimate.
        headers.insert(SHOPIFY_CALL_LIMIT, HeaderValue::from_static("1/10"));
        throttle.observe(&headers);
        assert_eq!(throttle.estimate(), Some((10, 10)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_callers_and_a_long_wait_is_handed_back() {
        let throttle = Throttle::retry_after_only(settings(1, 1.0));
        throttle.pause(Duration::from_secs(2));
        let start = Instant::now();
        assert_eq!(
            throttle.acquire(start + Duration::from_secs(5)).await,
            Ok(())
        );
        assert_eq!(Instant::now() - start, Duration::from_secs(2));
        throttle.pause(Duration::from_secs(30));
        let err = throttle
            .acquire(Instant::now() + Duration::from_secs(5))
            .await;
        assert!(
            matches!(err, Err(ConnectorError::RateLimited { retry_after, .. }) if retry_after == Duration::from_secs(30)),
            "{err:?}"
        );
    }
}
