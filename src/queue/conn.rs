//! The shared connection every short queue command goes through.
//!
//! The redis crate's `ConnectionManager` reconnects with a backoff that starts at a second and
//! grows to a minute or two (its `factor` multiplies each step), and every command issued
//! meanwhile waits on that reconnection with no deadline: after a Redis restart each process
//! stalled for one to two minutes, and running jobs lost their leases. This connection instead
//! makes one connection attempt when a command needs one, drops the connection on any I/O error
//! or timeout (a half-open socket never answers again), and bounds every command, connecting
//! included, by the response timeout. A command during an outage fails at once (or within the
//! timeout) and its caller's own retry decides when to try again, so work resumes as soon as
//! Redis answers.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::{AsyncConnectionConfig, Client, Cmd, Pipeline, RedisError, RedisFuture, Value};
use tokio::sync::Mutex;

/// A multiplexed connection to Redis, made again when lost. Cheap to clone: clones share it.
#[derive(Clone)]
pub struct RedisConn {
    shared: Arc<Shared>,
}

struct Shared {
    client: Client,
    config: AsyncConnectionConfig,
    /// Longest one command may take, waiting for a connection included.
    deadline: Duration,
    /// The current connection and its generation, so a failure drops only the connection it
    /// happened on, not a newer one another command already made.
    current: Mutex<(u64, Option<MultiplexedConnection>)>,
}

impl RedisConn {
    /// A connection made on first use. `connect_timeout` bounds each connection attempt,
    /// `deadline` each command from start to answer.
    pub(crate) fn new(client: Client, connect_timeout: Duration, deadline: Duration) -> RedisConn {
        let config = AsyncConnectionConfig::new().set_connection_timeout(connect_timeout);
        RedisConn {
            shared: Arc::new(Shared {
                client,
                config,
                deadline,
                current: Mutex::new((0, None)),
            }),
        }
    }

    /// The live connection, made now if there is none. Concurrent callers share one attempt.
    async fn connection(&self) -> Result<(u64, MultiplexedConnection), RedisError> {
        let mut current = self.shared.current.lock().await;
        if let (generation, Some(conn)) = &*current {
            return Ok((*generation, conn.clone()));
        }
        let conn = self
            .shared
            .client
            .get_multiplexed_async_connection_with_config(&self.shared.config)
            .await?;
        current.0 += 1;
        current.1 = Some(conn.clone());
        Ok((current.0, conn))
    }

    /// Forgets connection `generation` after it failed; the next command makes a new one.
    async fn discard(&self, generation: u64) {
        let mut current = self.shared.current.lock().await;
        if current.0 == generation {
            current.1 = None;
        }
    }

    /// Runs `send` on the connection within the deadline, dropping the connection when the
    /// failure says it cannot be trusted any more (a timeout included: a half-open connection
    /// would otherwise time out every command forever).
    async fn run<T, F, Fut>(&self, send: F) -> Result<T, RedisError>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        let deadline = self.shared.deadline;
        let started = Instant::now();
        let (generation, conn) = tokio::time::timeout(deadline, self.connection())
            .await
            .map_err(|_| timed_out(deadline))??;
        let left = deadline.saturating_sub(started.elapsed());
        let result = tokio::time::timeout(left, send(conn))
            .await
            .unwrap_or_else(|_| Err(timed_out(deadline)));
        if let Err(e) = &result {
            if e.is_io_error() || e.is_unrecoverable_error() {
                self.discard(generation).await;
            }
        }
        result
    }
}

fn timed_out(deadline: Duration) -> RedisError {
    RedisError::from(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("Redis did not answer within {deadline:?}"),
    ))
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(self.run(move |mut conn| async move { conn.send_packed_command(cmd).await }))
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(self.run(move |mut conn| async move {
            conn.send_packed_commands(cmd, offset, count).await
        }))
    }

    fn get_db(&self) -> i64 {
        self.shared.client.get_connection_info().redis.db
    }
}
