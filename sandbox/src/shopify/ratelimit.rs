//! Shopify's leaky bucket: each request adds one to a per-shop bucket that drains at a fixed rate;
//! a request that would overflow it is refused with 429. Every answer reports the fill level in
//! `X-Shopify-Shop-Api-Call-Limit`, which is what a well-behaved client throttles on.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::errors::too_many_requests;
use super::store::ShopifyStore;
use crate::faults::lock;
use crate::http_util::set_header;

const HEADER: &str = "x-shopify-shop-api-call-limit";

#[derive(Debug)]
pub struct LeakyBucket {
    capacity: f64,
    leak_per_second: f64,
    level: f64,
    last: Instant,
}

impl LeakyBucket {
    pub fn new(capacity: f64, leak_per_second: f64) -> LeakyBucket {
        LeakyBucket {
            capacity: capacity.max(1.0),
            leak_per_second: leak_per_second.max(0.0),
            level: 0.0,
            last: Instant::now(),
        }
    }

    fn leak(&mut self) {
        let now = Instant::now();
        let drained = now.duration_since(self.last).as_secs_f64() * self.leak_per_second;
        self.level = (self.level - drained).max(0.0);
        self.last = now;
    }

    /// The fill level now, rounded up as Shopify reports it.
    pub fn level_now(&mut self) -> u32 {
        self.leak();
        self.level.ceil() as u32
    }

    pub fn capacity(&self) -> u32 {
        self.capacity as u32
    }

    /// Adds one request: `Ok(level)` if it fits, `Err(())` if the bucket is full.
    pub fn try_take(&mut self) -> Result<u32, ()> {
        self.leak();
        if self.level + 1.0 > self.capacity + 1e-9 {
            return Err(());
        }
        self.level += 1.0;
        Ok(self.level.ceil() as u32)
    }
}

/// Middleware: charge the bucket, refuse with 429 when full, and stamp the call-limit header.
pub async fn limit(State(store): State<Arc<ShopifyStore>>, req: Request, next: Next) -> Response {
    let (taken, capacity) = {
        let mut bucket = lock(&store.bucket);
        (bucket.try_take(), bucket.capacity())
    };
    match taken {
        Ok(level) => {
            let mut response = next.run(req).await;
            set_header(&mut response, HEADER, &format!("{level}/{capacity}"));
            response
        }
        Err(()) => {
            let mut response = too_many_requests(2.0);
            set_header(&mut response, HEADER, &format!("{capacity}/{capacity}"));
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflows_at_capacity() {
        let mut bucket = LeakyBucket::new(3.0, 0.0);
        assert_eq!(bucket.try_take(), Ok(1));
        assert_eq!(bucket.try_take(), Ok(2));
        assert_eq!(bucket.try_take(), Ok(3));
        assert_eq!(bucket.try_take(), Err(()));
    }
}
