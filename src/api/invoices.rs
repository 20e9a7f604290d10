//! `/v1/invoices`: invoices posted to a store's accounting connection, from an order or written
//! out by the caller. Each is stored with the job that posts it; `status` follows it to the
//! platform (`pending`, `sending`, `synced` with the platform's id and number, or `failed` with
//! the platform's words).

use axum::extract::{Path, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::NaiveDate;
use serde::Deserialize;

use super::extract::{ApiJson, ApiQuery};
use super::tenant::{created, db, found, Account, IdPage, Page};
use super::AppState;
use crate::api::error::{field, AppError};
use crate::domain::invoice::{self, InvoiceContact, InvoiceDraft, InvoiceLine};
use crate::store::invoices::{self, CreateError, InvoiceRow, ListFilter, NewInvoice};
use crate::store::{accounting, orders};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/invoices", get(list).post(create))
        .route("/invoices/{id}", get(read))
}

/// An invoice of an order (`order_id` alone), or one written out (`reference`, `currency`,
/// `contact`, `lines`, and optionally `date`), to an accounting connection.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "connection_id": 3, "reference": "WHOLESALE-118", "currency": "GBP",
    "contact": {"name": "Acme Trading Ltd", "email": "accounts@acme.example"},
    "lines": [{"sku": "TENT-2P", "description": "Two-person tent", "quantity": "10",
               "unit_amount": "120.00", "tax_amount": "240.00", "tax_rate": "20"}]
}))]
struct CreateInvoice {
    /// The accounting connection to post it to.
    connection_id: i64,
    /// An order of the connection's store: its lines, shipping, discount and tax become the
    /// invoice's. An order has one invoice per connection; asking again answers that one.
    #[serde(default)]
    order_id: Option<i64>,
    /// For an invoice written out: how the platform's copy is found again (1 to 255 characters).
    #[serde(default)]
    reference: Option<String>,
    /// For an invoice written out; today (UTC) when left out.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    date: Option<NaiveDate>,
    /// For an invoice written out: ISO 4217.
    #[serde(default)]
    currency: Option<String>,
    #[serde(default)]
    contact: Option<InvoiceContact>,
    #[serde(default)]
    lines: Option<Vec<InvoiceLine>>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only this store's invoices.
    store_id: Option<i64>,
    /// Only those posted to this connection.
    connection_id: Option<i64>,
    /// Only this order's.
    order_id: Option<i64>,
    /// The previous page's `next_cursor`; none for the first page.
    cursor: Option<String>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

fn not_found(id: i64) -> AppError {
    AppError::NotFound(format!("invoice {id}"))
}

/// The draft a request describes: its order's, or the one it writes out.
async fn draft_of(
    state: &AppState,
    account: crate::store::AccountId,
    body: CreateInvoice,
    store_id: i64,
) -> Result<InvoiceDraft, AppError> {
    let written = [
        ("reference", body.reference.is_some()),
        ("date", body.date.is_some()),
        ("currency", body.currency.is_some()),
        ("contact", body.contact.is_some()),
        ("lines", body.lines.is_some()),
    ];
    if let Some(order_id) = body.order_id {
        if let Some((name, _)) = written.iter().find(|(_, given)| *given) {
            return Err(field(
                format!(
                    "`{name}` is taken from the order: give `order_id` alone, or no `order_id`"
                ),
                name,
            ));
        }
        let order = orders::get_order(db(state)?, account, order_id)
            .await?
            .filter(|o| o.order.store_id == store_id)
            .ok_or_else(|| {
                field(
                    format!("order {order_id} is not an order of the connection's store"),
                    "order_id",
                )
            })?;
        return invoice::from_order(&order.order.order)
            .map_err(|e| field(e.to_string(), "order_id"));
    }
    let missing = |name: &str| field(format!("`{name}` is required without `order_id`"), name);
    let draft = InvoiceDraft {
        reference: body.reference.ok_or_else(|| missing("reference"))?,
        date: body.date.unwrap_or_else(|| chrono::Utc::now().date_naive()),
        currency: body.currency.ok_or_else(|| missing("currency"))?,
        contact: body.contact.ok_or_else(|| missing("contact"))?,
        lines: body.lines.ok_or_else(|| missing("lines"))?,
    };
    Ok(draft)
}

/// Create an invoice and post it to the connection's platform.
///
/// From an order (`order_id` alone) or written out. The invoice is stored with the job that
/// posts it and answered `pending`; read it again to see it `synced` with the platform's id and
/// number, or `failed` with the platform's reason. Exactly one invoice reaches the platform per
/// invoice here, whatever retries a lost answer or a 429 needs. An order already invoiced on the
/// connection answers its invoice (200) instead of making another.
#[utoipa::path(
    post, path = "/v1/invoices", operation_id = "createInvoice", tag = "Accounting",
    request_body = CreateInvoice,
    responses(
        (status = 201, description = "Created, `pending`", body = InvoiceRow,
         headers(("location" = String, description = "`/v1/invoices/{id}`"))),
        (status = 200, description = "The order's invoice on this connection, made before", body = InvoiceRow,
         headers(("location" = String, description = "`/v1/invoices/{id}`"))),
    ),
)]
async fn create(
    State(state): State<AppState>,
    Account(account): Account,
    ApiJson(body): ApiJson<CreateInvoice>,
) -> Result<Response, AppError> {
    let pool = db(&state)?;
    let connection_id = body.connection_id;
    let connection = accounting::get(pool, account, connection_id)
        .await?
        .ok_or_else(|| {
            field(
                format!("accounting connection {connection_id} does not exist in this account"),
                "connection_id",
            )
        })?;
    let order_id = body.order_id;
    let draft = draft_of(&state, account, body, connection.store_id).await?;
    draft.validate()?;
    let new = NewInvoice {
        connection_id,
        order_id,
        draft: &draft,
    };
    match invoices::create(pool, account, &new).await {
        Ok(row) => Ok(created(format!("/v1/invoices/{}", row.id), row)),
        Err(CreateError::Exists(row)) => {
            let mut res = (StatusCode::OK, Json(&*row)).into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("/v1/invoices/{}", row.id)) {
                res.headers_mut().insert(LOCATION, v);
            }
            Ok(res)
        }
        Err(CreateError::NoConnection(id)) => Err(field(
            format!("accounting connection {id} does not exist in this account"),
            "connection_id",
        )),
        Err(CreateError::Store(e)) => Err(e.into()),
    }
}

/// List the account's invoices, oldest first.
#[utoipa::path(
    get, path = "/v1/invoices", operation_id = "listInvoices", tag = "Accounting",
    params(ListQuery),
    responses((status = 200, description = "A page of invoices", body = Page<InvoiceRow>)),
)]
async fn list(
    State(state): State<AppState>,
    Account(account): Account,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, AppError> {
    let page = IdPage::new(q.limit, q.cursor.as_deref())?;
    let filter = ListFilter {
        store_id: q.store_id,
        connection_id: q.connection_id,
        order_id: q.order_id,
    };
    let rows = invoices::list(db(&state)?, account, &filter, page.cursor, page.fetch()).await?;
    Ok(page.of(rows, |i| i.id).into_response())
}

/// Read an invoice and where it stands on the platform.
#[utoipa::path(
    get, path = "/v1/invoices/{id}", operation_id = "getInvoice", tag = "Accounting",
    params(("id" = i64, Path, description = "The invoice's id")),
    responses((status = 200, description = "The invoice", body = InvoiceRow)),
)]
async fn read(
    State(state): State<AppState>,
    Account(account): Account,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    found(invoices::get(db(&state)?, account, id).await?, || {
        not_found(id)
    })
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(create, list, read),
    components(schemas(InvoiceRow, CreateInvoice, InvoiceDraft, InvoiceLine, InvoiceContact))
)]
pub struct Doc;
