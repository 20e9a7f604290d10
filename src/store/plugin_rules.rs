//! A store's plugin rules, and what the import does with them: evaluate them on an order that
//! has just become work (the rules themselves are [`crate::domain::plugin_rules`]) and write the
//! outcome on the order, with the run-plugin jobs it calls for, in the page's transaction.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};

use super::channels::ChannelRow;
use super::order_state::SyncMove;
use super::orders::UpsertOutcome;
use super::outbox::OutboxItem;
use super::{account_row, delete_account_row, enum_text, AccountId, StoreError};
use crate::domain::order_state::{self, SyncEvent, SyncState};
use crate::domain::plugin_rules::{evaluate, Action, Condition, Facts, Rule, RuleStatus};
use crate::domain::{event_type, Decision};
use crate::domain::{ChannelOrder, SyncStatus};
use crate::jobs::RunPlugin;

/// A rule as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = PluginRule, example = json!({
    "id": 1, "store_id": 1, "position": 1, "name": "Tents go to Northfield",
    "condition": {"type": "sku_in", "skus": ["TENT-2P", "TENT-KIT"]},
    "action": {"type": "send_to_plugin", "plugin_id": 1},
    "active": true,
    "created_at": "2026-12-04T22:34:14.515817Z", "updated_at": "2026-12-04T22:34:14.515817Z"
}))]
pub struct RuleRow {
    pub id: i64,
    pub store_id: i64,
    /// Rules are evaluated by position, then id; positions need not be contiguous.
    pub position: i32,
    pub name: String,
    pub condition: Condition,
    pub action: Action,
    /// Off: the rule is skipped (as it is while the plugin it routes to is off).
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Raw {
    id: i64,
    store_id: i64,
    position: i32,
    name: String,
    condition: Json<serde_json::Value>,
    action: Json<serde_json::Value>,
    active: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "id, store_id, position, name, condition, action, active, created_at, updated_at";

impl TryFrom<Raw> for RuleRow {
    type Error = StoreError;

    fn try_from(r: Raw) -> Result<RuleRow, StoreError> {
        let corrupt = |what: &str, e: serde_json::Error| {
            StoreError::Corrupt(format!("plugin rule {} {what}: {e}", r.id))
        };
        Ok(RuleRow {
            condition: serde_json::from_value(r.condition.0.clone())
                .map_err(|e| corrupt("condition", e))?,
            action: serde_json::from_value(r.action.0.clone()).map_err(|e| corrupt("action", e))?,
            id: r.id,
            store_id: r.store_id,
            position: r.position,
            name: r.name,
            active: r.active,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

fn json_of<T: Serialize>(value: &T) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(value).map_err(|e| StoreError::Corrupt(format!("rule JSON: {e}")))
}

/// A rule to create. Without a position it goes last.
#[derive(Debug)]
pub struct NewRule<'a> {
    pub store_id: i64,
    pub name: &'a str,
    pub position: Option<i32>,
    pub condition: &'a Condition,
    pub action: &'a Action,
    pub active: bool,
}

/// A partial update: `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct RuleUpdate<'a> {
    pub name: Option<&'a str>,
    pub position: Option<i32>,
    pub condition: Option<&'a Condition>,
    pub action: Option<&'a Action>,
    pub active: Option<bool>,
}

/// True when the store has the plugin (the account's store, checked by the caller's query).
async fn store_has_plugin(
    conn: &mut PgConnection,
    account: AccountId,
    store_id: i64,
    plugin_id: i64,
) -> Result<bool, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM plugins \
                        WHERE account_id = $1 AND store_id = $2 AND id = $3)",
    )
    .bind(account.0)
    .bind(store_id)
    .bind(plugin_id)
    .fetch_one(conn)
    .await?)
}

/// True when every channel a `channel_in` condition names is a channel of the store (a
/// condition naming another store's channel could never match, which is a mistake to tell
/// about, not to keep).
async fn store_has_channels(
    conn: &mut PgConnection,
    account: AccountId,
    store_id: i64,
    condition: &Condition,
) -> Result<bool, StoreError> {
    let Condition::ChannelIn { channel_ids } = condition else {
        return Ok(true);
    };
    let found: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT id) FROM channels \
         WHERE account_id = $1 AND store_id = $2 AND id = ANY($3)",
    )
    .bind(account.0)
    .bind(store_id)
    .bind(channel_ids)
    .fetch_one(conn)
    .await?;
    let wanted: HashSet<&i64> = channel_ids.iter().collect();
    Ok(usize::try_from(found).is_ok_and(|n| n == wanted.len()))
}

/// Creates a rule in one of the account's stores: `MissingParent("store")` when the store is
/// not the account's, `MissingParent("plugin")` when a routing action names a plugin that is
/// not the store's, `MissingParent("channel")` when a `channel_in` condition names a channel
/// that is not the store's.
pub async fn create(
    pool: &PgPool,
    account: AccountId,
    new: &NewRule<'_>,
) -> Result<RuleRow, StoreError> {
    let mut tx = pool.begin().await?;
    let store: Option<i64> =
        sqlx::query_scalar("SELECT id FROM stores WHERE account_id = $1 AND id = $2 FOR SHARE")
            .bind(account.0)
            .bind(new.store_id)
            .fetch_optional(&mut *tx)
            .await?;
    if store.is_none() {
        return Err(StoreError::MissingParent("store"));
    }
    let plugin_id = new.action.plugin_id();
    if let Some(p) = plugin_id {
        if !store_has_plugin(&mut tx, account, new.store_id, p).await? {
            return Err(StoreError::MissingParent("plugin"));
        }
    }
    if !store_has_channels(&mut tx, account, new.store_id, new.condition).await? {
        return Err(StoreError::MissingParent("channel"));
    }
    let raw: Raw = sqlx::query_as(&format!(
        "INSERT INTO plugin_rules (account_id, store_id, position, name, condition, action, \
             plugin_id, active) \
         VALUES ($1, $2, COALESCE($3, (SELECT COALESCE(max(position), 0) + 1 FROM plugin_rules \
                                        WHERE store_id = $2)), \
                 $4, $5, $6, $7, $8) \
         RETURNING {COLUMNS}"
    ))
    .bind(account.0)
    .bind(new.store_id)
    .bind(new.position)
    .bind(new.name)
    .bind(Json(json_of(new.condition)?))
    .bind(Json(json_of(new.action)?))
    .bind(plugin_id)
    .bind(new.active)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    raw.try_into()
}

/// A store's rules in evaluation order; `None` when the store is not the account's.
pub async fn list(
    pool: &PgPool,
    account: AccountId,
    store_id: i64,
) -> Result<Option<Vec<RuleRow>>, StoreError> {
    if super::stores::get(pool, account, store_id).await?.is_none() {
        return Ok(None);
    }
    let rows: Vec<Raw> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM plugin_rules \
         WHERE account_id = $1 AND store_id = $2 ORDER BY position, id"
    ))
    .bind(account.0)
    .bind(store_id)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(RuleRow::try_from)
        .collect::<Result<_, _>>()
        .map(Some)
}

pub async fn get(
    pool: &PgPool,
    account: AccountId,
    id: i64,
) -> Result<Option<RuleRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM plugin_rules WHERE account_id = $1 AND id = $2");
    let raw: Option<Raw> = account_row(pool, &sql, account, id).await?;
    raw.map(RuleRow::try_from).transpose()
}

/// Applies a partial update; `None` when the account has no such rule,
/// `MissingParent("plugin")` when a new routing action names a plugin not of the rule's store.
pub async fn update(
    pool: &PgPool,
    account: AccountId,
    id: i64,
    update: &RuleUpdate<'_>,
) -> Result<Option<RuleRow>, StoreError> {
    let mut tx = pool.begin().await?;
    let store: Option<i64> = sqlx::query_scalar(
        "SELECT store_id FROM plugin_rules WHERE account_id = $1 AND id = $2 FOR UPDATE",
    )
    .bind(account.0)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(store_id) = store else {
        return Ok(None);
    };
    if let Some(p) = update.action.and_then(Action::plugin_id) {
        if !store_has_plugin(&mut tx, account, store_id, p).await? {
            return Err(StoreError::MissingParent("plugin"));
        }
    }
    if let Some(condition) = update.condition {
        if !store_has_channels(&mut tx, account, store_id, condition).await? {
            return Err(StoreError::MissingParent("channel"));
        }
    }
    let raw: Raw = sqlx::query_as(&format!(
        "UPDATE plugin_rules SET \
             name = COALESCE($3, name), \
             position = COALESCE($4, position), \
             condition = COALESCE($5, condition), \
             action = COALESCE($6, action), \
             plugin_id = CASE WHEN $6::jsonb IS NULL THEN plugin_id ELSE $7 END, \
             active = COALESCE($8, active), \
             updated_at = now() \
         WHERE account_id = $1 AND id = $2 \
         RETURNING {COLUMNS}"
    ))
    .bind(account.0)
    .bind(id)
    .bind(update.name)
    .bind(update.position)
    .bind(update.condition.map(json_of).transpose()?.map(Json))
    .bind(update.action.map(json_of).transpose()?.map(Json))
    .bind(update.action.and_then(Action::plugin_id))
    .bind(update.active)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    raw.try_into().map(Some)
}

pub async fn delete(pool: &PgPool, account: AccountId, id: i64) -> Result<bool, StoreError> {
    let sql = "DELETE FROM plugin_rules WHERE account_id = $1 AND id = $2";
    delete_account_row(pool, sql, account, id).await
}

/// A store's rules for evaluation, in order, with their names. A rule routing to a disabled
/// plugin counts as inactive.
async fn rules_for_import(
    conn: &mut PgConnection,
    store_id: i64,
) -> Result<(Vec<Rule>, HashMap<i64, String>), StoreError> {
    type Row = (
        i64,
        String,
        Json<serde_json::Value>,
        Json<serde_json::Value>,
        bool,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT r.id, r.name, r.condition, r.action, r.active AND COALESCE(p.active, true) \
         FROM plugin_rules r LEFT JOIN plugins p ON p.id = r.plugin_id \
         WHERE r.store_id = $1 ORDER BY r.position, r.id",
    )
    .bind(store_id)
    .fetch_all(conn)
    .await?;
    let mut names = HashMap::with_capacity(rows.len());
    let mut rules = Vec::with_capacity(rows.len());
    for (id, name, Json(condition), Json(action), active) in rows {
        let corrupt = |e: serde_json::Error| StoreError::Corrupt(format!("plugin rule {id}: {e}"));
        rules.push(Rule {
            id,
            condition: serde_json::from_value(condition).map_err(corrupt)?,
            action: serde_json::from_value(action).map_err(corrupt)?,
            active,
        });
        names.insert(id, name);
    }
    Ok((rules, names))
}

/// What the rules did to a page.
#[derive(Debug, Default)]
pub struct PageRouting {
    /// Orders a rule gave a status, with it: their event is `order.excluded` / `order.on_hold`.
    pub statuses: HashMap<i64, RuleStatus>,
    /// The run-plugin jobs to enqueue with the page.
    pub jobs: Vec<OutboxItem>,
}

impl PageRouting {
    /// The upsert's outcome with the sync status a rule gave the order, if one did.
    pub fn adjusted(&self, outcome: &UpsertOutcome) -> UpsertOutcome {
        match self.statuses.get(&outcome.order_id) {
            Some(status) => UpsertOutcome {
                sync_status: status.sync_status(),
                ..outcome.clone()
            },
            None => outcome.clone(),
        }
    }

    /// The event announcing an order a rule gave a status (`order.excluded`, `order.on_hold`),
    /// which takes the place of the one the import would write.
    pub fn event(&self, order_id: i64) -> Option<event_type::Action> {
        self.statuses.get(&order_id).map(|s| s.event())
    }
}

/// Evaluates the store's rules on each order of the page that has just become work (pending,
/// rules never applied), writes the outcome on it (status and reason, tags, routed plugin), and
/// returns the run-plugin jobs that follow: one for each order routed now and left pending, and
/// one for each order routed before whose channel copy changed (an edit or a cancellation,
/// which the plugin must hear about). In the caller's transaction, after the page's upsert.
///
/// `outcomes` and `orders` are the page's upsert outcomes and the orders they are of, in the
/// same order.
pub async fn apply_at_import_in_tx(
    conn: &mut PgConnection,
    channel: &ChannelRow,
    outcomes: &[UpsertOutcome],
    orders: &[(ChannelOrder, Decision)],
    known_skus: &HashSet<String>,
) -> Result<PageRouting, StoreError> {
    apply_in_tx(
        conn,
        channel.store_id,
        channel.id,
        outcomes,
        orders,
        known_skus,
    )
    .await
}

/// The rules on an order a caller just included (`super::order_state`), as on an order that
/// has just become work at import: when they never ran on it (its channel's filters excluded it
/// when it arrived), they route it, tag it and may hold or exclude it. Returns the jobs that
/// follow.
pub async fn apply_to_included_in_tx(
    conn: &mut PgConnection,
    order_id: i64,
) -> Result<Vec<OutboxItem>, StoreError> {
    let Some(stored) = super::orders::read_in_tx(conn, &[order_id]).await?.pop() else {
        return Ok(Vec::new());
    };
    let order = stored.order.order.clone();
    let skus: Vec<String> = order.lines.iter().filter_map(|l| l.sku.clone()).collect();
    let known = super::products::known_skus(conn, stored.order.store_id, &skus).await?;
    let outcome = UpsertOutcome {
        order_id,
        created: false,
        changed: false,
        status_change: None,
        sync_status: stored.order.sync_status,
    };
    let page = [(order, Decision::Import)];
    let routing = apply_in_tx(
        conn,
        stored.order.store_id,
        stored.order.channel_id,
        &[outcome],
        &page,
        &known,
    )
    .await?;
    Ok(routing.jobs)
}

async fn apply_in_tx(
    conn: &mut PgConnection,
    store_id: i64,
    channel_id: i64,
    outcomes: &[UpsertOutcome],
    orders: &[(ChannelOrder, Decision)],
    known_skus: &HashSet<String>,
) -> Result<PageRouting, StoreError> {
    let mut routing = PageRouting::default();
    if outcomes.is_empty() {
        return Ok(routing);
    }
    let page: Vec<(&UpsertOutcome, &ChannelOrder)> = outcomes
        .iter()
        .zip(orders)
        .map(|(outcome, (order, _))| (outcome, order))
        .collect();
    let ids: Vec<i64> = outcomes.iter().map(|o| o.order_id).collect();
    type State = (i64, String, Option<i64>, bool, bool);
    let states: Vec<State> = sqlx::query_as(
        "SELECT id, sync_status, plugin_id, routed_at IS NOT NULL, rules_applied_at IS NOT NULL \
         FROM orders WHERE id = ANY($1)",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    let states: HashMap<i64, State> = states.into_iter().map(|s| (s.0, s)).collect();
    let pending = enum_text(&SyncStatus::Pending)?;
    let fresh: Vec<&(&UpsertOutcome, &ChannelOrder)> = page
        .iter()
        .filter(|(o, _)| {
            states
                .get(&o.order_id)
                .is_some_and(|s| s.1 == pending && !s.4)
        })
        .collect();

    let mut update = RoutingColumns::default();
    if !fresh.is_empty() {
        let (rules, names) = rules_for_import(conn, store_id).await?;
        for (o, order) in fresh {
            let out = evaluate(
                &rules,
                &Facts {
                    order,
                    channel_id,
                    known_skus,
                },
            );
            let reason = out.status_rule.map(|id| {
                let name = names.get(&id).map(String::as_str).unwrap_or_default();
                match out.status {
                    Some(RuleStatus::Excluded) => format!("excluded by plugin rule `{name}`"),
                    _ => format!("held by plugin rule `{name}`"),
                }
            });
            // Only an order left pending goes to its plugin now; a held one keeps its route
            // for when it is released, an excluded one is not fulfilled at all.
            let route = match out.status {
                Some(RuleStatus::Excluded) => None,
                _ => out.plugin_id,
            };
            let send = route.is_some() && out.status.is_none();
            if let Some(status) = out.status {
                routing.statuses.insert(o.order_id, status);
            }
            if let (Some(plugin_id), true) = (route, send) {
                routing.jobs.push(run_plugin(plugin_id, o.order_id)?);
            }
            update.push(o.order_id, out.status, reason, &out.tags, route, send)?;
        }
        update.write(conn).await?;
    }

    // Orders already with a plugin whose channel copy changed now are sent again, as an update;
    // one the plugin booked is `updated` until it takes the change.
    for (o, _) in page.iter().filter(|(o, _)| o.changed && !o.created) {
        if let Some((_, _, Some(plugin_id), true, _)) = states.get(&o.order_id) {
            routing.jobs.push(run_plugin(*plugin_id, o.order_id)?);
            super::order_state::move_in_tx(conn, o.order_id, &SyncEvent::Resent).await?;
        }
    }
    Ok(routing)
}

fn run_plugin(plugin_id: i64, order_id: i64) -> Result<OutboxItem, StoreError> {
    // Coalesced with a send still waiting: it reads the order when it runs, so it carries this
    // change too. A send already running gave up its key, so a change during it is sent again.
    let job = RunPlugin {
        plugin_id,
        order_id,
    };
    OutboxItem::job(&job, Some(job.unique_key()))
}

/// Rule outcomes of a page as parallel columns, for one `UPDATE ... FROM UNNEST`.
#[derive(Default)]
struct RoutingColumns {
    ids: Vec<i64>,
    statuses: Vec<Option<String>>,
    reasons: Vec<Option<String>>,
    tags: Vec<String>,
    plugins: Vec<Option<i64>>,
    routed: Vec<bool>,
    /// The sync status moves the rules' statuses make, for the orders' histories.
    moves: Vec<SyncMove>,
}

impl RoutingColumns {
    fn push(
        &mut self,
        order_id: i64,
        status: Option<RuleStatus>,
        reason: Option<String>,
        tags: &[String],
        plugin_id: Option<i64>,
        routed: bool,
    ) -> Result<(), StoreError> {
        if let (Some(status), Some(reason)) = (status, &reason) {
            let event = SyncEvent::Ruled {
                sync: status.sync_status(),
                reason: reason.clone(),
            };
            let from = SyncState::new(SyncStatus::Pending, None, None);
            if let Ok(to) = order_state::next(&from, &event) {
                self.moves.push(SyncMove {
                    order_id,
                    kind: event.kind(&to),
                    from: Some(from),
                    to,
                });
            }
        }
        self.ids.push(order_id);
        self.statuses
            .push(status.as_ref().map(enum_text).transpose()?);
        self.reasons.push(reason);
        self.tags.push(
            serde_json::to_string(tags)
                .map_err(|e| StoreError::Corrupt(format!("rule tags: {e}")))?,
        );
        self.plugins.push(plugin_id);
        self.routed.push(routed);
        Ok(())
    }

    async fn write(&self, conn: &mut PgConnection) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE orders o SET \
                 sync_status = COALESCE(u.status, o.sync_status), \
                 rule_status = u.status, \
                 excluded_reason = COALESCE(u.reason, o.excluded_reason), \
                 sync_set_by = CASE WHEN u.status IS NULL THEN o.sync_set_by ELSE 'rule' END, \
                 rule_tags = ARRAY(SELECT jsonb_array_elements_text(u.tags::jsonb)), \
                 tags = o.tags || ARRAY(SELECT t FROM jsonb_array_elements_text(u.tags::jsonb) t \
                                        WHERE NOT t = ANY(o.tags)), \
                 plugin_id = u.plugin_id, \
                 routed_at = CASE WHEN u.routed THEN now() END, \
                 rules_applied_at = now() \
             FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], \
                         $6::bool[]) AS u(id, status, reason, tags, plugin_id, routed) \
             WHERE o.id = u.id",
        )
        .bind(&self.ids)
        .bind(&self.statuses)
        .bind(&self.reasons)
        .bind(&self.tags)
        .bind(&self.plugins)
        .bind(&self.routed)
        .execute(&mut *conn)
        .await?;
        super::order_state::write_sync_events(conn, &self.moves).await
    }
}
