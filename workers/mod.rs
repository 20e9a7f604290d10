//! The typed queues: each job's payload type, and the worker pools that run them.
//!
//! Every queue of DESIGN.md is declared here with its payload, so the API can validate an enqueue
//! against the queue's type. A queue gets a worker pool once its handler exists (see `HANDLED`);
//! jobs on the others wait in Redis, untouched, until a release that handles them.

mod channel_lock;
mod context;
mod deliver_webhook;
mod import_orders;
pub mod import_products;
mod noop;
mod pool;
mod push_fulfilment;
mod run_plugin;
pub mod scheduler;
mod sync_stock;

pub use context::Deps;
pub use noop::Noop;
pub use pool::{needs_deps, run_pools, spawn_pool, spawn_pool_with, PoolError};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A job payload type bound to its queue.
pub trait JobKind: Serialize + DeserializeOwned + Send + Sync + 'static {
    const QUEUE: &'static str;
}

/// Why an import was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportReason {
    Timer,
    ChannelWebhook,
    Manual,
}

/// Import a channel's orders changed since its cursor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportOrders {
    pub channel_id: i64,
    pub reason: ImportReason,
}

/// Download a channel's listings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportProducts {
    pub channel_id: i64,
}

/// Push changed stock levels to one channel (unique per channel while pending).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncStock {
    pub channel_id: i64,
}

/// Create a fulfilment on the order's channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushFulfilment {
    pub fulfilment_id: i64,
}

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

/// Send an order to a fulfilment-centre plugin (unique per plugin and order while pending).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunPlugin {
    pub plugin_id: i64,
    pub order_id: i64,
}

impl RunPlugin {
    /// The unique key that makes the waiting sends of one order to one plugin one job: each
    /// send reads the order as it is when it runs, so one that waits (for its turn or for a
    /// retry while the plugin is down) carries every change made meanwhile.
    pub fn unique_key(&self) -> String {
        format!("run-plugin:{}:{}", self.plugin_id, self.order_id)
    }
}

/// Create an invoice in an accounting package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostInvoice {
    pub invoice_id: i64,
}

macro_rules! queues {
    ($($ty:ident => $name:literal),+ $(,)?) => {
        $(impl JobKind for $ty { const QUEUE: &'static str = $name; })+

        /// Every typed queue's name.
        pub const QUEUES: &[&str] = &[$($name),+];

        /// Checks a JSON payload against the queue's type. Err names the offending field.
        pub fn validate_payload(queue: &str, payload: &serde_json::Value) -> Result<(), PayloadError> {
            match queue {
                $($name => check::<$ty>(payload),)+
                _ => Err(PayloadError::UnknownQueue(queue.to_owned())),
            }
        }
    };
}

queues! {
    ImportOrders => "import-orders",
    ImportProducts => "import-products",
    SyncStock => "sync-stock",
    PushFulfilment => "push-fulfilment",
    DeliverWebhook => "deliver-webhook",
    RunPlugin => "run-plugin",
    PostInvoice => "post-invoice",
    Noop => "noop",
}

/// Queues whose handlers exist, and so get worker pools.
pub const HANDLED: &[&str] = &[
    Noop::QUEUE,
    ImportOrders::QUEUE,
    ImportProducts::QUEUE,
    SyncStock::QUEUE,
    PushFulfilment::QUEUE,
    DeliverWebhook::QUEUE,
    RunPlugin::QUEUE,
];

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PayloadError {
    #[error("unknown queue `{0}`")]
    UnknownQueue(String),
    #[error("payload field `{field}`: {message}")]
    Field { field: String, message: String },
}

fn check<T: DeserializeOwned>(payload: &serde_json::Value) -> Result<(), PayloadError> {
    let text = payload.to_string();
    let de = &mut serde_json::Deserializer::from_str(&text);
    serde_path_to_error::deserialize::<_, T>(de)
        .map(|_| ())
        .map_err(|e| {
            let path = e.path().to_string();
            let message = e.inner().to_string();
            // serde names a missing or unknown field only in its message; lift it out.
            let field = if path == "." {
                crate::error::named_field(&message).unwrap_or_else(|| "payload".to_owned())
            } else {
                path
            };
            PayloadError::Field { field, message }
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_good_payload_passes() {
        assert_eq!(
            validate_payload(
                "import-orders",
                &json!({"channel_id": 7, "reason": "manual"})
            ),
            Ok(())
        );
        assert_eq!(validate_payload("noop", &json!({})), Ok(()));
    }

    #[test]
    fn a_bad_payload_names_its_field() {
        let field = |q, p| match validate_payload(q, &p) {
            Err(PayloadError::Field { field, .. }) => field,
            other => panic!("expected a field error, got {other:?}"),
        };
        assert_eq!(
            field(
                "import-orders",
                json!({"channel_id": "x", "reason": "manual"})
            ),
            "channel_id"
        );
        assert_eq!(field("import-orders", json!({"channel_id": 1})), "reason");
        assert_eq!(
            field("import-orders", json!({"channel_id": 1, "reason": "later"})),
            "reason"
        );
        assert_eq!(
            field("run-plugin", json!({"plugin_id": 1, "order_id": 2, "x": 1})),
            "x"
        );
    }

    #[test]
    fn a_payload_that_is_no_object_is_blamed_on_the_payload() {
        let err = validate_payload("sync-stock", &json!(5)).unwrap_err();
        assert!(
            matches!(err, PayloadError::Field { ref field, .. } if field == "payload"),
            "{err:?}"
        );
    }

    #[test]
    fn unknown_queues_are_refused() {
        assert_eq!(
            validate_payload("nope", &json!({})),
            Err(PayloadError::UnknownQueue("nope".into()))
        );
    }

    #[test]
    fn a_delivery_job_names_one_delivery_and_its_attempt_or_several_first_attempts() {
        let parse = |v: serde_json::Value| serde_json::from_value::<DeliverWebhook>(v);
        let one = parse(json!({"delivery_id": 7, "attempt": 3})).unwrap();
        assert_eq!(one.attempts(), vec![(7, Some(3))]);
        // The shape of jobs queued before attempts were named: whichever attempt is next.
        let next = DeliverWebhook::One {
            delivery_id: 7,
            attempt: None,
        };
        assert_eq!(parse(json!({"delivery_id": 7})).unwrap(), next);
        let many = parse(json!({"delivery_ids": [4, 5]})).unwrap();
        assert_eq!(many.attempts(), vec![(4, Some(1)), (5, Some(1))]);
        // Written back as read.
        assert_eq!(
            serde_json::to_value(&next).unwrap(),
            json!({"delivery_id": 7})
        );
        for job in [one, many, next] {
            let text = serde_json::to_value(&job).unwrap();
            assert_eq!(parse(text).unwrap(), job);
        }

        let field = |p| match validate_payload("deliver-webhook", &p) {
            Err(PayloadError::Field { field, message }) => (field, message),
            other => panic!("expected a field error for {p}, got {other:?}"),
        };
        assert_eq!(field(json!({})).0, "delivery_id");
        for bad in [
            json!({"delivery_ids": []}),
            json!({"delivery_ids": [1], "attempt": 1}),
            json!({"delivery_id": 1, "delivery_ids": [2]}),
            json!({"delivery_id": 1, "attempt": 0}),
        ] {
            let (_, message) = field(bad.clone());
            assert!(message.contains('`'), "{bad}: {message}");
        }
        assert_eq!(field(json!({"delivery_id": 1, "x": 2})).0, "x");
    }
}
