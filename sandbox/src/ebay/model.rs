//! eBay's shapes: order ids as `12-34567-89012`, timestamps as `2024-07-01T10:00:00.000Z`, money
//! as `{value, currency}` with a decimal string, and an order as the Fulfillment API's `Order`.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::generator::Address;
use crate::money::format_cents;
use crate::orderbook::Keyed;

/// The first order number handed out: renders as `12-34567-89012`.
pub const FIRST_ORDER_ID: u64 = 12_34567_89012;

/// `123456789012` -> `12-34567-89012`.
pub fn order_id(id: u64) -> String {
    let digits = format!("{id:012}");
    format!("{}-{}-{}", &digits[..2], &digits[2..7], &digits[7..])
}

/// The inverse of [`order_id`]; `None` for anything not shaped `NN-NNNNN-NNNNN`.
pub fn parse_order_id(text: &str) -> Option<u64> {
    let parts: Vec<&str> = text.split('-').collect();
    let shaped = parts.len() == 3
        && [2, 5, 5]
            .iter()
            .zip(&parts)
            .all(|(len, p)| p.len() == *len && p.bytes().all(|b| b.is_ascii_digit()));
    if !shaped {
        return None;
    }
    parts.concat().parse().ok()
}

/// `2024-07-01T10:00:00.000Z`.
pub fn timestamp(ts: DateTime<Utc>) -> String {
    ts.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

pub fn amount(cents: i64, currency: &str) -> Value {
    json!({ "value": format_cents(cents), "currency": currency })
}

/// How far shipping has gone: of a line, or of the whole order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    NotStarted,
    InProgress,
    Fulfilled,
}

impl Progress {
    pub fn of(shipped: u32, ordered: u32) -> Progress {
        match shipped {
            0 => Progress::NotStarted,
            s if s >= ordered => Progress::Fulfilled,
            _ => Progress::InProgress,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Progress::NotStarted => "NOT_STARTED",
            Progress::InProgress => "IN_PROGRESS",
            Progress::Fulfilled => "FULFILLED",
        }
    }

    pub fn parse(text: &str) -> Option<Progress> {
        match text {
            "NOT_STARTED" => Some(Progress::NotStarted),
            "IN_PROGRESS" => Some(Progress::InProgress),
            "FULFILLED" => Some(Progress::Fulfilled),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct LineItem {
    pub line_item_id: String,
    pub legacy_item_id: String,
    pub sku: String,
    pub title: String,
    pub quantity: u32,
    pub unit_cents: i64,
    pub discount_cents: i64,
    pub tax_cents: i64,
    pub shipped: u32,
}

impl LineItem {
    pub fn cost_cents(&self) -> i64 {
        self.unit_cents * i64::from(self.quantity)
    }

    pub fn remaining(&self) -> u32 {
        self.quantity.saturating_sub(self.shipped)
    }
}

/// A shipment recorded by `createShippingFulfillment` (or made by the generator). Its id is its
/// tracking number, as eBay makes it; one without tracking gets an arbitrary number.
#[derive(Debug, Clone)]
pub struct Shipment {
    pub fulfillment_id: String,
    /// `(lineItemId, quantity)`.
    pub lines: Vec<(String, u32)>,
    /// The carrier and tracking number, given together or not at all.
    pub tracking: Option<Tracking>,
    pub shipped_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Tracking {
    pub carrier: String,
    pub number: String,
}

impl Shipment {
    pub fn to_json(&self) -> Value {
        let mut shipment = json!({
            "fulfillmentId": self.fulfillment_id,
            "lineItems": self.lines.iter()
                .map(|(id, qty)| json!({"lineItemId": id, "quantity": qty}))
                .collect::<Vec<_>>(),
            "shippedDate": timestamp(self.shipped_at),
        });
        // eBay returns these "if available": a shipment marked without tracking has neither.
        if let Some(tracking) = &self.tracking {
            shipment["shipmentTrackingNumber"] = json!(tracking.number);
            shipment["shippingCarrierCode"] = json!(tracking.carrier);
        }
        shipment
    }
}

#[derive(Debug, Clone)]
pub struct Order {
    pub id: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
    /// When the seller refunded the whole order (Seller Hub or `issueRefund`).
    pub refunded_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub currency: String,
    pub marketplace_id: String,
    pub buyer_username: String,
    pub email: String,
    pub ship_to: Address,
    pub lines: Vec<LineItem>,
    pub delivery_cents: i64,
    pub checkout_notes: Option<String>,
    pub shipments: Vec<Shipment>,
}

impl Keyed for Order {
    fn id(&self) -> u64 {
        self.id
    }

    fn updated_ts(&self) -> i64 {
        self.updated_at.timestamp()
    }
}

impl Order {
    pub fn order_id(&self) -> String {
        order_id(self.id)
    }

    pub fn progress(&self) -> Progress {
        let shipped = self.lines.iter().map(|l| l.shipped.min(l.quantity)).sum();
        let ordered = self.lines.iter().map(|l| l.quantity).sum();
        Progress::of(shipped, ordered)
    }

    pub fn subtotal_cents(&self) -> i64 {
        self.lines.iter().map(LineItem::cost_cents).sum()
    }

    pub fn discount_cents(&self) -> i64 {
        self.lines.iter().map(|l| l.discount_cents).sum()
    }

    pub fn tax_cents(&self) -> i64 {
        self.lines.iter().map(|l| l.tax_cents).sum()
    }

    pub fn total_cents(&self) -> i64 {
        self.subtotal_cents() - self.discount_cents() + self.delivery_cents + self.tax_cents()
    }

    /// `orderPaymentStatus`: `PENDING` until paid, `FULLY_REFUNDED` once refunded.
    fn payment_status(&self) -> &'static str {
        match (self.paid_at, self.refunded_at) {
            (_, Some(_)) => "FULLY_REFUNDED",
            (Some(_), None) => "PAID",
            (None, None) => "PENDING",
        }
    }

    /// `paymentSummary`: the buyer's payment (dated once made) and any refund of it.
    fn payment_summary(&self) -> Value {
        let currency = self.currency.as_str();
        let mut payment = json!({
            "paymentMethod": "EBAY",
            "paymentStatus": if self.paid_at.is_some() { "PAID" } else { "PENDING" },
            "amount": amount(self.total_cents(), currency),
        });
        if let Some(at) = self.paid_at {
            payment["paymentDate"] = json!(timestamp(at));
            payment["paymentReferenceId"] = json!(format!("{}P", self.id));
        }
        let refunds: Vec<Value> = self
            .refunded_at
            .iter()
            .map(|at| {
                json!({
                    "refundId": format!("{}R", self.id),
                    "refundStatus": "REFUNDED",
                    "refundDate": timestamp(*at),
                    "amount": amount(self.total_cents(), currency),
                })
            })
            .collect();
        let due = if self.refunded_at.is_some() {
            0
        } else {
            self.total_cents()
        };
        json!({
            "totalDueSeller": amount(due, currency),
            "refunds": refunds,
            "payments": [payment],
        })
    }

    /// The Fulfillment API's `Order`; `base_url` makes `fulfillmentHrefs` absolute.
    pub fn to_json(&self, base_url: &str, seller: &str) -> Value {
        let currency = self.currency.as_str();
        let address = &self.ship_to;
        let contact_address = json!({
            "addressLine1": address.address1,
            "city": address.city,
            "stateOrProvince": address.province,
            "postalCode": address.zip,
            "countryCode": address.country_code,
        });
        let full_name = format!("{} {}", address.first_name, address.last_name);
        let cancel_status = match self.cancelled_at {
            Some(at) => json!({
                "cancelState": "CANCELED",
                "cancelledDate": timestamp(at),
                "cancelRequests": [],
            }),
            None => json!({ "cancelState": "NONE_REQUESTED", "cancelRequests": [] }),
        };
        let line_items: Vec<Value> = self
            .lines
            .iter()
            .map(|l| {
                let net = l.cost_cents() - l.discount_cents;
                let mut item = json!({
                    "lineItemId": l.line_item_id,
                    "legacyItemId": l.legacy_item_id,
                    "sku": l.sku,
                    "title": l.title,
                    "quantity": l.quantity,
                    "soldFormat": "FIXED_PRICE",
                    "lineItemCost": amount(l.cost_cents(), currency),
                    "total": amount(net + l.tax_cents, currency),
                    "taxes": if l.tax_cents > 0 {
                        json!([{ "amount": amount(l.tax_cents, currency), "taxType": "VAT" }])
                    } else {
                        json!([])
                    },
                    "appliedPromotions": [],
                    "refunds": [],
                    "lineItemFulfillmentStatus":
                        Progress::of(l.shipped, l.quantity).as_str(),
                    "listingMarketplaceId": self.marketplace_id,
                    "purchaseMarketplaceId": self.marketplace_id,
                });
                if l.discount_cents > 0 {
                    item["discountedLineItemCost"] = amount(net, currency);
                }
                item
            })
            .collect();
        let mut pricing = json!({
            "priceSubtotal": amount(self.subtotal_cents(), currency),
            "deliveryCost": amount(self.delivery_cents, currency),
            "total": amount(self.total_cents(), currency),
        });
        if self.discount_cents() > 0 {
            pricing["priceDiscount"] = amount(-self.discount_cents(), currency);
        }
        if self.tax_cents() > 0 {
            pricing["tax"] = amount(self.tax_cents(), currency);
        }
        let order_id = self.order_id();
        let mut order = json!({
            "orderId": order_id,
            "legacyOrderId": format!("{}-{}", self.id % 1_000_000_000_000, self.id / 7),
            "creationDate": timestamp(self.created_at),
            "lastModifiedDate": timestamp(self.updated_at),
            "orderFulfillmentStatus": self.progress().as_str(),
            "orderPaymentStatus": self.payment_status(),
            "sellerId": seller,
            "buyer": {
                "username": self.buyer_username,
                "buyerRegistrationAddress": {
                    "fullName": full_name,
                    "contactAddress": contact_address,
                    "primaryPhone": { "phoneNumber": address.phone },
                    "email": self.email,
                },
            },
            "pricingSummary": pricing,
            "cancelStatus": cancel_status,
            "paymentSummary": self.payment_summary(),
            "fulfillmentStartInstructions": [{
                "fulfillmentInstructionsType": "SHIP_TO",
                "ebaySupportedFulfillment": false,
                "shippingStep": {
                    "shippingCarrierCode": "Royal Mail",
                    "shippingServiceCode": "UK_RoyalMailSecondClassStandard",
                    "shipTo": {
                        "fullName": full_name,
                        "contactAddress": contact_address,
                        "primaryPhone": { "phoneNumber": address.phone },
                        "email": self.email,
                    },
                },
            }],
            "fulfillmentHrefs": self.shipments.iter()
                .map(|s| format!(
                    "{base_url}/sell/fulfillment/v1/order/{order_id}/shipping_fulfillment/{}",
                    s.fulfillment_id
                ))
                .collect::<Vec<_>>(),
            "lineItems": line_items,
        });
        if let Some(notes) = &self.checkout_notes {
            order["buyerCheckoutNotes"] = json!(notes);
        }
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_ids_round_trip_and_progress_follows_shipping() {
        assert_eq!(order_id(FIRST_ORDER_ID), "12-34567-89012");
        assert_eq!(parse_order_id("12-34567-89012"), Some(FIRST_ORDER_ID));
        assert_eq!(parse_order_id("12-3456-789012"), None);
        assert_eq!(parse_order_id("123456789012"), None);
        assert_eq!(Progress::of(0, 3), Progress::NotStarted);
        assert_eq!(Progress::of(1, 3), Progress::InProgress);
        assert_eq!(Progress::of(3, 3), Progress::Fulfilled);
        let ts = DateTime::from_timestamp(1_719_828_000, 0).unwrap_or_default();
        assert_eq!(timestamp(ts), "2024-07-01T10:00:00.000Z");
    }
}
