//! The backend's middleware: runs each job inside its span, catches panics, and settles the
//! outcome in Redis (ack, retry with backoff, or dead letter) before the worker takes the next.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use apalis_core::error::{AbortError, BoxDynError, RetryAfterError};
use apalis_core::task::Task;
use backon::Retryable;
use futures::FutureExt;
use tokio::sync::{mpsc, oneshot};
use tower::{Layer, Service};
use tracing::Instrument;

use super::backend::Held;
use super::backoff::{redis_retry, retry_delay};
use super::client::Queue;
use super::error::JobError;
use super::job::JobMeta;

/// Most acks one script call carries.
const ACK_BATCH: usize = 256;

type AckReply = oneshot::Sender<Result<bool, String>>;
type AckRequest = (String, AckReply);

/// Collects the acks of a worker's finished jobs and sends them in batches: while one batch is
/// on its way to Redis the next gathers, so under load a job costs a fraction of a round trip
/// and when idle an ack still leaves at once.
#[derive(Clone)]
pub(crate) struct Acker {
    tx: mpsc::UnboundedSender<AckRequest>,
}

impl Acker {
    fn spawn(queue: Queue) -> Acker {
        let (tx, mut rx) = mpsc::unbounded_channel::<AckRequest>();
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(ACK_BATCH);
            while rx.recv_many(&mut batch, ACK_BATCH).await > 0 {
                let ids: Vec<String> = batch.iter().map(|(id, _)| id.clone()).collect();
                let result = (|| queue.ack(&ids))
                    .retry(redis_retry(queue.policy()))
                    .await;
                for (i, (_, reply)) in batch.drain(..).enumerate() {
                    let _ = reply.send(match &result {
                        Ok(flags) => Ok(flags.get(i).copied().unwrap_or(false)),
                        Err(e) => Err(e.to_string()),
                    });
                }
            }
        });
        Acker { tx }
    }

    async fn ack(&self, meta: &JobMeta) -> Result<bool, String> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((meta.id.clone(), reply))
            .map_err(|_| "the acker has stopped".to_owned())?;
        answer
            .await
            .map_err(|_| "the acker has stopped".to_owned())?
    }
}

#[derive(Clone)]
pub struct AckLayer {
    queue: Queue,
    held: Held,
    acker: Acker,
}

impl AckLayer {
    pub(crate) fn new(queue: Queue, held: Held) -> AckLayer {
        AckLayer {
            acker: Acker::spawn(queue.clone()),
            queue,
            held,
        }
    }
}

impl<S> Layer<S> for AckLayer {
    type Service = AckService<S>;

    fn layer(&self, inner: S) -> AckService<S> {
        AckService {
            inner,
            queue: self.queue.clone(),
            held: self.held.clone(),
            acker: self.acker.clone(),
        }
    }
}

#[derive(Clone)]
pub struct AckService<S> {
    inner: S,
    queue: Queue,
    held: Held,
    acker: Acker,
}

/// What a failed attempt means for the job.
#[derive(Debug, PartialEq)]
pub(crate) struct Failure {
    pub message: String,
    pub permanent: bool,
    pub retry_after: Option<Duration>,
}

/// Reads the retry meaning out of a handler's error: switchyard's `JobError`, or apalis's
/// `AbortError` / `RetryAfterError`; anything else is retried with backoff.
pub(crate) fn classify(e: &BoxDynError) -> Failure {
    let failure = |message: String, permanent, retry_after| Failure {
        message,
        permanent,
        retry_after,
    };
    if let Some(j) = e.downcast_ref::<JobError>() {
        return match j {
            JobError::Permanent(m) => failure(m.clone(), true, None),
            JobError::Retry(m) => failure(m.clone(), false, None),
            JobError::RetryAfter { message, after } => {
                failure(message.clone(), false, Some(*after))
            }
        };
    }
    if let Some(a) = e.downcast_ref::<AbortError>() {
        return failure(a.to_string(), true, None);
    }
    if let Some(r) = e.downcast_ref::<RetryAfterError>() {
        return failure(r.to_string(), false, Some(r.get_duration()));
    }
    failure(e.to_string(), false, None)
}

async fn settle(queue: &Queue, acker: &Acker, meta: &JobMeta, outcome: Result<(), &BoxDynError>) {
    let name = queue.name().to_owned();
    let result = match outcome {
        Ok(()) => {
            metrics::counter!("switchyard_jobs_processed_total", "queue" => name).increment(1);
            acker.ack(meta).await.map(|owned| (owned, "done"))
        }
        Err(e) => {
            let f = classify(e);
            let delay = retry_delay(queue.policy(), meta.attempt, f.retry_after, rand::random());
            metrics::counter!("switchyard_jobs_failed_total", "queue" => name).increment(1);
            let status = (|| queue.fail(&meta.id, meta.attempt, &f.message, f.permanent, delay))
                .retry(redis_retry(queue.policy()))
                .await;
            match &status {
                Ok(Some(super::JobStatus::Dead)) => {
                    metrics::counter!("switchyard_jobs_dead_lettered_total", "queue" => queue.name().to_owned())
                        .increment(1);
                    tracing::warn!(error = %f.message, "job failed; moved to dead letters")
                }
                Ok(Some(_)) => {
                    metrics::counter!("switchyard_jobs_retried_total", "queue" => queue.name().to_owned())
                        .increment(1);
                    tracing::info!(error = %f.message, retry_in_ms = delay.as_millis() as u64, "job failed; will retry")
                }
                _ => {}
            }
            status
                .map(|s| (s.is_some(), "failed"))
                .map_err(|e| e.to_string())
        }
    };
    match result {
        Ok((true, _)) => {}
        Ok((false, what)) => tracing::warn!(
            outcome = what,
            "job's lease had expired before it finished; another worker owns it now"
        ),
        Err(e) => tracing::error!(
            error = %e,
            "could not record the job's outcome; it will run again when its lease expires"
        ),
    }
}

impl<S, Args, Res> Service<Task<Args>> for AckService<S>
where
    S: Service<Task<Args>, Response = Res>,
    S::Error: Into<BoxDynError>,
    S::Future: Send + 'static,
    Res: Send + 'static,
{
    type Response = Res;
    type Error = BoxDynError;
    type Future = Pin<Box<dyn Future<Output = Result<Res, BoxDynError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxDynError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, task: Task<Args>) -> Self::Future {
        let meta = task.ctx().data().get::<JobMeta>().cloned();
        let queue = self.queue.clone();
        let held = self.held.clone();
        let acker = self.acker.clone();
        let span = tracing::info_span!(
            "job",
            queue = queue.name(),
            job_id = meta.as_ref().map_or("", |m| m.id.as_str()),
            attempt = meta.as_ref().map_or(0, |m| m.attempt),
        );
        let fut = self.inner.call(task);
        Box::pin(
            async move {
                let labels = [("queue", queue.name().to_owned())];
                if let Some(m) = &meta {
                    let waited = (chrono::Utc::now().timestamp_millis() - m.run_at_ms).max(0);
                    metrics::histogram!("switchyard_job_start_latency_seconds", &labels)
                        .record(waited as f64 / 1000.0);
                }
                let started = Instant::now();
                let res: Result<Res, BoxDynError> = match AssertUnwindSafe(fut).catch_unwind().await
                {
                    Ok(r) => r.map_err(Into::into),
                    Err(panic) => {
                        let msg = panic
                            .downcast_ref::<&str>()
                            .map(|s| s.to_string())
                            .or_else(|| panic.downcast_ref::<String>().cloned())
                            .unwrap_or_else(|| "unknown panic".to_owned());
                        Err(format!("job panicked: {msg}").into())
                    }
                };
                metrics::histogram!("switchyard_job_run_seconds", &labels)
                    .record(started.elapsed().as_secs_f64());
                if let Some(m) = &meta {
                    settle(&queue, &acker, m, res.as_ref().map(|_| ())).await;
                    if let Ok(mut h) = held.lock() {
                        h.remove(&m.id);
                    }
                }
                res
            }
            .instrument(span),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_carry_their_retry_meaning() {
        let e: BoxDynError = Box::new(JobError::permanent("bad sku"));
        assert!(classify(&e).permanent);
        let e: BoxDynError = Box::new(JobError::RetryAfter {
            message: "429".into(),
            after: Duration::from_secs(3),
        });
        let f = classify(&e);
        assert_eq!(
            (f.permanent, f.retry_after),
            (false, Some(Duration::from_secs(3)))
        );
        let e: BoxDynError = Box::new(AbortError::new("stop"));
        assert!(classify(&e).permanent);
        let e: BoxDynError = Box::new(RetryAfterError::new("later", Duration::from_secs(9)));
        assert_eq!(classify(&e).retry_after, Some(Duration::from_secs(9)));
        let e: BoxDynError = "io".into();
        assert_eq!(
            classify(&e),
            Failure {
                message: "io".into(),
                permanent: false,
                retry_after: None
            }
        );
    }
}
