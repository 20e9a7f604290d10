//! The deliver-webhook worker: signs deliveries (Standard Webhooks, one signature per secret that
//! signs now), POSTs them, and records each attempt.
//!
//! A fan-out's deliveries to one endpoint share a job for their first attempt and are sent side
//! by side (the HTTP client caps how many requests are in flight). Each later attempt of a
//! delivery is a job of its own, named by the delivery and the attempt's number and queued, once
//! the failed attempt is recorded, with the schedule's (jittered) delay or the receiver's longer
//! `Retry-After`. That key makes queueing it idempotent: a job that runs again after a crash
//! finds its attempt already recorded and only makes sure the next one is queued. A job whose
//! attempt is not the delivery's next one (a duplicate, or a replay restarted the round since)
//! does nothing. The delivery row says where in the schedule it is (`round_attempts`).

use std::cmp::Ordering;
use std::sync::Arc;
use std::time::Duration;

use apalis_core::task::data::Data;
use chrono::{DateTime, Utc};

use super::Deps;
use crate::domain::webhook_schedule::{next_delay, should_disable, verdict, Verdict};
use crate::jobs::{DeliverWebhook, JobKind};
use crate::queue::{EnqueueOptions, JobError};
use crate::store::webhooks::{self as store, OwnedAttempt};
use crate::webhooks::{body, WebhookClient};

pub async fn run(job: DeliverWebhook, deps: Data<Arc<Deps>>) -> Result<(), JobError> {
    let Some(client) = deps.webhooks.as_ref() else {
        return Err(JobError::retry(
            "the webhook client could not be built; see the start-up log",
        ));
    };
    let results = futures::future::join_all(
        job.attempts()
            .into_iter()
            .map(|(delivery_id, attempt)| deliver(&deps, client, delivery_id, attempt)),
    )
    .await;
    // One delivery's failure runs the whole job again; the deliveries it finished are then
    // skipped, since their attempts are recorded.
    let mut permanent = None;
    for result in results {
        match result {
            Ok(()) => {}
            Err(e @ JobError::Permanent(_)) => permanent = permanent.or(Some(e)),
            Err(e) => return Err(e),
        }
    }
    permanent.map_or(Ok(()), Err)
}

/// Makes attempt `attempt` of a delivery (the next one when `None`) if it is the delivery's next.
async fn deliver(
    deps: &Deps,
    client: &WebhookClient,
    delivery_id: i64,
    attempt: Option<i32>,
) -> Result<(), JobError> {
    let Some(work) = deps.webhook_batches.work(delivery_id).await? else {
        // Its webhook was deleted since.
        return Ok(());
    };
    if work.status != "pending" {
        // Delivered or given up on already.
        return Ok(());
    }
    let next = work.round_attempts + 1;
    if let Some(attempt) = attempt {
        match next.cmp(&attempt) {
            Ordering::Equal => {}
            // This attempt was made and recorded, but the job ran again (a crash before its
            // acknowledgement, or before the next attempt was queued): queue that one.
            Ordering::Greater if work.round_attempts == attempt => {
                return queue_attempt(deps, delivery_id, next, work.next_attempt_at).await;
            }
            // Later attempts were made by other jobs, or a replay restarted the round.
            _ => return Ok(()),
        }
    }
    if !work.enabled {
        store::fail_unattempted(&deps.db, delivery_id, "the endpoint is disabled").await?;
        return Ok(());
    }
    // A key that cannot open the secret will not open it on a retry either.
    let secrets = work
        .secrets(&deps.credentials_key)
        .map_err(JobError::permanent)?;
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let payload = body(&work.event_type, work.event_at, &work.data);
    let answer = client
        .send_signed(&work.url, &work.msg_id, &secrets, payload)
        .await
        .map_err(JobError::permanent)?;

    let settings = &deps.broker.settings().webhooks;
    let outcome = answer.status.map_or(Verdict::Failed, verdict);
    let now = Utc::now();
    let mut record = OwnedAttempt {
        delivery_id,
        webhook_id: work.webhook_id,
        succeeded: outcome == Verdict::Delivered,
        response_code: answer.status,
        duration_ms: i32::try_from(answer.duration.as_millis()).unwrap_or(i32::MAX),
        response_excerpt: answer.excerpt,
        error: answer.error,
        status: "failed",
        next_attempt_at: None,
        disable: None,
    };
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
            let delay = next_delay(
                &settings.schedule(),
                usize::try_from(next).unwrap_or(usize::MAX),
                settings.retry_jitter,
                answer.retry_after,
                rand::random(),
            );
            if let Some(delay) = delay {
                record.status = "pending";
                record.next_attempt_at =
                    Some(now + chrono::Duration::from_std(delay).unwrap_or_default());
            }
        }
    }
    let next_at = record.next_attempt_at;
    deps.webhook_batches.record(record).await?;
    let label = match outcome {
        Verdict::Delivered => "delivered",
        Verdict::Gone => "gone",
        Verdict::Failed => "failed",
    };
    metrics::counter!("switchyard_webhook_attempts_total", "outcome" => label).increment(1);
    if next_at.is_some() {
        queue_attempt(deps, delivery_id, next + 1, next_at).await?;
    }
    Ok(())
}

/// Queues attempt `attempt` of a delivery to run at `at`, unless its job is queued already.
async fn queue_attempt(
    deps: &Deps,
    delivery_id: i64,
    attempt: i32,
    at: Option<DateTime<Utc>>,
) -> Result<(), JobError> {
    let delay = at
        .and_then(|at| (at - Utc::now()).to_std().ok())
        .unwrap_or(Duration::ZERO);
    let opts = EnqueueOptions {
        delay: Some(delay),
        unique_key: Some(format!("delivery:{delivery_id}:{attempt}")),
        ..EnqueueOptions::default()
    };
    let job = DeliverWebhook::One {
        delivery_id,
        attempt: Some(attempt),
    };
    deps.broker
        .queue(DeliverWebhook::QUEUE)
        .map_err(JobError::retry)?
        .enqueue(&job, &opts)
        .await
        .map_err(|e| JobError::retry(format!("queueing attempt {attempt}: {e}")))?;
    Ok(())
}
