//! The queues: their counts and last hour (live), the timers, a job found by id, a queue's
//! scheduled and dead jobs, and the actions on them: pause and resume, run now and delete, one
//! job, a selection or all of them. A bulk action first answers a page that states how many jobs
//! it will touch, and acts only when that page's button is pressed.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use super::live::{self, Row};
use super::page::{action_form, escape, Page};
use super::session::{Role, Session};
use super::{begin, forbidden, may_act, see_other, sign_in_page, signed_in, Action};
use crate::api::jobs::job_id;
use crate::api::queues::known_queue;
use crate::api::AppState;
use crate::jobs::{self, JobKind};
use crate::queue::timers::Every;
use crate::queue::{Held, JobInfo, JobStatus, Queue};

/// Jobs shown on one list page.
const LIST_PAGE: usize = 50;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/dashboard", get(home))
        .route("/dashboard/jobs", get(find_job))
        .route(
            "/dashboard/queues/{queue}/{list}",
            get(list).post(queue_action),
        )
        .route("/dashboard/queues/{queue}/{list}/bulk", post(bulk))
        .route(
            "/dashboard/queues/{queue}/{list}/{id}/{action}",
            post(job_action),
        )
}

/// What a run-now is called on each list.
fn run_label(set: Held) -> &'static str {
    match set {
        Held::Scheduled => "Run now",
        Held::Dead => "Retry now",
    }
}

async fn home(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (session, csrf, mut p) = match begin(&state, &headers, "Queues") {
        Ok(begun) => begun,
        Err(sign_in) => return sign_in,
    };
    let rows = match live::rows(&state).await {
        Ok(rows) => rows,
        Err(e) => {
            p.alert(&e);
            return p.into_response(StatusCode::SERVICE_UNAVAILABLE);
        }
    };
    p.script("/dashboard/live.js");
    p.push(
        "<p id=\"live-status\" role=\"status\" data-state=\"static\">Counts as of this page.</p>\
         <table data-live><caption>Jobs per queue. Charts: the last hour per minute, \
         <span class=\"enqueued\">enqueued</span> and <span class=\"finished\">finished</span>, \
         and <span class=\"latency\">start latency</span>.</caption><thead><tr>\
         <th scope=\"col\">Queue</th><th scope=\"col\">State</th><th scope=\"col\">Ready</th>\
         <th scope=\"col\">Scheduled</th><th scope=\"col\">Running</th><th scope=\"col\">Dead</th>\
         <th scope=\"col\">Done</th><th scope=\"col\">Failed attempts</th>\
         <th scope=\"col\">Start latency</th><th scope=\"col\">Last hour</th>\
         <th scope=\"col\"></th></tr></thead><tbody>",
    );
    for row in &rows {
        p.push(&queue_row(row, &session, &csrf));
    }
    p.push("</tbody></table>");
    p.push(&timers(&state));
    p.push(&find_form(None, None));
    p.into_response(StatusCode::OK)
}

fn queue_row(row: &Row, session: &Session, csrf: &str) -> String {
    let q = escape(&row.queue);
    let f = |name: &str| escape(row.field(name));
    let (action, label) = if row.field("state") == "paused" {
        ("resume", "Resume")
    } else {
        ("pause", "Pause")
    };
    let button = if session.role == Role::Ops {
        action_form(&format!("/dashboard/queues/{q}/{action}"), csrf, label)
    } else {
        String::new()
    };
    format!(
        "<tr data-queue=\"{q}\"><th scope=\"row\">{q}</th><td data-field=\"state\">{}</td>\
         <td data-field=\"ready\">{}</td>\
         <td><a href=\"/dashboard/queues/{q}/scheduled\" data-field=\"scheduled\">{}</a></td>\
         <td data-field=\"running\">{}</td>\
         <td><a href=\"/dashboard/queues/{q}/dead\" data-field=\"dead\">{}</a></td>\
         <td data-field=\"done\">{}</td><td data-field=\"failed\">{}</td>\
         <td data-field=\"latency\">{}</td><td data-chart>{}</td><td>{button}</td></tr>",
        f("state"),
        f("ready"),
        f("scheduled"),
        f("running"),
        f("dead"),
        f("done"),
        f("failed"),
        f("latency"),
        row.chart
    )
}

/// The timers this deployment's worker processes run, each with its next fire. Ticks fall on
/// multiples of the period since the epoch, so the next fire follows from the settings alone.
fn timers(state: &AppState) -> String {
    let t = &state.settings.timers;
    let now = chrono::Utc::now().timestamp().max(0) as u64;
    let mut all: Vec<(String, String, u64)> = vec![
        (
            "import orders".to_owned(),
            "import-orders".to_owned(),
            t.import_scan_secs,
        ),
        (
            "import products".to_owned(),
            "import-products".to_owned(),
            t.import_products_secs,
        ),
        (
            "prune".to_owned(),
            jobs::Prune::QUEUE.to_owned(),
            state.settings.retention.prune_every_secs,
        ),
    ];
    all.extend(
        t.periodic
            .iter()
            .map(|p| (p.name.clone(), p.queue.clone(), p.every_secs)),
    );
    let mut html = String::from(
        "<table><caption>Timers</caption><thead><tr><th scope=\"col\">Timer</th>\
         <th scope=\"col\">Enqueues on</th><th scope=\"col\">Every</th>\
         <th scope=\"col\">Next fire (UTC)</th></tr></thead><tbody>",
    );
    for (name, queue, every) in all {
        let next = Every(Duration::from_secs(every)).next_after(now);
        let at = chrono::DateTime::from_timestamp(next as i64, 0)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default();
        html.push_str(&format!(
            "<tr data-timer=\"{}\"><th scope=\"row\">{}</th><td>{}</td><td>{every} s</td>\
             <td><time datetime=\"{at}Z\">{at}</time> (in {} s)</td></tr>",
            escape(&name),
            escape(&name),
            escape(&queue),
            next - now
        ));
    }
    html.push_str("</tbody></table>");
    html
}

fn find_form(queue: Option<&str>, id: Option<&str>) -> String {
    let options: String = jobs::QUEUES
        .iter()
        .map(|q| {
            let selected = if Some(*q) == queue { " selected" } else { "" };
            format!("<option{selected}>{}</option>", escape(q))
        })
        .collect();
    format!(
        "<form method=\"get\" action=\"/dashboard/jobs\" class=\"find\">\
         <h2>Find a job</h2>\
         <label for=\"queue\">Queue</label><select id=\"queue\" name=\"queue\">{options}</select>\
         <label for=\"id\">Job id</label><input id=\"id\" name=\"id\" value=\"{}\" required>\
         <button type=\"submit\">Find</button></form>",
        escape(id.unwrap_or_default())
    )
}

#[derive(Deserialize)]
struct FindJob {
    queue: String,
    id: String,
}

async fn find_job(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<FindJob>,
) -> Response {
    let (session, csrf, mut p) = match begin(&state, &headers, "Find a job") {
        Ok(begun) => begun,
        Err(sign_in) => return sign_in,
    };
    p.push(&find_form(Some(&q.queue), Some(&q.id)));
    let found = match known_queue(&state, &q.queue).await {
        Ok(queue) => queue.job(q.id.trim()).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match found {
        Ok(Some(job)) => {
            // A job waiting in a list can be acted on from here, as from its list.
            let set = match job.status {
                JobStatus::Dead => Some(Held::Dead),
                JobStatus::Scheduled | JobStatus::Retrying => Some(Held::Scheduled),
                _ => None,
            };
            p.push(&job_section(&job, set, &session, &csrf, false));
            p.into_response(StatusCode::OK)
        }
        Ok(None) => {
            p.alert(&format!("No job {} in {}.", q.id, q.queue));
            p.into_response(StatusCode::NOT_FOUND)
        }
        Err(e) => {
            p.alert(&e);
            p.into_response(StatusCode::NOT_FOUND)
        }
    }
}

/// One job: its figures, payload and last error, with its actions when the session may act.
fn job_section(
    job: &JobInfo,
    set: Option<Held>,
    session: &Session,
    csrf: &str,
    selectable: bool,
) -> String {
    let id = escape(&job.id);
    let q = escape(&job.queue);
    let when = |t: &Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| t.format("%Y-%m-%d %H:%M:%S%.3f").to_string())
            .unwrap_or_else(|| "–".to_owned())
    };
    let payload = serde_json::to_string_pretty(&job.payload).unwrap_or_default();
    let actions = match set {
        Some(set) if session.role == Role::Ops => {
            let list = set.as_str();
            format!(
                "{}{}",
                action_form(
                    &format!("/dashboard/queues/{q}/{list}/{id}/run"),
                    csrf,
                    run_label(set)
                ),
                action_form(
                    &format!("/dashboard/queues/{q}/{list}/{id}/delete"),
                    csrf,
                    "Delete"
                )
            )
        }
        _ => String::new(),
    };
    // A checkbox that joins the bulk form through its `form` attribute.
    let heading = if selectable && session.role == Role::Ops {
        format!(
            "<input type=\"checkbox\" name=\"ids\" value=\"{id}\" form=\"bulk\" \
             id=\"select-{id}\"><label for=\"select-{id}\">Job {id}</label>"
        )
    } else {
        format!("Job {id}")
    };
    format!(
        "<section class=\"job\" data-job=\"{id}\"><h2>{heading}</h2>\
         <dl><dt>Status</dt><dd data-field=\"status\">{}</dd>\
         <dt>Attempts</dt><dd>{} of {}</dd>\
         <dt>Enqueued</dt><dd>{}</dd><dt>Runs at</dt><dd>{}</dd>\
         <dt>Started</dt><dd>{}</dd><dt>Finished</dt><dd>{}</dd>\
         <dt>Last error</dt><dd>{}</dd></dl>\
         <pre aria-label=\"payload\">{}</pre>{actions}</section>",
        escape(job.status.as_str()),
        job.attempts,
        job.max_attempts,
        when(&job.enqueued_at),
        when(&job.run_at),
        when(&job.started_at),
        when(&job.finished_at),
        escape(job.last_error.as_deref().unwrap_or("–")),
        escape(&payload),
    )
}

async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((queue, list)): Path<(String, String)>,
    Query(done): Query<Done>,
) -> Response {
    let Some(session) = signed_in(&state, &headers) else {
        return sign_in_page(StatusCode::OK, None);
    };
    let csrf = session.csrf(&state);
    let Some(set) = Held::parse(&list) else {
        return forbidden(&format!(
            "No list `{list}`: a queue has `scheduled` and `dead`."
        ));
    };
    let title = match set {
        Held::Scheduled => format!("Scheduled and retrying jobs of {queue}"),
        Held::Dead => format!("Dead letters of {queue}"),
    };
    let mut p = Page::signed_in(&title, &session, &csrf);
    let found = match known_queue(&state, &queue).await {
        Ok(q) => listed(&q, set).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let (jobs, total) = match found {
        Ok(found) => found,
        Err(e) => {
            p.alert(&e);
            return p.into_response(StatusCode::NOT_FOUND);
        }
    };
    if let Some(n) = done.done {
        p.notice(&format!("{} {n} job{}.", done.verb(), plural(n)));
    }
    let q = escape(&queue);
    p.push(&format!(
        "<p>{total} job{} in this list{}.</p>",
        plural(total),
        if total as usize > jobs.len() {
            format!(
                "; the first {} shown, {}",
                jobs.len(),
                match set {
                    Held::Scheduled => "soonest first",
                    Held::Dead => "newest first",
                }
            )
        } else {
            String::new()
        }
    ));
    if session.role == Role::Ops && total > 0 {
        // The bulk form's buttons act on the checked boxes, which sit in the job sections and
        // join this form through their `form` attribute, or on the whole list.
        let run = run_label(set);
        p.push(&format!(
            "<form id=\"bulk\" method=\"post\" action=\"/dashboard/queues/{q}/{list}/bulk\" class=\"bulk\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <button type=\"submit\" name=\"action\" value=\"run-selected\">{run}: selected</button>\
             <button type=\"submit\" name=\"action\" value=\"delete-selected\">Delete selected</button>\
             <button type=\"submit\" name=\"action\" value=\"run-all\">{run}: all {total}</button>\
             <button type=\"submit\" name=\"action\" value=\"delete-all\">Delete all {total}</button>\
             </form>",
            escape(&csrf)
        ));
    }
    if jobs.is_empty() {
        p.push("<p>No jobs.</p>");
    }
    for job in &jobs {
        p.push(&job_section(job, Some(set), &session, &csrf, true));
    }
    p.into_response(StatusCode::OK)
}

/// The first page of a list and the list's length: one range read and one `ZCARD`.
async fn listed(q: &Queue, set: Held) -> Result<(Vec<JobInfo>, u64), crate::queue::QueueError> {
    let status = match set {
        Held::Scheduled => JobStatus::Scheduled,
        Held::Dead => JobStatus::Dead,
    };
    let jobs = q.list(status, 0, LIST_PAGE).await?;
    let total = q.held_count(set).await?;
    Ok((jobs, total))
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// What an action did, shown once on the list it returns to.
#[derive(Deserialize)]
struct Done {
    done: Option<u64>,
    #[serde(default)]
    what: String,
}

impl Done {
    fn verb(&self) -> &'static str {
        if self.what == "delete" {
            "Deleted"
        } else {
            "Moved to ready"
        }
    }
}

async fn queue_action(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((queue, action)): Path<(String, String)>,
    Form(form): Form<Action>,
) -> Response {
    if let Err(why) = may_act(&state, &headers, &form.csrf) {
        return forbidden(why);
    }
    // A queue that is not typed nor used is refused, so a typo cannot create a paused one.
    let done = match (known_queue(&state, &queue).await, action.as_str()) {
        (Ok(q), "pause") => q.pause().await.map_err(|e| e.to_string()),
        (Ok(q), "resume") => q.resume().await.map_err(|e| e.to_string()),
        (Ok(_), _) => Err(format!("no action `{action}`")),
        (Err(e), _) => Err(e.to_string()),
    };
    match done {
        Ok(()) => see_other("/dashboard", None),
        Err(e) => forbidden(&e),
    }
}

async fn job_action(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((queue, list, id, action)): Path<(String, String, String, String)>,
    Form(form): Form<Action>,
) -> Response {
    if let Err(why) = may_act(&state, &headers, &form.csrf) {
        return forbidden(why);
    }
    let Some(set) = Held::parse(&list) else {
        return forbidden(&format!("No list `{list}`."));
    };
    // The same id check as the API's: `*` would read as every job to the scripts.
    let id = match job_id(&id) {
        Ok(id) => id,
        Err(e) => return forbidden(&e.to_string()),
    };
    let done = match known_queue(&state, &queue).await {
        Ok(q) => act(&q, set, &action, Some(&id)).await,
        Err(e) => Err(e.to_string()),
    };
    match done {
        Ok(0) => forbidden(&format!(
            "Job {id} is no longer in the {list} list of {queue}: it ran, or someone acted on it first."
        )),
        Ok(n) => see_other(&format!("/dashboard/queues/{queue}/{list}?done={n}&what={action}"), None),
        Err(e) => forbidden(&e),
    }
}

async fn act(q: &Queue, set: Held, action: &str, id: Option<&str>) -> Result<u64, String> {
    let done = match action {
        "run" => q.run_now(set, id).await,
        "delete" => q.delete_held(set, id).await,
        _ => return Err(format!("no action `{action}`")),
    };
    done.map_err(|e| e.to_string())
}

/// A bulk form: `action` is `run-selected`, `delete-selected`, `run-all` or `delete-all`;
/// `ids` repeats once per checked job; `confirm` is present once the count was shown.
struct Bulk {
    csrf: String,
    action: String,
    ids: Vec<String>,
    confirmed: bool,
}

impl Bulk {
    fn parse(body: &[u8]) -> Bulk {
        let mut b = Bulk {
            csrf: String::new(),
            action: String::new(),
            ids: Vec::new(),
            confirmed: false,
        };
        for (k, v) in url::form_urlencoded::parse(body) {
            match k.as_ref() {
                "csrf" => b.csrf = v.into_owned(),
                "action" => b.action = v.into_owned(),
                "ids" => b.ids.push(v.into_owned()),
                "confirm" => b.confirmed = v == "yes",
                _ => {}
            }
        }
        b
    }
}

async fn bulk(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((queue, list)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let form = Bulk::parse(&body);
    let session = match may_act(&state, &headers, &form.csrf) {
        Ok(session) => session,
        Err(why) => return forbidden(why),
    };
    let Some(set) = Held::parse(&list) else {
        return forbidden(&format!("No list `{list}`."));
    };
    let Some((verb, scope)) = form.action.split_once('-') else {
        return forbidden("Choose an action.");
    };
    let verb = match verb {
        "run" => "run",
        "delete" => "delete",
        _ => return forbidden(&format!("no action `{}`", form.action)),
    };
    let ids = match form
        .ids
        .iter()
        .map(|id| job_id(id))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(ids) => ids,
        Err(e) => return forbidden(&e.to_string()),
    };
    let q = match known_queue(&state, &queue).await {
        Ok(q) => q,
        Err(e) => return forbidden(&e.to_string()),
    };
    let count = match scope {
        "selected" if ids.is_empty() => return forbidden("No jobs were selected."),
        "selected" => ids.len() as u64,
        "all" => match q.held_count(set).await {
            Ok(n) => n,
            Err(e) => return forbidden(&e.to_string()),
        },
        _ => return forbidden(&format!("no action `{}`", form.action)),
    };
    if !form.confirmed {
        return confirm_page(&session, &state, &queue, &list, set, &form, verb, count);
    }
    let mut done = 0;
    if scope == "all" {
        match act(&q, set, verb, None).await {
            Ok(n) => done = n,
            Err(e) => return forbidden(&e),
        }
    } else {
        for id in &ids {
            match act(&q, set, verb, Some(id)).await {
                Ok(n) => done += n,
                Err(e) => return forbidden(&e),
            }
        }
    }
    see_other(
        &format!("/dashboard/queues/{queue}/{list}?done={done}&what={verb}"),
        None,
    )
}

/// The page that states what a bulk action will do and asks for it again.
#[allow(clippy::too_many_arguments)]
fn confirm_page(
    session: &Session,
    state: &AppState,
    queue: &str,
    list: &str,
    set: Held,
    form: &Bulk,
    verb: &str,
    count: u64,
) -> Response {
    let csrf = session.csrf(state);
    let mut p = Page::signed_in("Confirm", session, &csrf);
    let what = match set {
        Held::Scheduled => "scheduled or retrying",
        Held::Dead => "dead",
    };
    let question = match verb {
        "delete" => format!(
            "Delete {count} {what} job{} of {queue}? They cannot be brought back.",
            plural(count)
        ),
        _ => format!(
            "Move {count} {what} job{} of {queue} to ready, to run now?",
            plural(count)
        ),
    };
    let ids: String = form
        .ids
        .iter()
        .map(|id| {
            format!(
                "<input type=\"hidden\" name=\"ids\" value=\"{}\">",
                escape(id)
            )
        })
        .collect();
    let label = match verb {
        "delete" => format!("Yes, delete {count} job{}", plural(count)),
        _ => format!("Yes, run {count} job{} now", plural(count)),
    };
    let q = escape(queue);
    p.push(&format!(
        "<form method=\"post\" action=\"/dashboard/queues/{q}/{list}/bulk\" class=\"confirm\">\
         <p role=\"alert\" data-count=\"{count}\">{}</p>\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <input type=\"hidden\" name=\"action\" value=\"{}\">{ids}\
         <input type=\"hidden\" name=\"confirm\" value=\"yes\">\
         <button type=\"submit\">{}</button> <a href=\"/dashboard/queues/{q}/{list}\">Cancel</a></form>",
        escape(&question),
        escape(&csrf),
        escape(&form.action),
        escape(&label)
    ));
    p.into_response(StatusCode::OK)
}
