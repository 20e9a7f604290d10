//! A worker *process* killed with SIGKILL mid-job: another process finishes the job once the
//! lease expires, and nothing is lost. Timers across processes. Each on one Redis server and on
//! a Redis Cluster.

mod app_helpers;
mod cluster_helpers;
mod queue_helpers;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use app_helpers::settings;
use cluster_helpers::on_cluster;
use queue_helpers::*;
use switchyard::config::Settings;
use switchyard::jobs::Noop;
use switchyard::queue::{EnqueueOptions, JobStatus};

const CONFIG_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config");

fn spawn_worker(settings: &Settings) -> Child {
    spawn_worker_with(settings, CONFIG_DIR)
}

/// A `switchyard work` process on the Redis (server or cluster) and key prefix of `settings`,
/// and its PostgreSQL, which may be the suite's private servers the config files do not name.
fn spawn_worker_with(settings: &Settings, config_dir: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["work", "--queues", "noop"])
        .env("SWITCHYARD_ENV", "test")
        .env("DATABASE_URL", &settings.database.url)
        .env("REDIS_URL", &settings.redis.url)
        .env("SWITCHYARD__REDIS__KEY_PREFIX", &settings.redis.key_prefix)
        .env(
            "SWITCHYARD__REDIS__CLUSTER_URLS",
            settings.redis.cluster_urls.join(","),
        )
        .env("SWITCHYARD__QUEUES__NOOP__LEASE_SECS", "2")
        .env("SWITCHYARD__LOG__FILTER", "warn")
        .env("SWITCHYARD_CONFIG_DIR", config_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("switchyard binary starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_of_a_killed_worker_process_is_finished_by_another_after_its_lease_expires() {
    a_killed_workers_job_is_finished_by_another(settings()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_cluster_a_job_of_a_killed_worker_process_is_finished_by_another() {
    a_killed_workers_job_is_finished_by_another(on_cluster(settings())).await;
}

async fn a_killed_workers_job_is_finished_by_another(settings: Settings) {
    let broker = broker_with(&settings).await;
    let queue = broker.queue("noop").unwrap();
    let mut first = spawn_worker(&settings);

    let slow = Noop {
        sleep_ms: 4_000,
        ..Noop::default()
    };
    let job = enqueue(&queue, &slow).await;
    let quick = queue
        .enqueue_bulk(&vec![Noop::default(); 20], &EnqueueOptions::default())
        .await
        .unwrap();
    let running = until_status(&queue, &job.id, JobStatus::Running, Duration::from_secs(10)).await;
    let first_worker = running.worker.clone().unwrap();

    first.kill().expect("SIGKILL the first worker");
    first.wait().expect("reap the first worker");
    let mut second = spawn_worker(&settings);

    let done = until_status(&queue, &job.id, JobStatus::Done, Duration::from_secs(20)).await;
    assert_eq!(done.attempts, 2, "the lost attempt is counted");
    assert_ne!(done.worker.as_deref(), Some(first_worker.as_str()));
    assert!(done.last_error.unwrap().contains("lease expired"));
    for q in &quick {
        let j = queue.job(&q.id).await.unwrap().unwrap();
        assert_eq!(j.status, JobStatus::Done, "job {} was lost", q.id);
    }
    let s = queue.stats().await.unwrap();
    assert_eq!(
        (s.processed_total, s.dead, s.ready, s.running),
        (21, 0, 0, 0)
    );

    second.kill().ok();
    second.wait().ok();
    queue.destroy().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_two_worker_processes_each_timer_tick_enqueues_exactly_once() {
    each_timer_tick_enqueues_once_across_processes(settings()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_cluster_with_two_worker_processes_each_timer_tick_enqueues_exactly_once() {
    each_timer_tick_enqueues_once_across_processes(on_cluster(settings())).await;
}

async fn each_timer_tick_enqueues_once_across_processes(settings: Settings) {
    // A config directory whose test settings add a timer ticking every second.
    let dir = std::env::temp_dir().join(format!("switchyard-timer-{}", ulid::Ulid::new()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        format!("{CONFIG_DIR}/default.toml"),
        dir.join("default.toml"),
    )
    .unwrap();
    let mut test_toml = std::fs::read_to_string(format!("{CONFIG_DIR}/test.toml")).unwrap();
    test_toml
        .push_str("\n[[timers.periodic]]\nname = \"tick\"\nqueue = \"noop\"\nevery_secs = 1\n");
    std::fs::write(dir.join("test.toml"), test_toml).unwrap();

    let broker = broker_with(&settings).await;
    let queue = broker.queue("noop").unwrap();
    let dir_str = dir.to_str().unwrap();
    let mut a = spawn_worker_with(&settings, dir_str);
    let mut b = spawn_worker_with(&settings, dir_str);
    tokio::time::sleep(Duration::from_secs(6)).await;
    a.kill().ok();
    b.kill().ok();
    a.wait().ok();
    b.wait().ok();

    let s = queue.stats().await.unwrap();
    // Six seconds of one-second ticks, started while the processes came up: at least three
    // ticks, and never more than one job per tick.
    assert!(s.enqueued_total >= 3, "{s:?}");
    assert!(s.enqueued_total <= 7, "{s:?}");
    // A tick enqueued just before the kill may not have run: count it wherever it is.
    let mut ticks: Vec<String> = Vec::new();
    for status in [JobStatus::Ready, JobStatus::Running, JobStatus::Done] {
        let jobs = queue.list(status, 0, 100).await.unwrap();
        ticks.extend(jobs.iter().filter_map(|j| j.unique_key.clone()));
    }
    assert_eq!(
        ticks.len() as u64,
        s.enqueued_total,
        "every timer job carries its tick"
    );
    ticks.sort();
    ticks.dedup();
    assert_eq!(
        ticks.len() as u64,
        s.enqueued_total,
        "a tick was enqueued twice"
    );
    queue.destroy().await.unwrap();
    std::fs::remove_dir_all(&dir).ok();
}
