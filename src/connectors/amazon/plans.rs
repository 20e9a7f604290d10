//! SP-API's usage plans: every operation has its own token bucket per seller and app, `burst`
//! calls deep and restored at `rate` calls a second, so each operation the connector calls has
//! its own [`Throttle`](crate::connectors::Throttle). The plans start as the models publish them
//! (each operation's description, `amzn/selling-partner-api-models`) and are corrected by the
//! rate every answer states in `x-amzn-RateLimit-Limit`: a seller whose business has earned
//! higher limits is not held to the defaults, and one whose plan is lower is not refused again
//! and again.

use reqwest::header::HeaderMap;

/// The operations the connector calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    GetOrders,
    GetOrderItems,
    ConfirmShipment,
    PatchListingsItem,
    SearchListingsItems,
}

impl Operation {
    pub const ALL: [Operation; 5] = [
        Operation::GetOrders,
        Operation::GetOrderItems,
        Operation::ConfirmShipment,
        Operation::PatchListingsItem,
        Operation::SearchListingsItems,
    ];

    /// The model's `operationId`, which logs and errors name the call by.
    pub fn name(self) -> &'static str {
        match self {
            Operation::GetOrders => "getOrders",
            Operation::GetOrderItems => "getOrderItems",
            Operation::ConfirmShipment => "confirmShipment",
            Operation::PatchListingsItem => "patchListingsItem",
            Operation::SearchListingsItems => "searchListingsItems",
        }
    }

    /// Where the operation is in [`Operation::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// A usage plan: calls a second restored to the bucket, and the bucket's size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UsagePlan {
    pub rate: f64,
    pub burst: u32,
}

/// The plan each operation is assumed to have until Amazon's answers state its rate.
#[derive(Debug, Clone, PartialEq)]
pub struct UsagePlans {
    pub get_orders: UsagePlan,
    pub get_order_items: UsagePlan,
    pub confirm_shipment: UsagePlan,
    pub patch_listings_item: UsagePlan,
    pub search_listings_items: UsagePlan,
}

impl Default for UsagePlans {
    /// The default plans of Orders v0 and Listings Items 2021-08-01.
    fn default() -> Self {
        let plan = |rate, burst| UsagePlan { rate, burst };
        UsagePlans {
            get_orders: plan(0.0167, 20),
            get_order_items: plan(0.5, 30),
            confirm_shipment: plan(2.0, 10),
            patch_listings_item: plan(5.0, 5),
            search_listings_items: plan(5.0, 5),
        }
    }
}

impl UsagePlans {
    pub fn of(&self, op: Operation) -> UsagePlan {
        match op {
            Operation::GetOrders => self.get_orders,
            Operation::GetOrderItems => self.get_order_items,
            Operation::ConfirmShipment => self.confirm_shipment,
            Operation::PatchListingsItem => self.patch_listings_item,
            Operation::SearchListingsItems => self.search_listings_items,
        }
    }
}

/// The rate `x-amzn-RateLimit-Limit` states (`0.0167`, `2.0`), in calls a second.
pub fn stated_rate(headers: &HeaderMap) -> Option<f64> {
    let text = headers.get("x-amzn-ratelimit-limit")?.to_str().ok()?;
    let rate: f64 = text.trim().parse().ok()?;
    (rate.is_finite() && rate > 0.0).then_some(rate)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn the_stated_rate_is_read_and_nonsense_ignored() {
        let mut headers = HeaderMap::new();
        assert_eq!(stated_rate(&headers), None);
        headers.insert("x-amzn-RateLimit-Limit", HeaderValue::from_static("0.0167"));
        assert_eq!(stated_rate(&headers), Some(0.0167));
        headers.insert("x-amzn-RateLimit-Limit", HeaderValue::from_static(" 2.0 "));
        assert_eq!(stated_rate(&headers), Some(2.0));
        for bad in ["0", "-1", "fast", "NaN"] {
            headers.insert("x-amzn-RateLimit-Limit", HeaderValue::from_static(bad));
            assert_eq!(stated_rate(&headers), None, "{bad}");
        }
    }

    #[test]
    fn every_operation_has_its_place_and_plan() {
        let plans = UsagePlans::default();
        for (i, op) in Operation::ALL.iter().enumerate() {
            assert_eq!(op.index(), i);
            assert!(plans.of(*op).rate > 0.0 && plans.of(*op).burst > 0);
        }
        assert_eq!(plans.of(Operation::GetOrders).burst, 20);
    }
}
