//! A fulfilment-centre simulator: the other end of a switchyard plugin (docs/plugin-protocol.md).
//!
//! It receives orders at `POST /orders`, verifies their Standard Webhooks signature with the
//! independent verifier in [`crate::standard_webhooks`] (401 when it does not verify), books
//! each order once by switchyard's order id and answers 200 with its own reference. After a
//! configurable delay it "ships" each open order by calling back
//! `POST {switchyard}/v1/plugin-callbacks/fulfilments` with a tracking number, and it reports
//! its stock levels with `POST {switchyard}/v1/plugin-callbacks/stock`, both with its callback
//! token. Like the platform simulators it has fault knobs (429 bursts, 5xx, latency, hangs) and
//! counts its traffic.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use switchyard_sandbox::fulfilment_centre::{FulfilmentCentre, FulfilmentCentreConfig};
//! let centre = FulfilmentCentre::start(FulfilmentCentreConfig::default()).await?;
//! // Create the plugin in switchyard with `centre.endpoint_url()`, then hand the centre the
//! // secrets switchyard showed:
//! centre.configure("whsec_...", "syp_...", "http://127.0.0.1:8080");
//! centre.shutdown().await;
//! # Ok(()) }
//! ```

mod books;
mod callbacks;
mod routes;

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use books::{BookedLine, BookedOrder, BookedState};
pub use callbacks::{CallbackAttempt, CallbackKind};

use crate::faults::{lock, FaultKnobs, Faults};
use crate::traffic::Traffic;

/// How a centre starts.
#[derive(Debug, Clone)]
pub struct FulfilmentCentreConfig {
    /// Where to listen; port 0 picks a free one.
    pub bind: SocketAddr,
    /// How long after an order first arrives it ships; `None` ships only on
    /// [`FulfilmentCentreHandle::ship_now`].
    pub ship_after: Option<Duration>,
    pub carrier: String,
    /// How far a `webhook-timestamp` may be from the centre's clock.
    pub tolerance_secs: i64,
    /// Tries per callback before the centre gives up on it.
    pub callback_tries: u32,
    /// Timeout of each callback request.
    pub callback_timeout: Duration,
    pub faults: FaultKnobs,
    pub seed: u64,
}

impl Default for FulfilmentCentreConfig {
    fn default() -> Self {
        FulfilmentCentreConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            ship_after: Some(Duration::from_secs(2)),
            carrier: "Royal Mail".into(),
            tolerance_secs: crate::standard_webhooks::DEFAULT_TOLERANCE_SECS,
            callback_tries: 5,
            callback_timeout: Duration::from_secs(5),
            faults: FaultKnobs::default(),
            seed: 1,
        }
    }
}

/// What the centre was told by switchyard when its plugin was made.
#[derive(Debug, Clone, Default)]
struct Credentials {
    /// Signing secrets accepted (several while one is rotated out).
    signing_secrets: Vec<String>,
    callback_token: String,
    /// switchyard's base URL, without a trailing `/`.
    switchyard_url: String,
}

/// State shared by the routes, the shipping timers and the handle.
struct Centre {
    config: FulfilmentCentreConfig,
    credentials: Mutex<Credentials>,
    books: Mutex<books::Books>,
    stock: Mutex<BTreeMap<String, i64>>,
    callbacks: Mutex<Vec<CallbackAttempt>>,
    /// Numbers stock reports, for their idempotency keys.
    reports: AtomicU64,
    /// Random per start, so a restarted centre's report keys never repeat an earlier run's.
    instance: u64,
    faults: Arc<Faults>,
    traffic: Arc<Traffic>,
    client: reqwest::Client,
    shutdown: CancellationToken,
    runtime: tokio::runtime::Handle,
}

/// Entry point: `FulfilmentCentre::start(config)`.
pub struct FulfilmentCentre;

/// A running centre. Dropping it stops the server too; [`FulfilmentCentreHandle::shutdown`]
/// waits for it.
pub struct FulfilmentCentreHandle {
    addr: SocketAddr,
    centre: Arc<Centre>,
    server: Option<JoinHandle<io::Result<()>>>,
}

impl FulfilmentCentre {
    /// Binds `config.bind` and starts serving.
    pub async fn start(config: FulfilmentCentreConfig) -> io::Result<FulfilmentCentreHandle> {
        let listener = tokio::net::TcpListener::bind(config.bind).await?;
        let addr = listener.local_addr()?;
        let client = reqwest::Client::builder()
            .timeout(config.callback_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| io::Error::other(e.to_string()))?;
        let shutdown = CancellationToken::new();
        let centre = Arc::new(Centre {
            faults: Arc::new(Faults::new(config.faults.clone(), config.seed)),
            traffic: Arc::new(Traffic::new("")),
            config,
            credentials: Mutex::new(Credentials::default()),
            books: Mutex::new(books::Books::default()),
            stock: Mutex::new(BTreeMap::new()),
            callbacks: Mutex::new(Vec::new()),
            reports: AtomicU64::new(0),
            instance: rand::random(),
            client,
            shutdown: shutdown.clone(),
            runtime: tokio::runtime::Handle::current(),
        });
        let app = routes::router(centre.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { shutdown.cancelled().await })
                .await
        });
        Ok(FulfilmentCentreHandle {
            addr,
            centre,
            server: Some(server),
        })
    }
}

impl FulfilmentCentreHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL to give switchyard as the plugin's endpoint.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}/orders", self.addr)
    }

    /// Sets what switchyard showed when the plugin was made: its signing secret, its callback
    /// token, and where switchyard is. Until then every order is refused with 401.
    pub fn configure(&self, signing_secret: &str, callback_token: &str, switchyard_url: &str) {
        *lock(&self.centre.credentials) = Credentials {
            signing_secrets: vec![signing_secret.to_owned()],
            callback_token: callback_token.to_owned(),
            switchyard_url: switchyard_url.trim_end_matches('/').to_owned(),
        };
    }

    /// Accepts `secret` as well as the current one (a rotation in progress).
    pub fn add_signing_secret(&self, secret: &str) {
        lock(&self.centre.credentials)
            .signing_secrets
            .push(secret.to_owned());
    }

    pub fn faults(&self) -> &Faults {
        &self.centre.faults
    }

    pub fn traffic(&self) -> &Traffic {
        &self.centre.traffic
    }

    /// Every order in the books, by switchyard order id.
    pub fn orders(&self) -> Vec<BookedOrder> {
        lock(&self.centre.books).all()
    }

    pub fn order(&self, order_id: i64) -> Option<BookedOrder> {
        lock(&self.centre.books).get(order_id)
    }

    /// Every callback attempt made, oldest first.
    pub fn callbacks(&self) -> Vec<CallbackAttempt> {
        lock(&self.centre.callbacks).clone()
    }

    /// Ships an open order now (without waiting for `ship_after`) and calls back. False when
    /// the order is not open.
    pub async fn ship_now(&self, order_id: i64) -> bool {
        callbacks::ship(&self.centre, order_id).await
    }

    /// Sets the centre's stock of `sku` (reported by [`Self::report_stock`]).
    pub fn set_stock(&self, sku: &str, quantity: i64) {
        lock(&self.centre.stock).insert(sku.to_owned(), quantity);
    }

    /// Reports every stock level to switchyard, one callback per SKU; returns the final
    /// status of each (`None` when no answer came).
    pub async fn report_stock(&self) -> BTreeMap<String, Option<u16>> {
        let levels = lock(&self.centre.stock).clone();
        let mut out = BTreeMap::new();
        for (sku, quantity) in levels {
            let status = callbacks::report_stock(&self.centre, &sku, quantity).await;
            out.insert(sku, status);
        }
        out
    }

    /// Stops serving and cancels pending shipments and hung requests.
    pub async fn shutdown(mut self) {
        self.centre.shutdown.cancel();
        if let Some(server) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
        }
    }
}

impl Drop for FulfilmentCentreHandle {
    fn drop(&mut self) {
        self.centre.shutdown.cancel();
    }
}
