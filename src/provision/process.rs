//! The small facts about processes and ports that starting and stopping a server rests on.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::{Duration, Instant};

use super::ProvisionError;

/// How long a probe waits for a server to accept: a local server accepts at once, and a port
/// nobody listens on is refused at once, so this bounds only an address that drops packets.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

/// Whether something accepts TCP connections at `host:port` (any of its addresses).
pub fn answers(host: &str, port: u16) -> bool {
    let Ok(addrs) = (host, port).to_socket_addrs() else {
        return false;
    };
    addrs
        .into_iter()
        .any(|a| TcpStream::connect_timeout(&a, PROBE_TIMEOUT).is_ok())
}

/// A port of 127.0.0.1 free right now, for a server about to start.
pub fn free_port() -> Result<u16, ProvisionError> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| ProvisionError::io("finding a free port", e))
}

/// Whether process `pid` is alive. A process that has exited but was not reaped yet (a
/// zombie, when no init reaps daemons, as in some containers) is not.
pub fn alive(pid: u32) -> bool {
    let Ok(pid_t) = libc::pid_t::try_from(pid) else {
        return false;
    };
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name, which is in parentheses and may hold spaces.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) if Path::new("/proc/self").exists() => false,
        // SAFETY: signal 0 only checks that the process exists and may be signalled.
        Err(_) => unsafe { libc::kill(pid_t, 0) == 0 },
    }
}

/// Waits up to `limit` for `pid`, asked to stop, to exit; then sends it SIGTERM (a server's
/// own orderly shutdown) and waits as long again.
pub fn await_exit(pid: u32, limit: Duration, what: &str) -> Result<(), ProvisionError> {
    if wait_until(limit, || !alive(pid)) {
        return Ok(());
    }
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: sending a signal has no memory-safety preconditions.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
    if wait_until(limit, || !alive(pid)) {
        return Ok(());
    }
    Err(ProvisionError::Failed {
        program: what.to_owned(),
        detail: format!("pid {pid} did not stop within {} s", 2 * limit.as_secs()),
    })
}

/// Waits up to `limit` for `done`, checking every 50 ms.
pub fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sends one Redis command (RESP) to 127.0.0.1:`port` and returns the first line of the answer.
pub fn redis_command(port: u16, args: &[&str]) -> std::io::Result<String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, PROBE_TIMEOUT)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut request = format!("*{}\r\n", args.len());
    for a in args {
        request.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    stream.write_all(request.as_bytes())?;
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    // SHUTDOWN answers nothing: the connection closes.
    while stream.read(&mut byte)? == 1 && byte[0] != b'\n' {
        answer.push(byte[0]);
    }
    Ok(String::from_utf8_lossy(&answer).trim_end().to_owned())
}

/// Line `line` (from 0) of the file at `path`, parsed, when the file holds one.
pub fn read_number<T: std::str::FromStr>(path: &Path, line: usize) -> Option<T> {
    std::fs::read_to_string(path)
        .ok()?
        .lines()
        .nth(line)?
        .trim()
        .parse()
        .ok()
}
