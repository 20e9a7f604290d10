//! The apalis backend: feeds a worker from one Redis queue.
//!
//! One fetch leases a batch of jobs in a single script call. When the queue has nothing ready the
//! backend blocks on the queue's small wake list (every enqueue pushes a token), bounded by the
//! time the next scheduled job falls due, so an idle worker starts new work within a round trip
//! instead of at its next poll. Leases of held jobs are renewed in the background; a worker that
//! dies stops renewing and its jobs go back to the queue when their leases expire. A reaper
//! promotes due jobs and takes back expired leases every second whether or not this worker
//! fetches, so a busy worker does not hold up rescue. Fetched jobs that have not started are
//! handed back when the worker stops, or at once when its pool begins to shut down.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use super::conn::Connection;
use apalis_core::backend::finalize::Ephemeral;
use apalis_core::backend::{Backend, BackendConfig};
use apalis_core::task::builder::TaskBuilder;
use apalis_core::task::task_id::TaskId;
use apalis_core::task::Task;
use apalis_core::worker::context::WorkerContext;
use backon::Retryable;
use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
use tokio::task::JoinHandle;

use super::ack::AckLayer;
use super::backoff::{redis_retry, REDIS_RETRY_MAX_PAUSE};
use super::client::Queue;
use super::error::QueueError;
use super::job::{FetchedJob, JobMeta};
use crate::config::QueuePolicy;

/// The longest an idle worker blocks before it looks again (for due scheduled jobs and expired
/// leases, which no enqueue announces).
const MAX_IDLE_WAIT: Duration = Duration::from_secs(1);

/// How often each worker promotes its queue's due jobs and takes back its expired leases.
const REAP_EVERY: Duration = Duration::from_secs(1);

/// How long a stopping worker waits for a fetch already sent to Redis, to hand its jobs back.
const FETCH_SETTLE: Duration = Duration::from_secs(5);

/// Jobs this worker has leased and not yet finished: renewed until acked, failed or released.
pub(crate) type Held = Arc<Mutex<HashMap<String, u32>>>;

/// A worker's identity in job records: host, process and a random suffix.
#[derive(Debug, Clone)]
pub struct WorkerId(pub String);

impl WorkerId {
    pub fn generate(queue: &str) -> WorkerId {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "local".to_owned());
        WorkerId(format!(
            "{queue}@{host}:{}:{}",
            std::process::id(),
            ulid::Ulid::new().to_string().get(20..).unwrap_or_default()
        ))
    }
}

/// The jobs a worker has fetched (and leased) but not started. Cheap to clone: the backend, its
/// fetches and its pool share one, and whichever stops first hands the jobs back.
#[derive(Clone)]
pub struct Unstarted {
    queue: Queue,
    held: Held,
    buffer: Arc<Mutex<Buffer>>,
}

#[derive(Default)]
struct Buffer {
    jobs: VecDeque<FetchedJob>,
    /// Handing back has begun: no fetch starts, and one that ends hands its jobs back itself.
    closed: bool,
    /// A fetch script is on its way to Redis and may be leasing jobs to this worker.
    fetching: bool,
}

impl Unstarted {
    fn new(queue: Queue, held: Held) -> Unstarted {
        Unstarted {
            queue,
            held,
            buffer: Arc::default(),
        }
    }

    fn buffer(&self) -> MutexGuard<'_, Buffer> {
        // A panic elsewhere while holding the lock leaves the buffer as consistent as ever.
        self.buffer.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn pop(&self) -> Option<FetchedJob> {
        self.buffer().jobs.pop_front()
    }

    fn is_closed(&self) -> bool {
        self.buffer().closed
    }

    fn is_fetching(&self) -> bool {
        self.buffer().fetching
    }

    /// Marks a fetch as sent, unless handing back has begun. Returns whether it may go ahead.
    fn begin_fetch(&self) -> bool {
        let mut b = self.buffer();
        b.fetching = !b.closed;
        b.fetching
    }

    /// Keeps a fetch's jobs for the worker, or, once handing back has begun, hands them back.
    async fn end_fetch(&self, jobs: Vec<FetchedJob>) {
        let late = {
            let mut b = self.buffer();
            if !b.closed {
                if let Ok(mut h) = self.held.lock() {
                    h.extend(jobs.iter().map(|j| (j.id.clone(), j.attempt)));
                }
                b.jobs.extend(jobs);
                b.fetching = false;
                return;
            }
            jobs
        };
        // Still marked as fetching while these go back, so a closing worker waits for them.
        self.release(late).await;
        self.buffer().fetching = false;
    }

    /// Hands every unstarted job back to its queue, unleased and with its attempt uncounted, and
    /// makes a fetch still under way hand back what it leases. Safe to call more than once.
    pub async fn hand_back(&self) {
        let jobs: Vec<FetchedJob> = {
            let mut b = self.buffer();
            b.closed = true;
            b.jobs.drain(..).collect()
        };
        self.release(jobs).await;
    }

    async fn release(&self, jobs: Vec<FetchedJob>) {
        if jobs.is_empty() {
            return;
        }
        let pairs: Vec<(String, u32)> = jobs.iter().map(|j| (j.id.clone(), j.attempt)).collect();
        let queue = &self.queue;
        match (|| queue.release(&pairs))
            .retry(redis_retry(queue.policy()))
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                queue = queue.name(),
                released = n,
                "handed back unstarted jobs"
            ),
            Err(e) => tracing::warn!(
                queue = queue.name(),
                error = %e,
                "could not hand back unstarted jobs; their leases will expire"
            ),
        }
        if let Ok(mut h) = self.held.lock() {
            for (id, _) in &pairs {
                h.remove(id);
            }
        }
    }
}

/// Background tasks of a running worker, stopped when it is dropped.
struct Chores(Vec<JoinHandle<()>>);

impl Drop for Chores {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

pub struct RedisBackend<Args> {
    queue: Queue,
    worker: WorkerId,
    batch: usize,
    held: Held,
    unstarted: Unstarted,
    fetching: Option<JoinHandle<()>>,
    wait_conn: Arc<tokio::sync::Mutex<Option<Connection>>>,
    chores: Option<Chores>,
    closing: Option<BoxFuture<'static, ()>>,
    _args: PhantomData<fn() -> Args>,
}

impl<Args> RedisBackend<Args> {
    pub fn new(queue: Queue) -> RedisBackend<Args> {
        // Jobs beyond the free slots wait in the buffer, leased and renewed, until a slot frees
        // or shutdown hands them back.
        let batch = queue.policy().batch_size.max(1);
        let held = Held::default();
        RedisBackend {
            worker: WorkerId::generate(queue.name()),
            unstarted: Unstarted::new(queue.clone(), held.clone()),
            queue,
            batch,
            held,
            fetching: None,
            wait_conn: Arc::default(),
            chores: None,
            closing: None,
            _args: PhantomData,
        }
    }

    pub fn queue(&self) -> &Queue {
        &self.queue
    }

    pub fn worker_id(&self) -> &WorkerId {
        &self.worker
    }

    /// The worker's fetched but unstarted jobs, for handing them back when shutdown begins
    /// rather than when running jobs have finished.
    pub fn unstarted(&self) -> Unstarted {
        self.unstarted.clone()
    }

    fn start_chores(&mut self) {
        self.chores = Some(Chores(vec![
            tokio::spawn(renew_leases(self.queue.clone(), self.held.clone())),
            tokio::spawn(reap(self.queue.clone())),
        ]));
    }

    fn spawn_fetch(&self) -> JoinHandle<()> {
        let (unstarted, worker, batch) =
            (self.unstarted.clone(), self.worker.0.clone(), self.batch);
        let wait_conn = self.wait_conn.clone();
        // A task of its own, so a fetch runs to its end even when nobody waits for it any more:
        // the jobs it leases reach the buffer or go back to the queue, never stay leased to no one.
        tokio::spawn(async move {
            let jobs = fetch_loop(&unstarted, &worker, batch, &wait_conn).await;
            unstarted.end_fetch(jobs).await;
        })
    }
}

impl<Args> Drop for RedisBackend<Args> {
    fn drop(&mut self) {
        // Dropped without closing (its pool gave up waiting on running jobs): jobs still waiting
        // in the worker go back now, and a fetch under way hands back its own.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let unstarted = self.unstarted.clone();
            runtime.spawn(async move { unstarted.hand_back().await });
        }
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Renews the leases of held jobs every third of a lease. A renewal that fails (Redis away) is
/// tried again within a second rather than a third of a lease later, so the leases outlive a
/// short outage.
async fn renew_leases(queue: Queue, held: Held) {
    let every = queue.policy().lease() / 3;
    let mut next = every;
    loop {
        tokio::time::sleep(next).await;
        let jobs: Vec<(String, u32)> = match held.lock() {
            Ok(h) => h.iter().map(|(id, a)| (id.clone(), *a)).collect(),
            Err(_) => return,
        };
        next = match queue.renew(&jobs).await {
            Ok(_) => every,
            Err(e) => {
                tracing::warn!(queue = queue.name(), error = %e, "lease renewal failed");
                every.min(REDIS_RETRY_MAX_PAUSE)
            }
        };
    }
}

/// Promotes due jobs and takes back expired leases every [`REAP_EVERY`], bounded chunks each
/// time, whether or not any worker fetches.
async fn reap(queue: Queue) {
    let mut tick = tokio::time::interval(REAP_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = queue.reap().await {
            // The fetch loop reports an outage; this would only repeat it every second.
            tracing::debug!(queue = queue.name(), error = %e, "reaping failed");
        }
    }
}

/// Fetches until there is work, sleeping on the wake list in between. Redis errors are logged and
/// retried with a growing pause of at most a second: a Redis restart delays work by no more than
/// that once Redis answers again. Returns nothing once handing back has begun.
async fn fetch_loop(
    unstarted: &Unstarted,
    worker: &str,
    batch: usize,
    wait_conn: &tokio::sync::Mutex<Option<Connection>>,
) -> Vec<FetchedJob> {
    const FIRST_PAUSE: Duration = Duration::from_millis(50);
    let queue = &unstarted.queue;
    let mut pause = FIRST_PAUSE;
    loop {
        if !unstarted.begin_fetch() {
            return Vec::new();
        }
        let wait = match queue.fetch(batch, worker).await {
            Ok((jobs, _, _)) if !jobs.is_empty() => return jobs,
            Ok((_, next_due, paused)) => {
                unstarted.end_fetch(Vec::new()).await;
                pause = FIRST_PAUSE;
                match next_due {
                    Some(due) if !paused => {
                        Duration::from_millis((due - now_ms()).clamp(1, 1000) as u64)
                    }
                    _ => MAX_IDLE_WAIT,
                }
            }
            Err(e) => {
                unstarted.end_fetch(Vec::new()).await;
                tracing::warn!(queue = queue.name(), error = %e, "fetch failed; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(REDIS_RETRY_MAX_PAUSE);
                continue;
            }
        };
        if unstarted.is_closed() {
            return Vec::new();
        }
        if let Err(e) = wait_for_work(queue, wait_conn, wait).await {
            tracing::warn!(queue = queue.name(), error = %e, "waiting for work failed");
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(REDIS_RETRY_MAX_PAUSE);
        }
    }
}

async fn wait_for_work(
    queue: &Queue,
    slot: &tokio::sync::Mutex<Option<Connection>>,
    wait: Duration,
) -> Result<(), QueueError> {
    let mut slot = slot.lock().await;
    let conn = match slot.as_mut() {
        Some(conn) => conn,
        None => slot.insert(queue.broker().blocking_conn(MAX_IDLE_WAIT).await?),
    };
    if let Err(e) = queue.wait_for_work(conn, wait).await {
        *slot = None;
        return Err(e);
    }
    Ok(())
}

fn build_task<Args>(args: Args, job: &FetchedJob, max_attempts: u32) -> Task<Args> {
    TaskBuilder::new(args)
        .task_id(TaskId::from_string(job.id.clone()))
        .attempt(job.attempt as usize)
        .max_attempts(max_attempts as usize)
        .data(JobMeta {
            id: job.id.clone(),
            attempt: job.attempt,
            enqueued_at_ms: job.enqueued_at_ms,
            run_at_ms: job.run_at_ms,
        })
        .build()
}

impl<Args: DeserializeOwned + Send + 'static> Backend for RedisBackend<Args> {
    type Task = Task<Args>;
    type Error = QueueError;

    fn poll_ready(
        &mut self,
        _: &mut Context<'_>,
        _: &WorkerContext,
    ) -> Poll<Result<(), QueueError>> {
        Poll::Ready(Ok(()))
    }

    fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        _: &WorkerContext,
    ) -> Poll<Option<Result<Task<Args>, QueueError>>> {
        if self.chores.is_none() {
            self.start_chores();
        }
        loop {
            if let Some(job) = self.unstarted.pop() {
                match serde_json::from_str::<Args>(&job.payload) {
                    Ok(args) => {
                        let task = build_task(args, &job, self.queue.policy().max_attempts);
                        return Poll::Ready(Some(Ok(task)));
                    }
                    Err(e) => {
                        // A payload the worker cannot read will never succeed: dead-letter it.
                        if let Ok(mut h) = self.held.lock() {
                            h.remove(&job.id);
                        }
                        let queue = self.queue.clone();
                        let msg = format!("payload does not match the queue's job type: {e}");
                        tokio::spawn(async move {
                            if let Err(e) = queue
                                .fail(&job.id, job.attempt, &msg, true, Duration::ZERO)
                                .await
                            {
                                tracing::warn!(error = %e, "could not dead-letter an unreadable job");
                            }
                        });
                        continue;
                    }
                }
            }
            if self.unstarted.is_closed() {
                // Handed back: this worker takes no more jobs.
                return Poll::Ready(None);
            }
            if self.fetching.is_none() {
                self.fetching = Some(self.spawn_fetch());
            }
            let Some(fetching) = self.fetching.as_mut() else {
                return Poll::Pending;
            };
            match Pin::new(fetching).poll(cx) {
                Poll::Pending => return Poll::Pending,
                // The fetch's jobs are in the buffer now (or, had it panicked, nowhere new).
                Poll::Ready(_) => self.fetching = None,
            }
        }
    }

    /// Called once every running job has finished: hands unstarted jobs back, unleased and with
    /// their attempt uncounted, and stops renewing.
    fn poll_close(
        &mut self,
        cx: &mut Context<'_>,
        _: &WorkerContext,
    ) -> Poll<Result<(), QueueError>> {
        if self.closing.is_none() {
            let unstarted = self.unstarted.clone();
            let fetching = self.fetching.take();
            let chores = self.chores.take();
            self.closing = Some(Box::pin(async move {
                unstarted.hand_back().await;
                if let Some(fetch) = fetching {
                    if unstarted.is_fetching() {
                        // A fetch script in flight may be leasing jobs to us; it hands them back
                        // once its answer arrives.
                        let _ = tokio::time::timeout(FETCH_SETTLE, fetch).await;
                    } else {
                        // Only waiting for work, holding nothing, and it can start no fetch now.
                        fetch.abort();
                    }
                }
                drop(chores);
            }));
        }
        match self.closing.as_mut() {
            Some(closing) => closing.as_mut().poll(cx).map(Ok),
            None => Poll::Ready(Ok(())),
        }
    }
}

impl<Args> BackendConfig for RedisBackend<Args> {
    type Args = Args;
    type Id = ulid::Ulid;
    type Kind = Ephemeral;
    type Config = QueuePolicy;
    type Layer = AckLayer;

    fn config(&self) -> &QueuePolicy {
        self.queue.policy()
    }

    fn middleware(&mut self, _: &mut WorkerContext) -> AckLayer {
        AckLayer::new(self.queue.clone(), self.held.clone())
    }
}
