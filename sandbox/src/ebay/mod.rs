//! The eBay Sell APIs simulator for one seller, mounted at `/ebay/{name}`:
//!
//! - OAuth: `POST /identity/v1/oauth2/token`, the refresh token grant with HTTP Basic client
//!   credentials, answering a User access token good for 7,200 seconds ([`oauth`]).
//! - Fulfillment API v1 (eBay's `sell_fulfillment_v1_oas3` document, version v1.20.0):
//!   `getOrders`, `getOrder`, `createShippingFulfillment`, `getShippingFulfillments`,
//!   `getShippingFulfillment` under `/sell/fulfillment/v1`.
//! - Inventory API v1 (`sell_inventory_v1_oas3`, version 1.17): `bulkUpdatePriceQuantity`,
//!   `getInventoryItems`, `getOffers` under `/sell/inventory/v1`.
//!
//! Errors use eBay's envelope `{"errors": [{errorId, domain, category, message, ...}]}`.
//! Layers on the APIs, outermost first: traffic accounting, bearer token check, the per-second
//! call limit (which also counts calls per API per day), then fault injection. The token
//! endpoint is counted only. eBay's order notifications (Notification API) are not simulated.

pub mod config;
mod errors;
mod fulfillment;
mod inventory;
mod limits;
pub mod model;
mod oauth;
mod orders;
mod store;
mod tokens;

use std::sync::Arc;

use axum::middleware::from_fn_with_state;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use tokio_util::sync::CancellationToken;

pub use config::EbaySellerConfig;
pub use inventory::MAX_BULK;
pub use orders::{parse_filter, OrderFilter};
pub use store::{EbayState, EbayStore, Listing};

use crate::faults::{self, FaultLayer, InjectedFault};
use crate::traffic;

/// Wraps an API's routes in the layers every call passes.
fn layered(
    routes: Router<Arc<EbayStore>>,
    store: &Arc<EbayStore>,
    render: fn(InjectedFault) -> Response,
    shutdown: CancellationToken,
) -> Router {
    routes
        .route_layer(from_fn_with_state(
            FaultLayer {
                faults: store.common.faults.clone(),
                render,
                shutdown,
            },
            faults::inject,
        ))
        .route_layer(from_fn_with_state(store.clone(), limits::limit))
        .route_layer(from_fn_with_state(store.clone(), oauth::require_token))
        .route_layer(from_fn_with_state(
            store.common.traffic.clone(),
            traffic::count,
        ))
        .with_state(store.clone())
}

/// The router for one seller, to be nested at the seller's prefix.
pub fn router(store: Arc<EbayStore>, shutdown: CancellationToken) -> Router {
    let fulfillment = Router::new()
        .route("/sell/fulfillment/v1/order", get(orders::list))
        .route(
            "/sell/fulfillment/v1/order/{order_id}",
            get(orders::get_one),
        )
        .route(
            "/sell/fulfillment/v1/order/{order_id}/shipping_fulfillment",
            get(fulfillment::list).post(fulfillment::create),
        )
        .route(
            "/sell/fulfillment/v1/order/{order_id}/shipping_fulfillment/{fulfillment_id}",
            get(fulfillment::get_one),
        );
    let inventory = Router::new()
        .route(
            "/sell/inventory/v1/bulk_update_price_quantity",
            post(inventory::bulk_update),
        )
        .route("/sell/inventory/v1/inventory_item", get(inventory::items))
        .route("/sell/inventory/v1/offer", get(inventory::offers));
    Router::new()
        .route("/identity/v1/oauth2/token", post(oauth::token))
        .route_layer(from_fn_with_state(
            store.common.traffic.clone(),
            traffic::count,
        ))
        .with_state(store.clone())
        .merge(layered(
            fulfillment,
            &store,
            errors::render_fulfillment_fault,
            shutdown.clone(),
        ))
        .merge(layered(
            inventory,
            &store,
            errors::render_inventory_fault,
            shutdown,
        ))
        .fallback(|| async { errors::no_route() })
}
