//! Access-token authentication: a custom app's Admin API token in `X-Shopify-Access-Token`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::errors::unauthorized;
use super::store::ShopifyStore;
use crate::http_util::constant_time_eq;

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
        Some(token) if constant_time_eq(token.as_bytes(), store.access_token().as_bytes()) => {
            next.run(req).await
        }
        _ => unauthorized(),
    }
}
