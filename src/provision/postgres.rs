//! A private PostgreSQL cluster in `<dir>/postgres`: made once with `initdb` (trust
//! authentication, superuser `postgres`), started with `pg_ctl` on a free port of 127.0.0.1
//! with its unix socket in a directory of its own, and stopped with a fast shutdown.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::binaries::{Account, PostgresBin};
use super::process::{alive, answers, free_port, read_number};
use super::{ProvisionError, Server};

/// The superuser `initdb` creates, which the provisioned URL names.
pub const SUPERUSER: &str = "postgres";
/// How long starting the server may take.
const SERVER_WAIT: Duration = Duration::from_secs(60);
/// The file of settings switchyard writes at each start; `postgresql.conf` includes it.
const OWN_CONF: &str = "switchyard.conf";

struct Layout {
    base: PathBuf,
    data: PathBuf,
    socket_dir: PathBuf,
    log: PathBuf,
}

fn layout(dir: &Path) -> Layout {
    let base = dir.join("postgres");
    Layout {
        data: base.join("data"),
        socket_dir: base.join("run"),
        log: base.join("postgres.log"),
        base,
    }
}

/// The server running from `dir`'s cluster, if one is: its postmaster is alive and its port
/// accepts connections.
pub fn running(dir: &Path) -> Option<Server> {
    let pidfile = layout(dir).data.join("postmaster.pid");
    let pid: u32 = read_number(&pidfile, 0)?;
    let port: u16 = read_number(&pidfile, 3)?;
    (alive(pid) && answers("127.0.0.1", port)).then_some(Server {
        port,
        pid,
        started: false,
    })
}

/// The server of `dir`'s cluster: the running one, or one started now (made first if `dir`
/// holds no cluster yet).
pub fn ensure(
    dir: &Path,
    bin: &PostgresBin,
    account: Option<Account>,
) -> Result<Server, ProvisionError> {
    if let Some(server) = running(dir) {
        return Ok(server);
    }
    let l = layout(dir);
    private_dir(&l.base, account)?;
    private_dir(&l.socket_dir, account)?;
    if !l.data.join("PG_VERSION").exists() {
        init(&l, bin, account)?;
    }
    let made_by: Option<u32> = read_number(&l.data.join("PG_VERSION"), 0);
    if made_by != Some(bin.major) {
        return Err(ProvisionError::Failed {
            program: "PostgreSQL".to_owned(),
            detail: format!(
                "{} was made by PostgreSQL {}, and {} is installed: remove {} to start afresh",
                l.data.display(),
                made_by.map_or("of an unknown version".to_owned(), |v| v.to_string()),
                bin.major,
                l.base.display()
            ),
        });
    }
    let port = free_port()?;
    let conf = l.data.join(OWN_CONF);
    write_owned(
        &conf,
        &format!(
            "# Written by switchyard at each start of its private server.\n\
             listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{}'\n",
            l.socket_dir.display().to_string().replace('\'', "''")
        ),
        account,
    )?;
    let mut start = command(&bin.program("pg_ctl"), &l.base, account);
    start
        .args(["start", "--silent", "--wait", "--timeout"])
        .arg(SERVER_WAIT.as_secs().to_string())
        .arg("--pgdata")
        .arg(&l.data)
        .arg("--log")
        .arg(&l.log);
    if let Err(e) = run(start, "pg_ctl start") {
        return Err(with_log_tail(e, &l.log));
    }
    let pid: u32 =
        read_number(&l.data.join("postmaster.pid"), 0).ok_or_else(|| ProvisionError::Failed {
            program: "pg_ctl start".to_owned(),
            detail: "the server started but wrote no postmaster.pid".to_owned(),
        })?;
    tracing::info!(
        port,
        data = %l.data.display(),
        version = bin.major,
        "started a private PostgreSQL"
    );
    Ok(Server::started(port, pid))
}

/// Asks `server` to stop with a fast shutdown (sessions are ended, nothing committed is lost).
pub fn ask_to_stop(server: &Server) {
    // SIGINT is PostgreSQL's fast shutdown, what `pg_ctl stop -m fast` sends; sent directly it
    // needs no program run as the server's user.
    if let Ok(pid) = libc::pid_t::try_from(server.pid) {
        // SAFETY: sending a signal has no memory-safety preconditions.
        unsafe {
            libc::kill(pid, libc::SIGINT);
        }
    }
}

/// Makes the cluster: into a scratch directory first, renamed into place once whole, so an
/// interrupted `initdb` never leaves a half-made cluster that looks usable.
fn init(l: &Layout, bin: &PostgresBin, account: Option<Account>) -> Result<(), ProvisionError> {
    let scratch = l.base.join("data.init");
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch)
            .map_err(|e| ProvisionError::io(format!("removing {}", scratch.display()), e))?;
    }
    let mut initdb = command(&bin.program("initdb"), &l.base, account);
    initdb
        .arg("--pgdata")
        .arg(&scratch)
        .args(["--username", SUPERUSER, "--auth", "trust"])
        .args(["--encoding", "UTF8", "--no-locale"]);
    run(initdb, "initdb")?;
    let conf = scratch.join("postgresql.conf");
    let mut text = std::fs::read_to_string(&conf)
        .map_err(|e| ProvisionError::io(format!("reading {}", conf.display()), e))?;
    text.push_str(&format!("\ninclude_if_exists = '{OWN_CONF}'\n"));
    std::fs::write(&conf, text)
        .map_err(|e| ProvisionError::io(format!("writing {}", conf.display()), e))?;
    std::fs::rename(&scratch, &l.data).map_err(|e| {
        ProvisionError::io(format!("moving the cluster to {}", l.data.display()), e)
    })?;
    tracing::info!(data = %l.data.display(), "made a private PostgreSQL cluster");
    Ok(())
}

/// A program run as `account` (this process's own when `None`) in `cwd`: PostgreSQL refuses
/// root, and a child of root whose directory it cannot read complains on every start.
fn command(program: &Path, cwd: &Path, account: Option<Account>) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(cwd).stdin(Stdio::null());
    if let Some(a) = account {
        // std drops root's supplementary groups before switching the uid.
        cmd.gid(a.gid).uid(a.uid);
    }
    cmd
}

fn run(mut cmd: Command, what: &str) -> Result<(), ProvisionError> {
    let out = cmd
        .output()
        .map_err(|e| ProvisionError::io(format!("running {what}"), e))?;
    if out.status.success() {
        return Ok(());
    }
    let mut detail = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    if detail.is_empty() {
        detail = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    }
    Err(ProvisionError::Failed {
        program: what.to_owned(),
        detail: format!("{} ({})", detail, out.status),
    })
}

/// `e` with the last lines of the server's log, where PostgreSQL says why it did not start.
fn with_log_tail(e: ProvisionError, log: &Path) -> ProvisionError {
    let tail = std::fs::read_to_string(log)
        .map(|t| {
            let lines: Vec<&str> = t.lines().collect();
            lines[lines.len().saturating_sub(5)..].join("\n")
        })
        .unwrap_or_default();
    match e {
        ProvisionError::Failed { program, detail } if !tail.is_empty() => ProvisionError::Failed {
            program,
            detail: format!("{detail}; {} ends:\n{tail}", log.display()),
        },
        other => other,
    }
}

/// Creates `dir` if missing, readable by its owner only and owned by `account`.
fn private_dir(dir: &Path, account: Option<Account>) -> Result<(), ProvisionError> {
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)))
        .and_then(|()| chown(dir, account))
        .map_err(|e| ProvisionError::io(format!("preparing {}", dir.display()), e))
}

fn write_owned(path: &Path, text: &str, account: Option<Account>) -> Result<(), ProvisionError> {
    std::fs::write(path, text)
        .and_then(|()| chown(path, account))
        .map_err(|e| ProvisionError::io(format!("writing {}", path.display()), e))
}

fn chown(path: &Path, account: Option<Account>) -> std::io::Result<()> {
    match account {
        Some(a) => std::os::unix::fs::chown(path, Some(a.uid), Some(a.gid)),
        None => Ok(()),
    }
}
