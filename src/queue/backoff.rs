//! The retry schedule: exponential backoff with jitter, capped, or a platform's own hint; and how
//! a worker retries its own calls to Redis.

use std::time::Duration;

use backon::ExponentialBuilder;

use crate::config::QueuePolicy;

/// Longest pause between two tries of a failed call to Redis: after an outage a worker is back at
/// work within about this long of Redis answering again.
pub(crate) const REDIS_RETRY_MAX_PAUSE: Duration = Duration::from_secs(1);

/// How a worker retries recording a job's outcome (ack, fail, hand-back) in Redis: soon and
/// often, pausing at most [`REDIS_RETRY_MAX_PAUSE`], for as long as a lease lasts. Giving up
/// sooner would run a finished job again once its lease expired; past a lease another worker may
/// have the job already.
pub(crate) fn redis_retry(policy: &QueuePolicy) -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(50))
        .with_max_delay(REDIS_RETRY_MAX_PAUSE)
        .without_max_times()
        .with_total_delay(Some(policy.lease()))
}

/// The delay before retrying after failed attempt number `attempt` (1-based).
/// `unit` is a uniform random number in [0, 1): it spreads retries of a burst of failures so they
/// do not return as a burst. A `hint` (Retry-After) is honoured as a lower bound, never shortened
/// by jitter.
pub fn retry_delay(
    policy: &QueuePolicy,
    attempt: u32,
    hint: Option<Duration>,
    unit: f64,
) -> Duration {
    let exp = attempt.saturating_sub(1).min(40);
    let raw = policy.backoff_base_ms.saturating_mul(1u64 << exp);
    let capped = raw.min(policy.backoff_cap_ms) as f64;
    let factor = 1.0 + policy.backoff_jitter * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
    let backoff = Duration::from_millis((capped * factor).round().max(0.0) as u64);
    match hint {
        Some(h) if h > backoff => h,
        Some(h) => h.max(Duration::from_millis(1)),
        None => backoff,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(jitter: f64) -> QueuePolicy {
        QueuePolicy {
            concurrency: 1,
            batch_size: 1,
            lease_secs: 30,
            max_attempts: 10,
            backoff_base_ms: 1000,
            backoff_cap_ms: 60_000,
            backoff_jitter: jitter,
            done_retention_secs: 1,
            done_retention_count: 1,
            dead_retention_secs: 1,
            dead_retention_count: 1,
            promote_chunk: 1,
        }
    }

    #[test]
    fn grows_exponentially_then_caps() {
        let p = policy(0.0);
        let d: Vec<u64> = (1..=8)
            .map(|a| retry_delay(&p, a, None, 0.5).as_millis() as u64)
            .collect();
        assert_eq!(d, vec![1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000]);
    }

    #[test]
    fn jitter_stays_within_its_fraction() {
        let p = policy(0.2);
        assert_eq!(retry_delay(&p, 1, None, 0.0), Duration::from_millis(800));
        assert_eq!(retry_delay(&p, 1, None, 0.5), Duration::from_millis(1000));
        assert_eq!(
            retry_delay(&p, 1, None, 0.999_999),
            Duration::from_millis(1200)
        );
    }

    #[test]
    fn a_hint_is_a_lower_bound_and_is_used_as_given() {
        let p = policy(0.2);
        assert_eq!(
            retry_delay(&p, 1, Some(Duration::from_secs(30)), 0.0),
            Duration::from_secs(30)
        );
        // A short Retry-After is honoured as given rather than padded to the backoff.
        assert_eq!(
            retry_delay(&p, 5, Some(Duration::from_millis(250)), 0.9),
            Duration::from_millis(250)
        );
    }

    #[test]
    fn huge_attempt_numbers_do_not_overflow() {
        let p = policy(0.0);
        assert_eq!(
            retry_delay(&p, u32::MAX, None, 0.5),
            Duration::from_secs(60)
        );
    }
}
