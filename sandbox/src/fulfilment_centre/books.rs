//! The centre's books: every order it was sent, once, keyed by switchyard's order id. A resend
//! of an order it already has is an update of that order (new lines, a cancellation), never a
//! second order; a retried delivery (same `webhook-id`) changes nothing at all.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;
use serde_json::Value;

/// A line of an order as the centre picks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BookedLine {
    /// switchyard's order line id, which the fulfilment callback names.
    pub line_id: i64,
    pub sku: Option<String>,
    pub quantity: u64,
}

/// Where an order is in the centre.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BookedState {
    /// Received, to be shipped.
    Open,
    /// The channel cancelled it (or refunded it) before it shipped: it will not ship.
    Cancelled,
    /// Shipped; the fulfilment callback was made (or is being made).
    Shipped,
}

/// One order in the books.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BookedOrder {
    pub order_id: i64,
    /// The centre's own reference, answered on every receipt of this order.
    pub reference: String,
    pub state: BookedState,
    pub lines: Vec<BookedLine>,
    /// How many distinct deliveries of this order arrived (1 = never updated).
    pub versions: u32,
    /// The order as last received.
    pub order: Value,
    /// The `type` of the last delivery received (`order.created`, `order.updated`,
    /// `order.cancelled`).
    pub last_type: String,
    pub tracking_number: Option<String>,
}

/// What a receipt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub reference: String,
    /// The order was new to the books.
    pub created: bool,
    /// The delivery was one already received (same `webhook-id`): nothing changed.
    pub duplicate: bool,
}

/// Why a body was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadOrder(pub String);

/// The books.
#[derive(Debug, Default)]
pub struct Books {
    orders: BTreeMap<i64, BookedOrder>,
    deliveries: HashSet<String>,
    next_reference: u64,
}

fn lines_of(order: &Value) -> Result<Vec<BookedLine>, BadOrder> {
    let Some(lines) = order["lines"].as_array() else {
        return Err(BadOrder("`order.lines` must be an array".into()));
    };
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            Ok(BookedLine {
                line_id: l["id"]
                    .as_i64()
                    .ok_or_else(|| BadOrder(format!("`order.lines[{i}].id` must be an integer")))?,
                sku: l["sku"].as_str().map(str::to_owned),
                quantity: l["quantity"].as_u64().ok_or_else(|| {
                    BadOrder(format!("`order.lines[{i}].quantity` must be an integer"))
                })?,
            })
        })
        .collect()
}

/// True when the channel status says the order must not ship.
fn withdrawn(order: &Value) -> bool {
    matches!(order["status"].as_str(), Some("cancelled" | "refunded"))
}

fn message_type(body: &Value) -> String {
    body["type"].as_str().unwrap_or_default().to_owned()
}

impl Books {
    /// Takes a delivery (`body` is the request body: `{"type", "order": {...}}`) identified by
    /// `delivery_id` (its `webhook-id`).
    pub fn receive(&mut self, delivery_id: &str, body: &Value) -> Result<Receipt, BadOrder> {
        let order = &body["order"];
        let order_id = order["id"]
            .as_i64()
            .ok_or_else(|| BadOrder("`order.id` must be an integer".into()))?;
        let lines = lines_of(order)?;
        let duplicate = !self.deliveries.insert(delivery_id.to_owned());
        if let Some(booked) = self.orders.get_mut(&order_id) {
            if !duplicate {
                booked.versions += 1;
                booked.order = order.clone();
                booked.last_type = message_type(body);
                if booked.state == BookedState::Open {
                    booked.lines = lines;
                    if withdrawn(order) {
                        booked.state = BookedState::Cancelled;
                    }
                }
            }
            return Ok(Receipt {
                reference: booked.reference.clone(),
                created: false,
                duplicate,
            });
        }
        self.next_reference += 1;
        let reference = format!("FC-{:06}", self.next_reference);
        self.orders.insert(
            order_id,
            BookedOrder {
                order_id,
                reference: reference.clone(),
                state: if withdrawn(order) {
                    BookedState::Cancelled
                } else {
                    BookedState::Open
                },
                lines,
                versions: 1,
                order: order.clone(),
                last_type: message_type(body),
                tracking_number: None,
            },
        );
        Ok(Receipt {
            reference,
            created: true,
            duplicate: false,
        })
    }

    /// Marks an open order shipped with `tracking_number`; returns it as shipped, or `None`
    /// when it is not open (unknown, cancelled, already shipped).
    pub fn ship(&mut self, order_id: i64, tracking_number: &str) -> Option<BookedOrder> {
        let booked = self.orders.get_mut(&order_id)?;
        if booked.state != BookedState::Open {
            return None;
        }
        booked.state = BookedState::Shipped;
        booked.tracking_number = Some(tracking_number.to_owned());
        Some(booked.clone())
    }

    pub fn get(&self, order_id: i64) -> Option<BookedOrder> {
        self.orders.get(&order_id).cloned()
    }

    /// Every order, by order id.
    pub fn all(&self) -> Vec<BookedOrder> {
        self.orders.values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(id: i64, status: &str, qty: u64) -> Value {
        json!({"type": "order.created", "order": {
            "id": id, "status": status,
            "lines": [{"id": id * 10, "sku": "MS-1", "quantity": qty}]
        }})
    }

    #[test]
    fn an_order_is_booked_once_and_a_resend_updates_it() {
        let mut books = Books::default();
        let first = books.receive("msg_1", &body(7, "unshipped", 1));
        assert_eq!(
            first,
            Ok(Receipt {
                reference: "FC-000001".into(),
                created: true,
                duplicate: false
            })
        );
        let again = books.receive("msg_2", &body(7, "unshipped", 3));
        assert_eq!(
            again.map(|r| (r.reference, r.created)),
            Ok(("FC-000001".into(), false))
        );
        let booked = books.get(7).unwrap_or_else(|| panic!("booked"));
        assert_eq!(booked.versions, 2);
        assert_eq!(booked.lines[0].quantity, 3, "the update's lines");
        assert_eq!(books.all().len(), 1);
        let other = books.receive("msg_3", &body(8, "unshipped", 1));
        assert_eq!(other.map(|r| r.reference), Ok("FC-000002".into()));
    }

    #[test]
    fn a_retried_delivery_changes_nothing() {
        let mut books = Books::default();
        assert!(books.receive("msg_1", &body(7, "unshipped", 1)).is_ok());
        let retry = books.receive("msg_1", &body(7, "unshipped", 1));
        assert_eq!(retry.map(|r| r.duplicate), Ok(true));
        assert_eq!(books.get(7).map(|b| b.versions), Some(1));
    }

    #[test]
    fn a_cancelled_order_does_not_ship_and_a_shipped_one_ships_once() {
        let mut books = Books::default();
        assert!(books.receive("a", &body(7, "unshipped", 1)).is_ok());
        assert!(books.receive("b", &body(7, "cancelled", 1)).is_ok());
        assert_eq!(books.get(7).map(|b| b.state), Some(BookedState::Cancelled));
        assert_eq!(books.ship(7, "T1"), None);
        assert!(books.receive("c", &body(8, "unshipped", 2)).is_ok());
        let shipped = books.ship(8, "T2");
        assert_eq!(shipped.map(|b| b.state), Some(BookedState::Shipped));
        assert_eq!(books.ship(8, "T3"), None, "ships once");
        assert!(books.receive("d", &body(8, "cancelled", 2)).is_ok());
        assert_eq!(
            books.get(8).map(|b| b.state),
            Some(BookedState::Shipped),
            "too late to cancel"
        );
    }

    #[test]
    fn malformed_orders_are_refused() {
        let mut books = Books::default();
        assert!(books
            .receive("a", &json!({"order": {"lines": []}}))
            .is_err());
        assert!(books
            .receive(
                "b",
                &json!({"order": {"id": 1, "lines": [{"id": "x", "quantity": 1}]}})
            )
            .is_err());
        assert!(books.receive("c", &json!({"order": {"id": 1}})).is_err());
        assert!(books.all().is_empty());
    }
}
