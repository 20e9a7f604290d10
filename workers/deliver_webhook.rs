//! The deliver-webhook worker: signs one delivery (Standard Webhooks, one signature per secret
//! that signs now), POSTs it, and records the attempt.
//!
//! The retry schedule runs on the queue: a failed attempt that the schedule allows to be tried
//! again returns `RetryAfter` with the schedule's (jittered) delay, or the receiver's longer
//! `Retry-After`, so the same job comes back then; a crash mid-attempt hands the job to another
//! worker when its lease ends. The delivery row says where in the schedule it is
//! (`round_attempts`), so a replay starts the schedule afresh with a new job.

use std::sync::Arc;

use apalis_core::task::data::Data;
use chrono::Utc;

use super::context::store_err;
use super::{DeliverWebhook, Deps};
use crate::domain::webhook_schedule::{next_delay, should_disable, verdict, Verdict};
use crate::queue::JobError;
use crate::store::webhooks::{self as store, OwnedAttempt};
use crate::webhooks::{body, signature_header};

pub async fn run(job: DeliverWebhook, deps: Data<Arc<Deps>>) -> Result<(), JobError> {
    let Some(client) = deps.webhooks.as_ref() else {
        return Err(JobError::retry(
            "the webhook client could not be built; see the start-up log",
        ));
    };
    let Some(work) = deps
        .webhook_batches
        .work(job.delivery_id)
        .await
        .map_err(store_err)?
    else {
        // Its webhook was deleted since.
        return Ok(());
    };
    if work.status != "pending" {
        // Delivered or given up on already: a duplicate job.
        return Ok(());
    }
    if !work.enabled {
        store::fail_unattempted(&deps.db, job.delivery_id, "the endpoint is disabled")
            .await
            .map_err(store_err)?;
        return Ok(());
    }
    // A key that cannot open the secret will not open it on a retry either.
    let secrets = work
        .secrets(&deps.credentials_key)
        .map_err(JobError::permanent)?;
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let timestamp = Utc::now().timestamp();
    let payload = body(&work.event_type, work.event_at, &work.data);
    let signature = signature_header(&secrets, &work.msg_id, timestamp, payload.as_bytes())
        .map_err(JobError::permanent)?;
    let answer = client
        .post(&work.url, &work.msg_id, timestamp, &signature, payload)
        .await;

    let settings = &deps.broker.settings().webhooks;
    let outcome = answer.status.map_or(Verdict::Failed, verdict);
    let now = Utc::now();
    let attempts_done = usize::try_from(work.round_attempts).unwrap_or(0) + 1;
    let mut record = OwnedAttempt {
        delivery_id: job.delivery_id,
        webhook_id: work.webhook_id,
        succeeded: outcome == Verdict::Delivered,
        response_code: answer.status,
        duration_ms: i32::try_from(answer.duration.as_millis()).unwrap_or(i32::MAX),
        response_excerpt: answer.excerpt.clone(),
        error: answer.error.clone(),
        status: "failed",
        next_attempt_at: None,
        disable: None,
    };
    let mut retry = None;
    match outcome {
        Verdict::Delivered => record.status = "delivered",
        Verdict::Gone => record.disable = Some("the endpoint answered 410 Gone".to_owned()),
        Verdict::Failed if should_disable(work.failing_since, now, settings.disable_after()) => {
            record.disable = Some(format!(
                "every attempt failed for {} s or more",
                settings.disable_after_failing_secs
            ));
        }
        Verdict::Failed => {
            retry = next_delay(
                &settings.schedule(),
                attempts_done,
                settings.retry_jitter,
                answer.retry_after,
                rand::random(),
            );
            if let Some(delay) = retry {
                record.status = "pending";
                record.next_attempt_at =
                    Some(now + chrono::Duration::from_std(delay).unwrap_or_default());
            }
        }
    }
    deps.webhook_batches
        .record(record)
        .await
        .map_err(store_err)?;
    let label = match outcome {
        Verdict::Delivered => "delivered",
        Verdict::Gone => "gone",
        Verdict::Failed => "failed",
    };
    metrics::counter!("switchyard_webhook_attempts_total", "outcome" => label).increment(1);
    match retry {
        Some(after) => Err(JobError::RetryAfter {
            message: format!(
                "attempt {attempts_done} failed: {}",
                answer
                    .error
                    .or(answer.status.map(|s| format!("answered {s}")))
                    .unwrap_or_default()
            ),
            after,
        }),
        None => Ok(()),
    }
}
