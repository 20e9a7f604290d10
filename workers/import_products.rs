//! The import-products worker: downloads a channel's listings into channel products, maps them
//! to the store's products by SKU, creates missing main products when the channel says so, and
//! then has the channel's stock pushed if it syncs automatically.

use std::sync::Arc;

use apalis_core::task::data::Data;

use super::Deps;
use crate::domain::event_type::Action;
use crate::jobs::{ImportProducts, SyncStock};
use crate::queue::JobError;
use crate::store::events::{self, Event};
use crate::store::outbox::{self, OutboxItem};
use crate::store::{channel_products, channels, products};

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
    write_events_in_tx(&mut tx, channel.id, &created_products).await?;
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

/// Writes the events of this download in its transaction: `channel_product.created|updated`
/// for each listing it inserted or changed, `product.created` for each main product it added.
async fn write_events_in_tx(
    tx: &mut sqlx::PgConnection,
    channel_id: i64,
    created_products: &[i64],
) -> Result<(), JobError> {
    let listings = channel_products::changed_in_tx(tx, channel_id).await?;
    let products = products::read_in_tx(tx, created_products).await?;
    let action = |created: bool| match created {
        true => Action::Created,
        false => Action::Updated,
    };
    let all: Vec<Event<'_>> = listings
        .iter()
        .map(|(created, row)| Event::ChannelProduct(action(*created), row))
        .chain(products.iter().map(|p| Event::Product(Action::Created, p)))
        .collect();
    events::write_in_tx(tx, &all).await.map_err(JobError::from)
}
