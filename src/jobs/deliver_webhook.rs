//! The deliver-webhook job: which deliveries, and which attempt of each, one job makes.

use serde::{Deserialize, Serialize};

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
