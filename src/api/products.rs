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
use super::openapi::Problem;
use super::stock_sync::after_stock_change;
use super::tenant::{conflict, created, db, found, Account, IdPage, Page, PageQuery};
use super::AppState;
use crate::api::error::AppError;
use crate::domain::stock::{is_adjustment, is_settable, MAX_QUANTITY};
use crate::domain::FieldError;
use crate::store::products::{self, Deleted, NewProduct, ProductRow, ProductUpdate};
use crate::store::stock::{self, Movement, StockChange, StockError};
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

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"store_id": 1, "sku": "TENT-2P", "title": "Two-person tent", "api_quantity": 14}))]
struct CreateProduct {
    /// One of the account's stores.
    store_id: i64,
    /// 1 to 200 characters without control characters, trimmed; unique in the store.
    sku: String,
    /// 1 to 500 characters, trimmed.
    title: String,
    /// The opening API quantity, 0 to 1000000000, written to the ledger as a `set` movement
    /// (cause `opening`); none leaves it 0.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    api_quantity: Option<i64>,
}

/// Only the fields sent change.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"title": "Two-person tent, green"}))]
struct UpdateProduct {
    /// 1 to 200 characters without control characters, trimmed; unique in the store.
    #[serde(default)]
    sku: Option<String>,
    /// 1 to 500 characters, trimmed.
    #[serde(default)]
    title: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SetProductStock, example = json!({"api_quantity": 30}))]
struct SetStock {
    /// The new API quantity, 0 to 1000000000.
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    api_quantity: i64,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AdjustProductStock, example = json!({"delta": -3}))]
struct AdjustStock {
    /// Added to the API quantity: non-zero, -1000000000 to 1000000000.
    #[schema(minimum = -1_000_000_000, maximum = 1_000_000_000)]
    delta: i64,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SetProductPluginStock, example = json!({"plugin_quantity": 4}))]
struct SetPluginStock {
    /// The new plugin quantity, 0 to 1000000000.
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    plugin_quantity: i64,
}

/// One component of a kit.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = KitComponentBody)]
struct Component {
    /// A product of the kit's store that is not a kit, listed once.
    product_id: i64,
    /// Units of it in one kit, 1 to 10000.
    #[schema(minimum = 1, maximum = 10_000)]
    quantity: i64,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only this store's products.
    store_id: Option<i64>,
    /// Only the product with exactly this SKU.
    sku: Option<String>,
    /// The previous page's `next_cursor`; none for the first page.
    cursor: Option<String>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
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

/// Create a product.
///
/// Listings of the store's channels with this SKU and no product yet are mapped to it. A
/// `store_id` that is not one of the account's stores answers 422 naming `store_id`.
#[utoipa::path(
    post, path = "/v1/products", operation_id = "createProduct", tag = "Products",
    request_body = CreateProduct,
    responses(
        (status = 201, description = "Created", body = ProductRow,
         headers(("location" = String, description = "`/v1/products/{id}`"))),
        (status = 409, description = "The store has a product with this SKU (`conflict`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
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

/// List the account's products and kits, oldest first.
#[utoipa::path(
    get, path = "/v1/products", operation_id = "listProducts", tag = "Products",
    params(ListQuery),
    responses((status = 200, description = "A page of products", body = Page<ProductRow>)),
)]
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

/// Read a product or kit.
#[utoipa::path(
    get, path = "/v1/products/{id}", operation_id = "getProduct", tag = "Products",
    params(("id" = i64, Path, description = "The product's id")),
    responses((status = 200, description = "The product", body = ProductRow)),
)]
async fn read(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    product_answer(&state, account, id).await
}

/// Change a product's SKU or title.
///
/// Listings of the store's channels with the new SKU and no product yet are mapped to it.
#[utoipa::path(
    patch, path = "/v1/products/{id}", operation_id = "updateProduct", tag = "Products",
    params(("id" = i64, Path, description = "The product's id")),
    request_body = UpdateProduct,
    responses(
        (status = 200, description = "The changed product", body = ProductRow),
        (status = 409, description = "The store has another product with this SKU (`conflict`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
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

/// Delete a product that no kit uses.
///
/// Its ledger goes with it; its channel listings stay, unmapped.
#[utoipa::path(
    delete, path = "/v1/products/{id}", operation_id = "deleteProduct", tag = "Products",
    params(("id" = i64, Path, description = "The product's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 409, description = "The product is a component of a kit (`conflict`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
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

/// Set a product's API quantity.
///
/// Recorded in the ledger as the `set` movement that gets it there; the channels listing it that
/// sync stock automatically are sent the new available quantity. A kit has no quantity of its
/// own and answers 422 naming `api_quantity`.
#[utoipa::path(
    put, path = "/v1/products/{id}/stock", operation_id = "setProductStock", tag = "Products",
    params(("id" = i64, Path, description = "The product's id")),
    request_body = SetStock,
    responses((status = 200, description = "The product with its new quantities", body = ProductRow)),
)]
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

/// Adjust a product's API quantity by a delta.
///
/// `Idempotency-Key` is required: it is the movement's cause, so a retry with the same key and
/// delta moves nothing and answers the first movement (with `Idempotent-Replayed: true`). A kit
/// answers 422 naming `delta`.
#[utoipa::path(
    post, path = "/v1/products/{id}/stock/adjust", operation_id = "adjustProductStock",
    tag = "Products",
    params(
        ("id" = i64, Path, description = "The product's id"),
        ("Idempotency-Key" = String, Header, min_length = 1, max_length = 255,
         description = "Required here: the adjustment's cause in the ledger, 1 to 255 visible \
                        ASCII characters. The same key with the same delta answers the first \
                        movement again."),
    ),
    request_body = AdjustStock,
    responses(
        (status = 200, description = "The movement", body = Movement,
         headers(("idempotent-replayed" = String, description = "`true` when the key was already used and nothing moved now"))),
        (status = 400, description = "No `Idempotency-Key`, or not 1 to 255 visible ASCII characters; or the body is not JSON (`bad-request`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The key adjusted this product by another delta, longer ago than the replay window (`conflict`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
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

/// Set a product's plugin quantity, standing in for a plugin's report.
///
/// Recorded in the ledger as a `plugin_report` movement; the channels listing it that sync
/// stock automatically are sent the new available quantity. A kit answers 422 naming
/// `plugin_quantity`.
#[utoipa::path(
    put, path = "/v1/products/{id}/plugin-stock", operation_id = "setProductPluginStock",
    tag = "Products",
    params(("id" = i64, Path, description = "The product's id")),
    request_body = SetPluginStock,
    responses((status = 200, description = "The product with its new quantities", body = ProductRow)),
)]
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

/// Make a product a kit of these components, replacing any it had.
///
/// An empty list makes it a plain product again. Components are products of the kit's store,
/// not kits, each listed once; a kit cannot be a component. A refused entry answers 422 naming
/// it (`[1].product_id`).
#[utoipa::path(
    put, path = "/v1/products/{id}/components", operation_id = "setProductComponents",
    tag = "Products",
    params(("id" = i64, Path, description = "The product's id")),
    request_body(content = Vec<Component>, description = "At most 100 components.",
                 example = json!([{"product_id": 1, "quantity": 1}, {"product_id": 2, "quantity": 2}])),
    responses((status = 200, description = "The kit, with its components", body = ProductRow)),
)]
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

/// List a product's stock movements, oldest first.
#[utoipa::path(
    get, path = "/v1/products/{id}/movements", operation_id = "listProductMovements",
    tag = "Products",
    params(("id" = i64, Path, description = "The product's id"), PageQuery),
    responses((status = 200, description = "A page of the product's ledger", body = Page<Movement>)),
)]
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
#[openapi(paths(
    list,
    create,
    read,
    update,
    remove,
    set_stock,
    adjust_stock,
    set_plugin_stock,
    set_components,
    movements
))]
pub(super) struct Doc;
