//! The guarded HTTP client: the only way switchyard calls out (sales channels, webhooks, plugins,
//! and every client added later), so each call gets the same protections:
//!
//! - the SSRF guard as the DNS resolver, and IP-literal URLs checked before sending, so a target
//!   resolving to a private, loopback or link-local address is never connected to unless
//!   `outbound.allow_cidrs` admits it;
//! - no redirects (a redirect would carry credentials or a signed body somewhere the guard never
//!   saw) and no environment proxies (they would connect to an address the guard did not check);
//! - a connect timeout and a timeout on the whole call, body included;
//! - a cap on the answer's body: a body over it is an error of the call, read no further, so no
//!   answer can make the process hold more than the cap.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, CONTENT_LENGTH};
use reqwest::{Method, StatusCode};

use super::ssrf::{GuardedResolver, SsrfError, SsrfGuard};

/// How a guarded client behaves; each kind of outbound call has its own (`[connectors]`,
/// `[webhooks]`), all sharing `outbound.allow_cidrs`.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientSettings {
    /// Longest to wait for a TCP (and TLS) connection.
    pub connect_timeout: Duration,
    /// Longest one call may take from sending to the last byte of the body: what turns a hung
    /// peer into an error instead of a stuck worker.
    pub request_timeout: Duration,
    /// Largest answer body read; a larger one fails the call.
    pub max_response_bytes: usize,
    /// The addresses the client may reach beside public ones.
    pub guard: SsrfGuard,
}

impl Default for ClientSettings {
    /// Strict: no internal address is reachable.
    fn default() -> Self {
        ClientSettings {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            max_response_bytes: 32 * 1024 * 1024,
            guard: SsrfGuard::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    /// The target resolves only to addresses the guard refuses.
    #[error(transparent)]
    Refused(#[from] SsrfError),
    /// The answer's body is larger than the client reads.
    #[error("the answer is larger than the {limit} bytes accepted")]
    TooLarge { limit: usize },
    #[error("timed out{0}")]
    Timeout(String),
    #[error("could not connect{0}")]
    Connect(String),
    /// Any other failure of the exchange (a dropped connection, a malformed answer).
    #[error("request failed{0}")]
    Failed(String),
    #[error("the HTTP client could not be built: {0}")]
    Build(String),
}

/// An answer read to its end (within the cap).
#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// See the module documentation. Cheap to clone: clones share one connection pool.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    guard: Arc<SsrfGuard>,
    max_response_bytes: usize,
}

impl Client {
    pub fn new(settings: &ClientSettings, user_agent: &str) -> Result<Client, OutboundError> {
        let guard = Arc::new(settings.guard.clone());
        let http = reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver::new(guard.clone())))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.request_timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .user_agent(user_agent)
            .build()
            .map_err(|e| OutboundError::Build(e.without_url().to_string()))?;
        Ok(Client {
            http,
            guard,
            max_response_bytes: settings.max_response_bytes,
        })
    }

    pub fn guard(&self) -> &SsrfGuard {
        &self.guard
    }

    /// A request to build and hand to [`Client::execute`].
    pub fn request(&self, method: Method, url: url::Url) -> reqwest::RequestBuilder {
        self.http.request(method, url)
    }

    /// Sends `request` to a target the guard admits and reads the answer, at most
    /// `max_response_bytes` of it.
    pub async fn execute(&self, request: reqwest::Request) -> Result<Response, OutboundError> {
        // IP literals never reach the resolver, so they are checked here.
        self.guard.check_url(request.url())?;
        let mut response = self.http.execute(request).await.map_err(send_error)?;
        let limit = self.max_response_bytes;
        let declared = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > limit as u64) {
            return Err(OutboundError::TooLarge { limit });
        }
        let mut body = Vec::with_capacity(declared.map_or(0, |len| len as usize));
        while let Some(chunk) = response.chunk().await.map_err(send_error)? {
            if body.len() + chunk.len() > limit {
                return Err(OutboundError::TooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Response {
            status: response.status(),
            headers: response.headers().clone(),
            body,
        })
    }
}

/// Sorts a reqwest failure, naming its causes (the refused address, the timeout) but never the
/// URL, which may carry credentials (signed WooCommerce URLs do).
fn send_error(err: reqwest::Error) -> OutboundError {
    let mut causes = String::new();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<SsrfError>() {
            return OutboundError::Refused(refused.clone());
        }
        causes.push_str(": ");
        causes.push_str(&cause.to_string());
        source = cause.source();
    }
    if err.is_timeout() {
        OutboundError::Timeout(causes)
    } else if err.is_connect() {
        OutboundError::Connect(causes)
    } else {
        OutboundError::Failed(causes)
    }
}
