//! `/v1/accounting-connections`: a store's organisation on Xero or Sage, and the OAuth 2.0
//! authorization that connects it.
//!
//! A connection is created with the OAuth app's client id and secret (sealed, never answered)
//! and waits for the merchant: `GET /v1/accounting-connections/{id}/authorize` answers the
//! platform's authorization page as a redirect; the platform sends the merchant's browser back to
//! `/v1/accounting-connections/callback` (see [`callback`]) with a code switchyard exchanges for
//! the grant's tokens.

use axum::extract::{Path, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::extract::{ApiJson, ApiQuery};
use super::tenant::{
    check_name, created, credentials_key, db, found, Account, Page, StorePageQuery,
};
use super::AppState;
use crate::api::error::{field, AppError};
use crate::connectors::accounting::{Endpoints, OAuth};
use crate::domain::accounting::{AccountingKind, AccountingSettings, ClientCredentials};
use crate::outbound::target::{self, Query};
use crate::outbound::SsrfGuard;
use crate::store::accounting::{self, ConnectionRow, NewConnection};
use crate::store::{stores, StoreError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/accounting-connections", get(list).post(create))
        .route("/accounting-connections/{id}", get(read).delete(remove))
        .route("/accounting-connections/{id}/authorize", get(authorize))
}

/// Where the platform sends the merchant back, under `server.public_url`.
pub const CALLBACK_PATH: &str = "/v1/accounting-connections/callback";

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "store_id": 12, "kind": "xero", "name": "Acme Outdoor Ltd",
    "client": {"client_id": "8F2D1C0B9A8E4F7D", "client_secret": "zq3LwY8mN2pR5tV7xA9cE1gH4jK6"},
    "settings": {"invoice_status": "authorised", "sales_account_code": "200"}
}))]
struct CreateConnection {
    /// A store of the account.
    store_id: i64,
    kind: AccountingKind,
    /// 1 to 200 characters (spaces at either end are dropped).
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    name: String,
    /// Where the platform is reached, for a platform served elsewhere than its own hosts (the
    /// sandbox's simulators); left out for the real platform. It must not point into a private
    /// network unless the outbound allow-list says so.
    #[serde(default)]
    base_url: Option<String>,
    /// The OAuth app registered with the platform, whose redirect URI is
    /// `{server.public_url}/v1/accounting-connections/callback`.
    client: ClientCredentials,
    /// Keys left out take their defaults.
    #[serde(default)]
    settings: Option<AccountingSettings>,
}

/// Where to send the merchant to authorize the connection.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"authorize_url": "https://login.xero.com/identity/connect/authorize?response_type=code&client_id=8F2D1C0B9A8E4F7D&redirect_uri=https%3A%2F%2Fswitchyard.example.com%2Fv1%2Faccounting-connections%2Fcallback&scope=openid+offline_access+accounting.transactions+accounting.contacts+accounting.settings&state=Hq3v4b9Qm1sX7kLz0pW2eR5tY8uI6oA3dF1gJ4hK7lM", "expires_in": 900}))]
struct AuthorizeAnswer {
    /// The platform's authorization page, carrying a single-use `state`.
    authorize_url: String,
    /// Seconds the `state` stays valid.
    expires_in: i64,
}

fn not_found(id: i64) -> AppError {
    AppError::NotFound(format!("accounting connection {id}"))
}

/// Create an accounting connection, awaiting the merchant's authorization.
///
/// Nothing is asked of the platform yet: the client credentials are checked when the code is
/// exchanged, after the merchant authorized.
#[utoipa::path(
    post, path = "/v1/accounting-connections", operation_id = "createAccountingConnection",
    tag = "Accounting",
    request_body = CreateConnection,
    responses(
        (status = 201, description = "Created, `awaiting_authorization`", body = ConnectionRow,
         headers(("location" = String, description = "`/v1/accounting-connections/{id}`"))),
    ),
)]
async fn create(
    State(state): State<AppState>,
    Account(account): Account,
    ApiJson(body): ApiJson<CreateConnection>,
) -> Result<Response, AppError> {
    let pool = db(&state)?;
    let name = check_name(&body.name)?;
    let base_url = match &body.base_url {
        Some(text) => {
            let guard = SsrfGuard::from_settings(&state.settings.outbound);
            let url = target::check(text, &guard, Query::Refused)
                .map_err(|why| field(format!("`base_url` {why}"), "base_url"))?;
            Some(url.as_str().trim_end_matches('/').to_owned())
        }
        None => None,
    };
    body.client.validate()?;
    let settings = body.settings.unwrap_or_default();
    settings.validate()?;
    if stores::get(pool, account, body.store_id).await?.is_none() {
        return Err(field(
            format!("store {} does not exist in this account", body.store_id),
            "store_id",
        ));
    }
    let new = NewConnection {
        store_id: body.store_id,
        kind: body.kind,
        name,
        base_url: base_url.as_deref(),
        client: &body.client,
        settings: &settings,
    };
    let connection = accounting::create(pool, &credentials_key(&state)?, account, &new)
        .await
        .map_err(|e| match e {
            StoreError::MissingParent(_) => field(
                format!("store {} does not exist in this account", body.store_id),
                "store_id",
            ),
            other => other.into(),
        })?;
    Ok(created(
        format!("/v1/accounting-connections/{}", connection.id),
        connection,
    ))
}

/// List the account's accounting connections, oldest first.
#[utoipa::path(
    get, path = "/v1/accounting-connections", operation_id = "listAccountingConnections",
    tag = "Accounting",
    params(StorePageQuery),
    responses((status = 200, description = "A page of connections", body = Page<ConnectionRow>)),
)]
async fn list(
    State(state): State<AppState>,
    Account(account): Account,
    ApiQuery(q): ApiQuery<StorePageQuery>,
) -> Result<Response, AppError> {
    let page = q.page()?;
    let rows =
        accounting::list(db(&state)?, account, q.store_id, page.cursor, page.fetch()).await?;
    Ok(page.of(rows, |c| c.id).into_response())
}

/// Read an accounting connection (never its credentials or tokens).
#[utoipa::path(
    get, path = "/v1/accounting-connections/{id}", operation_id = "getAccountingConnection",
    tag = "Accounting",
    params(("id" = i64, Path, description = "The connection's id")),
    responses((status = 200, description = "The connection", body = ConnectionRow)),
)]
async fn read(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    found(accounting::get(db(&state)?, account, id).await?, || {
        not_found(id)
    })
}

/// Delete an accounting connection and forget its grant.
///
/// The grant is not revoked on the platform; the merchant removes the app there if they wish.
#[utoipa::path(
    delete, path = "/v1/accounting-connections/{id}", operation_id = "deleteAccountingConnection",
    tag = "Accounting",
    params(("id" = i64, Path, description = "The connection's id")),
    responses((status = 204, description = "Deleted")),
)]
async fn remove(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    if accounting::delete(db(&state)?, account, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found(id))
    }
}

/// The redirect URI the platforms send the merchant back to.
fn redirect_uri(state: &AppState) -> String {
    format!(
        "{}{CALLBACK_PATH}",
        state.settings.server.public_url.trim_end_matches('/')
    )
}

/// Start the platform's authorization of a connection.
///
/// Answers a redirect to the platform's authorization page, where the merchant signs in and
/// grants access, and the same address in the body for callers that pass it on. The page
/// carries a random single-use `state`, valid for 15 minutes; the platform sends the merchant
/// back to `/v1/accounting-connections/callback`, which completes the connection. Authorizing a
/// connection again (after `needs_reauth`, or to move it to another organisation) works the same.
#[utoipa::path(
    get, path = "/v1/accounting-connections/{id}/authorize",
    operation_id = "authorizeAccountingConnection", tag = "Accounting",
    params(("id" = i64, Path, description = "The connection's id")),
    responses(
        (status = 302, description = "To the platform's authorization page", body = AuthorizeAnswer,
         headers(("location" = String, description = "The platform's authorization page"))),
    ),
)]
async fn authorize(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let pool = db(&state)?;
    let key = credentials_key(&state)?;
    let connection = accounting::get(pool, account, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let client = accounting::client(pool, &key, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let endpoints = endpoints(&connection)?;
    let redirect = redirect_uri(&state);
    let auth_state = accounting::begin_authorization(pool, account, id, &redirect)
        .await?
        .ok_or_else(|| not_found(id))?;
    let url = endpoints.authorize_url(connection.kind, &client, &redirect, &auth_state);
    let mut res = (
        StatusCode::FOUND,
        Json(AuthorizeAnswer {
            authorize_url: url.to_string(),
            expires_in: accounting::AUTHORIZATION_TTL.num_seconds(),
        }),
    )
        .into_response();
    let location = HeaderValue::from_str(url.as_str())
        .map_err(|_| AppError::invalid("the authorization URL is not a header value", None))?;
    res.headers_mut().insert(LOCATION, location);
    Ok(res)
}

fn endpoints(connection: &ConnectionRow) -> Result<Endpoints, AppError> {
    Endpoints::of(connection.kind, connection.base_url.as_deref())
        .map_err(|e| field(e.to_string(), "base_url"))
}

/// The OAuth client of a connection, on the guarded outbound client.
pub(super) fn oauth(state: &AppState, connection: &ConnectionRow) -> Result<OAuth, AppError> {
    let http = crate::connectors::http::client(state.connectors.http())
        .map_err(|e| AppError::invalid(e.to_string(), None))?;
    Ok(OAuth::new(connection.kind, endpoints(connection)?, http))
}

/// The routes the platforms call back on: no token, each proven by its single-use `state`.
pub mod callback {
    use axum::extract::State;
    use axum::http::StatusCode;
    use axum::response::Response;
    use axum::routing::get;
    use axum::Router;
    use serde::Deserialize;

    use super::super::dashboard::Page;
    use super::super::extract::ApiQuery;
    use super::super::tenant::{credentials_key, db};
    use super::{oauth, AppState};
    use crate::api::error::AppError;
    use crate::api::hosted;
    use crate::domain::accounting::RefreshFailure;
    use crate::store::accounting;
    use crate::store::hosted_pages::{self, PageStatus};

    pub fn router() -> Router<AppState> {
        Router::new().route("/accounting-connections/callback", get(callback))
    }

    /// What the platform appends to the redirect URI (RFC 6749 sections 4.1.2 and 4.1.2.1).
    #[derive(Debug, Deserialize, utoipa::IntoParams)]
    #[into_params(parameter_in = Query)]
    struct Callback {
        /// The authorization code, when the merchant granted access.
        code: Option<String>,
        /// The `state` switchyard sent, single use.
        state: Option<String>,
        /// Why there is no code (`access_denied`, ...).
        error: Option<String>,
        error_description: Option<String>,
        /// Sage adds the business's country; not read.
        #[allow(dead_code)]
        country: Option<String>,
    }

    fn page(status: StatusCode, title: &str, text: &str) -> Response {
        let mut p = Page::new(title);
        if status.is_success() {
            p.notice(text);
        } else {
            p.alert(text);
        }
        p.into_response(status)
    }

    /// Complete a connection's authorization (the platform's redirect).
    ///
    /// The platform sends the merchant's browser here after the authorization page, with `code`
    /// and the `state` switchyard issued. The state is taken once: a second use, an unknown or an
    /// expired one is refused. The code is exchanged for the grant's tokens, the organisation it
    /// reaches is read, and the connection becomes `connected`. The answer is a page for the
    /// merchant saying what happened.
    #[utoipa::path(
        get, path = "/v1/accounting-connections/callback",
        operation_id = "completeAccountingAuthorization", tag = "Accounting",
        params(Callback),
        responses(
            (status = 200, description = "Connected: a page saying so", content_type = "text/html", body = String),
            (status = 400, description = "No state, a spent, expired or unknown one, or the merchant declined: a page saying why", content_type = "text/html", body = String),
            (status = 502, description = "The platform refused the code or could not be reached: a page saying why", content_type = "text/html", body = String),
        ),
    )]
    async fn callback(
        State(state): State<AppState>,
        ApiQuery(q): ApiQuery<Callback>,
    ) -> Result<Response, AppError> {
        let pool = db(&state)?;
        let key = credentials_key(&state)?;
        let Some(auth_state) = q.state.as_deref().filter(|s| !s.is_empty()) else {
            return Ok(page(
                StatusCode::BAD_REQUEST,
                "Not connected",
                "This address is for the accounting platform to send you back to; it carries no authorization.",
            ));
        };
        let Some(auth) = accounting::take_authorization(pool, &key, auth_state).await? else {
            return Ok(page(
                StatusCode::BAD_REQUEST,
                "Not connected",
                "This authorization link has expired or was already used. Start the connection again.",
            ));
        };
        // An authorization begun on a hosted page answers in the page's branding, and only
        // while the page can still be used.
        let hosted = match auth.hosted_page_id {
            Some(id) => hosted_pages::by_id(pool, id).await?,
            None => None,
        };
        let fail = |status: StatusCode, message: &str| match &hosted {
            Some(p) => hosted::branded(&state, p, status, message),
            None => page(status, "Not connected", message),
        };
        if let Some(p) = hosted.as_ref().filter(|p| p.status != PageStatus::Open) {
            return Ok(fail(StatusCode::GONE, hosted::unusable(p.status)));
        }
        let platform = auth.connection.kind.name();
        let code = match (&q.code, &q.error) {
            (Some(code), None) if !code.is_empty() => code,
            (_, Some(error)) => {
                let why = q.error_description.as_deref().unwrap_or(error);
                return Ok(fail(
                    StatusCode::BAD_REQUEST,
                    &format!("{platform} did not grant access: {why}."),
                ));
            }
            _ => {
                return Ok(fail(
                    StatusCode::BAD_REQUEST,
                    &format!("{platform} sent no authorization code."),
                ))
            }
        };
        let client = oauth(&state, &auth.connection)?;
        let tokens = match client
            .exchange_code(&auth.client, code, &auth.redirect_uri)
            .await
        {
            Ok(tokens) => tokens,
            Err(RefreshFailure::Refused(why) | RefreshFailure::Unavailable(why)) => {
                return Ok(fail(
                    StatusCode::BAD_GATEWAY,
                    &format!("{platform} did not complete the connection: {why}"),
                ))
            }
        };
        let organisation = match client.organisation(&tokens.access_token).await {
            Ok(organisation) => organisation,
            Err(e) => {
                return Ok(fail(
                    StatusCode::BAD_GATEWAY,
                    &format!("{platform} did not say which organisation to connect: {e}"),
                ))
            }
        };
        accounting::connect(
            pool,
            &key,
            auth.connection.id,
            &tokens,
            &organisation.id,
            &organisation.name,
        )
        .await?;
        if let Some(p) = &hosted {
            return Ok(
                match hosted_pages::complete_with_accounting(pool, p.id, auth.connection.id).await {
                    Ok(done) => {
                        hosted::accounting_done(&state, &done, platform, &organisation.name)
                    }
                    Err(hosted_pages::CompleteError::NotOpen) => {
                        fail(StatusCode::GONE, hosted::unusable(PageStatus::Completed))
                    }
                    Err(hosted_pages::CompleteError::Store(e)) => return Err(e.into()),
                },
            );
        }
        Ok(page(
            StatusCode::OK,
            "Connected",
            &format!(
                "switchyard is connected to {platform} organisation {}. You can close this window.",
                organisation.name
            ),
        ))
    }

    #[derive(utoipa::OpenApi)]
    #[openapi(paths(callback))]
    pub struct Doc;
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(create, list, read, remove, authorize),
    components(schemas(ConnectionRow, CreateConnection, AuthorizeAnswer, AccountingSettings))
)]
pub struct Doc;
