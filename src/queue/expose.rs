//! apalis-core's `expose` traits, so dashboards built for apalis can read switchyard's queues.

use apalis_core::backend::codec::Codec;
use apalis_core::backend::{
    Filter, ListQueues, ListTasks, Metrics, QueueInfo, StatType, Statistic, WireFormatBackend,
};
use apalis_core::task::builder::TaskBuilder;
use apalis_core::task::status::Status;
use apalis_core::task::task_id::TaskId;
use apalis_core::task::Task;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::Future;

use super::backend::RedisBackend;
use super::client::{Queue, QueueStats};
use super::error::QueueError;
use super::job::{JobInfo, JobStatus};

/// Jobs travel as JSON.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonCodec;

impl<T: Serialize + DeserializeOwned> Codec<T> for JsonCodec {
    type Error = serde_json::Error;
    type Compact = serde_json::Value;

    fn encode(&self, val: &T) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::to_value(val)
    }

    fn decode(&self, val: &serde_json::Value) -> Result<T, serde_json::Error> {
        T::deserialize(val)
    }
}

impl<Args> WireFormatBackend for RedisBackend<Args> {
    type Codec = JsonCodec;
    type Compact = serde_json::Value;

    fn codec(&self) -> &JsonCodec {
        &JsonCodec
    }
}

fn stat(title: &str, value: impl ToString, priority: u64) -> Statistic {
    Statistic {
        title: title.to_owned(),
        stat_type: StatType::Number,
        value: value.to_string(),
        priority: Some(priority),
    }
}

fn statistics(s: &QueueStats) -> Vec<Statistic> {
    let mut v = vec![
        stat("Ready", s.ready, 1),
        stat("Running", s.running, 2),
        stat("Scheduled", s.scheduled, 3),
        stat("Dead", s.dead, 4),
        stat("Processed (total)", s.processed_total, 5),
        stat("Failed (total)", s.failed_total, 6),
        stat("Processed (last minute)", s.processed_last_minute, 7),
        stat("Failed (last minute)", s.failed_last_minute, 8),
    ];
    if let Some(ms) = s.mean_start_latency_ms {
        v.push(Statistic {
            title: "Mean start latency (ms)".to_owned(),
            stat_type: StatType::Decimal,
            value: format!("{ms:.2}"),
            priority: Some(9),
        });
    }
    v
}

fn apalis_status(s: JobStatus) -> Status {
    match s {
        JobStatus::Scheduled => Status::Pending,
        JobStatus::Ready => Status::Queued,
        JobStatus::Running => Status::Running,
        JobStatus::Retrying => Status::Failed,
        JobStatus::Done => Status::Done,
        JobStatus::Dead => Status::Killed,
    }
}

fn our_status(s: &Status) -> JobStatus {
    match s {
        Status::Pending => JobStatus::Scheduled,
        Status::Queued => JobStatus::Ready,
        Status::Running => JobStatus::Running,
        Status::Failed => JobStatus::Retrying,
        Status::Done => JobStatus::Done,
        Status::Killed => JobStatus::Dead,
        _ => JobStatus::Ready,
    }
}

fn to_task(j: JobInfo) -> Task<serde_json::Value> {
    TaskBuilder::new(j.payload)
        .task_id(TaskId::from_string(j.id))
        .attempt(j.attempts as usize)
        .max_attempts(j.max_attempts as usize)
        .status(apalis_status(j.status))
        .build()
}

impl<Args: DeserializeOwned + Send + 'static> Metrics for RedisBackend<Args> {
    fn global(&self) -> impl Future<Output = Result<Vec<Statistic>, QueueError>> + Send {
        let broker = self.queue().broker().clone();
        async move {
            let mut totals = QueueStats::default_for("all");
            for name in broker.queue_names().await? {
                let s = broker.queue(&name)?.stats().await?;
                totals.ready += s.ready;
                totals.running += s.running;
                totals.scheduled += s.scheduled;
                totals.dead += s.dead;
                totals.processed_total += s.processed_total;
                totals.failed_total += s.failed_total;
                totals.processed_last_minute += s.processed_last_minute;
                totals.failed_last_minute += s.failed_last_minute;
            }
            Ok(statistics(&totals))
        }
    }

    fn fetch_by_queue(&self) -> impl Future<Output = Result<Vec<Statistic>, QueueError>> + Send {
        let queue: Queue = self.queue().clone();
        async move { Ok(statistics(&queue.stats().await?)) }
    }
}

impl<Args: DeserializeOwned + Send + 'static> ListQueues for RedisBackend<Args> {
    fn list_queues(&self) -> impl Future<Output = Result<Vec<QueueInfo>, QueueError>> + Send {
        let broker = self.queue().broker().clone();
        async move {
            let mut out = Vec::new();
            for name in broker.queue_names().await? {
                let s = broker.queue(&name)?.stats().await?;
                out.push(QueueInfo {
                    name,
                    stats: statistics(&s),
                    workers: Vec::new(),
                    activity: Vec::new(),
                });
            }
            Ok(out)
        }
    }
}

impl<Args: DeserializeOwned + Send + 'static> ListTasks for RedisBackend<Args> {
    fn list_tasks(
        &self,
        filter: &Filter,
    ) -> impl Future<Output = Result<Vec<Task<serde_json::Value>>, QueueError>> + Send {
        let queue = self.queue().clone();
        let status = filter.status.as_ref().map_or(JobStatus::Ready, our_status);
        let (offset, limit) = (filter.offset() as usize, filter.limit() as usize);
        async move {
            let jobs = queue.list(status, offset, limit).await?;
            Ok(jobs.into_iter().map(to_task).collect())
        }
    }
}
