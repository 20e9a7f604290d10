//! `/dashboard`: the queues in a browser, for the people who run switchyard. Server-rendered
//! HTML that works without JavaScript; one small script, served from here like the stylesheet
//! (no CDN), keeps the queues page live over server-sent events.
//!
//! Signing in takes the ops token (full control) or `server.dashboard_read_token` (read only)
//! and answers a session cookie: HttpOnly, `SameSite=Strict`, scoped to `/dashboard`, `Secure`
//! when the request came over HTTPS (`X-Forwarded-Proto: https` from a TLS proxy), valid for
//! eight hours. The cookie is signed, not stored: its key is derived from the credentials key and
//! both tokens, so changing either token signs every session out. Every action is a POST form
//! carrying a CSRF token derived from the session, checked before anything is done.

mod channels;
mod live;
mod page;
mod plugins;
mod queued;
mod queues;
mod session;
mod webhooks;
mod when;

use axum::extract::{Form, State};
use axum::http::header::{CONTENT_TYPE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

pub(super) use self::page::{escape, html_response, Page};
use self::session::{Role, Session};
use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/dashboard/style.css", get(style))
        .route("/dashboard/live.js", get(live::script))
        .route("/dashboard/live", get(live::events))
        .route("/dashboard/sign-in", post(sign_in))
        .route("/dashboard/sign-out", post(sign_out))
        .merge(queues::router())
        .merge(channels::router())
        .merge(webhooks::router())
        .merge(plugins::router())
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

/// A signed-in page begun under `title`: the session, its CSRF token and the page; without a
/// session, the sign-in form to answer instead (at once, axum's usual early return; boxing it
/// would only add noise).
#[allow(clippy::result_large_err)]
fn begin(
    state: &AppState,
    headers: &HeaderMap,
    title: &str,
) -> Result<(Session, String, Page), Response> {
    let Some(session) = signed_in(state, headers) else {
        return Err(sign_in_page(StatusCode::OK, None));
    };
    let csrf = session.csrf(state);
    let page = Page::signed_in(title, &session, &csrf);
    Ok((session, csrf, page))
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

#[derive(Deserialize)]
struct Action {
    #[serde(default)]
    csrf: String,
}

/// The session, if it may act and the form carries its CSRF token; else why not.
fn may_act(state: &AppState, headers: &HeaderMap, csrf: &str) -> Result<Session, &'static str> {
    let Some(session) = signed_in(state, headers) else {
        return Err("Sign in first.");
    };
    if !session.csrf_matches(state, csrf) {
        return Err(
            "This form is out of date or did not come from the dashboard; reload the page and try again.",
        );
    }
    if session.role != Role::Ops {
        return Err("Signed in read-only: actions need the operator token.");
    }
    Ok(session)
}
