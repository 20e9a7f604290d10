//! The mutation root: each field changes the shop through the same store functions the REST
//! surface uses (one state for both), and hands back a [`Payload`] to project.

use serde::Deserialize;
use serde_json::Value;

use super::document::Selection;
use super::errors::GqlError;
use super::payload::{Outcome, Payload, UserError};
use super::{bulk, ids, inventory, GraphqlApi};
use crate::shopify::fulfillments::{self, NewFulfillment, Refusal};
use crate::shopify::model::FulfillmentHold;
use crate::shopify::store::Outgoing;
use crate::shopify::webhooks::{self, TOPICS};
use crate::timefmt;

/// A mutation's payload, the webhooks it set off, and whether it recorded a shipment (whose
/// answer a fault may be set to lose, as on REST).
pub struct Done {
    pub payload: Payload,
    pub outgoing: Vec<Outgoing>,
    pub shipped: bool,
}

impl Done {
    fn payload(payload: Payload) -> Done {
        Done {
            payload,
            outgoing: Vec::new(),
            shipped: false,
        }
    }
}

/// `ORDERS_CREATE` for `orders/create`.
pub fn graphql_topic(rest: &str) -> String {
    rest.to_ascii_uppercase().replace('/', "_")
}

/// `orders/create` for `ORDERS_CREATE`.
pub fn rest_topic(graphql: &str) -> String {
    TOPICS
        .iter()
        .find(|t| graphql_topic(t) == graphql)
        .map_or_else(|| graphql.to_ascii_lowercase(), |t| (*t).to_owned())
}

pub fn run(api: &GraphqlApi, field: &Selection) -> Result<Done, GqlError> {
    let store = &api.store;
    match field.name.as_str() {
        "inventorySetQuantities" => {
            inventory::set_quantities(&mut store.state(), &field.args).map(Done::payload)
        }
        "inventoryAdjustQuantities" => {
            inventory::adjust_quantities(&mut store.state(), &field.args).map(Done::payload)
        }
        "fulfillmentCreate" => fulfillment_create(api, field),
        "fulfillmentOrderHold" => fulfillment_order_hold(api, field).map(Done::payload),
        "fulfillmentOrderReleaseHold" => {
            fulfillment_order_release_hold(api, field).map(Done::payload)
        }
        "webhookSubscriptionCreate" => webhook_create(api, field).map(Done::payload),
        "webhookSubscriptionDelete" => Ok(Done::payload(webhook_delete(api, field))),
        "bulkOperationRunQuery" => Ok(Done::payload(bulk::run_query(api, field))),
        "bulkOperationCancel" => Ok(Done::payload(bulk::cancel(api, field))),
        other => Err(GqlError::undefined_field("Mutation", other)),
    }
}

fn argument<T: serde::de::DeserializeOwned>(field: &Selection, name: &str) -> Result<T, GqlError> {
    serde_json::from_value(field.args.get(name).cloned().unwrap_or(Value::Null)).map_err(|e| {
        GqlError::new(
            &format!(
                "Argument '{name}' on Field '{}' has an invalid value: {e}",
                field.name
            ),
            "argumentLiteralsIncompatible",
        )
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FulfillmentInput {
    line_items_by_fulfillment_order: Vec<ByFulfillmentOrder>,
    #[serde(default)]
    tracking_info: Option<TrackingInput>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ByFulfillmentOrder {
    fulfillment_order_id: String,
    #[serde(default)]
    fulfillment_order_line_items: Option<Vec<LineInput>>,
}

#[derive(Deserialize)]
struct LineInput {
    id: String,
    quantity: u32,
}

#[derive(Deserialize, Default)]
struct TrackingInput {
    number: Option<String>,
    company: Option<String>,
    url: Option<String>,
}

fn fulfillment_create(api: &GraphqlApi, field: &Selection) -> Result<Done, GqlError> {
    let input: FulfillmentInput = argument(field, "fulfillment")?;
    let tracking = input.tracking_info.unwrap_or_default();
    let id_of = |text: &str, type_name: &str| ids::parse_of(text, type_name).unwrap_or(0);
    let new = NewFulfillment {
        groups: input
            .line_items_by_fulfillment_order
            .iter()
            .map(|g| {
                let lines = g.fulfillment_order_line_items.as_ref().map(|lines| {
                    lines
                        .iter()
                        .map(|l| (id_of(&l.id, "FulfillmentOrderLineItem"), l.quantity))
                        .collect()
                });
                (id_of(&g.fulfillment_order_id, "FulfillmentOrder"), lines)
            })
            .collect(),
        tracking_number: tracking.number,
        tracking_company: tracking.company,
        tracking_url: tracking.url,
    };
    let payload = |outcome, errors| Payload {
        type_name: "FulfillmentCreatePayload",
        error_type: "UserError",
        outcome,
        errors,
    };
    let refused = |message: &str| {
        Done::payload(payload(
            Outcome::Nothing,
            vec![UserError::new(&["fulfillment"], message, None)],
        ))
    };
    match fulfillments::record(&api.store, new) {
        Ok(recorded) => Ok(Done {
            payload: payload(
                Outcome::Fulfillment(recorded.order_id, recorded.fulfillment_id),
                Vec::new(),
            ),
            outgoing: recorded.outgoing,
            shipped: true,
        }),
        Err(Refusal::NotFound) => Ok(refused("Fulfillment order does not exist.")),
        Err(Refusal::Invalid(message)) => Ok(refused(&message)),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FulfillmentOrderHoldInput {
    reason: String,
    #[serde(default)]
    reason_notes: Option<String>,
}

/// The order whose fulfillment order the mutation's `id` names.
fn held_order_id(field: &Selection) -> Result<Option<u64>, GqlError> {
    let id: String = argument(field, "id")?;
    Ok(ids::parse_of(&id, "FulfillmentOrder")
        .and_then(crate::shopify::store::order_id_for_fulfillment_order))
}

/// `fulfillmentOrderHold(id, fulfillmentHold: {reason, reasonNotes})`: holds the whole
/// fulfillment order (the simulator does not split one by line).
fn fulfillment_order_hold(api: &GraphqlApi, field: &Selection) -> Result<Payload, GqlError> {
    let input: FulfillmentOrderHoldInput = argument(field, "fulfillmentHold")?;
    let order_id = held_order_id(field)?;
    let hold = FulfillmentHold {
        reason: input.reason,
        reason_notes: input.reason_notes,
    };
    let result = match order_id {
        Some(id) => api.store.state().hold_order(id, hold, timefmt::now()),
        None => Err("Fulfillment order does not exist.".into()),
    };
    Ok(hold_payload(
        "FulfillmentOrderHoldPayload",
        "FulfillmentOrderHoldUserError",
        order_id,
        result,
    ))
}

/// `fulfillmentOrderReleaseHold(id)`.
fn fulfillment_order_release_hold(
    api: &GraphqlApi,
    field: &Selection,
) -> Result<Payload, GqlError> {
    let order_id = held_order_id(field)?;
    let result = match order_id {
        Some(id) => api.store.state().release_hold(id, timefmt::now()),
        None => Err("Fulfillment order does not exist.".into()),
    };
    Ok(hold_payload(
        "FulfillmentOrderReleaseHoldPayload",
        "FulfillmentOrderReleaseHoldUserError",
        order_id,
        result,
    ))
}

fn hold_payload(
    type_name: &'static str,
    error_type: &'static str,
    order_id: Option<u64>,
    result: Result<(), String>,
) -> Payload {
    let (outcome, errors) = match (order_id, result) {
        (Some(id), Ok(())) => (Outcome::FulfillmentOrder(id), Vec::new()),
        (_, Err(message)) => (
            Outcome::Nothing,
            vec![UserError::new(&["id"], &message, None)],
        ),
        (None, Ok(())) => (Outcome::Nothing, Vec::new()),
    };
    Payload {
        type_name,
        error_type,
        outcome,
        errors,
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubscriptionInput {
    uri: Option<String>,
    callback_url: Option<String>,
    format: Option<String>,
}

fn webhook_payload(type_name: &'static str, outcome: Outcome, errors: Vec<UserError>) -> Payload {
    Payload {
        type_name,
        error_type: "UserError",
        outcome,
        errors,
    }
}

fn webhook_create(api: &GraphqlApi, field: &Selection) -> Result<Payload, GqlError> {
    const TYPE: &str = "WebhookSubscriptionCreatePayload";
    let topic: String = argument(field, "topic")?;
    let input: SubscriptionInput = argument(field, "webhookSubscription")?;
    let refused = |field: &str, message: &str| {
        webhook_payload(
            TYPE,
            Outcome::Nothing,
            vec![UserError::new(
                &["webhookSubscription", field],
                message,
                None,
            )],
        )
    };
    if input.format.as_deref().is_some_and(|f| f != "JSON") {
        return Ok(refused(
            "format",
            "Format is not supported by the sandbox (JSON only)",
        ));
    }
    let Some(uri) = input.uri.or(input.callback_url) else {
        return Ok(refused("callbackUrl", "Address can't be blank"));
    };
    Ok(
        match webhooks::register(&api.store, &rest_topic(&topic), &uri) {
            Ok(sub) => webhook_payload(TYPE, Outcome::Subscription(sub), Vec::new()),
            Err(message) if message.starts_with("Invalid topic") => webhook_payload(
                TYPE,
                Outcome::Nothing,
                vec![UserError::new(&["topic"], &message, None)],
            ),
            Err(message) => refused("callbackUrl", &message),
        },
    )
}

fn webhook_delete(api: &GraphqlApi, field: &Selection) -> Payload {
    const TYPE: &str = "WebhookSubscriptionDeletePayload";
    let text = field.arg_str("id").unwrap_or("");
    match ids::parse_of(text, "WebhookSubscription") {
        Some(id) if webhooks::unregister(&api.store, id) => {
            webhook_payload(TYPE, Outcome::Deleted(text.to_owned()), Vec::new())
        }
        _ => webhook_payload(
            TYPE,
            Outcome::Nothing,
            vec![UserError::new(
                &["id"],
                "Webhook subscription does not exist",
                None,
            )],
        ),
    }
}
