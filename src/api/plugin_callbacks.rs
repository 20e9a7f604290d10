//! `/v1/plugin-callbacks/...`: what fulfilment-centre plugins call back with, authenticated by
//! the plugin's own callback token rather than an account's API token, so a plugin reaches only
//! its own store and nothing else of the account.
//!
//! `POST /v1/plugin-callbacks/fulfilments` records a shipment of an order routed to the plugin;
//! switchyard then pushes it to the order's sales channel like any fulfilment. The plugin's key
//! (its `Idempotency-Key`, else the tracking number) makes a repeated callback answer the
//! fulfilment it first made rather than a second shipment.
//!
//! `POST /v1/plugin-callbacks/stock` sets a product's plugin quantity (the stock the centre
//! holds) to an absolute figure. Absolute, so a lost or repeated report cannot drift the
//! figure; keyed, so a replay of an old report cannot undo a newer one.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;

use super::auth::{unauthorized, Principal};
use super::extract::ApiJson;
use super::idempotency::{is_valid_key, MAX_KEY};
use super::openapi::Problem;
use super::products::check_quantity;
use super::tenant::{conflict, db};
use super::AppState;
use crate::api::error::AppError;
use crate::domain::fulfilment::{check_tracking, RequestedLine};
use crate::store::fulfilments::{self, CreateError, Created, Fulfilment, NewFulfilment};
use crate::store::plugins::{self, CallbackCaller, ReportError, StockReport};
use crate::store::stock::StockError;

/// Set on the answer to a replayed report.
static REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/plugin-callbacks/stock", post(stock))
        .route("/plugin-callbacks/fulfilments", post(fulfilment))
}

/// The plugin whose callback token the request carries.
#[derive(Debug, Clone, Copy)]
pub struct Plugin(pub CallbackCaller);

impl FromRequestParts<AppState> for Plugin {
    type Rejection = Response;

    /// The plugin [`super::auth::authenticate`] proved; see [`super::tenant::Account`].
    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Response> {
        match parts.extensions.get::<Principal>() {
            Some(Principal::Plugin(caller)) => Ok(Plugin(*caller)),
            _ => Err(unauthorized()),
        }
    }
}

/// How many of a SKU the fulfilment centre holds now.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = StockCallback, example = json!({"sku": "MS-1", "quantity": 40}))]
struct StockBody {
    /// A product's SKU in the plugin's store.
    #[schema(pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$")]
    sku: String,
    /// The absolute figure held, not a change.
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    quantity: i64,
    /// The report's own id, for a plugin that cannot send an `Idempotency-Key` header: 1 to 255
    /// visible ASCII characters, the same as the header when both are sent.
    #[serde(default)]
    #[schema(pattern = r"^[!-~]{1,255}$")]
    report_id: Option<String>,
}

fn check_key(field: &str, value: &str) -> Result<String, AppError> {
    let value = value.trim();
    if !is_valid_key(value) {
        return Err(AppError::invalid(
            format!("`{field}` must be 1 to {MAX_KEY} visible ASCII characters"),
            Some(field.to_owned()),
        ));
    }
    Ok(value.to_owned())
}

/// The report's idempotency key: the `Idempotency-Key` header, else the body's `report_id`;
/// both, when they differ, is a mistake worth telling.
fn report_key(headers: &HeaderMap, body: &StockBody) -> Result<Option<String>, AppError> {
    let header = headers
        .get("idempotency-key")
        .map(|v| {
            v.to_str()
                .map_err(|_| AppError::BadRequest("`Idempotency-Key` must be visible ASCII".into()))
                .and_then(|v| check_key("Idempotency-Key", v))
        })
        .transpose()?;
    let body_key = body
        .report_id
        .as_deref()
        .map(|k| check_key("report_id", k))
        .transpose()?;
    match (header, body_key) {
        (Some(h), Some(b)) if h != b => Err(AppError::invalid(
            "`report_id` and the `Idempotency-Key` header differ; send one",
            Some("report_id".to_owned()),
        )),
        (h, b) => Ok(h.or(b)),
    }
}

/// Report a SKU's stock at the fulfilment centre.
///
/// Sets the product's plugin quantity to the figure and pushes the new available quantity to
/// every channel that syncs stock automatically. A report whose key (`Idempotency-Key`, else
/// `report_id`) was seen before changes nothing and answers `"replayed": true`, so a late retry
/// never undoes a newer count. An unknown SKU, or a kit's (report its components), is 422
/// naming `sku`.
#[utoipa::path(
    post, path = "/v1/plugin-callbacks/stock", operation_id = "reportPluginStock",
    tag = "Plugin callbacks",
    request_body = StockBody,
    responses(
        (status = 200, description = "Applied, replayed, or already so", body = StockReport,
         headers(("idempotent-replayed" = String, description = "`true` on a replayed report; absent otherwise"))),
        (status = 409, description = "The key was used before for another SKU or figure \
         (`conflict`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn stock(
    State(state): State<AppState>,
    Plugin(caller): Plugin,
    headers: HeaderMap,
    ApiJson(body): ApiJson<StockBody>,
) -> Result<Response, AppError> {
    let sku = body.sku.trim();
    if sku.is_empty() {
        return Err(AppError::invalid(
            "`sku` must not be empty",
            Some("sku".into()),
        ));
    }
    check_quantity("quantity", body.quantity)?;
    let key = report_key(&headers, &body)?;
    match plugins::report_stock(db(&state)?, &caller, sku, body.quantity, key.as_deref()).await {
        Ok(report) => {
            let replayed = report.replayed;
            let mut res = Json(report).into_response();
            if replayed {
                res.headers_mut()
                    .insert(REPLAYED.clone(), HeaderValue::from_static("true"));
            }
            Ok(res)
        }
        Err(ReportError::UnknownSku(sku)) => Err(AppError::invalid(
            format!("no product with SKU `{sku}` in the plugin's store"),
            Some("sku".to_owned()),
        )),
        Err(e @ ReportError::KeyReused(_)) => Ok(conflict(&e.to_string())),
        Err(ReportError::Stock(StockError::Invalid(e))) => {
            Err(AppError::invalid(e.reason, Some("sku".to_owned())))
        }
        Err(ReportError::Stock(StockError::Store(e))) | Err(ReportError::Store(e)) => Err(e.into()),
        Err(ReportError::Stock(other)) => Err(AppError::invalid(other.to_string(), None)),
    }
}

/// A parcel the fulfilment centre shipped.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = FulfilmentCallback, example = json!({
    "order_id": 2,
    "lines": [{"line_id": 2, "quantity": 1}],
    "carrier": "Royal Mail",
    "tracking_number": "TRKFC000123",
    "tracking_url": "https://track.example/TRKFC000123"
}))]
struct FulfilmentBody {
    /// switchyard's id of an order routed to the plugin.
    order_id: i64,
    /// The lines in this parcel, at least one.
    #[schema(min_items = 1)]
    lines: Vec<ShippedLine>,
    /// 1 to 255 characters, not blank, no control characters.
    #[schema(
        max_length = 255,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    carrier: String,
    /// 1 to 255 characters, not blank, no control characters. Without an `Idempotency-Key`, a
    /// repeated tracking number answers the fulfilment it first made.
    #[schema(
        max_length = 255,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    tracking_number: String,
    /// An absolute http(s) URL, at most 2048 characters.
    #[serde(default)]
    #[schema(max_length = 2048, pattern = r"^\s*(https?://\S|$)")]
    tracking_url: Option<String>,
    /// The plugin's own reference for the order, kept on it when given.
    #[serde(default)]
    reference: Option<String>,
}

/// A line of the order and how many of it the parcel holds.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ShippedLine)]
struct ShippedLine {
    /// The order line's `id`.
    line_id: i64,
    /// At least 1, at most what is left of the line once earlier fulfilments that have not
    /// failed are counted.
    #[schema(minimum = 1)]
    quantity: u32,
}

/// Report a shipment of an order routed to the plugin.
///
/// Records the fulfilment and pushes it to the order's sales channel like any other. The key
/// (`Idempotency-Key`, else the tracking number) makes a repeated callback answer the fulfilment
/// it first made. A line not of the order, or more than is left of it, is 422 naming the field.
#[utoipa::path(
    post, path = "/v1/plugin-callbacks/fulfilments", operation_id = "reportPluginFulfilment",
    tag = "Plugin callbacks",
    request_body = FulfilmentBody,
    responses(
        (status = 201, description = "Accepted; being sent to the channel", body = Fulfilment),
        (status = 200, description = "A repeat of a callback already accepted: the fulfilment \
         it made, with `Idempotent-Replayed: true`", body = Fulfilment,
         headers(("idempotent-replayed" = String, description = "`true`"))),
        (status = 404, description = "No such order routed to this plugin (`not-found`)",
         body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The key made a fulfilment of another order (`conflict`)",
         body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn fulfilment(
    State(state): State<AppState>,
    Plugin(caller): Plugin,
    headers: HeaderMap,
    ApiJson(body): ApiJson<FulfilmentBody>,
) -> Result<Response, AppError> {
    let pool = db(&state)?;
    let not_found = || AppError::NotFound(format!("order {} routed to this plugin", body.order_id));
    if !plugins::is_routed_to(pool, &caller, body.order_id).await? {
        return Err(not_found());
    }
    if body.lines.is_empty() {
        return Err(AppError::invalid(
            "`lines` must name at least one line shipped",
            Some("lines".to_owned()),
        ));
    }
    let tracking = check_tracking(
        Some(body.carrier.as_str()).filter(|c| !c.trim().is_empty()),
        Some(body.tracking_number.as_str()).filter(|n| !n.trim().is_empty()),
        body.tracking_url.as_deref(),
    )?;
    for (field, missing) in [
        ("carrier", tracking.carrier.is_none()),
        ("tracking_number", tracking.number.is_none()),
    ] {
        if missing {
            return Err(AppError::invalid(
                format!("`{field}` is required"),
                Some(field.to_owned()),
            ));
        }
    }
    let own_key = match headers.get("idempotency-key") {
        Some(v) => check_key(
            "Idempotency-Key",
            v.to_str().map_err(|_| {
                AppError::BadRequest("`Idempotency-Key` must be visible ASCII".into())
            })?,
        )?,
        None => format!("tracking:{}", body.tracking_number.trim()),
    };
    // Scoped to the plugin, so two plugins' keys never meet.
    let key = format!("plugin-{}:{own_key}", caller.plugin_id);
    let lines: Vec<RequestedLine> = body
        .lines
        .iter()
        .map(|l| RequestedLine {
            order_line_id: l.line_id,
            quantity: l.quantity,
        })
        .collect();
    let new = NewFulfilment {
        order_id: body.order_id,
        lines: Some(&lines),
        tracking: &tracking,
        idempotency_key: Some(&key),
    };
    match fulfilments::create(pool, caller.account, &new).await {
        Ok(Created {
            fulfilment,
            replayed,
        }) => {
            if let Some(reference) = body.reference.as_deref().map(str::trim) {
                if !reference.is_empty() && reference.len() <= MAX_KEY {
                    plugins::record_reference(pool, caller.plugin_id, body.order_id, reference)
                        .await?;
                }
            }
            let status = if replayed {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            };
            let mut res = (status, Json(fulfilment)).into_response();
            if replayed {
                res.headers_mut()
                    .insert(REPLAYED.clone(), HeaderValue::from_static("true"));
            }
            Ok(res)
        }
        Err(CreateError::OrderNotFound) => Err(not_found()),
        Err(e @ CreateError::KeyReused(_)) => Ok(conflict(&e.to_string())),
        Err(CreateError::Invalid(e)) => Err(e.into()),
        Err(CreateError::Store(e)) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(report_id: Option<&str>) -> StockBody {
        StockBody {
            sku: "A".into(),
            quantity: 1,
            report_id: report_id.map(str::to_owned),
        }
    }

    fn headers(key: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(key) {
            h.insert("idempotency-key", v);
        }
        h
    }

    #[test]
    fn the_key_comes_from_the_header_or_the_body_but_not_two_different_ones() {
        let key = |h: &HeaderMap, b| report_key(h, &body(b)).ok().flatten();
        assert_eq!(key(&HeaderMap::new(), None), None);
        assert_eq!(key(&headers("k1"), None).as_deref(), Some("k1"));
        assert_eq!(key(&HeaderMap::new(), Some("r1")).as_deref(), Some("r1"));
        assert_eq!(key(&headers("k1"), Some("k1")).as_deref(), Some("k1"));
        assert!(report_key(&headers("k1"), &body(Some("r1"))).is_err());
        assert!(report_key(&headers("has space"), &body(None)).is_err());
        assert!(report_key(&HeaderMap::new(), &body(Some(&"k".repeat(MAX_KEY + 1)))).is_err());
    }
}

/// This module's part of the OpenAPI document (see [`super::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi(paths(stock, fulfilment))]
pub(super) struct Doc;
