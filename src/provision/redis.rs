//! A private Redis in `<dir>/redis`: `redis-server` on a free port of 127.0.0.1, without
//! persistence (the queues of a demo or a test run need not outlive it), stopped with
//! `SHUTDOWN NOSAVE`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::process::{alive, free_port, read_number, redis_command, terminate, wait_until};
use super::{ProvisionError, Server};

/// How long starting or stopping the server may take.
const SERVER_WAIT: Duration = Duration::from_secs(20);

struct Layout {
    base: PathBuf,
    pidfile: PathBuf,
    portfile: PathBuf,
    log: PathBuf,
}

fn layout(dir: &Path) -> Layout {
    let base = dir.join("redis");
    Layout {
        pidfile: base.join("redis.pid"),
        portfile: base.join("port"),
        log: base.join("redis.log"),
        base,
    }
}

/// The server running from `dir`, if one is: its process is alive and answers PING.
pub fn running(dir: &Path) -> Option<Server> {
    let l = layout(dir);
    let pid: u32 = read_number(&l.pidfile, 0)?;
    let port: u16 = read_number(&l.portfile, 0)?;
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
    let l = layout(dir);
    std::fs::create_dir_all(&l.base)
        .map_err(|e| ProvisionError::io(format!("creating {}", l.base.display()), e))?;
    // A pid file left by a server that died would be read as the new one's.
    std::fs::remove_file(&l.pidfile).ok();
    let port = free_port()?;
    std::fs::write(&l.portfile, format!("{port}\n"))
        .map_err(|e| ProvisionError::io(format!("writing {}", l.portfile.display()), e))?;
    let status = Command::new(redis_server)
        .current_dir(&l.base)
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--save", "", "--appendonly", "no", "--daemonize", "yes"])
        .arg("--dir")
        .arg(&l.base)
        .arg("--pidfile")
        .arg(&l.pidfile)
        .arg("--logfile")
        .arg(&l.log)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| ProvisionError::io("running redis-server", e))?;
    let failed = |detail: String| ProvisionError::Failed {
        program: "redis-server".to_owned(),
        detail: format!("{detail} (its log is {})", l.log.display()),
    };
    if !status.status.success() {
        return Err(failed(
            String::from_utf8_lossy(&status.stderr).trim().to_owned(),
        ));
    }
    if !wait_until(SERVER_WAIT, || pong(port) && l.pidfile.exists()) {
        return Err(failed(format!(
            "did not answer on port {port} within {} s",
            SERVER_WAIT.as_secs()
        )));
    }
    let pid: u32 = read_number(&l.pidfile, 0)
        .ok_or_else(|| failed("started but wrote no pid file".to_owned()))?;
    tracing::info!(port, dir = %l.base.display(), "started a private Redis");
    Ok(Server {
        port,
        pid,
        started: true,
    })
}

/// Stops `dir`'s server if it runs, and waits until it has exited. Returns the server that was
/// stopped.
pub fn stop(dir: &Path) -> Result<Option<Server>, ProvisionError> {
    let Some(server) = running(dir) else {
        return Ok(None);
    };
    // The connection closes without an answer when the server goes.
    let _ = redis_command(server.port, &["SHUTDOWN", "NOSAVE"]);
    if !wait_until(SERVER_WAIT, || !alive(server.pid)) {
        terminate(server.pid);
        if !wait_until(SERVER_WAIT, || !alive(server.pid)) {
            return Err(ProvisionError::Failed {
                program: "redis-server".to_owned(),
                detail: format!("pid {} did not stop", server.pid),
            });
        }
    }
    std::fs::remove_file(layout(dir).pidfile).ok();
    tracing::info!(port = server.port, "stopped the private Redis");
    Ok(Some(server))
}
