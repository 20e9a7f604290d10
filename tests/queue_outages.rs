//! The queue when its Redis goes away: restarted under a draining worker, or its connection cut
//! in the middle of a request. Each test runs its own `redis-server` or its own TCP proxy in front
//! of the shared one, so nothing else running at the same time is disturbed.

#[allow(dead_code)]
mod api_helpers;
mod app_helpers;
mod http_helpers;
mod queue_helpers;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app_helpers::settings;
use queue_helpers::{
    broker_with, eventually, probe, probe_queue, queue_key, run_probe, Probe, ProbeState,
};
use redis::AsyncCommands;
use serde_json::json;
use switchyard::queue::{EnqueueOptions, JobStatus};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A `redis-server` of the test's own on a free port, appending every write to its AOF and
/// syncing it before answering, so whatever it acknowledged survives a crash.
struct RedisServer {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl RedisServer {
    async fn start() -> RedisServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let dir = std::env::temp_dir().join(format!("switchyard-redis-{}", ulid::Ulid::new()));
        std::fs::create_dir_all(&dir).expect("a data directory");
        let mut server = RedisServer {
            port,
            dir,
            child: None,
        };
        server.launch().await;
        server
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server on its port and data directory, and waits until it answers.
    async fn launch(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(&self.dir)
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let client = redis::Client::open(self.url()).expect("a Redis URL");
        eventually(Duration::from_secs(10), "redis-server to answer", || {
            let client = client.clone();
            async move {
                let mut conn = client.get_multiplexed_async_connection().await.ok()?;
                redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .ok()
            }
        })
        .await;
    }

    /// Kills the server as a crash would.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("redis-server killed");
            child.wait().expect("redis-server reaped");
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_redis_restart_work_resumes_within_seconds_and_every_acknowledged_job_runs_once() {
    let mut redis = RedisServer::start().await;
    let mut settings = settings();
    settings.redis.url = redis.url();
    let response_timeout = Duration::from_millis(settings.redis.response_timeout_ms);
    let broker = broker_with(&settings).await;
    let queue = probe_queue(&broker, "probe-restart", |p| {
        p.concurrency = 4;
        // One job per fetch, so a job that starts after the restart was fetched after it.
        p.batch_size = 1;
        // Longer than the outage: a job running through it keeps its lease and runs once.
        p.lease_secs = 10;
    });
    let state = Arc::new(ProbeState::default());

    let first: Vec<Probe> = (0..200).map(|i| probe(&format!("a{i}"), 30)).collect();
    let mut acknowledged: Vec<(String, String)> = queue
        .enqueue_bulk(&first, &EnqueueOptions::default())
        .await
        .unwrap()
        .into_iter()
        .zip(first.iter().map(|p| p.tag.clone()))
        .map(|(e, tag)| (tag, e.id))
        .collect();
    let worker = run_probe(&queue, state.clone());
    eventually(
        Duration::from_secs(10),
        "the drain to get going",
        || async { (state.finished.load(Ordering::SeqCst) >= 40).then_some(()) },
    )
    .await;

    // Meanwhile a producer keeps enqueueing; only what Redis acknowledged must run.
    let producing = Arc::new(AtomicBool::new(true));
    let producer = tokio::spawn({
        let (queue, producing) = (queue.clone(), producing.clone());
        async move {
            let mut acknowledged = Vec::new();
            let mut i = 0;
            while producing.load(Ordering::SeqCst) {
                let tag = format!("b{i}");
                i += 1;
                if let Ok(e) = queue
                    .enqueue(&probe(&tag, 30), &EnqueueOptions::default())
                    .await
                {
                    acknowledged.push((tag, e.id));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            acknowledged
        }
    });

    redis.kill();
    tokio::time::sleep(Duration::from_millis(500)).await;
    // A command while Redis is gone fails within the response timeout instead of waiting on
    // the reconnection.
    let asked = Instant::now();
    let answer =
        tokio::time::timeout(response_timeout + Duration::from_secs(2), broker.ping()).await;
    assert_eq!(
        answer,
        Ok(false),
        "PING with Redis down answered {answer:?} after {:?}",
        asked.elapsed()
    );
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    redis.launch().await;
    let back = Instant::now();

    let resumed = eventually(
        Duration::from_secs(5),
        "a job to start after Redis came back",
        || async {
            state
                .starts
                .lock()
                .unwrap()
                .iter()
                .map(|(_, _, at)| *at)
                .find(|at| *at > back)
        },
    )
    .await;
    println!("work resumed {:?} after Redis came back", resumed - back);
    assert!(
        tokio::time::timeout(response_timeout, broker.ping()).await == Ok(true),
        "PING answers again"
    );

    tokio::time::sleep(Duration::from_millis(500)).await;
    producing.store(false, Ordering::SeqCst);
    let produced = producer.await.unwrap();
    assert!(
        !produced.is_empty(),
        "the producer got nothing in after the restart"
    );
    acknowledged.extend(produced);

    for (tag, id) in &acknowledged {
        let what = format!("acknowledged job {tag} to be done");
        eventually(Duration::from_secs(30), &what, || async {
            queue
                .job(id)
                .await
                .ok()
                .flatten()
                .filter(|j| j.status == JobStatus::Done)
        })
        .await;
    }
    let twice: Vec<&String> = acknowledged
        .iter()
        .map(|(tag, _)| tag)
        .filter(|tag| state.starts_of(tag).len() != 1)
        .collect();
    assert!(
        twice.is_empty(),
        "{} acknowledged jobs did not run exactly once: {twice:?}",
        twice.len()
    );
    let s = queue.stats().await.unwrap();
    assert_eq!((s.dead, s.ready, s.running), (0, 0, 0));
    worker.stop().await;
}

/// A TCP proxy in front of a Redis that cuts its connections once they have carried a given
/// number of bytes towards Redis, as a network that drops them mid-request would.
struct CuttingProxy {
    addr: SocketAddr,
    /// Bytes still let through towards Redis before every connection is cut; None: no limit.
    budget: Arc<Mutex<Option<usize>>>,
}

impl CuttingProxy {
    async fn start(upstream: String) -> CuttingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let budget: Arc<Mutex<Option<usize>>> = Arc::default();
        let shared = budget.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, upstream.clone(), shared.clone()));
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

async fn relay(client: TcpStream, upstream: String, budget: Arc<Mutex<Option<usize>>>) {
    let Ok(server) = TcpStream::connect(&upstream).await else {
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
    let mut through_proxy = app_helpers::settings();
    let redis_url = through_proxy.redis.url.clone();
    let redis = reqwest::Url::parse(&redis_url).expect("a Redis URL");
    let redis_addr = format!(
        "{}:{}",
        redis.host_str().unwrap_or("127.0.0.1"),
        redis.port().unwrap_or(6379)
    );
    let proxy = CuttingProxy::start(redis_addr).await;
    through_proxy.redis.url = proxy.url();
    let app = api_helpers::spawn_app_with(through_proxy.clone()).await;
    // The test reads what was stored straight from Redis, past the proxy.
    let mut direct = through_proxy.clone();
    direct.redis.url = redis_url;
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
