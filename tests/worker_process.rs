//! A worker *process* killed with SIGKILL mid-job: another process finishes the job once the
//! lease expires, and nothing is lost.

mod queue_helpers;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use queue_helpers::*;
use switchyard::queue::{EnqueueOptions, JobStatus};
use switchyard::workers::Noop;

fn spawn_worker(prefix: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["work", "--queues", "noop"])
        .env("SWITCHYARD_ENV", "test")
        .env("SWITCHYARD__REDIS__KEY_PREFIX", prefix)
        .env("SWITCHYARD__QUEUES__NOOP__LEASE_SECS", "2")
        .env("SWITCHYARD__LOG__FILTER", "warn")
        .env(
            "SWITCHYARD_CONFIG_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/config"),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("switchyard binary starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_of_a_killed_worker_process_is_finished_by_another_after_its_lease_expires() {
    let settings = settings();
    let broker = broker_with(&settings).await;
    let queue = broker.queue("noop").unwrap();
    let mut first = spawn_worker(&settings.redis.key_prefix);

    let slow = Noop {
        sleep_ms: 4_000,
        ..Noop::default()
    };
    let job = queue
        .enqueue(&slow, &EnqueueOptions::default())
        .await
        .unwrap();
    let quick = queue
        .enqueue_bulk(&vec![Noop::default(); 20], &EnqueueOptions::default())
        .await
        .unwrap();
    let running = eventually(
        Duration::from_secs(10),
        "the first process to start the job",
        || async {
            queue
                .job(&job.id)
                .await
                .unwrap()
                .filter(|j| j.status == JobStatus::Running)
        },
    )
    .await;
    let first_worker = running.worker.clone().unwrap();

    first.kill().expect("SIGKILL the first worker");
    first.wait().expect("reap the first worker");
    let mut second = spawn_worker(&settings.redis.key_prefix);

    let done = eventually(
        Duration::from_secs(20),
        "another process to finish the job",
        || async {
            queue
                .job(&job.id)
                .await
                .unwrap()
                .filter(|j| j.status == JobStatus::Done)
        },
    )
    .await;
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
