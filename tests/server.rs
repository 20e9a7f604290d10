//! The HTTP server at the socket: connections that send nothing, trickle their headers or idle
//! are closed after the configured timeouts, connections beyond the cap wait, and requests hyper
//! cannot parse are answered problem+json like every other error. Raw TCP, because these are
//! what a well-behaved HTTP client never sends.

mod app_helpers;
mod http_helpers;
mod tenant_helpers;

use std::time::Duration;

use app_helpers::{settings, spawn_server_with, TestServer};
use http_helpers::assert_problem_body;
use serde_json::Value;
use switchyard::app::Application;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{timeout, Instant};

/// Slack on top of a configured timeout for a loaded 2-core machine.
const SLACK: Duration = Duration::from_secs(10);

async fn server(configure: impl FnOnce(&mut switchyard::config::ServerSettings)) -> TestServer {
    let mut settings = settings();
    configure(&mut settings.server);
    spawn_server_with(settings).await
}

fn addr(app: &TestServer) -> String {
    app.address.trim_start_matches("http://").to_owned()
}

/// An answer read off the socket.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Asserts a problem+json answer of `status` and returns its JSON.
    fn problem(&self, status: u16) -> Value {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{self:?}"
        );
        let body: Value = serde_json::from_slice(&self.body).expect("a JSON body");
        assert_problem_body(&body, status);
        body
    }
}

/// Reads one answer framed by its Content-Length, leaving what follows on the socket.
async fn read_answer(
    socket: &mut (impl AsyncRead + Unpin),
    pending: &mut Vec<u8>,
) -> Option<Answer> {
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        pending.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&pending[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    pending.drain(..head_end + 4);
    while pending.len() < length {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        pending.extend_from_slice(&chunk[..n]);
    }
    let body = pending.drain(..length).collect();
    Some(Answer {
        status,
        headers,
        body,
    })
}

/// Sends `request` on a new connection and reads one answer.
async fn exchange(app: &TestServer, request: &[u8]) -> Answer {
    let mut socket = TcpStream::connect(addr(app)).await.expect("connects");
    socket.write_all(request).await.expect("request written");
    timeout(SLACK, read_answer(&mut socket, &mut Vec::new()))
        .await
        .expect("answered in time")
        .expect("an answer")
}

/// Waits until the server closes `socket`, and returns when it did.
async fn closed(mut socket: TcpStream) -> Instant {
    let mut buf = [0u8; 1024];
    loop {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => return Instant::now(),
            Ok(_) => {}
        }
    }
}

async fn healthz(app: &TestServer) -> reqwest::StatusCode {
    app.client
        .get(app.url("/healthz"))
        .timeout(SLACK)
        .send()
        .await
        .expect("/healthz answers")
        .status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sockets_do_not_stop_healthz_and_are_closed_after_the_header_timeout() {
    let app = server(|s| s.header_read_timeout_secs = 2).await;
    let timeout_after = Duration::from_secs(2);
    let mut idle = Vec::new();
    for _ in 0..2_000 {
        let socket = TcpStream::connect(addr(&app)).await.expect("connects");
        idle.push((Instant::now(), socket));
    }
    assert_eq!(healthz(&app).await, reqwest::StatusCode::OK);

    let closes = idle.into_iter().map(|(opened, socket)| async move {
        let at = timeout(timeout_after + SLACK, closed(socket)).await;
        (opened, at)
    });
    let closes = futures::future::join_all(closes).await;
    let open = closes.iter().filter(|(_, at)| at.is_err()).count();
    assert_eq!(open, 0, "idle sockets still open after the header timeout");
    let early = closes
        .iter()
        .filter_map(|(opened, at)| at.as_ref().ok().map(|at| *at - *opened))
        .filter(|lived| *lived < timeout_after - Duration::from_millis(100))
        .count();
    assert_eq!(early, 0, "idle sockets closed before the header timeout");
    assert_eq!(healthz(&app).await, reqwest::StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn a_trickled_head_is_answered_408_and_closed() {
    let app = server(|s| s.header_read_timeout_secs = 1).await;
    let mut socket = TcpStream::connect(addr(&app)).await.expect("connects");
    let (mut reader, mut writer) = socket.split();
    writer
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // One more header line every 200 ms: the head never completes.
    let trickle = async {
        for i in 0.. {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let line = format!("X-Trickle-{i}: 1\r\n");
            if writer.write_all(line.as_bytes()).await.is_err() {
                break;
            }
        }
        std::future::pending::<()>().await;
    };
    let mut pending = Vec::new();
    let read = read_answer(&mut reader, &mut pending);
    let answer = timeout(SLACK, async {
        tokio::select! {
            answer = read => answer,
            _ = trickle => None,
        }
    })
    .await
    .expect("the trickling connection is answered in time")
    .expect("an answer");
    answer.problem(408);
    app.stop().await;
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_keep_alive_timeout() {
    let app = server(|s| s.keep_alive_timeout_secs = 1).await;
    let mut socket = TcpStream::connect(addr(&app)).await.expect("connects");
    let mut pending = Vec::new();
    for _ in 0..2 {
        socket
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let answer = read_answer(&mut socket, &mut pending)
            .await
            .expect("answer");
        assert_eq!(answer.status, 200);
    }
    let answered = Instant::now();
    let at = timeout(SLACK, closed(socket))
        .await
        .expect("the idle connection is closed in time");
    assert!(
        at - answered >= Duration::from_millis(900),
        "closed {:?} after the answer",
        at - answered
    );
    app.stop().await;
}

#[tokio::test]
async fn beyond_max_connections_a_connection_waits_for_a_free_slot() {
    let app = server(|s| s.max_connections = 3).await;
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(TcpStream::connect(addr(&app)).await.expect("connects"));
    }
    let mut extra = TcpStream::connect(addr(&app))
        .await
        .expect("the backlog takes it");
    extra
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut pending = Vec::new();
    let early = timeout(
        Duration::from_millis(500),
        read_answer(&mut extra, &mut pending),
    )
    .await;
    assert!(early.is_err(), "served beyond the cap: {early:?}");
    drop(idle.pop());
    let answer = timeout(SLACK, read_answer(&mut extra, &mut pending))
        .await
        .expect("served once a slot is free")
        .expect("an answer");
    assert_eq!(answer.status, 200);
    app.stop().await;
}

#[tokio::test]
async fn requests_hyper_cannot_parse_are_answered_problem_json() {
    let app = server(|_| {}).await;
    let long_uri = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(70_000));
    let many_headers = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\n{}\r\n",
        (0..120)
            .map(|i| format!("X-{i}: 1\r\n"))
            .collect::<String>()
    );
    let big_header = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "b".repeat(70_000)
    );
    let cases: [(&[u8], u16); 8] = [
        (long_uri.as_bytes(), 414),
        (
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n",
            400,
        ),
        (
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad\x01Name: 1\r\n\r\n",
            400,
        ),
        (b"G\x01T /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n",
            400,
        ),
        (
            b"POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
            400,
        ),
        (many_headers.as_bytes(), 431),
        (big_header.as_bytes(), 431),
    ];
    for (request, status) in cases {
        let answer = exchange(&app, request).await;
        let shown = String::from_utf8_lossy(&request[..request.len().min(60)]).into_owned();
        assert_eq!(answer.status, status, "{shown}: {answer:?}");
        answer.problem(status);
    }
    app.stop().await;
}

#[tokio::test]
async fn pipelined_and_chunked_requests_are_framed_and_answered_in_order() {
    let app = server(|_| {}).await;
    let mut socket = TcpStream::connect(addr(&app)).await.expect("connects");
    // A chunked body (with an extension and a trailer) whose bytes look like a request, a
    // sized one, then a plain GET, all in one write.
    let requests = b"POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
        19;ext=1\r\nGET /nowhere HTTP/1.1\r\n\r\n\r\n0\r\nX-Trailer: t\r\n\r\n\
        POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello\
        GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    socket.write_all(requests).await.unwrap();
    let mut pending = Vec::new();
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let answer = timeout(SLACK, read_answer(&mut socket, &mut pending))
            .await
            .expect("answered in time")
            .expect("an answer");
        statuses.push(answer.status);
    }
    assert_eq!(statuses, vec![405, 405, 200]);
    app.stop().await;
}

#[tokio::test]
async fn shutdown_closes_idle_connections_without_waiting_out_the_grace() {
    let mut settings = settings();
    settings.shutdown.grace_secs = 60;
    let app = Application::build(settings).await.expect("the app builds");
    let addr = format!("127.0.0.1:{}", app.port());
    let (stop, stopping) = watch::channel(false);
    let server = tokio::spawn(app.run_until(stopping));
    // One connection answered and kept alive, one that never sent a byte.
    let mut answered = TcpStream::connect(&addr).await.expect("connects");
    answered
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let answer = read_answer(&mut answered, &mut Vec::new()).await;
    assert_eq!(answer.map(|a| a.status), Some(200));
    let silent = TcpStream::connect(&addr).await.expect("connects");

    stop.send(true).unwrap();
    let stopped = timeout(SLACK, server).await;
    assert!(
        matches!(stopped, Ok(Ok(Ok(())))),
        "the server stops well within its grace: {stopped:?}"
    );
    for socket in [answered, silent] {
        timeout(SLACK, closed(socket))
            .await
            .expect("the connection is closed");
    }
}
