//! The import-products worker: downloads a channel's listings into channel products, maps them
//! to the store's products by SKU, creates missing main products when the channel says so, and
//! then has the channel's stock pushed if it syncs automatically.

use std::sync::Arc;

use apalis_core::task::data::Data;

use super::Deps;
use crate::jobs::{ImportProducts, SyncStock};
use crate::queue::JobError;
use crate::store::outbox::{self, OutboxItem};
use crate::store::{channel_products, channels, webhooks};
use crate::webhooks::events::event;

pub async fn run(job: ImportProducts, deps: Data<Arc<Deps>>) -> Result<(), JobError> {
    let Some(ic) =
        channels::get_for_import(&deps.db, &deps.credentials_key, job.channel_id).await?
    else {
        return Ok(());
    };
    let channel = &ic.channel;
    if !channel.active {
        return Ok(());
    }
    let connector = deps.connector(&ic).map_err(JobError::from)?;
    let listings = connector.list_products().await.map_err(JobError::from)?;
    let mut tx = deps.db.begin().await?;
    for listing in &listings {
        channel_products::upsert_listing(
            &mut tx,
            channel.account_id,
            channel.id,
            channel.store_id,
            listing,
        )
        .await?;
    }
    let mut created_products = Vec::new();
    if channel.settings.add_to_main_products {
        created_products = channel_products::add_missing_products(
            &mut tx,
            channel.account_id,
            channel.store_id,
            channel.id,
        )
        .await?;
    }
    let events = events_in_tx(&mut tx, channel.id, &created_products).await?;
    if !events.is_empty() {
        outbox::push_many_in_tx(&mut tx, &events).await?;
        outbox::notify_in_tx(&mut tx).await?;
    }
    if !channels::auto_sync_targets(&mut tx, &[channel.id])
        .await?
        .is_empty()
    {
        let job = SyncStock {
            channel_id: channel.id,
        };
        let item = OutboxItem::job(&job, Some(job.unique_key()))?;
        outbox::push_in_tx(&mut tx, &item).await?;
        outbox::notify_in_tx(&mut tx).await?;
    }
    tx.commit().await?;
    tracing::info!(
        channel_id = channel.id,
        listings = listings.len(),
        "products imported"
    );
    Ok(())
}

/// The events of this download, written in its transaction: `channel_product.created|updated`
/// for each listing it inserted or changed, `product.created` for each main product it added.
async fn events_in_tx(
    tx: &mut sqlx::PgConnection,
    channel_id: i64,
    created_products: &[i64],
) -> Result<Vec<OutboxItem>, JobError> {
    let mut items = Vec::new();
    let listings = webhooks::listings_changed_in_tx(tx, channel_id).await?;
    for (created, row) in &listings {
        let kind = match created {
            true => "channel_product.created",
            false => "channel_product.updated",
        };
        items.push(event(kind, row.store_id, row.id, row)?);
    }
    let products = webhooks::new_products_in_tx(tx, created_products).await?;
    for p in &products {
        items.push(event("product.created", p.store_id, p.id, p)?);
    }
    Ok(items)
}
