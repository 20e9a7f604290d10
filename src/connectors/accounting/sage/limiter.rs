//! The connector's own rate limiter, shared by every task posting through one connector: calls
//! in flight capped, calls in any rolling window (and, where a platform has one, any rolling
//! day) capped, and a 429's `Retry-After` holding every caller back.
//!
//! Why a call holds its window slot until `window` after it *completes*, not after it was sent:
//! the platform counts a call when it arrives, some time between our send and the answer. Say
//! the last of the calls in some window of the platform's was sent at `s`. Every other call in
//! that window was sent no later than `s`, and at `s` it was either still in flight or had
//! completed after the window opened (it arrived inside the window, so it completed after that)
//! — so it was counted here at `s`. A call is sent only while fewer than the cap are counted,
//! so no window of the platform's ever holds more than the cap, whatever the network's delays.
//!
//! A caller waits in-process up to a deadline (`max_wait` from the start of its call, 429s
//! included); a longer wait is answered with [`ConnectorError::RateLimited`] carrying it, so the
//! queue reschedules the job instead of holding a worker. Callers are served in FIFO order: the
//! in-flight semaphore and the turnstile are both fair.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, Semaphore, SemaphorePermit};
use tokio::time::Instant;

use crate::connectors::ConnectorError;

const DAY: Duration = Duration::from_secs(24 * 60 * 60);
/// When to try again after the callers ahead held every place past the deadline: they may be
/// done any moment, so the queue is asked for a short wait.
const BUSY_RETRY: Duration = Duration::from_secs(1);

/// How hard one connector may call its platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RateLimits {
    /// Calls in any rolling `window` (Sage: 200 in any 60 seconds per business).
    pub per_window: u32,
    /// The window's length; shorter only for a test on a compressed clock.
    pub window: Duration,
    /// Calls in any rolling 24 hours, where the platform has such a cap (Sage documents none).
    pub per_day: Option<u32>,
    /// Calls being made at once (Sage documents no cap; kept small so one busy connection
    /// cannot take all of a worker's connections).
    pub max_in_flight: u32,
    /// The longest a call waits in-process, for a slot or for a `Retry-After`.
    pub max_wait: Duration,
    /// How many 429s one call may absorb (each waiting its `Retry-After`) before giving up.
    pub max_429_retries: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            per_window: 200,
            window: Duration::from_secs(60),
            per_day: None,
            max_in_flight: 5,
            max_wait: Duration::from_secs(10),
            max_429_retries: 3,
        }
    }
}

/// One rolling cap: the completion times of the calls still inside it.
#[derive(Debug)]
struct Window {
    length: Duration,
    cap: u32,
    done: VecDeque<Instant>,
}

impl Window {
    /// How long until a call may start, counting `in_flight` calls as inside the window; `None`
    /// when no completed call leaving it is enough (the in-flight ones must finish first).
    fn wait(&mut self, in_flight: u32, now: Instant) -> Option<Duration> {
        while self.done.front().is_some_and(|t| *t + self.length <= now) {
            self.done.pop_front();
        }
        let counted = self.done.len() + in_flight as usize;
        let cap = self.cap.max(1) as usize;
        if counted < cap {
            return Some(Duration::ZERO);
        }
        // This many must leave before one more fits.
        let leaving = counted + 1 - cap;
        let frees = self.done.get(leaving - 1)?;
        Some((*frees + self.length).saturating_duration_since(now))
    }
}

#[derive(Debug)]
struct State {
    windows: Vec<Window>,
    in_flight: u32,
    paused_until: Option<Instant>,
}

/// See the module documentation; one per connector, shared by its tasks.
#[derive(Debug)]
pub struct RateLimiter {
    limits: RateLimits,
    slots: Semaphore,
    /// Held while a caller waits for the windows, so turns are FIFO.
    turnstile: tokio::sync::Mutex<()>,
    state: Mutex<State>,
    /// Woken when a call completes: a caller waiting on in-flight calls looks again.
    completed: Notify,
}

/// A call's place: counted in flight until dropped, then in the windows.
#[derive(Debug)]
pub struct Slot<'a> {
    limiter: &'a RateLimiter,
    _permit: SemaphorePermit<'a>,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let now = Instant::now();
        let mut state = self.limiter.state();
        state.in_flight = state.in_flight.saturating_sub(1);
        for window in &mut state.windows {
            window.done.push_back(now);
        }
        drop(state);
        self.limiter.completed.notify_waiters();
    }
}

impl RateLimiter {
    pub fn new(limits: RateLimits) -> RateLimiter {
        let mut windows = vec![Window {
            length: limits.window.max(Duration::from_millis(1)),
            cap: limits.per_window,
            done: VecDeque::new(),
        }];
        if let Some(cap) = limits.per_day {
            windows.push(Window {
                length: DAY,
                cap,
                done: VecDeque::new(),
            });
        }
        RateLimiter {
            slots: Semaphore::new(limits.max_in_flight.max(1) as usize),
            limits,
            turnstile: tokio::sync::Mutex::new(()),
            state: Mutex::new(State {
                windows,
                in_flight: 0,
                paused_until: None,
            }),
            completed: Notify::new(),
        }
    }

    pub fn limits(&self) -> &RateLimits {
        &self.limits
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for a place in flight and in every window, then counts the call about to be sent.
    /// Fails with `RateLimited` rather than wait past `deadline`.
    pub async fn acquire(&self, deadline: Instant) -> Result<Slot<'_>, ConnectorError> {
        let permit = match tokio::time::timeout_at(deadline, self.slots.acquire()).await {
            Ok(Ok(permit)) => permit,
            // The semaphore is never closed; a timeout means every slot stayed busy.
            _ => return Err(self.too_long(BUSY_RETRY)),
        };
        let Ok(_turn) = tokio::time::timeout_at(deadline, self.turnstile.lock()).await else {
            return Err(self.too_long(BUSY_RETRY));
        };
        loop {
            // Registered before looking, so a completion in between is not missed.
            let completed = self.completed.notified();
            tokio::pin!(completed);
            completed.as_mut().enable();
            let now = Instant::now();
            let wait = {
                let mut state = self.state();
                let in_flight = state.in_flight;
                let paused = state
                    .paused_until
                    .map_or(Duration::ZERO, |until| until.saturating_duration_since(now));
                let mut wait = Some(paused);
                for window in &mut state.windows {
                    wait = match (wait, window.wait(in_flight, now)) {
                        (Some(a), Some(b)) => Some(a.max(b)),
                        _ => None,
                    };
                }
                if wait == Some(Duration::ZERO) {
                    state.in_flight += 1;
                    return Ok(Slot {
                        limiter: self,
                        _permit: permit,
                    });
                }
                wait
            };
            match wait {
                Some(wait) if now + wait > deadline => return Err(self.too_long(wait)),
                Some(wait) => tokio::time::sleep(wait).await,
                None => {
                    if tokio::time::timeout_at(deadline, completed).await.is_err() {
                        return Err(self.too_long(self.limits.window));
                    }
                }
            }
        }
    }

    /// Holds every caller back for `wait` (a platform's `Retry-After`).
    pub fn pause(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut state = self.state();
        state.paused_until = Some(state.paused_until.map_or(until, |u| u.max(until)));
    }

    fn too_long(&self, wait: Duration) -> ConnectorError {
        ConnectorError::RateLimited {
            retry_after: wait,
            message: format!(
                "the rate limit needs a wait of {wait:?}, longer than the {:?} a call may wait",
                self.limits.max_wait
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_window: u32, max_in_flight: u32) -> RateLimits {
        RateLimits {
            per_window,
            window: Duration::from_secs(10),
            max_in_flight,
            max_wait: Duration::from_secs(30),
            ..RateLimits::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_window_frees_a_window_after_its_oldest_call_completed() {
        let limiter = RateLimiter::new(limits(2, 5));
        let start = Instant::now();
        let deadline = start + Duration::from_secs(30);
        drop(limiter.acquire(deadline).await.unwrap());
        tokio::time::advance(Duration::from_secs(3)).await;
        drop(limiter.acquire(deadline).await.unwrap());
        let third = limiter.acquire(deadline).await.unwrap();
        assert_eq!(
            Instant::now() - start,
            Duration::from_secs(10),
            "the first call's slot frees 10 s after it completed"
        );
        drop(third);
        let fourth = limiter.acquire(deadline).await.unwrap();
        assert_eq!(Instant::now() - start, Duration::from_secs(13));
        drop(fourth);
    }

    #[tokio::test(start_paused = true)]
    async fn calls_in_flight_count_until_they_complete() {
        let limiter = RateLimiter::new(limits(1, 5));
        let deadline = Instant::now() + Duration::from_secs(30);
        let long_call = limiter.acquire(deadline).await.unwrap();
        let waiter = limiter.acquire(deadline);
        tokio::pin!(waiter);
        let early = tokio::time::timeout(Duration::from_secs(20), waiter.as_mut()).await;
        assert!(early.is_err(), "an in-flight call holds the only place");
        let completed_at = Instant::now();
        drop(long_call);
        let _next = waiter.await.unwrap();
        assert_eq!(Instant::now() - completed_at, Duration::from_secs(10));
    }

    #[tokio::test(start_paused = true)]
    async fn the_in_flight_cap_and_a_pause_hold_callers_and_a_long_wait_is_handed_back() {
        let limiter = RateLimiter::new(limits(100, 1));
        let deadline = Instant::now() + Duration::from_secs(5);
        let busy = limiter.acquire(deadline).await.unwrap();
        let err = limiter.acquire(deadline).await.unwrap_err();
        assert!(matches!(err, ConnectorError::RateLimited { .. }), "{err:?}");
        drop(busy);

        limiter.pause(Duration::from_secs(2));
        let start = Instant::now();
        drop(
            limiter
                .acquire(start + Duration::from_secs(5))
                .await
                .unwrap(),
        );
        assert_eq!(Instant::now() - start, Duration::from_secs(2));
        limiter.pause(Duration::from_secs(60));
        let err = limiter
            .acquire(Instant::now() + Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(
            matches!(err, ConnectorError::RateLimited { retry_after, .. } if retry_after == Duration::from_secs(60)),
            "{err:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_daily_cap_hands_back_the_wait_for_the_oldest_call_of_the_day() {
        let limiter = RateLimiter::new(RateLimits {
            per_day: Some(1),
            ..limits(100, 5)
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        drop(limiter.acquire(deadline).await.unwrap());
        let err = limiter.acquire(deadline).await.unwrap_err();
        assert!(
            matches!(err, ConnectorError::RateLimited { retry_after, .. } if retry_after == DAY),
            "{err:?}"
        );
    }
}
