//! Xero's per-tenant API limits: calls in progress at once (5), calls per minute (60) and per day
//! (5,000), plus the app-wide minute limit. As Xero documents, the minute and day limits count
//! calls in fixed windows that reset at a different time for each tenant (here: a window opens
//! with the first call after the previous one closed); a call over a limit answers 429 with
//! `X-Rate-Limit-Problem` (`concurrent`, `minute`, `day`, `appminute`) and, for the windowed
//! limits, `Retry-After` in seconds; every answer carries `X-DayLimit-Remaining`,
//! `X-MinLimit-Remaining` and `X-AppMinLimit-Remaining`.
//!
//! Every accepted call's arrival and the most calls ever in progress are kept, so a test can
//! check a client against the limits on the simulator's side.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::config::XeroLimits;
use super::errors::too_many_requests;
use super::store::XeroOrg;
use crate::http_util::set_header;

#[derive(Debug)]
struct Window {
    length: Duration,
    opened: Option<Instant>,
    count: u32,
}

impl Window {
    fn new(length: Duration) -> Window {
        Window {
            length,
            opened: None,
            count: 0,
        }
    }

    fn roll(&mut self, now: Instant) {
        if self
            .opened
            .is_some_and(|o| now.duration_since(o) >= self.length)
        {
            self.opened = None;
            self.count = 0;
        }
    }

    fn take(&mut self, now: Instant) {
        self.opened.get_or_insert(now);
        self.count += 1;
    }

    /// Whole seconds until the window closes, at least one.
    fn retry_after(&self, now: Instant) -> u64 {
        let left = self.opened.map_or(Duration::ZERO, |o| {
            (o + self.length).saturating_duration_since(now)
        });
        left.as_secs_f64().ceil().max(1.0) as u64
    }
}

/// Remaining calls, for the headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remaining {
    pub day: u32,
    pub minute: u32,
    pub app_minute: u32,
}

/// The decision on one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    Accepted(Remaining),
    Refused {
        problem: &'static str,
        retry_after: Option<u64>,
        remaining: Remaining,
    },
}

/// One tenant's counters.
#[derive(Debug)]
pub struct Limiter {
    limits: XeroLimits,
    minute: Window,
    day: Window,
    app_minute: Window,
    in_flight: u32,
    max_in_flight: u32,
    calls: Vec<Instant>,
}

impl Limiter {
    pub fn new(limits: XeroLimits) -> Limiter {
        let minute = Duration::from_millis(limits.minute_ms.max(1));
        Limiter {
            limits,
            minute: Window::new(minute),
            day: Window::new(Duration::from_secs(86_400)),
            app_minute: Window::new(minute),
            in_flight: 0,
            max_in_flight: 0,
            calls: Vec::new(),
        }
    }

    fn remaining(&self) -> Remaining {
        Remaining {
            day: self.limits.per_day.saturating_sub(self.day.count),
            minute: self.limits.per_minute.saturating_sub(self.minute.count),
            app_minute: self
                .limits
                .app_per_minute
                .saturating_sub(self.app_minute.count),
        }
    }

    /// Admits a call arriving at `now` (it then counts as in progress until [`Limiter::release`]).
    pub fn admit(&mut self, now: Instant) -> Admission {
        self.minute.roll(now);
        self.day.roll(now);
        self.app_minute.roll(now);
        let refuse = |problem, retry_after, remaining| Admission::Refused {
            problem,
            retry_after,
            remaining,
        };
        if self.day.count >= self.limits.per_day {
            return refuse("day", Some(self.day.retry_after(now)), self.remaining());
        }
        if self.app_minute.count >= self.limits.app_per_minute {
            let after = self.app_minute.retry_after(now);
            return refuse("appminute", Some(after), self.remaining());
        }
        if self.minute.count >= self.limits.per_minute {
            return refuse(
                "minute",
                Some(self.minute.retry_after(now)),
                self.remaining(),
            );
        }
        if self.in_flight >= self.limits.in_flight {
            return refuse("concurrent", None, self.remaining());
        }
        self.minute.take(now);
        self.day.take(now);
        self.app_minute.take(now);
        self.in_flight += 1;
        self.max_in_flight = self.max_in_flight.max(self.in_flight);
        self.calls.push(now);
        Admission::Accepted(self.remaining())
    }

    pub fn release(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    pub fn max_in_flight(&self) -> u32 {
        self.max_in_flight
    }

    pub fn call_times(&self) -> Vec<Instant> {
        self.calls.clone()
    }

    /// The most accepted calls in any 60-second span (a rolling measure, stricter than Xero's
    /// windows: what "never more than 60 a minute" means to a client).
    pub fn max_calls_in_any_minute(&self) -> usize {
        self.max_calls_in_any(Duration::from_secs(60))
    }

    /// The most accepted calls in any span of `span` (for a compressed minute, its length).
    pub fn max_calls_in_any(&self, span: Duration) -> usize {
        let mut best = 0;
        let mut start = 0;
        for end in 0..self.calls.len() {
            while self.calls[end].duration_since(self.calls[start]) >= span {
                start += 1;
            }
            best = best.max(end - start + 1);
        }
        best
    }
}

fn stamp(response: &mut Response, remaining: Remaining) {
    set_header(response, "x-daylimit-remaining", &remaining.day.to_string());
    set_header(
        response,
        "x-minlimit-remaining",
        &remaining.minute.to_string(),
    );
    set_header(
        response,
        "x-appminlimit-remaining",
        &remaining.app_minute.to_string(),
    );
}

/// Gives the in-progress slot back however the call ends (answered, or dropped by the client).
struct InProgress(Arc<XeroOrg>);

impl Drop for InProgress {
    fn drop(&mut self) {
        self.0.limiter().release();
    }
}

/// Middleware: admit or refuse the call, and stamp the remaining counts on the answer.
pub async fn limit(State(org): State<Arc<XeroOrg>>, req: Request, next: Next) -> Response {
    let admission = org.limiter().admit(Instant::now());
    match admission {
        Admission::Accepted(remaining) => {
            let _slot = InProgress(org.clone());
            let mut response = next.run(req).await;
            stamp(&mut response, remaining);
            response
        }
        Admission::Refused {
            problem,
            retry_after,
            remaining,
        } => {
            let mut response = too_many_requests(problem, retry_after);
            stamp(&mut response, remaining);
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(in_flight: u32, per_minute: u32, per_day: u32) -> XeroLimits {
        XeroLimits {
            in_flight,
            per_minute,
            per_day,
            ..XeroLimits::default()
        }
    }

    #[test]
    fn concurrent_limit_refuses_without_retry_after() {
        let mut limiter = Limiter::new(limits(2, 60, 100));
        let now = Instant::now();
        assert!(matches!(limiter.admit(now), Admission::Accepted(_)));
        assert!(matches!(limiter.admit(now), Admission::Accepted(_)));
        assert!(matches!(
            limiter.admit(now),
            Admission::Refused {
                problem: "concurrent",
                retry_after: None,
                ..
            }
        ));
        limiter.release();
        assert!(matches!(limiter.admit(now), Admission::Accepted(_)));
        assert_eq!(limiter.max_in_flight(), 2);
    }

    #[test]
    fn minute_window_opens_with_the_first_call_and_resets() {
        let mut limiter = Limiter::new(limits(10, 3, 100));
        let t0 = Instant::now();
        for i in 0..3 {
            let admitted = limiter.admit(t0 + Duration::from_secs(i * 10));
            assert!(matches!(admitted, Admission::Accepted(r) if r.minute == 2 - i as u32));
            limiter.release();
        }
        let refused = limiter.admit(t0 + Duration::from_secs(45));
        assert_eq!(
            refused,
            Admission::Refused {
                problem: "minute",
                retry_after: Some(15),
                remaining: Remaining {
                    day: 97,
                    minute: 0,
                    app_minute: 9997
                }
            }
        );
        assert!(matches!(
            limiter.admit(t0 + Duration::from_secs(60)),
            Admission::Accepted(_)
        ));
        assert_eq!(limiter.max_calls_in_any_minute(), 3);
    }

    #[test]
    fn a_compressed_minute_resets_sooner() {
        let mut limiter = Limiter::new(XeroLimits {
            minute_ms: 1000,
            ..limits(10, 2, 100)
        });
        let t0 = Instant::now();
        for at in [0, 100] {
            assert!(matches!(
                limiter.admit(t0 + Duration::from_millis(at)),
                Admission::Accepted(_)
            ));
            limiter.release();
        }
        assert!(matches!(
            limiter.admit(t0 + Duration::from_millis(900)),
            Admission::Refused {
                problem: "minute",
                retry_after: Some(1),
                ..
            }
        ));
        assert!(matches!(
            limiter.admit(t0 + Duration::from_millis(1000)),
            Admission::Accepted(_)
        ));
        assert_eq!(limiter.max_calls_in_any(Duration::from_secs(1)), 2);
        assert_eq!(limiter.max_calls_in_any_minute(), 3);
    }

    #[test]
    fn day_limit_comes_first() {
        let mut limiter = Limiter::new(limits(10, 60, 1));
        let now = Instant::now();
        assert!(matches!(limiter.admit(now), Admission::Accepted(_)));
        assert!(matches!(
            limiter.admit(now),
            Admission::Refused {
                problem: "day",
                retry_after: Some(86_400),
                ..
            }
        ));
    }
}
