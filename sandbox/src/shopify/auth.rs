//! Access-token authentication: an Admin API token in `X-Shopify-Access-Token`, either the
//! configured one (a custom app's) or one the authorization code grant issued.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::errors::unauthorized;
use super::store::ShopifyStore;

pub async fn require_token(
    State(store): State<Arc<ShopifyStore>>,
    req: Request,
    next: Next,
) -> Response {
    let presented = req
        .headers()
        .get("x-shopify-access-token")
        .and_then(|v| v.to_str().ok());
    match presented {
        Some(token) if store.token_valid(token) => next.run(req).await,
        _ => unauthorized(),
    }
}
