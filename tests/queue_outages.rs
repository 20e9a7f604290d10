//! The queue when its Redis goes away: its connection cut in the middle of a request. Each test
//! runs its own TCP proxy in front of the shared Redis, so nothing else running at the same time
//! is disturbed.

#[allow(dead_code)]
mod api_helpers;
mod http_helpers;
mod queue_helpers;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use queue_helpers::{broker_with, queue_key};
use redis::AsyncCommands;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A TCP proxy in front of a Redis that cuts its connections once they have carried a given
/// number of bytes towards Redis, as a network that drops them mid-request would.
struct CuttingProxy {
    addr: SocketAddr,
    /// Bytes still let through towards Redis before every connection is cut; None: no limit.
    budget: Arc<Mutex<Option<usize>>>,
}

impl CuttingProxy {
    async fn start(upstream: &'static str) -> CuttingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let budget: Arc<Mutex<Option<usize>>> = Arc::default();
        let shared = budget.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, upstream, shared.clone()));
            }
        });
        CuttingProxy { addr, budget }
    }

    fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// Cuts the connections once `bytes` more have gone towards Redis.
    fn cut_after(&self, bytes: Option<usize>) {
        *self.budget.lock().unwrap() = bytes;
    }
}

async fn relay(client: TcpStream, upstream: &str, budget: Arc<Mutex<Option<usize>>>) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_server, mut to_server) = server.into_split();
    let towards_redis = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = from_client.read(&mut buf).await?;
            if n == 0 {
                return Ok::<(), std::io::Error>(());
            }
            let (pass, cut) = {
                let mut left = budget.lock().unwrap();
                match *left {
                    Some(l) if n >= l => {
                        *left = None;
                        (l, true)
                    }
                    Some(l) => {
                        *left = Some(l - n);
                        (n, false)
                    }
                    None => (n, false),
                }
            };
            to_server.write_all(&buf[..pass]).await?;
            if cut {
                return Ok(());
            }
        }
    };
    let towards_client = tokio::io::copy(&mut from_server, &mut to_client);
    // Whichever way ends first, both connections are dropped (closed) with it.
    tokio::select! {
        _ = towards_redis => {}
        _ = towards_client => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_enqueue_cut_off_midway_is_stored_wholly_or_not_at_all() {
    const JOBS: u64 = 1000;
    let proxy = CuttingProxy::start("127.0.0.1:6379").await;
    let mut through_proxy = api_helpers::test_settings();
    through_proxy.redis.url = proxy.url();
    let app = api_helpers::spawn_app_with(through_proxy.clone()).await;
    // The test reads what was stored straight from Redis, past the proxy.
    let mut direct = through_proxy.clone();
    direct.redis.url = "redis://127.0.0.1:6379".into();
    let broker = broker_with(&direct).await;
    let queue = broker.queue("noop").unwrap();

    // A request of 1000 jobs is about 60 KB on the wire; cut it at points all through it, then
    // send one that is let through.
    let cuts = [
        Some(5_000),
        Some(20_000),
        Some(35_000),
        Some(45_000),
        Some(55_000),
        None,
    ];
    let mut answers = Vec::new();
    for (r, cut) in cuts.iter().enumerate() {
        // Each job's sleep_ms names its request and its place in it.
        let jobs: Vec<_> = (0..JOBS)
            .map(|i| json!({"sleep_ms": r as u64 * 10_000 + i}))
            .collect();
        proxy.cut_after(*cut);
        let res = app
            .post_json("/v1/queues/noop/jobs/bulk", &json!({"jobs": jobs}))
            .await;
        proxy.cut_after(None);
        answers.push(res.status());
    }

    let ids: Vec<String> = broker
        .conn()
        .lrange(queue_key(&queue, "ready"), 0, -1)
        .await
        .unwrap();
    let mut stored: HashMap<u64, u64> = HashMap::new();
    for id in &ids {
        let job = queue.job(id).await.unwrap().expect("a stored job");
        let sleep_ms = job.payload["sleep_ms"].as_u64().unwrap();
        *stored.entry(sleep_ms / 10_000).or_default() += 1;
    }
    for (r, cut) in cuts.iter().enumerate() {
        let n = stored.get(&(r as u64)).copied().unwrap_or(0);
        assert!(
            n == 0 || n == JOBS,
            "request {r} (cut after {cut:?} bytes, answered {}) left {n} of its {JOBS} jobs",
            answers[r]
        );
        if answers[r].is_success() {
            assert_eq!(
                n, JOBS,
                "request {r} was answered {} but not stored",
                answers[r]
            );
        }
    }
    assert!(
        answers.iter().filter(|s| s.is_server_error()).count() >= 4,
        "the cuts did not fail the requests they cut: {answers:?}"
    );
    assert!(answers[cuts.len() - 1].is_success(), "{answers:?}");
    app.cleanup().await;
}
