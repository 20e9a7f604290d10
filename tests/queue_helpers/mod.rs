//! Shared harness for the queue tests: brokers on the test's own key prefix, workers that record
//! what they ran, and polling with a deadline.
#![allow(dead_code)]

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use apalis_core::task::data::Data;
use apalis_core::worker::builder::WorkerBuilder;
use serde::{Deserialize, Serialize};
use switchyard::config::{QueuePolicy, Settings};
use switchyard::queue::{
    Broker, EnqueueOptions, Enqueued, JobError, JobMeta, Queue, QueueName, QueueStats, RedisBackend,
};
use tokio::sync::watch;
use tower::limit::ConcurrencyLimitLayer;

pub use crate::app_helpers::Running;
use crate::app_helpers::{run_pool, settings};

pub async fn broker_with(settings: &Settings) -> Broker {
    Broker::connect(settings).await.expect("Redis is running")
}

pub async fn broker() -> Broker {
    broker_with(&settings()).await
}

/// Polls `check` until it yields Some, or panics after `limit` naming `what`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A test job whose handler records each attempt and fails while told to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Probe {
    pub tag: String,
    #[serde(default)]
    pub sleep_ms: u64,
}

pub fn probe(tag: &str, sleep_ms: u64) -> Probe {
    Probe {
        tag: tag.into(),
        sleep_ms,
    }
}

#[derive(Default)]
pub struct ProbeState {
    /// (tag, attempt, when it started)
    pub starts: Mutex<Vec<(String, u32, Instant)>>,
    /// Attempts up to this number fail with a retryable error.
    pub fail_through_attempt: AtomicU32,
    pub finished: AtomicU32,
}

impl ProbeState {
    pub fn starts_of(&self, tag: &str) -> Vec<(u32, Instant)> {
        self.starts
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, _, _)| t == tag)
            .map(|(_, a, i)| (*a, *i))
            .collect()
    }
}

async fn handle_probe(
    job: Probe,
    meta: Data<JobMeta>,
    state: Data<Arc<ProbeState>>,
) -> Result<(), JobError> {
    state
        .starts
        .lock()
        .unwrap()
        .push((job.tag.clone(), meta.attempt, Instant::now()));
    if job.sleep_ms > 0 {
        tokio::time::sleep(Duration::from_millis(job.sleep_ms)).await;
    }
    if meta.attempt <= state.fail_through_attempt.load(Ordering::SeqCst) {
        return Err(JobError::retry(format!(
            "probe failing attempt {}",
            meta.attempt
        )));
    }
    state.finished.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

/// A queue `name` for probes, on the `noop` queue's policy changed by `tune`.
pub fn probe_queue(broker: &Broker, name: &str, tune: impl FnOnce(&mut QueuePolicy)) -> Queue {
    let mut policy = broker.settings().policy("noop");
    tune(&mut policy);
    broker.queue_with_policy(QueueName::parse(name).unwrap(), policy)
}

/// Enqueues `job` on `queue` with the default options.
pub async fn enqueue<T: Serialize>(queue: &Queue, job: &T) -> Enqueued {
    queue
        .enqueue(job, &EnqueueOptions::default())
        .await
        .expect("job enqueued")
}

/// Enqueues `jobs` on `queue` in one go and returns their ids, in order.
pub async fn enqueue_ids<T: Serialize>(
    queue: &Queue,
    jobs: &[T],
    options: &EnqueueOptions,
) -> Vec<String> {
    queue
        .enqueue_bulk(jobs, options)
        .await
        .expect("jobs enqueued")
        .into_iter()
        .map(|e| e.id)
        .collect()
}

pub fn run_probe(queue: &Queue, state: Arc<ProbeState>) -> Running {
    let backend = RedisBackend::<Probe>::new(queue.clone());
    let worker = WorkerBuilder::new(backend.worker_id().0.clone())
        .backend(backend)
        .data(state)
        .layer(ConcurrencyLimitLayer::new(queue.policy().concurrency))
        .build(handle_probe);
    let (stop_tx, mut stop_rx) = watch::channel(false);
    let handle = tokio::spawn(async move {
        worker
            .run_until(async move {
                while !*stop_rx.borrow() {
                    if stop_rx.changed().await.is_err() {
                        break;
                    }
                }
                Ok::<(), std::io::Error>(())
            })
            .await
            .expect("worker runs");
    });
    Running { stop_tx, handle }
}

/// Runs the real `noop` pool of the library until stopped.
pub fn run_noop(broker: &Broker) -> Running {
    run_pool(broker, "noop")
}

/// Waits until job `id` of `queue` has `status`, and returns it.
pub async fn until_status(
    queue: &Queue,
    id: &str,
    status: switchyard::queue::JobStatus,
    limit: Duration,
) -> switchyard::queue::JobInfo {
    eventually(limit, &format!("job {id} to be {status:?}"), || async {
        queue
            .job(id)
            .await
            .expect("job read")
            .filter(|j| j.status == status)
    })
    .await
}

/// Waits until `queue`'s stats satisfy `done`, and returns them.
pub async fn until_stats(
    queue: &Queue,
    limit: Duration,
    what: &str,
    done: impl Fn(&QueueStats) -> bool,
) -> QueueStats {
    eventually(limit, what, || async {
        let stats = queue.stats().await.expect("stats read");
        done(&stats).then_some(stats)
    })
    .await
}

/// The Redis key of a job's record, for tests that damage one on purpose.
pub fn job_key(queue: &Queue, id: &str) -> String {
    let prefix = &queue.broker().settings().redis.key_prefix;
    format!("{{{prefix}:{}}}:job:{id}", queue.name())
}

/// The Redis key of one of a queue's lists or sets (`ready`, `leased`, ...).
pub fn queue_key(queue: &Queue, suffix: &str) -> String {
    let prefix = &queue.broker().settings().redis.key_prefix;
    format!("{{{prefix}:{}}}:{suffix}", queue.name())
}
