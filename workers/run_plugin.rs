//! The run-plugin worker: sends an order that the store's plugin rules routed to a
//! fulfilment-centre plugin to the plugin's endpoint, signed exactly as outbound webhooks are
//! (`docs/plugin-protocol.md`), through the same guarded client (SSRF guard, no redirects,
//! timeouts).
//!
//! The plugin answers 2xx with its own reference, which is kept on the order (later sends are
//! `order.updated`). 429, 5xx and no answer retry with the queue's backoff (`Retry-After`
//! honoured); 410 means the plugin is gone, so it is disabled; any other 4xx will not change on a
//! retry, so the job goes to the dead letters with the plugin's answer.

use std::sync::Arc;
use std::time::Duration;

use apalis_core::task::data::Data;
use sha2::{Digest, Sha256};

use super::Deps;
use crate::jobs::{JobKind, RunPlugin};
use crate::queue::{JobError, JobMeta};
use crate::store::{order_state, plugins};

/// The message id: the same for the same order content, so a retry, and a resend of an unchanged
/// order, carry one id a plugin can de-duplicate on.
fn message_id(job: &RunPlugin, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(job.plugin_id.to_be_bytes());
    h.update(job.order_id.to_be_bytes());
    h.update(body);
    let digest = h.finalize();
    format!("msg_plugin_{}", hex::encode(&digest[..12]))
}

/// The plugin's reference from its answer, `{"reference": "..."}`.
fn reference(excerpt: Option<&str>) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(excerpt?).ok()?;
    let reference = value.get("reference")?.as_str()?.trim();
    (!reference.is_empty()).then(|| reference.to_owned())
}

pub async fn run(
    job: RunPlugin,
    deps: Data<Arc<Deps>>,
    meta: Data<JobMeta>,
) -> Result<(), JobError> {
    let result = send(&job, &deps).await;
    // The order's sync status follows the answer: booked, or failed once no retry is left.
    let last = meta.attempt >= deps.broker.settings().policy(RunPlugin::QUEUE).max_attempts;
    let refused = match &result {
        Ok(Sent::Accepted) => None,
        Err(JobError::Permanent(m)) => Some(m.as_str()),
        Err(JobError::Retry(m) | JobError::RetryAfter { message: m, .. }) if last => {
            Some(m.as_str())
        }
        Ok(Sent::Nothing) | Err(_) => return result.map(|_| ()),
    };
    order_state::after_plugin_answer(&deps.db, job.order_id, refused).await?;
    result.map(|_| ())
}

/// What a send came to.
enum Sent {
    /// The plugin accepted the order.
    Accepted,
    /// Nothing was sent: the order or plugin is gone, or the plugin is disabled.
    Nothing,
}

async fn send(job: &RunPlugin, deps: &Deps) -> Result<Sent, JobError> {
    let Some(delivery) =
        plugins::delivery_for_run(&deps.db, &deps.credentials_key, job.plugin_id, job.order_id)
            .await?
    else {
        tracing::info!(
            ?job,
            "order no longer routed to this plugin; nothing to send"
        );
        return Ok(Sent::Nothing);
    };
    let plugin = &delivery.plugin.plugin;
    if !plugin.active {
        tracing::info!(plugin_id = plugin.id, "plugin is disabled; order not sent");
        return Ok(Sent::Nothing);
    }
    let client = deps
        .webhooks
        .as_ref()
        .ok_or_else(|| JobError::retry("the outbound HTTP client is unavailable"))?;
    let body = serde_json::to_string(&delivery.body)
        .map_err(|e| JobError::permanent(format!("order does not serialise: {e}")))?;
    let msg_id = message_id(job, body.as_bytes());
    let secrets = [delivery.plugin.signing_secret.as_str()];
    let answer = client
        .send_signed(&plugin.endpoint_url, &msg_id, &secrets, body)
        .await
        .map_err(|e| JobError::permanent(format!("plugin {}: {e}", plugin.id)))?;
    let said = || {
        answer
            .excerpt
            .as_deref()
            .map(|e| e.chars().take(200).collect::<String>())
            .unwrap_or_default()
    };
    match answer.status {
        Some(status) if (200..300).contains(&status) => {
            if let Some(reference) = reference(answer.excerpt.as_deref()) {
                plugins::record_reference(&deps.db, plugin.id, job.order_id, &reference).await?;
            }
            tracing::info!(
                plugin_id = plugin.id,
                order_id = job.order_id,
                event = delivery.event,
                "order sent to plugin"
            );
            Ok(Sent::Accepted)
        }
        Some(410) => {
            plugins::disable(&deps.db, plugin.id).await?;
            Err(JobError::permanent(format!(
                "plugin {} answered 410 Gone and is now disabled",
                plugin.id
            )))
        }
        Some(status) if status == 429 || status >= 500 => match answer.retry_after {
            Some(after) => Err(JobError::RetryAfter {
                message: format!("plugin {} answered {status}", plugin.id),
                after: after.min(Duration::from_secs(3600)),
            }),
            None => Err(JobError::retry(format!(
                "plugin {} answered {status}: {}",
                plugin.id,
                said()
            ))),
        },
        Some(status) => Err(JobError::permanent(format!(
            "plugin {} refused the order with {status}: {}",
            plugin.id,
            said()
        ))),
        None => Err(JobError::retry(format!(
            "plugin {} did not answer: {}",
            plugin.id,
            answer.error.as_deref().unwrap_or("no answer")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_id_follows_the_content() {
        let job = RunPlugin {
            plugin_id: 1,
            order_id: 2,
        };
        let a = message_id(&job, b"{\"a\":1}");
        assert_eq!(a, message_id(&job, b"{\"a\":1}"));
        assert_ne!(a, message_id(&job, b"{\"a\":2}"));
        assert!(a.starts_with("msg_plugin_"));
    }

    #[test]
    fn the_reference_is_read_from_a_json_answer() {
        assert_eq!(
            reference(Some(r#"{"reference": "FC-000123"}"#)).as_deref(),
            Some("FC-000123")
        );
        assert_eq!(reference(Some("ok")), None);
        assert_eq!(reference(Some(r#"{"reference": ""}"#)), None);
        assert_eq!(reference(None), None);
    }
}
