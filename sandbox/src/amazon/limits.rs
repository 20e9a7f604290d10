//! SP-API's usage plans: a token bucket per operation per seller, `burst` deep, refilled at
//! `rate` requests a second. A call finding it empty is refused with 429 `QuotaExceeded`; every
//! answer of a planned operation says the rate in `x-amzn-RateLimit-Limit`, and every answer
//! carries an `x-amzn-RequestId`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

use super::config::{AmazonRateLimits, OperationLimit};
use super::errors;
use super::store::AmazonSeller;
use crate::faults::lock;
use crate::http_util::{random_hex, set_header};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    GetOrders,
    GetOrder,
    GetOrderItems,
    ConfirmShipment,
    GetListingsItem,
    PatchListingsItem,
    SearchListingsItems,
}

impl Operation {
    /// The operation a request is for, from its method and route template (without the seller's
    /// prefix).
    pub fn of(method: &Method, route: &str) -> Option<Operation> {
        let op = match (method.as_str(), route) {
            ("GET", "/orders/v0/orders") => Operation::GetOrders,
            ("GET", "/orders/v0/orders/{order_id}") => Operation::GetOrder,
            ("GET", "/orders/v0/orders/{order_id}/orderItems") => Operation::GetOrderItems,
            ("POST", "/orders/v0/orders/{order_id}/shipmentConfirmation") => {
                Operation::ConfirmShipment
            }
            ("GET", "/listings/2021-08-01/items/{seller_id}/{sku}") => Operation::GetListingsItem,
            ("PATCH", "/listings/2021-08-01/items/{seller_id}/{sku}") => {
                Operation::PatchListingsItem
            }
            ("GET", "/listings/2021-08-01/items/{seller_id}") => Operation::SearchListingsItems,
            _ => return None,
        };
        Some(op)
    }

    fn plan(self, limits: &AmazonRateLimits) -> OperationLimit {
        match self {
            Operation::GetOrders => limits.get_orders,
            Operation::GetOrder => limits.get_order,
            Operation::GetOrderItems => limits.get_order_items,
            Operation::ConfirmShipment => limits.confirm_shipment,
            Operation::GetListingsItem => limits.get_listings_item,
            Operation::PatchListingsItem => limits.patch_listings_item,
            Operation::SearchListingsItems => limits.search_listings_items,
        }
    }
}

/// One operation's bucket.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// Starts full, as a seller's first calls of the day find it.
    pub fn new(rate: f64, burst: u32) -> TokenBucket {
        let burst = f64::from(burst.max(1));
        TokenBucket {
            rate: if rate.is_finite() { rate.max(0.0) } else { 0.0 },
            burst,
            tokens: burst,
            last: Instant::now(),
        }
    }

    /// Takes a token if there is one.
    pub fn try_take(&mut self, now: Instant) -> bool {
        let refill = now.saturating_duration_since(self.last).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    pub fn rate(&self) -> f64 {
        self.rate
    }
}

/// Every operation's bucket for one seller.
#[derive(Debug)]
pub struct RateLimits {
    plans: AmazonRateLimits,
    buckets: Mutex<HashMap<Operation, TokenBucket>>,
}

impl RateLimits {
    pub fn new(plans: &AmazonRateLimits) -> RateLimits {
        RateLimits {
            plans: plans.clone(),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Charges `op`'s bucket: `Ok(rate)` when admitted, `Err(rate)` when empty.
    pub fn take(&self, op: Operation) -> Result<f64, f64> {
        let mut buckets = lock(&self.buckets);
        let bucket = buckets.entry(op).or_insert_with(|| {
            let plan = op.plan(&self.plans);
            let scale = if self.plans.scale > 0.0 {
                self.plans.scale
            } else {
                1.0
            };
            TokenBucket::new(plan.rate * scale, plan.burst)
        });
        let rate = bucket.rate();
        match bucket.try_take(Instant::now()) {
            true => Ok(rate),
            false => Err(rate),
        }
    }
}

/// Middleware: an `x-amzn-RequestId` on every answer.
pub async fn request_id(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let id = random_hex(16);
    let id = format!(
        "{}-{}-{}-{}-{}",
        &id[..8],
        &id[8..12],
        &id[12..16],
        &id[16..20],
        &id[20..]
    );
    set_header(&mut response, "x-amzn-requestid", &id);
    response
}

/// Middleware: charges the operation's bucket, refuses with 429 when it is empty, and states
/// the rate on the answer either way.
pub async fn limit(State(seller): State<Arc<AmazonSeller>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_default();
    let route = route
        .strip_prefix(seller.prefix.as_str())
        .unwrap_or(&route)
        .to_owned();
    let Some(op) = Operation::of(req.method(), &route) else {
        return next.run(req).await;
    };
    let (mut response, rate) = match seller.limits.take(op) {
        Ok(rate) => (next.run(req).await, rate),
        Err(rate) => (errors::quota_exceeded(), rate),
    };
    set_header(&mut response, "x-amzn-ratelimit-limit", &format_rate(rate));
    response
}

/// `0.0167`, `0.5`, `2.0`: the rate as Amazon writes it.
fn format_rate(rate: f64) -> String {
    let text = format!("{rate:.4}");
    let text = text.trim_end_matches('0');
    match text.strip_suffix('.') {
        Some(whole) => format!("{whole}.0"),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bucket_spends_its_burst_then_refills_at_the_rate() {
        let mut bucket = TokenBucket::new(2.0, 3);
        let start = Instant::now();
        assert!((0..3).all(|_| bucket.try_take(start)));
        assert!(!bucket.try_take(start));
        assert!(!bucket.try_take(start + Duration::from_millis(400)));
        assert!(bucket.try_take(start + Duration::from_millis(500)));
        let later = start + Duration::from_secs(60);
        assert_eq!((0..5).filter(|_| bucket.try_take(later)).count(), 3);
    }

    #[test]
    fn rates_are_written_as_amazon_writes_them() {
        assert_eq!(format_rate(0.0167), "0.0167");
        assert_eq!(format_rate(0.5), "0.5");
        assert_eq!(format_rate(2.0), "2.0");
    }
}
