//! Every outbound call leaves through the guarded client: a tenant's channel cannot make
//! switchyard connect to an internal address, when it is created or changed, nor at a poll,
//! unless `outbound.allow_cidrs` admits the address; and no answer, a platform's or a webhook
//! receiver's, is read past its cap.

mod app_helpers;
mod import_helpers;
mod tenant_helpers;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use app_helpers::{key, spawn_server_with};
use import_helpers::World;
use reqwest::StatusCode;
use serde_json::{json, Value};
use switchyard::connectors::{self, ConnectorError};
use switchyard::domain::{ChannelCredentials, ChannelSettings, ShopifyCredentials};
use switchyard::domain::{OrderCursor, Secret};
use switchyard::outbound::{ClientSettings, SsrfGuard};
use switchyard::queue::JobStatus;
use switchyard::store::channels::{self, NewChannel};
use switchyard::store::stores;
use switchyard::webhooks::{generate_secret, WebhookClient};
use switchyard_sandbox::SandboxConfig;
use tenant_helpers::{pool, tenant, unique};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What a canary answers: were it ever read, it would show in an error.
const CANARY_BODY: &str = r#"{"internal":"canary-7f3a"}"#;

/// A listener on loopback that counts the connections it accepts and answers each request with
/// [`CANARY_BODY`]: an internal service an attacker would like to read.
struct Canary {
    port: u16,
    connections: Arc<AtomicUsize>,
}

impl Canary {
    async fn start() -> Canary {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let port = listener.local_addr().expect("an address").port();
        let connections = Arc::new(AtomicUsize::new(0));
        let seen = connections.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                seen.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = socket.read(&mut buf).await;
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                         content-length: {}\r\nconnection: close\r\n\r\n{CANARY_BODY}",
                        CANARY_BODY.len()
                    );
                    let _ = socket.write_all(answer.as_bytes()).await;
                });
            }
        });
        Canary { port, connections }
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Internal targets reaching this canary (loopback by address and by name, in IPv4-mapped
    /// and shorthand forms), and link-local and private ones that reach nothing here.
    fn internal_urls(&self) -> Vec<String> {
        let p = self.port;
        vec![
            format!("http://127.0.0.1:{p}/shopify/x"),
            format!("http://localhost:{p}/shopify/x"),
            format!("http://127.1:{p}/shopify/x"),
            format!("http://2130706433:{p}/shopify/x"),
            format!("http://[::ffff:127.0.0.1]:{p}/shopify/x"),
            format!("http://[::1]:{p}/shopify/x"),
            "http://169.254.169.254/latest/meta-data".to_owned(),
            format!("http://10.0.0.1:{p}/shopify/x"),
            "http://192.168.0.1/shopify/x".to_owned(),
            "http://[fd00::1]/shopify/x".to_owned(),
        ]
    }
}

fn shopify_credentials() -> ChannelCredentials {
    ChannelCredentials::Shopify(ShopifyCredentials {
        access_token: Secret::new("shpat_test"),
        app_secret: Secret::new("shpss_test"),
    })
}

fn loopback_allowed(max_response_bytes: usize) -> ClientSettings {
    ClientSettings {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(10),
        max_response_bytes,
        guard: SsrfGuard::new(&["127.0.0.0/8".into()]).expect("a CIDR"),
    }
}

#[tokio::test]
async fn creating_or_changing_a_channel_never_connects_to_an_internal_address() {
    let canary = Canary::start().await;
    let mut settings = app_helpers::settings();
    settings.outbound.allow_cidrs.clear();
    let app = spawn_server_with(settings).await;
    let pool = pool().await;
    let t = tenant(&pool).await;
    let store = stores::create(&pool, t.account, &unique("store"))
        .await
        .expect("store");
    let existing = tenant_helpers::channel(&pool, &key(&app.settings), t.account).await;

    for url in canary.internal_urls() {
        let body = json!({
            "store_id": store.id,
            "name": "internal",
            "kind": "shopify",
            "base_url": url,
            "credentials": {"access_token": "shpat_x", "app_secret": "shpss_x"},
        });
        let res = app.post("/v1/channels", &t.token, body).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{url}");
        let problem: Value = res.json().await.expect("problem+json");
        assert_eq!(problem["field"], "base_url", "{url}: {problem}");
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("refused"), "{url}: {detail}");
        assert!(!detail.contains("canary"), "{url}: {detail}");

        let path = format!("/v1/channels/{}", existing.id);
        let patch = json!({"base_url": url});
        let res = app.patch(&path, &t.token, patch).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{url}");
    }
    assert_eq!(canary.connections(), 0, "the canary was reached");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_never_connects_to_an_internal_address() {
    let canary = Canary::start().await;
    let mut settings = app_helpers::settings_with_own_database();
    settings.outbound.allow_cidrs.clear();
    let world = World::start_with(settings, SandboxConfig::default(), true).await;
    let store = world.store("ssrf").await;
    // Written straight to the store layer, as a channel created before its URL was refused
    // would be.
    for url in canary.internal_urls() {
        let channel = channels::create(
            &world.pool,
            &world.deps.credentials_key,
            world.account,
            &NewChannel {
                store_id: store,
                name: "internal",
                base_url: &url,
                credentials: &shopify_credentials(),
                settings: &ChannelSettings::default(),
            },
        )
        .await
        .expect("channel row");
        let job = world.import(channel.id).await;
        assert_eq!(job.status, JobStatus::Dead, "{url}: {job:?}");
        let error = job.last_error.unwrap_or_default();
        assert!(error.contains("refused"), "{url}: {error}");
    }
    assert_eq!(canary.connections(), 0, "the canary was reached");

    // The canary does count: admitted by the allow-list, the same call reaches it.
    let connector = connectors::build(
        &format!("http://127.0.0.1:{}/shopify/x", canary.port),
        &shopify_credentials(),
        &Default::default(),
        &loopback_allowed(1 << 20),
    )
    .expect("connector");
    let _ = connector.check_credentials().await;
    assert!(canary.connections() > 0);
    world.stop().await;
}

/// A server answering every request with `total` bytes, chunked or with its length declared,
/// that reports how many it managed to write before the client hung up.
async fn flood(total: usize, declare_length: bool) -> (u16, tokio::task::JoinHandle<usize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let port = listener.local_addr().expect("an address").port();
    let task = tokio::spawn(async move {
        let Ok((mut socket, _)) = listener.accept().await else {
            return 0;
        };
        let mut buf = [0u8; 8192];
        let _ = socket.read(&mut buf).await;
        let head = if declare_length {
            format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {total}\r\n\r\n")
        } else {
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
                .to_owned()
        };
        if socket.write_all(head.as_bytes()).await.is_err() {
            return 0;
        }
        let piece = vec![b' '; 64 * 1024];
        let mut written = 0;
        while written < total {
            let sent = if declare_length {
                socket.write_all(&piece).await
            } else {
                let mut chunk = format!("{:x}\r\n", piece.len()).into_bytes();
                chunk.extend_from_slice(&piece);
                chunk.extend_from_slice(b"\r\n");
                socket.write_all(&chunk).await
            };
            if sent.is_err() {
                break;
            }
            written += piece.len();
        }
        written
    });
    (port, task)
}

const FLOOD: usize = 256 * 1024 * 1024;

/// Asserts that the client hung up on a [`flood`] long before its end.
async fn assert_hung_up(written: tokio::task::JoinHandle<usize>) {
    let written = tokio::time::timeout(Duration::from_secs(30), written)
        .await
        .expect("the flood stops once the client hangs up")
        .unwrap_or(FLOOD);
    assert!(
        written < FLOOD / 4,
        "the client read on: {written} bytes written"
    );
}

#[tokio::test]
async fn a_platform_answer_over_the_cap_fails_the_call_unread() {
    for declare_length in [false, true] {
        let (port, written) = flood(FLOOD, declare_length).await;
        let connector = connectors::build(
            &format!("http://127.0.0.1:{port}/shopify/x"),
            &shopify_credentials(),
            &Default::default(),
            &loopback_allowed(1 << 20),
        )
        .expect("connector");
        let err = connector
            .list_orders_since(&OrderCursor::Since(None))
            .await
            .expect_err("a 256 MiB page is refused");
        assert!(
            matches!(&err, ConnectorError::Invalid(m) if m.contains("connectors.max_response_bytes")),
            "{err:?}"
        );
        drop(connector);
        assert_hung_up(written).await;
    }
}

#[tokio::test]
async fn a_webhook_answer_over_the_cap_fails_the_attempt_unread() {
    let mut settings = app_helpers::settings();
    settings.webhooks.max_response_bytes = 64 * 1024;
    let client = WebhookClient::new(&settings).expect("a webhook client");
    let secret = generate_secret();
    let (port, written) = flood(FLOOD, false).await;
    let answer = client
        .send_signed(
            &format!("http://127.0.0.1:{port}/hook"),
            "msg_flood",
            &[secret.as_str()],
            "{}".to_owned(),
        )
        .await
        .expect("a valid secret");
    assert_eq!(answer.status, None, "{answer:?}");
    let error = answer.error.unwrap_or_default();
    assert!(error.contains("larger than"), "{error}");
    drop(client);
    assert_hung_up(written).await;
}
