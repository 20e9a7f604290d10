//! `switchyard bench dashboard`: how long the dashboard's pages take with a million jobs waiting
//! in a queue, against the same pages on empty queues, served by a real server in this process.
//!
//! Each page is requested `--requests` times with an operator session, first with every queue
//! empty (the baseline, measured in the same command so that the machine's load of the moment
//! weighs on both), then after `--jobs` jobs are enqueued ready on `noop`, `--scheduled` more
//! scheduled for later and `--dead` run by the noop pool into the dead letters. The figures are
//! medians and p99s per page, and the ratio of the full queue's median to the empty one's. Redis's
//! own command statistics show whether any page scanned the keyspace (`SCAN`, `KEYS`).
//!
//! The dead letters are made the real way, by the noop pool running jobs that fail for good,
//! before the baseline; they stay for both phases, so the dead-letter page shows a full page in
//! each.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::watch;

use super::{median, quantile};
use crate::app::Application;
use crate::config::Settings;
use crate::queue::{Broker, EnqueueOptions, Queue};
use crate::workers::spawn_pool;

#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Jobs waiting ready on the `noop` queue.
    #[arg(long, default_value_t = 1_000_000)]
    pub jobs: usize,
    /// Jobs scheduled for later on the same queue.
    #[arg(long, default_value_t = 100_000)]
    pub scheduled: usize,
    /// Dead letters on the same queue.
    #[arg(long, default_value_t = 20_000)]
    pub dead: usize,
    /// Requests per page and phase.
    #[arg(long, default_value_t = 50)]
    pub requests: usize,
}

/// The budget the issue of record set for a page.
const BUDGET_MS: f64 = 100.0;

fn bar(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    let style = ProgressStyle::with_template(&format!(
        "  {what:<10} {{bar:40}} {{pos}}/{{len}} {{per_sec}}"
    ))
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    pb.set_style(style);
    pb
}

/// A signed-in operator's client on the bench server.
struct Visitor {
    http: reqwest::Client,
    base: String,
    cookie: String,
}

impl Visitor {
    async fn sign_in(base: &str, token: &str) -> anyhow::Result<Visitor> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()?;
        let res = http
            .post(format!("{base}/dashboard/sign-in"))
            .form(&[("token", token)])
            .send()
            .await?;
        let cookie = res
            .headers()
            .get(reqwest::header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .context("the dashboard answered no session cookie")?
            .to_owned();
        Ok(Visitor {
            http,
            base: base.to_owned(),
            cookie,
        })
    }

    /// Milliseconds for a whole page, body included.
    async fn time(&self, path: &str) -> anyhow::Result<f64> {
        let started = Instant::now();
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .header(reqwest::header::COOKIE, &self.cookie)
            .send()
            .await?;
        let status = res.status();
        res.bytes().await?;
        anyhow::ensure!(status.is_success(), "{path} answered {status}");
        Ok(started.elapsed().as_secs_f64() * 1000.0)
    }

    /// Milliseconds until the first live event has arrived.
    async fn first_event(&self) -> anyhow::Result<f64> {
        let started = Instant::now();
        let mut res = self
            .http
            .get(format!("{}/dashboard/live", self.base))
            .header(reqwest::header::COOKIE, &self.cookie)
            .send()
            .await?;
        let mut seen = Vec::new();
        while let Some(chunk) = res.chunk().await? {
            seen.extend_from_slice(&chunk);
            if seen.windows(2).any(|w| w == b"\n\n") {
                return Ok(started.elapsed().as_secs_f64() * 1000.0);
            }
        }
        anyhow::bail!("the live stream ended before its first event")
    }
}

/// Times of every page, `n` requests each, in page order.
async fn measure(v: &Visitor, pages: &[String], n: usize) -> anyhow::Result<Vec<Vec<f64>>> {
    let mut all = Vec::new();
    for path in pages {
        let mut times = Vec::with_capacity(n);
        for _ in 0..n {
            times.push(if path == "/dashboard/live" {
                v.first_event().await?
            } else {
                v.time(path).await?
            });
        }
        times.sort_by(|a, b| a.total_cmp(b));
        all.push(times);
    }
    Ok(all)
}

/// Calls of the keyspace-scanning commands Redis has served so far.
async fn scans(broker: &Broker) -> anyhow::Result<u64> {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut broker.conn())
        .await?;
    Ok(info
        .lines()
        .filter(|l| l.starts_with("cmdstat_scan:") || l.starts_with("cmdstat_keys:"))
        .filter_map(|l| {
            l.split("calls=")
                .nth(1)?
                .split(',')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum())
}

/// Enqueues the ready and scheduled jobs.
async fn fill(queue: &Queue, opts: &Options) -> anyhow::Result<()> {
    const CHUNK: usize = 10_000;
    let payloads = vec!["{}"; CHUNK];
    let pb = bar(opts.jobs as u64, "ready");
    let mut left = opts.jobs;
    while left > 0 {
        let n = left.min(CHUNK);
        queue
            .enqueue_bulk_json(&payloads[..n], &EnqueueOptions::default())
            .await?;
        left -= n;
        pb.inc(n as u64);
    }
    pb.finish();
    let later = EnqueueOptions {
        delay: Some(Duration::from_secs(24 * 60 * 60)),
        ..EnqueueOptions::default()
    };
    let pb = bar(opts.scheduled as u64, "scheduled");
    let mut left = opts.scheduled;
    while left > 0 {
        let n = left.min(CHUNK);
        queue.enqueue_bulk_json(&payloads[..n], &later).await?;
        left -= n;
        pb.inc(n as u64);
    }
    pb.finish();
    Ok(())
}

pub async fn run(base: &Settings, opts: &Options) -> anyhow::Result<()> {
    let mut settings = base.clone();
    settings.redis.key_prefix = format!("sybench-{}", ulid::Ulid::new());
    settings.server.listen = "127.0.0.1:0".parse()?;
    let broker = Broker::connect(&settings)
        .await
        .context("connecting to Redis")?;
    let app = Application::build(settings.clone()).await?;
    let base_url = format!("http://127.0.0.1:{}", app.port());
    let (stop, stopped) = watch::channel(false);
    let server = tokio::spawn(app.run_until(stopped));

    let result = bench(&settings, &broker, &base_url, opts).await;

    let _ = stop.send(true);
    let _ = server.await;
    for name in crate::jobs::QUEUES {
        broker.queue(name)?.destroy().await?;
    }
    result
}

async fn bench(
    settings: &Settings,
    broker: &Broker,
    base_url: &str,
    opts: &Options,
) -> anyhow::Result<()> {
    let queue = broker.queue("noop")?;
    let visitor = Visitor::sign_in(base_url, &settings.server.ops_token).await?;
    // The dead letters first, while nothing else waits: the noop pool runs doomed jobs dead.
    if opts.dead > 0 {
        let (stop, stopped) = watch::channel(false);
        let pool = tokio::spawn(spawn_pool(broker, "noop", stopped)?);
        let doomed = vec![r#"{"permanent":true}"#; opts.dead.min(10_000)];
        let pb = bar(opts.dead as u64, "dead");
        let mut left = opts.dead;
        while left > 0 {
            let n = left.min(doomed.len());
            queue
                .enqueue_bulk_json(&doomed[..n], &EnqueueOptions::default())
                .await?;
            left -= n;
        }
        loop {
            let dead = queue.stats().await?.dead;
            pb.set_position(dead);
            if dead >= opts.dead as u64 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        pb.finish();
        let _ = stop.send(true);
        let _ = pool.await;
    }
    let pages_for = |job: &str| -> Vec<String> {
        vec![
            "/dashboard".to_owned(),
            "/dashboard/live".to_owned(),
            "/dashboard/queues/noop/scheduled".to_owned(),
            "/dashboard/queues/noop/dead".to_owned(),
            format!("/dashboard/jobs?queue=noop&id={job}"),
            "/dashboard/channels".to_owned(),
            "/dashboard/webhooks".to_owned(),
            "/dashboard/plugins".to_owned(),
        ]
    };
    let probe = queue.enqueue_json("{}", &EnqueueOptions::default()).await?;
    let pages = pages_for(&probe.id);
    println!(
        "bench dashboard: {} requests per page; baseline with queues empty",
        opts.requests
    );
    let scans_before = scans(broker).await?;
    let empty = measure(&visitor, &pages, opts.requests).await?;
    let scans_empty = scans(broker).await? - scans_before;

    fill(&queue, opts).await?;
    let stats = queue.stats().await?;
    println!(
        "noop now holds {} ready, {} scheduled, {} dead",
        stats.ready, stats.scheduled, stats.dead
    );
    let scans_before = scans(broker).await?;
    let full = measure(&visitor, &pages, opts.requests).await?;
    let scans_full = scans(broker).await? - scans_before;

    println!(
        "\n{:<40} {:>11} {:>11} {:>9} {:>7}  within {BUDGET_MS} ms",
        "page", "empty p50", "full p50", "full p99", "ratio"
    );
    let mut worst: HashMap<&str, f64> = HashMap::new();
    for ((path, e), f) in pages.iter().zip(&empty).zip(&full) {
        let (e50, f50, f99) = (median(e), median(f), quantile(f, 0.99));
        let label = if path.starts_with("/dashboard/jobs") {
            "/dashboard/jobs?queue=noop&id=…"
        } else if path == "/dashboard/live" {
            "/dashboard/live (first event)"
        } else {
            path.as_str()
        };
        worst.insert(label, f50);
        println!(
            "{label:<40} {e50:>8.1} ms {f50:>8.1} ms {f99:>6.1} ms {:>6.2}x  {}",
            f50 / e50,
            if f50 <= BUDGET_MS { "yes" } else { "NO" }
        );
    }
    println!(
        "\nSCAN/KEYS calls served by Redis while the pages were requested: {scans_empty} (empty), {scans_full} (full)"
    );
    let over: Vec<_> = worst.iter().filter(|(_, ms)| **ms > BUDGET_MS).collect();
    if !over.is_empty() {
        println!("pages over the budget at the median: {over:?}");
    }
    Ok(())
}
