//! Fault injection shared by every simulator: the failures a connector must survive in production
//! (throttling bursts, 5xx, slow and hung requests, truncated bodies), switched on per store at run
//! time. Decisions come from a seeded RNG so a failing test replays the same faults.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

/// The knobs, readable and settable through the control API and [`Faults::set`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultKnobs {
    /// The next N requests answer 429 with `Retry-After`, then service resumes.
    pub burst_429: u32,
    /// The `Retry-After` value sent with injected 429s, in seconds.
    pub retry_after_secs: f64,
    /// Share of requests (0..=1) answered with a 5xx.
    pub error_5xx_ratio: f64,
    /// Delay added before every request is handled.
    pub latency_ms: u64,
    /// Share of requests that never answer (until the client gives up or the sandbox stops).
    pub hang_ratio: f64,
    /// Share of successful responses whose body is cut in half, so JSON parsing fails.
    pub malformed_ratio: f64,
}

impl Default for FaultKnobs {
    fn default() -> Self {
        FaultKnobs {
            burst_429: 0,
            retry_after_secs: 2.0,
            error_5xx_ratio: 0.0,
            latency_ms: 0,
            hang_ratio: 0.0,
            malformed_ratio: 0.0,
        }
    }
}

impl FaultKnobs {
    /// Refuses ratios outside 0..=1 and a negative or NaN `Retry-After`.
    pub fn check(&self) -> Result<(), &'static str> {
        let ratios = [self.error_5xx_ratio, self.hang_ratio, self.malformed_ratio];
        if ratios.iter().any(|r| !(0.0..=1.0).contains(r))
            || self.retry_after_secs.is_nan()
            || self.retry_after_secs < 0.0
        {
            return Err("ratios must be within 0..=1 and retry_after_secs >= 0");
        }
        Ok(())
    }
}

/// What to do with one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    Pass,
    TooManyRequests { retry_after_secs: f64 },
    ServerError,
    Hang,
    Malformed,
}

/// An injected failure for a platform to render in its own error format.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum InjectedFault {
    TooManyRequests { retry_after_secs: f64 },
    ServerError,
}

/// Knobs plus the seeded RNG that turns ratios into decisions.
#[derive(Debug)]
pub struct Faults {
    knobs: Mutex<FaultKnobs>,
    rng: Mutex<StdRng>,
}

impl Faults {
    pub fn new(knobs: FaultKnobs, seed: u64) -> Faults {
        Faults {
            knobs: Mutex::new(knobs),
            rng: Mutex::new(StdRng::seed_from_u64(seed ^ 0x5eed_fa17)),
        }
    }

    pub fn knobs(&self) -> FaultKnobs {
        lock(&self.knobs).clone()
    }

    pub fn set(&self, knobs: FaultKnobs) {
        *lock(&self.knobs) = knobs;
    }

    /// Makes the next `n` requests answer 429 (added to any burst already pending).
    pub fn add_429_burst(&self, n: u32) {
        let mut knobs = lock(&self.knobs);
        knobs.burst_429 = knobs.burst_429.saturating_add(n);
    }

    /// Decides the fate of one request, consuming one unit of a pending 429 burst.
    pub fn decide(&self) -> (Duration, Outcome) {
        let mut knobs = lock(&self.knobs);
        let latency = Duration::from_millis(knobs.latency_ms);
        if knobs.burst_429 > 0 {
            knobs.burst_429 -= 1;
            let retry_after_secs = knobs.retry_after_secs;
            return (latency, Outcome::TooManyRequests { retry_after_secs });
        }
        let mut rng = lock(&self.rng);
        let mut roll = |ratio: f64| ratio > 0.0 && rng.random::<f64>() < ratio;
        let outcome = if roll(knobs.hang_ratio) {
            Outcome::Hang
        } else if roll(knobs.error_5xx_ratio) {
            Outcome::ServerError
        } else if roll(knobs.malformed_ratio) {
            Outcome::Malformed
        } else {
            Outcome::Pass
        };
        (latency, outcome)
    }
}

/// State of the fault middleware: the store's faults, its error renderer and the sandbox's
/// shutdown signal (so hung requests end when the sandbox stops instead of blocking shutdown).
#[derive(Clone)]
pub struct FaultLayer {
    pub faults: Arc<Faults>,
    pub render: fn(InjectedFault) -> Response,
    pub shutdown: CancellationToken,
}

/// axum middleware applying [`Faults::decide`] to each request.
pub async fn inject(State(layer): State<FaultLayer>, req: Request, next: Next) -> Response {
    let (latency, outcome) = layer.faults.decide();
    if !latency.is_zero() {
        tokio::select! {
            _ = tokio::time::sleep(latency) => {}
            _ = layer.shutdown.cancelled() => {}
        }
    }
    match outcome {
        Outcome::Pass => next.run(req).await,
        Outcome::TooManyRequests { retry_after_secs } => {
            (layer.render)(InjectedFault::TooManyRequests { retry_after_secs })
        }
        Outcome::ServerError => (layer.render)(InjectedFault::ServerError),
        Outcome::Hang => {
            layer.shutdown.cancelled().await;
            (layer.render)(InjectedFault::ServerError)
        }
        Outcome::Malformed => truncate_body(next.run(req).await).await,
    }
}

/// Cuts a successful body in half: the status and headers still say "200 application/json".
async fn truncate_body(response: Response) -> Response {
    if !response.status().is_success() {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(_) => return Response::from_parts(parts, Body::empty()),
    };
    let cut = bytes.slice(..bytes.len() / 2);
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(cut))
}

/// Locks a mutex, recovering from poisoning: a panicked handler must not take the simulator down.
pub fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_pass_and_ratios_are_seeded() {
        let faults = Faults::new(
            FaultKnobs {
                burst_429: 2,
                ..FaultKnobs::default()
            },
            1,
        );
        assert!(matches!(faults.decide().1, Outcome::TooManyRequests { .. }));
        assert!(matches!(faults.decide().1, Outcome::TooManyRequests { .. }));
        assert_eq!(faults.decide().1, Outcome::Pass);
        let knobs = FaultKnobs {
            error_5xx_ratio: 0.5,
            ..FaultKnobs::default()
        };
        let a = Faults::new(knobs.clone(), 7);
        let b = Faults::new(knobs, 7);
        let run = |f: &Faults| (0..50).map(|_| f.decide().1).collect::<Vec<_>>();
        let seq = run(&a);
        assert_eq!(seq, run(&b));
        let errors = seq.iter().filter(|o| **o == Outcome::ServerError).count();
        assert!((10..=40).contains(&errors), "{errors} of 50");
    }
}
