//! `/dashboard`: the queues in a browser, for the people who run switchyard. Server-rendered
//! HTML with no JavaScript, no CDN and one stylesheet served from here.
//!
//! Signing in takes the ops token (full control) or `server.dashboard_read_token` (read only)
//! and answers a session cookie: HttpOnly, `SameSite=Strict`, scoped to `/dashboard`, `Secure`
//! when the request came over HTTPS (`X-Forwarded-Proto: https` from a TLS proxy), valid for
//! eight hours. The cookie is signed, not stored: its key is derived from the credentials key and
//! both tokens, so changing either token signs every session out. Every action is a POST form
//! carrying a CSRF token derived from the session, checked before anything is done.

mod page;
mod session;

use axum::extract::{Form, Path, Query, State};
use axum::http::header::{CONTENT_TYPE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use self::page::{escape, Page};
use self::session::{Role, Session};
use super::queues::{all_stats, known_queue};
use super::AppState;
use crate::jobs;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/dashboard", get(home))
        .route("/dashboard/style.css", get(style))
        .route("/dashboard/sign-in", post(sign_in))
        .route("/dashboard/sign-out", post(sign_out))
        .route("/dashboard/jobs", get(find_job))
        .route("/dashboard/queues/{queue}/dead", get(dead))
        .route("/dashboard/queues/{queue}/{action}", post(queue_action))
        .route(
            "/dashboard/queues/{queue}/dead/{id}/{action}",
            post(dead_action),
        )
}

async fn style() -> Response {
    (
        [(CONTENT_TYPE, HeaderValue::from_static("text/css"))],
        page::STYLE,
    )
        .into_response()
}

/// A page, or the sign-in form when the request has no valid session.
fn signed_in(state: &AppState, headers: &HeaderMap) -> Option<Session> {
    Session::from_headers(state, headers)
}

fn sign_in_page(status: StatusCode, message: Option<&str>) -> Response {
    let mut p = Page::new("Sign in");
    if let Some(m) = message {
        p.alert(m);
    }
    p.push(
        "<form method=\"post\" action=\"/dashboard/sign-in\">\
         <label for=\"token\">Operator token</label>\
         <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" required>\
         <button type=\"submit\">Sign in</button></form>",
    );
    p.into_response(status)
}

#[derive(Deserialize)]
struct SignIn {
    token: String,
}

async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<SignIn>,
) -> Response {
    let Some(role) = Role::of_token(&state.settings, &form.token) else {
        return sign_in_page(
            StatusCode::UNAUTHORIZED,
            Some("That is not an operator token. Tenant and plugin tokens do not open the dashboard."),
        );
    };
    let session = Session::new(role);
    let cookie = session.cookie(&state, secure(&headers));
    see_other("/dashboard", Some(cookie))
}

async fn sign_out(headers: HeaderMap) -> Response {
    see_other("/dashboard", Some(Session::cleared(secure(&headers))))
}

/// Whether the browser reached switchyard over HTTPS (through a TLS-terminating proxy).
fn secure(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

fn see_other(to: &str, cookie: Option<String>) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    res.headers_mut()
        .insert(LOCATION, HeaderValue::from_str(to).expect("a path"));
    if let Some(c) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        res.headers_mut().insert(SET_COOKIE, c);
    }
    res
}

fn forbidden(message: &str) -> Response {
    let mut p = Page::new("Not allowed");
    p.alert(message);
    p.push("<p><a href=\"/dashboard\">Back to the queues</a></p>");
    p.into_response(StatusCode::FORBIDDEN)
}

async fn home(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(session) = signed_in(&state, &headers) else {
        return sign_in_page(StatusCode::OK, None);
    };
    let csrf = session.csrf(&state);
    let mut p = Page::signed_in("Queues", &session, &csrf);
    p.push(
        "<table><caption>Jobs per queue, as of this page</caption><thead><tr>\
         <th scope=\"col\">Queue</th><th scope=\"col\">State</th><th scope=\"col\">Ready</th>\
         <th scope=\"col\">Scheduled</th><th scope=\"col\">Running</th><th scope=\"col\">Dead</th>\
         <th scope=\"col\">Done</th><th scope=\"col\">Failed attempts</th><th scope=\"col\"></th>\
         </tr></thead><tbody>",
    );
    let all = match all_stats(&state).await {
        Ok(all) => all,
        Err(e) => {
            p.alert(&e.to_string());
            return p.into_response(StatusCode::SERVICE_UNAVAILABLE);
        }
    };
    for s in all {
        let q = escape(&s.queue);
        let (state_text, action, label) = if s.paused {
            ("paused", "resume", "Resume")
        } else {
            ("running", "pause", "Pause")
        };
        let button = if session.role == Role::Ops {
            page::action_form(&format!("/dashboard/queues/{q}/{action}"), &csrf, label)
        } else {
            String::new()
        };
        p.push(&format!(
            "<tr data-queue=\"{q}\"><th scope=\"row\">{q}</th><td>{state_text}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td><a href=\"/dashboard/queues/{q}/dead\">{}</a></td>\
             <td>{}</td><td>{}</td><td>{button}</td></tr>",
            s.ready, s.scheduled, s.running, s.dead, s.processed_total, s.failed_total
        ));
    }
    p.push("</tbody></table>");
    p.push(&find_form(None, None));
    p.into_response(StatusCode::OK)
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
    let Some(session) = signed_in(&state, &headers) else {
        return sign_in_page(StatusCode::OK, None);
    };
    let csrf = session.csrf(&state);
    let mut p = Page::signed_in("Find a job", &session, &csrf);
    p.push(&find_form(Some(&q.queue), Some(&q.id)));
    let found = match known_queue(&state, &q.queue).await {
        Ok(queue) => queue.job(q.id.trim()).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match found {
        Ok(Some(job)) => {
            let json = serde_json::to_string_pretty(&job).unwrap_or_default();
            p.push(&format!(
                "<section aria-label=\"job\"><h2>Job {}</h2><pre>{}</pre></section>",
                escape(&q.id),
                escape(&json)
            ));
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

/// Dead letters shown on one page.
const DEAD_PAGE: usize = 50;

async fn dead(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(queue): Path<String>,
) -> Response {
    let Some(session) = signed_in(&state, &headers) else {
        return sign_in_page(StatusCode::OK, None);
    };
    let csrf = session.csrf(&state);
    let q = escape(&queue);
    let mut p = Page::signed_in(&format!("Dead letters of {queue}"), &session, &csrf);
    let page = match known_queue(&state, &queue).await {
        Ok(handle) => handle
            .dead(None, DEAD_PAGE)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let page = match page {
        Ok(page) => page,
        Err(e) => {
            p.alert(&e);
            return p.into_response(StatusCode::NOT_FOUND);
        }
    };
    if page.jobs.is_empty() {
        p.push("<p>No dead letters.</p>");
    }
    for job in &page.jobs {
        let id = escape(&job.id);
        let json = serde_json::to_string_pretty(job).unwrap_or_default();
        let actions = if session.role == Role::Ops {
            format!(
                "{}{}",
                page::action_form(
                    &format!("/dashboard/queues/{q}/dead/{id}/retry"),
                    &csrf,
                    "Retry now"
                ),
                page::action_form(
                    &format!("/dashboard/queues/{q}/dead/{id}/delete"),
                    &csrf,
                    "Delete"
                )
            )
        } else {
            String::new()
        };
        p.push(&format!(
            "<section class=\"job\" data-job=\"{id}\"><h2>{id}</h2><pre>{}</pre>{actions}</section>",
            escape(&json)
        ));
    }
    p.into_response(StatusCode::OK)
}

#[derive(Deserialize)]
struct Action {
    #[serde(default)]
    csrf: String,
}

/// The session, if it may act and the form carries its CSRF token; else why not.
fn may_act(state: &AppState, headers: &HeaderMap, form: &Action) -> Result<Session, &'static str> {
    let Some(session) = signed_in(state, headers) else {
        return Err("Sign in first.");
    };
    if !session.csrf_matches(state, &form.csrf) {
        return Err(
            "This form is out of date or did not come from the dashboard; reload the page and try again.",
        );
    }
    if session.role != Role::Ops {
        return Err("Signed in read-only: actions need the operator token.");
    }
    Ok(session)
}

async fn queue_action(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((queue, action)): Path<(String, String)>,
    Form(form): Form<Action>,
) -> Response {
    if let Err(why) = may_act(&state, &headers, &form) {
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

async fn dead_action(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((queue, id, action)): Path<(String, String, String)>,
    Form(form): Form<Action>,
) -> Response {
    if let Err(why) = may_act(&state, &headers, &form) {
        return forbidden(why);
    }
    // The same id check as the API's: `*` would read as every dead letter to the scripts.
    let id = match super::jobs::job_id(&id) {
        Ok(id) => id,
        Err(e) => return forbidden(&e.to_string()),
    };
    let done = match (known_queue(&state, &queue).await, action.as_str()) {
        (Ok(q), "retry") => q.requeue_dead(Some(&id)).await.map_err(|e| e.to_string()),
        (Ok(q), "delete") => q.purge_dead(Some(&id)).await.map_err(|e| e.to_string()),
        (Ok(_), _) => Err(format!("no action `{action}`")),
        (Err(e), _) => Err(e.to_string()),
    };
    match done {
        Ok(_) => see_other(&format!("/dashboard/queues/{queue}/dead"), None),
        Err(e) => forbidden(&e),
    }
}
