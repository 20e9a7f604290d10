//! The API while PostgreSQL is unreachable: a tenant read fails fast with a 503 problem, and
//! the API serves again once the database is back. The test's own TCP proxy stands between the
//! API and PostgreSQL, so "down" is the proxy cut, not the shared server stopped.

mod app_helpers;
mod proxy_helpers;
mod tenant_helpers;

use std::net::ToSocketAddrs;
use std::time::{Duration, Instant};

use app_helpers::{settings, spawn_server_with};
use proxy_helpers::TcpProxy;
use reqwest::StatusCode;
use serde_json::Value;
use tenant_helpers::{pool, tenant};

/// Longer than any answer from a healthy local database, with room for a slow CI machine, and
/// well under the 5 s a read used to hang.
const PROMPT: Duration = Duration::from_millis(2500);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_read_answers_503_promptly_while_postgresql_is_down_and_recovers() {
    let mut settings = settings();
    let mut url = reqwest::Url::parse(&settings.database.url).expect("a database URL");
    let upstream = (
        url.host_str().unwrap_or("localhost"),
        url.port().unwrap_or(5432),
    )
        .to_socket_addrs()
        .expect("PostgreSQL's address")
        .find(|a| a.is_ipv4())
        .expect("an IPv4 address");
    let proxy = TcpProxy::start(upstream).await;
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(proxy.port())).unwrap();
    settings.database.url = url.to_string();
    let app = spawn_server_with(settings).await;
    let t = tenant(&pool().await).await;

    let res = app.get("/v1/stores", &t.token).await;
    assert_eq!(res.status(), StatusCode::OK);

    proxy.cut();
    let asked = Instant::now();
    let res = app.get("/v1/stores", &t.token).await;
    let took = asked.elapsed();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        res.headers()["content-type"],
        "application/problem+json",
        "{res:?}"
    );
    let problem: Value = res.json().await.unwrap();
    assert_eq!(problem["status"], 503, "{problem}");
    assert_eq!(
        problem["type"], "https://switchyard.dev/problems/unavailable",
        "{problem}"
    );
    assert!(took < PROMPT, "answered after {took:?}");

    proxy.restore().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let res = app.get("/v1/stores", &t.token).await;
        if res.status() == StatusCode::OK {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still {} with the database back",
            res.status()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.stop().await;
}
