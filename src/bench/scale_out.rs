//! `switchyard bench queue --processes 1,2,4`: the drain rate of one backlog of no-op jobs by
//! 1, 2, 4, ... `switchyard work` processes sharing one Redis (or one Redis Cluster), as a ratio
//! to the one-process figure measured in the same command.
//!
//! Each run enqueues the backlog first, then starts the processes. The rate is taken between
//! 10% and 90% of the backlog done, so process start-up (connecting, loading scripts, the first
//! fetch) and the tail do not count.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::ProgressBar;

use super::median;
use crate::config::Settings;
use crate::queue::{Broker, EnqueueOptions};

/// The scale-out measurement's choices.
#[derive(Debug, Clone)]
pub struct Options {
    pub jobs: usize,
    pub runs: usize,
    /// Worker process counts to measure; 1 is measured first whether named or not.
    pub processes: Vec<usize>,
    /// Seed nodes of a Redis Cluster to measure as well, after the configured Redis.
    pub cluster_urls: Vec<String>,
}

/// Worker processes of one run, killed when dropped so a failed run leaves none behind.
struct Workers(Vec<Child>);

impl Workers {
    fn start(settings: &Settings, n: usize) -> anyhow::Result<Workers> {
        let exe = std::env::current_exe().context("finding the switchyard binary")?;
        let mut children = Workers(Vec::with_capacity(n));
        for _ in 0..n {
            let child = Command::new(&exe)
                .args(["work", "--queues", "noop"])
                .env("SWITCHYARD__REDIS__KEY_PREFIX", &settings.redis.key_prefix)
                .env("SWITCHYARD__REDIS__URL", &settings.redis.url)
                .env(
                    "SWITCHYARD__REDIS__CLUSTER_URLS",
                    settings.redis.cluster_urls.join(","),
                )
                .env("SWITCHYARD__LOG__FILTER", "warn")
                .env_remove("REDIS_URL")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn()
                .context("starting a `switchyard work` process")?;
            children.0.push(child);
        }
        Ok(children)
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One run: jobs a second between 10% and 90% of the backlog done by `n` processes.
async fn drain_rate(base: &Settings, jobs: usize, n: usize) -> anyhow::Result<f64> {
    let mut settings = base.clone();
    settings.redis.key_prefix = format!("sybench-{}", ulid::Ulid::new());
    let broker = Broker::connect(&settings)
        .await
        .context("connecting to Redis")?;
    let queue = broker.queue("noop")?;
    let payloads: Vec<String> = (0..jobs).map(|_| "{}".to_owned()).collect();
    for chunk in payloads.chunks(1000) {
        queue
            .enqueue_bulk_json(chunk, &EnqueueOptions::default())
            .await?;
    }
    let (low, high) = (jobs as u64 / 10, jobs as u64 * 9 / 10);
    let workers = Workers::start(&settings, n)?;
    let pb = ProgressBar::new(jobs as u64);
    let started = Instant::now();
    let mut at_low = None;
    let at_high = loop {
        let done = queue.processed_total().await?;
        pb.set_position(done);
        let now = Instant::now();
        if done >= low && at_low.is_none() {
            at_low = Some((now, done));
        }
        if done >= high {
            break (now, done);
        }
        if started.elapsed() > Duration::from_secs(600) {
            anyhow::bail!("{n} processes did not drain {jobs} jobs in 10 minutes: {done} done");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    pb.finish_and_clear();
    drop(workers);
    queue.destroy().await?;
    let (t0, d0) = at_low.unwrap_or(at_high);
    let seconds = (at_high.0 - t0).as_secs_f64();
    anyhow::ensure!(
        seconds > 0.0,
        "the backlog of {jobs} is too small to time: use --jobs"
    );
    Ok((at_high.1 - d0) as f64 / seconds)
}

pub async fn run(settings: &Settings, opts: &Options) -> anyhow::Result<()> {
    measure(settings, opts).await?;
    if !opts.cluster_urls.is_empty() {
        let mut on_cluster = settings.clone();
        on_cluster.redis.cluster_urls = opts.cluster_urls.clone();
        measure(&on_cluster, opts).await?;
    }
    Ok(())
}

async fn measure(settings: &Settings, opts: &Options) -> anyhow::Result<()> {
    let mut counts = opts.processes.clone();
    counts.push(1);
    counts.sort_unstable();
    counts.dedup();
    counts.retain(|&n| n > 0);
    let redis = if settings.redis.cluster_urls.is_empty() {
        format!("one Redis at {}", settings.redis.url)
    } else {
        format!(
            "a Redis Cluster seeded by {}",
            settings.redis.cluster_urls.join(",")
        )
    };
    let policy = settings.policy("noop");
    println!(
        "switchyard bench queue --processes: {} no-op jobs drained by {:?} `switchyard work` processes, {} runs each, on {redis}",
        opts.jobs, counts, opts.runs
    );
    println!(
        "  each process: concurrency {}, fetch batch {}; rate between 10% and 90% done; runs alternate between the counts",
        policy.concurrency, policy.batch_size
    );
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); counts.len()];
    for run in 1..=opts.runs {
        for (i, &n) in counts.iter().enumerate() {
            let rate = drain_rate(settings, opts.jobs, n).await?;
            println!("  run {run}: {n} process(es) {rate:>9.0} jobs/s");
            rates[i].push(rate);
        }
    }
    let one = median(&rates[0]);
    println!("medians of {} runs, as ratios to one process", opts.runs);
    for (n, r) in counts.iter().zip(&rates) {
        let m = median(r);
        println!("  {n} process(es) {m:>9.0} jobs/s  {:.2}x", m / one);
    }
    Ok(())
}
