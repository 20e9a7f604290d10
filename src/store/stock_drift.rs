//! Channel drift corrections: a listing whose channel held another figure than the one
//! switchyard expects (a merchant's hand edit in the platform's admin) and was set back by a
//! stock reconciliation (`workers/reconcile_stock.rs`).
//!
//! Each correction is a row of the stock ledger of field `channel` and cause `channel_drift`,
//! naming the channel and listing, what the channel held and what it was set back to: it moves
//! the channel's figure, not the product's quantity, so it shows in the product's movements and
//! is left out of every sum of its `api` and `plugin` quantities. It is written with what the
//! listing was last sent and its `stock_drift.corrected` event, in one transaction, after the
//! channel accepted the figure.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

use super::channel_products::record_pushed;
use super::events::{self, Event};
use super::{AccountId, StoreError};
use crate::domain::event_type::Action;

/// One listing set back to switchyard's figure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = StockDriftCorrection, example = json!({
    "id": 913, "store_id": 12, "channel_id": 7, "channel_product_id": 311, "product_id": 55,
    "sku": "TR-8", "found": 31, "expected": 12, "delta": -19,
    "cause_id": "01M91KQWNK66QQGPTWYXDA9JTN.1/311",
    "created_at": "2026-12-04T10:35:00.120931Z"
}))]
pub struct DriftCorrection {
    /// The correction's row in the stock ledger (`GET /v1/products/{id}/movements`).
    pub id: i64,
    pub store_id: i64,
    pub channel_id: i64,
    /// The listing set back (`GET /v1/channels/{id}/products`).
    pub channel_product_id: i64,
    /// The product or kit the listing is mapped to.
    pub product_id: i64,
    pub sku: String,
    /// What the channel held for the listing.
    pub found: i64,
    /// What switchyard expects it to hold (the quantity sync-stock pushes, buffer included),
    /// and set it back to.
    pub expected: i64,
    /// `expected - found`.
    pub delta: i64,
    /// `<reconcile job id>.<attempt>/<channel product id>`, unique per product.
    pub cause_id: String,
    pub created_at: DateTime<Utc>,
}

/// The channel a reconciliation corrected.
#[derive(Debug, Clone, Copy)]
pub struct DriftChannel {
    pub account: AccountId,
    pub store_id: i64,
    pub channel_id: i64,
}

/// A listing the channel accepted switchyard's figure for, after holding another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corrected {
    pub channel_product_id: i64,
    pub product_id: i64,
    pub sku: String,
    pub found: i64,
    pub expected: i64,
}

/// A channel figure as the ledger's integer column holds it.
fn figure(value: i64, what: &str) -> Result<i32, StoreError> {
    i32::try_from(value).map_err(|_| StoreError::Corrupt(format!("{what} {value} out of range")))
}

/// Records corrections the channel accepted, in one transaction: a ledger row each, the figure
/// as the listing's last pushed quantity (so sync-stock does not send it again), and a
/// `stock_drift.corrected` event each. `cause` names the reconciliation's attempt
/// (`<job id>.<attempt>`); a listing is corrected at most once per attempt.
pub async fn record(
    pool: &PgPool,
    channel: DriftChannel,
    cause: &str,
    corrected: &[Corrected],
) -> Result<Vec<DriftCorrection>, StoreError> {
    if corrected.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = pool.begin().await?;
    let mut rows = Vec::with_capacity(corrected.len());
    for c in corrected {
        let cause_id = format!("{cause}/{}", c.channel_product_id);
        let delta = c.expected - c.found;
        let (id, created_at): (i64, DateTime<Utc>) = sqlx::query_as(
            "INSERT INTO stock_movements (account_id, product_id, field, delta, cause_kind, \
                 cause_id, channel_id, channel_product_id, found, expected) \
             VALUES ($1, $2, 'channel', $3, 'channel_drift', $4, $5, $6, $7, $8) \
             RETURNING id, created_at",
        )
        .bind(channel.account.0)
        .bind(c.product_id)
        .bind(figure(delta, "drift")?)
        .bind(&cause_id)
        .bind(channel.channel_id)
        .bind(c.channel_product_id)
        .bind(figure(c.found, "channel figure")?)
        .bind(figure(c.expected, "expected figure")?)
        .fetch_one(&mut *tx)
        .await?;
        record_pushed(&mut *tx, c.channel_product_id, c.expected).await?;
        rows.push(DriftCorrection {
            id,
            store_id: channel.store_id,
            channel_id: channel.channel_id,
            channel_product_id: c.channel_product_id,
            product_id: c.product_id,
            sku: c.sku.clone(),
            found: c.found,
            expected: c.expected,
            delta,
            cause_id,
            created_at,
        });
    }
    let announced: Vec<Event<'_>> = rows
        .iter()
        .map(|r| Event::StockDrift(Action::Corrected, r))
        .collect();
    events::write_in_tx(&mut tx, &announced).await?;
    tx.commit().await?;
    Ok(rows)
}

/// One page of the corrections of one of the account's channels, oldest first, after
/// correction `after`; `None` when the channel is not the account's.
pub async fn for_channel(
    pool: &PgPool,
    account: AccountId,
    channel_id: i64,
    after: Option<i64>,
    limit: i64,
) -> Result<Option<Vec<DriftCorrection>>, StoreError> {
    let mut conn = pool.acquire().await?;
    if !super::channels::is_accounts(&mut *conn, account, channel_id).await? {
        return Ok(None);
    }
    let rows: Vec<DriftCorrection> = sqlx::query_as(
        "SELECT m.id, p.store_id, m.channel_id, m.channel_product_id, m.product_id, p.sku, \
                m.found::bigint AS found, m.expected::bigint AS expected, \
                m.delta::bigint AS delta, m.cause_id, m.created_at \
         FROM stock_movements m JOIN products p ON p.id = m.product_id \
         WHERE m.account_id = $1 AND m.channel_id = $2 AND m.field = 'channel' AND m.id > $3 \
         ORDER BY m.id LIMIT $4",
    )
    .bind(account.0)
    .bind(channel_id)
    .bind(after.unwrap_or(0))
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    Ok(Some(rows))
}
