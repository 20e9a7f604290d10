//! `/dashboard/webhooks`: every account's outbound webhook endpoints that are failing (every
//! attempt since a time has failed) or disabled, each with its newest deliveries and the codes
//! their attempts got; replay one delivery, or recover (send again) every failed delivery since a
//! time, as `POST /v1/webhooks/{id}/...` would for the endpoint's own account.

use std::collections::HashMap;
use std::fmt::Display;

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Deserialize;

use super::page::{action_form, escape};
use super::session::Role;
use super::when::{time, FORMAT};
use super::{begin, forbidden, may_act, see_other, Action};
use crate::api::error::AppError;
use crate::api::tenant::db;
use crate::api::AppState;
use crate::store::webhooks::{self, AttemptRow, DeliveryRow, Resend, WebhookRow};
use crate::store::{AccountId, WithOwner};

/// Endpoints on the page.
const ENDPOINTS: i64 = 50;
/// Newest deliveries shown per endpoint.
const DELIVERIES: i64 = 10;
/// Last attempts shown per delivery.
const ATTEMPTS: i64 = 10;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/dashboard/webhooks", get(list))
        .route("/dashboard/webhooks/{id}/recover", post(recover))
        .route(
            "/dashboard/webhooks/{id}/deliveries/{delivery_id}/replay",
            post(replay),
        )
}

/// What the last action did, carried by its redirect so the page can say it.
#[derive(Deserialize)]
struct Done {
    webhook: Option<i64>,
    recovered: Option<u64>,
    replayed: Option<i64>,
}

struct Loaded {
    endpoints: Vec<WithOwner<WebhookRow>>,
    deliveries: HashMap<i64, Vec<DeliveryRow>>,
    attempts: HashMap<i64, Vec<AttemptRow>>,
}

async fn load(state: &AppState) -> Result<Loaded, AppError> {
    let pool = db(state)?;
    let endpoints = webhooks::troubled(pool, ENDPOINTS).await?;
    let ids: Vec<i64> = endpoints.iter().map(|e| e.row.id).collect();
    let mut deliveries: HashMap<i64, Vec<DeliveryRow>> = HashMap::new();
    for d in webhooks::recent_deliveries(pool, &ids, DELIVERIES).await? {
        deliveries.entry(d.webhook_id).or_default().push(d);
    }
    let delivery_ids: Vec<i64> = deliveries.values().flatten().map(|d| d.id).collect();
    let mut attempts: HashMap<i64, Vec<AttemptRow>> = HashMap::new();
    for a in webhooks::recent_attempts(pool, &delivery_ids, ATTEMPTS).await? {
        attempts.entry(a.delivery_id).or_default().push(a);
    }
    Ok(Loaded {
        endpoints,
        deliveries,
        attempts,
    })
}

/// What an endpoint's state is, in words.
fn state_text(e: &WithOwner<WebhookRow>) -> String {
    let w = &e.row;
    match (w.enabled, &w.disabled_reason, w.failing_since) {
        (false, Some(reason), _) => format!("disabled by switchyard: {}", escape(reason)),
        (false, None, _) => "disabled by the merchant".to_owned(),
        (true, _, since) => format!("failing since {}", time(since, "")),
    }
}

/// An attempt's outcome: the answer's code, or why there was none.
fn outcome(a: &AttemptRow) -> String {
    let class = if a.succeeded { "ok" } else { "error" };
    let text = match (a.response_code, &a.error) {
        (Some(code), _) => code.to_string(),
        (None, Some(error)) => format!("no answer: {error}"),
        (None, None) => "no answer".to_owned(),
    };
    format!(
        "<li class=\"{class}\" title=\"attempt {} at {}\">{}</li>",
        a.attempt,
        a.created_at.format(FORMAT),
        escape(&text)
    )
}

/// Where recovery starts unless the operator says otherwise: a day before the endpoint began
/// failing (a day back when it is not failing), since the delivery whose failure started it, and
/// others still retrying then, were created before that moment. Sending a failed delivery again
/// is safe: it never arrived, and it keeps its `webhook-id`.
fn default_since(e: &WithOwner<WebhookRow>, now: DateTime<Utc>) -> DateTime<Utc> {
    e.row.failing_since.unwrap_or(now) - Duration::days(1)
}

fn recover_form(e: &WithOwner<WebhookRow>, csrf: &str, now: DateTime<Utc>) -> String {
    let id = e.row.id;
    let since = default_since(e, now).to_rfc3339_opts(SecondsFormat::Secs, true);
    format!(
        "<form method=\"post\" action=\"/dashboard/webhooks/{id}/recover\" class=\"recover\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <label for=\"since-{id}\">Send again every failed delivery created since (RFC 3339)</label>\
         <input id=\"since-{id}\" name=\"since\" value=\"{since}\" required>\
         <button type=\"submit\">Recover</button></form>",
        escape(csrf)
    )
}

async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(done): Query<Done>,
) -> Response {
    let (session, csrf, mut p) = match begin(&state, &headers, "Webhooks") {
        Ok(begun) => begun,
        Err(sign_in) => return sign_in,
    };
    match (done.webhook, done.recovered, done.replayed) {
        (Some(w), Some(n), _) => p.push(&format!(
            "<p role=\"status\">{n} failed deliveries of webhook {w} are being sent again.</p>"
        )),
        (Some(w), _, Some(d)) => p.push(&format!(
            "<p role=\"status\">Delivery {d} of webhook {w} is being sent again.</p>"
        )),
        _ => {}
    }
    let loaded = match load(&state).await {
        Ok(loaded) => loaded,
        Err(e) => {
            p.alert(&e.to_string());
            return p.into_response(StatusCode::SERVICE_UNAVAILABLE);
        }
    };
    if loaded.endpoints.is_empty() {
        p.push("<p>No endpoint is failing or disabled.</p>");
    }
    let now = Utc::now();
    for e in &loaded.endpoints {
        let w = &e.row;
        let id = w.id;
        // A disabled endpoint refuses replays and recovery until it is enabled again.
        let may_resend = session.role == Role::Ops && w.enabled;
        p.push(&format!(
            "<section class=\"webhook\" data-webhook=\"{id}\"><h2>Webhook {id}: {}</h2>\
             <p>Store {} (account {}); {}.</p>",
            escape(&w.url),
            escape(&e.store_name),
            e.account.0,
            state_text(e)
        ));
        if may_resend {
            p.push(&recover_form(e, &csrf, now));
        }
        p.push(
            "<table><caption>Newest deliveries first, each with the answers to its last \
             attempts, oldest first</caption><thead><tr><th scope=\"col\">Delivery</th>\
             <th scope=\"col\">Event</th><th scope=\"col\">Status</th><th scope=\"col\">Attempts</th>\
             <th scope=\"col\">Answers</th><th scope=\"col\">Last attempt</th>\
             <th scope=\"col\"></th></tr></thead><tbody>",
        );
        for d in loaded.deliveries.get(&id).map_or(&[][..], Vec::as_slice) {
            let answers: String = loaded
                .attempts
                .get(&d.id)
                .map_or(&[][..], Vec::as_slice)
                .iter()
                .map(outcome)
                .collect();
            let button = if may_resend && d.status != "pending" {
                action_form(
                    &format!("/dashboard/webhooks/{id}/deliveries/{}/replay", d.id),
                    &csrf,
                    "Replay",
                )
            } else {
                String::new()
            };
            p.push(&format!(
                "<tr data-delivery=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
                 <td><ol class=\"answers\">{answers}</ol></td><td>{}</td><td>{button}</td></tr>",
                d.id,
                d.id,
                escape(&d.event_type),
                escape(&d.status),
                d.attempts,
                time(d.last_attempt_at, "not yet"),
            ));
        }
        p.push("</tbody></table></section>");
    }
    p.into_response(StatusCode::OK)
}

/// Back to the list saying what a replay or recovery did (`done={v}`), or why it was refused
/// (as the API says it).
fn answer<T: Display>(
    id: i64,
    what: &str,
    done: &str,
    outcome: Result<Resend<T>, AppError>,
) -> Response {
    match outcome {
        Ok(Resend::Done(v)) => see_other(
            &format!("/dashboard/webhooks?webhook={id}&{done}={v}"),
            None,
        ),
        Ok(Resend::NotFound) => forbidden(&format!("There is no {what}.")),
        Ok(Resend::Disabled) => forbidden(&format!(
            "Webhook {id} is disabled; it must be enabled first."
        )),
        Ok(Resend::Pending) => forbidden(&format!(
            "The {what} is still being tried; replay it once it has ended."
        )),
        Err(e) => forbidden(&e.to_string()),
    }
}

async fn account_of(state: &AppState, id: i64) -> Result<AccountId, AppError> {
    webhooks::account_of(db(state)?, id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("webhook {id}")))
}

async fn replay(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, delivery_id)): Path<(i64, i64)>,
    Form(form): Form<Action>,
) -> Response {
    if let Err(why) = may_act(&state, &headers, &form.csrf) {
        return forbidden(why);
    }
    let replayed = async {
        let account = account_of(&state, id).await?;
        Ok(webhooks::replay(db(&state)?, account, id, delivery_id).await?)
    };
    let what = format!("delivery {delivery_id} of webhook {id}");
    answer(id, &what, "replayed", replayed.await)
}

#[derive(Deserialize)]
struct RecoverForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    since: String,
}

/// The operator's `since`, an RFC 3339 time (any such time is one PostgreSQL can hold).
fn parse_since(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("`{text}` is not an RFC 3339 time: {e}"))
}

async fn recover(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<RecoverForm>,
) -> Response {
    if let Err(why) = may_act(&state, &headers, &form.csrf) {
        return forbidden(why);
    }
    let since = match parse_since(&form.since) {
        Ok(since) => since,
        Err(why) => return forbidden(&why),
    };
    let per_job = state.settings.webhooks.deliveries_per_job;
    let recovered = async {
        let account = account_of(&state, id).await?;
        Ok(webhooks::recover(db(&state)?, account, id, since, per_job).await?)
    };
    answer(id, &format!("webhook {id}"), "recovered", recovered.await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_rfc_3339_times() {
        let t = parse_since(" 2026-12-05T10:00:00+01:00 ").unwrap_or_default();
        assert_eq!(t.to_rfc3339(), "2026-12-05T09:00:00+00:00");
        assert!(parse_since("2026-12-05 10:00").is_err());
        assert!(parse_since("").is_err());
    }

    #[test]
    fn an_attempt_shows_its_code_or_why_it_had_none() {
        let mut a = AttemptRow {
            id: 1,
            delivery_id: 2,
            attempt: 3,
            succeeded: false,
            response_code: Some(503),
            duration_ms: 4,
            response_excerpt: None,
            error: None,
            created_at: DateTime::from_timestamp(1_764_930_000, 0).unwrap_or_default(),
        };
        assert_eq!(
            outcome(&a),
            "<li class=\"error\" title=\"attempt 3 at 2025-12-05 10:20:00 UTC\">503</li>"
        );
        a.response_code = None;
        a.error = Some("timed out <after 2 s>".into());
        assert!(outcome(&a).ends_with(">no answer: timed out &lt;after 2 s&gt;</li>"));
    }
}
