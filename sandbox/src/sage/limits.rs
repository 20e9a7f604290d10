//! Request limits per business (calls in a sliding window, optionally per day and at once), and
//! the record a test reads back: when each admitted call arrived and the most that were in flight
//! together. A call refused here never reaches the business and is not recorded as admitted.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::business::SageBusiness;
use super::errors::too_many_requests;
use crate::config::SageRateLimit;
use crate::faults::lock;

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

#[derive(Debug)]
pub struct Limiter {
    config: SageRateLimit,
    window: VecDeque<Instant>,
    day: VecDeque<Instant>,
    in_flight: u32,
    max_in_flight: u32,
    admitted: Vec<Instant>,
}

/// Whole seconds until `at`, at least one.
fn secs_until(at: Instant, now: Instant) -> u64 {
    let wait = at.saturating_duration_since(now);
    (wait.as_millis().div_ceil(1000) as u64).max(1)
}

impl Limiter {
    pub fn new(config: SageRateLimit) -> Limiter {
        Limiter {
            config,
            window: VecDeque::new(),
            day: VecDeque::new(),
            in_flight: 0,
            max_in_flight: 0,
            admitted: Vec::new(),
        }
    }

    /// Admits one call, or says in how many seconds to retry.
    pub fn admit(&mut self, now: Instant) -> Result<(), u64> {
        let span = Duration::from_secs(self.config.window_secs.max(1));
        while self.window.front().is_some_and(|t| *t + span <= now) {
            self.window.pop_front();
        }
        while self.day.front().is_some_and(|t| *t + DAY <= now) {
            self.day.pop_front();
        }
        if self.window.len() >= self.config.requests_per_window as usize {
            let frees = self.window.front().map_or(now, |t| *t + span);
            return Err(secs_until(frees, now));
        }
        if let Some(per_day) = self.config.requests_per_day {
            if self.day.len() >= per_day as usize {
                let frees = self.day.front().map_or(now, |t| *t + DAY);
                return Err(secs_until(frees, now));
            }
        }
        if self
            .config
            .max_in_flight
            .is_some_and(|max| self.in_flight >= max)
        {
            return Err(1);
        }
        self.window.push_back(now);
        if self.config.requests_per_day.is_some() {
            self.day.push_back(now);
        }
        self.in_flight += 1;
        self.max_in_flight = self.max_in_flight.max(self.in_flight);
        self.admitted.push(now);
        Ok(())
    }

    fn finish(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    pub fn admitted(&self) -> Vec<Instant> {
        self.admitted.clone()
    }

    pub fn max_in_flight(&self) -> u32 {
        self.max_in_flight
    }

    /// Forgets the record (not the limits' windows).
    pub fn reset_record(&mut self) {
        self.admitted.clear();
        self.max_in_flight = self.in_flight;
    }
}

/// Counts the call out when its answer is done or the client went away mid-call.
struct InFlight(Arc<SageBusiness>);

impl Drop for InFlight {
    fn drop(&mut self) {
        lock(&self.0.limiter).finish();
    }
}

pub async fn limit(
    State(business): State<Arc<SageBusiness>>,
    req: Request,
    next: Next,
) -> Response {
    let admitted = lock(&business.limiter).admit(Instant::now());
    match admitted {
        Ok(()) => {
            let _guard = InFlight(business.clone());
            next.run(req).await
        }
        Err(retry_after) => too_many_requests(retry_after),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_refuses_then_frees_and_in_flight_is_capped() {
        let mut limiter = Limiter::new(SageRateLimit {
            requests_per_window: 2,
            window_secs: 60,
            requests_per_day: None,
            max_in_flight: None,
        });
        let t0 = Instant::now();
        assert_eq!(limiter.admit(t0), Ok(()));
        assert_eq!(limiter.admit(t0 + Duration::from_secs(10)), Ok(()));
        assert_eq!(limiter.admit(t0 + Duration::from_secs(20)), Err(40));
        limiter.finish();
        limiter.finish();
        assert_eq!(limiter.admit(t0 + Duration::from_secs(60)), Ok(()));
        assert_eq!(limiter.max_in_flight(), 2);
        assert_eq!(limiter.admitted().len(), 3);

        let mut capped = Limiter::new(SageRateLimit {
            max_in_flight: Some(1),
            ..SageRateLimit::default()
        });
        assert_eq!(capped.admit(t0), Ok(()));
        assert_eq!(capped.admit(t0), Err(1));
        capped.finish();
        assert_eq!(capped.admit(t0), Ok(()));
    }

    #[test]
    fn a_daily_cap_counts_over_24_hours() {
        let mut limiter = Limiter::new(SageRateLimit {
            requests_per_day: Some(1),
            ..SageRateLimit::default()
        });
        let t0 = Instant::now();
        assert_eq!(limiter.admit(t0), Ok(()));
        assert_eq!(
            limiter.admit(t0 + Duration::from_secs(3600)),
            Err(23 * 3600)
        );
    }
}
