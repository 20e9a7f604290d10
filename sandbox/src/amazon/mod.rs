//! An Amazon seller account as the Selling Partner API shows it, mounted at `/amazon/{name}`:
//!
//! - Login with Amazon's token endpoint, `POST /auth/o2/token` (refresh token grant);
//! - Orders API v0 (`models/orders-api-model/ordersV0.json`, version `v0`): `getOrders`,
//!   `getOrder`, `getOrderItems`, `confirmShipment`;
//! - Listings Items API 2021-08-01 (`models/listings-items-api-model/listingsItems_2021-08-01.json`):
//!   `getListingsItem`, `patchListingsItem`, `searchListingsItems`.
//!
//! The models are those of `amzn/selling-partner-api-models` at commit
//! `34dc93fe45f37c9a0b2e56823c808f68b4f81754`. One base URL serves every region; the request
//! signing (AWS SigV4) that SP-API dropped in 2023 is not asked for.
//!
//! Layers on SP-API, outermost first: traffic accounting, `x-amzn-RequestId`, the access token
//! check (403 `Unauthorized`), the operation's usage plan (429 `QuotaExceeded`,
//! `x-amzn-RateLimit-Limit`), fault injection. The token endpoint is counted but not faulted.
//! Amazon sends no order webhooks (its notifications go through SQS), so none are sent here.

pub mod config;
mod errors;
mod limits;
mod listings;
mod lwa;
pub mod model;
mod orders;
mod store;

use std::sync::Arc;

use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post};
use axum::Router;
use tokio_util::sync::CancellationToken;

pub use config::{AmazonRateLimits, AmazonSellerConfig, OperationLimit};
pub use store::{AmazonSeller, AmazonState};

use crate::faults::{self, FaultLayer};
use crate::traffic;

/// The router for one seller, to be nested at its prefix.
pub fn router(seller: Arc<AmazonSeller>, shutdown: CancellationToken) -> Router {
    let api = Router::new()
        .route("/orders/v0/orders", get(orders::list))
        .route("/orders/v0/orders/{order_id}", get(orders::get_one))
        .route(
            "/orders/v0/orders/{order_id}/orderItems",
            get(orders::items),
        )
        .route(
            "/orders/v0/orders/{order_id}/shipmentConfirmation",
            post(orders::confirm_shipment),
        )
        .route(
            "/listings/2021-08-01/items/{seller_id}/{sku}",
            get(listings::get_item).patch(listings::patch_item),
        )
        .route(
            "/listings/2021-08-01/items/{seller_id}",
            get(listings::search),
        )
        .route_layer(from_fn_with_state(
            FaultLayer {
                faults: seller.common.faults.clone(),
                render: errors::render_fault,
                shutdown,
            },
            faults::inject,
        ))
        .route_layer(from_fn_with_state(seller.clone(), limits::limit))
        .route_layer(from_fn_with_state(seller.clone(), lwa::authenticate))
        .route_layer(from_fn(limits::request_id))
        .route_layer(from_fn_with_state(
            seller.common.traffic.clone(),
            traffic::count,
        ))
        .with_state(seller.clone());
    Router::new()
        .route("/auth/o2/token", post(lwa::token))
        .route_layer(from_fn_with_state(
            seller.common.traffic.clone(),
            traffic::count,
        ))
        .with_state(seller)
        .merge(api)
        .fallback(|| async { errors::no_route() })
}
