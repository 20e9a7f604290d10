//! `/dashboard/channels`: every account's sales channels and how their imports go — the last
//! run, the last success, the last error, orders imported in the last hour, the backoff a
//! failing platform has put the channel in, and how long its stock push has been waiting — with
//! "Import now".

use std::collections::HashMap;

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::page::{action_form, escape};
use super::session::Role;
use super::when::{age, time};
use super::{begin, forbidden, may_act, queued, see_other, Action};
use crate::api::channels::{manual_import, queue_now, JobAccepted};
use crate::api::error::AppError;
use crate::api::tenant::db;
use crate::api::AppState;
use crate::domain::breaker::BreakerState;
use crate::jobs::{JobKind, SyncStock};
use crate::queue::{JobInfo, JobStatus};
use crate::store::channels;
use crate::store::import_state::{self, ChannelOverview, ImportHealth};

/// Channels on one page.
const PAGE: i64 = 100;

/// Stock-push jobs read from the head of each of the sync-stock queue's lists: pushes coalesce
/// to one waiting job per channel, so this covers as many channels.
const STOCK_JOBS: usize = 500;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/dashboard/channels", get(list))
        .route("/dashboard/channels/{id}/import", post(import))
}

#[derive(Deserialize)]
struct ListQuery {
    /// Channels with smaller ids: the next page.
    before: Option<i64>,
}

/// A channel's stock push that has not finished: how long the oldest has waited, and why the
/// last attempt failed while it retries.
#[derive(Debug, Clone, PartialEq, Eq)]
struct StockLag {
    since: DateTime<Utc>,
    last_error: Option<String>,
}

/// The waiting, retrying and running stock pushes by channel: the oldest enqueue time of each
/// channel's, and the error of one that is retrying.
fn stock_lag(jobs: &[(i64, JobInfo)]) -> HashMap<i64, StockLag> {
    let mut lag: HashMap<i64, StockLag> = HashMap::new();
    for (channel, job) in jobs {
        let Some(since) = job.enqueued_at else {
            continue;
        };
        let error = job
            .last_error
            .clone()
            .filter(|_| job.status == JobStatus::Retrying);
        lag.entry(*channel)
            .and_modify(|l| {
                l.since = l.since.min(since);
                if error.is_some() {
                    l.last_error.clone_from(&error);
                }
            })
            .or_insert(StockLag {
                since,
                last_error: error,
            });
    }
    lag
}

async fn load(
    state: &AppState,
    before: Option<i64>,
) -> Result<(Vec<ChannelOverview>, HashMap<i64, StockLag>), AppError> {
    let rows = import_state::all_channels(db(state)?, before, PAGE).await?;
    let lists = [JobStatus::Ready, JobStatus::Scheduled, JobStatus::Running];
    let jobs =
        queued::by_payload_id(state, SyncStock::QUEUE, &lists, "channel_id", STOCK_JOBS).await?;
    Ok((rows, stock_lag(&jobs)))
}

/// What the platform's failures have made of the channel's imports, as its health reports it.
fn throttle(h: &ImportHealth) -> String {
    let runs = match h.consecutive_failures {
        0 => return "not backing off".to_owned(),
        1 => "1 failed run".to_owned(),
        n => format!("{n} failed runs in a row"),
    };
    match (h.breaker, h.backoff_until) {
        (BreakerState::HalfOpen, _) => format!("breaker half open: probing after {runs}"),
        (BreakerState::Open, until) => {
            format!("breaker open until {} after {runs}", time(until, "now"))
        }
        (BreakerState::Closed, Some(until)) => {
            format!("backing off until {} after {runs}", time(Some(until), ""))
        }
        (BreakerState::Closed, None) => runs,
    }
}

fn stock(lag: Option<&StockLag>, now: DateTime<Utc>) -> String {
    let Some(lag) = lag else {
        return "nothing waiting".to_owned();
    };
    let waited = format!("waiting {}", age(now - lag.since));
    match &lag.last_error {
        Some(e) => format!(
            "{waited}; retrying: <span class=\"error\">{}</span>",
            escape(e)
        ),
        None => waited,
    }
}

async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Response {
    let (session, csrf, mut p) = match begin(&state, &headers, "Channels") {
        Ok(begun) => begun,
        Err(sign_in) => return sign_in,
    };
    let (rows, lag) = match load(&state, q.before).await {
        Ok(loaded) => loaded,
        Err(e) => {
            p.alert(&e.to_string());
            return p.into_response(StatusCode::SERVICE_UNAVAILABLE);
        }
    };
    let now = Utc::now();
    p.push(
        "<table><caption>Every account's channels, newest first, as of this page</caption>\
         <thead><tr><th scope=\"col\">Channel</th><th scope=\"col\">Store</th>\
         <th scope=\"col\">Kind</th><th scope=\"col\">Last import</th>\
         <th scope=\"col\">Last success</th><th scope=\"col\">Last error</th>\
         <th scope=\"col\">Orders imported, last hour</th><th scope=\"col\">Throttle</th>\
         <th scope=\"col\">Stock sync</th><th scope=\"col\"></th></tr></thead><tbody>",
    );
    for c in &rows {
        let h = &c.health;
        let id = h.channel_id;
        let paused = if c.active { "" } else { " (paused)" };
        let button = if session.role == Role::Ops && c.active {
            action_form(
                &format!("/dashboard/channels/{id}/import"),
                &csrf,
                "Import now",
            )
        } else {
            String::new()
        };
        p.push(&format!(
            "<tr data-channel=\"{id}\"><th scope=\"row\">#{id} {}{paused}</th>\
             <td>{} (account {})</td><td>{}</td><td>{}</td><td>{}</td>\
             <td class=\"error\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{button}</td></tr>",
            escape(&c.name),
            escape(&c.store_name),
            c.account.0,
            c.kind.as_str(),
            time(h.last_run_at, "never"),
            time(h.last_success_at, "never"),
            escape(h.last_error.as_deref().unwrap_or_default()),
            c.orders_last_hour,
            throttle(h),
            stock(lag.get(&id), now),
        ));
    }
    p.push("</tbody></table>");
    if rows.is_empty() {
        p.push("<p>No channels.</p>");
    }
    if let (true, Some(last)) = (rows.len() as i64 == PAGE, rows.last()) {
        p.push(&format!(
            "<p><a href=\"/dashboard/channels?before={}\">Older channels</a></p>",
            last.health.channel_id
        ));
    }
    p.into_response(StatusCode::OK)
}

/// Queues the import the API's `POST /v1/channels/{id}/import` would, for the channel's own
/// account.
async fn enqueue_import(state: &AppState, id: i64) -> Result<JobAccepted, AppError> {
    let account = channels::account_of(db(state)?, id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("channel {id}")))?;
    let (job, unique_key) = manual_import(id);
    queue_now(state, account, id, &job, unique_key).await
}

async fn import(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<Action>,
) -> Response {
    if let Err(why) = may_act(&state, &headers, &form.csrf) {
        return forbidden(why);
    }
    match enqueue_import(&state, id).await {
        // The job's page shows it waiting, running, then done or failed.
        Ok(job) => see_other(
            &format!("/dashboard/jobs?queue={}&id={}", job.queue, job.job_id),
            None,
        ),
        Err(e) => forbidden(&e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(status: JobStatus, enqueued: i64, error: Option<&str>) -> JobInfo {
        JobInfo {
            id: format!("job-{enqueued}"),
            queue: SyncStock::QUEUE.to_owned(),
            status,
            payload: serde_json::Value::Null,
            attempts: 1,
            max_attempts: 5,
            last_error: error.map(str::to_owned),
            unique_key: None,
            enqueued_at: DateTime::from_timestamp(enqueued, 0),
            run_at: None,
            started_at: None,
            finished_at: None,
            worker: None,
        }
    }

    #[test]
    fn a_channels_lag_runs_from_its_oldest_unfinished_push() {
        let jobs = vec![
            (7, job(JobStatus::Ready, 1_000, None)),
            (7, job(JobStatus::Retrying, 900, Some("429 from Shopify"))),
            (
                8,
                job(
                    JobStatus::Running,
                    1_100,
                    Some("an earlier attempt's error"),
                ),
            ),
        ];
        let lag = stock_lag(&jobs);
        let seven = &lag[&7];
        assert_eq!(seven.since.timestamp(), 900);
        assert_eq!(seven.last_error.as_deref(), Some("429 from Shopify"));
        // A running push's error is of an attempt already over: not shown as retrying.
        assert_eq!(lag[&8].last_error, None);
        assert!(!lag.contains_key(&9));
        let now = DateTime::from_timestamp(1_030, 0).unwrap_or_default();
        assert_eq!(
            stock(Some(seven), now),
            "waiting 2 min 10 s; retrying: <span class=\"error\">429 from Shopify</span>"
        );
        assert_eq!(stock(None, now), "nothing waiting");
    }

    #[test]
    fn the_throttle_reads_the_backoff_of_a_failing_channel() {
        let mut h = ImportHealth {
            channel_id: 7,
            last_run_at: None,
            last_success_at: None,
            last_error: None,
            orders_imported: 0,
            consecutive_failures: 0,
            backoff_until: None,
            breaker: BreakerState::Closed,
            breaker_opened_at: None,
            next_probe_at: None,
        };
        assert_eq!(throttle(&h), "not backing off");
        h.consecutive_failures = 3;
        assert_eq!(throttle(&h), "3 failed runs in a row");
        h.backoff_until = DateTime::from_timestamp(1_764_930_000, 0);
        assert!(throttle(&h).starts_with("backing off until <time"));
        assert!(throttle(&h).ends_with("after 3 failed runs in a row"));
        h.consecutive_failures = 5;
        h.breaker = BreakerState::Open;
        assert!(throttle(&h).starts_with("breaker open until <time"));
        h.breaker = BreakerState::HalfOpen;
        assert_eq!(
            throttle(&h),
            "breaker half open: probing after 5 failed runs in a row"
        );
    }
}
