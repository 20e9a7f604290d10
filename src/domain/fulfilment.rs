//! Fulfilment rules (DESIGN.md "push-fulfilment"): which lines a new shipment may take, what
//! its tracking fields may hold, where a push goes next from a fulfilment's status, and the
//! order status shipped quantities imply. Pure, so the API, the store and the worker agree.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::FieldError;
use crate::domain::OrderStatus;

/// Where a fulfilment is on its way to the channel: `pending` until sent, `sending` while the
/// channel is called, `synced` once the channel holds it, `failed` when the channel refused it
/// or switchyard gave up (`failure_reason` says which).
///
/// `Sending` is written before the channel is called, so a worker that dies after the channel
/// answered but before switchyard recorded it leaves a mark: the next attempt asks the channel
/// whether the shipment is already there instead of creating a second one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FulfilmentStatus {
    Pending,
    Sending,
    Synced,
    Failed,
}

/// What a push job does with a fulfilment in a given status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushStep {
    /// Never sent: create it on the channel.
    Push,
    /// A push may have reached the channel: look for it there first, create it only if absent.
    Reconcile,
    /// Synced or failed: nothing left to do (a duplicate job, or a requeued dead letter).
    Done,
}

pub fn push_step(status: FulfilmentStatus) -> PushStep {
    match status {
        FulfilmentStatus::Pending => PushStep::Push,
        FulfilmentStatus::Sending => PushStep::Reconcile,
        FulfilmentStatus::Synced | FulfilmentStatus::Failed => PushStep::Done,
    }
}

/// A line of the order as a new fulfilment sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderedLine {
    pub order_line_id: i64,
    pub channel_line_id: String,
    pub sku: Option<String>,
    pub quantity: u32,
    /// Already taken by earlier fulfilments that have not failed.
    pub taken: u32,
}

impl OrderedLine {
    fn remaining(&self) -> u32 {
        self.quantity.saturating_sub(self.taken)
    }
}

/// A line a caller asks to ship.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = FulfilmentLineRequest)]
pub struct RequestedLine {
    /// The order line's `id`.
    pub order_line_id: i64,
    /// At least 1, at most what is left of the line once earlier fulfilments that have not
    /// failed are counted.
    #[schema(minimum = 1)]
    pub quantity: u32,
}

/// A line the fulfilment will ship.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedLine {
    pub order_line_id: i64,
    pub channel_line_id: String,
    pub sku: Option<String>,
    pub quantity: u32,
}

/// The lines a new fulfilment of an order in `status` with `lines` ships: the `requested` ones,
/// or everything still unshipped when none are named. Refused (naming the field) for a cancelled
/// or refunded order, an empty list, an unknown or repeated line, a zero quantity, or more than
/// is left once earlier non-failed fulfilments are counted.
pub fn plan_lines(
    status: OrderStatus,
    lines: &[OrderedLine],
    requested: Option<&[RequestedLine]>,
) -> Result<Vec<PlannedLine>, FieldError> {
    if matches!(status, OrderStatus::Cancelled | OrderStatus::Refunded) {
        let word = if status == OrderStatus::Cancelled {
            "cancelled"
        } else {
            "refunded"
        };
        return Err(FieldError::new(
            "order_id",
            format!("the order is {word}; a {word} order cannot be fulfilled"),
        ));
    }
    let planned = |l: &OrderedLine, quantity: u32| PlannedLine {
        order_line_id: l.order_line_id,
        channel_line_id: l.channel_line_id.clone(),
        sku: l.sku.clone(),
        quantity,
    };
    let Some(requested) = requested else {
        let all: Vec<PlannedLine> = lines
            .iter()
            .filter(|l| l.remaining() > 0)
            .map(|l| planned(l, l.remaining()))
            .collect();
        if all.is_empty() {
            return Err(FieldError::new(
                "lines",
                "the order has nothing left to fulfil",
            ));
        }
        return Ok(all);
    };
    if requested.is_empty() {
        return Err(FieldError::new(
            "lines",
            "name at least one line, or leave `lines` out to ship everything still unshipped",
        ));
    }
    let by_id: HashMap<i64, &OrderedLine> = lines.iter().map(|l| (l.order_line_id, l)).collect();
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(requested.len());
    for (i, r) in requested.iter().enumerate() {
        let Some(line) = by_id.get(&r.order_line_id) else {
            return Err(FieldError::new(
                format!("lines[{i}].order_line_id"),
                format!("the order has no line {}", r.order_line_id),
            ));
        };
        if !seen.insert(r.order_line_id) {
            return Err(FieldError::new(
                format!("lines[{i}].order_line_id"),
                format!("line {} is named more than once", r.order_line_id),
            ));
        }
        if r.quantity == 0 {
            return Err(FieldError::new(
                format!("lines[{i}].quantity"),
                "must be at least 1",
            ));
        }
        if r.quantity > line.remaining() {
            return Err(FieldError::new(
                format!("lines[{i}].quantity"),
                format!(
                    "line {} has {} left to fulfil ({} ordered, {} in earlier fulfilments), not {}",
                    r.order_line_id,
                    line.remaining(),
                    line.quantity,
                    line.taken,
                    r.quantity
                ),
            ));
        }
        out.push(planned(line, r.quantity));
    }
    Ok(out)
}

/// Longest carrier name and tracking number; longest tracking URL.
pub const MAX_TRACKING_TEXT: usize = 255;
pub const MAX_TRACKING_URL: usize = 2048;

/// A shipment's carrier and tracking, trimmed, blanks as absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tracking {
    pub carrier: Option<String>,
    pub number: Option<String>,
    pub url: Option<String>,
}

/// Checks and normalises tracking fields: each at most its length, without control characters
/// (channels refuse them and a carrier's site would not find the number), the URL absolute http(s).
pub fn check_tracking(
    carrier: Option<&str>,
    number: Option<&str>,
    url: Option<&str>,
) -> Result<Tracking, FieldError> {
    fn text(field: &str, value: Option<&str>, max: usize) -> Result<Option<String>, FieldError> {
        let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        if value.chars().count() > max || value.chars().any(char::is_control) {
            return Err(FieldError::new(
                field,
                format!("must be at most {max} characters without control characters"),
            ));
        }
        Ok(Some(value.to_owned()))
    }
    let url = text("tracking_url", url, MAX_TRACKING_URL)?;
    if let Some(u) = &url {
        let ok = url::Url::parse(u).is_ok_and(|p| matches!(p.scheme(), "http" | "https"));
        if !ok {
            return Err(FieldError::new(
                "tracking_url",
                "must be an absolute http(s) URL",
            ));
        }
    }
    Ok(Tracking {
        carrier: text("carrier", carrier, MAX_TRACKING_TEXT)?,
        number: text("tracking_number", number, MAX_TRACKING_TEXT)?,
        url,
    })
}

/// The order status its shipped quantities imply: `shipped` when every line is shipped in full,
/// `partially_shipped` when some units are. `ordered` and `shipped` are (channel line id,
/// quantity). A cancelled or refunded order keeps its status, and a status never moves back (the
/// channel may know of shipments switchyard did not make).
pub fn order_status_after(
    current: OrderStatus,
    ordered: &[(String, u32)],
    shipped: &[(String, u32)],
) -> OrderStatus {
    use OrderStatus::*;
    if matches!(current, Cancelled | Refunded | Shipped) {
        return current;
    }
    let mut by_line: HashMap<&str, u32> = HashMap::new();
    for (line, q) in shipped {
        let e = by_line.entry(line.as_str()).or_insert(0);
        *e = e.saturating_add(*q);
    }
    let any = by_line.values().any(|q| *q > 0);
    let all = ordered
        .iter()
        .all(|(line, q)| by_line.get(line.as_str()).copied().unwrap_or(0) >= *q);
    if any && all {
        Shipped
    } else if any {
        PartiallyShipped
    } else {
        current
    }
}

/// The status to store when the channel's copy of an order is imported again. A channel may
/// report less shipping than switchyard knows of: WooCommerce keeps a partly shipped order
/// `processing` (imported as `unshipped`) whatever trackings it holds. So the channel cannot move
/// an order back from `partially_shipped` or `shipped`, nor from `shipped` to
/// `partially_shipped`; a cancellation or refund on the channel always stands.
pub fn status_on_reimport(stored: OrderStatus, channel: OrderStatus) -> OrderStatus {
    use OrderStatus::*;
    match (stored, channel) {
        (PartiallyShipped | Shipped, Unshipped | Unpaid) => stored,
        (Shipped, PartiallyShipped) => Shipped,
        _ => channel,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderStatus::*;

    #[test]
    fn a_reimport_never_unships_an_order_but_a_cancellation_stands() {
        assert_eq!(
            status_on_reimport(PartiallyShipped, Unshipped),
            PartiallyShipped
        );
        assert_eq!(status_on_reimport(Shipped, Unshipped), Shipped);
        assert_eq!(status_on_reimport(Shipped, PartiallyShipped), Shipped);
        assert_eq!(status_on_reimport(PartiallyShipped, Shipped), Shipped);
        assert_eq!(
            status_on_reimport(Unshipped, PartiallyShipped),
            PartiallyShipped
        );
        assert_eq!(status_on_reimport(Shipped, Cancelled), Cancelled);
        assert_eq!(status_on_reimport(PartiallyShipped, Refunded), Refunded);
        assert_eq!(status_on_reimport(Unpaid, Unshipped), Unshipped);
    }

    fn ordered() -> Vec<OrderedLine> {
        vec![
            OrderedLine {
                order_line_id: 10,
                channel_line_id: "A".into(),
                sku: Some("SKU-A".into()),
                quantity: 2,
                taken: 0,
            },
            OrderedLine {
                order_line_id: 11,
                channel_line_id: "B".into(),
                sku: None,
                quantity: 3,
                taken: 1,
            },
        ]
    }

    fn req(order_line_id: i64, quantity: u32) -> RequestedLine {
        RequestedLine {
            order_line_id,
            quantity,
        }
    }

    fn field(r: Result<Vec<PlannedLine>, FieldError>) -> String {
        match r {
            Err(e) => e.field,
            Ok(p) => panic!("expected a refusal, got {p:?}"),
        }
    }

    #[test]
    fn no_lines_named_ships_everything_left() {
        let plan = plan_lines(Unshipped, &ordered(), None).unwrap_or_default();
        let got: Vec<(i64, u32)> = plan.iter().map(|p| (p.order_line_id, p.quantity)).collect();
        assert_eq!(got, vec![(10, 2), (11, 2)]);
        assert_eq!(plan[0].channel_line_id, "A");
    }

    #[test]
    fn named_lines_ship_within_what_is_left() {
        let plan =
            plan_lines(PartiallyShipped, &ordered(), Some(&[req(11, 2)])).unwrap_or_default();
        assert_eq!(plan.len(), 1);
        assert_eq!(
            (plan[0].channel_line_id.as_str(), plan[0].quantity),
            ("B", 2)
        );
    }

    #[test]
    fn each_refusal_names_its_field() {
        let lines = ordered();
        assert_eq!(field(plan_lines(Cancelled, &lines, None)), "order_id");
        assert_eq!(
            field(plan_lines(Refunded, &lines, Some(&[req(10, 1)]))),
            "order_id"
        );
        assert_eq!(field(plan_lines(Unshipped, &lines, Some(&[]))), "lines");
        assert_eq!(
            field(plan_lines(
                Unshipped,
                &lines,
                Some(&[req(10, 1), req(99, 1)])
            )),
            "lines[1].order_line_id"
        );
        assert_eq!(
            field(plan_lines(
                Unshipped,
                &lines,
                Some(&[req(10, 1), req(10, 1)])
            )),
            "lines[1].order_line_id"
        );
        assert_eq!(
            field(plan_lines(Unshipped, &lines, Some(&[req(10, 0)]))),
            "lines[0].quantity"
        );
        // Line B: 3 ordered, 1 taken by an earlier fulfilment, so 3 is one too many.
        assert_eq!(
            field(plan_lines(Unshipped, &lines, Some(&[req(11, 3)]))),
            "lines[0].quantity"
        );
        let done: Vec<OrderedLine> = lines
            .into_iter()
            .map(|l| OrderedLine {
                taken: l.quantity,
                ..l
            })
            .collect();
        assert_eq!(field(plan_lines(Unshipped, &done, None)), "lines");
    }

    #[test]
    fn tracking_is_trimmed_and_checked() {
        let t = check_tracking(
            Some(" UPS "),
            Some("1Z999"),
            Some("https://ups.example/1Z999"),
        );
        assert_eq!(
            t,
            Ok(Tracking {
                carrier: Some("UPS".into()),
                number: Some("1Z999".into()),
                url: Some("https://ups.example/1Z999".into()),
            })
        );
        assert_eq!(
            check_tracking(Some("  "), None, None),
            Ok(Tracking::default())
        );
        let bad_url = check_tracking(None, None, Some("javascript:alert(1)"));
        assert_eq!(bad_url.map_err(|e| e.field), Err("tracking_url".to_owned()));
        let long = "9".repeat(MAX_TRACKING_TEXT + 1);
        let too_long = check_tracking(None, Some(&long), None);
        assert_eq!(
            too_long.map_err(|e| e.field),
            Err("tracking_number".to_owned())
        );
        let control = check_tracking(Some("D\u{7}HL"), None, None);
        assert_eq!(control.map_err(|e| e.field), Err("carrier".to_owned()));
    }

    #[test]
    fn order_status_follows_shipped_quantities_and_never_goes_back() {
        let ordered = vec![("A".to_owned(), 2), ("B".to_owned(), 1)];
        let s = |current, shipped: &[(&str, u32)]| {
            let shipped: Vec<(String, u32)> =
                shipped.iter().map(|(l, q)| ((*l).to_owned(), *q)).collect();
            order_status_after(current, &ordered, &shipped)
        };
        assert_eq!(s(Unshipped, &[]), Unshipped);
        assert_eq!(s(Unshipped, &[("A", 1)]), PartiallyShipped);
        assert_eq!(s(Unshipped, &[("A", 2)]), PartiallyShipped);
        assert_eq!(s(Unshipped, &[("A", 1), ("B", 1), ("A", 1)]), Shipped);
        assert_eq!(s(PartiallyShipped, &[("A", 2), ("B", 1)]), Shipped);
        assert_eq!(s(Shipped, &[("A", 1)]), Shipped);
        assert_eq!(s(Cancelled, &[("A", 2), ("B", 1)]), Cancelled);
        assert_eq!(s(Unpaid, &[("B", 1)]), PartiallyShipped);
    }

    #[test]
    fn only_pending_and_sending_rows_are_pushed() {
        assert_eq!(push_step(FulfilmentStatus::Pending), PushStep::Push);
        assert_eq!(push_step(FulfilmentStatus::Sending), PushStep::Reconcile);
        assert_eq!(push_step(FulfilmentStatus::Synced), PushStep::Done);
        assert_eq!(push_step(FulfilmentStatus::Failed), PushStep::Done);
    }
}
