//! The WooCommerce REST v3 simulator, mounted at a store's site URL: `/wp-json/wc/v3/...` and the
//! Shipment Tracking extension's `/wp-json/wc-shipment-tracking/v3/...`, and the key granting flow
//! through which a merchant gives an app its REST API keys (`/wc-auth/v1/authorize`).
//!
//! Layers on the REST API, outermost first: traffic accounting, authentication (Basic or OAuth
//! 1.0a), fault injection. The key granting endpoint is counted but not faulted.

mod auth;
mod errors;
pub mod keys;
pub mod model;
mod notes;
pub mod oauth;
mod orders;
mod params;
mod products;
mod store;
mod tracking;
mod wc_auth;
mod webhooks;

use std::sync::Arc;

use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use axum::Router;
use tokio_util::sync::CancellationToken;

pub use keys::{IssuedKey, Permissions};
pub use store::{WooState, WooStore};
pub use webhooks::TOPICS as WEBHOOK_TOPICS;

use crate::faults::{self, FaultLayer};
use crate::traffic;

/// The router for one store, to be nested at the store's prefix.
pub fn router(store: Arc<WooStore>, shutdown: CancellationToken) -> Router {
    let api = Router::new()
        .route("/wp-json/wc/v3/orders", get(orders::list))
        .route(
            "/wp-json/wc/v3/orders/{id}",
            get(orders::get_one)
                .put(orders::update)
                .post(orders::update),
        )
        .route(
            "/wp-json/wc/v3/orders/{id}/notes",
            get(notes::list).post(notes::create),
        )
        .route("/wp-json/wc/v3/products", get(products::list))
        .route("/wp-json/wc/v3/products/batch", post(products::batch))
        .route(
            "/wp-json/wc/v3/products/{id}/variations/batch",
            post(products::variations_batch),
        )
        .route(
            "/wp-json/wc/v3/products/{id}",
            get(products::get_one)
                .put(products::update)
                .post(products::update),
        )
        .route(
            "/wp-json/wc/v3/products/{id}/variations",
            get(products::variations),
        )
        .route(
            "/wp-json/wc/v3/products/{id}/variations/{vid}",
            get(products::variation)
                .put(products::update_variation)
                .post(products::update_variation),
        )
        .route(
            "/wp-json/wc/v3/webhooks",
            get(webhooks::list).post(webhooks::create),
        )
        .route(
            "/wp-json/wc-shipment-tracking/v3/orders/{id}/shipment-trackings",
            get(tracking::list).post(tracking::create),
        )
        .route_layer(from_fn_with_state(
            FaultLayer {
                faults: store.common.faults.clone(),
                render: errors::render_fault,
                shutdown,
            },
            faults::inject,
        ))
        .route_layer(from_fn_with_state(store.clone(), auth::authenticate))
        .route_layer(from_fn_with_state(
            store.common.traffic.clone(),
            traffic::count,
        ))
        .with_state(store.clone());
    Router::new()
        .route("/wc-auth/v1/authorize", get(wc_auth::authorize))
        .route_layer(from_fn_with_state(
            store.common.traffic.clone(),
            traffic::count,
        ))
        .with_state(store)
        .merge(api)
        .fallback(|| async { errors::no_route() })
}
