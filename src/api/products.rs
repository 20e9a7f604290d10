//! `/v1/products`: each store's main catalogue, its stock and its kits.
//!
//! Stock is never written as a bare number: a set, an adjustment or an admin's plugin figure is
//! a movement in the ledger, and every response carries the available quantity computed by the
//! same rule the channels get. An adjustment must carry an `Idempotency-Key`, because a delta
//! retried after a lost response would otherwise be counted twice; the key is the movement's
//! cause, so a replay answers the very same body.
//!
//! Every change commits with its event (`product.created`, `product.updated`, for stock
//! movements too), written by the store in the change's own transaction.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use ulid::Ulid;

use super::extract::{ApiJson, ApiQuery};
use super::stock_sync::after_stock_change;
use super::tenant::{conflict, created, db, found, Account, IdPage, PageQuery};
use super::AppState;
use crate::api::error::AppError;
use crate::domain::stock::{is_adjustment, is_settable, MAX_QUANTITY};
use crate::domain::FieldError;
use crate::store::products::{self, Deleted, NewProduct, ProductUpdate};
use crate::store::stock::{self, StockChange, StockError};
use crate::store::StoreError;

/// Longest SKU and title.
const MAX_SKU: usize = 200;
const MAX_TITLE: usize = 500;

/// Set on the answer to a replayed adjustment, whose body is the first answer's.
static REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/products", get(list).post(create))
        .route("/products/{id}", get(read).patch(update).delete(remove))
        .route("/products/{id}/stock", put(set_stock))
        .route("/products/{id}/stock/adjust", post(adjust_stock))
        .route("/products/{id}/plugin-stock", put(set_plugin_stock))
        .route("/products/{id}/components", put(set_components))
        .route("/products/{id}/movements", get(movements))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateProduct {
    store_id: i64,
    sku: String,
    title: String,
    #[serde(default)]
    api_quantity: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateProduct {
    #[serde(default)]
    sku: Option<String>,
    #[serde(default)]
    title: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SetStock {
    api_quantity: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdjustStock {
    delta: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SetPluginStock {
    plugin_quantity: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Component {
    product_id: i64,
    quantity: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    store_id: Option<i64>,
    sku: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
}

fn not_found(id: i64) -> AppError {
    AppError::NotFound(format!("product {id}"))
}

fn invalid(field: &str, detail: impl Into<String>) -> AppError {
    AppError::invalid(detail, Some(field.to_owned()))
}

/// A SKU: trimmed, 1 to `MAX_SKU` characters, no control characters (channels would refuse it,
/// and it could not be matched against theirs).
fn check_sku(sku: &str) -> Result<&str, AppError> {
    let sku = sku.trim();
    if sku.is_empty() || sku.chars().count() > MAX_SKU || sku.chars().any(char::is_control) {
        return Err(invalid(
            "sku",
            format!("`sku` must be 1 to {MAX_SKU} characters without control characters"),
        ));
    }
    Ok(sku)
}

fn check_title(title: &str) -> Result<&str, AppError> {
    let title = title.trim();
    if title.is_empty() || title.chars().count() > MAX_TITLE {
        return Err(invalid(
            "title",
            format!("`title` must be 1 to {MAX_TITLE} characters"),
        ));
    }
    Ok(title)
}

/// An absolute quantity (0..=`MAX_QUANTITY`).
pub(super) fn check_quantity(field: &str, value: i64) -> Result<i64, AppError> {
    if !is_settable(value) {
        return Err(invalid(
            field,
            format!("`{field}` must be between 0 and {MAX_QUANTITY}"),
        ));
    }
    Ok(value)
}

/// The `Idempotency-Key` header, required: see [`super::idempotency::parse_key`].
fn idempotency_key(headers: &HeaderMap) -> Result<String, AppError> {
    let value = headers.get("idempotency-key").ok_or_else(|| {
        AppError::BadRequest(
            "an adjustment needs an `Idempotency-Key` header, so a retry is not counted twice"
                .into(),
        )
    })?;
    super::idempotency::parse_key(value)
}

/// A stock or catalogue refusal as the client should see it: a reused key or a taken SKU is a
/// 409, a missing store a 422 on `store_id`, a missing product a 404.
fn refusal(id: i64, err: StockError) -> Result<Response, AppError> {
    match err {
        StockError::NotFound(_) => Err(not_found(id)),
        StockError::Invalid(e) => Err(e.into()),
        e @ StockError::KeyReused { .. } => Ok(conflict(&e.to_string())),
        StockError::Store(StoreError::Conflict(detail)) => Ok(conflict(&detail)),
        StockError::Store(StoreError::MissingParent("store")) => Err(invalid(
            "store_id",
            "`store_id` is not a store of this account",
        )),
        StockError::Store(other) => Err(other.into()),
    }
}

async fn create(
    State(state): State<AppState>,
    Account(account): Account,
    ApiJson(body): ApiJson<CreateProduct>,
) -> Result<Response, AppError> {
    let sku = check_sku(&body.sku)?;
    let title = check_title(&body.title)?;
    let api_quantity = body
        .api_quantity
        .map(|q| check_quantity("api_quantity", q))
        .transpose()?;
    let new = NewProduct {
        store_id: body.store_id,
        sku,
        title,
        api_quantity,
    };
    match products::create(db(&state)?, account, &new).await {
        Ok(product) => Ok(created(format!("/v1/products/{}", product.id), product)),
        Err(e) => refusal(0, e),
    }
}

async fn list(
    State(state): State<AppState>,
    Account(account): Account,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, AppError> {
    let page = IdPage::new(q.limit, q.cursor.as_deref())?;
    let rows = products::list(
        db(&state)?,
        account,
        q.store_id,
        q.sku.as_deref(),
        page.cursor,
        page.fetch(),
    )
    .await?;
    Ok(page.of(rows, |p| p.id).into_response())
}

async fn read(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    product_answer(&state, account, id).await
}

async fn update(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<UpdateProduct>,
) -> Result<Response, AppError> {
    let change = ProductUpdate {
        sku: body.sku.as_deref().map(check_sku).transpose()?,
        title: body.title.as_deref().map(check_title).transpose()?,
    };
    match products::update(db(&state)?, account, id, &change).await {
        Ok(product) => found(product, || not_found(id)),
        Err(e) => refusal(id, e.into()),
    }
}

async fn remove(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    match products::delete(db(&state)?, account, id).await? {
        Deleted::Deleted => Ok(StatusCode::NO_CONTENT.into_response()),
        Deleted::NotFound => Err(not_found(id)),
        Deleted::InKits(kits) => Ok(conflict(&format!(
            "product {id} is a component of kit(s) {kits:?}; change their components first"
        ))),
    }
}

/// The product as a read shows it: the answer to a read and to a stock change.
async fn product_answer(
    state: &AppState,
    account: crate::store::AccountId,
    id: i64,
) -> Result<Response, AppError> {
    found(products::get(db(state)?, account, id).await?, || {
        not_found(id)
    })
}

async fn set_stock(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<SetStock>,
) -> Result<Response, AppError> {
    let quantity = check_quantity("api_quantity", body.api_quantity)?;
    // A PUT is idempotent by its nature; each one is its own cause in the ledger.
    let cause = Ulid::new().to_string();
    match stock::set_api_quantity(db(&state)?, account, id, quantity, &cause).await {
        Ok(_) => {
            after_stock_change(&state, &[id]).await?;
            product_answer(&state, account, id).await
        }
        Err(e) => refusal(id, e),
    }
}

async fn adjust_stock(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<AdjustStock>,
) -> Result<Response, AppError> {
    let key = idempotency_key(&headers)?;
    if !is_adjustment(body.delta) {
        return Err(invalid(
            "delta",
            format!("`delta` must be non-zero and at most {MAX_QUANTITY} either way"),
        ));
    }
    match stock::adjust_api_quantity(db(&state)?, account, id, body.delta, &key).await {
        Ok(StockChange { movement, replayed }) => {
            if !replayed {
                after_stock_change(&state, &[id]).await?;
            }
            let mut res = Json(movement).into_response();
            if replayed {
                res.headers_mut()
                    .insert(REPLAYED.clone(), HeaderValue::from_static("true"));
            }
            Ok(res)
        }
        Err(e) => refusal(id, e),
    }
}

async fn set_plugin_stock(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<SetPluginStock>,
) -> Result<Response, AppError> {
    let quantity = check_quantity("plugin_quantity", body.plugin_quantity)?;
    let cause = format!("admin:{}", Ulid::new());
    match stock::set_plugin_quantity_for(db(&state)?, account, id, quantity, &cause).await {
        Ok(_) => {
            after_stock_change(&state, &[id]).await?;
            product_answer(&state, account, id).await
        }
        Err(e) => refusal(id, e),
    }
}

/// The components body: a JSON array, which `ApiJson` (objects only) does not take. Same
/// answers: 400 when it is not JSON, 422 naming the entry (`[1].quantity`) when it is the wrong
/// shape.
fn decode_components(headers: &HeaderMap, body: &[u8]) -> Result<Vec<Component>, AppError> {
    if !super::extract::is_json(headers) {
        return Err(AppError::BadRequest(
            "expected a JSON body sent with `Content-Type: application/json`".into(),
        ));
    }
    let value = super::extract::parse(body)?;
    if !value.is_array() {
        return Err(AppError::invalid(
            "the body must be a JSON array of `{\"product_id\", \"quantity\"}`",
            None,
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|e| FieldError::from_serde(e).into())
}

async fn set_components(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let components = decode_components(&headers, &body)?;
    let pairs: Vec<(i64, i64)> = components
        .iter()
        .map(|c| (c.product_id, c.quantity))
        .collect();
    match products::set_components(db(&state)?, account, id, &pairs).await {
        Ok(product) => {
            after_stock_change(&state, &[id]).await?;
            Ok(Json(product).into_response())
        }
        Err(e) => refusal(id, e),
    }
}

async fn movements(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Response, AppError> {
    let page = q.page()?;
    let rows = stock::movements(db(&state)?, account, id, page.cursor, page.fetch())
        .await?
        .ok_or_else(|| not_found(id))?;
    Ok(page.of(rows, |m| m.id).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        h
    }

    fn field(result: Result<Vec<Component>, AppError>) -> Option<String> {
        match result {
            Err(AppError::Invalid { field, .. }) => field,
            other => panic!("expected a 422, got {other:?}"),
        }
    }

    #[test]
    fn components_decode_from_an_array_and_errors_name_the_entry() {
        let ok = decode_components(
            &json_headers(),
            br#"[{"product_id": 1, "quantity": 2}, {"product_id": 3, "quantity": 1}]"#,
        );
        assert_eq!(ok.map(|c| c.len()).ok(), Some(2));
        assert_eq!(
            field(decode_components(
                &json_headers(),
                br#"[{"product_id": 1, "quantity": 2}, {"product_id": 3}]"#
            ))
            .as_deref(),
            Some("[1].quantity")
        );
        assert_eq!(
            field(decode_components(
                &json_headers(),
                br#"[{"product_id": "x", "quantity": 2}]"#
            ))
            .as_deref(),
            Some("[0].product_id")
        );
        assert_eq!(
            field(decode_components(&json_headers(), br#"{"product_id": 1}"#)),
            None
        );
        assert!(matches!(
            decode_components(&json_headers(), b"[{"),
            Err(AppError::BadRequest(_))
        ));
        assert!(matches!(
            decode_components(&HeaderMap::new(), b"[]"),
            Err(AppError::BadRequest(_))
        ));
    }

    #[test]
    fn idempotency_keys_are_required_and_bounded() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_str(v) {
                h.insert("idempotency-key", v);
            }
            idempotency_key(&h)
        };
        assert_eq!(with("k-1").ok().as_deref(), Some("k-1"));
        assert!(matches!(
            idempotency_key(&HeaderMap::new()),
            Err(AppError::BadRequest(_))
        ));
        assert!(with("").is_err());
        assert!(with("has space").is_err());
        assert!(with(&"k".repeat(super::super::idempotency::MAX_KEY + 1)).is_err());
    }

    #[test]
    fn skus_titles_and_quantities_are_checked() {
        assert_eq!(check_sku("  AB-1 ").ok(), Some("AB-1"));
        assert!(check_sku(" ").is_err());
        assert!(check_sku("a\tb").is_err());
        assert!(check_sku(&"x".repeat(MAX_SKU + 1)).is_err());
        assert!(check_title("").is_err());
        assert!(check_quantity("api_quantity", -1).is_err());
        assert!(check_quantity("api_quantity", MAX_QUANTITY + 1).is_err());
        assert_eq!(check_quantity("api_quantity", 0).ok(), Some(0));
    }
}

/// This module's part of the OpenAPI document (see [`super::openapi`]).
#[derive(utoipa::OpenApi)]
#[openapi()]
pub(super) struct Doc;
