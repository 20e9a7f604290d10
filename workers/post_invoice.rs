//! The post-invoice worker: creates an invoice on its connection's accounting platform and moves
//! it pending -> sending -> synced, or failed with the platform's reason.
//!
//! Exactly one invoice on the platform per switchyard invoice, under retries, crashes and 429s:
//! every create carries the invoice's own idempotency key (Xero's `Idempotency-Key`, Sage's
//! `idempotency_id`), and the row is `sending` before the create leaves, so an attempt that
//! finds it `sending` knows an earlier one may have created it (its worker died, or the answer
//! was lost to a timeout or a 5xx) and looks the invoice up by reference first, adopting it.
//!
//! The contact, items and tax are resolved first ([`AccountingPlatform::prepare_invoice`]), with
//! the row still `pending`: a failure there, a rate limit included, retries without a lookup.
//! So does a create the platform did not take (a 429, or the limiter's wait): the row goes back
//! to `pending`. Any other retryable failure leaves the row `sending` and retries through the
//! queue; a refusal fails the row at once with the platform's message, and the job goes to the
//! dead letters. A grant the platform refused fails the invoice too: the connection says
//! `needs_reauth`.
//!
//! [`AccountingPlatform::prepare_invoice`]: crate::connectors::accounting::AccountingPlatform::prepare_invoice

use std::sync::Arc;
use std::time::Duration;

use apalis_core::task::data::Data;

use super::channel_lock::{lock, LockKind};
use super::retry::{retry_error, retry_or_give_up};
use super::Deps;
use crate::connectors::ConnectorError;
use crate::domain::invoice::PostedInvoice;
use crate::jobs::{JobKind, PostInvoice};
use crate::queue::{JobError, JobMeta};
use crate::store::accounting::{self, GrantError};
use crate::store::invoices::{self, InvoiceStatus, ToPost};

pub async fn run(
    job: PostInvoice,
    deps: Data<Arc<Deps>>,
    meta: Data<JobMeta>,
) -> Result<(), JobError> {
    // Two attempts of one invoice at once (a lease that expired under a slow call) would both see
    // `sending`; one at a time, the second finds the first's work.
    let guard = lock(&deps.db, LockKind::Invoice, job.invoice_id, Duration::ZERO).await?;
    let result = post(&deps, job.invoice_id, &meta).await;
    guard.release().await;
    result
}

async fn post(deps: &Deps, id: i64, meta: &JobMeta) -> Result<(), JobError> {
    let Some(to) = invoices::to_post(&deps.db, id).await? else {
        tracing::info!(invoice_id = id, "invoice is gone; nothing to post");
        return Ok(());
    };
    match to.before {
        InvoiceStatus::Synced | InvoiceStatus::Failed => return Ok(()),
        InvoiceStatus::Pending | InvoiceStatus::Sending => {}
    }
    let (platform, oauth) = match deps.accounting_for(&to) {
        Ok(built) => (built.platform, built.oauth),
        Err(e) => return failure(deps, &to, meta, e).await,
    };
    let access = accounting::access_token(
        &deps.db,
        &deps.credentials_key,
        to.connection_id,
        |client, refresh| async move { oauth.refresh(&client, &refresh).await },
    )
    .await;
    let access = match access {
        Ok(a) => a,
        Err(GrantError::NeedsReauth(why)) => {
            return give_up(
                deps,
                id,
                format!("the accounting connection needs authorizing again: {why}"),
            )
            .await
        }
        Err(GrantError::Unavailable(why)) => {
            return failure(
                deps,
                &to,
                meta,
                ConnectorError::Transient {
                    status: None,
                    message: why,
                },
            )
            .await
        }
        Err(GrantError::Store(e)) => return Err(e.into()),
    };
    if to.before == InvoiceStatus::Sending {
        match platform.find_invoice(&access, &to.draft.reference).await {
            Ok(Some(posted)) => {
                tracing::info!(
                    invoice_id = id,
                    platform_invoice_id = %posted.id,
                    "the platform already holds this invoice; adopting it"
                );
                return synced(deps, id, &posted, "adopted").await;
            }
            Ok(None) => {}
            Err(e) => return failure(deps, &to, meta, e).await,
        }
    }
    let prepared = match platform.prepare_invoice(&access, &to.draft).await {
        Ok(prepared) => prepared,
        Err(e) => return failure(deps, &to, meta, e).await,
    };
    if to.before == InvoiceStatus::Pending {
        invoices::mark_sending(&deps.db, id).await?;
    }
    match platform
        .send_invoice(&access, &prepared, &to.idempotency_key)
        .await
    {
        Ok(posted) => synced(deps, id, &posted, "created").await,
        Err(e @ ConnectorError::RateLimited { .. }) if to.before == InvoiceStatus::Pending => {
            invoices::mark_pending(&deps.db, id).await?;
            failure(deps, &to, meta, e).await
        }
        Err(e) => failure(deps, &to, meta, e).await,
    }
}

async fn synced(
    deps: &Deps,
    id: i64,
    posted: &PostedInvoice,
    how: &'static str,
) -> Result<(), JobError> {
    // A failure to record this is retried like any database error: the row stays `sending`, so
    // the retry finds the platform's invoice and adopts it rather than creating another.
    invoices::mark_synced(&deps.db, id, posted).await?;
    metrics::counter!("switchyard_invoices_synced_total", "how" => how).increment(1);
    Ok(())
}

/// A failed platform call: retried through the queue while it may yet work and attempts
/// remain, else the invoice fails with the reason and the job goes to the dead letters.
async fn failure(
    deps: &Deps,
    to: &ToPost,
    meta: &JobMeta,
    err: ConnectorError,
) -> Result<(), JobError> {
    let (id, platform) = (to.invoice_id, to.source.kind.name());
    match retry_or_give_up(
        &deps.broker,
        PostInvoice::QUEUE,
        meta.attempt,
        err,
        "create",
        platform,
    ) {
        Ok(err) => {
            let err = retry_error(err, platform);
            tracing::info!(invoice_id = id, attempt = meta.attempt, error = %err, "invoice post failed; will retry");
            Err(err)
        }
        Err(reason) => give_up(deps, id, reason).await,
    }
}

async fn give_up(deps: &Deps, id: i64, reason: String) -> Result<(), JobError> {
    invoices::mark_failed(&deps.db, id, &reason).await?;
    metrics::counter!("switchyard_invoices_failed_total").increment(1);
    tracing::warn!(invoice_id = id, %reason, "invoice failed");
    Err(JobError::Permanent(reason))
}
