//! A shipment as it is recorded on a sales channel: the request a connector sends and what the
//! channel answers.

use serde::{Deserialize, Serialize};

/// A line to ship: which channel line, and how many of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FulfilmentLine {
    pub channel_line_id: String,
    pub quantity: u32,
}

/// A shipment to record on the channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FulfilmentRequest {
    pub channel_order_id: String,
    /// Empty ships everything still unshipped.
    pub lines: Vec<FulfilmentLine>,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub tracking_url: Option<String>,
}

/// What the channel recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FulfilmentReceipt {
    pub channel_fulfilment_id: String,
}

impl FulfilmentRequest {
    /// True when a shipment the channel holds, with `tracking_number` and `lines` (channel line
    /// id and quantity), is the one this request describes: the same tracking number (or none on
    /// both) and the same lines in the same quantities. With no lines named (ship everything)
    /// only the tracking number can identify it, and a request naming neither identifies nothing.
    pub fn is_recorded_as(&self, tracking_number: Option<&str>, lines: &[(String, u32)]) -> bool {
        fn trimmed(n: Option<&str>) -> Option<&str> {
            n.map(str::trim).filter(|n| !n.is_empty())
        }
        let wanted_number = trimmed(self.tracking_number.as_deref());
        if trimmed(tracking_number) != wanted_number {
            return false;
        }
        let mut wanted: Vec<(&str, u32)> = self
            .lines
            .iter()
            .map(|l| (l.channel_line_id.trim(), l.quantity))
            .collect();
        if wanted.is_empty() {
            return wanted_number.is_some();
        }
        let mut got: Vec<(&str, u32)> = lines.iter().map(|(id, q)| (id.trim(), *q)).collect();
        wanted.sort_unstable();
        got.sort_unstable();
        got == wanted
    }
}

#[cfg(test)]
impl FulfilmentRequest {
    /// A request for order "1" with tracking number `number` and `lines` (channel line id,
    /// quantity), for tests.
    pub(crate) fn for_test(number: Option<&str>, lines: &[(&str, u32)]) -> FulfilmentRequest {
        FulfilmentRequest {
            channel_order_id: "1".into(),
            lines: lines
                .iter()
                .map(|&(id, quantity)| FulfilmentLine {
                    channel_line_id: id.into(),
                    quantity,
                })
                .collect(),
            carrier: None,
            tracking_number: number.map(str::to_owned),
            tracking_url: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(lines: &[(&str, u32)]) -> Vec<(String, u32)> {
        lines.iter().map(|&(id, q)| (id.to_owned(), q)).collect()
    }

    #[test]
    fn a_shipment_is_recognised_by_tracking_number_and_lines() {
        let two = held(&[("101", 2), ("100", 1)]);
        let wanted = FulfilmentRequest::for_test(Some("T2"), &[("100", 1), ("101", 2)]);
        assert!(wanted.is_recorded_as(Some(" T2 "), &two), "order of lines");
        assert!(!wanted.is_recorded_as(Some("T9"), &two), "other number");
        assert!(!wanted.is_recorded_as(None, &two), "no number");
        assert!(
            !wanted.is_recorded_as(Some("T2"), &held(&[("100", 1), ("101", 1)])),
            "other quantity"
        );
        assert!(
            !wanted.is_recorded_as(Some("T2"), &held(&[("100", 1)])),
            "part of it"
        );
        let untracked = FulfilmentRequest::for_test(None, &[("102", 1)]);
        assert!(untracked.is_recorded_as(Some(""), &held(&[("102", 1)])));
        assert!(FulfilmentRequest::for_test(Some("T1"), &[])
            .is_recorded_as(Some("T1"), &held(&[("100", 4)])));
        assert!(
            !FulfilmentRequest::for_test(None, &[]).is_recorded_as(None, &held(&[("100", 4)])),
            "nothing to identify it by"
        );
    }
}
