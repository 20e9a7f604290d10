//! The queue's behaviours, each against a real Redis under its own key prefix. Two test binaries
//! run them: `queue` on one Redis server, `queue_cluster` on a Redis Cluster; each gives this
//! module its `backend` (the settings and broker of its Redis).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::backend::{broker, settings};
use crate::queue_helpers::*;
use redis::AsyncCommands;
use switchyard::config::QueueOverrides;
use switchyard::jobs::Noop;
use switchyard::queue::timers::Timer;
use switchyard::queue::{EnqueueOptions, Enqueued, JobStatus};

fn delayed(ms: u64) -> EnqueueOptions {
    EnqueueOptions {
        delay: Some(Duration::from_millis(ms)),
        ..EnqueueOptions::default()
    }
}

fn unique(key: &str) -> EnqueueOptions {
    EnqueueOptions {
        unique_key: Some(key.to_owned()),
        ..EnqueueOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delayed_job_does_not_run_before_its_time_and_runs_soon_after() {
    let broker = broker().await;
    let queue = broker.queue("noop").unwrap();
    let worker = run_noop(&broker);
    let job = queue
        .enqueue(&Noop::default(), &delayed(1500))
        .await
        .unwrap();

    tokio::time::sleep(Duration::from_millis(1000)).await;
    let early = queue.job(&job.id).await.unwrap().unwrap();
    assert_eq!(early.status, JobStatus::Scheduled, "ran before its time");

    let done = until_status(&queue, &job.id, JobStatus::Done, Duration::from_secs(5)).await;
    let waited = done.started_at.unwrap() - done.enqueued_at.unwrap();
    assert!(waited.num_milliseconds() >= 1500, "started after {waited}");
    assert!(
        waited.num_milliseconds() < 1500 + 1500,
        "started late: {waited}"
    );
    worker.stop().await;
    queue.destroy().await.unwrap();
}

#[tokio::test]
async fn a_duplicate_unique_key_returns_the_first_jobs_id_while_it_waits_to_start() {
    let broker = broker().await;
    let queue = broker.queue("noop").unwrap();
    let first = queue
        .enqueue(&Noop::default(), &unique("channel-7"))
        .await
        .unwrap();
    let second = queue
        .enqueue(&Noop::default(), &unique("channel-7"))
        .await
        .unwrap();
    assert!(first.created);
    assert!(!second.created);
    assert_eq!(first.id, second.id);
    let other = queue
        .enqueue(&Noop::default(), &unique("channel-8"))
        .await
        .unwrap();
    assert_ne!(other.id, first.id);
    assert_eq!(queue.stats().await.unwrap().ready, 2);

    // Once the first job is finished, the key is free again.
    let worker = run_noop(&broker);
    until_stats(&queue, Duration::from_secs(5), "both jobs to finish", |s| {
        s.processed_total == 2
    })
    .await;
    let third = queue
        .enqueue(&Noop::default(), &unique("channel-7"))
        .await
        .unwrap();
    assert!(third.created);
    assert_ne!(third.id, first.id);
    worker.stop().await;
    queue.destroy().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_job_is_retried_with_growing_delays_and_then_succeeds() {
    let broker = broker().await;
    let queue = probe_queue(&broker, "probe-retry", |p| {
        p.backoff_base_ms = 150;
        p.backoff_cap_ms = 10_000;
        p.backoff_jitter = 0.0;
    });
    let state = Arc::new(ProbeState::default());
    state.fail_through_attempt.store(3, Ordering::SeqCst);
    let worker = run_probe(&queue, state.clone());

    let job = enqueue(&queue, &probe("r", 0)).await;
    let done = until_status(&queue, &job.id, JobStatus::Done, Duration::from_secs(10)).await;
    assert_eq!(done.attempts, 4);
    let starts = state.starts_of("r");
    assert_eq!(
        starts.iter().map(|(a, _)| *a).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    let gaps: Vec<Duration> = starts.windows(2).map(|w| w[1].1 - w[0].1).collect();
    // Backoff 150 ms, 300 ms, 600 ms: each wait at least its backoff, and each longer than the last.
    for (gap, min) in gaps.iter().zip([150u64, 300, 600]) {
        assert!(*gap >= Duration::from_millis(min), "gaps {gaps:?}");
    }
    assert!(
        gaps[0] < gaps[1] && gaps[1] < gaps[2],
        "gaps do not grow: {gaps:?}"
    );
    assert_eq!(state.finished.load(Ordering::SeqCst), 1);
    worker.stop().await;
    queue.destroy().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_error_goes_straight_to_the_dead_letters() {
    let broker = broker().await;
    let queue = broker.queue("noop").unwrap();
    let worker = run_noop(&broker);
    let poison = Noop {
        permanent: true,
        ..Noop::default()
    };
    let job = enqueue(&queue, &poison).await;
    let dead = until_status(&queue, &job.id, JobStatus::Dead, Duration::from_secs(5)).await;
    assert_eq!(dead.attempts, 1, "a permanent error must not be retried");
    assert!(dead.last_error.unwrap().contains("permanently"));
    let page = queue.dead(None, 10).await.unwrap();
    assert_eq!(page.jobs.len(), 1);
    assert_eq!(page.jobs[0].id, job.id);
    worker.stop().await;
    queue.destroy().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_attempts_land_in_dead_letters_with_the_last_error_and_requeue_runs_them_again() {
    let broker = broker().await;
    let queue = probe_queue(&broker, "probe-dead", |p| {
        p.max_attempts = 3;
        p.backoff_base_ms = 50;
        p.backoff_cap_ms = 100;
    });
    let state = Arc::new(ProbeState::default());
    state.fail_through_attempt.store(u32::MAX, Ordering::SeqCst);
    let worker = run_probe(&queue, state.clone());

    let job = enqueue(&queue, &probe("d", 0)).await;
    let dead = until_status(&queue, &job.id, JobStatus::Dead, Duration::from_secs(10)).await;
    assert_eq!(dead.attempts, 3);
    assert_eq!(dead.last_error.as_deref(), Some("probe failing attempt 3"));
    assert_eq!(queue.stats().await.unwrap().dead, 1);

    // The cause is fixed; a requeue runs the job again, from a fresh attempt budget.
    state.fail_through_attempt.store(0, Ordering::SeqCst);
    assert_eq!(queue.requeue_dead(Some(&job.id)).await.unwrap(), 1);
    let done = until_status(&queue, &job.id, JobStatus::Done, Duration::from_secs(5)).await;
    assert_eq!(done.attempts, 1);
    assert_eq!(state.finished.load(Ordering::SeqCst), 1);
    assert_eq!(queue.stats().await.unwrap().dead, 0);
    worker.stop().await;
    queue.destroy().await.unwrap();
}

fn for_tenant(tenant: &str) -> EnqueueOptions {
    EnqueueOptions {
        tenant: Some(tenant.to_owned()),
        ..EnqueueOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tenants_backlog_of_100000_delays_another_tenants_job_by_at_most_one_fetch() {
    const BACKLOG: usize = 100_000;
    const BATCH: usize = 16;
    let broker = broker().await;
    let queue = probe_queue(&broker, "fair", |p| {
        p.concurrency = 4;
        p.batch_size = BATCH;
    });
    let big: Vec<Probe> = (0..1_000).map(|_| probe("big", 0)).collect();
    for _ in 0..BACKLOG / big.len() {
        queue.enqueue_bulk(&big, &for_tenant("big")).await.unwrap();
    }
    let stats = queue.stats().await.unwrap();
    assert_eq!(
        stats.ready, BACKLOG as u64,
        "a tenant's waiting jobs count as ready"
    );
    assert_eq!(queue.list(JobStatus::Ready, 0, 3).await.unwrap().len(), 3);

    let state = Arc::new(ProbeState::default());
    let worker = run_probe(&queue, state.clone());
    eventually(
        Duration::from_secs(20),
        "the backlog to be under way",
        || async { (state.starts_of("big").len() >= 200).then_some(()) },
    )
    .await;
    let started_before = state.starts.lock().unwrap().len();
    queue
        .enqueue(&probe("small", 0), &for_tenant("small"))
        .await
        .unwrap();
    eventually(
        Duration::from_secs(20),
        "the small tenant's job to start",
        || async { (!state.starts_of("small").is_empty()).then_some(()) },
    )
    .await;
    worker.stop().await;

    let (small_at, started) = {
        let starts = state.starts.lock().unwrap();
        let small_at = starts.iter().position(|(tag, _, _)| tag == "small");
        (small_at.unwrap(), starts.len())
    };
    let big_in_between = small_at - started_before;
    // Jobs already fetched when the small job arrived (one batch at most) may start before it;
    // the next fetch takes it in its first round.
    assert!(
        big_in_between <= BATCH + 1,
        "{big_in_between} of the big tenant's jobs started first (batch {BATCH})"
    );
    assert!(started < BACKLOG / 2, "the backlog was not drained first");
    queue.destroy().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_jobs_run_after_a_delay_a_retry_and_a_requeue() {
    let broker = broker().await;
    let queue = probe_queue(&broker, "tenant-paths", |p| {
        p.max_attempts = 2;
        p.backoff_base_ms = 50;
        p.backoff_cap_ms = 50;
    });
    let state = Arc::new(ProbeState::default());
    state.fail_through_attempt.store(1, Ordering::SeqCst);
    let delayed_for_a = EnqueueOptions {
        delay: Some(Duration::from_millis(300)),
        ..for_tenant("a")
    };
    let first = queue
        .enqueue(&probe("delayed", 0), &delayed_for_a)
        .await
        .unwrap();
    let second = queue
        .enqueue(&probe("retried", 0), &for_tenant("b"))
        .await
        .unwrap();
    let worker = run_probe(&queue, state.clone());
    for job in [&first, &second] {
        until_status(&queue, &job.id, JobStatus::Done, Duration::from_secs(10)).await;
    }
    // A dead letter requeued goes back to its tenant's turn.
    state.fail_through_attempt.store(10, Ordering::SeqCst);
    let third = queue
        .enqueue(&probe("dead", 0), &for_tenant("a"))
        .await
        .unwrap();
    until_status(&queue, &third.id, JobStatus::Dead, Duration::from_secs(10)).await;
    state.fail_through_attempt.store(0, Ordering::SeqCst);
    assert_eq!(queue.requeue_dead(Some(&third.id)).await.unwrap(), 1);
    until_status(&queue, &third.id, JobStatus::Done, Duration::from_secs(10)).await;
    worker.stop().await;
    let s = queue.stats().await.unwrap();
    assert_eq!((s.ready, s.scheduled, s.running, s.dead), (0, 0, 0, 0));
    assert!(
        queue
            .enqueue(&probe("x", 0), &for_tenant("no spaces"))
            .await
            .is_err(),
        "a tenant that cannot be a key is refused"
    );
    queue.destroy().await.unwrap();
}

#[tokio::test]
async fn requeue_all_and_purge_work_on_every_dead_letter() {
    let broker = broker().await;
    let queue = broker.queue("noop").unwrap();
    let worker = run_noop(&broker);
    let poison = Noop {
        permanent: true,
        ..Noop::default()
    };
    queue
        .enqueue_bulk(&vec![poison; 5], &EnqueueOptions::default())
        .await
        .unwrap();
    until_stats(&queue, Duration::from_secs(5), "five dead letters", |s| {
        s.dead == 5
    })
    .await;
    worker.stop().await;
    assert_eq!(queue.requeue_dead(None).await.unwrap(), 5);
    let s = queue.stats().await.unwrap();
    assert_eq!((s.dead, s.ready), (0, 5));

    let worker = run_noop(&broker);
    until_stats(
        &queue,
        Duration::from_secs(5),
        "five dead letters again",
        |s| s.dead == 5,
    )
    .await;
    worker.stop().await;
    assert_eq!(queue.purge_dead(None).await.unwrap(), 5);
    assert_eq!(queue.stats().await.unwrap().dead, 0);
    assert!(queue.dead(None, 10).await.unwrap().jobs.is_empty());
    queue.destroy().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_queue_runs_nothing_until_resumed() {
    let broker = broker().await;
    let queue = broker.queue("noop").unwrap();
    let worker = run_noop(&broker);
    queue.pause().await.unwrap();
    queue
        .enqueue_bulk(&vec![Noop::default(); 10], &EnqueueOptions::default())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let s = queue.stats().await.unwrap();
    assert!(s.paused);
    assert_eq!(
        (s.ready, s.processed_total),
        (10, 0),
        "a paused queue ran jobs"
    );

    let resumed = Instant::now();
    queue.resume().await.unwrap();
    until_stats(
        &queue,
        Duration::from_secs(5),
        "the resumed queue to drain",
        |s| s.processed_total == 10,
    )
    .await;
    // Resuming wakes idle workers at once rather than at their next look.
    assert!(
        resumed.elapsed() < Duration::from_millis(900),
        "{:?}",
        resumed.elapsed()
    );
    worker.stop().await;
    queue.destroy().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_thousand_jobs_due_at_once_drain_completely() {
    const N: usize = 200_000;
    let broker = broker().await;
    let queue = broker.queue("noop").unwrap();
    // All scheduled for the same moment, so they fall due together as one backlog.
    let payloads: Vec<String> = (0..N).map(|_| "{}".to_owned()).collect();
    for chunk in payloads.chunks(5_000) {
        queue
            .enqueue_bulk_json(chunk, &delayed(2_000))
            .await
            .unwrap();
    }
    assert_eq!(queue.stats().await.unwrap().scheduled, N as u64);
    tokio::time::sleep(Duration::from_millis(2_100)).await;

    let worker = run_noop(&broker);
    let s = until_stats(
        &queue,
        Duration::from_secs(240),
        "200,000 due jobs to drain",
        |s| s.processed_total == N as u64,
    )
    .await;
    assert_eq!((s.ready, s.scheduled, s.running, s.dead), (0, 0, 0, 0));
    // Finished jobs are trimmed to the queue's retention, so Redis does not grow without bound.
    assert!(s.done_retained <= broker.settings().policy("noop").done_retention_count);
    worker.stop().await;
    queue.destroy().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_running_jobs_and_hands_back_unstarted_ones() {
    let broker = broker().await;
    let queue = probe_queue(&broker, "probe-shutdown", |p| {
        p.concurrency = 2;
        p.batch_size = 8;
    });
    let state = Arc::new(ProbeState::default());
    let jobs: Vec<Probe> = (0..10).map(|i| probe(&format!("s{i}"), 1_000)).collect();
    let ids: Vec<String> = enqueue_ids(&queue, &jobs, &EnqueueOptions::default()).await;
    let worker = run_probe(&queue, state.clone());
    eventually(Duration::from_secs(5), "two jobs to start", || async {
        (state.starts.lock().unwrap().len() == 2).then_some(())
    })
    .await;
    // One batch of eight is leased: two running, six waiting in the worker.
    assert_eq!(queue.stats().await.unwrap().running, 8);

    worker.stop().await;
    let s = queue.stats().await.unwrap();
    assert_eq!(
        state.finished.load(Ordering::SeqCst),
        2,
        "running jobs were cut short"
    );
    assert_eq!((s.processed_total, s.ready, s.running), (2, 8, 0));
    let mut handed_back = 0;
    for id in &ids {
        let j = queue.job(id).await.unwrap().unwrap();
        if j.status == JobStatus::Ready {
            assert_eq!(j.attempts, 0, "an unstarted job's attempt was counted");
            handed_back += 1;
        }
    }
    assert_eq!(handed_back, 8);
    queue.destroy().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_outliving_its_lease_keeps_it_while_its_worker_lives() {
    let broker = broker().await;
    let queue = probe_queue(&broker, "probe-lease", |p| p.lease_secs = 1);
    let state = Arc::new(ProbeState::default());
    let worker = run_probe(&queue, state.clone());
    let job = enqueue(&queue, &probe("long", 3_500)).await;
    let done = until_status(&queue, &job.id, JobStatus::Done, Duration::from_secs(10)).await;
    assert_eq!(
        done.attempts, 1,
        "the lease was not renewed and the job ran twice"
    );
    assert_eq!(state.starts_of("long").len(), 1);
    assert_eq!(queue.stats().await.unwrap().lease_expired_total, 0);
    worker.stop().await;
    queue.destroy().await.unwrap();
}

#[tokio::test]
async fn a_timer_tick_enqueues_once_however_many_replicas_fire_it() {
    let broker = broker().await;
    let queue = broker.queue("import-orders").unwrap();
    let timer = Timer {
        name: "import-orders:channel-1".into(),
        every: Duration::from_secs(180),
        queue: queue.clone(),
        payload: serde_json::json!({"channel_id": 1, "reason": "timer"}),
    };
    let replicas: Vec<Timer> = (0..4).map(|_| timer.clone()).collect();
    let fired = futures::future::join_all(replicas.iter().map(|t| t.fire(1_800_000_180))).await;
    let created = fired.into_iter().filter(|r| *r.as_ref().unwrap()).count();
    assert_eq!(created, 1);
    assert_eq!(queue.stats().await.unwrap().ready, 1);
    // The next tick is a new job.
    assert!(timer.fire(1_800_000_360).await.unwrap());
    assert_eq!(queue.stats().await.unwrap().ready, 2);
    queue.destroy().await.unwrap();
}

#[tokio::test]
async fn apalis_dashboards_can_list_queues_tasks_and_metrics() {
    use apalis_core::backend::{Filter, ListQueues, ListTasks, Metrics};
    use apalis_core::task::status::Status;
    use switchyard::queue::RedisBackend;

    let broker = broker().await;
    let queue = broker.queue("noop").unwrap();
    queue
        .enqueue_bulk(&vec![Noop::default(); 3], &EnqueueOptions::default())
        .await
        .unwrap();
    queue
        .enqueue(&Noop::default(), &delayed(60_000))
        .await
        .unwrap();
    let backend = RedisBackend::<Noop>::new(queue.clone());

    let queues = backend.list_queues().await.unwrap();
    let noop = queues
        .iter()
        .find(|q| q.name == "noop")
        .expect("noop is listed");
    let ready = noop.stats.iter().find(|s| s.title == "Ready").unwrap();
    assert_eq!(ready.value, "3");

    let filter = |status| Filter {
        status: Some(status),
        page: 1,
        page_size: Some(10),
    };
    assert_eq!(
        backend
            .list_tasks(&filter(Status::Queued))
            .await
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        backend
            .list_tasks(&filter(Status::Pending))
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(backend
        .list_tasks(&filter(Status::Killed))
        .await
        .unwrap()
        .is_empty());

    let stats = backend.fetch_by_queue().await.unwrap();
    let scheduled = stats.iter().find(|s| s.title == "Scheduled").unwrap();
    assert_eq!(scheduled.value, "1");
    queue.destroy().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unique_key_is_free_again_once_its_job_starts_so_a_change_during_a_run_runs_again() {
    let broker = broker().await;
    let queue = broker.queue("noop").unwrap();
    let worker = run_noop(&broker);
    let slow = Noop {
        sleep_ms: 800,
        ..Noop::default()
    };
    let first = queue.enqueue(&slow, &unique("sync-stock:3")).await.unwrap();
    until_status(
        &queue,
        &first.id,
        JobStatus::Running,
        Duration::from_secs(5),
    )
    .await;
    // Enqueued for a moment later, so it is still waiting (not started by an idle worker) when
    // the next one with its key arrives.
    let later = EnqueueOptions {
        delay: Some(Duration::from_millis(1_000)),
        ..unique("sync-stock:3")
    };
    let during = queue.enqueue(&slow, &later).await.unwrap();
    assert!(
        during.created,
        "a change during the run must cause another run"
    );
    let again = queue.enqueue(&slow, &later).await.unwrap();
    assert_eq!(again.id, during.id, "waiting jobs still coalesce");
    until_stats(
        &queue,
        Duration::from_secs(10),
        "both runs to finish",
        |s| s.processed_total == 2,
    )
    .await;
    worker.stop().await;
    queue.destroy().await.unwrap();
}

/// Waits until the probe tagged `tag` has started: leased is not enough, a job can wait in its
/// worker's buffer.
async fn started(state: &ProbeState, tag: &str) {
    eventually(
        Duration::from_secs(5),
        &format!("{tag} to start"),
        || async { (!state.starts_of(tag).is_empty()).then_some(()) },
    )
    .await;
}

/// Kills a worker the way a crash would: no shutdown, no hand-back, its leases left to run out.
async fn crash(worker: Running) {
    worker.handle.abort();
    let _ = worker.handle.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_whose_record_fetch_cannot_read_is_dead_lettered_and_the_rest_of_its_batch_runs() {
    let broker = broker().await;
    let queue = probe_queue(&broker, "probe-unreadable", |p| p.batch_size = 16);
    let tags = [
        "g0",
        "no-attempt",
        "g1",
        "no-run-at",
        "g2",
        "bad-attempt",
        "g3",
    ];
    let jobs: Vec<Probe> = tags.iter().map(|t| probe(t, 0)).collect();
    let ids: Vec<String> = enqueue_ids(&queue, &jobs, &EnqueueOptions::default()).await;
    // Records damaged the ways an old release, a manual edit or a partial write can leave them,
    // and an id whose record is gone altogether.
    let mut conn = broker.conn();
    let _: () = conn
        .hdel(job_key(&queue, &ids[1]), "attempt")
        .await
        .unwrap();
    let _: () = conn.hdel(job_key(&queue, &ids[3]), "run_at").await.unwrap();
    let _: () = conn
        .hset(job_key(&queue, &ids[5]), "attempt", "x")
        .await
        .unwrap();
    let missing = "01JZZZZZZZZZZZZZZZZZZZZZZZ";
    let _: () = conn
        .rpush(queue_key(&queue, "ready"), missing)
        .await
        .unwrap();

    let state = Arc::new(ProbeState::default());
    let worker = run_probe(&queue, state.clone());
    eventually(
        Duration::from_secs(5),
        "the four readable jobs of the batch to run",
        || async { (state.finished.load(Ordering::SeqCst) == 4).then_some(()) },
    )
    .await;
    for (i, field) in [(1, "`attempt`"), (3, "`run_at`"), (5, "`attempt`")] {
        let dead = until_status(&queue, &ids[i], JobStatus::Dead, Duration::from_secs(5)).await;
        let reason = dead.last_error.unwrap_or_default();
        assert!(reason.contains(field), "{}: {reason}", tags[i]);
        assert!(state.starts_of(tags[i]).is_empty(), "{} ran", tags[i]);
    }
    let gone = until_status(&queue, missing, JobStatus::Dead, Duration::from_secs(5)).await;
    assert!(
        gone.last_error.unwrap_or_default().contains("no record"),
        "the reason names the missing record"
    );
    let s = queue.stats().await.unwrap();
    assert_eq!(
        (s.processed_total, s.dead, s.ready, s.running),
        (4, 4, 0, 0)
    );
    worker.stop().await;
    queue.destroy().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_lease_whose_record_cannot_be_read_is_dead_lettered_not_lost() {
    let broker = broker().await;
    let queue = probe_queue(&broker, "probe-unreadable-lease", |p| p.lease_secs = 1);
    let state = Arc::new(ProbeState::default());
    let lost = enqueue(&queue, &probe("lost", 30_000)).await;
    let doomed = run_probe(&queue, state.clone());
    started(&state, "lost").await;
    crash(doomed).await;
    let mut conn = broker.conn();
    let _: () = conn
        .hdel(job_key(&queue, &lost.id), "max_attempts")
        .await
        .unwrap();

    let after = enqueue(&queue, &probe("after", 0)).await;
    let worker = run_probe(&queue, state.clone());
    let dead = until_status(&queue, &lost.id, JobStatus::Dead, Duration::from_secs(5)).await;
    let reason = dead.last_error.unwrap_or_default();
    assert!(reason.contains("`max_attempts`"), "{reason}");
    until_status(&queue, &after.id, JobStatus::Done, Duration::from_secs(5)).await;
    assert_eq!(
        state.starts_of("lost").len(),
        1,
        "the unreadable job ran again"
    );
    worker.stop().await;
    queue.destroy().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_attempt_on_a_record_missing_its_attempt_budget_is_dead_lettered_not_lost() {
    let broker = broker().await;
    let queue = probe_queue(&broker, "probe-unreadable-fail", |_| {});
    let state = Arc::new(ProbeState::default());
    state.fail_through_attempt.store(1, Ordering::SeqCst);
    let worker = run_probe(&queue, state.clone());
    let job = enqueue(&queue, &probe("f", 500)).await;
    until_status(&queue, &job.id, JobStatus::Running, Duration::from_secs(5)).await;
    let mut conn = broker.conn();
    let _: () = conn
        .hdel(job_key(&queue, &job.id), "max_attempts")
        .await
        .unwrap();

    let dead = until_status(&queue, &job.id, JobStatus::Dead, Duration::from_secs(5)).await;
    let reason = dead.last_error.unwrap_or_default();
    assert!(reason.contains("probe failing attempt 1"), "{reason}");
    assert!(reason.contains("`max_attempts`"), "{reason}");
    let s = queue.stats().await.unwrap();
    assert_eq!((s.dead, s.running, s.scheduled), (1, 0, 0));
    worker.stop().await;
    queue.destroy().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unstarted_jobs_are_handed_back_at_shutdown_even_when_running_jobs_outlive_the_grace() {
    let mut settings = settings();
    settings.shutdown.grace_secs = 1;
    settings.queues.insert(
        "noop".into(),
        QueueOverrides {
            concurrency: Some(1),
            batch_size: Some(4),
            lease_secs: Some(2),
            ..QueueOverrides::default()
        },
    );
    let broker = broker_with(&settings).await;
    let queue = broker.queue("noop").unwrap();
    let slow = Noop {
        sleep_ms: 5_000,
        ..Noop::default()
    };
    enqueue(&queue, &slow).await;
    let once = EnqueueOptions {
        max_attempts: Some(1),
        ..EnqueueOptions::default()
    };
    let waiting: Vec<String> = queue
        .enqueue_bulk(&vec![Noop::default(); 3], &once)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    let pool = run_noop(&broker);
    // One slot: the slow job runs, the other three wait in the worker, leased.
    until_stats(
        &queue,
        Duration::from_secs(5),
        "a batch of four leased",
        |s| s.running == 4,
    )
    .await;

    // The slow job outlives the one-second grace.
    pool.stop().await;
    for id in &waiting {
        let j = queue.job(id).await.unwrap().unwrap();
        assert_eq!(
            (j.status, j.attempts),
            (JobStatus::Ready, 0),
            "an unstarted job was left leased, or charged an attempt"
        );
    }
    // They run on the next worker, and are not dead-lettered for an attempt they never had.
    let next = run_noop(&broker);
    for id in &waiting {
        let done = until_status(&queue, id, JobStatus::Done, Duration::from_secs(10)).await;
        assert_eq!(done.attempts, 1);
    }
    next.stop().await;
    queue.destroy().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn due_jobs_and_expired_leases_are_promoted_while_every_slot_is_busy() {
    let broker = broker().await;
    let queue = probe_queue(&broker, "probe-reaper", |p| {
        p.concurrency = 1;
        p.batch_size = 1;
        p.lease_secs = 1;
    });
    let state = Arc::new(ProbeState::default());

    // A worker dies holding a job; its lease runs out a second later.
    let lost = enqueue(&queue, &probe("lost", 30_000)).await;
    let doomed = run_probe(&queue, state.clone());
    started(&state, "lost").await;
    crash(doomed).await;

    // The only live worker is busy for longer than the test waits.
    let busy = enqueue(&queue, &probe("busy", 10_000)).await;
    let worker = run_probe(&queue, state.clone());
    until_status(&queue, &busy.id, JobStatus::Running, Duration::from_secs(5)).await;
    let due = queue
        .enqueue(&probe("due", 0), &delayed(300))
        .await
        .unwrap();

    let rescued = until_status(&queue, &lost.id, JobStatus::Ready, Duration::from_secs(4)).await;
    assert!(rescued
        .last_error
        .unwrap_or_default()
        .contains("lease expired"));
    until_status(&queue, &due.id, JobStatus::Ready, Duration::from_secs(4)).await;
    let still = queue.job(&busy.id).await.unwrap().unwrap();
    assert_eq!(still.status, JobStatus::Running, "the only slot was freed");
    crash(worker).await;
    queue.destroy().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_waiting_for_its_retry_holds_its_unique_key_again() {
    let mut settings = settings();
    // A failed attempt waits a minute for its retry: long enough to enqueue meanwhile.
    settings.queues.insert(
        "noop".into(),
        QueueOverrides {
            backoff_base_ms: Some(60_000),
            backoff_cap_ms: Some(60_000),
            ..QueueOverrides::default()
        },
    );
    let broker = broker_with(&settings).await;
    let queue = broker.queue("noop").unwrap();
    let worker = run_noop(&broker);
    let failing = Noop {
        fail_attempts: 1,
        ..Noop::default()
    };
    let first = queue
        .enqueue(&failing, &unique("run-plugin:1:2"))
        .await
        .unwrap();
    until_status(
        &queue,
        &first.id,
        JobStatus::Retrying,
        Duration::from_secs(5),
    )
    .await;
    let again = queue
        .enqueue(&failing, &unique("run-plugin:1:2"))
        .await
        .unwrap();
    assert_eq!(
        again,
        Enqueued {
            id: first.id.clone(),
            created: false
        },
        "a job waiting for its retry is pending: the same work coalesces into it"
    );
    worker.stop().await;
    queue.destroy().await.unwrap();
}
