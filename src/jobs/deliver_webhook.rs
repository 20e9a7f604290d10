//! The deliver-webhook job: which deliveries, and which attempt of each, one job makes.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, KnownFormat, ObjectBuilder, OneOfBuilder, Schema,
    SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::RefOr;

/// Sign and POST webhook deliveries: the first attempt of several deliveries to one endpoint
/// (a fan-out's, `{"delivery_ids": [..]}`), or one attempt of one delivery
/// (`{"delivery_id": N, "attempt": K}`; without `attempt`, whichever attempt is next).
///
/// Naming the attempt lets a job that arrives twice, or after a replay restarted the delivery's
/// round, see that its attempt is not the delivery's next one and do nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "DeliverWebhookWire", into = "DeliverWebhookWire")]
pub enum DeliverWebhook {
    /// The first attempt of each delivery.
    First { delivery_ids: Vec<i64> },
    /// Attempt `attempt` (counted from 1 in the delivery's round), or the next when `None`.
    One {
        delivery_id: i64,
        attempt: Option<i32>,
    },
}

impl DeliverWebhook {
    /// Jobs for the first attempt of `delivery_ids`, `per_job` at most to a job, in order.
    pub fn first_attempts(
        delivery_ids: &[i64],
        per_job: usize,
    ) -> impl Iterator<Item = DeliverWebhook> + '_ {
        delivery_ids
            .chunks(per_job.max(1))
            .map(|ids| DeliverWebhook::First {
                delivery_ids: ids.to_vec(),
            })
    }

    /// Each delivery with the attempt of its round this job makes (`None`: the next one).
    pub fn attempts(&self) -> Vec<(i64, Option<i32>)> {
        match self {
            DeliverWebhook::First { delivery_ids } => {
                delivery_ids.iter().map(|&id| (id, Some(1))).collect()
            }
            DeliverWebhook::One {
                delivery_id,
                attempt,
            } => vec![(*delivery_id, *attempt)],
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeliverWebhookWire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    delivery_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    attempt: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    delivery_ids: Option<Vec<i64>>,
}

impl TryFrom<DeliverWebhookWire> for DeliverWebhook {
    type Error = String;

    fn try_from(w: DeliverWebhookWire) -> Result<DeliverWebhook, String> {
        match (w.delivery_id, w.delivery_ids) {
            (Some(delivery_id), None) => match w.attempt {
                Some(a) if a < 1 => Err("`attempt` counts from 1".into()),
                attempt => Ok(DeliverWebhook::One {
                    delivery_id,
                    attempt,
                }),
            },
            (None, Some(_)) if w.attempt.is_some() => {
                Err("`attempt` goes with `delivery_id`, not `delivery_ids`".into())
            }
            (None, Some(ids)) if ids.is_empty() => {
                Err("`delivery_ids` needs at least one delivery".into())
            }
            (None, Some(ids)) => Ok(DeliverWebhook::First { delivery_ids: ids }),
            (Some(_), Some(_)) => Err("give `delivery_id` or `delivery_ids`, not both".into()),
            (None, None) => Err("missing field `delivery_id` (or `delivery_ids`)".into()),
        }
    }
}

impl From<DeliverWebhook> for DeliverWebhookWire {
    fn from(job: DeliverWebhook) -> DeliverWebhookWire {
        match job {
            DeliverWebhook::First { delivery_ids } => DeliverWebhookWire {
                delivery_ids: Some(delivery_ids),
                ..Default::default()
            },
            DeliverWebhook::One {
                delivery_id,
                attempt,
            } => DeliverWebhookWire {
                delivery_id: Some(delivery_id),
                attempt,
                ..Default::default()
            },
        }
    }
}

/// The wire's two shapes, as [`DeliverWebhookWire`]'s conversion accepts them.
impl utoipa::PartialSchema for DeliverWebhook {
    fn schema() -> RefOr<Schema> {
        let id = || {
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        };
        let one = ObjectBuilder::new()
            .title(Some("One attempt of one delivery"))
            .property(
                "delivery_id",
                id().description(Some("The delivery to attempt.")),
            )
            .required("delivery_id")
            .property(
                "attempt",
                ObjectBuilder::new()
                    .schema_type(SchemaType::from_iter([Type::Integer, Type::Null]))
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int32)))
                    .minimum(Some(1))
                    .description(Some(
                        "Which attempt of the delivery's round this is, from 1; absent or null: \
                         whichever is next. A job whose attempt is not the delivery's next one \
                         does nothing.",
                    )),
            )
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        let first = ObjectBuilder::new()
            .title(Some("The first attempt of several deliveries"))
            .property(
                "delivery_ids",
                ArrayBuilder::new()
                    .items(id())
                    .min_items(Some(1))
                    .description(Some("The deliveries, all to one endpoint.")),
            )
            .required("delivery_ids")
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        OneOfBuilder::new()
            .description(Some(
                "Sign and POST webhook deliveries: one attempt of one delivery, or the first \
                 attempt of several.",
            ))
            .item(one)
            .item(first)
            .examples([serde_json::json!({"delivery_id": 7, "attempt": 2})])
            .into()
    }
}

impl utoipa::ToSchema for DeliverWebhook {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("DeliverWebhookJob")
    }
}
