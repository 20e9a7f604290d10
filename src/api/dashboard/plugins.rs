//! `/dashboard/plugins`: every account's fulfilment-centre plugins whose runs fail, found where
//! those runs are — the run-plugin queue's retrying jobs and its newest dead letters — with the
//! last error each plugin gave.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};

use super::page::escape;
use super::when::time;
use super::{begin, queued};
use crate::api::error::AppError;
use crate::api::tenant::db;
use crate::api::AppState;
use crate::jobs::{JobKind, RunPlugin};
use crate::queue::{JobInfo, JobStatus};
use crate::store::plugins::{self, PluginRow};
use crate::store::WithOwner;

/// Run-plugin jobs read from the head of the retrying set and of the dead letters.
const RUN_JOBS: usize = 200;

pub fn router() -> Router<AppState> {
    Router::new().route("/dashboard/plugins", get(list))
}

/// One plugin's failing runs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Failing {
    plugin_id: i64,
    retrying: u32,
    dead: u32,
    /// When the latest failed attempt started (retrying) or gave up (dead), and its error.
    last_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
}

/// Retrying and dead runs grouped by plugin, the plugin whose latest failure is newest first.
fn failing(jobs: &[(i64, JobInfo)]) -> Vec<Failing> {
    let mut by_plugin: HashMap<i64, Failing> = HashMap::new();
    for (plugin_id, job) in jobs {
        let at = match job.status {
            JobStatus::Retrying => job.started_at,
            JobStatus::Dead => job.finished_at,
            _ => continue,
        };
        let f = by_plugin.entry(*plugin_id).or_insert(Failing {
            plugin_id: *plugin_id,
            retrying: 0,
            dead: 0,
            last_at: None,
            last_error: None,
        });
        match job.status {
            JobStatus::Dead => f.dead += 1,
            _ => f.retrying += 1,
        }
        if f.last_error.is_none() || at > f.last_at {
            f.last_at = at;
            f.last_error.clone_from(&job.last_error);
        }
    }
    let mut out: Vec<Failing> = by_plugin.into_values().collect();
    out.sort_by(|a, b| {
        b.last_at
            .cmp(&a.last_at)
            .then(a.plugin_id.cmp(&b.plugin_id))
    });
    out
}

async fn load(
    state: &AppState,
) -> Result<(Vec<Failing>, HashMap<i64, WithOwner<PluginRow>>), AppError> {
    let lists = [JobStatus::Scheduled, JobStatus::Dead];
    let jobs =
        queued::by_payload_id(state, RunPlugin::QUEUE, &lists, "plugin_id", RUN_JOBS).await?;
    let failing = failing(&jobs);
    let ids: Vec<i64> = failing.iter().map(|f| f.plugin_id).collect();
    let plugins = plugins::overviews(db(state)?, &ids)
        .await?
        .into_iter()
        .map(|p| (p.row.id, p))
        .collect();
    Ok((failing, plugins))
}

async fn list(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (_session, _csrf, mut p) = match begin(&state, &headers, "Plugins") {
        Ok(begun) => begun,
        Err(sign_in) => return sign_in,
    };
    let (failing, plugins) = match load(&state).await {
        Ok(loaded) => loaded,
        Err(e) => {
            p.alert(&e.to_string());
            return p.into_response(StatusCode::SERVICE_UNAVAILABLE);
        }
    };
    if failing.is_empty() {
        p.push("<p>No plugin has a run retrying or dead.</p>");
        return p.into_response(StatusCode::OK);
    }
    let queue = RunPlugin::QUEUE;
    p.push(&format!(
        "<table><caption>Plugins with failing runs, latest failure first; the runs themselves \
         are in <a href=\"/dashboard/queues/{queue}/dead\">{queue}'s dead letters</a></caption>\
         <thead><tr><th scope=\"col\">Plugin</th><th scope=\"col\">Store</th>\
         <th scope=\"col\">Endpoint</th><th scope=\"col\">Runs retrying</th>\
         <th scope=\"col\">Runs dead</th><th scope=\"col\">Last failure</th>\
         <th scope=\"col\">Last error</th></tr></thead><tbody>"
    ));
    for f in &failing {
        let id = f.plugin_id;
        let (name, store, endpoint) = match plugins.get(&id) {
            Some(o) => (
                format!(
                    "{}{}",
                    escape(&o.row.name),
                    if o.row.active { "" } else { " (off)" }
                ),
                format!("{} (account {})", escape(&o.store_name), o.account.0),
                escape(&o.row.endpoint_url),
            ),
            None => ("(deleted)".to_owned(), String::new(), String::new()),
        };
        p.push(&format!(
            "<tr data-plugin=\"{id}\"><th scope=\"row\">#{id} {name}</th><td>{store}</td>\
             <td>{endpoint}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"error\">{}</td></tr>",
            f.retrying,
            f.dead,
            time(f.last_at, "—"),
            escape(f.last_error.as_deref().unwrap_or_default()),
        ));
    }
    p.push("</tbody></table>");
    p.into_response(StatusCode::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(status: JobStatus, at: i64, error: &str) -> JobInfo {
        let t = DateTime::from_timestamp(at, 0);
        JobInfo {
            id: format!("run-{at}"),
            queue: RunPlugin::QUEUE.to_owned(),
            status,
            payload: serde_json::Value::Null,
            attempts: 1,
            max_attempts: 5,
            last_error: Some(error.to_owned()),
            unique_key: None,
            enqueued_at: None,
            run_at: None,
            started_at: t,
            finished_at: t,
            worker: None,
        }
    }

    #[test]
    fn runs_group_by_plugin_with_the_latest_error() {
        let jobs = vec![
            (1, run(JobStatus::Dead, 100, "refused the order with 422")),
            (1, run(JobStatus::Retrying, 300, "answered 503")),
            (1, run(JobStatus::Dead, 200, "refused the order with 400")),
            (2, run(JobStatus::Dead, 400, "answered 410 Gone")),
            // Scheduled for later but never failed: not a failure.
            (3, run(JobStatus::Scheduled, 500, "")),
        ];
        let got = failing(&jobs);
        assert_eq!(
            got.iter().map(|f| f.plugin_id).collect::<Vec<_>>(),
            vec![2, 1],
            "the newest failure first"
        );
        let one = &got[1];
        assert_eq!((one.retrying, one.dead), (1, 2));
        assert_eq!(one.last_error.as_deref(), Some("answered 503"));
        assert_eq!(one.last_at.map(|t| t.timestamp()), Some(300));
    }
}
