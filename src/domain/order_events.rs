//! What a change of an order's channel status is called in its history.

use crate::domain::OrderStatus;

/// The `order_events.kind` of a move from `from` to `to`: the business event a merchant would
/// name, or `updated` for moves without one (a shipment undone, say).
pub fn event_kind(from: OrderStatus, to: OrderStatus) -> &'static str {
    use OrderStatus::*;
    match (from, to) {
        (_, Cancelled) => "cancelled",
        (_, Refunded) => "refunded",
        (_, Shipped) | (Unpaid | Unshipped, PartiallyShipped) => "shipped",
        (Unpaid, Unshipped) => "paid",
        _ => "updated",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderStatus::*;

    #[test]
    fn status_moves_are_named_as_a_merchant_would() {
        assert_eq!(event_kind(Unpaid, Unshipped), "paid");
        assert_eq!(event_kind(Unshipped, Cancelled), "cancelled");
        assert_eq!(event_kind(Unpaid, Cancelled), "cancelled");
        assert_eq!(event_kind(Shipped, Refunded), "refunded");
        assert_eq!(event_kind(Unshipped, PartiallyShipped), "shipped");
        assert_eq!(event_kind(PartiallyShipped, Shipped), "shipped");
        assert_eq!(event_kind(Shipped, Unshipped), "updated");
        assert_eq!(event_kind(PartiallyShipped, Unshipped), "updated");
    }
}
