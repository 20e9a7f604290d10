//! The Sage Business Cloud Accounting simulator (API v3.1), one business per mount at
//! `/sage/{name}`, serving the three Sage hosts at their own path suffixes so a connector only
//! swaps base URLs:
//!
//! | Sage | here |
//! | --- | --- |
//! | `https://www.sageone.com/oauth2/auth/central?filter=apiv3.1` | `{base}/oauth2/auth/central` |
//! | `https://oauth.accounting.sage.com/token` | `{base}/token` |
//! | `https://api.accounting.sage.com/v3.1` | `{base}/v3.1` |
//!
//! Followed: Sage's published Swagger 2.0 documents "Sage Business Cloud Accounting - Accounts"
//! version 3.1 (`swagger.full.json`) and "Sage Accounting API - User Accounts" version 3.1
//! (`swagger.user_businesses.json`, for `/businesses`), from developer.sage.com/accounting, with
//! the guides of the same site: Authentication, Pagination, Idempotency, Response Codes and
//! Frequently Raised Errors. Where the live API differs from its document, the simulator follows
//! the live API as observed: decimals are strings (`"120.0"`), the core API's list says
//! `$items_per_page` where the accounting API says `$itemsPerPage`, a request without
//! `Authorization` gets the gateway's `{"error": "Authorization missing. ..."}` and a bad token
//! `AccessTokenVerificationError`.
//!
//! Wire protocol:
//! - OAuth 2.0 authorization code. The authorize page checks `client_id` and `redirect_uri`
//!   (a registered callback), approves at once and redirects with `code`, `country` and the
//!   `state` given; `scope` is `full_access` (default) or `readonly`. `POST /token` takes a form
//!   with `client_id` / `client_secret` (or HTTP Basic) and `grant_type=authorization_code`
//!   (`code` good once, for 60 s, with the same `redirect_uri`) or `grant_type=refresh_token`.
//!   It answers `{access_token, scope, token_type: "bearer", expires_in: 300, refresh_token,
//!   refresh_token_expires_in: 2678400, requested_by_id}`; each refresh spends its refresh
//!   token and issues a new pair; a spent, unknown, expired or revoked grant is
//!   `400 {"error": "invalid_grant"}`.
//! - API calls carry `Authorization: Bearer`; an expired token is 401 `AccessTokenVerificationError`
//!   (the live API's wording for an expired token was not observed; "(JWT expired)" is ours).
//!   `X-Business` selects the business; without it Sage uses the user's lead business (the only
//!   one here); another business id is 401 `AuthorizationFailure`. A `readonly` grant gets 403
//!   `MultiUserAccessDenied` on writes.
//! - Errors are arrays of `{"$severity", "$dataCode", "$message", "$source"}`; validation is 422
//!   `RecordInvalid` naming the field in `$source`, several at once.
//! - Lists: `page`, `items_per_page` (20, at most 200), `$next` / `$back` paths, base attributes
//!   only unless `attributes` asks (`all` for everything).
//! - Limits: Sage documents 200 calls in any 60 seconds per business; over it, 429 with
//!   `Retry-After` in whole seconds. Configurable, with optional daily and concurrency caps.
//!   The 429 body's `$dataCode` is not published; `TooManyRequests` is ours.
//!
//! Layers, outermost first: traffic accounting, authentication, limits (which record each
//! admitted call and the in-flight count), fault injection.

mod auth;
mod business;
mod catalogue;
mod contacts;
pub mod control;
pub mod decimal;
mod errors;
mod invoices;
mod limits;
mod listing;
pub mod model;
mod oauth;
mod request;
mod tokens;

use std::sync::Arc;

use axum::extract::FromRef;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use axum::Router;
use tokio_util::sync::CancellationToken;

pub use business::{LostAnswer, SageBusiness, IDEMPOTENCY_WINDOW};

use crate::faults::{self, FaultLayer};
use crate::traffic;

/// State of the API routes: the business and the sandbox's shutdown signal (which ends a held
/// answer early).
#[derive(Clone)]
pub struct Api {
    pub business: Arc<SageBusiness>,
    pub shutdown: CancellationToken,
}

impl FromRef<Api> for Arc<SageBusiness> {
    fn from_ref(api: &Api) -> Arc<SageBusiness> {
        api.business.clone()
    }
}

/// The router for one business, to be nested at its prefix.
pub fn router(business: Arc<SageBusiness>, shutdown: CancellationToken) -> Router {
    let api = Router::new()
        .route("/businesses", get(catalogue::businesses))
        .route("/businesses/{key}", get(catalogue::business))
        .route("/contacts", get(contacts::list).post(contacts::create))
        .route("/contacts/{key}", get(contacts::get_one))
        .route("/ledger_accounts", get(catalogue::ledger_accounts))
        .route("/ledger_accounts/{key}", get(catalogue::ledger_account))
        .route("/tax_rates", get(catalogue::tax_rates))
        .route("/tax_rates/{key}", get(catalogue::tax_rate))
        .route(
            "/sales_invoices",
            get(invoices::list).post(invoices::create),
        )
        .route("/sales_invoices/{key}", get(invoices::get_one))
        .route_layer(from_fn_with_state(
            FaultLayer {
                faults: business.faults.clone(),
                render: errors::render_fault,
                shutdown: shutdown.clone(),
            },
            faults::inject,
        ))
        .route_layer(from_fn_with_state(business.clone(), limits::limit))
        .route_layer(from_fn_with_state(business.clone(), auth::require_token))
        .route_layer(from_fn_with_state(business.traffic.clone(), traffic::count))
        .with_state(Api {
            business: business.clone(),
            shutdown,
        });
    Router::new()
        .route("/oauth2/auth/central", get(oauth::authorize))
        .route("/token", post(oauth::token))
        .nest("/v3.1", api)
        .fallback(auth::unknown_path)
        .with_state(business)
}
