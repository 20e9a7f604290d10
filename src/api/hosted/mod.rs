//! `/hosted/{token}`: the page a provider's customer opens to connect their own channel (made
//! with `POST /v1/hosted-pages`). Server-rendered HTML that works without JavaScript, in the
//! provider's branding, offering the platforms the provider chose, each the way its merchants
//! connect:
//!
//! - Shopify: the app install (authorization code grant): the customer names their shop, is
//!   sent to its `/admin/oauth/authorize`, approves, and comes back to
//!   `/hosted-callback/shopify`, where the HMAC and the single-use `state` are checked and the
//!   code is exchanged for the shop's access token.
//! - WooCommerce: the store's own key granting (`/wc-auth/v1/authorize`): the store posts the new
//!   keys to `/hosted-callback/woocommerce` and sends the customer back to the page; or the
//!   customer pastes a REST API key.
//!
//! Credentials are checked with the platform before the channel is created; a failure is shown
//! in words a merchant understands, with the form kept (never a secret). The channel is created
//! with the provider's presets and the customer's choices of the editable switches only.
//!
//! Security: the link's token is 256 random bits, stored hashed, single use and expiring. Every
//! form carries a CSRF token bound to a cookie (HttpOnly, SameSite=Strict, `/hosted`) and the
//! page. The CSP allows one nonce'd stylesheet and https images, no scripts, forms to this
//! origin only, and framing only by `hosted.frame_ancestors`. Requests are limited per link and
//! per client address. Secrets are never logged or echoed back.

// The helpers answer the page to send instead (at once, axum's usual early return); boxing
// every response would only add noise.
#![allow(clippy::result_large_err)]

mod limits;
mod render;

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub use self::limits::Limits;
use self::render::{Kept, Problem, Shell};
use super::channels::{
    check_base_url, check_channel_credentials, platform_name, subscribe_webhooks,
};
use super::extract::cookie;
use super::tenant::{credentials_key, db};
use super::AppState;
use crate::connectors::shopify::install;
use crate::connectors::ConnectorError;
use crate::domain::accounting::{AccountingKind, ClientCredentials};
use crate::domain::credentials::{ShopifyCredentials, WooCredentials};
use crate::domain::hosted::Branding;
use crate::domain::{ChannelCredentials, ChannelKind, ChannelSettings, Secret};
use crate::outbound::SsrfGuard;
use crate::store::channels::NewChannel;
use crate::store::hosted_pages::{self, CompleteError, HostedPageRow, PageStatus};

const CSRF_COOKIE: &str = "sy_hosted_csrf";
const SHOPIFY_CALLBACK: &str = "/hosted-callback/shopify";
const WOO_CALLBACK: &str = "/hosted-callback/woocommerce";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/hosted/{token}", get(page))
        .route("/hosted/{token}/shopify", post(shopify_start))
        .route("/hosted/{token}/woocommerce", post(woo_keys))
        .route("/hosted/{token}/woocommerce/authorize", post(woo_start))
        .route("/hosted/{token}/woocommerce/return", get(woo_return))
        .route("/hosted/{token}/accounting/{kind}", post(accounting_start))
        .route(SHOPIFY_CALLBACK, get(shopify_callback))
        .route(WOO_CALLBACK, post(woo_callback))
}

/// One request's context: the state, the client and its headers.
struct Visit<'a> {
    state: &'a AppState,
    headers: &'a HeaderMap,
    peer: SocketAddr,
}

impl<'a> Visit<'a> {
    fn new(state: &'a AppState, headers: &'a HeaderMap, peer: SocketAddr) -> Visit<'a> {
        Visit {
            state,
            headers,
            peer,
        }
    }

    fn shell<'b>(&'b self, branding: &'b Branding) -> Shell<'b> {
        shell(self.state, branding)
    }

    /// A page in switchyard's default branding, for when no page is known.
    fn plain(&self, status: StatusCode, message: &str) -> Response {
        let branding = Branding::default();
        self.shell(&branding)
            .respond(status, &render::message_body(message))
    }

    /// Counts the request against the client's address and, given, the link; the 429 page when
    /// either is over its allowance.
    fn limit(&self, token: Option<&str>) -> Result<(), Response> {
        let hosted = &self.state.settings.hosted;
        let by_address = self.state.hosted_limits.admit(
            &format!("addr:{}", self.peer.ip()),
            hosted.per_address_per_minute,
        );
        let by_link = token.is_none_or(|t| {
            let key = format!("link:{}", hex::encode(Sha256::digest(t.as_bytes())));
            self.state
                .hosted_limits
                .admit(&key, hosted.per_link_per_minute)
        });
        if by_address && by_link {
            return Ok(());
        }
        Err(self.plain(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many attempts in a short time. Wait a minute, then try again.",
        ))
    }

    /// The open page a link's token names, or the page saying why the link does not work.
    async fn open(&self, token: &str) -> Result<HostedPageRow, Response> {
        self.limit(Some(token))?;
        let Some(pool) = self.state.db.as_ref() else {
            return Err(self.plain(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE));
        };
        let page = match hosted_pages::by_token(pool, token).await {
            Ok(Some(page)) => page,
            Ok(None) => {
                return Err(self.plain(
                    StatusCode::NOT_FOUND,
                    "This link is not valid. Check that you copied all of it.",
                ))
            }
            Err(e) => {
                tracing::error!(error = %e, "reading a hosted page");
                return Err(self.plain(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE));
            }
        };
        match page.status {
            PageStatus::Open => Ok(page),
            status => Err(self
                .shell(&page.branding)
                .respond(StatusCode::GONE, &render::message_body(unusable(status)))),
        }
    }

    fn cookie_value(&self) -> Option<String> {
        cookie(self.headers, CSRF_COOKIE)
            .filter(|value| value.len() >= 20)
            .map(str::to_owned)
    }

    fn csrf_for(&self, page_id: i64, cookie: &str) -> String {
        let mut key = Sha256::new();
        key.update(b"switchyard hosted pages\0");
        key.update(self.state.settings.crypto.credentials_key.trim().as_bytes());
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&key.finalize()).expect("any key length works");
        mac.update(format!("{page_id}.{cookie}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Whether the form's `csrf` is this page's, for the cookie the browser sent.
    fn csrf_ok(&self, page_id: i64, form: &Form) -> bool {
        let Some(cookie) = self.cookie_value() else {
            return false;
        };
        let expected = self.csrf_for(page_id, &cookie);
        let given = form.one("csrf");
        !given.is_empty() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
    }

    fn secure(&self) -> bool {
        self.headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
    }

    /// The page with its forms, `problem` leading the form it is about.
    fn connect_page(
        &self,
        page: &HostedPageRow,
        token: &str,
        kept: &Kept,
        problem: Option<&Problem<'_>>,
        status: StatusCode,
    ) -> Response {
        let (cookie, set) = match self.cookie_value() {
            Some(c) => (c, None),
            None => {
                let c = crate::crypto::random_token(32);
                let set = format!(
                    "{CSRF_COOKIE}={c}; Path=/hosted; HttpOnly; SameSite=Strict{}",
                    if self.secure() { "; Secure" } else { "" }
                );
                (c, Some(set))
            }
        };
        let csrf = self.csrf_for(page.id, &cookie);
        let books: Vec<AccountingKind> = page
            .accounting
            .iter()
            .copied()
            .filter(|k| accounting_app(self.state, *k).is_some())
            .collect();
        let body = render::connect_body(
            token,
            &page.channels,
            &books,
            &page.inputs,
            &csrf,
            self.shopify_offered(),
            kept,
            problem,
        );
        let mut shell = self.shell(&page.branding);
        shell.cookie = set;
        shell.respond(status, &body)
    }

    fn shopify_offered(&self) -> bool {
        let hosted = &self.state.settings.hosted;
        !hosted.shopify_client_id.trim().is_empty()
            && !hosted.shopify_client_secret.trim().is_empty()
    }

    fn public(&self, path: &str) -> String {
        format!(
            "{}{path}",
            self.state.settings.server.public_url.trim_end_matches('/')
        )
    }

    /// Hands the browser on to the platform at `to`.
    fn onward(&self, page: &HostedPageRow, platform: &str, to: &str) -> Response {
        let (body, escaped) = render::onward_body(platform, to);
        let mut shell = self.shell(&page.branding);
        shell.refresh = Some(escaped);
        shell.respond(StatusCode::OK, &body)
    }

    fn done(&self, page: &HostedPageRow, platform: &str, name: &str) -> Response {
        self.shell(&page.branding).respond(
            StatusCode::OK,
            &render::done_body(platform, name, page.return_url.as_deref()),
        )
    }
}

const UNAVAILABLE: &str = "This page cannot be shown right now. Try again in a few minutes.";

/// The words for a page that can no longer be used.
pub(crate) fn unusable(status: PageStatus) -> &'static str {
    match status {
        PageStatus::Completed => {
            "This link has already been used: a store was connected with it. Ask for a new link \
             to connect another."
        }
        PageStatus::Revoked => "This link was withdrawn. Ask for a new one.",
        PageStatus::Expired => "This link has expired. Ask for a new one.",
        PageStatus::Open => "",
    }
}

/// An `application/x-www-form-urlencoded` body, every pair in order.
struct Form(Vec<(String, String)>);

impl Form {
    fn parse(body: &[u8]) -> Form {
        Form(url::form_urlencoded::parse(body).into_owned().collect())
    }

    /// The first value of `name`, trimmed; empty when absent.
    fn one(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.trim())
    }

    /// The switches ticked.
    fn chosen(&self) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == "setting")
            .map(|(_, v)| v.clone())
            .collect()
    }
}

async fn page(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Response {
    let visit = Visit::new(&state, &headers, peer);
    match visit.open(&token).await {
        Ok(page) => visit.connect_page(&page, &token, &Kept::default(), None, StatusCode::OK),
        Err(res) => res,
    }
}

/// Reads a POSTed form of the open page `token` names, refusing a missing or wrong CSRF token.
async fn posted(
    visit: &Visit<'_>,
    token: &str,
    body: &[u8],
) -> Result<(HostedPageRow, Form), Response> {
    let page = visit.open(token).await?;
    let form = Form::parse(body);
    if !visit.csrf_ok(page.id, &form) {
        return Err(visit.shell(&page.branding).respond(
            StatusCode::FORBIDDEN,
            &render::message_body(
                "This form has expired. Open your link again and resubmit the form.",
            ),
        ));
    }
    Ok((page, form))
}

/// The store's address as the customer typed it, checked like a channel's `base_url`.
fn store_url(state: &AppState, text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("Enter your store's address.".to_owned());
    }
    let with_scheme = if text.contains("://") {
        text.to_owned()
    } else {
        format!("https://{text}")
    };
    check_base_url(&with_scheme, &SsrfGuard::from_settings(&state.settings.outbound))
        .map_err(|_| {
            format!("“{text}” is not a store address we can reach. Use the address you open your store at, like https://shop.example.com.")
        })
}

/// The shop's base URL: a bare handle or `*.myshopify.com` domain is the shop on Shopify; a
/// whole URL is taken as given (and checked).
fn shop_url(state: &AppState, text: &str) -> Result<String, String> {
    let text = text.trim().trim_end_matches('/');
    if text.is_empty() {
        return Err("Enter your shop's address.".to_owned());
    }
    if !text.contains("://") {
        let domain = if text.ends_with(".myshopify.com") {
            text.to_ascii_lowercase()
        } else {
            format!("{}.myshopify.com", text.to_ascii_lowercase())
        };
        if !install::is_shop_domain(&domain) {
            return Err(format!(
                "“{text}” is not a Shopify shop address. It looks like your-shop.myshopify.com."
            ));
        }
        return Ok(format!("https://{domain}"));
    }
    store_url(state, text).map_err(|_| {
        format!("“{text}” is not a Shopify shop address. It looks like your-shop.myshopify.com.")
    })
}

fn settings_of(page: &HostedPageRow, form: &Form) -> Result<ChannelSettings, String> {
    page.inputs
        .apply(&form.chosen())
        .map_err(|e| format!("These settings cannot be used ({e}). Ask for a new link."))
}

/// A merchant's words for a platform's refusal of their credentials.
fn refusal(platform: &str, err: &ConnectorError) -> String {
    match err {
        ConnectorError::Auth { .. } => {
            format!("{platform} did not accept these details. Check them and try again.")
        }
        ConnectorError::Rejected { .. } | ConnectorError::Invalid(_) => format!(
            "We reached that address, but it does not answer like a {platform} store. Check \
             the address."
        ),
        _ => format!(
            "We could not reach your {platform} store just now. Check the address, or try again \
             in a few minutes."
        ),
    }
}

fn host_of(base_url: &str) -> String {
    url::Url::parse(base_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| base_url.to_owned())
}

/// Checks `credentials` with the platform, creates the channel and completes the page.
async fn connect(
    state: &AppState,
    page: &HostedPageRow,
    name: &str,
    base_url: &str,
    credentials: &ChannelCredentials,
    settings: &ChannelSettings,
) -> Result<(), String> {
    let platform = platform_name(credentials.kind());
    check_channel_credentials(state.connectors.http(), base_url, credentials)
        .await
        .map_err(|e| refusal(platform, &e))?;
    let (Ok(pool), Ok(key)) = (db(state), credentials_key(state)) else {
        return Err(UNAVAILABLE.to_owned());
    };
    let new = NewChannel {
        store_id: page.store_id,
        name,
        base_url,
        credentials,
        settings,
    };
    match hosted_pages::complete(pool, &key, page.id, &new).await {
        Ok((_, channel)) => {
            tracing::info!(
                hosted_page_id = page.id,
                channel_id = channel.id,
                "hosted page completed"
            );
            // The customer's part is done; without webhooks the channel's orders still come on
            // its timer, so a refusal is for the provider's log, not the customer's page.
            if let Err(why) = subscribe_webhooks(state, &channel, credentials).await {
                tracing::warn!(
                    channel_id = channel.id,
                    why,
                    "hosted channel without webhooks"
                );
            }
            Ok(())
        }
        Err(CompleteError::NotOpen) => Err(unusable(PageStatus::Completed).to_owned()),
        Err(CompleteError::Store(e)) => {
            tracing::error!(error = %e, hosted_page_id = page.id, "completing a hosted page");
            Err(UNAVAILABLE.to_owned())
        }
    }
}

/// WooCommerce with a pasted REST API key.
async fn woo_keys(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(token): Path<String>,
    body: Bytes,
) -> Response {
    let visit = Visit::new(&state, &headers, peer);
    let (page, form) = match posted(&visit, &token, &body).await {
        Ok(p) => p,
        Err(res) => return res,
    };
    let kept = Kept {
        store_url: form.one("store_url").to_owned(),
        chosen: Some(form.chosen()),
        ..Kept::default()
    };
    let fail = |message: &str| {
        let problem = Problem {
            form: "woocommerce-keys",
            message,
        };
        visit.connect_page(
            &page,
            &token,
            &kept,
            Some(&problem),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    if !page.channels.contains(&ChannelKind::WooCommerce) {
        return fail("WooCommerce is not offered on this page.");
    }
    let base_url = match store_url(&state, form.one("store_url")) {
        Ok(u) => u,
        Err(why) => return fail(&why),
    };
    let (key, secret) = (form.one("consumer_key"), form.one("consumer_secret"));
    if key.is_empty() || secret.is_empty() || key.len() > 1024 || secret.len() > 1024 {
        return fail("Enter the consumer key and the consumer secret of your REST API key.");
    }
    let settings = match settings_of(&page, &form) {
        Ok(s) => s,
        Err(why) => return fail(&why),
    };
    let credentials = ChannelCredentials::WooCommerce(WooCredentials {
        consumer_key: Secret::new(key.to_owned()),
        consumer_secret: Secret::new(secret.to_owned()),
        webhook_secret: Secret::new(crate::crypto::random_token(32)),
    });
    let name = host_of(&base_url);
    match connect(&state, &page, &name, &base_url, &credentials, &settings).await {
        Ok(()) => visit.done(&page, "WooCommerce", &name),
        Err(why) => fail(&why),
    }
}

/// WooCommerce's key granting: to the store's approval page.
async fn woo_start(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(token): Path<String>,
    body: Bytes,
) -> Response {
    let visit = Visit::new(&state, &headers, peer);
    let start = match start_authorization(&visit, &token, &body, ChannelKind::WooCommerce).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let Ok(mut to) = url::Url::parse(&format!("{}/wc-auth/v1/authorize", start.base_url)) else {
        return visit.plain(
            StatusCode::UNPROCESSABLE_ENTITY,
            "That store address cannot be used.",
        );
    };
    to.query_pairs_mut()
        .append_pair("app_name", "switchyard")
        .append_pair("scope", "read_write")
        .append_pair("user_id", &start.state)
        .append_pair(
            "return_url",
            &visit.public(&format!("/hosted/{token}/woocommerce/return")),
        )
        .append_pair("callback_url", &visit.public(WOO_CALLBACK));
    visit.onward(&start.page, "your WooCommerce store", to.as_str())
}

/// A platform authorization begun from the page: the page, the store's address the customer
/// gave, and the single-use `state` standing for their choices.
struct Started {
    page: HostedPageRow,
    base_url: String,
    state: String,
}

/// The form that starts `kind`'s authorization, read and checked (CSRF, the platform offered,
/// the address, the settings), and the authorization stored; or the page to answer instead,
/// the form kept with what went wrong.
async fn start_authorization(
    visit: &Visit<'_>,
    token: &str,
    body: &[u8],
    kind: ChannelKind,
) -> Result<Started, Response> {
    let (page, form) = posted(visit, token, body).await?;
    let (form_name, field) = match kind {
        ChannelKind::Shopify => ("shopify", "shop"),
        ChannelKind::WooCommerce => ("woocommerce", "store_url"),
        // Only Shopify's and WooCommerce's routes start an authorization here.
        ChannelKind::Amazon => ("amazon", ""),
        ChannelKind::Ebay => ("ebay", ""),
    };
    let kept = Kept {
        shop: form.one("shop").to_owned(),
        store_url: form.one("store_url").to_owned(),
        chosen: Some(form.chosen()),
    };
    let fail = |message: &str| {
        let problem = Problem {
            form: form_name,
            message,
        };
        visit.connect_page(
            &page,
            token,
            &kept,
            Some(&problem),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    let offered =
        page.channels.contains(&kind) && (kind != ChannelKind::Shopify || visit.shopify_offered());
    if !offered {
        return Err(fail(&format!(
            "{} is not offered on this page.",
            platform_name(kind)
        )));
    }
    let address = match kind {
        ChannelKind::Shopify => shop_url(visit.state, form.one(field)),
        ChannelKind::WooCommerce => store_url(visit.state, form.one(field)),
        ChannelKind::Amazon | ChannelKind::Ebay => Err(format!(
            "{} channels are not connected through this page.",
            super::channels::platform_name(kind)
        )),
    };
    let base_url = address.map_err(|why| fail(&why))?;
    let settings = settings_of(&page, &form).map_err(|why| fail(&why))?;
    let Some(pool) = visit.state.db.as_ref() else {
        return Err(fail(UNAVAILABLE));
    };
    match hosted_pages::begin_authorization(pool, page.id, kind, &base_url, &settings).await {
        Ok(state) => Ok(Started {
            page,
            base_url,
            state,
        }),
        Err(e) => {
            tracing::error!(error = %e, ?kind, "starting a platform authorization");
            Err(fail(UNAVAILABLE))
        }
    }
}

/// The keys a WooCommerce store posts once the merchant approved.
#[derive(Deserialize)]
struct WooKeys {
    user_id: serde_json::Value,
    consumer_key: String,
    consumer_secret: String,
}

/// The store's server-to-server post of the granted keys. WooCommerce takes anything but 200
/// as a failure and tells the merchant so.
async fn woo_callback(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let visit = Visit::new(&state, &headers, peer);
    if visit.limit(None).is_err() {
        return (StatusCode::TOO_MANY_REQUESTS, "too many requests");
    }
    let Ok(keys) = serde_json::from_slice::<WooKeys>(&body) else {
        return (StatusCode::BAD_REQUEST, "not the keys WooCommerce sends");
    };
    let user = match &keys.user_id {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let Some(pool) = state.db.as_ref() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    };
    let auth = match hosted_pages::take_authorization(pool, &user).await {
        Ok(Some(a)) if a.kind == ChannelKind::WooCommerce => a,
        Ok(_) => {
            return (
                StatusCode::UNAUTHORIZED,
                "unknown, used or expired authorization",
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "reading a WooCommerce authorization");
            return (StatusCode::SERVICE_UNAVAILABLE, "unavailable");
        }
    };
    if auth.page.status != PageStatus::Open {
        return (StatusCode::GONE, "the link can no longer be used");
    }
    let credentials = ChannelCredentials::WooCommerce(WooCredentials {
        consumer_key: Secret::new(keys.consumer_key),
        consumer_secret: Secret::new(keys.consumer_secret),
        webhook_secret: Secret::new(crate::crypto::random_token(32)),
    });
    let name = host_of(&auth.base_url);
    match connect(
        &state,
        &auth.page,
        &name,
        &auth.base_url,
        &credentials,
        &auth.settings,
    )
    .await
    {
        Ok(()) => (StatusCode::OK, "connected"),
        Err(why) => {
            tracing::warn!(hosted_page_id = auth.page.id, %why, "WooCommerce keys not used");
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                "the keys could not be used",
            )
        }
    }
}

#[derive(Deserialize)]
struct WooReturn {
    success: Option<String>,
}

/// Where the store sends the merchant after approving (or denying).
async fn woo_return(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(token): Path<String>,
    Query(q): Query<WooReturn>,
) -> Response {
    let visit = Visit::new(&state, &headers, peer);
    if let Err(res) = visit.limit(Some(&token)) {
        return res;
    }
    let Some(pool) = state.db.as_ref() else {
        return visit.plain(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE);
    };
    let page = match hosted_pages::by_token(pool, &token).await {
        Ok(Some(p)) => p,
        Ok(None) => return visit.plain(StatusCode::NOT_FOUND, "This link is not valid."),
        Err(_) => return visit.plain(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE),
    };
    // The store posted the keys before sending the merchant back: a completed page is this
    // connection, done.
    if page.status == PageStatus::Completed && q.success.as_deref() == Some("1") {
        let name = match page.channel_id {
            Some(id) => crate::store::channels::get(pool, page.account_id, id)
                .await
                .ok()
                .flatten()
                .map(|c| c.name),
            None => None,
        };
        return visit.done(&page, "WooCommerce", name.as_deref().unwrap_or("store"));
    }
    if page.status != PageStatus::Open {
        return visit.shell(&page.branding).respond(
            StatusCode::GONE,
            &render::message_body(unusable(page.status)),
        );
    }
    let message = if q.success.as_deref() == Some("1") {
        "Your store approved the connection, but its keys did not reach us. Try again."
    } else {
        "The connection was not approved on your store. You can try again."
    };
    let problem = Problem {
        form: "woocommerce",
        message,
    };
    visit.connect_page(
        &page,
        &token,
        &Kept::default(),
        Some(&problem),
        StatusCode::OK,
    )
}

/// switchyard's app on accounting platform `kind`, when configured: its credentials and where
/// the platform is reached (`None`: its own hosts).
fn accounting_app(
    state: &AppState,
    kind: AccountingKind,
) -> Option<(ClientCredentials, Option<String>)> {
    let hosted = &state.settings.hosted;
    let (id, secret, base) = match kind {
        AccountingKind::Xero => (
            &hosted.xero_client_id,
            &hosted.xero_client_secret,
            &hosted.xero_base_url,
        ),
        AccountingKind::Sage => (
            &hosted.sage_client_id,
            &hosted.sage_client_secret,
            &hosted.sage_base_url,
        ),
    };
    if id.trim().is_empty() || secret.trim().is_empty() {
        return None;
    }
    let client = ClientCredentials {
        client_id: Secret::new(id.trim().to_owned()),
        client_secret: Secret::new(secret.trim().to_owned()),
    };
    Some((client, base.clone().filter(|b| !b.trim().is_empty())))
}

/// An accounting platform: a connection of the page's store is made, awaiting authorization,
/// and the customer goes to the platform to sign in and approve; the accounting connections'
/// own callback completes it and the page.
async fn accounting_start(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((token, kind)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    use crate::connectors::accounting::Endpoints;
    use crate::store::accounting::{self, NewConnection};

    let visit = Visit::new(&state, &headers, peer);
    let (page, _form) = match posted(&visit, &token, &body).await {
        Ok(p) => p,
        Err(res) => return res,
    };
    let fail = |message: &str| {
        let problem = Problem {
            form: "accounting",
            message,
        };
        visit.connect_page(
            &page,
            &token,
            &Kept::default(),
            Some(&problem),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    let kind = serde_json::from_value::<AccountingKind>(serde_json::Value::String(kind))
        .ok()
        .filter(|k| page.accounting.contains(k));
    let Some((kind, (client, base_url))) =
        kind.and_then(|k| accounting_app(&state, k).map(|app| (k, app)))
    else {
        return fail("That accounting package is not offered on this page.");
    };
    let (Ok(pool), Ok(key)) = (db(&state), credentials_key(&state)) else {
        return fail(UNAVAILABLE);
    };
    let endpoints = match Endpoints::of(kind, base_url.as_deref()) {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(error = %e, ?kind, "the hosted accounting app's base URL");
            return fail(UNAVAILABLE);
        }
    };
    let account = page.account_id;
    let new = NewConnection {
        store_id: page.store_id,
        kind,
        name: kind.name(),
        base_url: base_url.as_deref(),
        client: &client,
        settings: &crate::domain::accounting::AccountingSettings::default(),
    };
    let redirect = visit.public(crate::api::accounting::CALLBACK_PATH);
    let started = match accounting::create(pool, &key, account, &new).await {
        Ok(connection) => {
            accounting::begin_authorization_from(
                pool,
                account,
                connection.id,
                &redirect,
                Some(page.id),
            )
            .await
        }
        Err(e) => Err(e),
    };
    match started {
        Ok(Some(auth_state)) => {
            let to = endpoints.authorize_url(kind, &client, &redirect, &auth_state);
            visit.onward(&page, kind.name(), to.as_str())
        }
        Ok(None) | Err(_) => fail(UNAVAILABLE),
    }
}

/// The shell of a page in `branding`, framed only where the settings allow.
fn shell<'b>(state: &'b AppState, branding: &'b Branding) -> Shell<'b> {
    Shell {
        branding,
        frame_ancestors: &state.settings.hosted.frame_ancestors,
        cookie: None,
        refresh: None,
    }
}

/// A page of hosted page `page`'s branding saying `message`: for the accounting callback, when
/// an authorization begun on the page comes back.
pub(crate) fn branded(
    state: &AppState,
    page: &HostedPageRow,
    status: StatusCode,
    message: &str,
) -> Response {
    shell(state, &page.branding).respond(status, &render::message_body(message))
}

/// The page's confirmation that the customer's accounting package is connected.
pub(crate) fn accounting_done(
    state: &AppState,
    page: &HostedPageRow,
    platform: &str,
    organisation: &str,
) -> Response {
    shell(state, &page.branding).respond(
        StatusCode::OK,
        &render::books_done_body(platform, organisation, page.return_url.as_deref()),
    )
}

/// Shopify: to the shop's app install page.
async fn shopify_start(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(token): Path<String>,
    body: Bytes,
) -> Response {
    let visit = Visit::new(&state, &headers, peer);
    let start = match start_authorization(&visit, &token, &body, ChannelKind::Shopify).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let hosted = &state.settings.hosted;
    match install::authorize_url(
        &start.base_url,
        &hosted.shopify_client_id,
        &hosted.shopify_scopes,
        &visit.public(SHOPIFY_CALLBACK),
        &start.state,
    ) {
        Ok(to) => visit.onward(&start.page, "Shopify", to.as_str()),
        Err(_) => visit.plain(
            StatusCode::UNPROCESSABLE_ENTITY,
            "That shop address cannot be used.",
        ),
    }
}

/// Shopify sends the merchant back here once they approved the install.
async fn shopify_callback(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let visit = Visit::new(&state, &headers, peer);
    if let Err(res) = visit.limit(None) {
        return res;
    }
    let hosted = &state.settings.hosted;
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    };
    if !visit.shopify_offered()
        || !install::verify_hmac(&query, &hosted.shopify_client_secret)
        || !install::is_shop_domain(get("shop"))
    {
        return visit.plain(
            StatusCode::BAD_REQUEST,
            "This answer did not come from Shopify. Open your link again and start over.",
        );
    }
    let Some(pool) = state.db.as_ref() else {
        return visit.plain(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE);
    };
    let auth =
        match hosted_pages::take_authorization(pool, get("state")).await {
            Ok(Some(a)) if a.kind == ChannelKind::Shopify => a,
            Ok(_) => return visit.plain(
                StatusCode::BAD_REQUEST,
                "This connection attempt has expired or was already used. Open your link again \
                 and start over.",
            ),
            Err(e) => {
                tracing::error!(error = %e, "reading a Shopify authorization");
                return visit.plain(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE);
            }
        };
    let page = auth.page;
    if page.status != PageStatus::Open {
        return visit.shell(&page.branding).respond(
            StatusCode::GONE,
            &render::message_body(unusable(page.status)),
        );
    }
    let failed = |message: &str| {
        visit
            .shell(&page.branding)
            .respond(StatusCode::BAD_GATEWAY, &render::message_body(message))
    };
    let http = match crate::connectors::http::client(state.connectors.http()) {
        Ok(h) => h,
        Err(_) => return failed(UNAVAILABLE),
    };
    // The code goes to the shop the customer named before leaving, never to one the callback
    // names.
    let access_token = match install::exchange_code(
        &http,
        &auth.base_url,
        &hosted.shopify_client_id,
        &hosted.shopify_client_secret,
        get("code"),
    )
    .await
    {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(hosted_page_id = page.id, error = %e, "Shopify code not exchanged");
            return failed(
                "Shopify did not complete the connection. Open your link again and start over.",
            );
        }
    };
    let credentials = ChannelCredentials::Shopify(ShopifyCredentials {
        access_token,
        app_secret: Secret::new(hosted.shopify_client_secret.clone()),
    });
    let name = get("shop").to_owned();
    match connect(
        &state,
        &page,
        &name,
        &auth.base_url,
        &credentials,
        &auth.settings,
    )
    .await
    {
        Ok(()) => visit.done(&page, "Shopify", &name),
        Err(why) => failed(&why),
    }
}
