//! The HTTP/1.1 server under the API: an accept loop of its own instead of `axum::serve`, which
//! can set neither timeouts nor a connection cap.
//!
//! - At most `server.max_connections` connections are served at once: the loop accepts only
//!   with a free slot, so further connections wait in the kernel's backlog and a flood of them
//!   cannot take the file descriptors PostgreSQL, Redis and outbound calls need.
//! - Each connection's socket is read through a [`guard::Guard`], which closes connections that
//!   send nothing, trickle their heads or idle past their keep-alive, and answers heads hyper
//!   would refuse (bad syntax, 414, 431) with problem+json.
//! - On shutdown the loop stops accepting, idle connections close at once, and requests under
//!   way get the grace to finish.

mod guard;
mod head;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tower::ServiceExt;

use self::guard::{Activity, Guard, Limits};
use crate::config::ServerSettings;
use crate::shutdown::{self, Closing};

/// After an accept error other than a connection failing in the backlog (out of descriptors,
/// typically), how long the loop waits for some to be freed instead of spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(250);
/// File descriptors the process needs besides its clients: database and Redis pools, outbound
/// calls, logs.
const OTHER_DESCRIPTORS: u64 = 256;

/// The soft "Max open files" of a `/proc/<pid>/limits` text; `None` when unlimited or absent.
fn open_file_limit(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Warns when the connection cap cannot be reached before the process runs out of file
/// descriptors: clients would then fail with "Too many open files", and so would the stores.
fn warn_if_over_open_file_limit(max_connections: usize) {
    let Some(limit) = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| open_file_limit(&text))
    else {
        return;
    };
    if max_connections as u64 + OTHER_DESCRIPTORS > limit {
        tracing::warn!(
            max_connections,
            open_file_limit = limit,
            "server.max_connections is too close to the open-file limit (ulimit -n); \
             raise the limit or lower the cap"
        );
    }
}

/// Serves `router` on `listener` as `settings` say until `stop` turns true; then stops
/// accepting and gives the connections' requests at most `grace` to finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    settings: &ServerSettings,
    stop: watch::Receiver<bool>,
    grace: Duration,
) {
    let limits = Limits {
        header_read_timeout: settings.header_read_timeout(),
        keep_alive_timeout: settings.keep_alive_timeout(),
        max_head_bytes: settings.max_head_bytes,
    };
    warn_if_over_open_file_limit(settings.max_connections);
    let slots = Arc::new(Semaphore::new(settings.max_connections));
    let (closing, closed) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut saturated = false;
    loop {
        let slot = match Arc::clone(&slots).try_acquire_owned() {
            Ok(slot) => {
                saturated = false;
                slot
            }
            Err(_) => {
                if !saturated {
                    tracing::warn!(
                        max_connections = settings.max_connections,
                        "connection cap reached; new connections wait for one to close"
                    );
                    saturated = true;
                }
                tokio::select! {
                    slot = Arc::clone(&slots).acquire_owned() => match slot {
                        Ok(slot) => slot,
                        // The semaphore is never closed.
                        Err(_) => break,
                    },
                    _ = shutdown::wait(stop.clone()) => break,
                }
            }
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    tracing::error!(error = %e, "accept failed; retrying shortly");
                    tokio::select! {
                        _ = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                        _ = shutdown::wait(stop.clone()) => break,
                    }
                }
            },
            _ = shutdown::wait(stop.clone()) => break,
        };
        connections.spawn(connection(
            stream,
            peer,
            router.clone(),
            limits,
            closed.clone(),
            slot,
        ));
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    let _ = closing.send(true);
    let drained = tokio::time::timeout(grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            grace_secs = grace.as_secs(),
            "requests still running after the shutdown grace; closing them"
        );
        connections.abort_all();
    }
}

/// A connection that failed while it waited in the backlog: the next one may be fine.
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    )
}

/// Serves one connection until it closes, or until `closing` turns true and its requests
/// under way are answered. Holds its `slot` meanwhile.
async fn connection(
    stream: TcpStream,
    peer: std::net::SocketAddr,
    router: Router,
    limits: Limits,
    closing: watch::Receiver<bool>,
    slot: OwnedSemaphorePermit,
) {
    let activity = Activity::new();
    let io = TokioIo::new(Guard::new(stream, limits, Arc::clone(&activity)));
    let handled = Arc::clone(&activity);
    let signal = Closing::new(closing.clone());
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        // Counted from the call, so the guard never sees a handled request as idle.
        let handling = handled.handling();
        let router = router.clone();
        let mut req = req.map(Body::new);
        req.extensions_mut().insert(signal.clone());
        // The client's address, as axum's `ConnectInfo` extractor reads it.
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(peer));
        async move {
            let res = router.oneshot(req).await;
            drop(handling);
            Ok::<_, Infallible>(res.unwrap_or_else(|never| match never {}))
        }
    });
    // The guard enforces the head timeout; hyper's own needs a timer and would also count the
    // keep-alive wait against it.
    let conn = http1::Builder::new()
        .header_read_timeout(None)
        .serve_connection(io, service);
    tokio::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        _ = shutdown::wait(closing) => {
            activity.close();
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        // A client that goes away mid-request is routine.
        tracing::debug!(error = %e, "connection ended with an error");
    }
    drop(slot);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_open_file_limit_is_read_from_proc_limits() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max processes             96368                96368           processes\n\
                      Max open files            1024                 524288          files\n";
        assert_eq!(open_file_limit(limits), Some(1024));
        let unlimited = limits.replace("1024 ", "unlimited ");
        assert_eq!(open_file_limit(&unlimited), None);
        assert_eq!(open_file_limit(""), None);
    }
}
