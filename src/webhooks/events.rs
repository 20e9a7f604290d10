//! Domain events as the outbox holds them: `{"type", "store_id", "<entity>_id", "data"}`, with
//! the entity's unified JSON under `data`, which is what a webhook delivers.

use serde::Serialize;
use serde_json::{json, Value};

use crate::store::outbox::OutboxItem;
use crate::store::StoreError;

/// An event of `kind` (`order.created`, ...) about entity `id` of `store_id`, carrying `data`.
/// The id key is the entity's name with `_id` (`order_id`, `channel_product_id`).
pub fn event<T: Serialize>(
    kind: &str,
    store_id: i64,
    id: i64,
    data: &T,
) -> Result<OutboxItem, StoreError> {
    let entity = kind.split_once('.').map_or(kind, |(e, _)| e);
    let data = serde_json::to_value(data)
        .map_err(|e| StoreError::Corrupt(format!("event data does not serialise: {e}")))?;
    let mut payload = json!({ "type": kind, "store_id": store_id, "data": data });
    if let Value::Object(map) = &mut payload {
        map.insert(format!("{entity}_id"), json!(id));
    }
    Ok(OutboxItem::Event { payload })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_name_their_entity_and_carry_its_json() {
        let item = event("channel_product.updated", 3, 42, &json!({"sku": "A"}));
        let Ok(OutboxItem::Event { payload }) = item else {
            panic!("not an event: {item:?}");
        };
        assert_eq!(
            payload,
            json!({"type": "channel_product.updated", "store_id": 3,
                   "channel_product_id": 42, "data": {"sku": "A"}})
        );
    }
}
