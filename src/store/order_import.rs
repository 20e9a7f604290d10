//! Committing orders read from a channel: one transaction per page applies the channel's
//! filters, upserts each order idempotently, moves stock for the store's managed SKUs, runs the
//! plugin rules, writes the events and jobs it causes to the outbox and, for a walk, advances the
//! channel's cursor, so a crash replays at most one committed page and never skips one. The
//! import worker commits the pages it reads; the inbound webhook route commits the order a
//! platform's signed webhook carries.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::channels::ImportChannel;
use super::events::{self, Event};
use super::orders::{self, StoredOrder, UpsertOutcome};
use super::outbox::{self, OutboxItem};
use super::StoreError;
use super::{channel_products, import_state, plugin_rules, products, stock};
use crate::domain::event_type::Action;
use crate::domain::{decide, ChannelOrder, Decision, OrderCursor, OrderStatus, SyncStatus};

/// What the event an upsert causes says happened to the order, if it causes one.
fn event_for(o: &UpsertOutcome, decision: &Decision) -> Option<Action> {
    if o.created {
        return Some(match decision {
            Decision::Import => Action::Created,
            Decision::Hold { .. } => Action::OnHold,
            Decision::Exclude { .. } => Action::Excluded,
        });
    }
    o.changed.then_some(Action::Updated)
}

/// What an order of the page does to stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StockEffect {
    /// It takes its lines' units.
    Take,
    /// It was cancelled or refunded on the channel: it puts back what it took.
    GiveBack,
}

/// The order's effect on stock, applied for the whole page in its transaction
/// ([`stock::apply_page_in_tx`]): an order taken for work decrements its lines' products (kits
/// by their components); one cancelled or refunded on the channel puts back what it took. Both
/// are idempotent per order line, so a re-import never counts twice.
///
/// An unpaid order, and one the channel says is not ready for despatch, takes stock whether or
/// not it is work (`import_unpaid`, `import_not_ready`): the channel holds its units from the
/// moment it is placed, so not counting them would let the other channels sell them again and
/// leave that channel's level apart from switchyard's figure. A paid, ready order excluded by a
/// filter or a plugin rule takes none: it is not switchyard's to fulfil.
fn stock_effect(outcome: &UpsertOutcome, order: &ChannelOrder) -> Option<StockEffect> {
    let status = order.status;
    let gone = matches!(status, OrderStatus::Cancelled | OrderStatus::Refunded);
    if gone && outcome.status_change.is_some() {
        return Some(StockEffect::GiveBack);
    }
    let reserved = status == OrderStatus::Unpaid || order.not_ready.is_some();
    let takes_stock = !gone && (outcome.sync_status != SyncStatus::Excluded || reserved);
    (takes_stock && (outcome.created || outcome.changed)).then_some(StockEffect::Take)
}

/// The events of the page's orders, each carrying the order as stored now (its lines' ids,
/// products and kits, its rule status), as the API shows it.
async fn order_events_in_tx(
    tx: &mut sqlx::PgConnection,
    announced: &[(i64, Action)],
) -> Result<Vec<OutboxItem>, StoreError> {
    let ids: Vec<i64> = announced.iter().map(|(id, _)| *id).collect();
    let stored: HashMap<i64, StoredOrder> = orders::read_in_tx(tx, &ids)
        .await?
        .into_iter()
        .map(|o| (o.order.id, o))
        .collect();
    let all = announced
        .iter()
        .map(|(id, action)| match stored.get(id) {
            Some(order) => Ok(Event::Order(*action, order)),
            None => Err(StoreError::Corrupt(format!(
                "order {id} vanished in the transaction that stored it"
            ))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    events::outbox_items(&all)
}

/// Commits `page` for the channel in one transaction: orders, their events, and, with a
/// `checkpoint`, the channel's cursor moved to it. Returns how many of the page's orders were
/// new or changed: an order re-read as it is held writes nothing and does not count.
pub async fn store_page(
    db: &PgPool,
    ic: &ImportChannel,
    page: &[ChannelOrder],
    checkpoint: Option<DateTime<Utc>>,
) -> Result<usize, StoreError> {
    let channel = &ic.channel;
    let mut tx = db.begin().await?;
    let decided: Vec<_> = page
        .iter()
        .map(|order| (order.clone(), decide(&channel.settings, order)))
        .collect();
    let outcomes = orders::upsert_page(&mut tx, channel, &decided).await?;
    let stored = outcomes.iter().filter(|o| o.created || o.changed).count();
    let read: Vec<&str> = page.iter().map(|o| o.channel_order_id.as_str()).collect();
    orders::mark_read_in_tx(&mut tx, channel.id, &read).await?;
    let mut created = 0i64;
    let mut announced: Vec<(i64, Action)> = Vec::new();
    let (mut taking, mut giving_back) = (Vec::new(), Vec::new());
    let page_skus: Vec<String> = page
        .iter()
        .flat_map(|o| o.lines.iter().filter_map(|l| l.sku.clone()))
        .collect();
    let managed = products::known_skus(&mut tx, channel.store_id, &page_skus).await?;
    // The store's plugin rules, on orders that just became work: their status, tags and route.
    let routing =
        plugin_rules::apply_at_import_in_tx(&mut tx, channel, &outcomes, &decided, &managed)
            .await?;
    for (outcome, (order, decision)) in outcomes.iter().zip(&decided) {
        let outcome = &routing.adjusted(outcome);
        if outcome.created {
            created += 1;
        }
        let touches_stock = order
            .lines
            .iter()
            .any(|l| l.sku.as_ref().is_some_and(|s| managed.contains(s)));
        if touches_stock {
            match stock_effect(outcome, order) {
                Some(StockEffect::Take) => taking.push(outcome.order_id),
                Some(StockEffect::GiveBack) => giving_back.push(outcome.order_id),
                None => {}
            }
        }
        if let Some(action) = routing
            .event(outcome.order_id)
            .or_else(|| event_for(outcome, decision))
        {
            announced.push((outcome.order_id, action));
        }
    }
    // The page's stock in a few statements, whatever its size, before the order events read
    // back the products their lines were matched to.
    let stock_changed = stock::apply_page_in_tx(&mut tx, &taking, &giving_back).await?;
    let mut items = order_events_in_tx(&mut tx, &announced).await?;
    items.extend(stock::moved_events_in_tx(&mut tx, &stock_changed).await?);
    items.extend(channel_products::stock_sync_jobs_in_tx(&mut tx, &stock_changed).await?);
    items.extend(routing.jobs);
    // One statement for the page's outbox rows: a round trip per order would dominate the page.
    outbox::push_many_in_tx(&mut tx, &items).await?;
    match checkpoint {
        Some(t) => {
            let cursor = OrderCursor::Since(Some(t));
            import_state::save_cursor_in_tx(&mut tx, channel.id, &cursor, created).await?;
        }
        None if created > 0 => {
            import_state::count_imported_in_tx(&mut tx, channel.id, created).await?;
        }
        None => {}
    }
    if !items.is_empty() {
        outbox::notify_in_tx(&mut tx).await?;
    }
    tx.commit().await?;
    metrics::counter!("switchyard_orders_imported_total", "channel_kind" => channel.kind.as_str())
        .increment(created.unsigned_abs());
    Ok(stored)
}
