//! One call to a Sage business: through the connector's [`RateLimiter`], with the bearer token
//! and `X-Business`, a 429 waited out (its `Retry-After` holding every caller back) while the
//! call's budget lasts, and any other failure mapped onto [`ConnectorError`] with Sage's words.
//! 5xx and timeouts are not retried here: the queue's backoff is the one retry schedule, and a
//! create that timed out may have landed (the worker reconciles with `find_invoice`).

use std::time::Duration;

use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::time::Instant;
use url::Url;

use super::limiter::RateLimiter;
use super::wire::{self, Page};
use crate::connectors::http::{self, parse_json, RawResponse};
use crate::connectors::ConnectorError;
use crate::domain::Secret;
use crate::outbound::Client;

/// `Retry-After` assumed when a 429 comes without one.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(2);
/// Sage's largest page.
const PER_PAGE: &str = "200";

#[derive(Debug)]
pub struct Api {
    /// `.../v3.1`, to which resource paths are appended.
    root: Url,
    business: HeaderValue,
    client: Client,
    limiter: RateLimiter,
}

impl Api {
    pub fn new(root: Url, business: HeaderValue, client: Client, limiter: RateLimiter) -> Api {
        Api {
            root,
            business,
            client,
            limiter,
        }
    }

    fn url(&self, resource: &str, query: &[(&str, &str)]) -> Result<Url, ConnectorError> {
        let mut url = self.root.clone();
        url.path_segments_mut()
            .map_err(|_| ConnectorError::Invalid("the Sage API URL cannot take a path".into()))?
            .pop_if_empty()
            .push(resource);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    /// `POST /{resource}` with a JSON body, its answer parsed as `T`.
    pub async fn post<T: DeserializeOwned>(
        &self,
        access: &Secret,
        resource: &str,
        body: &Value,
    ) -> Result<T, ConnectorError> {
        let url = self.url(resource, &[])?;
        let raw = self.send(access, Method::POST, url, Some(body)).await?;
        parse_json(&raw.body, resource)
    }

    /// Every item of `GET /{resource}?{query}`, page by page, at most `max_pages` pages: a
    /// filter that matches more is refused rather than answered in part.
    pub async fn list<T: DeserializeOwned>(
        &self,
        access: &Secret,
        resource: &str,
        query: &[(&str, &str)],
        max_pages: usize,
    ) -> Result<Vec<T>, ConnectorError> {
        let mut items = Vec::new();
        for page in 1..=max_pages {
            let page = page.to_string();
            let mut q = query.to_vec();
            q.extend([("items_per_page", PER_PAGE), ("page", page.as_str())]);
            let url = self.url(resource, &q)?;
            let raw = self.send(access, Method::GET, url, None).await?;
            let answer: Page<T> = parse_json(&raw.body, resource)?;
            items.extend(answer.items);
            if answer.next.is_none() {
                return Ok(items);
            }
        }
        Err(ConnectorError::Invalid(format!(
            "{resource} matching {query:?} run past {max_pages} pages of {PER_PAGE}"
        )))
    }

    async fn send(
        &self,
        access: &Secret,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<RawResponse, ConnectorError> {
        let bearer = http::secret_header(&format!("Bearer {}", access.expose()), "access token")?;
        let limits = self.limiter.limits();
        let deadline = Instant::now() + limits.max_wait;
        let mut throttled = 0u32;
        loop {
            let mut request = self
                .client
                .request(method.clone(), url.clone())
                .header(AUTHORIZATION, bearer.clone())
                .header("X-Business", self.business.clone())
                .header(ACCEPT, "application/json");
            if let Some(body) = body {
                request = request.json(body);
            }
            let request = request.build().map_err(|e| {
                ConnectorError::Invalid(format!("{} {}: {}", method, url.path(), e.without_url()))
            })?;
            let slot = self.limiter.acquire(deadline).await?;
            let answer = self.client.execute(request).await;
            drop(slot);
            let raw = answer?;
            if raw.status.is_success() {
                return Ok(raw);
            }
            let message = wire::error_message(&raw.body).unwrap_or_else(|| {
                let snippet = http::body_snippet(&raw.body);
                if snippet.is_empty() {
                    raw.status.to_string()
                } else {
                    format!("{}: {snippet}", raw.status)
                }
            });
            if raw.status != StatusCode::TOO_MANY_REQUESTS {
                return Err(http::status_error(raw.status, message));
            }
            let wait = http::retry_after(&raw.headers).unwrap_or(DEFAULT_RETRY_AFTER);
            self.limiter.pause(wait);
            throttled += 1;
            if throttled > limits.max_429_retries || Instant::now() + wait > deadline {
                tracing::warn!(
                    path = url.path(),
                    ?wait,
                    throttled,
                    "Sage rate limit: handing the wait to the queue"
                );
                return Err(ConnectorError::RateLimited {
                    retry_after: wait,
                    message,
                });
            }
            tracing::info!(
                path = url.path(),
                ?wait,
                "Sage answered 429; waiting its Retry-After"
            );
        }
    }
}
