//! `/dashboard` over HTTP, as a browser without JavaScript uses it: sign-in with the ops token
//! (and only it, or the read-only token), the session cookie's flags, the queues page, pause and
//! resume, a dead letter found by id and retried, the channels, webhooks and plugins pages over
//! the sandbox platforms, a webhook receiver and worker pools, and every action refused without
//! the session's CSRF token or with a read-only session.

mod app_helpers;
mod import_helpers;
mod tenant_helpers;

use std::time::{Duration, Instant};

use app_helpers::{run_pool, settings, spawn_server_with, wait_for, TestServer};
use import_helpers::{orders_of, World};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{redirect, Client, StatusCode};
use switchyard::config::QueueOverrides;
use switchyard::domain::plugin_rules::{Action, Condition};
use switchyard::jobs::{ImportOrders, JobKind, RunPlugin, SyncStock};
use switchyard::queue::{Broker, EnqueueOptions, JobStatus, Queue};
use switchyard::store::import_state;
use switchyard::store::plugin_rules::{self, NewRule};
use switchyard::store::plugins::{self, NewPlugin};
use switchyard::store::webhooks::{self, NewWebhook};
use switchyard_sandbox::webhook_receiver::WebhookReceiver;
use switchyard_sandbox::{FaultKnobs, SandboxConfig};
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
    submit(app, path, cookie, &form).await.0
}

/// Posts `form` to `path`: the answer's status and where it sends the browser, if anywhere.
async fn submit(
    app: &TestServer,
    path: &str,
    cookie: &str,
    form: &[(&str, &str)],
) -> (StatusCode, String) {
    let res = browser()
        .post(app.url(path))
        .header(COOKIE, cookie)
        .form(form)
        .send()
        .await
        .expect("action sent");
    let location = res
        .headers()
        .get(LOCATION)
        .map(|v| v.to_str().expect("ascii").to_owned())
        .unwrap_or_default();
    (res.status(), location)
}

/// The part of `html` from `marker` to the end of its element `end` (`</tr>`, `</section>`);
/// panics when `marker` is not on the page.
fn part<'a>(html: &'a str, marker: &str, end: &str) -> &'a str {
    let at = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} on the page: {html}"));
    let rest = &html[at..];
    &rest[..rest.find(end).map_or(rest.len(), |e| e + end.len())]
}

/// A world of the test's own (database, sandbox, every worker pool, the outbox relay) and the
/// dashboard served on it, `settings` changed by `tune` first.
async fn world_with(tune: impl FnOnce(&mut switchyard::config::Settings)) -> (World, TestServer) {
    let mut settings = app_helpers::settings_with_own_database();
    tune(&mut settings);
    let world = World::start_with(settings, SandboxConfig::demo(), true).await;
    let mut served = world.settings.clone();
    served.server.dashboard_read_token = Some(READ_TOKEN.to_owned());
    let app = spawn_server_with(served).await;
    (world, app)
}

/// Sessions of both roles: (operator, read only).
async fn both_sessions(app: &TestServer) -> (String, String) {
    let (_, ops, _) = sign_in(app, &app.settings.server.ops_token).await;
    let (_, viewer, _) = sign_in(app, READ_TOKEN).await;
    (
        ops.expect("an operator session"),
        viewer.expect("a read-only session"),
    )
}

/// Polls `check` every 50 ms until it answers something, for up to 30 s.
async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn enqueued_total(queue: &Queue) -> u64 {
    queue.stats().await.expect("stats").enqueued_total
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channels_imports_show_and_import_now_queues_one_for_operators_only() {
    // A failed import backs the channel off for a minute, long enough to read it on the page.
    let (world, app) = world_with(|s| {
        s.queues.insert(
            "import_orders".into(),
            QueueOverrides {
                backoff_base_ms: Some(60_000),
                backoff_cap_ms: Some(60_000),
                backoff_jitter: Some(0.0),
                ..QueueOverrides::default()
            },
        );
    })
    .await;
    let channel = world.default_channel("demo-shop").await;
    let shop = world.sandbox.store("demo-shop").expect("the shop");
    shop.create_orders(3);
    let (cookie, viewer) = both_sessions(&app).await;
    let marker = format!("data-channel=\"{}\"", channel.id);
    let import = format!("/dashboard/channels/{}/import", channel.id);

    let (status, html) = page(&app, "/dashboard/channels", &cookie).await;
    assert_eq!(status, StatusCode::OK);
    let row = part(&html, &marker, "</tr>");
    assert!(
        row.contains("demo-shop") && row.contains("shopify"),
        "{row}"
    );
    assert!(row.contains("never"), "not imported yet: {row}");
    assert!(row.contains("nothing waiting"), "{row}");
    assert!(row.contains(&format!("action=\"{import}\"")), "{row}");
    let token = csrf(&html);

    // Read only: the row, no button, and the action refused.
    let (_, html) = page(&app, "/dashboard/channels", &viewer).await;
    let row = part(&html, &marker, "</tr>");
    assert!(!row.contains("Import now"), "{row}");
    let queue = world.broker.queue(ImportOrders::QUEUE).expect("the queue");
    let before = enqueued_total(&queue).await;
    assert_eq!(
        act(&app, &import, &viewer, Some(&csrf(&html))).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        act(&app, &import, &cookie, None).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        enqueued_total(&queue).await,
        before,
        "refused: nothing queued"
    );

    // Import now queues the API's manual import and shows its job.
    let (status, to) = submit(&app, &import, &cookie, &[("csrf", &token)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let id = to
        .strip_prefix("/dashboard/jobs?queue=import-orders&id=")
        .unwrap_or_else(|| panic!("to the job's page: {to}"));
    let job = queue.job(id).await.expect("read").expect("the job");
    assert_eq!(
        job.payload,
        serde_json::json!({"channel_id": channel.id, "reason": "manual"})
    );
    assert_eq!(page(&app, &to, &cookie).await.0, StatusCode::OK);
    eventually("the import is done", || async {
        let j = queue.job(id).await.expect("read")?;
        (j.status == JobStatus::Done).then_some(())
    })
    .await;
    let imported: i64 = sqlx::query_scalar("SELECT count(*) FROM orders WHERE channel_id = $1")
        .bind(channel.id)
        .fetch_one(&world.pool)
        .await
        .expect("count");
    assert!(imported >= 3, "{imported}");
    let (_, html) = page(&app, "/dashboard/channels", &cookie).await;
    let row = part(&html, &marker, "</tr>");
    assert_eq!(row.matches("never").count(), 0, "run and succeeded: {row}");
    assert!(row.contains(&format!("<td>{imported}</td>")), "{row}");
    assert!(row.contains("<td class=\"error\"></td>"), "no error: {row}");
    assert!(row.contains("not backing off"), "{row}");

    // A stock push waiting for the channel shows as lag.
    let sync = world.broker.queue(SyncStock::QUEUE).expect("the queue");
    let later = EnqueueOptions {
        delay: Some(Duration::from_secs(3600)),
        ..EnqueueOptions::default()
    };
    sync.enqueue(
        &SyncStock {
            channel_id: channel.id,
        },
        &later,
    )
    .await
    .expect("enqueued");
    let (_, html) = page(&app, "/dashboard/channels", &cookie).await;
    assert!(
        part(&html, &marker, "</tr>").contains("<td>waiting "),
        "{html}"
    );

    // The platform fails: the next import's error and the channel's backoff show.
    shop.faults().set(FaultKnobs {
        error_5xx_ratio: 1.0,
        ..FaultKnobs::default()
    });
    let (status, _) = submit(&app, &import, &cookie, &[("csrf", &token)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let health = eventually("the failed run is recorded", || async {
        import_state::import_health(&world.pool, world.account, channel.id)
            .await
            .expect("health")
            .filter(|h| h.last_error.is_some())
    })
    .await;
    let (_, html) = page(&app, "/dashboard/channels", &cookie).await;
    let row = part(&html, &marker, "</tr>");
    assert!(row.contains("channel unavailable"), "{row}");
    assert!(
        health.backoff_until.is_some() && row.contains("backing off until"),
        "{health:?}: {row}"
    );
    assert!(row.contains("after 1 failed run<"), "{row}");
    app.stop().await;
    world.stop().await;
}

/// Waits until delivery `d` of webhook `w` has `status` after `attempts` attempts in all.
async fn delivery_is(world: &World, w: i64, d: i64, status: &str, attempts: i32) {
    eventually(
        &format!("delivery {d} is {status} after {attempts}"),
        || async {
            let row = webhooks::get_delivery(&world.pool, world.account, w, d)
                .await
                .expect("read")?;
            (row.status == status && row.attempts == attempts).then_some(())
        },
    )
    .await;
}

async fn webhook_to(world: &World, store_id: i64, url: &str) -> i64 {
    let secret = switchyard::webhooks::generate_secret();
    let new = NewWebhook {
        store_id,
        url,
        description: None,
        triggers: &["order.created".to_owned()],
        enabled: true,
        secret: &secret,
    };
    webhooks::create(
        &world.pool,
        &world.deps.credentials_key,
        world.account,
        &new,
    )
    .await
    .expect("webhook")
    .id
}

async fn test_send(world: &World, webhook: i64) -> i64 {
    webhooks::test_send(&world.pool, world.account, webhook)
        .await
        .expect("sent")
        .expect("a delivery")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_and_disabled_webhooks_show_their_answers_and_replay_and_recover_resend() {
    let (world, app) = world_with(|_| {}).await;
    let store = world.store("brand").await;
    let failing = WebhookReceiver::start(Vec::new()).await.expect("receiver");
    failing.set_status(500);
    let gone = WebhookReceiver::start(Vec::new()).await.expect("receiver");
    gone.set_gone();
    let working = WebhookReceiver::start(Vec::new()).await.expect("receiver");
    let (hook, gone_hook, working_hook) = (
        webhook_to(&world, store, &failing.url()).await,
        webhook_to(&world, store, &gone.url()).await,
        webhook_to(&world, store, &working.url()).await,
    );
    // The test schedule is four attempts: each failing delivery is answered 500 four times.
    let (a, b) = (test_send(&world, hook).await, test_send(&world, hook).await);
    delivery_is(&world, hook, a, "failed", 4).await;
    delivery_is(&world, hook, b, "failed", 4).await;
    let g = test_send(&world, gone_hook).await;
    delivery_is(&world, gone_hook, g, "failed", 1).await;
    let ok = test_send(&world, working_hook).await;
    delivery_is(&world, working_hook, ok, "delivered", 1).await;
    let (cookie, viewer) = both_sessions(&app).await;

    let (status, html) = page(&app, "/dashboard/webhooks", &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !html.contains(&format!("data-webhook=\"{working_hook}\"")),
        "a working endpoint is not listed: {html}"
    );
    let section = part(&html, &format!("data-webhook=\"{hook}\""), "</section>");
    assert!(section.contains("failing since"), "{section}");
    assert_eq!(section.matches(">500</li>").count(), 8, "{section}");
    for d in [a, b] {
        let row = part(section, &format!("data-delivery=\"{d}\""), "</tr>");
        assert!(
            row.contains("<td>failed</td>") && row.contains("Replay"),
            "{row}"
        );
    }
    let replay = format!("/dashboard/webhooks/{hook}/deliveries/{a}/replay");
    let recover = format!("/dashboard/webhooks/{hook}/recover");
    assert!(
        section.contains(&format!("action=\"{recover}\"")),
        "{section}"
    );
    let disabled = part(
        &html,
        &format!("data-webhook=\"{gone_hook}\""),
        "</section>",
    );
    assert!(
        disabled.contains("disabled by switchyard") && disabled.contains(">410</li>"),
        "{disabled}"
    );
    assert!(
        !disabled.contains("<form"),
        "a disabled endpoint cannot be resent to: {disabled}"
    );
    let token = csrf(&html);
    let field = "name=\"since\" value=\"";
    let since_at = section.find(field).expect("a since field") + field.len();
    let since = section[since_at..]
        .split('"')
        .next()
        .expect("a value")
        .to_owned();

    // Read only: the same endpoints, no buttons, and resending refused.
    let (_, html) = page(&app, "/dashboard/webhooks", &viewer).await;
    let section = part(&html, &format!("data-webhook=\"{hook}\""), "</section>");
    assert!(!section.contains("<form"), "{section}");
    let viewer_token = csrf(&html);
    assert_eq!(
        act(&app, &replay, &viewer, Some(&viewer_token)).await,
        StatusCode::FORBIDDEN
    );
    let as_viewer = [("csrf", viewer_token.as_str()), ("since", since.as_str())];
    assert_eq!(
        submit(&app, &recover, &viewer, &as_viewer).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        act(&app, &replay, &cookie, None).await,
        StatusCode::FORBIDDEN
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(failing.count(), 8, "refused: nothing sent");

    // Replay sends the one delivery again, with its whole schedule and its webhook-id.
    let (status, to) = submit(&app, &replay, &cookie, &[("csrf", &token)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        to,
        format!("/dashboard/webhooks?webhook={hook}&replayed={a}")
    );
    delivery_is(&world, hook, a, "failed", 8).await;
    let got = failing.deliveries();
    assert_eq!(got.len(), 12);
    // The replay's four attempts carry one message id, the one an earlier delivery was sent
    // under four times (the two deliveries' first attempts may arrive in either order).
    let replayed = &got[8].webhook_id;
    assert!(
        got[8..].iter().all(|d| &d.webhook_id == replayed),
        "{got:?}"
    );
    assert_eq!(
        got[..8]
            .iter()
            .filter(|d| &d.webhook_id == replayed)
            .count(),
        4,
        "the same message as before"
    );
    let (_, html) = page(&app, &to, &cookie).await;
    assert!(html.contains(&format!(
        "Delivery {a} of webhook {hook} is being sent again"
    )));

    // Recover sends every failed delivery since the page's time again; now they arrive.
    failing.set_status(200);
    let (status, to) = submit(
        &app,
        &recover,
        &cookie,
        &[("csrf", &token), ("since", &since)],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        to,
        format!("/dashboard/webhooks?webhook={hook}&recovered=2")
    );
    delivery_is(&world, hook, a, "delivered", 9).await;
    delivery_is(&world, hook, b, "delivered", 5).await;
    assert_eq!(failing.count(), 14);
    let (_, html) = page(&app, "/dashboard/webhooks", &cookie).await;
    assert!(
        !html.contains(&format!("data-webhook=\"{hook}\"")),
        "working again, so no longer listed: {html}"
    );
    // A disabled endpoint's deliveries are not resent until it is enabled.
    let replay_gone = format!("/dashboard/webhooks/{gone_hook}/deliveries/{g}/replay");
    assert_eq!(
        act(&app, &replay_gone, &cookie, Some(&token)).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(gone.count(), 1);
    for rx in [failing, gone, working] {
        rx.shutdown().await;
    }
    app.stop().await;
    world.stop().await;
}

async fn plugin(world: &World, store_id: i64, name: &str, endpoint_url: &str) -> i64 {
    let new = NewPlugin {
        store_id,
        name,
        endpoint_url,
        active: true,
    };
    plugins::create(
        &world.pool,
        &world.deps.credentials_key,
        world.account,
        &new,
    )
    .await
    .expect("plugin")
    .plugin
    .id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_whose_runs_fail_is_listed_with_its_error() {
    let (world, app) = world_with(|_| {}).await;
    let channel = world.default_channel("demo-shop").await;
    let shop = world.sandbox.store("demo-shop").expect("the shop");
    shop.set_generator_config(orders_of("HL-1"));
    // The centre refuses every order: a 4xx a retry cannot change, so each run is dead at once.
    let refusing = WebhookReceiver::start(Vec::new()).await.expect("receiver");
    refusing.set_status(422);
    let north = plugin(&world, channel.store_id, "North FC", &refusing.url()).await;
    plugin(
        &world,
        channel.store_id,
        "South FC",
        "http://127.0.0.1:9/orders",
    )
    .await;
    plugin_rules::create(
        &world.pool,
        world.account,
        &NewRule {
            store_id: channel.store_id,
            name: "headlamps ship from North",
            position: None,
            condition: &Condition::SkuIn {
                skus: vec!["HL-1".to_owned()],
            },
            action: &Action::SendToPlugin { plugin_id: north },
            active: true,
        },
    )
    .await
    .expect("rule");
    let (cookie, _) = both_sessions(&app).await;
    let (_, html) = page(&app, "/dashboard/plugins", &cookie).await;
    assert!(
        html.contains("No plugin has a run retrying or dead"),
        "{html}"
    );

    shop.create_orders(1);
    world.import(channel.id).await;
    let runs = world.broker.queue(RunPlugin::QUEUE).expect("the queue");
    wait_for(&runs, |s| s.dead >= 1).await;
    let (status, html) = page(&app, "/dashboard/plugins", &cookie).await;
    assert_eq!(status, StatusCode::OK);
    let row = part(&html, &format!("data-plugin=\"{north}\""), "</tr>");
    assert!(row.contains("North FC"), "{row}");
    assert!(row.contains("refused the order with 422"), "{row}");
    assert!(
        html.contains("/dashboard/queues/run-plugin/dead"),
        "the runs are a click away"
    );
    assert!(
        !html.contains("South FC"),
        "a plugin with no failing run is not listed"
    );
    refusing.shutdown().await;
    app.stop().await;
    world.stop().await;
}
