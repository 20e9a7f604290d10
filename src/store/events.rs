//! The event catalogue: every event switchyard publishes, each carrying its entity exactly as the
//! API shows it (the same row types `GET /v1/orders/{id}`, `GET /v1/products/{id}`,
//! `GET /v1/channels/{id}/products`, `GET /v1/fulfilments/{id}`, `GET /v1/invoices/{id}` and
//! `GET /v1/channels/{id}/stock/drift` answer with, read back in
//! the transaction that changed them), and written to the outbox in that transaction, so an
//! event exists if and only if its change committed (DESIGN.md "Data flow and the outbox").
//!
//! In the outbox, and on the Redis events stream the relay copies it to, an event is
//! `{"type", "store_id", "<entity>_id", "data"}`; the relay fans it out to webhooks by `type`
//! and `store_id`, and a webhook delivers `{"type", "timestamp", "data"}`.

use serde::Serialize;
use serde_json::{json, Map, Value};
use sqlx::PgConnection;

use super::channel_products::ChannelProductRow;
use super::fulfilments::Fulfilment;
use super::hosted_pages::HostedPageRow;
use super::import_state::ImportHealth;
use super::invoices::InvoiceRow;
use super::orders::StoredOrder;
use super::outbox::{self, OutboxItem};
use super::products::ProductRow;
use super::stock_drift::DriftCorrection;
use super::StoreError;
use crate::domain::event_type::{Action, Entity, EventType, WEBHOOK_TEST};

/// One event, with the entity it is about.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    Order(Action, &'a StoredOrder),
    Product(Action, &'a ProductRow),
    ChannelProduct(Action, &'a ChannelProductRow),
    Fulfilment(Action, &'a Fulfilment),
    /// `invoice.created` when it is made, `invoice.updated` when its status changes
    /// (`sending`, `synced`, `failed`).
    Invoice(Action, &'a InvoiceRow),
    /// `hosted_page.completed` when a customer connects a channel through it.
    HostedPage(Action, &'a HostedPageRow),
    /// `stock_drift.corrected` when a reconciliation set a channel's figure for a listing back.
    StockDrift(Action, &'a DriftCorrection),
    /// `channel.breaker_opened` / `channel.breaker_closed`: the channel of store `store_id`
    /// whose import breaker moved, with its import health after the move.
    Channel(Action, i64, &'a ImportHealth),
    /// `webhook.test`: sent to one webhook on request, whatever its triggers; never in the
    /// outbox.
    WebhookTest {
        store_id: i64,
        webhook_id: i64,
    },
}

/// What a test send carries under `data`.
#[derive(Serialize)]
struct TestData {
    webhook_id: i64,
    message: &'static str,
}

fn data<T: Serialize>(entity: &T) -> Result<Value, StoreError> {
    serde_json::to_value(entity)
        .map_err(|e| StoreError::Corrupt(format!("event data does not serialise: {e}")))
}

impl Event<'_> {
    /// The event's type; `None` for a test send, which is no trigger.
    pub fn event_type(&self) -> Option<EventType> {
        let (entity, action) = match *self {
            Event::Order(a, _) => (Entity::Order, a),
            Event::Product(a, _) => (Entity::Product, a),
            Event::ChannelProduct(a, _) => (Entity::ChannelProduct, a),
            Event::Fulfilment(a, _) => (Entity::Fulfilment, a),
            Event::Invoice(a, _) => (Entity::Invoice, a),
            Event::HostedPage(a, _) => (Entity::HostedPage, a),
            Event::StockDrift(a, _) => (Entity::StockDrift, a),
            Event::Channel(a, _, _) => (Entity::Channel, a),
            Event::WebhookTest { .. } => return None,
        };
        Some(EventType::new(entity, action))
    }

    /// `order.created`, ..., `webhook.test`.
    pub fn name(&self) -> &'static str {
        self.event_type().map_or(WEBHOOK_TEST, EventType::name)
    }

    /// `{"type", "store_id", "<entity>_id", "data"}`.
    pub fn payload(&self) -> Result<Value, StoreError> {
        let (store_id, entity, id, data) = match *self {
            Event::Order(_, o) => (o.order.store_id, Entity::Order, o.order.id, data(o)?),
            Event::Product(_, p) => (p.store_id, Entity::Product, p.id, data(p)?),
            Event::ChannelProduct(_, l) => (l.store_id, Entity::ChannelProduct, l.id, data(l)?),
            Event::Fulfilment(_, f) => (f.store_id, Entity::Fulfilment, f.id, data(f)?),
            Event::Invoice(_, i) => (i.store_id, Entity::Invoice, i.id, data(i)?),
            Event::HostedPage(_, p) => (p.store_id, Entity::HostedPage, p.id, data(p)?),
            Event::StockDrift(_, d) => (d.store_id, Entity::StockDrift, d.id, data(d)?),
            Event::Channel(_, store_id, h) => (store_id, Entity::Channel, h.channel_id, data(h)?),
            Event::WebhookTest {
                store_id,
                webhook_id,
            } => {
                let test = TestData {
                    webhook_id,
                    message: "a test event from switchyard",
                };
                return Ok(json!({
                    "type": WEBHOOK_TEST,
                    "store_id": store_id,
                    "webhook_id": webhook_id,
                    "data": data(&test)?,
                }));
            }
        };
        let mut payload = Map::with_capacity(4);
        payload.insert("type".into(), json!(self.name()));
        payload.insert("store_id".into(), json!(store_id));
        payload.insert(entity.id_key().into(), json!(id));
        payload.insert("data".into(), data);
        Ok(Value::Object(payload))
    }

    /// The event as an outbox row.
    pub fn outbox_item(&self) -> Result<OutboxItem, StoreError> {
        Ok(OutboxItem::Event {
            payload: self.payload()?,
        })
    }
}

/// Outbox rows of `events`, in order.
pub fn outbox_items(events: &[Event<'_>]) -> Result<Vec<OutboxItem>, StoreError> {
    events.iter().map(Event::outbox_item).collect()
}

/// Writes `events` to the outbox in the caller's transaction (the one making the change they
/// announce) and wakes the relay for when it commits.
pub async fn write_in_tx(conn: &mut PgConnection, events: &[Event<'_>]) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    outbox::push_many_in_tx(conn, &outbox_items(events)?).await?;
    outbox::notify_in_tx(conn).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    fn product() -> ProductRow {
        let at = DateTime::<Utc>::from_timestamp(1_719_842_400, 123_456_000).unwrap_or_default();
        ProductRow {
            id: 42,
            store_id: 3,
            sku: "A".into(),
            title: "A".into(),
            api_quantity: 5,
            plugin_quantity: 1,
            is_kit: false,
            components: Vec::new(),
            available_quantity: 6,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn events_name_their_entity_and_carry_its_api_json() {
        let p = product();
        let event = Event::Product(Action::Updated, &p);
        let payload = event.payload().unwrap_or_default();
        assert_eq!(
            payload,
            json!({"type": "product.updated", "store_id": 3, "product_id": 42,
                   "data": serde_json::to_value(&p).unwrap_or_default()})
        );
        assert_eq!(payload["data"]["updated_at"], "2024-07-01T14:00:00.123456Z");
        assert_eq!(
            Event::WebhookTest {
                store_id: 3,
                webhook_id: 9
            }
            .payload()
            .unwrap_or_default(),
            json!({"type": "webhook.test", "store_id": 3, "webhook_id": 9,
                   "data": {"webhook_id": 9, "message": "a test event from switchyard"}})
        );
    }

    #[test]
    fn every_event_type_is_a_trigger_and_a_test_send_is_not() {
        use crate::domain::webhook_schedule::is_trigger;
        for t in EventType::all() {
            assert!(is_trigger(t.name()), "{}", t.name());
        }
        let test = Event::WebhookTest {
            store_id: 1,
            webhook_id: 1,
        };
        assert_eq!(test.name(), WEBHOOK_TEST);
        assert!(!is_trigger(test.name()));
    }
}
