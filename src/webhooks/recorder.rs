//! Attempt records written in batches: every running delivery hands its record to one writer
//! task and waits for it to be committed, and the writer commits whatever has gathered while the
//! previous batch was being written, in one statement. Under load that is one statement for
//! dozens of deliveries instead of one each; when idle a record is written at once, alone. A
//! delivery's job still finishes only after its record is committed, so nothing is acknowledged
//! that the database does not hold.

use std::sync::{Arc, Mutex};

use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};

use crate::store::webhooks::{record_attempts, OwnedAttempt};
use crate::store::StoreError;

/// Most records one statement writes.
const MAX_BATCH: usize = 256;

type Pending = (OwnedAttempt, oneshot::Sender<Result<(), String>>);

/// Hands attempt records to the writer. Cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    pool: PgPool,
    tx: Arc<Mutex<Option<mpsc::Sender<Pending>>>>,
}

impl Recorder {
    pub fn new(pool: PgPool) -> Recorder {
        Recorder {
            pool,
            tx: Arc::new(Mutex::new(None)),
        }
    }

    /// The writer's inbox, starting the writer on first use (so building a `Recorder` needs no
    /// runtime) and again should it have stopped.
    fn sender(&self) -> mpsc::Sender<Pending> {
        let mut slot = self.tx.lock().unwrap_or_else(|p| p.into_inner());
        match slot.as_ref() {
            Some(tx) if !tx.is_closed() => tx.clone(),
            _ => {
                let (tx, rx) = mpsc::channel(MAX_BATCH * 4);
                tokio::spawn(write_loop(self.pool.clone(), rx));
                *slot = Some(tx.clone());
                tx
            }
        }
    }

    /// Writes `attempt`, returning once it is committed.
    pub async fn record(&self, attempt: OwnedAttempt) -> Result<(), StoreError> {
        let (done, wait) = oneshot::channel();
        self.sender()
            .send((attempt, done))
            .await
            .map_err(|_| StoreError::Corrupt("the attempt writer stopped".into()))?;
        match wait.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StoreError::Database(sqlx::Error::Protocol(e))),
            Err(_) => Err(StoreError::Corrupt("the attempt writer stopped".into())),
        }
    }
}

/// Ends when every `Recorder` is gone.
async fn write_loop(pool: PgPool, mut rx: mpsc::Receiver<Pending>) {
    let mut batch: Vec<Pending> = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let records: Vec<&OwnedAttempt> = batch.iter().map(|(a, _)| a).collect();
        let outcome = record_attempts(&pool, &records)
            .await
            .map_err(|e| e.to_string());
        for (_, done) in batch.drain(..) {
            let _ = done.send(outcome.clone());
        }
    }
}
