//! One statement for many concurrent callers. Every running delivery hands its input (a delivery
//! to read, an attempt to record) to a batcher task and waits for its own answer; the task runs
//! whatever has gathered while the previous batch ran, as one statement, one batch at a time.
//! Under load that is one statement for dozens of deliveries instead of one each (and a busy
//! database gets fewer, larger statements: two reads at a time measured no faster); when idle an
//! input runs at once, alone.
//! A caller still waits for its statement to finish, so a delivery's job is acknowledged only
//! after its attempt is committed.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};

use crate::store::webhooks::{delivery_work_many, record_attempts, DeliveryWork, OwnedAttempt};
use crate::store::StoreError;

type Answer<O> = Result<O, String>;
type Pending<I, O> = (I, oneshot::Sender<Answer<O>>);
/// The batch task's inbox, once it has started.
type Inbox<I, O> = Arc<Mutex<Option<mpsc::Sender<Pending<I, O>>>>>;
type BatchFuture<O> = Pin<Box<dyn Future<Output = Answer<Vec<O>>> + Send>>;
/// Runs one batch: one answer per input, in order.
type BatchFn<I, O> = Arc<dyn Fn(Vec<I>) -> BatchFuture<O> + Send + Sync>;

/// Hands inputs to the batch task. Cheap to clone.
pub struct Batcher<I, O> {
    run: BatchFn<I, O>,
    max_batch: usize,
    tx: Inbox<I, O>,
}

impl<I, O> Clone for Batcher<I, O> {
    fn clone(&self) -> Self {
        Batcher {
            run: self.run.clone(),
            max_batch: self.max_batch,
            tx: self.tx.clone(),
        }
    }
}

impl<I: Send + 'static, O: Send + 'static> Batcher<I, O> {
    pub fn new<F, Fut>(max_batch: usize, run: F) -> Batcher<I, O>
    where
        F: Fn(Vec<I>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Answer<Vec<O>>> + Send + 'static,
    {
        Batcher {
            run: Arc::new(move |inputs| Box::pin(run(inputs))),
            max_batch: max_batch.max(1),
            tx: Arc::new(Mutex::new(None)),
        }
    }

    /// The task's inbox, starting the task on first use (so building a `Batcher` needs no
    /// runtime) and again should it have stopped.
    fn sender(&self) -> mpsc::Sender<Pending<I, O>> {
        let mut slot = self.tx.lock().unwrap_or_else(|p| p.into_inner());
        match slot.as_ref() {
            Some(tx) if !tx.is_closed() => tx.clone(),
            _ => {
                let (tx, rx) = mpsc::channel(self.max_batch * 4);
                tokio::spawn(batch_loop(self.run.clone(), rx, self.max_batch));
                *slot = Some(tx.clone());
                tx
            }
        }
    }

    /// Runs `input` in the next batch and returns its answer.
    pub async fn call(&self, input: I) -> Answer<O> {
        let (done, wait) = oneshot::channel();
        self.sender()
            .send((input, done))
            .await
            .map_err(|_| "the batch task stopped".to_owned())?;
        wait.await
            .unwrap_or_else(|_| Err("the batch task stopped".to_owned()))
    }
}

/// Ends when every `Batcher` is gone.
async fn batch_loop<I: Send + 'static, O: Send + 'static>(
    run: BatchFn<I, O>,
    mut rx: mpsc::Receiver<Pending<I, O>>,
    max_batch: usize,
) {
    let mut batch: Vec<Pending<I, O>> = Vec::with_capacity(max_batch);
    // Inputs gather in the inbox while a batch runs.
    while rx.recv_many(&mut batch, max_batch).await > 0 {
        let (inputs, senders): (Vec<I>, Vec<_>) = batch.drain(..).unzip();
        let n = inputs.len();
        let answers = match run(inputs).await {
            Ok(answers) if answers.len() == n => Ok(answers),
            Ok(answers) => Err(format!("a batch of {n} gave {} answers", answers.len())),
            Err(e) => Err(e),
        };
        match answers {
            Ok(answers) => {
                for (done, answer) in senders.into_iter().zip(answers) {
                    let _ = done.send(Ok(answer));
                }
            }
            Err(e) => {
                for done in senders {
                    let _ = done.send(Err(e.clone()));
                }
            }
        }
    }
}

fn store_error(e: String) -> StoreError {
    StoreError::Database(sqlx::Error::Protocol(e))
}

/// Most inputs one statement takes.
const MAX_BATCH: usize = 256;

/// Reads what attempts need ([`delivery_work_many`]) and writes what they came to
/// ([`record_attempts`]), each in batches.
#[derive(Clone)]
pub struct DeliveryBatches {
    reads: Batcher<i64, Option<DeliveryWork>>,
    records: Batcher<OwnedAttempt, ()>,
}

impl DeliveryBatches {
    pub fn new(pool: PgPool) -> DeliveryBatches {
        let read_pool = pool.clone();
        DeliveryBatches {
            reads: Batcher::new(MAX_BATCH, move |ids: Vec<i64>| {
                let pool = read_pool.clone();
                async move {
                    delivery_work_many(&pool, &ids)
                        .await
                        .map_err(|e| e.to_string())
                }
            }),
            // One record at a time also never updates the same endpoints in different orders.
            records: Batcher::new(MAX_BATCH, move |attempts: Vec<OwnedAttempt>| {
                let pool = pool.clone();
                async move {
                    let refs: Vec<&OwnedAttempt> = attempts.iter().collect();
                    record_attempts(&pool, &refs)
                        .await
                        .map(|()| vec![(); attempts.len()])
                        .map_err(|e| e.to_string())
                }
            }),
        }
    }

    /// What an attempt of `delivery_id` needs; `None` when the delivery is gone.
    pub async fn work(&self, delivery_id: i64) -> Result<Option<DeliveryWork>, StoreError> {
        self.reads.call(delivery_id).await.map_err(store_error)
    }

    /// Writes `attempt`, returning once it is committed.
    pub async fn record(&self, attempt: OwnedAttempt) -> Result<(), StoreError> {
        self.records.call(attempt).await.map_err(store_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn concurrent_calls_share_batches_and_each_gets_its_own_answer() {
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let seen = sizes.clone();
        let doubler: Batcher<u32, u32> = Batcher::new(8, move |xs: Vec<u32>| {
            let seen = seen.clone();
            async move {
                seen.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(xs.len());
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                Ok(xs.into_iter().map(|x| x * 2).collect())
            }
        });
        let calls = (0..20u32).map(|x| {
            let b = doubler.clone();
            async move { b.call(x).await }
        });
        let answers = futures::future::join_all(calls).await;
        assert_eq!(answers, (0..20u32).map(|x| Ok(x * 2)).collect::<Vec<_>>());
        let sizes = sizes.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert_eq!(sizes.iter().sum::<usize>(), 20);
        assert!(sizes.iter().all(|&n| n <= 8), "{sizes:?}");
        assert!(sizes.len() < 20, "calls were not batched: {sizes:?}");
    }

    #[tokio::test]
    async fn a_failed_batch_fails_every_caller_in_it() {
        let failing: Batcher<u32, u32> =
            Batcher::new(4, |_xs: Vec<u32>| async { Err("boom".to_owned()) });
        assert_eq!(failing.call(1).await, Err("boom".to_owned()));
        let short: Batcher<u32, u32> = Batcher::new(4, |_xs: Vec<u32>| async { Ok(vec![]) });
        assert!(short.call(1).await.is_err());
    }
}
