//! The channel kinds `switchyard bench import` measures: the simulated store each kind's import
//! reads, with the limits it is given, and what the store's counters saw of an import against
//! those limits.
//!
//! Amazon publishes a usage plan per operation (`getOrders` 0.0167 calls a second in bursts of
//! 20, `getOrderItems` 0.5 in bursts of 30) and every order costs a `getOrderItems` call, so at
//! the published rates a thousand orders take over half an hour. The seller's plans are scaled
//! (the simulator's `rate_limits.scale`) by a factor chosen from the orders imported, so that the
//! plans rather than their bursts pace an import for about [`AMAZON_PACE`]. A plan admits at most
//! `burst + rate × t` calls in `t` seconds (its bucket starts full), so the calls an operation
//! made beyond its burst, a second, against its rate, is 1.0 at the ceiling: what matters is
//! reaching it without a 429.
//!
//! Shopify's GraphQL cost bucket is lifted: the bench measures switchyard, and on a standard
//! plan (100 points a second, an order with a few lines reading at about 20) Shopify itself
//! would hold an import to about five orders a second. WooCommerce publishes no limit. eBay's
//! simulated seller admits so many calls in any one second, and the eBay connector paces its
//! calls itself, well below that: beyond its first few pages, that pace is what holds an import.

use std::time::Duration;

use switchyard_sandbox::config::{AmazonRateLimits, OperationLimit};
use switchyard_sandbox::{
    AmazonSellerConfig, EbaySellerConfig, GraphqlPlan, SandboxConfig, ShopifyStoreConfig,
    TrafficStats, WooStoreConfig,
};

use crate::connectors::EbayConfig;
use crate::domain::{ChannelKind, Secret};

/// Every kind, in the order the bench measures them.
pub const KINDS: [ChannelKind; 4] = [
    ChannelKind::Shopify,
    ChannelKind::WooCommerce,
    ChannelKind::Amazon,
    ChannelKind::Ebay,
];

/// About how long Amazon's scaled plans hold an import of the seller's share.
const AMAZON_PACE: Duration = Duration::from_secs(20);

/// An Amazon operation an import calls.
struct AmazonOperation {
    /// The model's `operationId`.
    name: &'static str,
    /// The route the simulator counts it under.
    route: &'static str,
    plan: fn(&AmazonRateLimits) -> OperationLimit,
}

const AMAZON_OPERATIONS: [AmazonOperation; 2] = [
    AmazonOperation {
        name: "getOrders",
        route: "GET /orders/v0/orders",
        plan: |l| l.get_orders,
    },
    AmazonOperation {
        name: "getOrderItems",
        route: "GET /orders/v0/orders/{order_id}/orderItems",
        plan: |l| l.get_order_items,
    },
];

/// A kind as `--kinds` names it: as the API and the database spell it.
pub fn parse_kind(text: &str) -> Result<ChannelKind, String> {
    let text = text.trim();
    KINDS
        .into_iter()
        .find(|k| k.as_str().eq_ignore_ascii_case(text))
        .ok_or_else(|| {
            let known: Vec<&str> = KINDS.iter().map(|k| k.as_str()).collect();
            format!("unknown channel kind {text:?}; one of {}", known.join(", "))
        })
}

/// The factor Amazon's usage plans are scaled by for an import of `orders` orders: whole, and at
/// least 1, so that the `getOrderItems` calls beyond the plan's burst take about
/// [`AMAZON_PACE`]. `getOrders` keeps pace at the same factor, since a page of 30 orders is a
/// minute's `getOrderItems` calls and the published `getOrders` rate is a call a minute.
pub fn amazon_scale(orders: usize) -> f64 {
    let plan = AmazonRateLimits::default().get_order_items;
    let beyond = orders.saturating_sub(plan.burst as usize) as f64;
    (beyond / (plan.rate * AMAZON_PACE.as_secs_f64()))
        .ceil()
        .max(1.0)
}

/// A sandbox holding one store of `kind`, with the limits described in the module's note, for
/// an import of `orders` orders.
pub fn sandbox_config(kind: ChannelKind, orders: usize) -> SandboxConfig {
    let mut config = SandboxConfig::default();
    match kind {
        ChannelKind::Shopify => {
            let mut shop = ShopifyStoreConfig::new("bench-shop");
            shop.graphql = GraphqlPlan::Custom {
                maximum_available: 1e12,
                restore_rate: 1e12,
            };
            config.shopify.push(shop);
        }
        ChannelKind::WooCommerce => config.woocommerce.push(WooStoreConfig::new("bench-woo")),
        ChannelKind::Amazon => {
            let mut seller = AmazonSellerConfig::new("bench-amazon");
            seller.rate_limits.scale = amazon_scale(orders);
            config.amazon.push(seller);
        }
        ChannelKind::Ebay => config.ebay.push(EbaySellerConfig::new("bench-ebay")),
    }
    config
}

/// The limits of the store `config` describes, as the bench's header says them, for an import
/// of `orders` orders; nothing for a store whose limits are lifted (Shopify) or that has none.
pub fn describe(config: &SandboxConfig, orders: usize) -> Option<String> {
    if let Some(seller) = config.amazon.first() {
        let limits = &seller.rate_limits;
        let plans: Vec<String> = AMAZON_OPERATIONS
            .iter()
            .map(|op| {
                let plan = scaled((op.plan)(limits), limits.scale);
                format!(
                    "{} {:.3} calls a second (burst {})",
                    op.name, plan.rate, plan.burst
                )
            })
            .collect();
        let items = PlanUse {
            operation: "getOrderItems",
            calls: orders as u64,
            plan: scaled(limits.get_order_items, limits.scale),
        };
        return Some(format!(
            "amazon usage plans scaled x{}: {}; the items of {orders} orders take {:.1} s at \
             the least",
            limits.scale,
            plans.join(", "),
            items.floor_secs()
        ));
    }
    config.ebay.first().map(|seller| {
        // The connector's own pace, read from the settings every eBay channel gets.
        let none = || Secret::new(String::new());
        let paced = EbayConfig::new(String::new(), none(), none(), none()).fulfillment_throttle;
        format!(
            "ebay seller admits {} calls in any one second; the connector paces its Fulfillment \
             API calls itself: a burst of {}, then {} a second",
            seller.requests_per_second, paced.assumed_capacity, paced.leak_per_second
        )
    })
}

/// One Amazon operation's calls in an import, and its plan as scaled.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanUse {
    pub operation: &'static str,
    /// Every call the seller received, refused ones too (its counters keep 429s per store, not
    /// per route): after a 429 the figures overstate what the plan admitted, and the 429s are
    /// reported beside them.
    pub calls: u64,
    pub plan: OperationLimit,
}

impl PlanUse {
    /// The least time the plan admits the calls in: none for those within the burst.
    pub fn floor_secs(&self) -> f64 {
        self.calls.saturating_sub(u64::from(self.plan.burst)) as f64 / self.plan.rate
    }

    /// The calls beyond the burst a second, over an import of `secs`, against the plan's rate:
    /// 1.0 at the ceiling; `None` when every call fitted in the burst.
    pub fn of_rate(&self, secs: f64) -> Option<f64> {
        (self.calls > u64::from(self.plan.burst)).then(|| self.floor_secs() / secs)
    }
}

/// What a store's counters saw of one import, beside the limits the store was given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage {
    /// 429s the store answered.
    pub refused: u64,
    /// Amazon's operations.
    pub plans: Vec<PlanUse>,
    /// eBay's Fulfillment API calls, and the calls the seller admits in any one second.
    pub fulfillment_calls: Option<(u64, u32)>,
}

impl Usage {
    /// What `traffic` says of an import from the store `config` describes.
    pub fn read(config: &SandboxConfig, traffic: &TrafficStats) -> Usage {
        let plans = config
            .amazon
            .first()
            .map(|seller| {
                let limits = &seller.rate_limits;
                AMAZON_OPERATIONS
                    .iter()
                    .map(|op| PlanUse {
                        operation: op.name,
                        calls: traffic.by_route.get(op.route).copied().unwrap_or(0),
                        plan: scaled((op.plan)(limits), limits.scale),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let fulfillment_calls = config.ebay.first().map(|seller| {
            let calls = traffic
                .calls_per_day
                .values()
                .filter_map(|apis| apis.get("sell.fulfillment"))
                .sum();
            (calls, seller.requests_per_second)
        });
        Usage {
            refused: traffic.responses_429,
            plans,
            fulfillment_calls,
        }
    }

    /// The least time the plans admit the import's calls in: that of the scarcest operation.
    pub fn ceiling_secs(&self) -> f64 {
        self.plans
            .iter()
            .map(PlanUse::floor_secs)
            .fold(0.0, f64::max)
    }
}

/// `plan` with its rate multiplied by `scale`, as the simulator applies it (a scale that is not
/// positive leaves the published rate).
fn scaled(plan: OperationLimit, scale: f64) -> OperationLimit {
    let scale = if scale > 0.0 { scale } else { 1.0 };
    OperationLimit {
        rate: plan.rate * scale,
        burst: plan.burst,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_named_as_the_api_names_them() {
        assert_eq!(parse_kind("amazon"), Ok(ChannelKind::Amazon));
        assert_eq!(parse_kind(" WooCommerce "), Ok(ChannelKind::WooCommerce));
        let err = parse_kind("etsy").unwrap_err();
        assert!(err.contains("etsy") && err.contains("shopify, woocommerce, amazon, ebay"));
    }

    #[test]
    fn amazon_scale_paces_the_items_beyond_the_burst() {
        assert_eq!(
            amazon_scale(10),
            1.0,
            "within the burst, the published plans"
        );
        // 470 calls beyond the burst of 30 at 0.5 × 47 a second: 20 s.
        assert_eq!(amazon_scale(500), 47.0);
        let plan = scaled(AmazonRateLimits::default().get_order_items, 47.0);
        let items = PlanUse {
            operation: "getOrderItems",
            calls: 500,
            plan,
        };
        assert!((items.floor_secs() - AMAZON_PACE.as_secs_f64()).abs() < 0.01);
    }

    #[test]
    fn a_plan_is_reached_by_the_calls_beyond_its_burst() {
        let plan = OperationLimit {
            rate: 10.0,
            burst: 20,
        };
        let used = |calls| PlanUse {
            operation: "getOrderItems",
            calls,
            plan,
        };
        assert_eq!(used(120).floor_secs(), 10.0);
        assert_eq!(used(120).of_rate(10.0), Some(1.0));
        assert_eq!(used(120).of_rate(20.0), Some(0.5));
        assert_eq!(used(20).of_rate(1.0), None, "within the burst");
        assert_eq!(used(20).floor_secs(), 0.0);
    }

    #[test]
    fn usage_reads_amazon_plans_and_ebay_calls_from_the_counters() {
        let mut traffic = TrafficStats {
            responses_429: 2,
            ..TrafficStats::default()
        };
        traffic.by_route.insert("GET /orders/v0/orders".into(), 17);
        traffic
            .by_route
            .insert("GET /orders/v0/orders/{order_id}/orderItems".into(), 500);
        let amazon = Usage::read(&sandbox_config(ChannelKind::Amazon, 500), &traffic);
        assert_eq!(amazon.refused, 2);
        assert_eq!(amazon.plans[0].calls, 17);
        assert_eq!(amazon.plans[0].of_rate(20.0), None);
        assert_eq!(amazon.plans[1].plan.rate, 0.5 * 47.0);
        assert!((amazon.ceiling_secs() - 20.0).abs() < 0.01);
        assert_eq!(amazon.fulfillment_calls, None);

        for (day, n) in [("2026-01-01", 3), ("2026-01-02", 4)] {
            traffic
                .calls_per_day
                .entry(day.into())
                .or_default()
                .insert("sell.fulfillment".into(), n);
        }
        let ebay = Usage::read(&sandbox_config(ChannelKind::Ebay, 500), &traffic);
        assert_eq!(ebay.fulfillment_calls, Some((7, 25)));
        assert!(ebay.plans.is_empty());
        assert_eq!(ebay.ceiling_secs(), 0.0);
    }
}
