//! After a stock change through the API, every channel that lists an affected product (or a kit
//! containing one) and syncs stock automatically gets a stock push, coalesced per channel.

use super::tenant::db;
use super::AppState;
use crate::api::error::AppError;
use crate::queue::EnqueueOptions;
use crate::store::{channel_products, channels};

use crate::jobs::{JobKind, SyncStock};

pub(super) async fn after_stock_change(
    state: &AppState,
    product_ids: &[i64],
) -> Result<(), AppError> {
    let mut conn = db(state)?.acquire().await?;
    let listing = channel_products::channels_listing_products(&mut conn, product_ids).await?;
    let targets = channels::auto_sync_targets(&mut conn, &listing).await?;
    let queue = state.broker.queue(SyncStock::QUEUE)?;
    for channel_id in targets {
        let job = SyncStock { channel_id };
        let opts = EnqueueOptions {
            unique_key: Some(job.unique_key()),
            ..EnqueueOptions::default()
        };
        queue.enqueue(&job, &opts).await?;
    }
    Ok(())
}

/// The channels to push: asks each of the channel's listings to be sent again.
pub(super) async fn push_all(state: &AppState, channel_id: i64) -> Result<u64, AppError> {
    let n = channel_products::forget_pushed(db(state)?, channel_id).await?;
    let job = SyncStock { channel_id };
    let opts = EnqueueOptions {
        unique_key: Some(job.unique_key()),
        ..EnqueueOptions::default()
    };
    state
        .broker
        .queue(SyncStock::QUEUE)?
        .enqueue(&job, &opts)
        .await?;
    Ok(n)
}
