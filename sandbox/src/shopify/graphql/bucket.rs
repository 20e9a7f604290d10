//! The GraphQL cost bucket of a shop: `maximumAvailable` points that restore continuously at
//! `restoreRate` a second. A request is admitted when the bucket holds its requested cost; it is
//! charged that before running and refunded what it did not use after.

use std::time::Instant;

use serde_json::{json, Value};

#[derive(Debug)]
pub struct CostBucket {
    maximum: f64,
    restore_rate: f64,
    available: f64,
    last: Instant,
}

impl CostBucket {
    /// A full bucket.
    pub fn new(maximum: f64, restore_rate: f64) -> CostBucket {
        CostBucket {
            maximum: maximum.max(1.0),
            restore_rate: restore_rate.max(0.0),
            available: maximum.max(1.0),
            last: Instant::now(),
        }
    }

    fn restore(&mut self) {
        let now = Instant::now();
        let restored = now.duration_since(self.last).as_secs_f64() * self.restore_rate;
        self.available = (self.available + restored).min(self.maximum);
        self.last = now;
    }

    /// Takes `cost` if the bucket holds it; false (nothing taken) otherwise.
    pub fn try_charge(&mut self, cost: u64) -> bool {
        self.restore();
        if self.available + 1e-9 < cost as f64 {
            return false;
        }
        self.available -= cost as f64;
        true
    }

    pub fn refund(&mut self, points: u64) {
        self.restore();
        self.available = (self.available + points as f64).min(self.maximum);
    }

    /// `throttleStatus` as Shopify sends it, floats and all.
    pub fn status(&mut self) -> Value {
        self.restore();
        json!({
            "maximumAvailable": self.maximum,
            "currentlyAvailable": self.available.floor(),
            "restoreRate": self.restore_rate,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_what_it_holds_and_refunds_up_to_the_maximum() {
        let mut bucket = CostBucket::new(100.0, 0.0);
        assert!(bucket.try_charge(60));
        assert!(!bucket.try_charge(41), "40 left");
        assert!(bucket.try_charge(40));
        bucket.refund(500);
        assert_eq!(bucket.status()["currentlyAvailable"], json!(100.0));
    }
}
