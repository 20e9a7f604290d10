//! The connector's rate limiter, shared by every task posting through one connector (one
//! organisation): calls in flight capped, calls in any rolling window and in any rolling day
//! capped, and a 429's `Retry-After` holding every caller back.
//!
//! A call keeps its place in the window until `window` after it *completes*, not after it was
//! sent. Xero counts a call when it arrives, somewhere between our send and its answer; counting
//! from completion means that when we send a call, every call Xero may still count in a window
//! ending now is counted here too (it either is in flight or completed less than `window` ago),
//! so no window of Xero's, fixed or rolling, ever sees more than the cap whatever the network's
//! delays. The cost is one round trip per window of throughput.
//!
//! A caller waits in-process until a deadline (the connector sets it `max_wait` after the call
//! began, 429s included); a longer wait is answered with [`ConnectorError::RateLimited`] carrying
//! it, so the queue reschedules the job instead of holding a worker. A full day's allowance is
//! such a wait, and is answered at once. Places in flight are handed out in FIFO order (a fair
//! semaphore).

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, Semaphore, SemaphorePermit};
use tokio::time::Instant;

use crate::connectors::ConnectorError;

const DAY: Duration = Duration::from_secs(24 * 3600);

/// The wait asked for when callers ahead held every place in flight past the deadline: they
/// may be done any moment.
const BUSY_RETRY: Duration = Duration::from_secs(1);

/// How hard one connector may call its organisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RateLimits {
    /// Calls in progress at once (Xero: 5 per organisation).
    pub in_flight: u32,
    /// Calls in any rolling `window` (Xero: 60 a minute).
    pub per_window: u32,
    /// The window's length; shorter only for a test on a compressed clock.
    pub window: Duration,
    /// Calls in any rolling 24 hours (Xero: 5,000), or no daily cap.
    pub per_day: Option<u32>,
    /// The longest a call waits in-process, for a place or for a `Retry-After`.
    pub max_wait: Duration,
    /// How many 429s one call may absorb (each waiting its `Retry-After`) before giving up.
    pub max_429_retries: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            in_flight: 5,
            per_window: 60,
            window: Duration::from_secs(60),
            per_day: Some(5000),
            max_wait: Duration::from_secs(10),
            max_429_retries: 3,
        }
    }
}

#[derive(Debug, Default)]
struct State {
    /// Calls sent and not yet answered: each holds a place in the window and in the day.
    open: u32,
    /// When the window places of answered calls free up, earliest first.
    window: VecDeque<Instant>,
    /// When the day places of answered calls free up, earliest first.
    day: VecDeque<Instant>,
    paused_until: Option<Instant>,
}

/// What a call must wait for before it is sent.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Wait {
    None,
    /// A time that will come (a place freeing up, a pause ending).
    For(Duration),
    /// Calls in flight to complete (they alone fill a window); at least this long.
    Completions(Duration),
}

/// One organisation's limiter; every task calling that organisation shares it.
#[derive(Debug)]
pub struct Limiter {
    limits: RateLimits,
    in_flight: Semaphore,
    state: Mutex<State>,
    /// Told when a call completes, for callers waiting on [`Wait::Completions`].
    completed: Notify,
}

/// A call's place: in flight until dropped, then in the window and the day.
#[derive(Debug)]
pub struct Place<'a> {
    limiter: &'a Limiter,
    _in_flight: SemaphorePermit<'a>,
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        self.limiter.complete();
    }
}

impl Limiter {
    pub fn new(limits: RateLimits) -> Limiter {
        Limiter {
            in_flight: Semaphore::new(limits.in_flight.max(1) as usize),
            limits,
            state: Mutex::new(State::default()),
            completed: Notify::new(),
        }
    }

    pub fn limits(&self) -> &RateLimits {
        &self.limits
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for a place for one call, or fails with `RateLimited` rather than wait past
    /// `deadline`. Hold the place while the call is made.
    pub async fn acquire(&self, deadline: Instant) -> Result<Place<'_>, ConnectorError> {
        let permit = match tokio::time::timeout_at(deadline, self.in_flight.acquire()).await {
            Ok(Ok(permit)) => permit,
            // The semaphore is never closed.
            Ok(Err(_)) | Err(_) => {
                let wait = match self.wait_now() {
                    Wait::For(d) | Wait::Completions(d) => d.max(BUSY_RETRY),
                    Wait::None => BUSY_RETRY,
                };
                return Err(self.too_long(wait));
            }
        };
        loop {
            let completed = self.completed.notified();
            tokio::pin!(completed);
            completed.as_mut().enable();
            let wait = {
                let mut state = self.state();
                let wait = self.wait(&mut state, Instant::now());
                if wait == Wait::None {
                    state.open += 1;
                    return Ok(Place {
                        limiter: self,
                        _in_flight: permit,
                    });
                }
                wait
            };
            match wait {
                Wait::None => {}
                Wait::For(d) => {
                    if Instant::now() + d > deadline {
                        return Err(self.too_long(d));
                    }
                    tokio::time::sleep(d).await;
                }
                Wait::Completions(d) => {
                    if Instant::now() + d > deadline {
                        return Err(self.too_long(d));
                    }
                    completed.await;
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

    fn complete(&self) {
        {
            let mut state = self.state();
            let now = Instant::now();
            state.open = state.open.saturating_sub(1);
            state.window.push_back(now + self.limits.window);
            if self.limits.per_day.is_some() {
                state.day.push_back(now + DAY);
            }
        }
        self.completed.notify_waiters();
    }

    fn wait_now(&self) -> Wait {
        let mut state = self.state();
        self.wait(&mut state, Instant::now())
    }

    fn wait(&self, state: &mut State, now: Instant) -> Wait {
        let paused = state
            .paused_until
            .map_or(Duration::ZERO, |until| until.saturating_duration_since(now));
        let open = state.open;
        let window = free_place(
            &mut state.window,
            open,
            self.limits.per_window,
            now,
            self.limits.window,
        );
        let day = match self.limits.per_day {
            Some(cap) => free_place(&mut state.day, open, cap, now, DAY),
            None => Wait::None,
        };
        [window, day].into_iter().fold(paused_wait(paused), longest)
    }

    fn too_long(&self, wait: Duration) -> ConnectorError {
        ConnectorError::RateLimited {
            retry_after: wait,
            message: format!(
                "Xero's rate limits need a wait of {wait:?}, longer than the {:?} a call may wait",
                self.limits.max_wait
            ),
        }
    }
}

fn paused_wait(paused: Duration) -> Wait {
    if paused.is_zero() {
        Wait::None
    } else {
        Wait::For(paused)
    }
}

fn longest(a: Wait, b: Wait) -> Wait {
    let length = |w: Wait| match w {
        Wait::None => Duration::ZERO,
        Wait::For(d) | Wait::Completions(d) => d,
    };
    match (a, b) {
        (Wait::None, w) | (w, Wait::None) => w,
        // Waiting on completions wakes early and looks again, so it wins whatever its length.
        (Wait::Completions(x), w) | (w, Wait::Completions(x)) => {
            Wait::Completions(x.max(length(w)))
        }
        (Wait::For(x), Wait::For(y)) => Wait::For(x.max(y)),
    }
}

/// The wait for a place among `cap`, with `open` calls in flight and `frees` the times the
/// answered calls' places free up (those past are dropped).
fn free_place(
    frees: &mut VecDeque<Instant>,
    open: u32,
    cap: u32,
    now: Instant,
    span: Duration,
) -> Wait {
    while frees.front().is_some_and(|&at| at <= now) {
        frees.pop_front();
    }
    let used = open as usize + frees.len();
    let cap = cap.max(1) as usize;
    if used < cap {
        return Wait::None;
    }
    // `used - cap + 1` places must free up; the answered calls' go first, in order.
    match frees.get(used - cap) {
        Some(&at) => Wait::For(at - now),
        None => Wait::Completions(span),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(in_flight: u32, per_window: u32, per_day: Option<u32>) -> RateLimits {
        RateLimits {
            in_flight,
            per_window,
            window: Duration::from_secs(60),
            per_day,
            max_wait: Duration::from_secs(120),
            max_429_retries: 3,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_window_place_frees_a_window_after_its_call_completes() {
        let limiter = Limiter::new(limits(5, 2, None));
        let start = Instant::now();
        let deadline = start + Duration::from_secs(120);
        let first = limiter.acquire(deadline).await.unwrap();
        tokio::time::sleep(Duration::from_secs(5)).await;
        drop(first);
        drop(limiter.acquire(deadline).await.unwrap());
        assert_eq!(Instant::now() - start, Duration::from_secs(5));
        drop(limiter.acquire(deadline).await.unwrap());
        assert_eq!(
            Instant::now() - start,
            Duration::from_secs(65),
            "the first call's place frees 60 s after it completed, not after it was sent"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn calls_in_flight_are_capped_and_fill_the_window_too() {
        let limiter = Limiter::new(limits(2, 2, None));
        let deadline = Instant::now() + Duration::from_secs(120);
        let a = limiter.acquire(deadline).await.unwrap();
        let _b = limiter.acquire(deadline).await.unwrap();
        let short = Instant::now() + Duration::from_millis(100);
        assert!(matches!(
            limiter.acquire(short).await,
            Err(ConnectorError::RateLimited { retry_after, .. }) if retry_after >= BUSY_RETRY
        ));
        let start = Instant::now();
        drop(a);
        drop(limiter.acquire(deadline).await.unwrap());
        assert_eq!(Instant::now() - start, Duration::from_secs(60));
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_day_is_answered_at_once_with_its_wait() {
        let limiter = Limiter::new(limits(5, 100, Some(3)));
        let deadline = Instant::now() + Duration::from_secs(120);
        for _ in 0..3 {
            drop(limiter.acquire(deadline).await.unwrap());
        }
        let start = Instant::now();
        let refused = limiter.acquire(deadline).await;
        assert_eq!(
            Instant::now(),
            start,
            "no waiting for a wait that cannot fit"
        );
        assert!(
            matches!(refused, Err(ConnectorError::RateLimited { retry_after, .. }) if retry_after == DAY),
            "{refused:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_every_caller_and_a_long_one_is_handed_back() {
        let limiter = Limiter::new(limits(5, 100, None));
        limiter.pause(Duration::from_secs(2));
        let start = Instant::now();
        drop(
            limiter
                .acquire(start + Duration::from_secs(10))
                .await
                .unwrap(),
        );
        assert_eq!(Instant::now() - start, Duration::from_secs(2));
        limiter.pause(Duration::from_secs(30));
        let refused = limiter
            .acquire(Instant::now() + Duration::from_secs(10))
            .await;
        assert!(
            matches!(refused, Err(ConnectorError::RateLimited { retry_after, .. }) if retry_after == Duration::from_secs(30)),
            "{refused:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_window_full_of_calls_in_flight_waits_for_their_completion() {
        // More places in flight than in the window: the window is all open calls.
        let limiter = std::sync::Arc::new(Limiter::new(limits(4, 2, None)));
        let deadline = Instant::now() + Duration::from_secs(120);
        let a = limiter.acquire(deadline).await.unwrap();
        let _b = limiter.acquire(deadline).await.unwrap();
        let waiter = {
            let limiter = limiter.clone();
            tokio::spawn(async move {
                let start = Instant::now();
                drop(limiter.acquire(deadline).await.unwrap());
                Instant::now() - start
            })
        };
        tokio::time::sleep(Duration::from_secs(3)).await;
        drop(a);
        let waited = waiter.await.unwrap();
        assert_eq!(waited, Duration::from_secs(63), "3 s in flight, then 60 s");
    }
}
