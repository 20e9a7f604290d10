//! `/dashboard` over HTTP, as a browser without JavaScript uses it: sign-in with the ops token
//! (and only it, or the read-only token), the session cookie's flags, the queues page, pause and
//! resume, a dead letter found by id and retried, and every action refused without the session's
//! CSRF token or with a read-only session.

mod app_helpers;
mod tenant_helpers;

use std::time::Duration;

use app_helpers::{run_pool, settings, spawn_server_with, wait_for, TestServer};
use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::{redirect, Client, StatusCode};
use switchyard::queue::{Broker, EnqueueOptions};
use tenant_helpers::{pool, tenant};

const READ_TOKEN: &str = "read-only-dashboard-token";

/// A client that does not follow redirects, so the test sees each 303 and its cookie.
fn browser() -> Client {
    Client::builder()
        .redirect(redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a client")
}

async fn server() -> TestServer {
    let mut s = settings();
    s.server.dashboard_read_token = Some(READ_TOKEN.to_owned());
    spawn_server_with(s).await
}

/// Signs in with `token`: the answer's status and its session cookie (`name=value`), if any.
async fn sign_in(app: &TestServer, token: &str) -> (StatusCode, Option<String>, String) {
    let res = browser()
        .post(app.url("/dashboard/sign-in"))
        .form(&[("token", token)])
        .send()
        .await
        .expect("sign-in sent");
    let status = res.status();
    let set = res
        .headers()
        .get(SET_COOKIE)
        .map(|v| v.to_str().expect("ascii").to_owned())
        .unwrap_or_default();
    let cookie = set
        .split(';')
        .next()
        .filter(|c| !c.is_empty())
        .map(str::to_owned);
    (status, cookie, set)
}

async fn page(app: &TestServer, path: &str, cookie: &str) -> (StatusCode, String) {
    let res = browser()
        .get(app.url(path))
        .header(COOKIE, cookie)
        .send()
        .await
        .expect("page sent");
    (res.status(), res.text().await.expect("html"))
}

/// The CSRF token of the first form on `html`.
fn csrf(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token");
    let rest = &html[at + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').expect("a closing quote")].to_owned()
}

async fn act(app: &TestServer, path: &str, cookie: &str, csrf: Option<&str>) -> StatusCode {
    let form: Vec<(&str, &str)> = csrf.map(|c| vec![("csrf", c)]).unwrap_or_default();
    browser()
        .post(app.url(path))
        .header(COOKIE, cookie)
        .form(&form)
        .send()
        .await
        .expect("action sent")
        .status()
}

#[tokio::test]
async fn only_the_operator_tokens_sign_in_and_the_cookie_is_locked_down() {
    let app = server().await;
    let (status, _) = page(&app, "/dashboard", "").await;
    assert_eq!(status, StatusCode::OK, "the sign-in form");

    let tenant = tenant(&pool().await).await;
    for wrong in [tenant.token.as_str(), "", "not-a-token"] {
        let (status, cookie, _) = sign_in(&app, wrong).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{wrong:?}");
        assert_eq!(cookie, None, "{wrong:?} got a session");
    }

    // The refusal is a page the browser shows, not the API's problem+json.
    let res = browser()
        .post(app.url("/dashboard/sign-in"))
        .form(&[("token", tenant.token.as_str())])
        .send()
        .await
        .expect("sign-in sent");
    assert_eq!(
        res.headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap()),
        Some("text/html; charset=utf-8")
    );
    assert!(res.text().await.unwrap().contains("not an operator token"));

    let (status, cookie, set) = sign_in(&app, &app.settings.server.ops_token).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/dashboard"] {
        assert!(set.contains(flag), "{set}");
    }
    assert!(!set.contains("Secure"), "plain HTTP: {set}");
    let cookie = cookie.expect("a session");
    let (status, html) = page(&app, "/dashboard", &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("data-queue=\"import-orders\""), "{html}");
    assert!(html.contains("Signed in: operator"));

    // A forged or altered cookie is no session.
    let forged = cookie.replace("ops.", "ops.9");
    let (_, html) = page(&app, "/dashboard", &forged).await;
    assert!(html.contains("Operator token"), "the sign-in form again");

    // Behind a TLS proxy the cookie is Secure.
    let res = browser()
        .post(app.url("/dashboard/sign-in"))
        .header("x-forwarded-proto", "https")
        .form(&[("token", app.settings.server.ops_token.as_str())])
        .send()
        .await
        .unwrap();
    let set = res.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(set.contains("; Secure"), "{set}");
    app.stop().await;
}

#[tokio::test]
async fn pause_and_resume_need_the_sessions_csrf_token_and_the_operator_role() {
    let app = server().await;
    let broker = Broker::connect(&app.settings).await.expect("the broker");
    let queue = broker.queue("noop").expect("noop");
    let (_, cookie, _) = sign_in(&app, &app.settings.server.ops_token).await;
    let cookie = cookie.expect("a session");
    let (_, html) = page(&app, "/dashboard", &cookie).await;
    let token = csrf(&html);

    let pause = "/dashboard/queues/noop/pause";
    assert_eq!(act(&app, pause, &cookie, None).await, StatusCode::FORBIDDEN);
    assert_eq!(
        act(&app, pause, &cookie, Some("forged")).await,
        StatusCode::FORBIDDEN
    );
    assert!(
        !queue.stats().await.unwrap().paused,
        "refused actions did nothing"
    );
    assert_eq!(
        act(&app, pause, &cookie, Some(&token)).await,
        StatusCode::SEE_OTHER
    );
    assert!(queue.stats().await.unwrap().paused);
    let (_, html) = page(&app, "/dashboard", &cookie).await;
    assert!(
        html.contains("/dashboard/queues/noop/resume"),
        "a paused queue offers resume"
    );

    // Read only: the page, but no buttons and no action.
    let (status, viewer, _) = sign_in(&app, READ_TOKEN).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let viewer = viewer.expect("a session");
    let (_, html) = page(&app, "/dashboard", &viewer).await;
    assert!(html.contains("Signed in: read only"));
    assert!(!html.contains("/dashboard/queues/noop/resume"));
    let viewer_csrf = csrf(&html);
    assert_eq!(
        act(
            &app,
            "/dashboard/queues/noop/resume",
            &viewer,
            Some(&viewer_csrf)
        )
        .await,
        StatusCode::FORBIDDEN
    );
    assert!(queue.stats().await.unwrap().paused);

    // Another session's token does not carry over.
    assert_eq!(
        act(
            &app,
            "/dashboard/queues/noop/resume",
            &cookie,
            Some(&viewer_csrf)
        )
        .await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        act(&app, "/dashboard/queues/noop/resume", &cookie, Some(&token)).await,
        StatusCode::SEE_OTHER
    );
    assert!(!queue.stats().await.unwrap().paused);

    // A queue that is neither typed nor used is not made by pausing it.
    assert_eq!(
        act(
            &app,
            "/dashboard/queues/no-such-queue/pause",
            &cookie,
            Some(&token)
        )
        .await,
        StatusCode::FORBIDDEN
    );
    let names = broker.queue_names().await.expect("queue names");
    assert!(!names.iter().any(|n| n == "no-such-queue"), "{names:?}");
    app.stop().await;
}

#[tokio::test]
async fn a_dead_letter_is_found_by_id_and_retried() {
    let app = server().await;
    let broker = Broker::connect(&app.settings).await.expect("the broker");
    let queue = broker.queue("noop").expect("noop");
    // A job that fails for good, run by the noop pool until it is a dead letter.
    let pool = run_pool(&broker, "noop");
    let job = queue
        .enqueue_json(r#"{"permanent":true}"#, &EnqueueOptions::default())
        .await
        .expect("enqueued");
    wait_for(&queue, |s| s.dead == 1).await;
    pool.stop().await;
    let (_, cookie, _) = sign_in(&app, &app.settings.server.ops_token).await;
    let cookie = cookie.expect("a session");

    let (status, html) = page(
        &app,
        &format!("/dashboard/jobs?queue=noop&id={}", job.id),
        &cookie,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("data-field=\"status\">dead<"), "{html}");
    assert!(
        html.contains("noop asked to fail permanently"),
        "the last error: {html}"
    );
    let (status, _) = page(&app, "/dashboard/jobs?queue=noop&id=01NOSUCHJOB", &cookie).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (_, html) = page(&app, "/dashboard/queues/noop/dead", &cookie).await;
    assert!(html.contains(&format!("data-job=\"{}\"", job.id)), "{html}");
    let token = csrf(&html);
    let retry = format!("/dashboard/queues/noop/dead/{}/run", job.id);
    assert_eq!(
        act(&app, &retry, &cookie, None).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        act(&app, &retry, &cookie, Some(&token)).await,
        StatusCode::SEE_OTHER
    );
    let stats = queue.stats().await.unwrap();
    assert_eq!((stats.dead, stats.ready), (0, 1), "retried: back to ready");
    // `*` never reaches the scripts, where it would mean every dead letter.
    assert_eq!(
        act(
            &app,
            "/dashboard/queues/noop/dead/*/delete",
            &cookie,
            Some(&token)
        )
        .await,
        StatusCode::FORBIDDEN
    );
    app.stop().await;
}
