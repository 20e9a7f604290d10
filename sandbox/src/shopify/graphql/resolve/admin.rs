//! Webhook subscriptions, bulk operations, inventory adjustment groups, and mutation payloads
//! with their `userErrors`.

use serde_json::Value;

use super::{find_node, object, undefined, value, Ctx, Field, Obj, Resolved};
use crate::shopify::graphql::document::Selection;
use crate::shopify::graphql::ids::{gid, legacy, opt_time, time};
use crate::shopify::graphql::mutations::graphql_topic;
use crate::shopify::graphql::payload::Outcome;

pub fn field<'a>(ctx: &Ctx<'a>, obj: &Obj<'a>, field: &Selection) -> Field<'a> {
    let f = field.name.as_str();
    match *obj {
        Obj::Webhook(s) => match f {
            "id" => value(gid("WebhookSubscription", s.id)),
            "legacyResourceId" => value(legacy(s.id)),
            "topic" => value(graphql_topic(&s.topic)),
            "uri" | "callbackUrl" => value(s.address.clone()),
            "format" => value("JSON"),
            "createdAt" | "updatedAt" => value(time(s.created_at)),
            _ => undefined(obj, field),
        },
        Obj::Bulk(b) => match f {
            "id" => value(gid("BulkOperation", b.id)),
            "status" => value(b.status.as_str()),
            "errorCode" | "partialDataUrl" => value(Value::Null),
            "objectCount" => value(b.object_count.to_string()),
            "rootObjectCount" => value(b.root_object_count.to_string()),
            "fileSize" => value(b.url.as_ref().map(|_| b.file_size.to_string())),
            "url" => value(b.url.clone()),
            "createdAt" => value(time(b.created_at)),
            "completedAt" => value(opt_time(b.completed_at)),
            "query" => value(b.query.clone()),
            "type" => value("QUERY"),
            _ => undefined(obj, field),
        },
        Obj::AdjustmentGroup(g) => match f {
            "id" => value(gid("InventoryAdjustmentGroup", g.id)),
            "reason" => value(g.reason.clone()),
            "referenceDocumentUri" => value(g.reference_document_uri.clone()),
            "createdAt" => value(time(g.created_at)),
            "changes" => {
                let names: Option<Vec<&str>> = field
                    .arg("quantityNames")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).collect());
                Ok(Resolved::List(
                    g.changes
                        .iter()
                        .filter(|c| names.as_ref().is_none_or(|n| n.contains(&c.name)))
                        .map(Obj::InventoryChange)
                        .collect(),
                ))
            }
            _ => undefined(obj, field),
        },
        Obj::InventoryChange(c) => match f {
            "name" => value(c.name),
            "delta" => value(c.delta),
            "quantityAfterChange" => value(c.quantity_after),
            "item" => Ok(Resolved::Object(find_node(
                ctx,
                &gid("InventoryItem", c.item),
            ))),
            "location" => Ok(Resolved::Object(find_node(
                ctx,
                &gid("Location", c.location),
            ))),
            _ => undefined(obj, field),
        },
        Obj::UserError(_, e) => match f {
            "field" => value(if e.field.is_empty() {
                Value::Null
            } else {
                Value::from(e.field.clone())
            }),
            "message" => value(e.message.clone()),
            "code" => value(e.code),
            _ => undefined(obj, field),
        },
        Obj::Payload(p) => match (f, &p.outcome) {
            ("userErrors", _) => Ok(Resolved::List(
                p.errors
                    .iter()
                    .map(|e| Obj::UserError(p.error_type, e))
                    .collect(),
            )),
            ("inventoryAdjustmentGroup", Outcome::Group(g)) => object(Obj::AdjustmentGroup(g)),
            ("fulfillment", Outcome::Fulfillment(order, fulfillment)) => Ok(Resolved::Object(
                ctx.state.orders.get(*order).and_then(|o| {
                    o.fulfillments
                        .iter()
                        .find(|x| x.id == *fulfillment)
                        .map(|x| Obj::Fulfillment(o, x))
                }),
            )),
            ("webhookSubscription", Outcome::Subscription(s)) => object(Obj::Webhook(s)),
            ("deletedWebhookSubscriptionId", Outcome::Deleted(id)) => value(id.clone()),
            ("bulkOperation", Outcome::Bulk(b)) => object(Obj::Bulk(b)),
            ("fulfillmentOrder", Outcome::FulfillmentOrder(order)) => Ok(Resolved::Object(
                ctx.state.orders.get(*order).map(Obj::FulfillmentOrder),
            )),
            ("fulfillmentHold", Outcome::FulfillmentOrder(order)) => Ok(Resolved::Object(
                ctx.state
                    .orders
                    .get(*order)
                    .filter(|o| o.hold.is_some())
                    .map(Obj::FulfillmentHold),
            )),
            (
                "inventoryAdjustmentGroup"
                | "fulfillment"
                | "webhookSubscription"
                | "bulkOperation"
                | "fulfillmentOrder"
                | "fulfillmentHold"
                | "remainingFulfillmentOrder",
                _,
            ) => Ok(Resolved::Object(None)),
            ("deletedWebhookSubscriptionId", _) => value(Value::Null),
            _ => undefined(obj, field),
        },
        _ => undefined(obj, field),
    }
}
