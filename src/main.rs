//! The `switchyard` command.

use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};

use switchyard::app::Application;
use switchyard::config::Settings;
use switchyard::queue::{Broker, EnqueueOptions};
use switchyard::{bench, db, demo, jobs, provision, sandbox_cmd, shutdown, telemetry};

/// Every job allocates and frees small buffers (JSON, HTTP, SQL rows) on many threads at once,
/// which mimalloc serves with less contention and fragmentation than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "switchyard",
    version,
    about = "Multichannel commerce integration hub"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The API, every worker pool and the timers in one process.
    Run,
    /// The HTTP API only.
    Serve,
    /// Worker pools (default: every handled queue) and the timers.
    Work {
        /// Comma-separated queue names.
        #[arg(long, value_delimiter = ',')]
        queues: Vec<String>,
    },
    /// Create the database if it does not exist and apply migrations.
    Migrate,
    /// Run the simulated Shopify, WooCommerce, Amazon and eBay sellers (and Xero and Sage) and print their addresses and credentials.
    Sandbox {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: std::net::SocketAddr,
        /// New orders each store generates per second.
        #[arg(long, default_value_t = 0.0)]
        orders_per_second: f64,
        /// Orders each store holds from the start.
        #[arg(long, default_value_t = 0)]
        seed_orders: usize,
    },
    /// The sandbox platforms, a seeded account, store and channels, and everything running, with
    /// live progress: the quickest way to see switchyard work.
    Demo(demo::Options),
    /// Manage tenant accounts.
    Accounts {
        #[command(subcommand)]
        command: AccountsCommand,
    },
    /// Inspect and steer queues from the command line.
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
    /// Write the API's OpenAPI 3.1 document (to stdout without --out), and its Postman
    /// collection with --postman.
    Openapi {
        /// Where to write the OpenAPI document.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        /// Where to write the Postman collection (v2.1).
        #[arg(long)]
        postman: Option<std::path::PathBuf>,
    },
    /// Benchmarks (print figures).
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// The private PostgreSQL and Redis that `demo` and the tests start when none is configured
    /// or running: the demo's (in the user's data directory) and the test suite's (in
    /// target/switchyard-services).
    Services {
        #[command(subcommand)]
        command: ServicesCommand,
    },
}

#[derive(Subcommand)]
enum ServicesCommand {
    /// Show which of them run.
    Status,
    /// Stop them.
    Stop,
}

#[derive(Subcommand)]
enum AccountsCommand {
    /// Create an account and its first API token (shown once; only its hash is stored).
    Create {
        name: String,
        /// A label for the token.
        #[arg(long, default_value = "default")]
        token_name: String,
    },
}

#[derive(Subcommand)]
enum JobsCommand {
    /// Enqueue one job; the payload is JSON checked against the queue's type.
    Enqueue {
        queue: String,
        payload: String,
        #[arg(long)]
        delay_ms: Option<u64>,
        #[arg(long)]
        unique_key: Option<String>,
    },
    /// Show one job.
    Show {
        queue: String,
        id: String,
    },
    /// Queue depths and counters (all typed queues when none is named).
    Stats {
        queue: Option<String>,
    },
    /// List dead letters, newest first.
    Dead {
        queue: String,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Requeue one dead letter, or all with --all.
    Requeue {
        queue: String,
        id: Option<String>,
        #[arg(long)]
        all: bool,
    },
    /// Delete one dead letter, or all with --all.
    Purge {
        queue: String,
        id: Option<String>,
        #[arg(long)]
        all: bool,
    },
    Pause {
        queue: String,
    },
    Resume {
        queue: String,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Orders imported per second end to end, sandbox to committed rows and outbox.
    Import(bench::import::Options),
    /// Propagation latency of a sale on one channel to the stock level on the others.
    Stock(bench::stock::Options),
    /// Signed webhook deliveries per second and event-to-delivery latency.
    Webhooks(bench::webhooks::Options),
    /// The dashboard's pages with a million jobs waiting, against the same pages on empty queues.
    Dashboard(bench::dashboard::Options),
    /// Invoices synced a minute for one Xero organisation at the simulator's real limits.
    Invoices(bench::invoices::Options),
    /// Webhook deliveries per second with and without the prune job deleting old rows beside them.
    Retention(bench::retention::Options),
    /// Enqueue, drain and idle-pickup figures for the queue; with `--processes`, the drain rate
    /// of 1 and each given number of `switchyard work` processes instead.
    Queue {
        #[arg(long, default_value_t = 100_000)]
        jobs: usize,
        #[arg(long, default_value_t = 3)]
        runs: usize,
        #[arg(long, default_value_t = 500)]
        pickups: usize,
        /// Worker process counts to compare, e.g. `1,2,4`, as ratios to one process.
        #[arg(long, value_delimiter = ',')]
        processes: Vec<usize>,
        /// With `--processes`: a Redis Cluster's seed URLs (comma separated) to measure too,
        /// after the configured Redis.
        #[arg(long, value_delimiter = ',', requires = "processes")]
        cluster_urls: Vec<String>,
    },
}

fn print_json<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

fn one_or_all(id: Option<String>, all: bool) -> anyhow::Result<Option<String>> {
    match (id, all) {
        (Some(id), false) => Ok(Some(id)),
        (None, true) => Ok(None),
        _ => anyhow::bail!("name one job id, or pass --all"),
    }
}

async fn jobs(broker: &Broker, cmd: JobsCommand) -> anyhow::Result<()> {
    match cmd {
        JobsCommand::Enqueue {
            queue,
            payload,
            delay_ms,
            unique_key,
        } => {
            let value: serde_json::Value =
                serde_json::from_str(&payload).context("payload is not JSON")?;
            jobs::validate_payload(&queue, &value)?;
            let opts = EnqueueOptions {
                delay: delay_ms.map(Duration::from_millis),
                unique_key,
                ..EnqueueOptions::default()
            };
            print_json(
                &broker
                    .queue(&queue)?
                    .enqueue_json(&value.to_string(), &opts)
                    .await?,
            )
        }
        JobsCommand::Show { queue, id } => match broker.queue(&queue)?.job(&id).await? {
            Some(job) => print_json(&job),
            None => anyhow::bail!("no job {id} in queue {queue}"),
        },
        JobsCommand::Stats { queue } => {
            let names: Vec<String> = match queue {
                Some(q) => vec![q],
                None => jobs::QUEUES.iter().map(|q| q.to_string()).collect(),
            };
            let mut all = Vec::new();
            for q in names {
                all.push(broker.queue(&q)?.stats().await?);
            }
            print_json(&all)
        }
        JobsCommand::Dead { queue, limit } => {
            print_json(&broker.queue(&queue)?.dead(None, limit).await?)
        }
        JobsCommand::Requeue { queue, id, all } => {
            let n = broker
                .queue(&queue)?
                .requeue_dead(one_or_all(id, all)?.as_deref())
                .await?;
            println!("requeued {n}");
            Ok(())
        }
        JobsCommand::Purge { queue, id, all } => {
            let n = broker
                .queue(&queue)?
                .purge_dead(one_or_all(id, all)?.as_deref())
                .await?;
            println!("purged {n}");
            Ok(())
        }
        JobsCommand::Pause { queue } => broker.queue(&queue)?.pause().await.map_err(Into::into),
        JobsCommand::Resume { queue } => broker.queue(&queue)?.resume().await.map_err(Into::into),
    }
}

/// `switchyard openapi`: the document to `out` (stdout when none), the collection to `postman`.
fn write_contract(
    out: Option<&std::path::Path>,
    postman: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let doc = switchyard::api::openapi::document();
    let text = serde_json::to_string_pretty(&doc)?;
    match out {
        Some(path) => std::fs::write(path, text + "\n")
            .with_context(|| format!("writing {}", path.display()))?,
        None if postman.is_none() => println!("{text}"),
        None => {}
    }
    if let Some(path) = postman {
        let collection = switchyard::api::postman::collection(&doc);
        std::fs::write(path, serde_json::to_string_pretty(&collection)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // The contract depends on the code alone: no settings, no stores.
    if let Command::Openapi { out, postman } = &cli.command {
        return write_contract(out.as_deref(), postman.as_deref());
    }
    // Nor do the private servers, which may have to be stopped whatever the settings say.
    if let Command::Services { command } = &cli.command {
        return services(command);
    }
    let mut settings = switchyard::settings::load()?;
    if let Command::Demo(_) = &cli.command {
        demo::quiet_logs(&mut settings);
    }
    telemetry::init(&settings.log);
    if let Command::Demo(opts) = cli.command {
        return run_demo(settings, opts).await;
    }
    match cli.command {
        Command::Run => {
            let stop = shutdown::on_signal();
            let app = Application::build(settings.clone()).await?;
            tracing::info!(
                port = app.port(),
                "switchyard is running: API, workers and timers"
            );
            let (served, worked) = tokio::join!(
                app.run_until(stop.clone()),
                switchyard::runner::run_workers(&settings, Vec::new(), stop)
            );
            served.and(worked)
        }
        Command::Serve => {
            let app = Application::build(settings).await?;
            tracing::info!(port = app.port(), "switchyard API is listening");
            app.run_until(shutdown::on_signal()).await
        }
        Command::Work { queues } => {
            switchyard::runner::run_workers(&settings, queues, shutdown::on_signal()).await
        }
        Command::Demo(_) => unreachable!("run by run_demo"),
        Command::Accounts {
            command: AccountsCommand::Create { name, token_name },
        } => {
            let pool = db::prepare(&settings.database).await?;
            let (account, token) =
                switchyard::store::accounts::create_account(&pool, &name, &token_name).await?;
            println!("account {} created", account.0);
            println!("API token (shown once): {}", token.token);
            Ok(())
        }
        Command::Migrate => {
            db::prepare(&settings.database).await?;
            println!("database {} is up to date", settings.database.url);
            Ok(())
        }
        Command::Sandbox {
            listen,
            orders_per_second,
            seed_orders,
        } => {
            sandbox_cmd::run(sandbox_cmd::Options {
                listen,
                orders_per_second,
                seed_orders,
            })
            .await
        }
        Command::Jobs { command } => {
            let broker = Broker::connect(&settings)
                .await
                .context("connecting to Redis")?;
            jobs(&broker, command).await
        }
        Command::Openapi { .. } | Command::Services { .. } => {
            unreachable!("answered before the settings load")
        }
        Command::Bench { command } => {
            // The benchmarks' simulators and receivers listen on loopback.
            let mut settings = settings;
            sandbox_cmd::allow_loopback(&mut settings);
            run_bench(&settings, command).await
        }
    }
}

/// `switchyard services`: the demo's and the test suite's private servers.
fn services(command: &ServicesCommand) -> anyhow::Result<()> {
    for dir in [provision::demo_dir(), provision::test_dir()] {
        let lines = match command {
            ServicesCommand::Status => provision::status(&dir),
            ServicesCommand::Stop => provision::stop(&dir)?,
        };
        if lines.is_empty() {
            println!("{}: nothing running", dir.display());
        }
        for line in lines {
            println!("{}: {line}", dir.display());
        }
    }
    Ok(())
}

/// `switchyard demo`, on PostgreSQL and Redis of its own when none is configured or running
/// (see `switchyard::provision`), which it stops when it ends.
async fn run_demo(mut settings: Settings, opts: demo::Options) -> anyhow::Result<()> {
    // Listening from here on, so that a Ctrl-C while the servers start stops them too.
    let signal = shutdown::on_signal();
    let options = provision::Options::for_demo(&settings)?;
    let (settings, services) = tokio::task::spawn_blocking(move || {
        let services = provision::provide(&mut settings, &options);
        (settings, services)
    })
    .await?;
    let services = services.context("starting PostgreSQL and Redis for the demo")?;
    if !services.is_empty() {
        let own: Vec<&str> = [
            services.postgres().map(|_| "PostgreSQL"),
            services.redis().map(|_| "Redis"),
        ]
        .into_iter()
        .flatten()
        .collect();
        println!(
            "No {} is configured or running at the default address, so the demo runs its own:",
            own.join(" or ")
        );
        for line in services.describe() {
            println!("  {line}");
        }
        println!("They stop when the demo ends.");
    }
    let outcome = if *signal.borrow() {
        Ok(())
    } else {
        demo::run(settings, opts).await
    };
    if !services.is_empty() {
        let stopped = tokio::task::spawn_blocking(move || services.stop()).await?;
        for line in stopped.context("stopping the demo's PostgreSQL and Redis")? {
            println!("{line}");
        }
    }
    outcome
}

async fn run_bench(settings: &Settings, command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Import(opts) => bench::import::run(settings, &opts).await,
        BenchCommand::Stock(opts) => bench::stock::run(settings, &opts).await,
        BenchCommand::Webhooks(opts) => bench::webhooks::run(settings, &opts).await,
        BenchCommand::Dashboard(opts) => bench::dashboard::run(settings, &opts).await,
        BenchCommand::Invoices(opts) => bench::invoices::run(settings, &opts).await,
        BenchCommand::Retention(opts) => bench::retention::run(settings, &opts).await,
        BenchCommand::Queue {
            jobs,
            runs,
            processes,
            cluster_urls,
            ..
        } if !processes.is_empty() => {
            let opts = bench::scale_out::Options {
                jobs,
                runs: runs.max(1),
                processes,
                cluster_urls,
            };
            bench::scale_out::run(settings, &opts).await
        }
        BenchCommand::Queue {
            jobs,
            runs,
            pickups,
            ..
        } => {
            let opts = bench::queue::Options {
                jobs,
                runs: runs.max(1),
                pickups: pickups.max(1),
            };
            bench::queue::run(settings, &opts).await
        }
    }
}
