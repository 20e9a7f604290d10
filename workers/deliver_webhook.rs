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
//!
//! An endpoint has at most `webhooks.max_in_flight_per_endpoint` requests in flight across every
//! process (leases in Redis, one per request sent at once). A delivery that finds its endpoint at the limit does
//! not wait in its worker slot: it goes back to the queue a moment later, as no attempt, so one
//! slow or bursting endpoint cannot take every slot from the others.

use std::cmp::Ordering;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use apalis_core::task::data::Data;
use chrono::{DateTime, Utc};

use super::Deps;
use crate::domain::webhook_schedule::{next_delay, should_disable, verdict, Verdict};
use crate::jobs::{DeliverWebhook, JobKind};
use crate::queue::{EnqueueOptions, JobError, Leases};
use crate::store::webhooks::{self as store, DeliveryWork, OwnedAttempt};
use crate::webhooks::{body, WebhookClient};

pub async fn run(job: DeliverWebhook, deps: Data<Arc<Deps>>) -> Result<(), JobError> {
    let Some(client) = deps.webhooks.as_ref() else {
        return Err(JobError::retry(
            "the webhook client could not be built; see the start-up log",
        ));
    };
    let prepared = futures::future::join_all(
        job.attempts()
            .into_iter()
            .map(|(delivery_id, attempt)| prepare(&deps, delivery_id, attempt)),
    )
    .await;
    let mut errors = Vec::new();
    let mut by_endpoint: BTreeMap<i64, VecDeque<Attempt>> = BTreeMap::new();
    for p in prepared {
        match p {
            Ok(Some(a)) => by_endpoint
                .entry(a.work.webhook_id)
                .or_default()
                .push_back(a),
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
    let sent = futures::future::join_all(
        by_endpoint
            .into_iter()
            .map(|(webhook_id, attempts)| send_within_limit(&deps, client, webhook_id, attempts)),
    )
    .await;
    errors.extend(sent.into_iter().flatten());
    // One delivery's failure runs the whole job again; the deliveries it finished are then
    // skipped, since their attempts are recorded.
    let mut permanent = None;
    for e in errors {
        match e {
            JobError::Permanent(_) => permanent = permanent.or(Some(e)),
            e => return Err(e),
        }
    }
    permanent.map_or(Ok(()), Err)
}

/// One attempt of one delivery, about to be made.
struct Attempt {
    delivery_id: i64,
    /// Its number in the delivery's round.
    next: i32,
    work: DeliveryWork,
}

/// The attempt of a delivery this job is to make now: attempt `attempt` (the next one when
/// `None`) if it is the delivery's next. `None` when there is nothing to send.
async fn prepare(
    deps: &Deps,
    delivery_id: i64,
    attempt: Option<i32>,
) -> Result<Option<Attempt>, JobError> {
    let Some(work) = deps.webhook_batches.work(delivery_id).await? else {
        // Its webhook was deleted since.
        return Ok(None);
    };
    if work.status != "pending" {
        // Delivered or given up on already.
        return Ok(None);
    }
    let next = work.round_attempts + 1;
    if let Some(attempt) = attempt {
        match next.cmp(&attempt) {
            Ordering::Equal => {}
            // This attempt was made and recorded, but the job ran again (a crash before its
            // acknowledgement, or before the next attempt was queued): queue that one.
            Ordering::Greater if work.round_attempts == attempt => {
                queue_attempt(deps, delivery_id, next, work.next_attempt_at).await?;
                return Ok(None);
            }
            // Later attempts were made by other jobs, or a replay restarted the round.
            _ => return Ok(None),
        }
    }
    if !work.enabled {
        store::fail_unattempted(&deps.db, delivery_id, "the endpoint is disabled").await?;
        return Ok(None);
    }
    Ok(Some(Attempt {
        delivery_id,
        next,
        work,
    }))
}

/// The name of endpoint `webhook_id`'s concurrency limit.
fn endpoint_limit(webhook_id: i64) -> String {
    format!("webhook-endpoint:{webhook_id}")
}

/// Makes `attempts` (all to endpoint `webhook_id`) within the endpoint's limit of requests in
/// flight across every process (`webhooks.max_in_flight_per_endpoint`): the job takes as many
/// leases of the limit as it has deliveries, up to what the limit has left, and sends on one lane
/// per lease, each lane one request after another. When the endpoint is at its limit, the
/// deliveries go back to the queue for `webhooks.endpoint_busy_retry_ms`, as no attempt, and the
/// job frees its slot. Returns the deliveries' errors.
async fn send_within_limit(
    deps: &Deps,
    client: &WebhookClient,
    webhook_id: i64,
    attempts: VecDeque<Attempt>,
) -> Vec<JobError> {
    let settings = &deps.broker.settings().webhooks;
    let limit = settings.max_in_flight_per_endpoint.max(1);
    // A lease outlives the requests it covers, however long each waits for this process's
    // in-flight cap, and frees itself soon after if this process dies.
    let per_request =
        Duration::from_millis(settings.connect_timeout_ms + settings.request_timeout_ms) * 2
            + Duration::from_secs(5);
    let name = endpoint_limit(webhook_id);
    let want = attempts.len().min(limit);
    let leases = match deps
        .broker
        .take_leases(&name, want, limit, attempts.len(), per_request)
        .await
    {
        Ok(leases) => leases,
        Err(e) => return vec![JobError::retry(format!("queue: {e}"))],
    };
    if leases.is_empty() {
        tracing::debug!(
            webhook_id,
            deliveries = attempts.len(),
            "the endpoint is at its limit of requests in flight; its deliveries wait"
        );
        metrics::counter!("switchyard_webhook_endpoint_busy_total")
            .increment(attempts.len() as u64);
        return wait_for_endpoint(deps, attempts)
            .await
            .err()
            .into_iter()
            .collect();
    }
    let queue = std::sync::Mutex::new(attempts);
    let take = || queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
    let lane = |lease: Leases| async {
        let mut errors = Vec::new();
        while let Some(attempt) = take() {
            if let Err(e) = send(deps, client, attempt).await {
                errors.push(e);
            }
        }
        if let Err(e) = deps.broker.release_leases(lease).await {
            tracing::warn!(webhook_id, error = %e, "could not release an endpoint lease; it expires by itself");
        }
        errors
    };
    futures::future::join_all(leases.split().into_iter().map(lane))
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// Queues `attempts` again after `webhooks.endpoint_busy_retry_ms` (jittered), each as the
/// attempt it was to be: first attempts together, as the job they came in, later ones each as
/// its own.
async fn wait_for_endpoint(deps: &Deps, attempts: VecDeque<Attempt>) -> Result<(), JobError> {
    let settings = &deps.broker.settings().webhooks;
    let spread = 0.8 + 0.4 * rand::random::<f64>();
    let delay = Duration::from_millis(settings.endpoint_busy_retry_ms).mul_f64(spread);
    let (first, later): (Vec<Attempt>, Vec<Attempt>) =
        attempts.into_iter().partition(|a| a.next == 1);
    let queue = deps
        .broker
        .queue(DeliverWebhook::QUEUE)
        .map_err(JobError::retry)?;
    if !first.is_empty() {
        let job = DeliverWebhook::First {
            delivery_ids: first.iter().map(|a| a.delivery_id).collect(),
        };
        let opts = EnqueueOptions {
            delay: Some(delay),
            ..EnqueueOptions::default()
        };
        queue
            .enqueue(&job, &opts)
            .await
            .map_err(|e| JobError::retry(format!("queueing deliveries again: {e}")))?;
    }
    for a in later {
        let at = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
        queue_attempt(deps, a.delivery_id, a.next, Some(at)).await?;
    }
    Ok(())
}

/// Signs and POSTs one attempt, records it, and queues the next one if the schedule has one.
async fn send(deps: &Deps, client: &WebhookClient, attempt: Attempt) -> Result<(), JobError> {
    let Attempt {
        delivery_id,
        next,
        work,
    } = attempt;
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
