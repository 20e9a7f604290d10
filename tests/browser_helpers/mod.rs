//! A real headless Chromium driven over the W3C WebDriver protocol (Debian's `chromedriver`),
//! with a client of a few requests written on reqwest.
//!
//! One chromedriver and one browser session serve the whole test binary: tests take turns on it
//! (`browser()` waits for the previous test to finish with it) and each starts by clearing its
//! cookies. chromedriver runs in a process group of its own with a watchdog that ends the group,
//! Chromium included, when the test binary exits.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};
use tokio::sync::{Mutex, MutexGuard, OnceCell};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// The WebDriver spec's key for an element reference in JSON.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The browser session's address, e.g. `http://127.0.0.1:PORT/session/ID`.
static SESSION: OnceCell<Mutex<String>> = OnceCell::const_new();

/// The shared browser, for one test at a time.
pub struct Browser {
    http: reqwest::Client,
    session: String,
    _turn: MutexGuard<'static, String>,
}

/// An element found on the page.
#[derive(Clone)]
pub struct Element {
    id: String,
}

/// Takes the browser for this test, starting it on first use, with no cookies left behind.
pub async fn browser() -> Browser {
    let session = SESSION
        .get_or_init(|| async { Mutex::new(start().await) })
        .await;
    let turn = session.lock().await;
    let b = Browser {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("a client"),
        session: turn.clone(),
        _turn: turn,
    };
    // Cookies belong to the page's origin; each test serves on its own port, so clearing them
    // is belt and braces.
    b.call(reqwest::Method::DELETE, "/cookie", None).await;
    b
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

async fn start() -> String {
    for (path, package) in [(CHROMEDRIVER, "chromium-driver"), (CHROMIUM, "chromium")] {
        assert!(
            PathBuf::from(path).exists(),
            "the dashboard's browser tests need Debian's {package}: `apt-get install chromium chromium-driver` (.ci/run does)"
        );
    }
    let port = free_port();
    // The watchdog: while this test binary lives, wait; then end the whole process group.
    let script = format!(
        "{CHROMEDRIVER} --port={port} --log-level=SEVERE >/dev/null 2>&1 & \
         while kill -0 {parent} 2>/dev/null; do sleep 0.5; done; kill -TERM 0",
        parent = std::process::id()
    );
    // Never waited for: the watchdog outlives this process by design, to end chromedriver after it.
    #[allow(clippy::zombie_processes)]
    Command::new("setsid")
        .args(["sh", "-c", &script])
        .spawn()
        .expect("chromedriver started");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = http
            .get(format!("{base}/status"))
            .send()
            .await
            .ok()
            .and_then(|r| r.status().is_success().then_some(r));
        if let Some(r) = ready {
            let status: Value = r.json().await.expect("status JSON");
            if status["value"]["ready"] == true {
                break;
            }
        }
        assert!(Instant::now() < deadline, "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let caps = json!({"capabilities": {"alwaysMatch": {
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": ["--headless", "--no-sandbox", "--disable-gpu",
                     "--disable-background-networking", "--disable-dev-shm-usage",
                     "--window-size=1280,1000"]
        }
    }}});
    let res: Value = http
        .post(format!("{base}/session"))
        .json(&caps)
        .send()
        .await
        .expect("session request")
        .json()
        .await
        .expect("session JSON");
    let id = res["value"]["sessionId"]
        .as_str()
        .unwrap_or_else(|| panic!("no browser session: {res}"));
    format!("{base}/session/{id}")
}

impl Browser {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        match self.try_call(method, path, body).await {
            Ok(v) => v,
            Err(e) => panic!("WebDriver {path}: {e}"),
        }
    }

    async fn try_call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Value> {
        let mut req = self.http.request(method, format!("{}{path}", self.session));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.expect("WebDriver request");
        let ok = res.status().is_success();
        let v: Value = res.json().await.expect("WebDriver JSON");
        if ok {
            Ok(v["value"].clone())
        } else {
            Err(v["value"].clone())
        }
    }

    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    pub async fn url(&self) -> String {
        let v = self.call(reqwest::Method::GET, "/url", None).await;
        v.as_str().unwrap_or_default().to_owned()
    }

    /// The first element matching the CSS selector, if any.
    pub async fn find(&self, css: &str) -> Option<Element> {
        let body = json!({"using": "css selector", "value": css});
        let v = self
            .try_call(reqwest::Method::POST, "/element", Some(body))
            .await
            .ok()?;
        Some(Element {
            id: v[ELEMENT].as_str()?.to_owned(),
        })
    }

    /// The element matching `css`, waited for up to five seconds, or a failed test saying which
    /// was missing.
    pub async fn get(&self, css: &str) -> Element {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(e) = self.find(css).await {
                return e;
            }
            if Instant::now() > deadline {
                let html = self.source().await;
                panic!("no element `{css}` on the page: {html}")
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn all(&self, css: &str) -> Vec<Element> {
        let body = json!({"using": "css selector", "value": css});
        let v = self
            .call(reqwest::Method::POST, "/elements", Some(body))
            .await;
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e[ELEMENT].as_str())
            .map(|id| Element { id: id.to_owned() })
            .collect()
    }

    /// Clicks `e` and waits until the page it leads to has loaded: for links and submit buttons.
    pub async fn follow(&self, e: &Element) {
        self.run("window.syLeaving = true").await;
        self.click(e).await;
        let loaded = self
            .until(Duration::from_secs(10), || async {
                let check = json!({"script":
                    "return window.syLeaving === undefined && document.readyState === 'complete'",
                    "args": []});
                self.try_call(reqwest::Method::POST, "/execute/sync", Some(check))
                    .await
                    .is_ok_and(|v| v == true)
            })
            .await;
        assert!(loaded, "the click led to no new page");
    }

    pub async fn click(&self, e: &Element) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/click", e.id),
            Some(json!({})),
        )
        .await;
    }

    pub async fn type_into(&self, e: &Element, text: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/value", e.id),
            Some(json!({"text": text})),
        )
        .await;
    }

    pub async fn text(&self, e: &Element) -> String {
        let v = self
            .call(
                reqwest::Method::GET,
                &format!("/element/{}/text", e.id),
                None,
            )
            .await;
        v.as_str().unwrap_or_default().to_owned()
    }

    pub async fn attribute(&self, e: &Element, name: &str) -> Option<String> {
        let v = self
            .call(
                reqwest::Method::GET,
                &format!("/element/{}/attribute/{name}", e.id),
                None,
            )
            .await;
        v.as_str().map(str::to_owned)
    }

    /// The text of the element matching `css`, waited for as [`Browser::get`] does.
    pub async fn text_of(&self, css: &str) -> String {
        let e = self.get(css).await;
        self.text(&e).await
    }

    pub async fn source(&self) -> String {
        let v = self.call(reqwest::Method::GET, "/source", None).await;
        v.as_str().unwrap_or_default().to_owned()
    }

    /// Runs `script` in the page and answers what it returns.
    pub async fn run(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// Waits until `check` holds, up to `within`; answers whether it did.
    pub async fn until<F, Fut>(&self, within: Duration, mut check: F) -> bool
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if check().await {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    /// Sizes the window: a phone is 390 × 844, a desktop 1280 × 1000.
    pub async fn window_size(&self, width: u32, height: u32) {
        self.call(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        )
        .await;
    }

    /// Saves a PNG of the page as `target/browser/{name}.png`, the tests' kept artifacts.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let v = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().expect("base64 PNG"))
            .expect("a PNG");
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .expect("target/")
            .join("browser");
        std::fs::create_dir_all(&dir).expect("target/browser");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("screenshot written");
        path
    }
}
