//! The import-orders worker: pages through a channel's orders changed since its cursor (minus an
//! overlap window), applies the channel's filters, upserts each order idempotently, writes the
//! events it causes to the outbox, and advances the cursor in the same transaction as the page,
//! so a crash replays at most one committed page and never skips one. A channel whose imports
//! fail backs off as one, whichever jobs ask for it, and ends in the dead letters (see
//! [`attempt`]); after `connectors.breaker_failures` failed runs in a row its breaker opens and
//! no import calls the platform until a probe succeeds ([`crate::domain::breaker`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use apalis_core::task::data::Data;
use chrono::{DateTime, Utc};

use super::channel_lock::{follow_up, lock, LockError, LockKind};
use super::Deps;
use crate::config::QueuePolicy;
use crate::connectors::{ConnectorError, SalesChannel};
use crate::domain::breaker::{BreakerPolicy, BreakerState};
use crate::domain::event_type::Action;
use crate::domain::{ImportStart, OrderCursor, OrderPage};
use crate::jobs::{ImportOrders, JobKind};
use crate::queue::{retry_delay, JobError, JobMeta, JobStatus};
use crate::store::channels::ImportChannel;
use crate::store::import_state::{self, Backoff, RunOutcome};
use crate::store::{channels, order_import, orders};

/// How long after a busy channel's running import its follow-up runs, at the earliest.
const FOLLOW_UP: Duration = Duration::from_secs(1);

/// How long the job that carries a failing channel's retries waits for the channel's lock: whoever
/// holds it then is only finding out that it should leave the attempt to this job.
const CARRIER_WAIT: Duration = Duration::from_secs(5);

pub async fn run(
    job: ImportOrders,
    deps: Data<Arc<Deps>>,
    meta: Data<JobMeta>,
) -> Result<(), JobError> {
    let Some(ic) =
        channels::get_for_import(&deps.db, &deps.credentials_key, job.channel_id).await?
    else {
        tracing::info!(
            channel_id = job.channel_id,
            "channel is gone; nothing to import"
        );
        return Ok(());
    };
    if !ic.channel.active {
        return Ok(());
    }
    // One import per channel at a time: the cursor is walked by one run. A request that finds
    // one running leaves a single follow-up behind it rather than holding a worker slot while it
    // waits, so a burst of webhooks costs one extra run, not one blocked slot each. The job that
    // carries a failing channel's retries waits its turn instead: it must not end as done.
    let carrier = import_state::backoff(&deps.db, job.channel_id)
        .await?
        .retry_job
        .is_some_and(|id| id == meta.id);
    let wait = if carrier {
        CARRIER_WAIT
    } else {
        Duration::ZERO
    };
    let guard = match lock(&deps.db, LockKind::Import, job.channel_id, wait).await {
        Ok(guard) => guard,
        Err(LockError::Busy { .. }) if !carrier => {
            let key = follow_up_key(job.channel_id);
            return follow_up(&deps.broker, &job, FOLLOW_UP, key).await;
        }
        Err(e) => return Err(e.into()),
    };
    let result = attempt(&deps, &ic, &job, &meta).await;
    guard.release().await;
    result
}

/// The unique key of a channel's follow-up import: however many requests leave one, one waits.
fn follow_up_key(channel_id: i64) -> String {
    format!("import-followup:{channel_id}")
}

/// Under the channel's lock: imports, unless the channel is backing off from failures, and
/// records how the run went.
///
/// A failing channel's failures are counted on the channel, not on the job, and while one is
/// failing a single job (the one that failed last) makes its attempts: any other job that asks
/// for an import meanwhile leaves it to that one. So however many timers, webhooks and manual
/// requests race, the platform is called once per backoff step, the steps grow, and the job
/// that fails the last attempt of a round goes to the dead letters.
async fn attempt(
    deps: &Deps,
    ic: &ImportChannel,
    job: &ImportOrders,
    meta: &JobMeta,
) -> Result<(), JobError> {
    let channel_id = job.channel_id;
    let backoff = import_state::backoff(&deps.db, channel_id).await?;
    if backoff.retry_job.as_deref() != Some(meta.id.as_str()) {
        if let Some(carrier) = &backoff.retry_job {
            if pending(deps, carrier).await? {
                tracing::info!(
                    channel_id,
                    retry_job = %carrier,
                    failures = backoff.failures,
                    "channel is failing; its pending retry imports for this request too"
                );
                return Ok(());
            }
        }
        if !backoff.wait.is_zero() {
            let key = follow_up_key(channel_id);
            return follow_up(&deps.broker, job, backoff.wait, key).await;
        }
    }
    // A breaker that is not closed lets this one run through, as its probe: one try of the first
    // page, so a platform still down costs one call, not a slot held through page retries.
    let probing = backoff.breaker != BreakerState::Closed;
    let tries = if probing {
        import_state::begin_probe(&deps.db, channel_id).await?;
        tracing::info!(
            channel_id,
            failures = backoff.failures,
            "probing the channel's platform"
        );
        1
    } else {
        PAGE_TRIES
    };
    let (outcome, result) = match import(deps, ic, tries).await {
        Ok(n) => {
            tracing::info!(channel_id, reason = ?job.reason, orders = n, "import finished: orders new or changed");
            (RunOutcome::Success, Ok(()))
        }
        Err(e) => {
            let error = e.to_string();
            let policy = deps.broker.settings().policy(ImportOrders::QUEUE);
            let (backoff, e) = after_failure(
                &policy,
                &deps.breaker,
                backoff.failures,
                e,
                &meta.id,
                rand::random(),
            );
            (RunOutcome::Failed { error, backoff }, Err(e))
        }
    };
    // Recorded under the lock: the next run's first page would otherwise hold the row, and the
    // next job must see this run's backoff.
    match import_state::record_run(&deps.db, channel_id, &outcome).await {
        Ok(moved) => breaker_moved(channel_id, moved),
        Err(e) => tracing::warn!(channel_id, error = %e, "could not record the import run"),
    }
    // An open breaker's probe is due whether or not anything asks for an import by then.
    if let RunOutcome::Failed { backoff, .. } = &outcome {
        if backoff.breaker == BreakerState::Open {
            follow_up(&deps.broker, job, backoff.wait, follow_up_key(channel_id)).await?;
        }
    }
    result
}

/// Logs and counts a move of channel `channel_id`'s breaker.
fn breaker_moved(channel_id: i64, moved: Option<Action>) {
    let to = match moved {
        Some(Action::BreakerOpened) => {
            tracing::warn!(channel_id, "the channel's import breaker opened");
            "open"
        }
        Some(Action::BreakerClosed) => {
            tracing::info!(channel_id, "the channel's import breaker closed");
            "closed"
        }
        _ => return,
    };
    metrics::counter!("switchyard_channel_breaker_moves_total", "to" => to).increment(1);
}

/// Whether import job `id` is still to run: waiting, retrying, or running now.
async fn pending(deps: &Deps, id: &str) -> Result<bool, JobError> {
    let queue_err = |e: crate::queue::QueueError| JobError::retry(format!("queue: {e}"));
    let job = deps
        .broker
        .queue(ImportOrders::QUEUE)
        .map_err(queue_err)?
        .job(id)
        .await
        .map_err(queue_err)?;
    Ok(job.is_some_and(|j| {
        matches!(
            j.status,
            JobStatus::Scheduled | JobStatus::Ready | JobStatus::Retrying | JobStatus::Running
        )
    }))
}

/// What a failed run leads to: the channel's backoff, and the error job `job_id` ends its attempt
/// with. `unit` spreads the delay as the queue's jitter does.
///
/// Failures count per channel in rounds of the queue's `max_attempts`. Within a round the job
/// retries after the queue's exponential backoff for the round's attempt number (or the
/// platform's `Retry-After`, if longer), and carries the channel's next attempt. The failure that
/// ends a round, or a permanent one, gives up: the job goes to the dead letters, and the next
/// import starts a new round no sooner than the last delay.
///
/// The failure that makes `breaker.failures` in a row opens the channel's breaker (and a failed
/// probe opens it again): the job gives up, and no import calls the platform until the
/// breaker's wait is over.
fn after_failure(
    policy: &QueuePolicy,
    breaker: &BreakerPolicy,
    failures_before: u32,
    error: JobError,
    job_id: &str,
    unit: f64,
) -> (Backoff, JobError) {
    let failures = failures_before.saturating_add(1);
    let max = policy.max_attempts.max(1);
    let in_round = (failures - 1) % max + 1;
    let (message, permanent, hint) = match error {
        JobError::Permanent(m) => (m, true, None),
        JobError::Retry(m) => (m, false, None),
        JobError::RetryAfter { message, after } => (message, false, Some(after)),
    };
    if breaker.trips(failures) {
        let wait = breaker.open_for(failures).max(hint.unwrap_or_default());
        let backoff = Backoff {
            failures,
            retry_job: None,
            wait,
            breaker: BreakerState::Open,
        };
        let message = format!(
            "{message} ({failures} failed imports in a row; the channel's breaker is open for \
             {} s)",
            wait.as_secs()
        );
        return (backoff, JobError::Permanent(message));
    }
    let wait = retry_delay(policy, in_round, None, unit).max(hint.unwrap_or_default());
    if permanent || in_round >= max {
        let message = match failures {
            1 => message,
            n => format!("{message} ({n} failed imports in a row)"),
        };
        let backoff = Backoff {
            failures,
            retry_job: None,
            wait,
            breaker: BreakerState::Closed,
        };
        return (backoff, JobError::Permanent(message));
    }
    let backoff = Backoff {
        failures,
        retry_job: Some(job_id.to_owned()),
        wait,
        breaker: BreakerState::Closed,
    };
    (
        backoff,
        JobError::RetryAfter {
            message,
            after: wait,
        },
    )
}

/// How long a stock reconciliation waits for a running import of its channel before it runs its
/// own: the running one may have read its pages before the reconciliation read the listings.
const RECONCILE_WAIT: Duration = Duration::from_secs(10);

/// Imports the channel's orders now, under its import lock: what a stock reconciliation does
/// between reading the channel's listings and comparing them (`super::reconcile_stock`), so every
/// sale the channel had counted by then is counted by switchyard too.
///
/// A channel backing off from failing imports is not called: the caller comes back after the
/// backoff. A failure here fails the caller's run and is not counted on the channel, whose own
/// import jobs keep its backoff.
pub(super) async fn import_now(deps: &Deps, ic: &ImportChannel) -> Result<usize, JobError> {
    let channel_id = ic.channel.id;
    let guard = lock(&deps.db, LockKind::Import, channel_id, RECONCILE_WAIT).await?;
    let result = import_unless_backing_off(deps, ic).await;
    guard.release().await;
    result
}

/// [`import_now`] under the lock.
async fn import_unless_backing_off(deps: &Deps, ic: &ImportChannel) -> Result<usize, JobError> {
    let channel_id = ic.channel.id;
    let backoff = import_state::backoff(&deps.db, channel_id).await?;
    if !backoff.wait.is_zero() {
        return Err(JobError::RetryAfter {
            message: format!(
                "channel {channel_id}'s imports are failing ({} in a row); its orders cannot be \
                 brought up to date yet",
                backoff.failures
            ),
            after: backoff.wait,
        });
    }
    let n = import(deps, ic, PAGE_TRIES).await?;
    match import_state::record_run(&deps.db, channel_id, &RunOutcome::Success).await {
        Ok(moved) => breaker_moved(channel_id, moved),
        Err(e) => tracing::warn!(channel_id, error = %e, "could not record the import run"),
    }
    Ok(n)
}

/// Where this walk starts: see [`start_from`].
async fn start_cursor(deps: &Deps, ic: &ImportChannel) -> Result<OrderCursor, JobError> {
    let saved = import_state::load_cursor(&deps.db, ic.channel.id).await?;
    let overlap = chrono::Duration::from_std(deps.import_overlap).unwrap_or_default();
    Ok(start_from(
        saved,
        overlap,
        &ic.channel.settings.import_start,
        Utc::now(),
    ))
}

/// Where a walk starting at `now` reads from: the saved checkpoint less the overlap window, or,
/// before the channel's first committed page, its `import_start` (never the whole history: a
/// shop connected with years of orders would import, and reserve stock for, all of them).
fn start_from(
    saved: Option<OrderCursor>,
    overlap: chrono::Duration,
    import_start: &ImportStart,
    now: DateTime<Utc>,
) -> OrderCursor {
    match saved {
        Some(OrderCursor::Since(Some(t))) => OrderCursor::Since(Some(t - overlap)),
        _ => OrderCursor::Since(Some(import_start.start(now))),
    }
}

/// Walks every page, each read up to `tries` times; returns how many orders it stored new or
/// changed (those re-read and held as they are do not count, nor do the overlap's).
async fn import(deps: &Deps, ic: &ImportChannel, tries: u32) -> Result<usize, JobError> {
    let channel = &ic.channel;
    let connector = deps.connector(ic).map_err(JobError::from)?;
    let walk_started = Utc::now();
    let mut cursor = start_cursor(deps, ic).await?;
    // The overlap re-reads orders already held; the connector need not read those in full.
    let known = match &cursor {
        OrderCursor::Since(Some(since)) => {
            orders::channel_versions_since(&deps.db, channel.id, *since).await?
        }
        _ => HashMap::new(),
    };
    let mut checkpoint: Option<DateTime<Utc>> = None;
    let mut stored = 0;
    loop {
        let page = read_page(connector.as_ref(), &cursor, &known, tries)
            .await
            .map_err(JobError::from)?;
        // Page-numbered listings can shift under a walk, so never checkpoint past its start.
        if let Some(t) = page.max_updated_at() {
            checkpoint = Some(checkpoint.map_or(t, |c| c.max(t)).min(walk_started));
        }
        stored += order_import::store_page(&deps.db, ic, &page.orders, checkpoint).await?;
        match page.next {
            Some(next) => cursor = next,
            None => return Ok(stored),
        }
    }
}

/// Tries per page before the job itself fails (a breaker's probe makes one).
const PAGE_TRIES: u32 = 5;

/// Reads one page, retrying a transient failure up to `max_tries` in all: a read is safe to
/// repeat, and failing the job instead would restart a long walk for one bad page.
async fn read_page(
    connector: &dyn SalesChannel,
    cursor: &OrderCursor,
    known: &HashMap<String, DateTime<Utc>>,
    max_tries: u32,
) -> Result<OrderPage, ConnectorError> {
    let mut pause = Duration::from_millis(200);
    let mut tries = 1;
    loop {
        match connector.list_orders_since_known(cursor, known).await {
            Err(e) if e.is_retryable() && tries < max_tries => {
                let wait = match &e {
                    ConnectorError::RateLimited { retry_after, .. } => *retry_after,
                    _ => pause,
                };
                tracing::debug!(error = %e, tries, "page read failed; trying again");
                tokio::time::sleep(wait.min(Duration::from_secs(10))).await;
                pause *= 2;
                tries += 1;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(max_attempts: u32) -> QueuePolicy {
        QueuePolicy {
            concurrency: 1,
            batch_size: 1,
            lease_secs: 30,
            max_attempts,
            backoff_base_ms: 1000,
            backoff_cap_ms: 60_000,
            backoff_jitter: 0.0,
            done_retention_secs: 1,
            done_retention_count: 1,
            dead_retention_secs: 1,
            dead_retention_count: 1,
            promote_chunk: 1,
        }
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn a_first_walk_starts_at_the_import_start_and_a_later_one_at_the_checkpoint_less_the_overlap()
    {
        let now = at("2026-12-05T12:00:00Z");
        let overlap = chrono::Duration::seconds(120);
        let week = ImportStart::Days(7);
        assert_eq!(
            start_from(None, overlap, &week, now),
            OrderCursor::Since(Some(at("2026-11-28T12:00:00Z"))),
            "a new channel reads seven days, not its whole history"
        );
        let since = ImportStart::Since(at("2026-11-01T00:00:00Z"));
        assert_eq!(
            start_from(None, overlap, &since, now),
            OrderCursor::Since(Some(at("2026-11-01T00:00:00Z")))
        );
        let saved = Some(OrderCursor::Since(Some(at("2026-12-05T11:59:00Z"))));
        assert_eq!(
            start_from(saved, overlap, &week, now),
            OrderCursor::Since(Some(at("2026-12-05T11:57:00Z"))),
            "once the channel has a cursor, the import start no longer applies"
        );
        assert_eq!(
            start_from(Some(OrderCursor::Since(None)), overlap, &week, now),
            OrderCursor::Since(Some(at("2026-11-28T12:00:00Z")))
        );
    }

    /// A breaker that never opens, for the tests of the rounds before it does.
    const NO_BREAKER: BreakerPolicy = BreakerPolicy {
        failures: u32::MAX,
        probe_wait: Duration::from_secs(60),
        probe_wait_cap: Duration::from_secs(3600),
    };

    #[test]
    fn the_failure_that_reaches_the_threshold_opens_the_breaker_and_gives_up() {
        let p = policy(8);
        let breaker = BreakerPolicy {
            failures: 3,
            ..NO_BREAKER
        };
        let (b, e) = after_failure(&p, &breaker, 1, unavailable(), "job-a", 0.5);
        assert_eq!(
            (b.breaker, b.retry_job.as_deref()),
            (BreakerState::Closed, Some("job-a"))
        );
        assert!(matches!(e, JobError::RetryAfter { .. }), "{e:?}");
        let (b, e) = after_failure(&p, &breaker, 2, unavailable(), "job-a", 0.5);
        assert_eq!(
            (b.failures, b.breaker, b.retry_job, b.wait),
            (3, BreakerState::Open, None, Duration::from_secs(60))
        );
        assert!(
            matches!(e, JobError::Permanent(ref m)
                if m == "channel unavailable: 503 (3 failed imports in a row; the channel's \
                         breaker is open for 60 s)"),
            "{e:?}"
        );
        // A failed probe opens it again for twice as long; a longer Retry-After wins.
        let (b, _) = after_failure(&p, &breaker, 3, unavailable(), "job-b", 0.5);
        assert_eq!(
            (b.breaker, b.wait),
            (BreakerState::Open, Duration::from_secs(120))
        );
        let limited = JobError::RetryAfter {
            message: "rate limited".into(),
            after: Duration::from_secs(600),
        };
        let (b, _) = after_failure(&p, &breaker, 3, limited, "job-b", 0.5);
        assert_eq!(b.wait, Duration::from_secs(600));
    }

    fn unavailable() -> JobError {
        JobError::retry("channel unavailable: 503")
    }

    #[test]
    fn failures_of_a_channel_back_off_and_give_up_at_the_end_of_a_round() {
        let p = policy(3);
        let (b, e) = after_failure(&p, &NO_BREAKER, 0, unavailable(), "job-a", 0.5);
        assert_eq!(
            (b.failures, b.retry_job.as_deref(), b.wait),
            (1, Some("job-a"), Duration::from_secs(1))
        );
        assert!(
            matches!(e, JobError::RetryAfter { ref message, after }
                if message == "channel unavailable: 503" && after == b.wait),
            "{e:?}"
        );
        let (b, _) = after_failure(&p, &NO_BREAKER, 1, unavailable(), "job-a", 0.5);
        assert_eq!(b.wait, Duration::from_secs(2));
        // The third failure in a row ends the round: the job gives up, nobody carries a retry,
        // and the next import waits at least the last delay.
        let (b, e) = after_failure(&p, &NO_BREAKER, 2, unavailable(), "job-a", 0.5);
        assert_eq!(
            (b.failures, b.retry_job, b.wait),
            (3, None, Duration::from_secs(4))
        );
        assert!(
            matches!(e, JobError::Permanent(ref m)
                if m == "channel unavailable: 503 (3 failed imports in a row)"),
            "{e:?}"
        );
        // The next round starts from the first delay again, still counting the failures.
        let (b, e) = after_failure(&p, &NO_BREAKER, 3, unavailable(), "job-b", 0.5);
        assert_eq!(
            (b.failures, b.retry_job.as_deref(), b.wait),
            (4, Some("job-b"), Duration::from_secs(1))
        );
        assert!(matches!(e, JobError::RetryAfter { .. }), "{e:?}");
    }

    #[test]
    fn a_longer_retry_after_wins_and_a_permanent_error_gives_up_at_once() {
        let p = policy(5);
        let limited = JobError::RetryAfter {
            message: "rate limited".into(),
            after: Duration::from_secs(30),
        };
        let (b, _) = after_failure(&p, &NO_BREAKER, 0, limited, "job-a", 0.5);
        assert_eq!(b.wait, Duration::from_secs(30));
        // A short one does not shorten the backoff.
        let hurried = JobError::RetryAfter {
            message: "rate limited".into(),
            after: Duration::from_millis(10),
        };
        let (b, _) = after_failure(&p, &NO_BREAKER, 2, hurried, "job-a", 0.5);
        assert_eq!(b.wait, Duration::from_secs(4));
        let (b, e) = after_failure(
            &p,
            &NO_BREAKER,
            0,
            JobError::permanent("bad key"),
            "job-a",
            0.5,
        );
        assert_eq!((b.failures, b.retry_job), (1, None));
        assert!(
            matches!(e, JobError::Permanent(ref m) if m == "bad key"),
            "{e:?}"
        );
    }
}
