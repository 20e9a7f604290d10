//! Outbound webhooks: endpoints, the events sent to them, one delivery per (event, endpoint) and
//! every attempt of a delivery.
//!
//! Secrets are sealed with the credentials key, as channel credentials are, and shown only when
//! created or rotated. The hot path of a delivery is two statements, each shared by a batch of
//! deliveries (see `webhooks::batcher`): [`delivery_work_many`] reads everything the attempts
//! need in one join, and [`record_attempts`] writes each attempt, each delivery's new state and
//! (only when it changes) each endpoint's failing state.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};

use super::events::Event;
use super::outbox::{self, OutboxItem};
use super::{account_row, delete_account_row, owner_of, AccountId, StoreError, WithOwner};
use crate::crypto::CredentialsKey;
use crate::domain::event_type::{EventType, WEBHOOK_TEST};
use crate::jobs::DeliverWebhook;

/// A webhook as the API shows it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = Webhook, example = json!({
    "id": 18,
    "store_id": 1,
    "url": "https://hooks.example/switchyard",
    "description": "Order feed for the warehouse",
    "triggers": ["order.created", "order.updated"],
    "enabled": true,
    "disabled_reason": null,
    "failing_since": null,
    "previous_secret_until": null,
    "created_at": "2026-12-04T23:01:16.894692Z",
    "updated_at": "2026-12-04T23:01:16.894692Z"
}))]
pub struct WebhookRow {
    pub id: i64,
    /// The store whose events it is sent.
    pub store_id: i64,
    /// Where the events are POSTed, as parsed (the host lower case, a bare host with `/`).
    pub url: String,
    pub description: Option<String>,
    /// The event types it is sent, sorted, without duplicates.
    #[schema(schema_with = sorted_triggers_schema)]
    pub triggers: Vec<String>,
    /// False: nothing is sent to it (disabled by the merchant, or by switchyard with
    /// `disabled_reason`).
    pub enabled: bool,
    /// Why switchyard disabled it (`410 Gone`, failing too long); null when enabled or disabled
    /// by the merchant.
    pub disabled_reason: Option<String>,
    /// Since when every attempt has failed; null after a success.
    pub failing_since: Option<DateTime<Utc>>,
    /// Until when the previous secret still signs beside the current one, after a rotation;
    /// null when only the current secret signs.
    pub previous_secret_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The JSON Schema of a webhook's triggers: event types of the catalogue, at least one. (A
/// field whose schema a function makes takes its description from the function, not from its
/// doc comment.)
pub fn triggers_schema() -> ArrayBuilder {
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(EventType::all().map(EventType::name))),
        )
        .min_items(Some(1))
}

fn sorted_triggers_schema() -> ArrayBuilder {
    triggers_schema().description(Some(
        "The event types it is sent, sorted, without duplicates.",
    ))
}

/// A delivery's states.
pub const DELIVERY_STATUSES: [&str; 3] = ["pending", "delivered", "failed"];

/// The JSON Schema of a delivery's `status`.
pub fn delivery_status_schema() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(DELIVERY_STATUSES))
}

fn delivery_status_field_schema() -> ObjectBuilder {
    delivery_status_schema().description(Some(
        "`pending` while attempts remain; `delivered` after a 2xx; `failed` once the schedule \
         is spent, the endpoint answered 410, or its webhook was disabled.",
    ))
}

/// The JSON Schema of a delivery's `event_type`: a trigger, or the test send's.
fn event_type_schema() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(
            EventType::all().map(EventType::name).chain([WEBHOOK_TEST]),
        ))
        .description(Some(
            "The event's type: one of the triggers, or `webhook.test` for a test send.",
        ))
}

const COLUMNS: &str = "id, store_id, url, description, triggers, enabled, disabled_reason, \
     failing_since, CASE WHEN previous_secret_until > now() THEN previous_secret_until END \
     AS previous_secret_until, created_at, updated_at";

/// A webhook to create.
#[derive(Debug, Clone)]
pub struct NewWebhook<'a> {
    pub store_id: i64,
    pub url: &'a str,
    pub description: Option<&'a str>,
    pub triggers: &'a [String],
    pub enabled: bool,
    /// The `whsec_...` secret, sealed before it is stored.
    pub secret: &'a str,
}

/// A partial update: `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct WebhookUpdate<'a> {
    pub url: Option<&'a str>,
    pub description: Option<Option<&'a str>>,
    pub triggers: Option<&'a [String]>,
    pub enabled: Option<bool>,
}

/// A delivery as the API shows it: one event sent to one webhook, with every attempt since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = WebhookDelivery, example = json!({
    "id": 2,
    "webhook_id": 2,
    "event_type": "webhook.test",
    "msg_id": "msg_7b21654612b847679b5ec27e63aceba1",
    "status": "failed",
    "attempts": 4,
    "next_attempt_at": null,
    "last_attempt_at": "2026-12-04T22:43:31.654803Z",
    "last_status_code": 500,
    "last_error": "answered 500",
    "created_at": "2026-12-04T22:43:30.942839Z"
}))]
pub struct DeliveryRow {
    pub id: i64,
    pub webhook_id: i64,
    /// A trigger, or `webhook.test`.
    #[schema(schema_with = event_type_schema)]
    pub event_type: String,
    /// The `webhook-id` header it is sent with, the same on every attempt.
    pub msg_id: String,
    /// pending | delivered | failed
    #[schema(schema_with = delivery_status_field_schema)]
    pub status: String,
    /// Attempts ever made, replays included.
    pub attempts: i32,
    /// When the next attempt is due; null unless pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The HTTP status of the last attempt's answer; null when it got none.
    pub last_status_code: Option<i32>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

const DELIVERY_COLUMNS: &str = "d.id, d.webhook_id, e.type AS event_type, e.msg_id, d.status, \
     d.attempts, d.next_attempt_at, d.last_attempt_at, d.last_status_code, d.last_error, \
     d.created_at";

/// One attempt of a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = WebhookAttempt, example = json!({
    "id": 1,
    "delivery_id": 1,
    "attempt": 1,
    "succeeded": true,
    "response_code": 200,
    "duration_ms": 3,
    "response_excerpt": "ok",
    "error": null,
    "created_at": "2026-12-04T22:43:30.955232Z"
}))]
pub struct AttemptRow {
    pub id: i64,
    pub delivery_id: i64,
    /// Which attempt of its round it was, from 1 (a replay starts a new round).
    pub attempt: i32,
    /// The endpoint answered 2xx.
    pub succeeded: bool,
    /// The HTTP status of the answer; null when there was none.
    pub response_code: Option<i32>,
    /// From sending the request to the end of the answer (or the failure).
    pub duration_ms: i32,
    /// The start of the answer's body, truncated.
    pub response_excerpt: Option<String>,
    /// Why it failed when there was no answer (refused target, timeout, connection error).
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
}

const ATTEMPT_COLUMNS: &str = "id, delivery_id, attempt, succeeded, response_code, duration_ms, \
     response_excerpt, error, created_at";

/// Creates a webhook in one of the account's stores; `MissingParent("store")` when the store is
/// not the account's.
pub async fn create(
    pool: &PgPool,
    key: &CredentialsKey,
    account: AccountId,
    new: &NewWebhook<'_>,
) -> Result<WebhookRow, StoreError> {
    let sealed = key.seal(new.secret.as_bytes())?;
    let row: Option<WebhookRow> = sqlx::query_as(&format!(
        "INSERT INTO webhooks (account_id, store_id, url, description, triggers, enabled, \
             secret_enc) \
         SELECT s.account_id, s.id, $3, $4, $5, $6, $7 FROM stores s \
         WHERE s.account_id = $1 AND s.id = $2 \
         RETURNING {COLUMNS}"
    ))
    .bind(account.0)
    .bind(new.store_id)
    .bind(new.url)
    .bind(new.description)
    .bind(new.triggers)
    .bind(new.enabled)
    .bind(sealed)
    .fetch_optional(pool)
    .await?;
    row.ok_or(StoreError::MissingParent("store"))
}

pub async fn get(
    pool: &PgPool,
    account: AccountId,
    id: i64,
) -> Result<Option<WebhookRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM webhooks WHERE account_id = $1 AND id = $2");
    account_row(pool, &sql, account, id).await
}

/// One page of a store's webhooks by id.
pub async fn list(
    pool: &PgPool,
    account: AccountId,
    store_id: i64,
    after: Option<i64>,
    limit: i64,
) -> Result<Vec<WebhookRow>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM webhooks \
         WHERE account_id = $1 AND store_id = $2 AND id > $3 ORDER BY id LIMIT $4"
    ))
    .bind(account.0)
    .bind(store_id)
    .bind(after.unwrap_or(0))
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// Applies a partial update. Enabling a webhook forgets why it was disabled and how long it had
/// been failing, so the auto-disable period starts afresh.
pub async fn update(
    pool: &PgPool,
    account: AccountId,
    id: i64,
    change: &WebhookUpdate<'_>,
) -> Result<Option<WebhookRow>, StoreError> {
    let (set_description, description) = match change.description {
        Some(d) => (true, d),
        None => (false, None),
    };
    Ok(sqlx::query_as(&format!(
        "UPDATE webhooks SET url = COALESCE($3, url), \
             description = CASE WHEN $4 THEN $5 ELSE description END, \
             triggers = COALESCE($6, triggers), \
             enabled = COALESCE($7, enabled), \
             disabled_reason = CASE WHEN $7 THEN NULL ELSE disabled_reason END, \
             failing_since = CASE WHEN $7 AND NOT enabled THEN NULL ELSE failing_since END, \
             updated_at = now() \
         WHERE account_id = $1 AND id = $2 RETURNING {COLUMNS}"
    ))
    .bind(account.0)
    .bind(id)
    .bind(change.url)
    .bind(set_description)
    .bind(description)
    .bind(change.triggers)
    .bind(change.enabled)
    .fetch_optional(pool)
    .await?)
}

pub async fn delete(pool: &PgPool, account: AccountId, id: i64) -> Result<bool, StoreError> {
    let sql = "DELETE FROM webhooks WHERE account_id = $1 AND id = $2";
    delete_account_row(pool, sql, account, id).await
}

/// Makes `secret` the signing secret; the one it replaces keeps signing for `grace`.
pub async fn rotate_secret(
    pool: &PgPool,
    key: &CredentialsKey,
    account: AccountId,
    id: i64,
    secret: &str,
    grace: std::time::Duration,
) -> Result<Option<WebhookRow>, StoreError> {
    let sealed = key.seal(secret.as_bytes())?;
    let grace_ms = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
    Ok(sqlx::query_as(&format!(
        "UPDATE webhooks SET previous_secret_enc = secret_enc, \
             previous_secret_until = now() + make_interval(secs => $4::double precision / 1000), \
             secret_enc = $3, updated_at = now() \
         WHERE account_id = $1 AND id = $2 RETURNING {COLUMNS}"
    ))
    .bind(account.0)
    .bind(id)
    .bind(sealed)
    .bind(grace_ms)
    .fetch_optional(pool)
    .await?)
}

/// Every webhook secret that signs now: the current one, and the previous one during its grace.
pub async fn signing_secrets(
    pool: &PgPool,
    key: &CredentialsKey,
    account: AccountId,
    id: i64,
) -> Result<Option<Vec<String>>, StoreError> {
    let row: Option<(Vec<u8>, Option<Vec<u8>>)> = sqlx::query_as(
        "SELECT secret_enc, CASE WHEN previous_secret_until > now() THEN previous_secret_enc END \
         FROM webhooks WHERE account_id = $1 AND id = $2",
    )
    .bind(account.0)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    let Some((current, previous)) = row else {
        return Ok(None);
    };
    let mut out = vec![key.open_text(&current)?];
    if let Some(p) = previous {
        out.push(key.open_text(&p)?);
    }
    Ok(Some(out))
}

/// The `webhook-id` of a new event: `msg_` and 32 hex digits.
const NEW_MSG_ID: &str = "'msg_' || replace(gen_random_uuid()::text, '-', '')";

/// Deliver-webhook jobs for the first attempt of `deliveries` (of one webhook), `per_job` at most
/// to a job, as outbox rows.
async fn enqueue_in_tx(
    conn: &mut PgConnection,
    deliveries: &[i64],
    per_job: usize,
) -> Result<(), StoreError> {
    let items = DeliverWebhook::first_attempts(deliveries, per_job)
        .map(|job| OutboxItem::job(&job, None))
        .collect::<Result<Vec<_>, _>>()?;
    outbox::push_many_in_tx(conn, &items).await?;
    outbox::notify_in_tx(conn).await
}

/// What a fan-out made: its deliveries' jobs, which the caller pushes once its transaction has
/// committed, and the deferred outbox row that holds the same jobs in case it never does.
#[derive(Debug, Clone, PartialEq)]
pub struct FanOut {
    pub jobs: Vec<DeliverWebhook>,
    pub fallback_row: i64,
}

/// An event in the outbox, as the fan-out needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRow<'a> {
    pub outbox_id: i64,
    pub store_id: i64,
    pub event_type: &'a str,
}

/// Turns `events` into one delivery per enabled webhook of the event's store that subscribes to
/// its type, in the caller's transaction: the relay's, which deletes the rows in the same
/// transaction, so an event is fanned out exactly once or, on a rollback, not at all. Each
/// endpoint's deliveries share deliver-webhook jobs, `per_job` at most to a job; the jobs are
/// written as one outbox row that no relay takes for `defer` (see [`FanOut`]). Events no webhook
/// wants leave nothing behind; `None` when no delivery was made.
pub async fn fan_out_in_tx(
    conn: &mut PgConnection,
    events: &[EventRow<'_>],
    per_job: usize,
    defer: std::time::Duration,
) -> Result<Option<FanOut>, StoreError> {
    if events.is_empty() {
        return Ok(None);
    }
    let mut stores: Vec<i64> = events.iter().map(|e| e.store_id).collect();
    stores.sort_unstable();
    stores.dedup();
    let hooks: Vec<(i64, i64, Vec<String>)> = sqlx::query_as(
        // Locked so that none is deleted before the deliveries made for it are committed.
        "SELECT id, store_id, triggers FROM webhooks WHERE enabled AND store_id = ANY($1) \
         ORDER BY id FOR KEY SHARE",
    )
    .bind(&stores)
    .fetch_all(&mut *conn)
    .await?;
    // (outbox row, webhook) of every delivery to make, and the events they need.
    let mut wanted: Vec<(i64, i64)> = Vec::new();
    let (mut ev_ids, mut ev_stores, mut ev_types) = (Vec::new(), Vec::new(), Vec::new());
    for e in events {
        let before = wanted.len();
        wanted.extend(
            hooks
                .iter()
                .filter(|(_, store, triggers)| {
                    *store == e.store_id && triggers.iter().any(|t| t == e.event_type)
                })
                .map(|(hook, _, _)| (e.outbox_id, *hook)),
        );
        if wanted.len() > before {
            ev_ids.push(e.outbox_id);
            ev_stores.push(e.store_id);
            ev_types.push(e.event_type);
        }
    }
    if wanted.is_empty() {
        return Ok(None);
    }
    // The payload is copied from the outbox row rather than sent back from here.
    let made: Vec<(i64, i64)> = sqlx::query_as(&format!(
        "INSERT INTO webhook_events (outbox_id, store_id, type, msg_id, payload, created_at) \
         SELECT o.id, i.store_id, i.type, {NEW_MSG_ID}, o.payload, o.created_at \
         FROM UNNEST($1::bigint[], $2::bigint[], $3::text[]) WITH ORDINALITY \
              AS i(outbox_id, store_id, type, n) \
         JOIN outbox o ON o.id = i.outbox_id ORDER BY i.n \
         ON CONFLICT (outbox_id) DO NOTHING RETURNING outbox_id, id"
    ))
    .bind(&ev_ids)
    .bind(&ev_stores)
    .bind(&ev_types)
    .fetch_all(&mut *conn)
    .await?;
    let event_of: std::collections::HashMap<i64, i64> = made.into_iter().collect();
    let (hook_ids, event_ids): (Vec<i64>, Vec<i64>) = wanted
        .iter()
        .filter_map(|(outbox_id, hook)| Some((*hook, *event_of.get(outbox_id)?)))
        .unzip();
    let deliveries: Vec<(i64, i64)> = sqlx::query_as(
        "INSERT INTO webhook_deliveries (webhook_id, event_id) \
         SELECT * FROM UNNEST($1::bigint[], $2::bigint[]) \
         ON CONFLICT (event_id, webhook_id) DO NOTHING RETURNING webhook_id, id",
    )
    .bind(&hook_ids)
    .bind(&event_ids)
    .fetch_all(&mut *conn)
    .await?;
    if deliveries.is_empty() {
        return Ok(None);
    }
    let mut by_hook: std::collections::BTreeMap<i64, Vec<i64>> = Default::default();
    for (hook, delivery) in deliveries {
        by_hook.entry(hook).or_default().push(delivery);
    }
    let jobs: Vec<DeliverWebhook> = by_hook
        .values()
        .flat_map(|ids| DeliverWebhook::first_attempts(ids, per_job))
        .collect();
    let fallback = OutboxItem::jobs(&jobs)?;
    let fallback_row = outbox::push_deferred_in_tx(conn, &fallback, Some(defer)).await?;
    Ok(Some(FanOut { jobs, fallback_row }))
}

/// What one attempt of a delivery needs, read in one statement.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryWork {
    pub status: String,
    pub round_attempts: i32,
    /// When the next attempt of a pending delivery is due.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub webhook_id: i64,
    pub url: String,
    pub enabled: bool,
    pub secret_enc: Vec<u8>,
    /// Set while a rotated-out secret is still in its grace period.
    pub previous_secret_enc: Option<Vec<u8>>,
    pub failing_since: Option<DateTime<Utc>>,
    pub msg_id: String,
    pub event_type: String,
    pub event_at: DateTime<Utc>,
    /// The event's `data` as JSON text (the event itself less `type` when it has no `data`).
    pub data: String,
}

impl DeliveryWork {
    /// The secrets to sign with, opened.
    pub fn secrets(&self, key: &CredentialsKey) -> Result<Vec<String>, StoreError> {
        let mut out = vec![key.open_text(&self.secret_enc)?];
        if let Some(p) = &self.previous_secret_enc {
            out.push(key.open_text(p)?);
        }
        Ok(out)
    }
}

/// What attempts of `ids` need, read in one statement: one answer per id, in order, `None` for
/// a delivery that is gone (its webhook was deleted).
pub async fn delivery_work_many(
    pool: &PgPool,
    ids: &[i64],
) -> Result<Vec<Option<DeliveryWork>>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: i64,
        #[sqlx(flatten)]
        work: DeliveryWork,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT d.id, d.status, d.round_attempts, d.next_attempt_at, d.webhook_id, w.url, \
                w.enabled, w.secret_enc, \
                CASE WHEN w.previous_secret_until > now() THEN w.previous_secret_enc END \
                    AS previous_secret_enc, \
                w.failing_since, e.msg_id, e.type AS event_type, e.created_at AS event_at, \
                COALESCE(e.payload->'data', e.payload - 'type')::text AS data \
         FROM webhook_deliveries d \
         JOIN webhooks w ON w.id = d.webhook_id \
         JOIN webhook_events e ON e.id = d.event_id \
         WHERE d.id = ANY($1)",
    )
    .bind(ids)
    .fetch_all(pool)
    .await?;
    let found: std::collections::HashMap<i64, DeliveryWork> =
        rows.into_iter().map(|r| (r.id, r.work)).collect();
    // Cloned, not moved: the same delivery may be asked for twice (a duplicate job).
    Ok(ids.iter().map(|id| found.get(id).cloned()).collect())
}

/// One attempt's outcome, as [`record_attempts`] writes it.
#[derive(Debug, Clone)]
pub struct OwnedAttempt {
    pub delivery_id: i64,
    pub webhook_id: i64,
    pub succeeded: bool,
    pub response_code: Option<u16>,
    pub duration_ms: i32,
    pub response_excerpt: Option<String>,
    pub error: Option<String>,
    /// pending (another attempt follows) | delivered | failed
    pub status: &'static str,
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Disable the endpoint, for this reason.
    pub disable: Option<String>,
}

/// Writes attempts of distinct deliveries in one statement: each attempt, each delivery's new
/// state and, only where it changes, each endpoint's failing state (a busy endpoint's row is not
/// rewritten on every success). Within a batch an endpoint with any success counts as working.
pub async fn record_attempts(pool: &PgPool, attempts: &[&OwnedAttempt]) -> Result<(), StoreError> {
    if attempts.is_empty() {
        return Ok(());
    }
    let n = attempts.len();
    let mut delivery = Vec::with_capacity(n);
    let mut webhook = Vec::with_capacity(n);
    let mut succeeded = Vec::with_capacity(n);
    let mut code = Vec::with_capacity(n);
    let mut duration = Vec::with_capacity(n);
    let mut excerpt = Vec::with_capacity(n);
    let mut error = Vec::with_capacity(n);
    let mut status = Vec::with_capacity(n);
    let mut next = Vec::with_capacity(n);
    let mut last_error = Vec::with_capacity(n);
    let mut disable = Vec::with_capacity(n);
    for a in attempts {
        delivery.push(a.delivery_id);
        webhook.push(a.webhook_id);
        succeeded.push(a.succeeded);
        code.push(a.response_code.map(i32::from));
        duration.push(a.duration_ms);
        excerpt.push(a.response_excerpt.clone());
        error.push(a.error.clone());
        status.push(a.status);
        next.push(a.next_attempt_at);
        last_error.push(a.error.clone().or_else(|| {
            a.response_code
                .filter(|_| !a.succeeded)
                .map(|c| format!("answered {c}"))
        }));
        disable.push(a.disable.clone());
    }
    sqlx::query(
        "WITH r AS ( \
             SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::bool[], $4::int[], $5::int[], \
                 $6::text[], $7::text[], $8::text[], $9::timestamptz[], $10::text[], $11::text[]) \
             AS r(delivery_id, webhook_id, succeeded, code, duration_ms, excerpt, error, status, \
                  next_at, last_error, disable)), \
         a AS ( \
             INSERT INTO webhook_attempts (delivery_id, attempt, succeeded, response_code, \
                 duration_ms, response_excerpt, error) \
             SELECT d.id, d.attempts + 1, r.succeeded, r.code, r.duration_ms, r.excerpt, r.error \
             FROM r JOIN webhook_deliveries d ON d.id = r.delivery_id), \
         d AS ( \
             UPDATE webhook_deliveries d SET status = r.status, attempts = d.attempts + 1, \
                 round_attempts = d.round_attempts + 1, next_attempt_at = r.next_at, \
                 last_attempt_at = now(), last_status_code = r.code, last_error = r.last_error \
             FROM r WHERE d.id = r.delivery_id), \
         g AS ( \
             SELECT webhook_id, bool_or(succeeded) AS ok, min(disable) AS disable \
             FROM r GROUP BY webhook_id) \
         UPDATE webhooks w SET \
             failing_since = CASE WHEN g.ok THEN NULL ELSE COALESCE(w.failing_since, now()) END, \
             enabled = w.enabled AND g.disable IS NULL, \
             disabled_reason = COALESCE(g.disable, w.disabled_reason), \
             updated_at = CASE WHEN g.disable IS NULL THEN w.updated_at ELSE now() END \
         FROM g WHERE w.id = g.webhook_id AND (g.disable IS NOT NULL \
             OR (g.ok AND w.failing_since IS NOT NULL) \
             OR (NOT g.ok AND w.failing_since IS NULL))",
    )
    .bind(&delivery)
    .bind(&webhook)
    .bind(&succeeded)
    .bind(&code)
    .bind(&duration)
    .bind(&excerpt)
    .bind(&error)
    .bind(&status)
    .bind(&next)
    .bind(&last_error)
    .bind(&disable)
    .execute(pool)
    .await?;
    Ok(())
}

/// Fails a pending delivery without an attempt (its endpoint is disabled).
pub async fn fail_unattempted(
    pool: &PgPool,
    delivery_id: i64,
    reason: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL, \
             last_error = $2 WHERE id = $1 AND status = 'pending'",
    )
    .bind(delivery_id)
    .bind(reason)
    .execute(pool)
    .await?;
    Ok(())
}

/// Sends a `webhook.test` event to one webhook, whatever its triggers. Returns the delivery's
/// id; `None` when the webhook is not the account's.
pub async fn test_send(
    pool: &PgPool,
    account: AccountId,
    id: i64,
) -> Result<Option<i64>, StoreError> {
    let mut tx = pool.begin().await?;
    let store_id: Option<i64> =
        // Locked so that the webhook is not deleted before its delivery is written.
        sqlx::query_scalar(
            "SELECT store_id FROM webhooks WHERE account_id = $1 AND id = $2 FOR KEY SHARE",
        )
            .bind(account.0)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(store_id) = store_id else {
        return Ok(None);
    };
    let event = Event::WebhookTest {
        store_id,
        webhook_id: id,
    };
    let delivery: Option<i64> = sqlx::query_scalar(&format!(
        "WITH e AS ( \
             INSERT INTO webhook_events (store_id, type, msg_id, payload) \
             VALUES ($2, $3, {NEW_MSG_ID}, $4) RETURNING id) \
         INSERT INTO webhook_deliveries (webhook_id, event_id) \
         SELECT $1, e.id FROM e RETURNING id"
    ))
    .bind(id)
    .bind(store_id)
    .bind(event.name())
    .bind(sqlx::types::Json(event.payload()?))
    .fetch_optional(&mut *tx)
    .await?;
    let Some(delivery) = delivery else {
        return Ok(None);
    };
    enqueue_in_tx(&mut tx, &[delivery], 1).await?;
    tx.commit().await?;
    Ok(Some(delivery))
}

/// One page of a webhook's deliveries, newest first; `None` when the webhook is not the
/// account's.
pub async fn list_deliveries(
    pool: &PgPool,
    account: AccountId,
    webhook_id: i64,
    status: Option<&str>,
    before: Option<i64>,
    limit: i64,
) -> Result<Option<Vec<DeliveryRow>>, StoreError> {
    if get(pool, account, webhook_id).await?.is_none() {
        return Ok(None);
    }
    let rows = sqlx::query_as(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d \
         JOIN webhook_events e ON e.id = d.event_id \
         WHERE d.webhook_id = $1 AND ($2::text IS NULL OR d.status = $2) \
           AND ($3::bigint IS NULL OR d.id < $3) \
         ORDER BY d.id DESC LIMIT $4"
    ))
    .bind(webhook_id)
    .bind(status)
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(Some(rows))
}

/// A delivery of one of the account's webhooks.
pub async fn get_delivery(
    pool: &PgPool,
    account: AccountId,
    webhook_id: i64,
    delivery_id: i64,
) -> Result<Option<DeliveryRow>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d \
         JOIN webhook_events e ON e.id = d.event_id \
         JOIN webhooks w ON w.id = d.webhook_id \
         WHERE w.account_id = $1 AND d.webhook_id = $2 AND d.id = $3"
    ))
    .bind(account.0)
    .bind(webhook_id)
    .bind(delivery_id)
    .fetch_optional(pool)
    .await?)
}

/// A delivery's attempts, oldest first; `None` when it is not the account's.
pub async fn attempts(
    pool: &PgPool,
    account: AccountId,
    webhook_id: i64,
    delivery_id: i64,
) -> Result<Option<Vec<AttemptRow>>, StoreError> {
    if get_delivery(pool, account, webhook_id, delivery_id)
        .await?
        .is_none()
    {
        return Ok(None);
    }
    Ok(Some(
        sqlx::query_as(&format!(
            "SELECT {ATTEMPT_COLUMNS} FROM webhook_attempts WHERE delivery_id = $1 ORDER BY id"
        ))
        .bind(delivery_id)
        .fetch_all(pool)
        .await?,
    ))
}

/// Why a delivery or a webhook cannot be resent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resend<T> {
    Done(T),
    NotFound,
    /// The webhook is disabled: enable it first, or the resend would fail at once.
    Disabled,
    /// The delivery is still being tried.
    Pending,
}

/// Sends one delivery again, with the whole retry schedule and the same `webhook-id`.
pub async fn replay(
    pool: &PgPool,
    account: AccountId,
    webhook_id: i64,
    delivery_id: i64,
) -> Result<Resend<i64>, StoreError> {
    let mut tx = pool.begin().await?;
    let found: Option<(String, bool)> = sqlx::query_as(
        "SELECT d.status, w.enabled FROM webhook_deliveries d \
         JOIN webhooks w ON w.id = d.webhook_id \
         WHERE w.account_id = $1 AND w.id = $2 AND d.id = $3 FOR UPDATE OF d",
    )
    .bind(account.0)
    .bind(webhook_id)
    .bind(delivery_id)
    .fetch_optional(&mut *tx)
    .await?;
    match found {
        None => return Ok(Resend::NotFound),
        Some((_, false)) => return Ok(Resend::Disabled),
        Some((status, _)) if status == "pending" => return Ok(Resend::Pending),
        Some(_) => {}
    }
    restart_in_tx(&mut tx, &[delivery_id], 1).await?;
    tx.commit().await?;
    Ok(Resend::Done(delivery_id))
}

/// Sends again every failed delivery of a webhook created at or after `since`, `per_job` at most
/// to a deliver-webhook job. Returns how many.
pub async fn recover(
    pool: &PgPool,
    account: AccountId,
    webhook_id: i64,
    since: DateTime<Utc>,
    per_job: usize,
) -> Result<Resend<u64>, StoreError> {
    let mut tx = pool.begin().await?;
    let enabled: Option<bool> = sqlx::query_scalar(
        "SELECT enabled FROM webhooks WHERE account_id = $1 AND id = $2 FOR SHARE",
    )
    .bind(account.0)
    .bind(webhook_id)
    .fetch_optional(&mut *tx)
    .await?;
    match enabled {
        None => return Ok(Resend::NotFound),
        Some(false) => return Ok(Resend::Disabled),
        Some(true) => {}
    }
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM webhook_deliveries \
         WHERE webhook_id = $1 AND status = 'failed' AND created_at >= $2 \
         ORDER BY id FOR UPDATE",
    )
    .bind(webhook_id)
    .bind(since)
    .fetch_all(&mut *tx)
    .await?;
    restart_in_tx(&mut tx, &ids, per_job).await?;
    tx.commit().await?;
    Ok(Resend::Done(ids.len() as u64))
}

/// Puts deliveries of one webhook back to pending with a fresh round of the schedule, and queues
/// them.
async fn restart_in_tx(
    conn: &mut PgConnection,
    ids: &[i64],
    per_job: usize,
) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE webhook_deliveries SET status = 'pending', round_attempts = 0, \
             next_attempt_at = now() WHERE id = ANY($1)",
    )
    .bind(ids)
    .execute(&mut *conn)
    .await?;
    enqueue_in_tx(conn, ids, per_job).await
}

/// Every account's endpoints that are failing (every attempt since `failing_since` failed) or
/// disabled, newest first, `limit` at most: read through the partial index of such endpoints.
pub async fn troubled(pool: &PgPool, limit: i64) -> Result<Vec<WithOwner<WebhookRow>>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT w.*, st.name AS store_name FROM ( \
             SELECT {COLUMNS}, account_id FROM webhooks \
             WHERE failing_since IS NOT NULL OR NOT enabled ORDER BY id DESC LIMIT $1) w \
         JOIN stores st ON st.id = w.store_id ORDER BY w.id DESC"
    ))
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// The account webhook `id` belongs to (see [`super::owner_of`]).
pub async fn account_of(pool: &PgPool, id: i64) -> Result<Option<AccountId>, StoreError> {
    owner_of(pool, "SELECT account_id FROM webhooks WHERE id = $1", id).await
}

/// The newest `per_webhook` deliveries of each of `webhook_ids`, by webhook, newest first.
pub async fn recent_deliveries(
    pool: &PgPool,
    webhook_ids: &[i64],
    per_webhook: i64,
) -> Result<Vec<DeliveryRow>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM UNNEST($1::bigint[]) AS w(id) \
         CROSS JOIN LATERAL ( \
             SELECT * FROM webhook_deliveries WHERE webhook_id = w.id \
             ORDER BY id DESC LIMIT $2) d \
         JOIN webhook_events e ON e.id = d.event_id \
         ORDER BY d.webhook_id, d.id DESC"
    ))
    .bind(webhook_ids)
    .bind(per_webhook)
    .fetch_all(pool)
    .await?)
}

/// The last `per_delivery` attempts of each of `delivery_ids`, by delivery, oldest first.
pub async fn recent_attempts(
    pool: &PgPool,
    delivery_ids: &[i64],
    per_delivery: i64,
) -> Result<Vec<AttemptRow>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT a.* FROM UNNEST($1::bigint[]) AS d(id) \
         CROSS JOIN LATERAL ( \
             SELECT {ATTEMPT_COLUMNS} FROM webhook_attempts WHERE delivery_id = d.id \
             ORDER BY id DESC LIMIT $2) a \
         ORDER BY a.delivery_id, a.id"
    ))
    .bind(delivery_ids)
    .bind(per_delivery)
    .fetch_all(pool)
    .await?)
}
