//! A Redis Cluster for the tests: the one `SWITCHYARD_TEST_REDIS_CLUSTER` names (seed URLs,
//! comma separated; `.ci/run` starts one), else three masters this test binary starts once with
//! `scripts/redis-cluster`, on free ports, which shut down when the binary exits.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use switchyard::config::Settings;

/// The seed URLs of the tests' cluster, started on first use.
pub fn cluster_urls() -> Vec<String> {
    static URLS: OnceLock<Vec<String>> = OnceLock::new();
    URLS.get_or_init(|| match std::env::var("SWITCHYARD_TEST_REDIS_CLUSTER") {
        Ok(urls) if !urls.trim().is_empty() => urls.split(',').map(str::to_owned).collect(),
        _ => start_private_cluster(),
    })
    .clone()
}

/// `settings` on the tests' cluster instead of the single Redis.
pub fn on_cluster(mut settings: Settings) -> Settings {
    settings.redis.cluster_urls = cluster_urls();
    settings
}

/// The seed URL of the master holding `key`, asked of each master directly (the others answer
/// MOVED).
pub async fn node_of(key: &str) -> String {
    for url in cluster_urls() {
        let client = redis::Client::open(url.as_str()).expect("a node URL");
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("the node answers");
        let found: redis::RedisResult<u64> =
            redis::cmd("EXISTS").arg(key).query_async(&mut conn).await;
        if found == Ok(1) {
            return url;
        }
    }
    panic!("no master holds {key}");
}

fn start_private_cluster() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ports = free_ports(3);
    let dir = root
        .join("target")
        .join("redis-cluster")
        .join(std::process::id().to_string());
    let out = Command::new(root.join("scripts/redis-cluster"))
        .arg(&dir)
        .args(ports.iter().map(u16::to_string))
        .arg(std::process::id().to_string())
        .output()
        .expect("scripts/redis-cluster runs");
    assert!(
        out.status.success(),
        "the test cluster did not start: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("URLs are text")
        .trim()
        .split(',')
        .map(str::to_owned)
        .collect()
}

/// `n` ports free now whose cluster bus ports (port + 10000) are free too.
fn free_ports(n: usize) -> Vec<u16> {
    let mut ports = Vec::new();
    let mut candidate = 20_000 + (std::process::id() % 9_000) as u16;
    while ports.len() < n {
        candidate = 20_000 + (candidate - 20_000 + 7) % 10_000;
        let free = |p: u16| TcpListener::bind(("127.0.0.1", p)).is_ok();
        if free(candidate) && free(candidate + 10_000) && !ports.contains(&candidate) {
            ports.push(candidate);
        }
    }
    ports
}
