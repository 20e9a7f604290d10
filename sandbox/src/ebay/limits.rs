//! The call limit: at most N calls in any one second per seller, the next answered 429 with
//! eBay's `2001 Too many requests`; and each admitted call counted against its API for the UTC
//! day, as eBay's daily call limits are counted (shown in the traffic stats).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::errors::too_many_requests;
use super::store::{today, EbayStore};

/// Admission times within the last second.
#[derive(Debug, Default)]
pub struct CallWindow {
    recent: VecDeque<Instant>,
}

impl CallWindow {
    /// Admits a call at `now` if fewer than `per_second` were admitted in the second before it.
    pub fn admit(&mut self, now: Instant, per_second: u32) -> bool {
        while self
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
        {
            self.recent.pop_front();
        }
        if self.recent.len() >= per_second as usize {
            return false;
        }
        self.recent.push_back(now);
        true
    }
}

/// The API a path belongs to, as eBay names them in its call limits.
fn api_of(path: &str) -> &'static str {
    if path.contains("/sell/inventory/") {
        "sell.inventory"
    } else if path.contains("/sell/fulfillment/") {
        "sell.fulfillment"
    } else {
        "other"
    }
}

pub async fn limit(State(store): State<Arc<EbayStore>>, req: Request, next: Next) -> Response {
    let admitted = store
        .state()
        .window
        .admit(Instant::now(), store.config.requests_per_second);
    if !admitted {
        return too_many_requests();
    }
    store
        .common
        .traffic
        .record_api_call(&today(), api_of(req.uri().path()));
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_n_per_second() {
        let mut window = CallWindow::default();
        let start = Instant::now();
        assert!(window.admit(start, 2));
        assert!(window.admit(start, 2));
        assert!(!window.admit(start + Duration::from_millis(500), 2));
        assert!(window.admit(start + Duration::from_secs(1), 2));
    }
}
