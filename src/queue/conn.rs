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
//!
//! The same holds on a Redis Cluster: [`Target`] is either one server or the cluster's seed
//! nodes, and [`Connection`] either one multiplexed connection or the redis crate's cluster
//! connection, which routes each command (and each pipeline, by its first key) to the node owning
//! its hash slot and follows MOVED and ASK redirections. Every queue command touches the keys of
//! one queue, which share one hash tag, so a command or a pipeline never spans two slots.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{AsyncConnectionConfig, Client, Cmd, Pipeline, RedisError, RedisFuture, Value};
use tokio::sync::Mutex;

use crate::config::RedisSettings;

/// Where Redis is: one server, or a cluster reached through its seed nodes.
#[derive(Clone)]
pub(crate) enum Target {
    Single(Client),
    Cluster(Vec<redis::ConnectionInfo>),
}

impl Target {
    /// The cluster when `cluster_urls` names seed nodes, else the server at `url`.
    pub fn from_settings(settings: &RedisSettings) -> Result<Target, RedisError> {
        if settings.cluster_urls.is_empty() {
            return Ok(Target::Single(Client::open(settings.url.as_str())?));
        }
        let nodes = settings
            .cluster_urls
            .iter()
            .map(|url| redis::IntoConnectionInfo::into_connection_info(url.as_str()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Target::Cluster(nodes))
    }

    /// Opens a connection whose connection attempts are bounded by `connect_timeout` and whose
    /// commands by `response_timeout`.
    pub async fn connect(
        &self,
        connect_timeout: Duration,
        response_timeout: Duration,
    ) -> Result<Connection, RedisError> {
        match self {
            Target::Single(client) => {
                let config = AsyncConnectionConfig::new()
                    .set_connection_timeout(connect_timeout)
                    .set_response_timeout(response_timeout);
                Ok(Connection::Single(
                    client
                        .get_multiplexed_async_connection_with_config(&config)
                        .await?,
                ))
            }
            Target::Cluster(nodes) => Ok(Connection::Cluster(
                cluster_client(nodes, connect_timeout, response_timeout)?
                    .get_async_connection()
                    .await?,
            )),
        }
    }
}

fn cluster_client(
    nodes: &[redis::ConnectionInfo],
    connect_timeout: Duration,
    response_timeout: Duration,
) -> Result<ClusterClient, RedisError> {
    ClusterClientBuilder::new(nodes.to_vec())
        .connection_timeout(connect_timeout)
        .response_timeout(response_timeout)
        // A redirection or a failover is retried a few times, briefly; an outage is left to the
        // caller's own retry, as on a single server.
        .retries(3)
        .min_retry_wait(20)
        .max_retry_wait(500)
        .build()
}

/// One connection to a server or to a cluster. Cheap to clone: clones share it.
#[derive(Clone)]
pub(crate) enum Connection {
    Single(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl Connection {
    /// Runs `cmd` on the node owning `key`'s hash slot: for keyless commands such as SCAN, whose
    /// answer on a cluster depends on the node asked.
    pub async fn on_node_of(&mut self, key: &str, cmd: &Cmd) -> Result<Value, RedisError> {
        match self {
            Connection::Single(conn) => conn.send_packed_command(cmd).await,
            Connection::Cluster(conn) => {
                let route = Route::new(key_slot(key.as_bytes()), SlotAddr::Master);
                conn.route_command(
                    cmd,
                    RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route)),
                )
                .await
            }
        }
    }
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Connection::Single(conn) => conn.req_packed_command(cmd),
            Connection::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Connection::Single(conn) => conn.req_packed_commands(cmd, offset, count),
            Connection::Cluster(conn) => conn.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Single(conn) => conn.get_db(),
            Connection::Cluster(conn) => conn.get_db(),
        }
    }
}

/// The Redis Cluster hash slot of `key`: CRC16 (XMODEM) of its hash tag, the part between the
/// first `{` and the next `}` when that part is not empty, else of the whole key, modulo 16384.
pub(crate) fn key_slot(key: &[u8]) -> u16 {
    let tagged = key.iter().position(|&b| b == b'{').and_then(|open| {
        let rest = &key[open + 1..];
        let close = rest.iter().position(|&b| b == b'}')?;
        (close > 0).then(|| &rest[..close])
    });
    crc16_xmodem(tagged.unwrap_or(key)) % 16384
}

fn crc16_xmodem(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in data {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// A connection to Redis (a server or a cluster), made again when lost. Cheap to clone: clones
/// share it.
#[derive(Clone)]
pub struct RedisConn {
    shared: Arc<Shared>,
}

struct Shared {
    target: Target,
    connect_timeout: Duration,
    /// Longest one command may take, waiting for a connection included.
    deadline: Duration,
    /// The current connection and its generation, so a failure drops only the connection it
    /// happened on, not a newer one another command already made.
    current: Mutex<(u64, Option<Connection>)>,
}

impl RedisConn {
    /// A connection made on first use. `connect_timeout` bounds each connection attempt,
    /// `deadline` each command from start to answer.
    pub(crate) fn new(target: Target, connect_timeout: Duration, deadline: Duration) -> RedisConn {
        RedisConn {
            shared: Arc::new(Shared {
                target,
                connect_timeout,
                deadline,
                current: Mutex::new((0, None)),
            }),
        }
    }

    /// The live connection, made now if there is none. Concurrent callers share one attempt.
    async fn connection(&self) -> Result<(u64, Connection), RedisError> {
        let mut current = self.shared.current.lock().await;
        if let (generation, Some(conn)) = &*current {
            return Ok((*generation, conn.clone()));
        }
        let shared = &self.shared;
        let conn = shared
            .target
            .connect(shared.connect_timeout, shared.deadline)
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
        F: FnOnce(Connection) -> Fut,
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
        Box::pin(self.run(move |mut conn| async move { conn.req_packed_command(cmd).await }))
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(
            self.run(
                move |mut conn| async move { conn.req_packed_commands(cmd, offset, count).await },
            ),
        )
    }

    fn get_db(&self) -> i64 {
        match &self.shared.target {
            Target::Single(client) => client.get_connection_info().redis.db,
            Target::Cluster(_) => 0,
        }
    }
}

impl RedisConn {
    /// This connection with every command sent to the node owning `key`'s hash slot, within the
    /// deadline: for keyless commands such as SCAN walking one queue's keys.
    pub(crate) fn on_node_of<'a>(&'a self, key: &'a str) -> OnNodeOf<'a> {
        OnNodeOf { conn: self, key }
    }
}

/// See [`RedisConn::on_node_of`].
pub(crate) struct OnNodeOf<'a> {
    conn: &'a RedisConn,
    key: &'a str,
}

impl ConnectionLike for OnNodeOf<'_> {
    fn req_packed_command<'b>(&'b mut self, cmd: &'b Cmd) -> RedisFuture<'b, Value> {
        let key = self.key;
        Box::pin(
            self.conn
                .run(move |mut conn| async move { conn.on_node_of(key, cmd).await }),
        )
    }

    fn req_packed_commands<'b>(
        &'b mut self,
        cmd: &'b Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'b, Vec<Value>> {
        Box::pin(
            self.conn.run(move |mut conn| async move {
                conn.req_packed_commands(cmd, offset, count).await
            }),
        )
    }

    fn get_db(&self) -> i64 {
        self.conn.get_db()
    }
}

#[cfg(test)]
mod tests {
    use super::{crc16_xmodem, key_slot};

    #[test]
    fn slots_are_redis_clusters() {
        // Figures from the Redis Cluster specification and `CLUSTER KEYSLOT`.
        assert_eq!(crc16_xmodem(b"123456789"), 0x31C3);
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        // An empty tag is no tag: the whole key is hashed.
        assert_eq!(key_slot(b"foo{}{bar}"), 8363);
        assert_eq!(key_slot(b"{sy:noop}:ready"), 12940);
        assert_eq!(key_slot(b"{sy:noop}:ready"), key_slot(b"{sy:noop}:job:01J"));
    }
}
