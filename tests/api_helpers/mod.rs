//! The harness for the API's integration tests: a real server on 127.0.0.1:0 against the local
//! Redis and PostgreSQL, with its own Redis key prefix so tests running at once never see each
//! other's jobs.

use std::ops::Deref;

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::Value;
use switchyard::config::Settings;
use switchyard::queue::{Broker, QueueStats};

use crate::app_helpers::{run_pool, settings, spawn_server_with, Running, TestServer};

/// The server, with the ops token and a broker on its key prefix.
pub struct TestApp {
    server: TestServer,
    pub token: String,
    /// A broker on the app's key prefix, for driving queues from outside the API.
    pub broker: Broker,
}

/// The server's address, client and settings.
impl Deref for TestApp {
    type Target = TestServer;

    fn deref(&self) -> &TestServer {
        &self.server
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(settings()).await
}

/// [`spawn_app`] with settings of the test's own (start from [`settings`]).
pub async fn spawn_app_with(settings: Settings) -> TestApp {
    let server = spawn_server_with(settings).await;
    let broker = Broker::connect(&server.settings)
        .await
        .expect("Redis connects");
    TestApp {
        token: server.settings.server.ops_token.clone(),
        broker,
        server,
    }
}

impl TestApp {
    /// A request carrying the ops token.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.server.request(method, path, &self.token)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.request(Method::POST, path)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn post(&self, path: &str) -> Response {
        self.request(Method::POST, path)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.request(Method::DELETE, path)
            .send()
            .await
            .expect("request sent")
    }

    /// A queue's stats, read through the API.
    pub async fn stats(&self, queue: &str) -> Value {
        let res = self.get(&format!("/v1/queues/{queue}")).await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.expect("stats are JSON")
    }

    /// Polls a queue's stats until `done` holds (see [`crate::app_helpers::wait_for`]).
    pub async fn wait_for(&self, queue: &str, done: impl Fn(&QueueStats) -> bool) -> QueueStats {
        let q = self.broker.queue(queue).expect("a valid queue name");
        crate::app_helpers::wait_for(&q, done).await
    }

    /// Runs `queue`'s worker pool until stopped.
    pub fn start_pool(&self, queue: &str) -> Running {
        run_pool(&self.broker, queue)
    }

    /// Stops the server and deletes every key under this test's prefix. (A test that panics
    /// before this leaves its keys behind, under a prefix no other test uses.)
    pub async fn cleanup(self) {
        self.server.stop_cleanly().await;
        // Every queue that holds keys registered itself on its first enqueue or pause, and
        // `destroy` scans the whole keyspace, so only those are worth a scan.
        for name in self.broker.queue_names().await.expect("queue names read") {
            let q = self.broker.queue(&name).expect("a valid queue name");
            q.destroy().await.expect("queue keys deleted");
        }
    }
}

/// Asserts a problem+json answer with `status`, and returns its body.
pub async fn problem(res: Response, status: StatusCode) -> Value {
    let body = crate::http_helpers::problem(res, status).await;
    crate::http_helpers::assert_problem_body(&body, status.as_u16());
    body
}
