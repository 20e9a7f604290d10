//! Private PostgreSQL and Redis for a machine where they are installed but nothing is configured
//! or running. The machine's own servers are left alone: "the default address" is moved to
//! ports nobody listens on, which is what a fresh machine looks like to switchyard.

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use switchyard::config::Settings;
use switchyard::db;
use switchyard::provision::{
    self, Binaries, Configured, Defaults, Lifetime, Options, ProvisionError, Server,
};
use ulid::Ulid;

/// The shipped test settings, whose addresses nobody chose.
fn shipped_settings() -> Settings {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    Settings::load_env(&dir, "test").expect("config/test.toml loads")
}

fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    listener.local_addr().unwrap().port()
}

/// A fresh services directory under target/, reachable by the `postgres` user when the tests
/// run as root (a temporary directory under root's home would not be).
fn fresh_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/provision-tests")
        .join(Ulid::new().to_string());
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Options for a machine where nothing answers at the default addresses and nothing is
/// configured.
fn on_a_fresh_machine(dir: &Path, lifetime: Lifetime) -> Options {
    Options {
        dir: dir.to_owned(),
        defaults: Defaults {
            postgres_port: free_port(),
            redis_port: free_port(),
        },
        configured: Configured {
            database: false,
            redis: false,
        },
        binaries: Binaries::default(),
        lifetime,
    }
}

/// Whether process `pid` still runs (an exited, unreaped process does not).
fn runs(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().to_owned())
        })
        .is_some_and(|rest| !rest.starts_with('Z') && !rest.starts_with('X'))
}

fn port_answers(port: u16) -> bool {
    TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok()
}

fn assert_gone(server: Server, what: &str) {
    assert!(!runs(server.pid), "{what} (pid {}) still runs", server.pid);
    assert!(
        !port_answers(server.port),
        "{what}'s port {} still answers",
        server.port
    );
}

/// Connects as the application does: the database is created and migrated, and Redis answers.
async fn app_connects(settings: &Settings) -> i64 {
    let pool = db::prepare(&settings.database)
        .await
        .expect("the database is created and migrated");
    let migrations: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    let broker = switchyard::queue::Broker::connect(settings)
        .await
        .expect("Redis answers");
    broker
        .queue("noop")
        .unwrap()
        .stats()
        .await
        .expect("a queue's stats read");
    migrations
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_nothing_configured_or_running_a_session_starts_both_servers_and_stops_them() {
    let dir = fresh_dir();
    let options = on_a_fresh_machine(&dir, Lifetime::Session);
    let mut settings = shipped_settings();
    let (mut s, o) = (settings.clone(), options.clone());
    let services =
        tokio::task::spawn_blocking(move || provision::provide(&mut s, &o).map(|v| (s, v)))
            .await
            .unwrap();
    let (provisioned, services) = services.unwrap_or_else(|e| panic!("{e}"));
    let (pg, redis) = (services.postgres().unwrap(), services.redis().unwrap());
    assert!(pg.started && redis.started, "{:?}", services.describe());
    assert_eq!(
        provisioned.database.url,
        format!("postgres://postgres@127.0.0.1:{}/switchyard_test", pg.port)
    );
    assert_eq!(
        provisioned.redis.url,
        format!("redis://127.0.0.1:{}", redis.port)
    );
    let migrations = app_connects(&provisioned).await;
    assert!(migrations > 0);

    // While a session holds the directory, `services stop` refuses to pull its servers away.
    let busy = provision::stop(&dir).unwrap_err();
    assert!(matches!(busy, ProvisionError::Busy(_)), "{busy}");

    let stopped = tokio::task::spawn_blocking(move || services.stop())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stopped.len(), 2, "{stopped:?}");
    assert_gone(pg, "PostgreSQL");
    assert_gone(redis, "Redis");

    // The next session reuses the cluster: the schema made above is still there, on new ports.
    let o = on_a_fresh_machine(&dir, Lifetime::Session);
    let again = tokio::task::spawn_blocking(move || {
        let services = provision::provide(&mut settings, &o);
        services.map(|s| (settings, s))
    })
    .await
    .unwrap();
    let (settings, services) = again.unwrap_or_else(|e| panic!("{e}"));
    let pg2 = services.postgres().unwrap();
    assert_eq!(
        app_connects(&settings).await,
        migrations,
        "the same cluster"
    );
    // Dropping the session (as a panic unwinding would) stops its servers too.
    let redis2 = services.redis().unwrap();
    tokio::task::spawn_blocking(move || drop(services))
        .await
        .unwrap();
    assert_gone(pg2, "PostgreSQL");
    assert_gone(redis2, "Redis");
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_pair_is_started_once_reused_and_stopped_by_services_stop() {
    let dir = fresh_dir();
    let options = on_a_fresh_machine(&dir, Lifetime::Shared);
    // Two test binaries starting at once: one starts the pair, the other waits and reuses it.
    let starts: Vec<_> = (0..2)
        .map(|_| {
            let o = options.clone();
            std::thread::spawn(move || {
                let mut s = shipped_settings();
                let services = provision::provide(&mut s, &o).unwrap_or_else(|e| panic!("{e}"));
                (s, services.postgres().unwrap(), services.redis().unwrap())
            })
        })
        .collect();
    let pairs: Vec<_> = starts.into_iter().map(|t| t.join().unwrap()).collect();
    let (settings, pg, redis) = &pairs[0];
    let (other, pg_b, redis_b) = &pairs[1];
    assert_eq!((pg.port, redis.port), (pg_b.port, redis_b.port));
    assert_eq!(settings.database.url, other.database.url);
    assert_eq!(
        [pg.started, pg_b.started].iter().filter(|s| **s).count(),
        1,
        "exactly one of them started PostgreSQL"
    );
    assert!(app_connects(settings).await > 0);

    // Left running when the binaries end (the values are gone), until stopped by name.
    assert!(runs(pg.pid) && runs(redis.pid));
    assert_eq!(provision::status(&dir).len(), 2);
    let d = dir.clone();
    let stopped = tokio::task::spawn_blocking(move || provision::stop(&d))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stopped.len(), 2, "{stopped:?}");
    assert_gone(*pg, "PostgreSQL");
    assert_gone(*redis, "Redis");
    assert!(provision::status(&dir).is_empty());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_missing_server_program_is_named_with_the_package_to_install() {
    let dir = fresh_dir();
    let empty = dir.join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let mut options = on_a_fresh_machine(&dir.join("services"), Lifetime::Session);
    options.binaries = Binaries {
        postgres_roots: vec![empty.clone()],
        path: empty.clone().into_os_string(),
    };
    let err = provision::provide(&mut shipped_settings(), &options).unwrap_err();
    assert!(
        err.to_string().contains("install the `postgresql` package"),
        "{err}"
    );
    // With PostgreSQL found, the missing Redis is the one named.
    options.binaries.postgres_roots = Binaries::default().postgres_roots;
    let err = provision::provide(&mut shipped_settings(), &options).unwrap_err();
    assert!(
        err.to_string()
            .contains("install the `redis-server` package"),
        "{err}"
    );
    assert!(
        !dir.join("services").exists(),
        "nothing is made before every program is found"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_configured_address_or_one_that_answers_is_used_as_it_is() {
    let dir = fresh_dir();
    let mut options = on_a_fresh_machine(&dir, Lifetime::Session);
    // Configured, though nothing answers there: left to fail as it would without provisioning.
    options.configured = Configured {
        database: true,
        redis: true,
    };
    let mut settings = shipped_settings();
    settings.database.url = format!("postgres://127.0.0.1:{}/mine", free_port());
    settings.redis.url = format!("redis://127.0.0.1:{}", free_port());
    let before = (settings.database.url.clone(), settings.redis.url.clone());
    let services = provision::provide(&mut settings, &options).unwrap();
    assert!(services.is_empty());
    assert_eq!((settings.database.url, settings.redis.url), before);

    // Not configured, and something answers at the (moved) default address: that is used.
    let listening = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listening.local_addr().unwrap().port();
    let mut options = on_a_fresh_machine(&dir, Lifetime::Session);
    options.defaults = Defaults {
        postgres_port: port,
        redis_port: port,
    };
    let mut settings = shipped_settings();
    let services = provision::provide(&mut settings, &options).unwrap();
    assert!(services.is_empty());
    assert_eq!(
        settings.database.url,
        format!("postgres://localhost:{port}/switchyard_test")
    );
    assert_eq!(settings.redis.url, format!("redis://127.0.0.1:{port}"));
    assert!(!dir.join("postgres").exists() && !dir.join("redis").exists());
    std::fs::remove_dir_all(&dir).ok();
}

/// The port and pid in a line of the demo's opening, e.g. "  Redis on 127.0.0.1:41234
/// (started, pid 4321, in /dir)".
fn server_in(line: &str) -> Server {
    let port = line.split("127.0.0.1:").nth(1).unwrap();
    let port = port.split_whitespace().next().unwrap().parse().unwrap();
    let pid = line.split("pid ").nth(1).unwrap();
    let pid = pid.split(',').next().unwrap().parse().unwrap();
    Server {
        port,
        pid,
        started: true,
    }
}

#[test]
fn the_demo_runs_on_servers_of_its_own_and_stops_them_on_ctrl_c() {
    let dir = fresh_dir();
    let mut demo = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["demo", "--listen", "127.0.0.1:0"])
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env(provision::DIR_VAR, &dir)
        .env(
            provision::DEFAULT_POSTGRES_PORT_VAR,
            free_port().to_string(),
        )
        .env(provision::DEFAULT_REDIS_PORT_VAR, free_port().to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("switchyard starts");
    let (tx, lines) = mpsc::channel();
    let out = BufReader::new(demo.stdout.take().unwrap());
    std::thread::spawn(move || {
        for line in out.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut seen = Vec::new();
    while !seen
        .iter()
        .any(|l: &String| l.starts_with("Ctrl-C stops it"))
    {
        let line = lines
            .recv_timeout(Duration::from_secs(120))
            .unwrap_or_else(|_| panic!("the demo did not start: {seen:#?}"));
        seen.push(line);
    }
    let server = |name: &str| {
        let line = seen.iter().find(|l| l.trim_start().starts_with(name));
        server_in(line.unwrap_or_else(|| panic!("no {name} line in {seen:#?}")))
    };
    let (pg, redis) = (server("PostgreSQL on"), server("Redis on"));
    assert!(runs(pg.pid) && port_answers(pg.port));
    assert!(runs(redis.pid) && port_answers(redis.port));

    // SAFETY: sending a signal has no memory-safety preconditions.
    unsafe {
        libc::kill(demo.id() as libc::pid_t, libc::SIGINT);
    }
    let status = demo.wait().unwrap();
    // The rest of its output, up to its end (the reader stops at the closed pipe).
    let mut rest = Vec::new();
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(30)) {
        rest.push(line);
    }
    assert!(status.success(), "{status}: {rest:#?}");
    assert!(
        rest.iter().any(|l| l.starts_with("stopped PostgreSQL"))
            && rest.iter().any(|l| l.starts_with("stopped Redis")),
        "{rest:#?}"
    );
    assert_gone(pg, "PostgreSQL");
    assert_gone(redis, "Redis");
    std::fs::remove_dir_all(&dir).ok();
}
