//! The user access token every Sell API call carries, bought with the seller's refresh token:
//! `POST /identity/v1/oauth2/token` with the app's keyset as HTTP Basic and
//! `grant_type=refresh_token`. eBay's tokens last two hours and the refresh token is not spent,
//! so one token is kept and shared by every call of the connector, bought again shortly before
//! it runs out (counting the wait a call has ahead of it in the throttle, so no call leaves with
//! a token that died while it queued) and once more if eBay refuses it early (a token can be
//! revoked, or the seller can grant the app anew).
//!
//! eBay limits refresh token grants per app per day, which is why the token is cached rather
//! than bought per call.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION};
use reqwest::{Method, StatusCode};
use tokio::sync::Mutex;
use tokio::time::Instant;
use url::Url;

use super::wire;
use crate::connectors::error::ConnectorError;
use crate::connectors::http::{self, RawResponse};
use crate::domain::Secret;
use crate::outbound::Client;

/// The scopes asked for: reading orders and recording shipments, reading and setting stock.
pub const SCOPES: &str =
    "https://api.ebay.com/oauth/api_scope/sell.fulfillment https://api.ebay.com/oauth/api_scope/sell.inventory";

/// The longest a token is bought ahead of its expiry (a tenth of its life for shorter ones).
const MAX_EARLY: Duration = Duration::from_secs(300);

/// `Retry-After` assumed when the token endpoint answers 429 without one.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(2);

/// A token in hand: the `Authorization` value to send, and when to buy the next.
#[derive(Debug)]
struct Issued {
    bearer: HeaderValue,
    renew_at: Instant,
}

/// The refresh token grant of one seller and the token it last bought.
#[derive(Debug)]
pub struct UserToken {
    client: Client,
    endpoint: Url,
    /// `Basic base64(client_id:client_secret)`, marked sensitive.
    basic: HeaderValue,
    refresh_token: Secret,
    /// Held while a token is bought, so callers arriving meanwhile wait for that one.
    issued: Mutex<Option<Issued>>,
}

impl UserToken {
    pub fn new(
        client: Client,
        endpoint: Url,
        client_id: &Secret,
        client_secret: &Secret,
        refresh_token: Secret,
    ) -> Result<UserToken, ConnectorError> {
        let pair = format!("{}:{}", client_id.expose(), client_secret.expose());
        let basic = http::secret_header(&format!("Basic {}", STANDARD.encode(pair)), "client id")?;
        Ok(UserToken {
            client,
            endpoint,
            basic,
            refresh_token,
            issued: Mutex::new(None),
        })
    }

    /// The `Authorization` value for a call that will be sent within `sent_within` (its wait for
    /// a turn in the throttle): the token in hand if it is still good then, else a new one.
    pub async fn bearer(&self, sent_within: Duration) -> Result<HeaderValue, ConnectorError> {
        let mut issued = self.issued.lock().await;
        if let Some(token) = issued.as_ref() {
            if Instant::now() + sent_within < token.renew_at {
                return Ok(token.bearer.clone());
            }
        }
        let token = self.grant().await?;
        let bearer = token.bearer.clone();
        *issued = Some(token);
        Ok(bearer)
    }

    /// Drops `bearer`, which eBay refused, unless another caller has already replaced it.
    pub async fn refused(&self, bearer: &HeaderValue) {
        let mut issued = self.issued.lock().await;
        if issued.as_ref().is_some_and(|t| t.bearer == *bearer) {
            *issued = None;
        }
    }

    async fn grant(&self) -> Result<Issued, ConnectorError> {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", self.refresh_token.expose()),
            ("scope", SCOPES),
        ];
        let request = self
            .client
            .request(Method::POST, self.endpoint.clone())
            .header(AUTHORIZATION, self.basic.clone())
            .header(ACCEPT, "application/json")
            .form(&form)
            .build()
            .map_err(|e| {
                ConnectorError::Invalid(format!("eBay token request: {}", e.without_url()))
            })?;
        let sent = Instant::now();
        let raw = self.client.execute(request).await?;
        if !raw.status.is_success() {
            return Err(refusal(&raw));
        }
        let answer: wire::TokenAnswer = http::parse_json(&raw.body, "eBay token answer")?;
        let lifetime = Duration::from_secs(answer.expires_in);
        let bearer = http::secret_header(
            &format!("Bearer {}", answer.access_token),
            "eBay access token",
        )?;
        Ok(Issued {
            bearer,
            renew_at: sent + lifetime - (lifetime / 10).min(MAX_EARLY),
        })
    }
}

/// A refused grant as an error: wrong keyset or refresh token (or one without the scopes) are the
/// credentials' fault and permanent; anything else is sorted by its status.
fn refusal(raw: &RawResponse) -> ConnectorError {
    if raw.status == StatusCode::TOO_MANY_REQUESTS {
        return ConnectorError::RateLimited {
            retry_after: http::retry_after(&raw.headers).unwrap_or(DEFAULT_RETRY_AFTER),
            message: "too many eBay token requests".into(),
        };
    }
    let Ok(refused) = serde_json::from_slice::<wire::TokenRefusal>(&raw.body) else {
        let snippet = http::body_snippet(&raw.body);
        return http::status_error(raw.status, format!("eBay token endpoint: {snippet}"));
    };
    let message = match &refused.error_description {
        Some(description) => format!("{}: {description}", refused.error),
        None => refused.error.clone(),
    };
    match refused.error.as_str() {
        "invalid_client" | "invalid_grant" | "invalid_scope" | "unauthorized_client" => {
            ConnectorError::Auth {
                status: raw.status.as_u16(),
                message,
            }
        }
        _ => http::status_error(raw.status, message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderMap;

    fn answer(status: u16, body: &str) -> RawResponse {
        RawResponse {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT),
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn credential_refusals_are_auth_errors_and_the_rest_keep_their_kind() {
        let grant = answer(
            400,
            r#"{"error":"invalid_grant","error_description":"the provided authorization refresh token is invalid or was issued to another client"}"#,
        );
        assert!(
            matches!(refusal(&grant), ConnectorError::Auth { status: 400, message } if message.starts_with("invalid_grant: the provided")),
        );
        let client = answer(
            401,
            r#"{"error":"invalid_client","error_description":"client authentication failed"}"#,
        );
        assert!(matches!(
            refusal(&client),
            ConnectorError::Auth { status: 401, .. }
        ));
        let unsupported = answer(400, r#"{"error":"unsupported_grant_type"}"#);
        assert!(matches!(
            refusal(&unsupported),
            ConnectorError::Rejected { status: 400, .. }
        ));
        assert!(matches!(
            refusal(&answer(503, "<html>down</html>")),
            ConnectorError::Transient {
                status: Some(503),
                ..
            }
        ));
        assert!(matches!(
            refusal(&answer(429, "")),
            ConnectorError::RateLimited { retry_after, .. } if retry_after == DEFAULT_RETRY_AFTER
        ));
    }
}
