//! The API describing itself: `/openapi.json` (the OpenAPI 3.1 document, [`super::openapi`]),
//! `/postman.json` (the same as a Postman collection, [`super::postman`]) and `/docs`, the
//! reference page: Swagger UI, whose JavaScript and CSS are built into the binary, so the page
//! works with no network access.

use std::sync::LazyLock;

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use utoipa_swagger_ui::{Config, SwaggerUi};

use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(openapi))
        .route("/postman.json", get(postman))
        .merge(docs())
}

/// The document and the collection made from it, each built once, as JSON text: they depend on
/// the code alone.
static CONTRACT: LazyLock<(String, String)> = LazyLock::new(|| {
    let doc = super::openapi::document();
    (
        doc.to_string(),
        super::postman::collection(&doc).to_string(),
    )
});

fn json(body: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

/// The OpenAPI 3.1 document of this API.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "Contract",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object)),
)]
async fn openapi() -> Response {
    json(CONTRACT.0.as_str())
}

/// This API as a Postman collection (v2.1), with `{{base_url}}` and `{{token}}` variables.
#[utoipa::path(
    get,
    path = "/postman.json",
    tag = "Contract",
    responses((status = 200, description = "A Postman collection, schema v2.1.0", content_type = "application/json", body = Object)),
)]
async fn postman() -> Response {
    json(CONTRACT.1.as_str())
}

/// The reference page, rendered from `/openapi.json` by the Swagger UI served with it.
#[utoipa::path(
    get,
    path = "/docs",
    tag = "Contract",
    responses((status = 303, description = "To `/docs/`, the page itself (HTML)", headers(("location" = String, description = "`/docs/`")))),
)]
#[allow(dead_code)] // Served by the Swagger UI router; here for the document.
async fn docs_page() {}

fn docs() -> Router<AppState> {
    let config = Config::new(["/openapi.json"])
        // Swagger UI would otherwise send the document to validator.swagger.io for a badge.
        .validator_url("none")
        .try_it_out_enabled(true)
        .persist_authorization(false);
    SwaggerUi::new("/docs").config(config).into()
}

/// This module's part of the OpenAPI document (see [`super::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi(paths(openapi, postman, docs_page))]
pub(super) struct Doc;
