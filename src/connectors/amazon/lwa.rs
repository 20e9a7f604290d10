//! Login with Amazon: the seller's refresh token traded at `POST /auth/o2/token` for access tokens
//! (an hour each), one at a time, kept and traded again shortly before it expires. Every task
//! calling the seller shares the one token; a token Amazon refused is traded once more
//! ([`Lwa::renew`]) unless another task already did.
//!
//! LWA's refresh tokens neither expire nor rotate, so nothing the exchange answers needs keeping
//! beyond the access token.

use std::time::Duration;

use reqwest::header::HeaderValue;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;
use url::Url;

use crate::connectors::error::ConnectorError;
use crate::connectors::http::{self, RawResponse};
use crate::domain::Secret;
use crate::outbound::Client;

/// A token is traded again this long before it expires at the latest, so a call never carries
/// one that runs out on the way.
const RENEW_BEFORE: Duration = Duration::from_secs(60);

/// The app's client and the seller's authorization of it.
#[derive(Debug)]
pub struct Grant {
    pub client_id: Secret,
    pub client_secret: Secret,
    pub refresh_token: Secret,
}

#[derive(Debug)]
struct AccessToken {
    header: HeaderValue,
    renew_at: Instant,
}

/// One seller's access tokens.
#[derive(Debug)]
pub struct Lwa {
    endpoint: Url,
    grant: Grant,
    http: Client,
    /// Held across an exchange, so concurrent callers wait for one exchange rather than each
    /// making their own.
    token: Mutex<Option<AccessToken>>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: u64,
}

#[derive(Deserialize)]
struct TokenRefusal {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

impl Lwa {
    pub fn new(endpoint: Url, grant: Grant, http: Client) -> Lwa {
        Lwa {
            endpoint,
            grant,
            http,
            token: Mutex::new(None),
        }
    }

    /// The access token to call with: the one held while it is fresh, else a new one.
    pub async fn token(&self) -> Result<HeaderValue, ConnectorError> {
        let mut held = self.token.lock().await;
        if let Some(token) = held.as_ref().filter(|t| Instant::now() < t.renew_at) {
            return Ok(token.header.clone());
        }
        let fresh = self.exchange().await?;
        let header = fresh.header.clone();
        *held = Some(fresh);
        Ok(header)
    }

    /// A token to replace `refused`, which Amazon turned down (expired early, or revoked): a new
    /// one, unless another caller has already replaced it.
    pub async fn renew(&self, refused: &HeaderValue) -> Result<HeaderValue, ConnectorError> {
        let mut held = self.token.lock().await;
        if let Some(token) = held
            .as_ref()
            .filter(|t| t.header != *refused && Instant::now() < t.renew_at)
        {
            return Ok(token.header.clone());
        }
        let fresh = self.exchange().await?;
        let header = fresh.header.clone();
        *held = Some(fresh);
        Ok(header)
    }

    async fn exchange(&self) -> Result<AccessToken, ConnectorError> {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", self.grant.refresh_token.expose()),
            ("client_id", self.grant.client_id.expose()),
            ("client_secret", self.grant.client_secret.expose()),
        ];
        let request = self
            .http
            .request(Method::POST, self.endpoint.clone())
            .header("Accept", "application/json")
            .form(&form)
            .build()
            .map_err(|e| {
                ConnectorError::Invalid(format!("LWA token request: {}", e.without_url()))
            })?;
        let sent_at = Instant::now();
        let answer = self.http.execute(request).await?;
        let token = token_answer(&answer)?;
        let lifetime = Duration::from_secs(token.expires_in);
        // A quarter of the lifetime early when that is sooner, so a short-lived token is still
        // used more than once.
        let early = RENEW_BEFORE.min(lifetime / 4);
        Ok(AccessToken {
            header: http::secret_header(&token.access_token, "LWA access token")?,
            renew_at: sent_at + lifetime - early,
        })
    }
}

/// The token in a token endpoint's answer, or the error its refusal stands for.
fn token_answer(answer: &RawResponse) -> Result<TokenAnswer, ConnectorError> {
    if answer.status.is_success() {
        return http::parse_json(&answer.body, "LWA token answer");
    }
    let status = answer.status;
    let refusal: Option<TokenRefusal> = serde_json::from_slice(&answer.body).ok();
    let said = match &refusal {
        Some(TokenRefusal {
            error,
            error_description: Some(description),
        }) => format!("{error}: {description}"),
        Some(r) => r.error.clone(),
        None => http::body_snippet(&answer.body),
    };
    let message = format!("Login with Amazon refused the token exchange ({said})");
    let refused_grant = refusal.as_ref().is_some_and(|r| {
        matches!(
            r.error.as_str(),
            "invalid_grant" | "invalid_client" | "unauthorized_client"
        )
    });
    if refused_grant {
        return Err(ConnectorError::Auth {
            status: status.as_u16(),
            message,
        });
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        return Err(ConnectorError::RateLimited {
            retry_after: http::retry_after(&answer.headers).unwrap_or(Duration::from_secs(1)),
            message,
        });
    }
    Err(http::status_error(status, message))
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
    fn a_refused_grant_is_an_auth_error_and_an_outage_is_not() {
        let ok = token_answer(&answer(
            200,
            r#"{"access_token":"Atza|1","refresh_token":"Atzr|1","token_type":"bearer","expires_in":3600}"#,
        ));
        assert!(ok.is_ok_and(|t| t.access_token == "Atza|1" && t.expires_in == 3600));
        let grant = token_answer(&answer(
            400,
            r#"{"error":"invalid_grant","error_description":"The request has an invalid grant parameter : refresh_token"}"#,
        ));
        let grant = grant.err();
        assert!(
            matches!(&grant, Some(ConnectorError::Auth { status: 400, message })
                if message.contains("invalid_grant: The request has an invalid grant")),
            "{grant:?}"
        );
        let client = token_answer(&answer(401, r#"{"error":"invalid_client"}"#));
        assert!(matches!(
            client,
            Err(ConnectorError::Auth { status: 401, .. })
        ));
        assert!(matches!(
            token_answer(&answer(503, "<html>down</html>")),
            Err(ConnectorError::Transient {
                status: Some(503),
                ..
            })
        ));
        assert!(matches!(
            token_answer(&answer(429, "")),
            Err(ConnectorError::RateLimited { .. })
        ));
        assert!(matches!(
            token_answer(&answer(200, r#"{"access_token":"Atza|1""#)),
            Err(ConnectorError::Malformed(_))
        ));
    }
}
