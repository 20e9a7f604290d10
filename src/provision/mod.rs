//! PostgreSQL and Redis of switchyard's own, for a machine where they are installed but nothing
//! is configured or running: `switchyard demo` and the test suite start private servers from
//! the installed programs rather than fail.
//!
//! Only when the user chose no address (no `DATABASE_URL` / `REDIS_URL`, no URL of their own in
//! a config file) *and* nothing answers at the default address does a server get provisioned,
//! each service on its own. A configured address that does not answer stays an error: starting
//! something else in its place would hide the mistake.
//!
//! The servers live in one directory: a PostgreSQL cluster (made once with `initdb`, trust
//! authentication on 127.0.0.1 and a private unix socket directory) and a Redis without
//! persistence, each on a port free when it starts. A directory already holding running servers
//! is reused. A file lock in the directory makes one process start them while others wait:
//! the demo holds it for its whole run and stops its servers when it ends (Ctrl-C and panics
//! included); the tests take it only to start the pair, which then stays up for every later
//! test binary until `switchyard services stop`.
//!
//! PostgreSQL refuses to run as root, so as root its programs run as the `postgres` user the
//! package creates.

mod binaries;
mod postgres;
mod process;
mod redis;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use binaries::{Binaries, POSTGRES_PACKAGE, REDIS_PACKAGE};

use crate::config::{Settings, SHIPPED_DATABASE_URLS, SHIPPED_REDIS_URL};

/// Moves the port probed for "a PostgreSQL at the default address" (5432), for a test or a
/// demo on a machine whose default servers must be left out.
pub const DEFAULT_POSTGRES_PORT_VAR: &str = "SWITCHYARD_DEFAULT_POSTGRES_PORT";
/// Moves the port probed for "a Redis at the default address" (6379).
pub const DEFAULT_REDIS_PORT_VAR: &str = "SWITCHYARD_DEFAULT_REDIS_PORT";
/// The directory of the demo's servers, instead of the user's data directory.
pub const DIR_VAR: &str = "SWITCHYARD_SERVICES_DIR";

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error(
        "{program} not found {looked}: install the `{package}` package \
         (Debian or Ubuntu: apt-get install {package})"
    )]
    Missing {
        program: &'static str,
        package: &'static str,
        looked: String,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{program} failed: {detail}")]
    Failed { program: String, detail: String },
    #[error("{0}")]
    Root(String),
    #[error("{name} must be a port number, not `{value}`")]
    Port { name: &'static str, value: String },
    #[error("the servers in {0} are in use by a running switchyard demo: stop it first")]
    Busy(PathBuf),
}

impl ProvisionError {
    fn io(what: impl Into<String>, source: std::io::Error) -> ProvisionError {
        ProvisionError::Io {
            what: what.into(),
            source,
        }
    }
}

/// One private server: its port on 127.0.0.1, its process, and whether this call started it
/// (rather than found it running).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Server {
    pub port: u16,
    pub pid: u32,
    pub started: bool,
}

impl Server {
    fn started(port: u16, pid: u32) -> Server {
        Server {
            port,
            pid,
            started: true,
        }
    }
}

/// How long a server asked to stop may take before it is sent SIGTERM.
const STOP_WAIT: Duration = Duration::from_secs(30);

/// The ports of "the default address" that are probed before provisioning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Defaults {
    pub postgres_port: u16,
    pub redis_port: u16,
}

impl Default for Defaults {
    fn default() -> Defaults {
        Defaults {
            postgres_port: 5432,
            redis_port: 6379,
        }
    }
}

impl Defaults {
    /// The standard ports, or those [`DEFAULT_POSTGRES_PORT_VAR`] and
    /// [`DEFAULT_REDIS_PORT_VAR`] name.
    pub fn from_env() -> Result<Defaults, ProvisionError> {
        let standard = Defaults::default();
        let port = |name: &'static str, standard: u16| match std::env::var(name) {
            Ok(value) => value
                .trim()
                .parse()
                .map_err(|_| ProvisionError::Port { name, value }),
            Err(_) => Ok(standard),
        };
        Ok(Defaults {
            postgres_port: port(DEFAULT_POSTGRES_PORT_VAR, standard.postgres_port)?,
            redis_port: port(DEFAULT_REDIS_PORT_VAR, standard.redis_port)?,
        })
    }
}

/// Which addresses the user chose: set in the environment, or a URL other than the shipped
/// config files' in their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Configured {
    pub database: bool,
    pub redis: bool,
}

impl Configured {
    pub fn of(settings: &Settings) -> Configured {
        let set = |vars: [&str; 2]| vars.iter().any(|v| std::env::var_os(v).is_some());
        Configured {
            database: set(["DATABASE_URL", "SWITCHYARD__DATABASE__URL"])
                || !SHIPPED_DATABASE_URLS.contains(&settings.database.url.as_str()),
            redis: set(["REDIS_URL", "SWITCHYARD__REDIS__URL"])
                || settings.redis.url != SHIPPED_REDIS_URL,
        }
    }
}

/// How long provisioned servers live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// As long as the returned [`Services`]: stopped when it is stopped or dropped.
    Session,
    /// Left running for the next process, until `switchyard services stop`.
    Shared,
}

/// Where and when to provision.
#[derive(Debug, Clone)]
pub struct Options {
    pub dir: PathBuf,
    pub defaults: Defaults,
    pub configured: Configured,
    pub binaries: Binaries,
    pub lifetime: Lifetime,
}

impl Options {
    /// The demo's: servers in [`demo_dir`], stopped when the demo ends.
    pub fn for_demo(settings: &Settings) -> Result<Options, ProvisionError> {
        Ok(Options {
            dir: demo_dir(),
            defaults: Defaults::from_env()?,
            configured: Configured::of(settings),
            binaries: Binaries::default(),
            lifetime: Lifetime::Session,
        })
    }

    /// The test suite's: one pair in [`test_dir`] shared by every test binary and left running.
    pub fn for_tests(settings: &Settings) -> Result<Options, ProvisionError> {
        Ok(Options {
            dir: test_dir(),
            lifetime: Lifetime::Shared,
            ..Options::for_demo(settings)?
        })
    }
}

/// The demo's servers' directory: [`DIR_VAR`], else `switchyard/services` in the user's data
/// directory (`$XDG_DATA_HOME`, else `~/.local/share`). Root's is `/var/lib/switchyard/services`,
/// because root's home is closed to the `postgres` user PostgreSQL then runs as.
pub fn demo_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(DIR_VAR) {
        return PathBuf::from(dir);
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        return PathBuf::from("/var/lib/switchyard/services");
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|d| d.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/share")));
    match data {
        Some(d) => d.join("switchyard").join("services"),
        None => PathBuf::from(".switchyard").join("services"),
    }
}

/// The test suite's servers' directory: `target/switchyard-services` of this checkout.
pub fn test_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/switchyard-services")
}

/// Provisions what `settings` needs and points its URLs at it (see the module's doc): each of
/// PostgreSQL and Redis whose address was not configured and does not answer is started in
/// `opts.dir` (or found running there). A default address that answers on a moved port (see
/// [`Defaults`]) is written into the URL.
pub fn provide(settings: &mut Settings, opts: &Options) -> Result<Services, ProvisionError> {
    let need_postgres = needs_server(
        &mut settings.database.url,
        opts.configured.database,
        opts.defaults.postgres_port,
        5432,
    );
    let need_redis = needs_server(
        &mut settings.redis.url,
        opts.configured.redis,
        opts.defaults.redis_port,
        6379,
    );
    let mut services = Services {
        dir: opts.dir.clone(),
        lifetime: opts.lifetime,
        postgres: None,
        redis: None,
        lock: None,
    };
    if !need_postgres && !need_redis {
        return Ok(services);
    }
    // Every program is looked for before anything starts, so a missing one is said first.
    let postgres_bin = need_postgres
        .then(|| opts.binaries.postgres())
        .transpose()?;
    let redis_bin = need_redis
        .then(|| opts.binaries.redis_server())
        .transpose()?;
    let account = match postgres_bin {
        Some(_) => binaries::postgres_account()?,
        None => None,
    };
    if let Some(a) = account {
        if !binaries::reachable_by(a, &opts.dir.join("postgres")) {
            return Err(ProvisionError::Root(format!(
                "as root, PostgreSQL runs as the `postgres` user, which cannot enter {}: \
                 run as an ordinary user, or set {DIR_VAR} to a directory it can reach",
                opts.dir.display()
            )));
        }
    }
    let lock = lock(&opts.dir, opts.lifetime)?;
    if opts.lifetime == Lifetime::Session {
        services.lock = Some(lock);
    }
    // Built up in `services`, so that a failure of the second server stops the first (in a
    // session) as `services` is dropped.
    if let Some(bin) = postgres_bin {
        let server = postgres::ensure(&opts.dir, &bin, account)?;
        services.postgres = Some(server);
        settings.database.url = format!(
            "postgres://{}@127.0.0.1:{}/{}",
            postgres::SUPERUSER,
            server.port,
            database_name(&settings.database.url)
        );
    }
    if let Some(bin) = redis_bin {
        let server = redis::ensure(&opts.dir, &bin)?;
        services.redis = Some(server);
        settings.redis.url = format!("redis://127.0.0.1:{}", server.port);
    }
    Ok(services)
}

/// Whether the service at `url` must be provisioned: not configured, and nothing answers at its
/// default address. When the default address answers on a moved port, `url` gets that port.
fn needs_server(url: &mut String, configured: bool, default_port: u16, standard: u16) -> bool {
    if configured {
        return false;
    }
    // A URL that does not parse is left for the connection to refuse, naming it.
    let Ok(mut parsed) = url::Url::parse(url) else {
        return false;
    };
    let host = parsed.host_str().unwrap_or("localhost").to_owned();
    if !process::answers(&host, default_port) {
        return true;
    }
    if parsed.port().unwrap_or(standard) != default_port
        && parsed.set_port(Some(default_port)).is_ok()
    {
        *url = parsed.to_string();
    }
    false
}

/// The database a PostgreSQL URL names (`switchyard` when it names none).
fn database_name(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .map(|u| u.path().trim_start_matches('/').to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "switchyard".to_owned())
}

/// Takes `dir`'s lock: a session must have it alone (another demo owns the servers otherwise);
/// a shared user waits for whoever is starting them.
fn lock(dir: &Path, lifetime: Lifetime) -> Result<File, ProvisionError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| ProvisionError::io(format!("creating {}", dir.display()), e))?;
    let path = dir.join("lock");
    let file = File::create(&path)
        .map_err(|e| ProvisionError::io(format!("opening {}", path.display()), e))?;
    match lifetime {
        Lifetime::Session => match file.try_lock() {
            Ok(()) => Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => Err(ProvisionError::Busy(dir.to_owned())),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(ProvisionError::io(format!("locking {}", path.display()), e))
            }
        },
        Lifetime::Shared => file
            .lock()
            .map(|()| file)
            .map_err(|e| ProvisionError::io(format!("locking {}", path.display()), e)),
    }
}

/// The servers [`provide`] found or started. In a [`Lifetime::Session`] they stop with this
/// value (explicitly through [`Services::stop`], or when it is dropped, a panic's unwinding
/// included).
#[derive(Debug)]
pub struct Services {
    dir: PathBuf,
    lifetime: Lifetime,
    postgres: Option<Server>,
    redis: Option<Server>,
    lock: Option<File>,
}

impl Services {
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn postgres(&self) -> Option<Server> {
        self.postgres
    }

    pub fn redis(&self) -> Option<Server> {
        self.redis
    }

    /// Whether anything was provisioned.
    pub fn is_empty(&self) -> bool {
        self.postgres.is_none() && self.redis.is_none()
    }

    /// One line per server, for people.
    pub fn describe(&self) -> Vec<String> {
        let line = |name: &str, s: &Server| {
            let how = if s.started {
                "started"
            } else {
                "already running"
            };
            format!(
                "{name} on 127.0.0.1:{} ({how}, pid {}, in {})",
                s.port,
                s.pid,
                self.dir.display()
            )
        };
        let mut lines = Vec::new();
        if let Some(s) = &self.postgres {
            lines.push(line("PostgreSQL", s));
        }
        if let Some(s) = &self.redis {
            lines.push(line("Redis", s));
        }
        lines
    }

    /// Stops a session's servers and says which; a shared pair is left running.
    pub fn stop(mut self) -> Result<Vec<String>, ProvisionError> {
        self.stop_session()
    }

    fn stop_session(&mut self) -> Result<Vec<String>, ProvisionError> {
        if self.lifetime != Lifetime::Session {
            return Ok(Vec::new());
        }
        let (redis, postgres) = (self.redis.take(), self.postgres.take());
        if redis.is_none() && postgres.is_none() {
            return Ok(Vec::new());
        }
        let stopped = stop_servers(&self.dir, redis.is_some(), postgres.is_some());
        self.lock = None;
        stopped
    }
}

/// Stops `dir`'s Redis and PostgreSQL, those asked for, if they run, and waits until they have
/// exited; one line for each stopped.
fn stop_servers(dir: &Path, redis: bool, postgres: bool) -> Result<Vec<String>, ProvisionError> {
    let mut stopped = Vec::new();
    let servers = [
        (
            "Redis",
            redis,
            redis::running(dir),
            redis::ask_to_stop as fn(&Server),
        ),
        (
            "PostgreSQL",
            postgres,
            postgres::running(dir),
            postgres::ask_to_stop,
        ),
    ];
    for (name, wanted, running, ask) in servers {
        let Some(server) = running.filter(|_| wanted) else {
            continue;
        };
        ask(&server);
        process::await_exit(server.pid, STOP_WAIT, name)?;
        tracing::info!(port = server.port, "stopped the private {name}");
        stopped.push(format!(
            "stopped {name} on 127.0.0.1:{} (pid {})",
            server.port, server.pid
        ));
    }
    Ok(stopped)
}

impl Drop for Services {
    fn drop(&mut self) {
        match self.stop_session() {
            Ok(stopped) => {
                for line in stopped {
                    tracing::info!("{line}");
                }
            }
            Err(e) => tracing::error!(error = %e, "stopping the private servers"),
        }
    }
}

/// What runs in `dir`, one line per server.
pub fn status(dir: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(s) = postgres::running(dir) {
        lines.push(format!(
            "PostgreSQL on 127.0.0.1:{} (pid {})",
            s.port, s.pid
        ));
    }
    if let Some(s) = redis::running(dir) {
        lines.push(format!("Redis on 127.0.0.1:{} (pid {})", s.port, s.pid));
    }
    lines
}

/// Stops whatever runs in `dir` (unless a demo is using it), and says what was stopped.
pub fn stop(dir: &Path) -> Result<Vec<String>, ProvisionError> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let _lock = lock(dir, Lifetime::Session)?;
    stop_servers(dir, true, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configured_address_is_never_provisioned_even_when_nothing_answers() {
        let mut url = "postgres://127.0.0.1:1/switchyard".to_owned();
        assert!(!needs_server(&mut url, true, 1, 5432));
        assert_eq!(url, "postgres://127.0.0.1:1/switchyard");
    }

    #[test]
    fn the_database_name_is_kept_for_the_provisioned_server() {
        assert_eq!(
            database_name("postgres://localhost/switchyard_test"),
            "switchyard_test"
        );
        assert_eq!(database_name("postgres://localhost"), "switchyard");
    }
}
