//! The reconcile-stock worker: compares what a channel actually holds for each of its listings
//! with what switchyard expects it to hold, and sets back the ones that drifted.
//!
//! sync-stock pushes a listing's figure only when it differs from the last figure pushed, so it
//! never sees a merchant's hand edit in the platform's admin: the channel keeps selling units
//! switchyard does not have (or hides units it has) until the product's stock changes again.
//! This worker reads the channel's own figures and corrects them, on the channel's timer
//! (`stock_reconcile_interval_secs`) or on demand (`POST /v1/channels/{id}/stock/reconcile`).
//!
//! The order of the steps is what keeps it from overselling:
//!
//! 1. **Read the listings first.** Every figure read now already counts every sale the channel
//!    took before the read.
//! 2. **Then bring the channel's orders up to date** (an import of the channel under its import
//!    lock). A sale the channel took before the read but switchyard had not imported yet makes
//!    the channel LOWER than switchyard's figure; "correcting" it upward would put the sold units
//!    back on sale, and they would sell twice. Imported now, the sale lowers switchyard's figure
//!    too. A sale taken after the read is not in the figures read, so it cannot look like drift.
//!    Reading after the import instead would leave a window for a sale between the two.
//! 3. **Then compare, under the stock-sync lock**, against the quantity sync-stock pushes (the
//!    same plan, buffer included), so no push of a newer figure runs between the comparison and
//!    the correction. A listing whose push is pending (its figure changed since it was last
//!    pushed: the import just now may have done that) is left to sync-stock, which sends the new
//!    figure anyway; so is one pushed after the listings were read, whose figure read is older than
//!    the push. Only a listing already in step with switchyard's figure, whose channel holds
//!    another, is drift.
//!
//! Each correction the channel accepts is recorded with what the listing was last sent, as a
//! `channel_drift` row of the stock ledger and a `stock_drift.corrected` event
//! (`crate::store::stock_drift`), and counted in `switchyard_stock_drift_corrections_total`. A
//! listing at the expected level gets no write and no row.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use apalis_core::task::data::Data;
use chrono::{DateTime, Utc};

use super::channel_lock::{lock, LockKind};
use super::{import_orders, Deps};
use crate::domain::Listing;
use crate::jobs::ReconcileStock;
use crate::queue::{JobError, JobMeta};
use crate::store::channel_products::{self, PlannedStock};
use crate::store::channels::{self, ImportChannel};
use crate::store::stock_drift::{self, Corrected, DriftChannel};

/// How long the comparison waits for a running stock sync of the channel: a short one, pushing
/// what a sale changed.
const SYNC_WAIT: Duration = Duration::from_secs(10);

pub async fn run(
    job: ReconcileStock,
    deps: Data<Arc<Deps>>,
    meta: Data<JobMeta>,
) -> Result<(), JobError> {
    let Some(ic) =
        channels::get_for_import(&deps.db, &deps.credentials_key, job.channel_id).await?
    else {
        return Ok(());
    };
    if !ic.channel.active || !ic.channel.settings.stock_management {
        return Ok(());
    }
    let connector = deps.connector(&ic).map_err(JobError::from)?;
    let read_at = Utc::now();
    let listings = connector.list_products().await.map_err(JobError::from)?;
    import_orders::import_now(&deps, &ic).await?;
    let guard = lock(&deps.db, LockKind::StockSync, job.channel_id, SYNC_WAIT).await?;
    let cause = format!("{}.{}", meta.id, meta.attempt);
    let result = correct(&deps, &ic, (&listings, read_at), &cause).await;
    guard.release().await;
    let corrected = result?;
    let kind = ic.channel.kind.as_str();
    if !corrected.is_empty() {
        metrics::counter!("switchyard_stock_drift_corrections_total", "channel_kind" => kind)
            .increment(corrected.len() as u64);
    }
    tracing::info!(
        channel_id = job.channel_id,
        listings = listings.len(),
        corrected = corrected.len(),
        "stock reconciled"
    );
    Ok(())
}

/// Under the stock-sync lock: sets the drifted listings back and records each the channel
/// accepted. A failure after some were accepted records those first; the retry finds the rest.
async fn correct(
    deps: &Deps,
    ic: &ImportChannel,
    (listings, read_at): (&[Listing], DateTime<Utc>),
    cause: &str,
) -> Result<Vec<stock_drift::DriftCorrection>, JobError> {
    let channel = &ic.channel;
    let buffer = i64::from(channel.settings.stock_buffer);
    let plan = channel_products::stock_plan(&deps.db, channel.id, buffer).await?;
    let drift = drifted(&plan, listings, read_at);
    if drift.is_empty() {
        return Ok(Vec::new());
    }
    let levels: Vec<_> = drift
        .iter()
        .map(|(p, _)| (p.listing.clone(), p.quantity))
        .collect();
    let connector = deps.connector(ic).map_err(JobError::from)?;
    let outcomes = connector.set_stocks(&levels).await;
    let mut accepted = Vec::new();
    let mut failed = None;
    for ((p, found), outcome) in drift.into_iter().zip(outcomes) {
        match outcome {
            Ok(()) => accepted.push(Corrected {
                channel_product_id: p.channel_product_id,
                product_id: p.product_id,
                sku: p.sku.clone().unwrap_or_default(),
                found,
                expected: p.quantity,
            }),
            Err(e) => {
                failed.get_or_insert(e);
            }
        }
    }
    let at = DriftChannel {
        account: channel.account_id,
        store_id: channel.store_id,
        channel_id: channel.id,
    };
    let rows = stock_drift::record(&deps.db, at, cause, &accepted).await?;
    match failed {
        Some(e) => Err(JobError::from(e)),
        None => Ok(rows),
    }
}

/// The planned listings whose channel held another figure than switchyard's when `listings` were
/// read (at `read_at`), each with the figure found. A listing whose push is pending is
/// sync-stock's, and so is one pushed since the read (the figure read predates it); one the
/// channel no longer has, or whose stock it does not track, has no figure to correct.
fn drifted<'p>(
    plan: &'p [PlannedStock],
    listings: &[Listing],
    read_at: DateTime<Utc>,
) -> Vec<(&'p PlannedStock, i64)> {
    // Keyed as channel products are: a listing's inventory item may have changed since it was
    // downloaded, its product and variant have not.
    let held: HashMap<(&str, Option<&str>), i64> = listings
        .iter()
        .filter_map(|l| {
            let key = (l.id.product_id.as_str(), l.id.variant_id.as_deref());
            l.quantity.map(|q| (key, q))
        })
        .collect();
    plan.iter()
        .filter(|p| !p.needs_push() && p.last_pushed_at.is_some_and(|at| at < read_at))
        .filter_map(|p| {
            let key = (
                p.listing.product_id.as_str(),
                p.listing.variant_id.as_deref(),
            );
            let found = *held.get(&key)?;
            (found != p.quantity).then_some((p, found))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ListingId;

    fn id(product: &str, variant: Option<&str>) -> ListingId {
        ListingId {
            product_id: product.into(),
            variant_id: variant.map(Into::into),
            inventory_item_id: None,
        }
    }

    /// When the listings were read.
    fn read_at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
    }

    /// A listing planned at `quantity`, last pushed `last` a minute before the listings were read.
    fn planned(cp: i64, listing: ListingId, quantity: i64, last: Option<i64>) -> PlannedStock {
        PlannedStock {
            channel_product_id: cp,
            product_id: cp * 10,
            listing,
            sku: Some(format!("SKU-{cp}")),
            quantity,
            last_pushed: last,
            last_pushed_at: last.map(|_| read_at() - chrono::Duration::minutes(1)),
        }
    }

    fn held(listing: ListingId, quantity: Option<i64>) -> Listing {
        Listing {
            id: listing,
            sku: None,
            title: "t".into(),
            price: None,
            quantity,
            image_url: None,
            weight: None,
            dimensions: None,
            customs: None,
        }
    }

    #[test]
    fn only_listings_in_step_with_switchyard_whose_channel_holds_another_figure_drifted() {
        let plan = vec![
            // Edited by hand on the channel: drift.
            planned(1, id("p1", Some("v1")), 10, Some(10)),
            // At the expected level: nothing to do.
            planned(2, id("p2", Some("v2")), 7, Some(7)),
            // A push is pending (a sale changed the figure): sync-stock's, whatever it holds.
            planned(3, id("p3", None), 4, Some(5)),
            // Never pushed: sync-stock's too.
            planned(4, id("p4", None), 4, None),
            // Gone from the channel.
            planned(5, id("p5", None), 3, Some(3)),
            // Stock not tracked by the channel.
            planned(6, id("p6", None), 3, Some(3)),
            // Pushed after the listings were read: the figure read is older than the push.
            PlannedStock {
                last_pushed_at: Some(read_at() + chrono::Duration::milliseconds(1)),
                ..planned(7, id("p7", None), 8, Some(8))
            },
        ];
        let mut moved = id("p1", Some("v1"));
        moved.inventory_item_id = Some("a new inventory item".into());
        let listings = vec![
            held(moved, Some(25)),
            held(id("p2", Some("v2")), Some(7)),
            held(id("p3", None), Some(9)),
            held(id("p4", None), Some(0)),
            held(id("p6", None), None),
            held(id("p7", None), Some(12)),
        ];
        let found: Vec<(i64, i64, i64)> = drifted(&plan, &listings, read_at())
            .into_iter()
            .map(|(p, found)| (p.channel_product_id, found, p.quantity))
            .collect();
        assert_eq!(found, vec![(1, 25, 10)]);
    }

    #[test]
    fn a_channel_lower_than_switchyard_is_drift_too() {
        let plan = vec![planned(1, id("p1", None), 10, Some(10))];
        let listings = vec![held(id("p1", None), Some(3))];
        let found: Vec<i64> = drifted(&plan, &listings, read_at())
            .iter()
            .map(|d| d.1)
            .collect();
        assert_eq!(found, vec![3]);
    }
}
