//! Whether a resent order changed. Channels resend orders all the time (overlapping import
//! windows, duplicate webhooks), so an import compares what the channel sent with what is
//! stored, and only a change of the channel's own data counts: anything else would bump
//! `updated_at`, send events and reach fulfilment for nothing.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

use super::{ChannelOrder, OrderLine};

/// PostgreSQL keeps microseconds; a channel time with nanoseconds would otherwise never compare
/// equal to its stored self, and every re-import would look like a change.
fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(t)
}

/// The order as it will be stored: times at storage precision, one line per channel line id
/// (the first of any repeated).
pub fn normalised(order: &ChannelOrder) -> ChannelOrder {
    let mut seen = HashSet::new();
    let lines = order
        .lines
        .iter()
        .filter(|l| seen.insert(l.channel_line_id.clone()))
        .cloned()
        .collect();
    ChannelOrder {
        placed_at: micros(order.placed_at),
        paid_at: order.paid_at.map(micros),
        channel_updated_at: micros(order.channel_updated_at),
        lines,
        ..order.clone()
    }
}

/// The part of a line the channel owns, keyed for comparison. switchyard's own fields (ids,
/// product mapping, kit components) are not the channel's data and never count as a change.
type LineKey<'a> = (&'a Option<String>, &'a str, u32, &'a str, &'a str);

fn channel_lines(lines: &[OrderLine]) -> BTreeMap<&str, LineKey<'_>> {
    lines
        .iter()
        .map(|l| {
            (
                l.channel_line_id.as_str(),
                (
                    &l.sku,
                    l.title.as_str(),
                    l.quantity,
                    l.unit_price.as_str(),
                    l.tax.as_str(),
                ),
            )
        })
        .collect()
}

/// True when the channel's data of the two line lists is the same (compared by their channel
/// line id, in any order): the lines need no rewriting.
pub fn same_channel_lines(stored: &[OrderLine], incoming: &[OrderLine]) -> bool {
    channel_lines(stored) == channel_lines(incoming)
}

/// True when the channel's data of the two orders is the same, lines included.
pub fn same_channel_data(stored: &ChannelOrder, incoming: &ChannelOrder) -> bool {
    let head = |o: &ChannelOrder| {
        (
            o.order_number.clone(),
            o.status,
            o.currency.clone(),
            o.totals.clone(),
            o.customer.clone(),
            o.shipping_address.clone(),
            o.billing_address.clone(),
            o.placed_at,
            o.paid_at,
            o.channel_updated_at,
            o.tags.clone(),
            o.notes.clone(),
        )
    };
    head(stored) == head(incoming) && same_channel_lines(&stored.lines, &incoming.lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::order::test_orders::{at, line, order};
    use crate::domain::{KitComponent, OrderStatus};

    fn stored() -> ChannelOrder {
        order(vec![line("l1", Some("A"), 2), line("l2", Some("B"), 1)])
    }

    #[test]
    fn normalising_truncates_times_to_microseconds() {
        let nanos = at() + TimeDelta::nanoseconds(1_234_567);
        let sent = ChannelOrder {
            placed_at: nanos,
            paid_at: Some(nanos),
            channel_updated_at: nanos,
            ..stored()
        };
        let kept = normalised(&sent);
        let micros = at() + TimeDelta::microseconds(1_234);
        assert_eq!(kept.placed_at, micros);
        assert_eq!(kept.paid_at, Some(micros));
        assert_eq!(kept.channel_updated_at, micros);
        assert!(same_channel_data(&kept, &normalised(&kept)));
    }

    #[test]
    fn normalising_keeps_the_first_of_a_repeated_channel_line() {
        let mut repeated = line("l1", Some("OTHER"), 9);
        repeated.title = "Repeated".into();
        let sent = order(vec![
            line("l1", Some("A"), 2),
            line("l2", Some("B"), 1),
            repeated,
        ]);
        assert_eq!(normalised(&sent).lines, stored().lines);
    }

    #[test]
    fn the_same_order_resent_in_another_line_order_is_no_change() {
        let mut resent = stored();
        resent.lines.reverse();
        assert!(same_channel_data(&stored(), &resent));
    }

    #[test]
    fn switchyards_own_line_fields_are_no_change() {
        let mut mapped = stored();
        mapped.lines[0].id = Some(11);
        mapped.lines[0].product_id = Some(5);
        mapped.lines[0].kit_components = vec![KitComponent {
            product_id: 6,
            sku: "A-PART".into(),
            quantity: 2,
        }];
        assert!(same_channel_data(&mapped, &stored()));
    }

    #[test]
    fn a_change_of_any_channel_field_is_a_change() {
        type Change = (&'static str, fn(&mut ChannelOrder));
        let changes: Vec<Change> = vec![
            ("status", |o| o.status = OrderStatus::Shipped),
            ("order number", |o| o.order_number = "#1002".into()),
            ("currency", |o| o.currency = "EUR".into()),
            ("total", |o| o.totals.total = "1.00".into()),
            ("customer", |o| o.customer.email = Some("a@b.c".into())),
            ("shipping", |o| {
                o.shipping_address = Some(Default::default())
            }),
            ("billing", |o| o.billing_address = Some(Default::default())),
            ("placed", |o| o.placed_at = at() - TimeDelta::days(1)),
            ("paid", |o| o.paid_at = None),
            ("channel time", |o| {
                o.channel_updated_at = at() + TimeDelta::seconds(1)
            }),
            ("tags", |o| o.tags = vec!["vip".into()]),
            ("notes", |o| o.notes = Some("ring twice".into())),
            ("line sku", |o| o.lines[0].sku = None),
            ("line title", |o| o.lines[0].title = "Other".into()),
            ("line quantity", |o| o.lines[0].quantity = 3),
            ("line price", |o| o.lines[0].unit_price = "9.00".into()),
            ("line tax", |o| o.lines[0].tax = "1.00".into()),
            ("line added", |o| o.lines.push(line("l3", None, 1))),
            ("line removed", |o| {
                o.lines.pop();
            }),
        ];
        for (what, change) in changes {
            let mut changed = stored();
            change(&mut changed);
            assert!(!same_channel_data(&stored(), &changed), "{what}");
            let lines_same = same_channel_lines(&stored().lines, &changed.lines);
            assert_eq!(lines_same, !what.starts_with("line"), "{what}");
        }
    }
}
