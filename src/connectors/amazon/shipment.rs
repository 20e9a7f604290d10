//! Shipment confirmations (`confirmShipment`): one package per fulfilment, with its carrier,
//! tracking number, and order items and quantities.
//!
//! Amazon shows no packages back (Orders v0 has no call that lists them), so a confirmation whose
//! answer was lost cannot be looked up. Two things keep it from being made twice instead:
//!
//! - The package's `packageReferenceId` is made from its tracking number, so sending the same
//!   shipment again names the same package, and Amazon takes a confirmation of a package it
//!   already has as an edit of it ("if you need to make an edit to the shipment, submit another
//!   confirmShipment operation with the same packageReferenceID"), shipping nothing twice.
//! - [`already_confirmed`] reads the order items' shipped quantities: when a line has less left
//!   to ship than the package holds, Amazon already holds it, and it is adopted rather than sent.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::wire;
use crate::connectors::error::ConnectorError;
use crate::domain::FulfilmentRequest;

/// Carriers as Amazon's carrier code list spells them; any other goes as `Other`, named in
/// `carrierName`.
const CARRIER_CODES: &[&str] = &[
    "UPS",
    "USPS",
    "FedEx",
    "DHL",
    "Royal Mail",
    "DPD",
    "Canada Post",
    "Australia Post",
    "Deutsche Post",
];

/// Package references run from 1 to this: "only positive numeric values are supported".
const MAX_REFERENCE: u64 = 999_999_999;

/// The request's tracking number and carrier, which every package confirmation carries.
pub struct Labelled<'a> {
    pub tracking_number: &'a str,
    pub carrier: &'a str,
}

/// The tracking number and carrier of `request`; Amazon requires both.
pub fn labelled(request: &FulfilmentRequest) -> Result<Labelled<'_>, ConnectorError> {
    fn text(value: &Option<String>) -> Option<&str> {
        value.as_deref().map(str::trim).filter(|t| !t.is_empty())
    }
    let missing = |what: &str| ConnectorError::Rejected {
        status: 422,
        message: format!("Amazon confirms a shipment only with its {what}"),
    };
    Ok(Labelled {
        tracking_number: text(&request.tracking_number)
            .ok_or_else(|| missing("tracking number"))?,
        carrier: text(&request.carrier).ok_or_else(|| missing("carrier"))?,
    })
}

/// The package's `packageReferenceId`: a number from 1 to 999,999,999 made from its tracking
/// number, the same each time the shipment is sent.
pub fn package_reference(tracking_number: &str) -> String {
    let digest = Sha256::digest(tracking_number.as_bytes());
    let mut head = [0u8; 8];
    head.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(head) % MAX_REFERENCE + 1).to_string()
}

/// `carrierCode` (Amazon's spelling, or `Other`) for a carrier as switchyard was told it.
fn carrier_code(carrier: &str) -> &'static str {
    CARRIER_CODES
        .iter()
        .find(|code| code.eq_ignore_ascii_case(carrier))
        .copied()
        .unwrap_or("Other")
}

/// The requested lines as `(orderItemId, quantity)`, each item once.
fn requested(request: &FulfilmentRequest) -> Vec<(String, u32)> {
    let mut lines: Vec<(String, u32)> = Vec::new();
    for line in &request.lines {
        let id = line.channel_line_id.trim();
        match lines.iter_mut().find(|(known, _)| known == id) {
            Some((_, quantity)) => *quantity += line.quantity,
            None => lines.push((id.to_owned(), line.quantity)),
        }
    }
    lines
}

fn left(item: &wire::OrderItem) -> u32 {
    item.quantity_ordered.saturating_sub(item.quantity_shipped)
}

/// What the package holds: the requested lines, or with none named every item's quantity left
/// to ship (read from `items`).
pub fn contents(
    request: &FulfilmentRequest,
    items: &[wire::OrderItem],
) -> Result<Vec<(String, u32)>, ConnectorError> {
    if !request.lines.is_empty() {
        return Ok(requested(request));
    }
    let contents: Vec<(String, u32)> = items
        .iter()
        .filter(|i| left(i) > 0)
        .map(|i| (i.order_item_id.clone(), left(i)))
        .collect();
    if contents.is_empty() {
        return Err(ConnectorError::Rejected {
            status: 422,
            message: format!(
                "order {} has nothing left to ship",
                request.channel_order_id
            ),
        });
    }
    Ok(contents)
}

/// The `confirmShipment` body of one package.
pub fn confirmation(
    marketplace_id: &str,
    label: &Labelled<'_>,
    contents: &[(String, u32)],
    shipped_at: DateTime<Utc>,
) -> Value {
    let items: Vec<Value> = contents
        .iter()
        .map(|(id, quantity)| json!({"orderItemId": id, "quantity": quantity}))
        .collect();
    json!({
        "marketplaceId": marketplace_id,
        "packageDetail": {
            "packageReferenceId": package_reference(label.tracking_number),
            "carrierCode": carrier_code(label.carrier),
            "carrierName": label.carrier,
            "trackingNumber": label.tracking_number,
            "shipDate": shipped_at.to_rfc3339_opts(SecondsFormat::Secs, true),
            "orderItems": items,
        }
    })
}

/// Whether the order's items show the package `request` describes already confirmed: with lines
/// named, each has less left to ship than the package holds of it (so Amazon would refuse it as
/// new); with none, nothing is left to ship. Otherwise sending it is safe: it ships what is
/// left, or edits the package Amazon has under the same reference.
pub fn already_confirmed(request: &FulfilmentRequest, items: &[wire::OrderItem]) -> bool {
    if request.lines.is_empty() {
        return !items.is_empty() && items.iter().all(|i| left(i) == 0);
    }
    requested(request).iter().all(|(id, quantity)| {
        items
            .iter()
            .find(|i| i.order_item_id == *id)
            .is_some_and(|i| left(i) < *quantity)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::FulfilmentLine;

    fn request(lines: &[(&str, u32)]) -> FulfilmentRequest {
        FulfilmentRequest {
            channel_order_id: "202-0000001-0000001".into(),
            lines: lines
                .iter()
                .map(|&(id, quantity)| FulfilmentLine {
                    channel_line_id: id.into(),
                    quantity,
                })
                .collect(),
            carrier: Some("royal mail".into()),
            tracking_number: Some(" RM123456785GB ".into()),
            tracking_url: None,
        }
    }

    fn item(id: &str, ordered: u32, shipped: u32) -> wire::OrderItem {
        serde_json::from_value(json!({
            "ASIN": "B0", "OrderItemId": id, "QuantityOrdered": ordered, "QuantityShipped": shipped
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_package_is_named_by_its_tracking_number() {
        let reference = package_reference("RM123456785GB");
        assert_eq!(reference, package_reference("RM123456785GB"));
        assert_ne!(reference, package_reference("RM123456786GB"));
        let number: u64 = reference.parse().unwrap_or(0);
        assert!((1..=MAX_REFERENCE).contains(&number), "{reference}");
    }

    #[test]
    fn the_body_carries_amazons_carrier_code_or_other() {
        let req = request(&[("1", 1), ("2", 2), ("1", 1)]);
        let label = labelled(&req).unwrap_or_else(|e| panic!("{e}"));
        let body = confirmation("A1F83G8C2ARO7P", &label, &requested(&req), Utc::now());
        let detail = &body["packageDetail"];
        assert_eq!(detail["carrierCode"], "Royal Mail");
        assert_eq!(detail["carrierName"], "royal mail");
        assert_eq!(detail["trackingNumber"], "RM123456785GB");
        assert_eq!(
            detail["orderItems"],
            json!([{"orderItemId": "1", "quantity": 2}, {"orderItemId": "2", "quantity": 2}])
        );
        assert_eq!(carrier_code("Yodel"), "Other");
        let unlabelled = FulfilmentRequest {
            tracking_number: None,
            ..request(&[])
        };
        assert!(matches!(
            labelled(&unlabelled),
            Err(ConnectorError::Rejected { message, .. }) if message.contains("tracking number")
        ));
    }

    #[test]
    fn with_no_lines_named_the_package_holds_what_is_left() {
        let items = [item("1", 2, 1), item("2", 1, 1), item("3", 3, 0)];
        let contents = contents(&request(&[]), &items).unwrap_or_default();
        assert_eq!(contents, vec![("1".into(), 1), ("3".into(), 3)]);
        let shipped = [item("1", 2, 2)];
        assert!(matches!(
            super::contents(&request(&[]), &shipped),
            Err(ConnectorError::Rejected { .. })
        ));
    }

    #[test]
    fn a_package_is_adopted_only_when_amazon_has_too_little_left_to_take_it_anew() {
        let req = request(&[("1", 1), ("2", 2)]);
        assert!(already_confirmed(&req, &[item("1", 1, 1), item("2", 3, 2)]));
        assert!(
            !already_confirmed(&req, &[item("1", 1, 1), item("2", 3, 1)]),
            "item 2 could take the package: send it (an edit if Amazon has it)"
        );
        assert!(
            !already_confirmed(&req, &[item("1", 1, 1)]),
            "an item unknown"
        );
        assert!(already_confirmed(&request(&[]), &[item("1", 2, 2)]));
        assert!(!already_confirmed(&request(&[]), &[item("1", 2, 1)]));
        assert!(!already_confirmed(&request(&[]), &[]));
    }
}
