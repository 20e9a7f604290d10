//! The Xero simulator: one organisation (tenant) and the app connected to it, mounted at
//! `{root}/xero/{name}`. A connector swaps Xero's three hosts for that one base URL:
//!
//! - login.xero.com: `GET {base}/identity/connect/authorize`
//! - identity.xero.com: `POST {base}/connect/token`
//! - api.xero.com: `GET {base}/connections` and the Accounting API under `{base}/api.xro/2.0/`:
//!   `Contacts` (GET with `where`/`IDs`/`searchTerm`/paging, PUT and POST), `Contacts/{id}`,
//!   `Items` (GET, PUT), `Invoices` (GET with `where`, `IDs`, `InvoiceNumbers`, `ContactIDs`,
//!   `Statuses`, `order`, `page`/`pageSize`; PUT creates, POST updates or creates),
//!   `Invoices/{id}` (GET, POST), `Payments` (PUT), `Accounts` and `TaxRates` (GET).
//!
//! Followed: Xero's OpenAPI documents in XeroAPI/Xero-OpenAPI, `xero_accounting.yaml` and
//! `xero-identity.yaml` version 16.1.0 (paths, parameters, schemas and their response examples,
//! e.g. `DateString` beside `Date` and the response envelope), checked in the tests against the
//! models of Xero's official Python SDK xero-python 15.2.0 (generated from the same document,
//! version 19.0.0); and the developer documentation for what the document leaves out: the OAuth
//! 2.0 flow (30-minute access tokens; refresh tokens rotate, a spent one is accepted again for 30
//! minutes, unused ones expire after 60 days; codes last 5 minutes), the limits (5 in progress,
//! 60 a minute and 5,000 a day per tenant in fixed windows (the minute's length configurable, to
//! run a client on a compressed clock), `X-Rate-Limit-Problem`, `Retry-After`
//! on the windowed limits, the `X-*Limit-Remaining` headers), the error shapes of its
//! troubleshooting and HTTP response code pages, and `Idempotency-Key`.
//!
//! Layers on the Accounting API, outermost first: traffic accounting, token and tenant checks,
//! rate limits, fault injection, lost answers, idempotency replay. The identity endpoints are
//! counted but neither limited nor faulted.
//!
//! Not simulated: XML, attachments, credit notes and other resources, multi-currency, tracking
//! categories, scope enforcement on API calls, `If-Modified-Since`, OpenID Connect `id_token`s,
//! the token revocation endpoint.

mod auth;
mod books;
pub mod config;
pub mod control;
mod errors;
mod filter;
mod identity;
mod limits;
mod listing;
mod model;
mod oauth;
mod replay;
mod resources;
mod store;
mod totals;
mod wire;
mod writes;

use std::sync::Arc;

use axum::middleware::from_fn_with_state;
use axum::routing::{get, post, put};
use axum::Router;
use tokio_util::sync::CancellationToken;

pub use config::{XeroLimits, XeroOrgConfig, XeroTaxRateConfig};
pub use store::{LostAnswer, XeroOrg};

use crate::faults::{self, FaultLayer};
use crate::traffic;

/// The router for one organisation, to be nested at its prefix.
pub fn router(org: Arc<XeroOrg>, shutdown: CancellationToken) -> Router {
    use resources as r;
    let api = Router::new()
        .route(
            "/Contacts",
            get(r::get_contacts)
                .put(r::write_contacts)
                .post(r::write_contacts),
        )
        .route("/Contacts/{id}", get(r::get_contact))
        .route("/Items", get(r::get_items).put(r::create_items))
        .route(
            "/Invoices",
            get(r::get_invoices)
                .put(r::create_invoices)
                .post(r::update_or_create_invoices),
        )
        .route(
            "/Invoices/{id}",
            get(r::get_invoice).post(r::update_invoice),
        )
        .route("/Payments", put(r::create_payments))
        .route("/Accounts", get(r::get_accounts))
        .route("/TaxRates", get(r::get_tax_rates))
        .route_layer(from_fn_with_state(org.clone(), replay::idempotent))
        .route_layer(from_fn_with_state(
            replay::LostLayer {
                org: org.clone(),
                shutdown: shutdown.clone(),
            },
            replay::lose,
        ))
        .route_layer(from_fn_with_state(
            FaultLayer {
                faults: org.faults.clone(),
                render: errors::render_fault,
                shutdown,
            },
            faults::inject,
        ))
        .route_layer(from_fn_with_state(org.clone(), limits::limit))
        .route_layer(from_fn_with_state(org.clone(), auth::require_tenant))
        .route_layer(from_fn_with_state(org.traffic.clone(), traffic::count))
        .with_state(org.clone());
    Router::new()
        .route("/identity/connect/authorize", get(oauth::authorize))
        .route("/connect/token", post(oauth::token))
        .route("/connections", get(oauth::connections))
        .route("/Connections", get(oauth::connections))
        .route_layer(from_fn_with_state(org.traffic.clone(), traffic::count))
        .with_state(org)
        .nest("/api.xro/2.0", api)
        .fallback(|| async { errors::not_found() })
}
