//! The OAuth 2.0 authorization-code grant as Xero and Sage speak it: the authorization URL the
//! merchant's browser is sent to, the code exchanged for tokens, the refresh, and the
//! organisation the grant reaches.
//!
//! Every host of a platform can be replaced by one base URL (a connection's `base_url`), under
//! which the sandbox's simulators serve the same paths as the real hosts.

use chrono::{Duration, Utc};
use reqwest::Method;
use serde::Deserialize;
use url::Url;

use crate::connectors::http::{api_root, RawResponse};
use crate::connectors::ConnectorError;
use crate::domain::accounting::{AccountingKind, ClientCredentials, RefreshFailure, Tokens};
use crate::domain::Secret;
use crate::outbound::{Client, OutboundError};

/// Where a platform's OAuth and API live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub authorize: Url,
    pub token: Url,
    /// Xero's connections list, or Sage's businesses: the organisations a grant reaches.
    pub organisations: Url,
    /// The root of the accounting API.
    pub api: Url,
    /// The scopes switchyard asks for.
    pub scope: &'static str,
}

impl Endpoints {
    /// The platform's own hosts, or every one of them under `base`.
    pub fn of(kind: AccountingKind, base: Option<&str>) -> Result<Endpoints, ConnectorError> {
        let platform = kind.name();
        let at = |real: &str, path: &str| api_root(platform, base.unwrap_or(real), path);
        Ok(match kind {
            AccountingKind::Xero => Endpoints {
                authorize: at("https://login.xero.com", "identity/connect/authorize")?,
                token: at("https://identity.xero.com", "connect/token")?,
                organisations: at("https://api.xero.com", "connections")?,
                api: at("https://api.xero.com", "api.xro/2.0")?,
                scope: "openid offline_access accounting.transactions accounting.contacts \
                        accounting.settings",
            },
            AccountingKind::Sage => Endpoints {
                authorize: at("https://www.sageone.com", "oauth2/auth/central")?,
                token: at("https://oauth.accounting.sage.com", "token")?,
                organisations: at("https://api.accounting.sage.com", "v3.1/businesses")?,
                api: at("https://api.accounting.sage.com", "v3.1")?,
                scope: "full_access",
            },
        })
    }

    /// The page the merchant's browser is sent to.
    pub fn authorize_url(
        &self,
        kind: AccountingKind,
        client: &ClientCredentials,
        redirect_uri: &str,
        state: &str,
    ) -> Url {
        let mut url = self.authorize.clone();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", client.client_id.expose())
                .append_pair("redirect_uri", redirect_uri)
                .append_pair("scope", self.scope)
                .append_pair("state", state);
            if kind == AccountingKind::Sage {
                // Sage's central sign-in serves several API generations; this asks for v3.1.
                q.append_pair("filter", "apiv3.1");
            }
        }
        url
    }
}

/// A token endpoint's answer (RFC 6749 section 5.1).
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    refresh_token: String,
    expires_in: i64,
}

/// A token endpoint's refusal (RFC 6749 section 5.2).
#[derive(Deserialize)]
struct TokenRefusal {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// One organisation a grant reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organisation {
    pub id: String,
    pub name: String,
}

/// The OAuth client of one platform.
#[derive(Clone)]
pub struct OAuth {
    kind: AccountingKind,
    endpoints: Endpoints,
    http: Client,
}

impl OAuth {
    pub fn new(kind: AccountingKind, endpoints: Endpoints, http: Client) -> OAuth {
        OAuth {
            kind,
            endpoints,
            http,
        }
    }

    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// Exchanges an authorization code for tokens.
    pub async fn exchange_code(
        &self,
        client: &ClientCredentials,
        code: &str,
        redirect_uri: &str,
    ) -> Result<Tokens, RefreshFailure> {
        self.token_call(
            client,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect_uri),
            ],
        )
        .await
    }

    /// Trades the refresh token for new tokens. The platforms rotate it: the one passed in is
    /// spent once this succeeds, and only the answered one works next time.
    pub async fn refresh(
        &self,
        client: &ClientCredentials,
        refresh_token: &Secret,
    ) -> Result<Tokens, RefreshFailure> {
        self.token_call(
            client,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token.expose()),
            ],
        )
        .await
    }

    async fn token_call(
        &self,
        client: &ClientCredentials,
        form: &[(&str, &str)],
    ) -> Result<Tokens, RefreshFailure> {
        // Xero takes the client by HTTP Basic; Sage takes it in the form. Each accepts its own.
        let mut req = self
            .http
            .request(Method::POST, self.endpoints.token.clone());
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        match self.kind {
            AccountingKind::Xero => {
                req = req.basic_auth(
                    client.client_id.expose(),
                    Some(client.client_secret.expose()),
                );
            }
            AccountingKind::Sage => {
                fields.push(("client_id", client.client_id.expose()));
                fields.push(("client_secret", client.client_secret.expose()));
            }
        }
        let req = req
            .header("accept", "application/json")
            .form(&fields)
            .build()
            .map_err(|e| RefreshFailure::Unavailable(e.to_string()))?;
        let res = self.http.execute(req).await.map_err(unavailable)?;
        token_answer(self.kind, &res)
    }

    /// The organisation the access token reaches: Xero's first connected organisation, Sage's
    /// first business.
    pub async fn organisation(&self, access: &Secret) -> Result<Organisation, ConnectorError> {
        let req = self
            .http
            .request(Method::GET, self.endpoints.organisations.clone())
            .bearer_auth(access.expose())
            .header("accept", "application/json")
            .build()
            .map_err(|e| ConnectorError::Invalid(e.to_string()))?;
        let res = self.http.execute(req).await?;
        if !res.status.is_success() {
            return Err(crate::connectors::http::status_error(
                res.status,
                String::from_utf8_lossy(&res.body)
                    .chars()
                    .take(300)
                    .collect(),
            ));
        }
        let body: serde_json::Value = serde_json::from_slice(&res.body)
            .map_err(|e| ConnectorError::Invalid(format!("organisations: {e}")))?;
        first_organisation(self.kind, &body).ok_or_else(|| {
            ConnectorError::Invalid(format!(
                "the {} grant reaches no organisation",
                self.kind.name()
            ))
        })
    }
}

fn unavailable(e: OutboundError) -> RefreshFailure {
    match e {
        // An address the guard refuses will not change on a retry.
        OutboundError::Refused(e) => RefreshFailure::Refused(format!("address refused: {e}")),
        e => RefreshFailure::Unavailable(e.to_string()),
    }
}

fn token_answer(kind: AccountingKind, res: &RawResponse) -> Result<Tokens, RefreshFailure> {
    if res.status.is_success() {
        let answer: TokenAnswer = serde_json::from_slice(&res.body).map_err(|e| {
            RefreshFailure::Unavailable(format!("{} token answer: {e}", kind.name()))
        })?;
        return Ok(Tokens {
            access_token: Secret::from(answer.access_token),
            refresh_token: Secret::from(answer.refresh_token),
            access_expires_at: Utc::now() + Duration::seconds(answer.expires_in.max(0)),
        });
    }
    let refusal: Option<TokenRefusal> = serde_json::from_slice(&res.body).ok();
    let said = refusal
        .as_ref()
        .map(|r| match &r.error_description {
            Some(d) => format!("{}: {d}", r.error),
            None => r.error.clone(),
        })
        .unwrap_or_else(|| {
            String::from_utf8_lossy(&res.body)
                .chars()
                .take(200)
                .collect()
        });
    let platform = kind.name();
    match (
        res.status.as_u16(),
        refusal.as_ref().map(|r| r.error.as_str()),
    ) {
        // The grant or the client is refused: asking again cannot help.
        (400 | 401, Some("invalid_grant" | "invalid_client" | "unauthorized_client")) => Err(
            RefreshFailure::Refused(format!("{platform} refused the grant ({said})")),
        ),
        (s, _) if s == 429 || s >= 500 => Err(RefreshFailure::Unavailable(format!(
            "{platform} token endpoint answered {s}: {said}"
        ))),
        (s, _) => Err(RefreshFailure::Refused(format!(
            "{platform} token endpoint answered {s}: {said}"
        ))),
    }
}

/// The first organisation of a Xero connections list or of Sage's businesses.
fn first_organisation(kind: AccountingKind, body: &serde_json::Value) -> Option<Organisation> {
    let text = |v: &serde_json::Value, k: &str| v.get(k)?.as_str().map(str::to_owned);
    match kind {
        AccountingKind::Xero => body.as_array()?.iter().find_map(|c| {
            let organisation = c.get("tenantType").and_then(|t| t.as_str()) == Some("ORGANISATION");
            organisation.then_some(())?;
            Some(Organisation {
                id: text(c, "tenantId")?,
                name: text(c, "tenantName").unwrap_or_default(),
            })
        }),
        AccountingKind::Sage => {
            // A plain array, or a page of `$items`.
            let items = body.as_array().or_else(|| body.get("$items")?.as_array())?;
            items.iter().find_map(|b| {
                Some(Organisation {
                    id: text(b, "id")?,
                    name: text(b, "name")
                        .or_else(|| text(b, "displayed_as"))
                        .unwrap_or_default(),
                })
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderMap;
    use reqwest::StatusCode;

    fn answer(status: u16, body: &str) -> RawResponse {
        RawResponse {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn the_real_hosts_or_one_base_for_every_one_of_them() {
        let real = Endpoints::of(AccountingKind::Xero, None).unwrap();
        assert_eq!(
            real.token.as_str(),
            "https://identity.xero.com/connect/token"
        );
        assert_eq!(real.api.as_str(), "https://api.xero.com/api.xro/2.0");
        let sim =
            Endpoints::of(AccountingKind::Sage, Some("http://127.0.0.1:9/sage/acme/")).unwrap();
        assert_eq!(sim.token.as_str(), "http://127.0.0.1:9/sage/acme/token");
        assert_eq!(
            sim.organisations.as_str(),
            "http://127.0.0.1:9/sage/acme/v3.1/businesses"
        );
        let client = ClientCredentials {
            client_id: Secret::from("id 1"),
            client_secret: Secret::from("s"),
        };
        let url = sim.authorize_url(AccountingKind::Sage, &client, "http://x/cb", "st");
        assert_eq!(
            url.query(),
            Some("response_type=code&client_id=id+1&redirect_uri=http%3A%2F%2Fx%2Fcb&scope=full_access&state=st&filter=apiv3.1")
        );
    }

    #[test]
    fn a_refused_grant_is_told_from_a_platform_that_could_not_answer() {
        let ok = token_answer(
            AccountingKind::Xero,
            &answer(
                200,
                r#"{"access_token":"a","refresh_token":"r","expires_in":1800,"token_type":"Bearer"}"#,
            ),
        )
        .unwrap();
        assert_eq!(ok.refresh_token.expose(), "r");
        assert!(ok.fresh_at(Utc::now()));
        assert!(matches!(
            token_answer(
                AccountingKind::Xero,
                &answer(400, r#"{"error":"invalid_grant"}"#)
            ),
            Err(RefreshFailure::Refused(m)) if m.contains("invalid_grant")
        ));
        assert!(matches!(
            token_answer(AccountingKind::Sage, &answer(503, "down")),
            Err(RefreshFailure::Unavailable(_))
        ));
        assert!(matches!(
            token_answer(AccountingKind::Sage, &answer(429, "")),
            Err(RefreshFailure::Unavailable(_))
        ));
    }

    #[test]
    fn the_organisation_is_the_first_one_the_grant_reaches() {
        let xero = serde_json::json!([
            {"id": "c1", "tenantId": "p1", "tenantType": "PRACTICEMANAGER", "tenantName": "PM"},
            {"id": "c2", "tenantId": "t2", "tenantType": "ORGANISATION", "tenantName": "Acme"}
        ]);
        assert_eq!(
            first_organisation(AccountingKind::Xero, &xero),
            Some(Organisation {
                id: "t2".into(),
                name: "Acme".into()
            })
        );
        let sage = serde_json::json!([{"id": "b1", "name": "Acme Ltd"}]);
        assert_eq!(
            first_organisation(AccountingKind::Sage, &sage).map(|o| o.id),
            Some("b1".into())
        );
        assert_eq!(
            first_organisation(AccountingKind::Xero, &serde_json::json!([])),
            None
        );
    }
}
