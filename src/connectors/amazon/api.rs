//! One seller's SP-API endpoint on the wire: the access token in `x-amz-access-token`, each
//! operation through its own throttle ([`plans`]), and SP-API's error envelope read into the
//! message errors carry.
//!
//! Amazon answers 403 `Unauthorized` alike for a token that expired early, one it no longer
//! knows, and a call the app's roles do not cover; only a fresh token tells them apart. So a 403
//! trades the token once more and sends the call again, once: a second 403 is the credentials'
//! fault.

use std::sync::Arc;

use reqwest::header::HeaderValue;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use url::Url;

use super::lwa::Lwa;
use super::plans::{self, Operation, UsagePlans};
use crate::connectors::error::ConnectorError;
use crate::connectors::http::{self, RawResponse};
use crate::connectors::throttle::{Throttle, ThrottleSettings};
use crate::connectors::transport::Transport;
use crate::outbound::Client;

/// A client of one seller's SP-API endpoint.
#[derive(Debug)]
pub struct SpApi {
    /// The endpoint's root, with a trailing slash.
    root: Url,
    lwa: Lwa,
    /// One per [`Operation`], in [`Operation::ALL`]'s order.
    transports: Vec<Transport>,
}

/// The Orders API's envelope: `payload` on success, `errors` otherwise.
#[derive(Deserialize)]
struct Envelope<T> {
    payload: Option<T>,
}

impl SpApi {
    pub fn new(
        root: Url,
        lwa: Lwa,
        http: Client,
        plans: &UsagePlans,
        settings: &ThrottleSettings,
    ) -> SpApi {
        let transports = Operation::ALL
            .iter()
            .map(|op| {
                let plan = plans.of(*op);
                let throttle = Throttle::leaky_bucket(ThrottleSettings {
                    leak_per_second: plan.rate,
                    assumed_capacity: plan.burst,
                    headroom: 0,
                    ..settings.clone()
                });
                Transport::new(http.clone(), Arc::new(throttle), error_message)
                    .reading_rate(plans::stated_rate)
            })
            .collect();
        SpApi {
            root,
            lwa,
            transports,
        }
    }

    /// The throttle of one operation.
    pub fn throttle(&self, op: Operation) -> &Arc<Throttle> {
        self.transports[op.index()].throttle()
    }

    /// The endpoint's `segments` (each percent-encoded, so a SKU with a slash stays one segment)
    /// with `query`.
    pub fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        let mut url = self.root.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// Sends `op` to `url` with a live access token, once more with a fresh one after a 403.
    pub async fn call(
        &self,
        op: Operation,
        method: Method,
        url: &Url,
        body: Option<&serde_json::Value>,
    ) -> Result<RawResponse, ConnectorError> {
        let token = self.lwa.token().await?;
        match self.send(op, &method, url, body, &token).await {
            Err(ConnectorError::Auth { status: 403, .. }) => {
                let fresh = self.lwa.renew(&token).await?;
                tracing::debug!(call = op.name(), "SP-API refused the token; sent again");
                self.send(op, &method, url, body, &fresh).await
            }
            other => other,
        }
    }

    async fn send(
        &self,
        op: Operation,
        method: &Method,
        url: &Url,
        body: Option<&serde_json::Value>,
        token: &HeaderValue,
    ) -> Result<RawResponse, ConnectorError> {
        self.transports[op.index()]
            .send_json(op.name(), body, || {
                self.transports[op.index()]
                    .client()
                    .request(method.clone(), url.clone())
                    .header("x-amz-access-token", token.clone())
            })
            .await
    }

    /// An Orders API GET: its `payload` read as `T`.
    pub async fn payload<T: DeserializeOwned>(
        &self,
        op: Operation,
        url: &Url,
    ) -> Result<T, ConnectorError> {
        let raw = self.call(op, Method::GET, url, None).await?;
        let envelope: Envelope<T> = http::parse_json(&raw.body, op.name())?;
        envelope.payload.ok_or_else(|| {
            ConnectorError::Malformed(format!("{}: an answer without a payload", op.name()))
        })
    }

    /// A Listings Items call: its answer read as `T`.
    pub async fn read<T: DeserializeOwned>(
        &self,
        op: Operation,
        method: Method,
        url: &Url,
        body: Option<&serde_json::Value>,
    ) -> Result<T, ConnectorError> {
        let raw = self.call(op, method, url, body).await?;
        http::parse_json(&raw.body, op.name())
    }
}

/// SP-API's error body, `{"errors": [{"code", "message", "details"}]}`, as one message: each
/// error's message, code and details.
pub fn error_message(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Errors {
        errors: Vec<Error>,
    }
    #[derive(Deserialize)]
    struct Error {
        code: String,
        #[serde(default)]
        message: String,
        #[serde(default)]
        details: Option<String>,
    }
    let errors: Errors = serde_json::from_slice(body).ok()?;
    let said: Vec<String> = errors
        .errors
        .iter()
        .map(|e| match e.details.as_deref().map(str::trim) {
            Some(details) if !details.is_empty() => {
                format!("{} [{}]: {details}", e.message, e.code)
            }
            _ => format!("{} [{}]", e.message, e.code),
        })
        .collect();
    (!said.is_empty()).then(|| said.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sp_api_errors_keep_message_code_and_details() {
        let body = br#"{"errors":[{"code":"InvalidInput","message":"Invalid MarketplaceId: X","details":""}]}"#;
        assert_eq!(
            error_message(body).as_deref(),
            Some("Invalid MarketplaceId: X [InvalidInput]")
        );
        let two = br#"{"errors":[{"code":"A","message":"first","details":"why"},{"code":"B","message":"second"}]}"#;
        assert_eq!(
            error_message(two).as_deref(),
            Some("first [A]: why; second [B]")
        );
        assert_eq!(error_message(br#"{"errors":[]}"#), None);
        assert_eq!(error_message(b"<html>"), None);
    }
}
