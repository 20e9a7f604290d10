//! The job contract: every typed queue's name and payload type, the validation of a JSON payload
//! against its queue, and the unique keys that make waiting jobs coalesce.
//!
//! Producers (the API, the store's outbox rows, the relay, timers) and the workers that run the
//! jobs (`workers/`) meet here, so neither imports the other. Every queue declared here has a
//! worker: `workers/` matches [`Kind`] exhaustively, so a queue added without one does not
//! compile, and nothing can be enqueued where no worker will ever take it.

mod deliver_webhook;

pub use deliver_webhook::DeliverWebhook;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::FieldError;

/// A schema of the API's document and its name there.
pub type NamedSchema = (
    String,
    utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
);

/// A job payload type bound to its queue.
pub trait JobKind: Serialize + DeserializeOwned + Send + Sync + 'static {
    const QUEUE: &'static str;
}

/// Why an import was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportReason {
    Timer,
    ChannelWebhook,
    Manual,
}

/// Import a channel's orders changed since its cursor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ImportOrdersJob, example = json!({"channel_id": 7, "reason": "manual"}))]
pub struct ImportOrders {
    /// The channel to import from (`/v1/channels/{id}`).
    pub channel_id: i64,
    pub reason: ImportReason,
}

/// Download a channel's listings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ImportProductsJob, example = json!({"channel_id": 7}))]
pub struct ImportProducts {
    /// The channel whose listings to download.
    pub channel_id: i64,
}

/// Push changed stock levels to one channel (unique per channel while pending).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SyncStockJob, example = json!({"channel_id": 7}))]
pub struct SyncStock {
    /// The channel to push stock levels to.
    pub channel_id: i64,
}

impl SyncStock {
    /// The unique key that makes the waiting stock syncs of one channel one job: each reads the
    /// levels as they are when it runs.
    pub fn unique_key(&self) -> String {
        format!("sync-stock:{}", self.channel_id)
    }
}

/// Compare what a channel holds for each of its listings with what switchyard expects it to hold,
/// and set back the ones that drifted (unique per channel while pending).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ReconcileStockJob, example = json!({"channel_id": 7}))]
pub struct ReconcileStock {
    /// The channel whose listings to reconcile.
    pub channel_id: i64,
}

impl ReconcileStock {
    /// The unique key that makes the waiting reconciliations of one channel one job: each reads
    /// the channel as it is when it runs.
    pub fn unique_key(&self) -> String {
        format!("reconcile-stock:{}", self.channel_id)
    }
}

/// Create a fulfilment on the order's channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PushFulfilmentJob, example = json!({"fulfilment_id": 31}))]
pub struct PushFulfilment {
    /// The fulfilment to create on its order's channel (`/v1/fulfilments/{id}`).
    pub fulfilment_id: i64,
}

/// Create an invoice on its accounting connection's platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PostInvoiceJob, example = json!({"invoice_id": 17}))]
pub struct PostInvoice {
    /// The invoice to create (`/v1/invoices/{id}`).
    pub invoice_id: i64,
}

/// Send an order to a fulfilment-centre plugin (unique per plugin and order while pending).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RunPluginJob, example = json!({"plugin_id": 3, "order_id": 1042}))]
pub struct RunPlugin {
    /// The plugin to send the order to.
    pub plugin_id: i64,
    /// The order to send.
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

/// Delete the records past their retention (`[retention]`): settled webhook deliveries with
/// their attempts and events, old order history, expired idempotency keys. A timer enqueues one
/// every `retention.prune_every_secs`; running one by hand is harmless.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PruneJob, example = json!({}))]
pub struct Prune {}

/// A job that does nothing (or sleeps, or fails on purpose), for benchmarks, tests and checking
/// a deployment end to end.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NoopJob, example = json!({"sleep_ms": 50}))]
pub struct Noop {
    /// Sleep this long before finishing.
    #[serde(default)]
    pub sleep_ms: u64,
    /// Fail (retryably) while the attempt number is at most this.
    #[serde(default)]
    pub fail_attempts: u32,
    /// Fail permanently.
    #[serde(default)]
    pub permanent: bool,
    /// Fail (retryably) while the clock reads before this time, in Unix milliseconds: a
    /// downstream that is down until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_until_ms: Option<i64>,
}

macro_rules! queues {
    ($($ty:ident => $name:literal),+ $(,)?) => {
        $(impl JobKind for $ty { const QUEUE: &'static str = $name; })+

        /// The typed queues, one variant per payload type.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Kind {
            $($ty),+
        }

        impl Kind {
            /// Every typed queue.
            pub const ALL: &[Kind] = &[$(Kind::$ty),+];

            /// The queue of this name, if it is a typed queue.
            pub fn parse(queue: &str) -> Option<Kind> {
                match queue {
                    $($name => Some(Kind::$ty),)+
                    _ => None,
                }
            }

            pub fn name(self) -> &'static str {
                match self {
                    $(Kind::$ty => $name,)+
                }
            }

            /// The name of the queue's payload schema, and that schema with every schema it
            /// refers to, for the API's document.
            pub fn payload_schemas(self) -> (std::borrow::Cow<'static, str>, Vec<NamedSchema>) {
                match self {
                    $(Kind::$ty => {
                        let name = <$ty as utoipa::ToSchema>::name();
                        let mut all = vec![(
                            name.clone().into_owned(),
                            <$ty as utoipa::PartialSchema>::schema(),
                        )];
                        <$ty as utoipa::ToSchema>::schemas(&mut all);
                        (name, all)
                    })+
                }
            }

            /// Checks a JSON payload against the queue's type. Err names the offending field.
            pub fn validate(self, payload: &serde_json::Value) -> Result<(), PayloadError> {
                match self {
                    $(Kind::$ty => check::<$ty>(payload),)+
                }
            }
        }

        /// Every typed queue's name.
        pub const QUEUES: &[&str] = &[$($name),+];
    };
}

queues! {
    ImportOrders => "import-orders",
    ImportProducts => "import-products",
    SyncStock => "sync-stock",
    ReconcileStock => "reconcile-stock",
    PushFulfilment => "push-fulfilment",
    DeliverWebhook => "deliver-webhook",
    RunPlugin => "run-plugin",
    PostInvoice => "post-invoice",
    Prune => "prune",
    Noop => "noop",
}

/// Checks a JSON payload against the queue's type. Err names the offending field, or the queue
/// when it is not a typed queue.
pub fn validate_payload(queue: &str, payload: &serde_json::Value) -> Result<(), PayloadError> {
    Kind::parse(queue)
        .ok_or_else(|| PayloadError::UnknownQueue(queue.to_owned()))?
        .validate(payload)
}

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
            let FieldError { field, reason } = FieldError::from_serde(e);
            let field = if field == "." {
                "payload".to_owned()
            } else {
                field
            };
            PayloadError::Field {
                field,
                message: reason,
            }
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
    fn every_queue_is_named_once_and_parses_back() {
        assert_eq!(Kind::ALL.len(), QUEUES.len());
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.name()), Some(*kind));
        }
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
