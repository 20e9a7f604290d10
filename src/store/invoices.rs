//! Invoices and the post-invoice job that sends each one, written in one transaction: an
//! invoice is never stored without the job that will post it (the outbox carries the job), and
//! never made or settled without its event (`invoice.created`, `invoice.updated`).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool, Postgres};

use super::events::Event;
use super::outbox::{self, OutboxItem};
use super::{account_row, enum_from_text, AccountId, StoreError};
use crate::domain::accounting::AccountingKind;
use crate::domain::event_type::Action;
use crate::domain::invoice::{InvoiceDraft, PostedInvoice};
use crate::jobs::PostInvoice;

/// Where an invoice stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    /// Waiting for the post-invoice worker.
    Pending,
    /// Being created on the platform; a create may have reached it.
    Sending,
    /// On the platform: `platform_invoice_id` and `platform_number` say where.
    Synced,
    /// The platform refused it: `error` says why, in the platform's words.
    Failed,
}

/// An invoice as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = Invoice, example = json!({
    "id": 17, "store_id": 12, "connection_id": 3, "order_id": 1042, "status": "synced",
    "reference": "#1001", "currency": "GBP", "total": "363.59",
    "invoice": {"reference": "#1001", "date": "2026-12-05", "currency": "GBP",
        "contact": {"name": "Jo Bloggs", "email": "jo@example.com"},
        "lines": [{"sku": "TENT-2P", "description": "Two-person tent", "quantity": "2",
                   "unit_amount": "149.00", "tax_amount": "59.60", "tax_rate": "20"}]},
    "platform_invoice_id": "4f7a2c1e-9b3d-4e8f-a6c5-0d1b2e3f4a5b", "platform_number": "INV-0042",
    "platform_total": "363.59", "error": null,
    "created_at": "2026-12-05T10:16:02.482913Z", "updated_at": "2026-12-05T10:16:03.120044Z"
}))]
pub struct InvoiceRow {
    pub id: i64,
    #[serde(skip)]
    pub account_id: AccountId,
    pub store_id: i64,
    /// The accounting connection it goes to.
    pub connection_id: i64,
    /// The order it invoices; null for a free-form invoice.
    pub order_id: Option<i64>,
    pub status: InvoiceStatus,
    pub reference: String,
    pub currency: String,
    /// What the lines add up to, tax included, a decimal string.
    #[schema(value_type = String)]
    pub total: Decimal,
    /// What was asked for.
    pub invoice: InvoiceDraft,
    /// The platform's id, once synced.
    pub platform_invoice_id: Option<String>,
    /// The platform's number (`INV-0042`, `SI-7`), once synced.
    pub platform_number: Option<String>,
    /// The total the platform computed, once synced.
    #[schema(value_type = Option<String>)]
    pub platform_total: Option<Decimal>,
    /// Why it failed, in the platform's words.
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Raw {
    id: i64,
    account_id: i64,
    store_id: i64,
    connection_id: i64,
    order_id: Option<i64>,
    status: String,
    reference: String,
    currency: String,
    total: Decimal,
    draft: Json<InvoiceDraft>,
    platform_invoice_id: Option<String>,
    platform_number: Option<String>,
    platform_total: Option<Decimal>,
    error: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, account_id, store_id, connection_id, order_id, status, reference, \
     currency, total, draft, platform_invoice_id, platform_number, platform_total, error, \
     created_at, updated_at";

impl TryFrom<Raw> for InvoiceRow {
    type Error = StoreError;

    fn try_from(r: Raw) -> Result<InvoiceRow, StoreError> {
        Ok(InvoiceRow {
            id: r.id,
            account_id: AccountId(r.account_id),
            store_id: r.store_id,
            connection_id: r.connection_id,
            order_id: r.order_id,
            status: enum_from_text(&r.status)?,
            reference: r.reference,
            currency: r.currency,
            total: r.total,
            invoice: r.draft.0,
            platform_invoice_id: r.platform_invoice_id,
            platform_number: r.platform_number,
            platform_total: r.platform_total,
            error: r.error,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// What a new invoice is.
pub struct NewInvoice<'a> {
    pub connection_id: i64,
    pub order_id: Option<i64>,
    pub draft: &'a InvoiceDraft,
}

/// Why an invoice was not created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("accounting connection {0} not found")]
    NoConnection(i64),
    /// The order already has an invoice on this connection: that one.
    #[error("the order already has invoice {}", .0.id)]
    Exists(Box<InvoiceRow>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Creates the invoice in the connection's store, with its post-invoice job, in one
/// transaction. An order asked for twice on one connection answers the first invoice.
pub async fn create(
    pool: &PgPool,
    account: AccountId,
    new: &NewInvoice<'_>,
) -> Result<InvoiceRow, CreateError> {
    let mut tx = pool.begin().await.map_err(StoreError::from)?;
    let Some(row) = insert_in_tx(&mut tx, account, new).await? else {
        drop(tx);
        return match existing_for_order(pool, account, new).await? {
            Some(row) => Err(CreateError::Exists(Box::new(row))),
            None => Err(CreateError::NoConnection(new.connection_id)),
        };
    };
    outbox::notify_in_tx(&mut tx).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(row)
}

/// Writes the invoice, its job and its `invoice.created` in the caller's transaction (the
/// caller wakes the relay); `None` when the connection is
/// not the account's, or the order already has an invoice on it.
async fn insert_in_tx(
    conn: &mut PgConnection,
    account: AccountId,
    new: &NewInvoice<'_>,
) -> Result<Option<InvoiceRow>, StoreError> {
    let key = ulid::Ulid::new().to_string();
    let raw: Option<Raw> = sqlx::query_as(&format!(
        "INSERT INTO invoices (account_id, store_id, connection_id, order_id, draft, total, \
         currency, reference, idempotency_key) \
         SELECT c.account_id, c.store_id, c.id, $3, $4, $5, $6, $7, $8 \
         FROM accounting_connections c WHERE c.account_id = $1 AND c.id = $2 \
         ON CONFLICT (connection_id, order_id) WHERE order_id IS NOT NULL DO NOTHING \
         RETURNING {COLUMNS}"
    ))
    .bind(account.0)
    .bind(new.connection_id)
    .bind(new.order_id)
    .bind(Json(new.draft))
    .bind(new.draft.total())
    .bind(&new.draft.currency)
    .bind(&new.draft.reference)
    .bind(&key)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(raw) = raw else {
        return Ok(None);
    };
    let row = InvoiceRow::try_from(raw)?;
    let job = PostInvoice { invoice_id: row.id };
    let items = [
        OutboxItem::job(&job, None)?,
        Event::Invoice(Action::Created, &row).outbox_item()?,
    ];
    outbox::push_many_in_tx(conn, &items).await?;
    Ok(Some(row))
}

/// An order event the relay is handing on: the store, the type and the whole event.
pub struct OrderEvent<'a> {
    pub store_id: i64,
    pub event_type: &'a str,
    pub payload: &'a str,
}

/// The invoices the store's connections make by themselves (`settings.auto_invoice`) for a batch
/// of order events, written with their jobs in the caller's (the relay's) transaction, so each
/// event is acted on exactly once: `imported` invoices an `order.created`, `shipped` an order
/// event whose order is `shipped`. An order already invoiced on a connection is skipped, and an
/// order that cannot be invoiced is logged and skipped. Returns how many were made.
pub async fn auto_invoice_in_tx(
    conn: &mut PgConnection,
    events: &[OrderEvent<'_>],
) -> Result<usize, StoreError> {
    use crate::domain::accounting::AutoInvoice;

    let stores: Vec<i64> = events
        .iter()
        .filter(|e| e.event_type.starts_with("order."))
        .map(|e| e.store_id)
        .collect();
    if stores.is_empty() {
        return Ok(0);
    }
    let connections: Vec<(i64, i64, i64, Json<AutoInvoice>)> = sqlx::query_as(
        "SELECT id, account_id, store_id, settings->'auto_invoice' FROM accounting_connections \
         WHERE store_id = ANY($1) AND status <> 'awaiting_authorization' \
         AND settings->>'auto_invoice' IN ('imported', 'shipped')",
    )
    .bind(&stores)
    .fetch_all(&mut *conn)
    .await?;
    if connections.is_empty() {
        return Ok(0);
    }
    // Each order event read, and its invoice drafted, once, whatever number of connections
    // invoice its store.
    type Drafted = Result<InvoiceDraft, String>;
    let orders: Vec<(i64, bool, crate::domain::UnifiedOrder, Drafted)> = events
        .iter()
        .filter(|e| connections.iter().any(|c| c.2 == e.store_id))
        .filter_map(|e| {
            let payload: serde_json::Value = serde_json::from_str(e.payload).ok()?;
            let order: crate::domain::UnifiedOrder =
                serde_json::from_value(payload["data"].clone()).ok()?;
            let draft = crate::domain::invoice::from_order(&order.order)
                .map_err(|e| e.to_string())
                .and_then(|d| d.validate().map(|()| d).map_err(|e| e.to_string()));
            Some((e.store_id, e.event_type == "order.created", order, draft))
        })
        .collect();
    let mut made = 0;
    for (id, account, store_id, Json(when)) in connections {
        for (_, created, order, draft) in orders.iter().filter(|o| o.0 == store_id) {
            let due = match when {
                AutoInvoice::Imported => *created,
                AutoInvoice::Shipped => order.order.status == crate::domain::OrderStatus::Shipped,
                AutoInvoice::Off => false,
            };
            if !due {
                continue;
            }
            let draft = match draft {
                Ok(draft) => draft,
                Err(why) => {
                    tracing::warn!(order_id = order.id, connection_id = id, %why, "order not invoiced automatically");
                    continue;
                }
            };
            let new = NewInvoice {
                connection_id: id,
                order_id: Some(order.id),
                draft,
            };
            if insert_in_tx(conn, AccountId(account), &new)
                .await?
                .is_some()
            {
                made += 1;
            }
        }
    }
    Ok(made)
}

async fn existing_for_order(
    pool: &PgPool,
    account: AccountId,
    new: &NewInvoice<'_>,
) -> Result<Option<InvoiceRow>, StoreError> {
    let Some(order_id) = new.order_id else {
        return Ok(None);
    };
    let raw: Option<Raw> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM invoices \
         WHERE account_id = $1 AND connection_id = $2 AND order_id = $3"
    ))
    .bind(account.0)
    .bind(new.connection_id)
    .bind(order_id)
    .fetch_optional(pool)
    .await?;
    raw.map(InvoiceRow::try_from).transpose()
}

pub async fn get(
    pool: &PgPool,
    account: AccountId,
    id: i64,
) -> Result<Option<InvoiceRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM invoices WHERE account_id = $1 AND id = $2");
    let raw: Option<Raw> = account_row(pool, &sql, account, id).await?;
    raw.map(InvoiceRow::try_from).transpose()
}

/// One page of the account's invoices by id, optionally of one store, connection or order.
pub async fn list(
    pool: &PgPool,
    account: AccountId,
    filter: &ListFilter,
    after: Option<i64>,
    limit: i64,
) -> Result<Vec<InvoiceRow>, StoreError> {
    let rows: Vec<Raw> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM invoices WHERE account_id = $1 \
         AND ($2::bigint IS NULL OR store_id = $2) AND ($3::bigint IS NULL OR connection_id = $3) \
         AND ($4::bigint IS NULL OR order_id = $4) AND id > $5 ORDER BY id LIMIT $6"
    ))
    .bind(account.0)
    .bind(filter.store_id)
    .bind(filter.connection_id)
    .bind(filter.order_id)
    .bind(after.unwrap_or(0))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(InvoiceRow::try_from).collect()
}

#[derive(Debug, Default)]
pub struct ListFilter {
    pub store_id: Option<i64>,
    pub connection_id: Option<i64>,
    pub order_id: Option<i64>,
}

/// How many invoices of connection `connection_id` stand at each status, most advanced first.
pub async fn status_counts(
    pool: &PgPool,
    connection_id: i64,
) -> Result<Vec<(String, i64)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT status, count(*) FROM invoices WHERE connection_id = $1 \
         GROUP BY status ORDER BY 1 DESC",
    )
    .bind(connection_id)
    .fetch_all(pool)
    .await?)
}

/// What the post-invoice worker needs of an invoice: the draft, the key, where to post it.
pub struct ToPost {
    pub invoice_id: i64,
    /// The status before this attempt: `sending` means an earlier attempt may have created it.
    pub before: InvoiceStatus,
    pub draft: InvoiceDraft,
    pub idempotency_key: String,
    pub connection_id: i64,
    pub source: ConnectorSource,
}

/// What a connection's connector is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorSource {
    pub kind: AccountingKind,
    pub base_url: Option<String>,
    pub organisation_id: Option<String>,
    pub settings: crate::domain::accounting::AccountingSettings,
}

#[derive(sqlx::FromRow)]
struct RawToPost {
    status: String,
    draft: Json<InvoiceDraft>,
    idempotency_key: String,
    connection_id: i64,
    kind: String,
    base_url: Option<String>,
    organisation_id: Option<String>,
    settings: Json<serde_json::Value>,
}

/// What the worker needs to post the invoice, with its status before this attempt; `None` when
/// the invoice is gone. The caller holds the invoice's lock.
pub async fn to_post(pool: &PgPool, id: i64) -> Result<Option<ToPost>, StoreError> {
    let raw: Option<RawToPost> = sqlx::query_as(
        "SELECT i.status, i.draft, i.idempotency_key, c.id AS connection_id, c.kind, c.base_url, \
         c.organisation_id, c.settings \
         FROM invoices i JOIN accounting_connections c ON c.id = i.connection_id \
         WHERE i.id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    let Some(raw) = raw else {
        return Ok(None);
    };
    let before: InvoiceStatus = enum_from_text(&raw.status)?;
    let settings = serde_json::from_value(raw.settings.0).map_err(|e| {
        StoreError::Corrupt(format!(
            "accounting connection {} settings: {e}",
            raw.connection_id
        ))
    })?;
    Ok(Some(ToPost {
        invoice_id: id,
        before,
        draft: raw.draft.0,
        idempotency_key: raw.idempotency_key,
        connection_id: raw.connection_id,
        source: ConnectorSource {
            kind: enum_from_text(&raw.kind)?,
            base_url: raw.base_url,
            organisation_id: raw.organisation_id,
            settings,
        },
    }))
}

/// A create is about to leave for the platform: a pending invoice becomes `sending`, with its
/// `invoice.updated`, so an attempt after a crash or a lost answer looks for it first.
pub async fn mark_sending(pool: &PgPool, id: i64) -> Result<(), StoreError> {
    let query = format!(
        "UPDATE invoices SET status = 'sending', updated_at = now() \
         WHERE id = $1 AND status = 'pending' RETURNING {COLUMNS}"
    );
    set_status(pool, sqlx::query_as(&query).bind(id)).await
}

/// The platform did not take the create (it answered 429, or the rate limiter would not let it
/// leave in time): the invoice is `pending` again, with its `invoice.updated`, so the retry
/// spends no call looking for it.
pub async fn mark_pending(pool: &PgPool, id: i64) -> Result<(), StoreError> {
    let query = format!(
        "UPDATE invoices SET status = 'pending', updated_at = now() \
         WHERE id = $1 AND status = 'sending' RETURNING {COLUMNS}"
    );
    set_status(pool, sqlx::query_as(&query).bind(id)).await
}

/// The platform holds the invoice: `synced`, with its id, number and total, and
/// `invoice.updated`.
pub async fn mark_synced(pool: &PgPool, id: i64, posted: &PostedInvoice) -> Result<(), StoreError> {
    let query = format!(
        "UPDATE invoices SET status = 'synced', platform_invoice_id = $2, platform_number = $3, \
         platform_total = $4, error = NULL, updated_at = now() WHERE id = $1 RETURNING {COLUMNS}"
    );
    let update = sqlx::query_as(&query)
        .bind(id)
        .bind(&posted.id)
        .bind(&posted.number)
        .bind(posted.total);
    set_status(pool, update).await
}

/// The platform refused the invoice, or it cannot be sent: `failed`, with why, and
/// `invoice.updated`. A synced invoice stays synced.
pub async fn mark_failed(pool: &PgPool, id: i64, reason: &str) -> Result<(), StoreError> {
    let query = format!(
        "UPDATE invoices SET status = 'failed', error = $2, updated_at = now() \
         WHERE id = $1 AND status <> 'synced' RETURNING {COLUMNS}"
    );
    set_status(pool, sqlx::query_as(&query).bind(id).bind(reason)).await
}

/// Runs a status `update` and writes the invoice's `invoice.updated` in its transaction (none
/// when it changed no row).
async fn set_status<'q>(
    pool: &PgPool,
    update: sqlx::query::QueryAs<'q, Postgres, Raw, sqlx::postgres::PgArguments>,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    if let Some(raw) = update.fetch_optional(&mut *tx).await? {
        let row = InvoiceRow::try_from(raw)?;
        super::events::write_in_tx(&mut tx, &[Event::Invoice(Action::Updated, &row)]).await?;
    }
    tx.commit().await?;
    Ok(())
}
