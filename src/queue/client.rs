//! The queue client: every operation on a queue is one script call (or one pipeline of them),
//! so a job costs a fixed number of round trips whatever the queue's size.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redis::AsyncCommands;
use serde::Serialize;
use ulid::Ulid;

use super::conn::{Connection, RedisConn, Target};
use super::error::QueueError;
use super::job::{EnqueueOptions, Enqueued, FetchedJob, JobInfo};
use super::keys::{Keys, QueueName};
use super::scripts::Scripts;
use crate::config::{QueuePolicy, RedisSettings, Settings};

/// Most ids a bulk requeue or purge moves per script call.
const BULK_CHUNK: usize = 500;

/// The connection to Redis and the settings every queue is worked with. Cheap to clone.
#[derive(Clone)]
pub struct Broker {
    inner: Arc<BrokerInner>,
}

struct BrokerInner {
    target: Target,
    conn: RedisConn,
    scripts: Scripts,
    settings: Settings,
}

impl Broker {
    pub async fn connect(settings: &Settings) -> Result<Broker, QueueError> {
        let RedisSettings {
            connect_timeout_ms,
            response_timeout_ms,
            ..
        } = &settings.redis;
        let target = Target::from_settings(&settings.redis)?;
        let mut conn = RedisConn::new(
            target.clone(),
            Duration::from_millis(*connect_timeout_ms),
            Duration::from_millis(*response_timeout_ms),
        );
        // Loading the scripts is also the check that Redis is there at all.
        let scripts = Scripts::new();
        for s in scripts.all() {
            s.prepare_invoke().load_async(&mut conn).await?;
        }
        Ok(Broker {
            inner: Arc::new(BrokerInner {
                target,
                conn,
                scripts,
                settings: settings.clone(),
            }),
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// A handle on one queue, with its configured policy.
    pub fn queue(&self, name: &str) -> Result<Queue, QueueError> {
        let name = QueueName::parse(name).ok_or_else(|| QueueError::InvalidQueue(name.into()))?;
        let policy = self.inner.settings.policy(name.as_str());
        Ok(self.queue_with_policy(name, policy))
    }

    pub fn queue_with_policy(&self, name: QueueName, policy: QueuePolicy) -> Queue {
        let keys = Keys::new(&self.inner.settings.redis.key_prefix, &name);
        Queue {
            broker: self.clone(),
            name,
            keys,
            policy,
            registered: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Names of every queue that has been used under this key prefix.
    pub async fn queue_names(&self) -> Result<Vec<String>, QueueError> {
        let mut conn = self.conn();
        let mut names: Vec<String> = conn
            .smembers(Keys::registry(&self.inner.settings.redis.key_prefix))
            .await?;
        names.sort();
        Ok(names)
    }

    /// True when Redis answers a PING.
    pub async fn ping(&self) -> bool {
        let mut conn = self.conn();
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .is_ok()
    }

    /// A shared, multiplexed connection for short commands, each bounded by the response
    /// timeout; made again when lost.
    pub fn conn(&self) -> RedisConn {
        self.inner.conn.clone()
    }

    /// A connection of its own for a worker's blocking waits, which would otherwise hold up
    /// every other command multiplexed on a shared connection.
    pub(crate) async fn blocking_conn(
        &self,
        longest_wait: Duration,
    ) -> Result<Connection, QueueError> {
        let r = &self.inner.settings.redis;
        Ok(self
            .inner
            .target
            .connect(
                Duration::from_millis(r.connect_timeout_ms),
                longest_wait + Duration::from_millis(r.response_timeout_ms),
            )
            .await?)
    }

    pub(super) fn scripts(&self) -> &Scripts {
        &self.inner.scripts
    }
}

/// A handle on one queue. Cheap to clone.
#[derive(Clone)]
pub struct Queue {
    broker: Broker,
    name: QueueName,
    pub(crate) keys: Keys,
    policy: QueuePolicy,
    registered: Arc<AtomicBool>,
}

/// Counters and depths of one queue, read without scanning.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[schema(example = json!({
    "queue": "noop",
    "paused": false,
    "ready": 0,
    "scheduled": 1,
    "running": 0,
    "dead": 1,
    "done_retained": 4,
    "enqueued_total": 6,
    "processed_total": 4,
    "failed_total": 2,
    "retried_total": 1,
    "dead_total": 1,
    "lease_expired_total": 0,
    "processed_last_minute": 0,
    "failed_last_minute": 0,
    "mean_start_latency_ms": 9.333333333333334
}))]
pub struct QueueStats {
    /// The queue's name.
    pub queue: String,
    /// Paused: workers fetch nothing from it; jobs keep arriving and wait.
    pub paused: bool,
    /// Jobs due and waiting for a worker.
    pub ready: u64,
    /// Jobs waiting for their run time or for a retry.
    pub scheduled: u64,
    /// Jobs leased to a worker.
    pub running: u64,
    /// Dead letters held.
    pub dead: u64,
    /// Finished jobs still kept, within the queue's retention.
    pub done_retained: u64,
    /// Jobs ever enqueued.
    pub enqueued_total: u64,
    /// Jobs ever finished successfully.
    pub processed_total: u64,
    /// Attempts ever failed.
    pub failed_total: u64,
    /// Failed attempts ever scheduled to run again.
    pub retried_total: u64,
    /// Jobs ever moved to the dead letters.
    pub dead_total: u64,
    /// Leases ever expired (a worker lost mid-job); the job ran again or went dead.
    pub lease_expired_total: u64,
    /// Jobs finished successfully in the last full minute.
    pub processed_last_minute: u64,
    /// Attempts failed in the last full minute.
    pub failed_last_minute: u64,
    /// Mean enqueue-to-start latency of jobs started in the last full minute and this one; null
    /// when none started.
    pub mean_start_latency_ms: Option<f64>,
}

impl QueueStats {
    pub(crate) fn default_for(queue: &str) -> QueueStats {
        QueueStats {
            queue: queue.to_owned(),
            paused: false,
            ready: 0,
            scheduled: 0,
            running: 0,
            dead: 0,
            done_retained: 0,
            enqueued_total: 0,
            processed_total: 0,
            failed_total: 0,
            retried_total: 0,
            dead_total: 0,
            lease_expired_total: 0,
            processed_last_minute: 0,
            failed_last_minute: 0,
            mean_start_latency_ms: None,
        }
    }
}

/// One minute of a queue's work.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Minute {
    /// Minutes since the Unix epoch.
    pub minute: i64,
    pub enqueued: u64,
    pub processed: u64,
    pub failed: u64,
    pub started: u64,
    /// Mean enqueue-to-start latency of the jobs started in this minute.
    pub mean_start_latency_ms: Option<f64>,
}

/// One page of dead letters, newest first.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = DeadLetterPage, example = json!({
    "jobs": [{
        "id": "01M91KM9H4V62RJF86G5363AG5",
        "queue": "noop",
        "status": "dead",
        "payload": {"permanent": true},
        "attempts": 1,
        "max_attempts": 3,
        "last_error": "noop asked to fail permanently",
        "unique_key": null,
        "enqueued_at": "2026-12-04T22:43:34.053Z",
        "run_at": "2026-12-04T22:43:34.053Z",
        "started_at": "2026-12-04T22:43:34.056Z",
        "finished_at": "2026-12-04T22:43:34.056Z",
        "worker": "noop@local:24261:FS30TV"
    }],
    "next_cursor": null
}))]
pub struct DeadPage {
    /// The dead jobs, each with `status` `dead` and `last_error` saying why.
    pub jobs: Vec<JobInfo>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// The sets of jobs that wait without a worker: what [`Queue::run_now`] and
/// [`Queue::delete_held`] act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// The dead letters.
    Dead,
    /// Jobs waiting for their run time or for a retry.
    Scheduled,
}

impl Held {
    /// The set's name, which is also its key's suffix: `dead` or `scheduled`.
    pub fn as_str(self) -> &'static str {
        match self {
            Held::Dead => "dead",
            Held::Scheduled => "scheduled",
        }
    }

    pub fn parse(name: &str) -> Option<Held> {
        [Held::Dead, Held::Scheduled]
            .into_iter()
            .find(|h| h.as_str() == name)
    }
}

fn now_minute() -> i64 {
    chrono::Utc::now().timestamp() / 60
}

fn protocol(msg: impl Into<String>) -> QueueError {
    QueueError::Protocol(msg.into())
}

impl Queue {
    pub fn name(&self) -> &str {
        self.name.as_str()
    }

    pub fn policy(&self) -> &QueuePolicy {
        &self.policy
    }

    pub fn broker(&self) -> &Broker {
        &self.broker
    }

    fn conn(&self) -> RedisConn {
        self.broker.conn()
    }

    fn prefix(&self) -> &str {
        &self.broker.inner.settings.redis.key_prefix
    }

    async fn register(&self) -> Result<(), QueueError> {
        if !self.registered.load(Ordering::Relaxed) {
            let mut conn = self.conn();
            let _: () = conn
                .sadd(Keys::registry(self.prefix()), self.name.as_str())
                .await?;
            self.registered.store(true, Ordering::Relaxed);
        }
        Ok(())
    }

    fn enqueue_invocation<'a>(
        &'a self,
        inv: &mut redis::ScriptInvocation<'a>,
        id: &str,
        payload: &str,
        opts: &EnqueueOptions,
    ) -> Result<(), QueueError> {
        inv.key(&self.keys.base)
            .arg(id)
            .arg(payload)
            .arg(opts.max_attempts.unwrap_or(self.policy.max_attempts))
            .arg(opts.delay.map_or(0, |d| d.as_millis() as u64))
            .arg(opts.unique_key.as_deref().unwrap_or(""))
            .arg(opts.unique_for.map_or(0, |d| d.as_millis().max(1) as u64))
            .arg(opts.tenant_arg()?);
        Ok(())
    }

    /// Enqueues one job whose payload is already JSON.
    pub async fn enqueue_json(
        &self,
        payload: &str,
        opts: &EnqueueOptions,
    ) -> Result<Enqueued, QueueError> {
        self.register().await?;
        let id = Ulid::new().to_string();
        let mut inv = self.broker.scripts().enqueue.prepare_invoke();
        self.enqueue_invocation(&mut inv, &id, payload, opts)?;
        let (id, created): (String, i64) = inv.invoke_async(&mut self.conn()).await?;
        Ok(Enqueued {
            id,
            created: created == 1,
        })
    }

    pub async fn enqueue<T: Serialize>(
        &self,
        payload: &T,
        opts: &EnqueueOptions,
    ) -> Result<Enqueued, QueueError> {
        self.enqueue_json(&serde_json::to_string(payload)?, opts)
            .await
    }

    /// Enqueues many jobs in one round trip and one atomic step: all of them are stored, or (when
    /// the call fails on its way to Redis) none. With a unique key only one job can hold it, so
    /// the first payload is enqueued and every one of them answers with that job.
    pub async fn enqueue_bulk_json<P: AsRef<str> + Sync>(
        &self,
        payloads: &[P],
        opts: &EnqueueOptions,
    ) -> Result<Vec<Enqueued>, QueueError> {
        let Some(first) = payloads.first() else {
            return Ok(Vec::new());
        };
        if opts.unique_key.is_some() {
            let holder = self.enqueue_json(first.as_ref(), opts).await?;
            let coalesced = Enqueued {
                created: false,
                ..holder.clone()
            };
            let mut out = vec![holder];
            out.resize(payloads.len(), coalesced);
            return Ok(out);
        }
        self.register().await?;
        let ids: Vec<String> = payloads.iter().map(|_| Ulid::new().to_string()).collect();
        let mut inv = self.broker.scripts().enqueue_bulk.key(&self.keys.base);
        inv.arg(opts.max_attempts.unwrap_or(self.policy.max_attempts))
            .arg(opts.delay.map_or(0, |d| d.as_millis() as u64))
            .arg(opts.tenant_arg()?);
        for (id, payload) in ids.iter().zip(payloads) {
            inv.arg(id).arg(payload.as_ref());
        }
        let n: usize = inv.invoke_async(&mut self.conn()).await?;
        if n != ids.len() {
            return Err(protocol(format!(
                "bulk enqueue stored {n} of {}",
                ids.len()
            )));
        }
        Ok(ids
            .into_iter()
            .map(|id| Enqueued { id, created: true })
            .collect())
    }

    pub async fn enqueue_bulk<T: Serialize>(
        &self,
        payloads: &[T],
        opts: &EnqueueOptions,
    ) -> Result<Vec<Enqueued>, QueueError> {
        let encoded = payloads
            .iter()
            .map(serde_json::to_string)
            .collect::<Result<Vec<_>, _>>()?;
        self.enqueue_bulk_json(&encoded, opts).await
    }

    /// Leases up to `n` ready jobs to `worker`. Returns them, the time the next scheduled job is
    /// due (epoch ms), and whether the queue is paused.
    pub(crate) async fn fetch(
        &self,
        n: usize,
        worker: &str,
    ) -> Result<(Vec<FetchedJob>, Option<i64>, bool), QueueError> {
        let reply: Vec<String> = self
            .broker
            .scripts()
            .fetch
            .key(&self.keys.base)
            .arg(n)
            .arg(self.policy.lease_secs * 1000)
            .arg(self.policy.promote_chunk)
            .arg(worker)
            .invoke_async(&mut self.conn())
            .await?;
        if reply.len() < 2 || !(reply.len() - 2).is_multiple_of(5) {
            return Err(protocol(format!("fetch returned {} fields", reply.len())));
        }
        let next_due = reply[0].parse::<i64>().ok().filter(|v| *v >= 0);
        let paused = reply[1] == "1";
        let num = |s: &str| {
            s.parse::<i64>()
                .map_err(|_| protocol(format!("bad number {s}")))
        };
        let jobs = reply[2..]
            .chunks(5)
            .map(|f| {
                Ok(FetchedJob {
                    id: f[0].clone(),
                    attempt: num(&f[1])? as u32,
                    payload: f[2].clone(),
                    enqueued_at_ms: num(&f[3])?,
                    run_at_ms: num(&f[4])?,
                })
            })
            .collect::<Result<Vec<_>, QueueError>>()?;
        Ok((jobs, next_due, paused))
    }

    /// Moves due scheduled jobs to the ready list and takes back expired leases, a bounded chunk
    /// of each, without leasing anything. Returns how many jobs became ready.
    pub(crate) async fn reap(&self) -> Result<u64, QueueError> {
        Ok(self
            .broker
            .scripts()
            .reap
            .key(&self.keys.base)
            .arg(self.policy.promote_chunk)
            .invoke_async(&mut self.conn())
            .await?)
    }

    /// Blocks (on the given connection) until an enqueue, resume or retry wakes this queue, or
    /// `wait` passes. Returns true when woken.
    pub(crate) async fn wait_for_work(
        &self,
        conn: &mut Connection,
        wait: Duration,
    ) -> Result<bool, QueueError> {
        let secs = wait.as_secs_f64().max(0.001);
        let woke: Option<(String, String)> = conn.blpop(self.keys.sub("wake"), secs).await?;
        Ok(woke.is_some())
    }

    /// Finishes jobs. Returns, per job, false when it was no longer leased (its lease expired;
    /// it will run again).
    pub async fn ack(&self, ids: &[String]) -> Result<Vec<bool>, QueueError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut inv = self.broker.scripts().ack.key(&self.keys.base);
        inv.arg(self.policy.done_retention_secs * 1000)
            .arg(self.policy.done_retention_count);
        inv.arg(ids);
        let flags: Vec<i64> = inv.invoke_async(&mut self.conn()).await?;
        if flags.len() != ids.len() {
            return Err(protocol(format!(
                "ack answered {} of {}",
                flags.len(),
                ids.len()
            )));
        }
        Ok(flags.into_iter().map(|f| f == 1).collect())
    }

    /// Records a failed attempt: retried after `retry_in`, or dead when `permanent` or out of
    /// attempts. Returns the job's new status (None when the job was no longer ours).
    pub async fn fail(
        &self,
        id: &str,
        attempt: u32,
        error: &str,
        permanent: bool,
        retry_in: Duration,
    ) -> Result<Option<super::JobStatus>, QueueError> {
        let outcome: i64 = self
            .broker
            .scripts()
            .fail
            .key(&self.keys.base)
            .arg(id)
            .arg(attempt)
            .arg(error)
            .arg(if permanent { "1" } else { "0" })
            .arg(retry_in.as_millis() as u64)
            .arg(self.policy.dead_retention_secs * 1000)
            .arg(self.policy.dead_retention_count)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(match outcome {
            1 => Some(super::JobStatus::Retrying),
            2 => Some(super::JobStatus::Dead),
            _ => None,
        })
    }

    /// Hands unstarted jobs back to the head of the ready list without counting an attempt.
    pub(crate) async fn release(&self, jobs: &[(String, u32)]) -> Result<u64, QueueError> {
        if jobs.is_empty() {
            return Ok(0);
        }
        let script = &self.broker.scripts().release;
        let mut inv = script.key(&self.keys.base);
        for (id, attempt) in jobs {
            inv.arg(id).arg(attempt);
        }
        Ok(inv.invoke_async(&mut self.conn()).await?)
    }

    /// Extends the leases of jobs a live worker holds.
    pub(crate) async fn renew(&self, jobs: &[(String, u32)]) -> Result<u64, QueueError> {
        if jobs.is_empty() {
            return Ok(0);
        }
        let script = &self.broker.scripts().renew;
        let mut inv = script.key(&self.keys.base);
        inv.arg(self.policy.lease_secs * 1000);
        for (id, attempt) in jobs {
            inv.arg(id).arg(attempt);
        }
        Ok(inv.invoke_async(&mut self.conn()).await?)
    }

    pub async fn job(&self, id: &str) -> Result<Option<JobInfo>, QueueError> {
        let h: HashMap<String, String> = self.conn().hgetall(self.keys.job(id)).await?;
        Ok(JobInfo::from_hash(self.name(), &h))
    }

    async fn jobs(&self, ids: &[String]) -> Result<Vec<JobInfo>, QueueError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in ids {
            pipe.hgetall(self.keys.job(id));
        }
        let hashes: Vec<HashMap<String, String>> = pipe.query_async(&mut self.conn()).await?;
        Ok(hashes
            .iter()
            .filter_map(|h| JobInfo::from_hash(self.name(), h))
            .collect())
    }

    /// Ids of jobs in one state, oldest first, from `offset`.
    pub(crate) async fn ids_in(
        &self,
        status: super::JobStatus,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<String>, QueueError> {
        use super::JobStatus as S;
        let mut conn = self.conn();
        // A page past what Redis can index is a page past the end.
        let end = offset.checked_add(limit).map(isize::try_from);
        let (Ok(start), Some(Ok(end))) = (isize::try_from(offset), end) else {
            return Ok(Vec::new());
        };
        let stop = end - 1;
        Ok(match status {
            S::Ready => self.ready_ids(offset, limit).await?,
            S::Scheduled | S::Retrying => {
                let ids: Vec<String> = conn.zrange(self.keys.sub("scheduled"), start, stop).await?;
                ids
            }
            S::Running => conn.zrange(self.keys.sub("leased"), start, stop).await?,
            S::Done => conn.zrevrange(self.keys.sub("done"), start, stop).await?,
            S::Dead => conn.zrevrange(self.keys.sub("dead"), start, stop).await?,
        })
    }

    /// Ids of waiting jobs from `offset`: those without a tenant, then each tenant's in turn
    /// order.
    async fn ready_ids(&self, offset: usize, limit: usize) -> Result<Vec<String>, QueueError> {
        let mut conn = self.conn();
        let tenants: Vec<String> = conn.lrange(self.keys.sub("tenants"), 0, -1).await?;
        let mut lists = vec![self.keys.sub("ready")];
        lists.extend(
            tenants
                .iter()
                .map(|t| self.keys.sub(&format!("ready:t:{t}"))),
        );
        let mut lens = redis::pipe();
        for list in &lists {
            lens.llen(list);
        }
        let lens: Vec<usize> = lens.query_async(&mut conn).await?;
        let (mut skip, mut ids) = (offset, Vec::new());
        for (list, len) in lists.iter().zip(lens) {
            if ids.len() >= limit {
                break;
            }
            if skip >= len {
                skip -= len;
                continue;
            }
            let want = (limit - ids.len()).min(len - skip);
            let (start, stop) = (skip as isize, (skip + want) as isize - 1);
            let page: Vec<String> = conn.lrange(list, start, stop).await?;
            ids.extend(page);
            skip = 0;
        }
        Ok(ids)
    }

    pub async fn list(
        &self,
        status: super::JobStatus,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<JobInfo>, QueueError> {
        let ids = self.ids_in(status, offset, limit).await?;
        self.jobs(&ids).await
    }

    /// A page of dead letters, newest first. The cursor is opaque to callers.
    pub async fn dead(&self, cursor: Option<&str>, limit: usize) -> Result<DeadPage, QueueError> {
        let offset = cursor.and_then(|c| c.parse::<usize>().ok()).unwrap_or(0);
        let ids = self
            .ids_in(super::JobStatus::Dead, offset, limit + 1)
            .await?;
        let more = ids.len() > limit;
        let jobs = self.jobs(&ids[..ids.len().min(limit)]).await?;
        Ok(DeadPage {
            jobs,
            next_cursor: more.then(|| offset.saturating_add(limit).to_string()),
        })
    }

    async fn bulk(
        &self,
        script: &redis::Script,
        set: Held,
        target: Option<&str>,
    ) -> Result<u64, QueueError> {
        let mut total = 0;
        loop {
            let mut inv = script.key(&self.keys.base);
            inv.arg(set.as_str());
            match target {
                Some(id) => inv.arg("one").arg(id),
                None => inv.arg("all").arg(BULK_CHUNK),
            };
            let n: u64 = inv.invoke_async(&mut self.conn()).await?;
            total += n;
            if target.is_some() || n == 0 {
                return Ok(total);
            }
        }
    }

    /// Moves one held job (or all, with None) to ready, to run now. A dead letter starts again
    /// with a fresh attempt budget; a scheduled or retrying job keeps the attempts it used.
    pub async fn run_now(&self, set: Held, id: Option<&str>) -> Result<u64, QueueError> {
        self.bulk(&self.broker.scripts().requeue, set, id).await
    }

    /// Deletes one held job (or all, with None).
    pub async fn delete_held(&self, set: Held, id: Option<&str>) -> Result<u64, QueueError> {
        self.bulk(&self.broker.scripts().purge, set, id).await
    }

    /// Moves one dead letter (or all, with None) back to ready with a fresh attempt budget.
    pub async fn requeue_dead(&self, id: Option<&str>) -> Result<u64, QueueError> {
        self.run_now(Held::Dead, id).await
    }

    /// How many jobs a held set has: one `ZCARD`.
    pub async fn held_count(&self, set: Held) -> Result<u64, QueueError> {
        Ok(self.conn().zcard(self.keys.sub(set.as_str())).await?)
    }

    /// Deletes one dead letter (or all, with None).
    pub async fn purge_dead(&self, id: Option<&str>) -> Result<u64, QueueError> {
        self.delete_held(Held::Dead, id).await
    }

    pub async fn pause(&self) -> Result<(), QueueError> {
        self.register().await?;
        let _: () = self.conn().set(self.keys.sub("paused"), 1).await?;
        Ok(())
    }

    /// Resumes a paused queue and wakes its idle workers.
    pub async fn resume(&self) -> Result<(), QueueError> {
        let mut pipe = redis::pipe();
        pipe.del(self.keys.sub("paused")).ignore();
        for _ in 0..16 {
            pipe.lpush(self.keys.sub("wake"), "1").ignore();
        }
        pipe.ltrim(self.keys.sub("wake"), 0, 63).ignore();
        let _: () = pipe.query_async(&mut self.conn()).await?;
        Ok(())
    }

    /// Jobs finished successfully since the queue began: one command, for tight polling.
    pub async fn processed_total(&self) -> Result<u64, QueueError> {
        let n: Option<u64> = self
            .conn()
            .hget(self.keys.sub("stats"), "processed")
            .await?;
        Ok(n.unwrap_or(0))
    }

    pub async fn stats(&self) -> Result<QueueStats, QueueError> {
        let minute = now_minute();
        let k = &self.keys;
        let mut pipe = redis::pipe();
        pipe.exists(k.sub("paused"))
            .llen(k.sub("ready"))
            .get(k.sub("tenanted"))
            .zcard(k.sub("scheduled"))
            .zcard(k.sub("leased"))
            .zcard(k.sub("dead"))
            .zcard(k.sub("done"))
            .hgetall(k.sub("stats"))
            .hgetall(k.minute(minute))
            .hgetall(k.minute(minute - 1));
        #[allow(clippy::type_complexity)]
        let (paused, ready, tenanted, scheduled, running, dead, done, totals, this_min, last_min): (
            bool,
            u64,
            Option<u64>,
            u64,
            u64,
            u64,
            u64,
            HashMap<String, u64>,
            HashMap<String, u64>,
            HashMap<String, u64>,
        ) = pipe.query_async(&mut self.conn()).await?;
        let t = |k: &str| totals.get(k).copied().unwrap_or(0);
        let both =
            |k: &str| this_min.get(k).copied().unwrap_or(0) + last_min.get(k).copied().unwrap_or(0);
        let started = both("started");
        Ok(QueueStats {
            queue: self.name().to_owned(),
            paused,
            ready: ready + tenanted.unwrap_or(0),
            scheduled,
            running,
            dead,
            done_retained: done,
            enqueued_total: t("enqueued"),
            processed_total: t("processed"),
            failed_total: t("failed"),
            retried_total: t("retried"),
            dead_total: t("dead"),
            lease_expired_total: t("reaped"),
            processed_last_minute: last_min.get("processed").copied().unwrap_or(0),
            failed_last_minute: last_min.get("failed").copied().unwrap_or(0),
            mean_start_latency_ms: (started > 0)
                .then(|| both("latency_ms_sum") as f64 / started as f64),
        })
    }

    /// The queue's counts per minute for the last `minutes` whole minutes and the current one,
    /// oldest first: one `HGETALL` per minute in one round trip. Minutes are kept two hours.
    pub async fn history(&self, minutes: i64) -> Result<Vec<Minute>, QueueError> {
        let now = now_minute();
        let first = now - minutes.clamp(0, 119);
        let mut pipe = redis::pipe();
        for m in first..=now {
            pipe.hgetall(self.keys.minute(m));
        }
        let buckets: Vec<HashMap<String, u64>> = pipe.query_async(&mut self.conn()).await?;
        Ok((first..=now)
            .zip(buckets)
            .map(|(minute, b)| {
                let get = |k: &str| b.get(k).copied().unwrap_or(0);
                let started = get("started");
                Minute {
                    minute,
                    enqueued: get("enqueued"),
                    processed: get("processed"),
                    failed: get("failed"),
                    started,
                    mean_start_latency_ms: (started > 0)
                        .then(|| get("latency_ms_sum") as f64 / started as f64),
                }
            })
            .collect())
    }

    /// Deletes every key of this queue, scanning only the node that holds them on a cluster.
    /// For tests and benchmarks.
    pub async fn destroy(&self) -> Result<(), QueueError> {
        let mut conn = self.conn();
        let pattern = format!(
            "{}*",
            self.keys.base.replace('{', "\\{").replace('}', "\\}")
        );
        delete_matching(&mut conn.on_node_of(&self.keys.base), &pattern).await?;
        let _: () = conn
            .srem(Keys::registry(self.prefix()), self.name.as_str())
            .await?;
        Ok(())
    }
}

/// Deletes every key matching `pattern`, walking the keyspace with SCAN (never KEYS, which
/// would block Redis on a large keyspace). For tests and benchmarks.
pub async fn delete_matching<C: redis::aio::ConnectionLike + Send>(
    conn: &mut C,
    pattern: &str,
) -> Result<(), QueueError> {
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await?;
        if !keys.is_empty() {
            redis::cmd("DEL").arg(keys).query_async::<()>(conn).await?;
        }
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}
