//! The Shopify Admin API simulator, mounted at a shop's base URL and serving, for any version
//! string, the REST surface `/admin/api/{version}/...` and the GraphQL surface
//! `/admin/api/{version}/graphql.json` (see [`graphql`]) over one state; and the authorization
//! code grant that installs an app on the shop (`/admin/oauth/authorize`,
//! `/admin/oauth/access_token`).
//!
//! Layers on the REST API, outermost first: traffic accounting, access-token auth, the
//! leaky-bucket rate limit (so even injected faults carry `X-Shopify-Shop-Api-Call-Limit`), then
//! fault injection. GraphQL has the same layers but its own cost bucket in place of the leaky
//! bucket. The OAuth endpoints are counted but neither limited nor faulted; so are the results of
//! bulk operations (`/bulk-results/{token}.jsonl`), which need no token, like a signed URL.

mod auth;
mod errors;
mod fulfillments;
mod grants;
pub mod graphql;
mod inventory;
pub mod model;
pub mod oauth;
mod orders;
mod paging;
mod products;
mod ratelimit;
mod store;
mod webhooks;

use std::sync::Arc;

use axum::middleware::from_fn_with_state;
use axum::routing::{delete, get, post};
use axum::Router;
use tokio_util::sync::CancellationToken;

pub use grants::IssuedToken;
pub use orders::OrderFilters;
pub use store::{ShopState, ShopifyStore};
pub use webhooks::TOPICS as WEBHOOK_TOPICS;

use crate::faults::{self, FaultLayer};
use crate::traffic;
use graphql::GraphqlApi;

/// The router for one shop, to be nested at the shop's prefix.
pub fn router(store: Arc<ShopifyStore>, shutdown: CancellationToken) -> Router {
    let graphql_api = GraphqlApi {
        store: store.clone(),
        shutdown: shutdown.clone(),
    };
    let graphql = Router::new()
        .route("/graphql.json", post(graphql::execute))
        .route_layer(from_fn_with_state(
            FaultLayer {
                faults: store.common.faults.clone(),
                render: graphql::render_fault,
                shutdown: shutdown.clone(),
            },
            faults::inject,
        ))
        .route_layer(from_fn_with_state(
            graphql_api.clone(),
            graphql::complete_injected_throttle,
        ))
        .route_layer(from_fn_with_state(store.clone(), auth::require_token))
        .route_layer(from_fn_with_state(
            store.common.traffic.clone(),
            traffic::count,
        ))
        .with_state(graphql_api);
    let api = Router::new()
        .route("/shop.json", get(products::shop))
        .route("/locations.json", get(products::locations))
        .route("/products.json", get(products::list))
        .route("/products/{file}", get(products::get_one))
        .route("/orders.json", get(orders::list))
        .route("/orders/{file}", get(orders::get_one))
        .route(
            "/orders/{id}/fulfillment_orders.json",
            get(fulfillments::list_fulfillment_orders),
        )
        .route(
            "/orders/{id}/fulfillments.json",
            get(fulfillments::list_fulfillments),
        )
        .route("/fulfillments.json", post(fulfillments::create))
        .route("/inventory_items.json", get(inventory::items))
        .route("/inventory_levels.json", get(inventory::list))
        .route("/inventory_levels/set.json", post(inventory::set))
        .route("/inventory_levels/adjust.json", post(inventory::adjust))
        .route("/webhooks.json", get(webhooks::list).post(webhooks::create))
        .route("/webhooks/{file}", delete(webhooks::delete))
        .route_layer(from_fn_with_state(
            FaultLayer {
                faults: store.common.faults.clone(),
                render: errors::render_fault,
                shutdown,
            },
            faults::inject,
        ))
        .route_layer(from_fn_with_state(store.clone(), ratelimit::limit))
        .route_layer(from_fn_with_state(store.clone(), auth::require_token))
        .route_layer(from_fn_with_state(
            store.common.traffic.clone(),
            traffic::count,
        ))
        .with_state(store.clone())
        .merge(graphql);
    Router::new()
        .route("/admin/oauth/authorize", get(oauth::authorize))
        .route("/admin/oauth/access_token", post(oauth::access_token))
        .route("/bulk-results/{file}", get(graphql::bulk_download))
        .route_layer(from_fn_with_state(
            store.common.traffic.clone(),
            traffic::count,
        ))
        .with_state(store)
        .nest("/admin/api/{version}", api)
        .fallback(|| async { errors::not_found() })
}
