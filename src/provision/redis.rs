//! A private Redis in `<dir>/redis`: `redis-server` on a free port of 127.0.0.1, without
//! persistence (the queues of a demo or a test run need not outlive it), stopped with
//! `SHUTDOWN NOSAVE`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::process::{alive, free_port, read_number, redis_command, wait_until};
use super::{ProvisionError, Server};

/// How long starting the server may take.
const SERVER_WAIT: Duration = Duration::from_secs(20);

/// The directory of `dir`'s Redis, and the files in it: the pid file Redis writes, the port
/// switchyard chose for it, and its log.
fn base(dir: &Path) -> PathBuf {
    dir.join("redis")
}
const PIDFILE: &str = "redis.pid";
const PORTFILE: &str = "port";
const LOG: &str = "redis.log";

/// The server running from `dir`, if one is: its process is alive and answers PING.
pub fn running(dir: &Path) -> Option<Server> {
    let pid: u32 = read_number(&base(dir).join(PIDFILE), 0)?;
    let port: u16 = read_number(&base(dir).join(PORTFILE), 0)?;
    (alive(pid) && pong(port)).then_some(Server {
        port,
        pid,
        started: false,
    })
}

fn pong(port: u16) -> bool {
    redis_command(port, &["PING"]).is_ok_and(|a| a == "+PONG")
}

/// `dir`'s server: the running one, or one started now with `redis_server`.
pub fn ensure(dir: &Path, redis_server: &Path) -> Result<Server, ProvisionError> {
    if let Some(server) = running(dir) {
        return Ok(server);
    }
    let base = base(dir);
    let (pidfile, portfile, log) = (base.join(PIDFILE), base.join(PORTFILE), base.join(LOG));
    std::fs::create_dir_all(&base)
        .map_err(|e| ProvisionError::io(format!("creating {}", base.display()), e))?;
    // A pid file left by a server that died would be read as the new one's.
    std::fs::remove_file(&pidfile).ok();
    let port = free_port()?;
    std::fs::write(&portfile, format!("{port}\n"))
        .map_err(|e| ProvisionError::io(format!("writing {}", portfile.display()), e))?;
    let status = Command::new(redis_server)
        .current_dir(&base)
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--save", "", "--appendonly", "no", "--daemonize", "yes"])
        .arg("--dir")
        .arg(&base)
        .arg("--pidfile")
        .arg(&pidfile)
        .arg("--logfile")
        .arg(&log)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| ProvisionError::io("running redis-server", e))?;
    let failed = |detail: String| ProvisionError::Failed {
        program: "redis-server".to_owned(),
        detail: format!("{detail} (its log is {})", log.display()),
    };
    if !status.status.success() {
        return Err(failed(
            String::from_utf8_lossy(&status.stderr).trim().to_owned(),
        ));
    }
    if !wait_until(SERVER_WAIT, || pong(port) && pidfile.exists()) {
        return Err(failed(format!(
            "did not answer on port {port} within {} s",
            SERVER_WAIT.as_secs()
        )));
    }
    let pid: u32 = read_number(&pidfile, 0)
        .ok_or_else(|| failed("started but wrote no pid file".to_owned()))?;
    tracing::info!(port, dir = %base.display(), "started a private Redis");
    Ok(Server::started(port, pid))
}

/// Asks `server` to stop, dropping its data.
pub fn ask_to_stop(server: &Server) {
    // The connection closes without an answer when the server goes.
    let _ = redis_command(server.port, &["SHUTDOWN", "NOSAVE"]);
}
