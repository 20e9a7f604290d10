//! `/v1/hosted-pages`: single-use, branded links on which a provider's customer connects their
//! own sales channel to a store (the page itself is served at `/hosted/{token}`, see
//! `api::hosted`). The link is answered once, at creation; the page then shows `open`,
//! `completed` with the channel made, `revoked` or `expired`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{Duration, Utc};
use serde::{Deserialize, Serialize};

use super::extract::{ApiJson, ApiQuery};
use super::tenant::{conflict, created, db, found, Account, Page, StorePageQuery};
use super::AppState;
use crate::api::error::{field, AppError};
use crate::domain::accounting::AccountingKind;
use crate::domain::hosted::{Branding, Input, Inputs};
use crate::domain::ChannelKind;
use crate::store::hosted_pages::{self, HostedPageRow, NewHostedPage, PageStatus};
use crate::store::stores;

/// Longest a link may live.
pub const MAX_EXPIRY_SECS: i64 = 30 * 24 * 3600;
/// How long a link lives unless asked otherwise: a week.
pub const DEFAULT_EXPIRY_SECS: i64 = 7 * 24 * 3600;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/hosted-pages", get(list).post(create))
        .route("/hosted-pages/{id}", get(read).delete(revoke))
}

/// A page to send a customer: the store their channel joins, the platforms offered, how it
/// looks, which settings they see and may change, how long the link works, and where they go
/// when done.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "store_id": 12, "channels": ["shopify", "woocommerce"],
    "branding": {"title": "Connect your shop to Parcel Co", "primary_colour": "#0b5fff"},
    "inputs": {"stock_management": {"preset": true, "visible": true, "editable": true},
               "auto_sync_stock": {"preset": true, "visible": false}},
    "expires_in_secs": 604800, "return_url": "https://parcel.example/onboarding/done"
}))]
struct CreateHostedPage {
    store_id: i64,
    /// The sales channel platforms offered, in the page's order: `shopify` and `woocommerce`
    /// (Amazon and eBay channels are created with `POST /v1/channels`).
    #[serde(default)]
    channels: Vec<ChannelKind>,
    /// The accounting platforms offered, after the channels (`hosted.xero_*`, `hosted.sage_*`
    /// name switchyard's apps). At least one platform is offered in all.
    #[serde(default)]
    accounting: Vec<AccountingKind>,
    #[serde(default)]
    branding: Branding,
    /// Per channel setting: `preset` (its value), `visible` (shown; default true) and
    /// `editable` (the customer may change it; on/off settings only). Settings not named keep
    /// their defaults, hidden. Default: the on/off settings shown and editable, at their
    /// defaults.
    #[serde(default)]
    inputs: Option<Inputs>,
    /// Seconds the link works, 60 to 2,592,000 (30 days); default 604,800 (7 days).
    #[serde(default)]
    #[schema(minimum = 60, maximum = 2_592_000)]
    expires_in_secs: Option<i64>,
    /// An http(s) URL the customer is sent to once connected.
    #[serde(default)]
    return_url: Option<String>,
}

/// A new page with its link, shown this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct CreatedHostedPage {
    #[serde(flatten)]
    page: HostedPageRow,
    /// The single-use link to send the customer: `{server.public_url}/hosted/{token}`.
    url: String,
}

fn not_found(id: i64) -> AppError {
    AppError::NotFound(format!("hosted page {id}"))
}

/// `items` in their order, each once.
fn distinct<T: PartialEq>(items: Vec<T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(items.len());
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// The on/off settings, shown and editable, at their defaults.
fn default_inputs() -> Inputs {
    let defaults =
        serde_json::to_value(crate::domain::ChannelSettings::default()).unwrap_or_default();
    Inputs(
        crate::domain::hosted::SWITCHES
            .iter()
            .map(|(name, _)| {
                let input = Input {
                    preset: defaults[*name].clone(),
                    visible: true,
                    editable: true,
                };
                ((*name).to_owned(), input)
            })
            .collect(),
    )
}

/// Create a hosted page and its single-use link.
///
/// The link (`url`) is answered this once; switchyard keeps only its hash. The customer opens
/// it, picks one of `channels`, connects their own account on the platform (Shopify's app
/// install, WooCommerce's keys or key granting), and sees the settings `inputs` shows them; the
/// channel is created in `store_id` with the presets and their choices, and the page becomes
/// `completed` (a `hosted_page.completed` event). Branding colours whose text would not be
/// readable are replaced, and `contrast_fallbacks` says which.
#[utoipa::path(
    post, path = "/v1/hosted-pages", operation_id = "createHostedPage", tag = "Hosted pages",
    request_body = CreateHostedPage,
    responses(
        (status = 201, description = "Created, `open`, with its link", body = CreatedHostedPage,
         headers(("location" = String, description = "`/v1/hosted-pages/{id}`"))),
    ),
)]
async fn create(
    State(state): State<AppState>,
    Account(account): Account,
    ApiJson(body): ApiJson<CreateHostedPage>,
) -> Result<Response, AppError> {
    let pool = db(&state)?;
    if body.channels.is_empty() && body.accounting.is_empty() {
        return Err(field(
            "offer at least one platform: shopify or woocommerce in `channels`, or xero or sage \
             in `accounting`",
            "channels",
        ));
    }
    if let Some(kind) = body
        .channels
        .iter()
        .find(|k| !matches!(k, ChannelKind::Shopify | ChannelKind::WooCommerce))
    {
        return Err(field(
            format!(
                "a hosted page connects shopify or woocommerce; {} channels are created with \
                 POST /v1/channels",
                kind.as_str()
            ),
            "channels",
        ));
    }
    let kinds = distinct(body.channels);
    let books = distinct(body.accounting);
    body.branding.validate()?;
    let inputs = body.inputs.unwrap_or_else(default_inputs);
    inputs.validate()?;
    let expires_in = body.expires_in_secs.unwrap_or(DEFAULT_EXPIRY_SECS);
    if !(60..=MAX_EXPIRY_SECS).contains(&expires_in) {
        return Err(field(
            format!("must be 60 to {MAX_EXPIRY_SECS} seconds"),
            "expires_in_secs",
        ));
    }
    if let Some(url) = &body.return_url {
        let parsed = url::Url::parse(url).ok();
        if !parsed.is_some_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
            || url.len() > 2048
        {
            return Err(field(
                "must be an absolute http(s) URL of at most 2048 characters",
                "return_url",
            ));
        }
    }
    if stores::get(pool, account, body.store_id).await?.is_none() {
        return Err(field(
            format!("store {} does not exist in this account", body.store_id),
            "store_id",
        ));
    }
    let new = NewHostedPage {
        store_id: body.store_id,
        channels: &kinds,
        accounting: &books,
        branding: &body.branding,
        inputs: &inputs,
        return_url: body.return_url.as_deref(),
        expires_at: Utc::now() + Duration::seconds(expires_in),
    };
    let (page, token) = hosted_pages::create(pool, account, &new)
        .await?
        .ok_or_else(|| {
            field(
                format!("store {} does not exist in this account", body.store_id),
                "store_id",
            )
        })?;
    let url = format!(
        "{}/hosted/{token}",
        state.settings.server.public_url.trim_end_matches('/')
    );
    let location = format!("/v1/hosted-pages/{}", page.id);
    Ok(created(location, CreatedHostedPage { page, url }))
}

/// List the account's hosted pages, oldest first.
#[utoipa::path(
    get, path = "/v1/hosted-pages", operation_id = "listHostedPages", tag = "Hosted pages",
    params(StorePageQuery),
    responses((status = 200, description = "A page of hosted pages", body = Page<HostedPageRow>)),
)]
async fn list(
    State(state): State<AppState>,
    Account(account): Account,
    ApiQuery(q): ApiQuery<StorePageQuery>,
) -> Result<Response, AppError> {
    let page = q.page()?;
    let rows =
        hosted_pages::list(db(&state)?, account, q.store_id, page.cursor, page.fetch()).await?;
    Ok(page.of(rows, |p| p.id).into_response())
}

/// Read a hosted page: `open`, `completed` with the channel made, `revoked` or `expired`.
#[utoipa::path(
    get, path = "/v1/hosted-pages/{id}", operation_id = "getHostedPage", tag = "Hosted pages",
    params(("id" = i64, Path, description = "The page's id")),
    responses((status = 200, description = "The page", body = HostedPageRow)),
)]
async fn read(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    found(hosted_pages::get(db(&state)?, account, id).await?, || {
        not_found(id)
    })
}

/// Revoke a hosted page's link.
///
/// The link stops working at once; a platform authorization the customer began on it is
/// refused when it comes back. A completed page stays completed (its channel is the
/// account's like any other, `DELETE /v1/channels/{id}`), and answers 409.
#[utoipa::path(
    delete, path = "/v1/hosted-pages/{id}", operation_id = "revokeHostedPage", tag = "Hosted pages",
    params(("id" = i64, Path, description = "The page's id")),
    responses(
        (status = 200, description = "Revoked (or already revoked or expired)", body = HostedPageRow),
        (status = 409, description = "Completed: the customer already connected a channel"),
    ),
)]
async fn revoke(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let page = hosted_pages::revoke(db(&state)?, account, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    if page.status == PageStatus::Completed {
        return Ok(conflict(&format!(
            "hosted page {id} was completed: channel {} was connected through it",
            page.channel_id
                .map_or("(deleted since)".to_owned(), |c| c.to_string())
        )));
    }
    Ok((StatusCode::OK, Json(page)).into_response())
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(create, list, read, revoke),
    components(schemas(
        HostedPageRow,
        CreateHostedPage,
        CreatedHostedPage,
        Branding,
        Input,
        Inputs
    ))
)]
pub struct Doc;
