//! Which orders an import takes as work, from the channel's settings.
//!
//! An import never drops an order: one the rules turn away is still stored, with sync status
//! `excluded` and the reason, so a merchant can see why it is not being fulfilled and a later
//! change on the channel (the order gets paid) can bring it in. These rules only answer "is this
//! order work for us now"; [`next_sync_status`] says how that answer combines with what an order
//! already stored was.

use crate::domain::{ChannelOrder, OrderStatus, SyncStatus};

use super::settings::{ChannelSettings, FilterMode};

/// What the import does with one order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Work to do: stored as `pending`.
    Import,
    /// Stored and visible, but not to be fulfilled yet (`on_hold`): the channel says it is not
    /// ready for despatch and the channel's settings ask for such orders anyway.
    Hold { reason: String },
    /// Stored as `excluded`, with the reason shown to the merchant.
    Exclude { reason: String },
}

impl Decision {
    /// The sync status an order gets when this is the first decision about it.
    pub fn sync_status(&self) -> SyncStatus {
        match self {
            Decision::Import => SyncStatus::Pending,
            Decision::Hold { .. } => SyncStatus::OnHold,
            Decision::Exclude { .. } => SyncStatus::Excluded,
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            Decision::Import => None,
            Decision::Hold { reason } | Decision::Exclude { reason } => Some(reason),
        }
    }

    fn exclude(reason: impl Into<String>) -> Decision {
        Decision::Exclude {
            reason: reason.into(),
        }
    }
}

/// Decides whether an order is work for this channel.
///
/// In order: orders the channel has already finished with (shipped, cancelled, refunded) are not
/// work; orders the channel says are not ready for despatch ([`ChannelOrder::not_ready`]:
/// WooCommerce's `on-hold`, a Shopify fulfilment hold, an Amazon pre-order) are held as
/// `on_hold` with the channel's reason when `import_not_ready` says so, and are excluded
/// otherwise, whether paid or not; unpaid orders are work only when `import_unpaid` says so;
/// then the country filter on the destination; then the SKU filter on the lines (allow: at least
/// one line's SKU listed; deny: no line's SKU listed). The filters apply to held orders too.
///
/// When the channel lifts its hold, the next import decides the order afresh, and
/// [`next_sync_status`] makes a held order pending once it is work.
pub fn decide(settings: &ChannelSettings, order: &ChannelOrder) -> Decision {
    let admitted = match (order.status, &order.not_ready) {
        (OrderStatus::Shipped, _) => {
            return Decision::exclude("already shipped on the channel when first seen")
        }
        (OrderStatus::Cancelled, _) => return Decision::exclude("cancelled on the channel"),
        (OrderStatus::Refunded, _) => return Decision::exclude("refunded on the channel"),
        (_, Some(why)) if settings.import_not_ready => Decision::Hold {
            reason: format!("not ready for despatch: {why}"),
        },
        (_, Some(why)) => {
            return Decision::exclude(format!(
                "not ready for despatch: {why}; the channel does not import such orders"
            ))
        }
        (OrderStatus::Unpaid, None) if settings.import_unpaid => Decision::Import,
        (OrderStatus::Unpaid, None) => {
            return Decision::exclude("not paid yet, and the channel does not import unpaid orders")
        }
        (OrderStatus::Unshipped | OrderStatus::PartiallyShipped, None) => Decision::Import,
    };

    if let Some(filter) = &settings.country_filter {
        let listed = |c: &str| filter.countries.iter().any(|l| l == c);
        match (filter.mode, order.destination()) {
            (FilterMode::Allow, None) => {
                return Decision::exclude(
                    "no shipping or billing country, and the channel imports only listed countries",
                )
            }
            (FilterMode::Allow, Some(c)) if !listed(&c) => {
                return Decision::exclude(format!(
                    "ships to {c}, which is not on the channel's country allow list"
                ))
            }
            (FilterMode::Deny, Some(c)) if listed(&c) => {
                return Decision::exclude(format!(
                    "ships to {c}, which is on the channel's country deny list"
                ))
            }
            _ => {}
        }
    }

    if let Some(filter) = &settings.sku_filter {
        let mut skus = order
            .lines
            .iter()
            .filter_map(|l| l.sku.as_deref().map(str::trim));
        match filter.mode {
            FilterMode::Allow => {
                if !skus.any(|s| filter.skus.iter().any(|l| l == s)) {
                    return Decision::exclude("no line's SKU is on the channel's SKU allow list");
                }
            }
            FilterMode::Deny => {
                if let Some(s) = skus.find(|s| filter.skus.iter().any(|l| l == s)) {
                    return Decision::exclude(format!(
                        "line SKU {s} is on the channel's SKU deny list"
                    ));
                }
            }
        }
    }

    admitted
}

/// The sync status (and exclusion reason) an order gets from an import, given what it had.
///
/// - A new order takes the decision.
/// - An excluded order is decided afresh: once paid, an unpaid order becomes work.
/// - A held order becomes pending once the rules import it, and otherwise stays held.
/// - Any other order is already switchyard's work (pending, in progress, synced, ...): a change on
///   the channel, even a cancellation, shows in its status and its events, and its sync status is
///   left to whoever is working on it.
pub fn next_sync_status(
    current: Option<SyncStatus>,
    decision: &Decision,
) -> (SyncStatus, Option<String>) {
    let take = || (decision.sync_status(), decision.reason().map(str::to_owned));
    match current {
        None | Some(SyncStatus::Excluded) => take(),
        Some(SyncStatus::OnHold) => match decision {
            Decision::Import => take(),
            Decision::Hold { reason } => (SyncStatus::OnHold, Some(reason.clone())),
            Decision::Exclude { .. } => (SyncStatus::OnHold, decision.reason().map(str::to_owned)),
        },
        Some(other) => (other, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::order::test_orders::{self, line};
    use crate::domain::settings::{CountryFilter, SkuFilter};
    use crate::domain::Address;

    fn address(country: &str) -> Address {
        Address {
            name: "Ada".into(),
            line1: "1 Main St".into(),
            city: "Town".into(),
            country_code: country.into(),
            ..Address::default()
        }
    }

    fn order(status: OrderStatus) -> ChannelOrder {
        ChannelOrder {
            status,
            currency: "USD".into(),
            shipping_address: Some(address("GB")),
            billing_address: Some(address("US")),
            ..test_orders::order(vec![
                line("l1", Some("A-1"), 1),
                line("l2", Some("B-2"), 1),
                line("l3", None, 1),
            ])
        }
    }

    fn settings() -> ChannelSettings {
        ChannelSettings::default()
    }

    fn countries(mode: FilterMode, list: &[&str]) -> ChannelSettings {
        ChannelSettings {
            country_filter: Some(CountryFilter {
                mode,
                countries: list.iter().map(|c| c.to_string()).collect(),
            }),
            ..settings()
        }
    }

    fn skus(mode: FilterMode, list: &[&str]) -> ChannelSettings {
        ChannelSettings {
            sku_filter: Some(SkuFilter {
                mode,
                skus: list.iter().map(|c| c.to_string()).collect(),
            }),
            ..settings()
        }
    }

    fn excluded(d: &Decision) -> bool {
        matches!(d, Decision::Exclude { .. })
    }

    #[test]
    fn by_default_only_paid_unfulfilled_orders_are_imported() {
        let s = settings();
        assert_eq!(decide(&s, &order(OrderStatus::Unshipped)), Decision::Import);
        assert_eq!(
            decide(&s, &order(OrderStatus::PartiallyShipped)),
            Decision::Import
        );
        for status in [
            OrderStatus::Unpaid,
            OrderStatus::Shipped,
            OrderStatus::Cancelled,
            OrderStatus::Refunded,
        ] {
            let d = decide(&s, &order(status));
            assert!(excluded(&d), "{status:?} gave {d:?}");
            assert!(d.reason().is_some_and(|r| !r.is_empty()));
            assert_eq!(d.sync_status(), SyncStatus::Excluded);
        }
    }

    #[test]
    fn reasons_say_what_the_channel_did() {
        let s = settings();
        let reason = |status| decide(&s, &order(status)).reason().map(str::to_owned);
        assert!(reason(OrderStatus::Cancelled).is_some_and(|r| r.contains("cancelled")));
        assert!(reason(OrderStatus::Refunded).is_some_and(|r| r.contains("refunded")));
        assert!(reason(OrderStatus::Shipped).is_some_and(|r| r.contains("shipped")));
        assert!(reason(OrderStatus::Unpaid).is_some_and(|r| r.contains("not paid")));
    }

    /// An order the channel says is not ready for despatch, `status` otherwise.
    fn not_ready(status: OrderStatus) -> ChannelOrder {
        ChannelOrder {
            not_ready: Some("on hold on the channel".into()),
            ..order(status)
        }
    }

    fn with(import_unpaid: bool, import_not_ready: bool) -> ChannelSettings {
        ChannelSettings {
            import_unpaid,
            import_not_ready,
            ..settings()
        }
    }

    #[test]
    fn unpaid_orders_follow_import_unpaid_alone() {
        let unpaid = order(OrderStatus::Unpaid);
        for not_ready in [false, true] {
            assert_eq!(decide(&with(true, not_ready), &unpaid), Decision::Import);
            let d = decide(&with(false, not_ready), &unpaid);
            assert!(
                d.reason().is_some_and(|r| r.contains("not paid")) && excluded(&d),
                "import_not_ready does not admit an order that is only unpaid: {d:?}"
            );
        }
    }

    #[test]
    fn orders_not_ready_for_despatch_follow_import_not_ready_alone() {
        for status in [
            OrderStatus::Unpaid,
            OrderStatus::Unshipped,
            OrderStatus::PartiallyShipped,
        ] {
            let o = not_ready(status);
            for unpaid in [false, true] {
                let d = decide(&with(unpaid, true), &o);
                assert_eq!(
                    d,
                    Decision::Hold {
                        reason: "not ready for despatch: on hold on the channel".into()
                    },
                    "{status:?}, import_unpaid {unpaid}"
                );
                assert_eq!(d.sync_status(), SyncStatus::OnHold);
                let d = decide(&with(unpaid, false), &o);
                assert!(excluded(&d), "{status:?}, import_unpaid {unpaid}: {d:?}");
                assert!(
                    d.reason()
                        .is_some_and(|r| r.contains("on hold on the channel")),
                    "the channel's reason is kept: {d:?}"
                );
            }
        }
    }

    #[test]
    fn a_ready_paid_order_is_work_whatever_the_two_settings() {
        for (unpaid, not_ready) in [(false, false), (false, true), (true, false), (true, true)] {
            assert_eq!(
                decide(&with(unpaid, not_ready), &order(OrderStatus::Unshipped)),
                Decision::Import
            );
        }
    }

    #[test]
    fn a_lifted_hold_makes_the_held_order_pending() {
        let s = with(false, true);
        let held = decide(&s, &not_ready(OrderStatus::Unshipped));
        let (status, _) = next_sync_status(None, &held);
        assert_eq!(status, SyncStatus::OnHold);
        let lifted = decide(&s, &order(OrderStatus::Unshipped));
        assert_eq!(
            next_sync_status(Some(status), &lifted),
            (SyncStatus::Pending, None)
        );
        // Excluded while the channel held it, the order is decided afresh too.
        let off = with(false, false);
        let (status, _) = next_sync_status(None, &decide(&off, &not_ready(OrderStatus::Unshipped)));
        assert_eq!(status, SyncStatus::Excluded);
        assert_eq!(
            next_sync_status(Some(status), &decide(&off, &order(OrderStatus::Unshipped))),
            (SyncStatus::Pending, None)
        );
    }

    #[test]
    fn finished_orders_stay_excluded_whatever_the_settings() {
        let s = with(true, true);
        for status in [
            OrderStatus::Shipped,
            OrderStatus::Cancelled,
            OrderStatus::Refunded,
        ] {
            assert!(excluded(&decide(&s, &order(status))), "{status:?}");
            assert!(excluded(&decide(&s, &not_ready(status))), "{status:?}");
        }
    }

    #[test]
    fn the_country_filter_reads_the_shipping_country_first() {
        let o = order(OrderStatus::Unshipped);
        assert_eq!(
            decide(&countries(FilterMode::Allow, &["GB"]), &o),
            Decision::Import
        );
        let d = decide(&countries(FilterMode::Allow, &["US"]), &o);
        assert!(
            d.reason().is_some_and(|r| r.contains("GB")),
            "billing country does not count when there is a shipping address: {d:?}"
        );
        assert!(excluded(&decide(&countries(FilterMode::Deny, &["GB"]), &o)));
        assert_eq!(
            decide(&countries(FilterMode::Deny, &["US", "FR"]), &o),
            Decision::Import
        );
    }

    #[test]
    fn the_country_filter_falls_back_to_billing() {
        let mut o = order(OrderStatus::Unshipped);
        o.shipping_address = None;
        assert_eq!(
            decide(&countries(FilterMode::Allow, &["US"]), &o),
            Decision::Import
        );
        assert!(excluded(&decide(&countries(FilterMode::Deny, &["US"]), &o)));
        o.shipping_address = Some(address(""));
        assert_eq!(
            decide(&countries(FilterMode::Allow, &["US"]), &o),
            Decision::Import,
            "a blank shipping country falls back too"
        );
        o.shipping_address = Some(address("us"));
        assert_eq!(
            decide(&countries(FilterMode::Allow, &["US"]), &o),
            Decision::Import,
            "a channel's lower-case code is read as the code"
        );
    }

    #[test]
    fn an_order_without_any_country_fails_an_allow_list_but_passes_a_deny_list() {
        let mut o = order(OrderStatus::Unshipped);
        o.shipping_address = None;
        o.billing_address = None;
        assert!(excluded(&decide(
            &countries(FilterMode::Allow, &["GB"]),
            &o
        )));
        assert_eq!(
            decide(&countries(FilterMode::Deny, &["GB"]), &o),
            Decision::Import
        );
    }

    #[test]
    fn a_sku_allow_list_needs_one_listed_line() {
        let o = order(OrderStatus::Unshipped);
        assert_eq!(
            decide(&skus(FilterMode::Allow, &["B-2"]), &o),
            Decision::Import
        );
        assert!(excluded(&decide(&skus(FilterMode::Allow, &["C-3"]), &o)));
        assert!(
            excluded(&decide(&skus(FilterMode::Allow, &["a-1"]), &o)),
            "SKUs match exactly"
        );
        let mut no_skus = o.clone();
        no_skus.lines = vec![line("l1", None, 1)];
        assert!(excluded(&decide(
            &skus(FilterMode::Allow, &["A-1"]),
            &no_skus
        )));
    }

    #[test]
    fn a_sku_deny_list_excludes_on_any_listed_line() {
        let o = order(OrderStatus::Unshipped);
        let d = decide(&skus(FilterMode::Deny, &["B-2"]), &o);
        assert!(d.reason().is_some_and(|r| r.contains("B-2")), "{d:?}");
        assert_eq!(
            decide(&skus(FilterMode::Deny, &["C-3"]), &o),
            Decision::Import
        );
        assert_eq!(decide(&skus(FilterMode::Deny, &[]), &o), Decision::Import);
    }

    #[test]
    fn filters_apply_to_held_orders_too() {
        let s = ChannelSettings {
            import_not_ready: true,
            ..countries(FilterMode::Deny, &["GB"])
        };
        let d = decide(&s, &not_ready(OrderStatus::Unshipped));
        assert!(d.reason().is_some_and(|r| r.contains("GB")), "{d:?}");
    }

    #[test]
    fn a_new_order_takes_the_decision() {
        let ex = Decision::exclude("why");
        assert_eq!(
            next_sync_status(None, &ex),
            (SyncStatus::Excluded, Some("why".into()))
        );
        assert_eq!(
            next_sync_status(None, &Decision::Import),
            (SyncStatus::Pending, None)
        );
    }

    #[test]
    fn excluded_and_held_orders_are_decided_again() {
        assert_eq!(
            next_sync_status(Some(SyncStatus::Excluded), &Decision::Import),
            (SyncStatus::Pending, None),
            "an unpaid order that gets paid becomes work"
        );
        assert_eq!(
            next_sync_status(Some(SyncStatus::OnHold), &Decision::Import),
            (SyncStatus::Pending, None)
        );
        let (status, _) = next_sync_status(Some(SyncStatus::OnHold), &Decision::exclude("x"));
        assert_eq!(status, SyncStatus::OnHold);
    }

    #[test]
    fn orders_already_in_work_keep_their_sync_status() {
        for current in [
            SyncStatus::Pending,
            SyncStatus::Synced,
            SyncStatus::InProgress,
            SyncStatus::Failed,
            SyncStatus::Updated,
        ] {
            assert_eq!(
                next_sync_status(
                    Some(current),
                    &Decision::exclude("cancelled on the channel")
                ),
                (current, None)
            );
        }
    }
}
