//! `/dashboard` in a real headless Chromium, driven over WebDriver: signing in (and a tenant
//! token refused), a queue's counts moving live while jobs arrive, a dead job found by id,
//! retried and then run, a bulk delete that asks first and states the count, pause stopping work
//! and resume restarting it, and an action refused without its CSRF token. Each scenario keeps
//! screenshots in `target/browser/`.

mod app_helpers;
mod browser_helpers;
mod tenant_helpers;

use std::time::Duration;

use app_helpers::{run_pool, settings, spawn_server_with, wait_for, TestServer};
use browser_helpers::{browser, Browser};
use switchyard::queue::{Broker, EnqueueOptions, JobStatus, Queue};
use tenant_helpers::{pool, tenant};

/// Long enough for the live view's two-second events, on a slow machine.
const LIVE: Duration = Duration::from_secs(20);

async fn server() -> (TestServer, Broker) {
    let app = spawn_server_with(settings()).await;
    let broker = Broker::connect(&app.settings).await.expect("the broker");
    (app, broker)
}

async fn sign_in(b: &Browser, app: &TestServer, token: &str) {
    b.goto(&app.url("/dashboard")).await;
    let field = b.get("input#token").await;
    b.type_into(&field, token).await;
    b.follow(&b.get("form[action='/dashboard/sign-in'] button").await)
        .await;
}

/// The text of a queue's cell on the queues page.
async fn cell(b: &Browser, queue: &str, field: &str) -> String {
    b.text_of(&format!("tr[data-queue='{queue}'] [data-field='{field}']"))
        .await
}

fn no_options() -> EnqueueOptions {
    EnqueueOptions::default()
}

#[tokio::test]
async fn the_operator_signs_in_and_a_tenant_token_does_not() {
    let (app, _) = server().await;
    let tenant = tenant(&pool().await).await;
    let b = browser().await;

    sign_in(&b, &app, &tenant.token).await;
    let alert = b.text_of("[role='alert']").await;
    assert!(alert.contains("not an operator token"), "{alert}");
    assert!(
        b.find("table[data-live]").await.is_none(),
        "no queues shown"
    );
    b.screenshot("dashboard-tenant-token-refused").await;
    // And the refused browser holds no session: the next visit is the sign-in form again.
    b.goto(&app.url("/dashboard")).await;
    assert!(b.find("input#token").await.is_some());

    sign_in(&b, &app, &app.settings.server.ops_token).await;
    assert!(b.find("tr[data-queue='import-orders']").await.is_some());
    assert_eq!(b.text_of("nav .role").await, "Signed in: operator");
    // The session cookie is out of the page's scripts' reach.
    assert_eq!(b.run("return document.cookie").await, "");
    b.screenshot("dashboard-signed-in").await;
    app.stop().await;
}

#[tokio::test]
async fn a_queues_counts_move_live_while_jobs_arrive() {
    let (app, broker) = server().await;
    let queue = broker.queue("noop").expect("noop");
    let b = browser().await;
    sign_in(&b, &app, &app.settings.server.ops_token).await;
    assert_eq!(cell(&b, "noop", "ready").await, "0");
    // A mark on this very page: if the counts change with the mark still there, they were
    // pushed, not reloaded.
    b.run("window.sameLoad = true").await;

    for wave in 1..=3u64 {
        for _ in 0..5 {
            queue
                .enqueue_json("{}", &no_options())
                .await
                .expect("enqueued");
        }
        let expected = (wave * 5).to_string();
        let moved = b
            .until(LIVE, || async {
                cell(&b, "noop", "ready").await == expected
            })
            .await;
        assert!(
            moved,
            "ready shows {} after {expected} enqueued",
            cell(&b, "noop", "ready").await
        );
    }
    assert_eq!(b.run("return window.sameLoad === true").await, true);
    assert!(b.text_of("#live-status").await.starts_with("Live"));
    // The chart of the last hour counts them too, in words for screen readers.
    let chart = b.get("tr[data-queue='noop'] svg.chart").await;
    let label = b.attribute(&chart, "aria-label").await.unwrap_or_default();
    assert!(label.contains("15 enqueued"), "{label}");
    b.screenshot("dashboard-live-counts").await;
    app.stop().await;
}

#[tokio::test]
async fn a_dead_job_is_found_by_id_retried_and_then_runs() {
    let (app, broker) = server().await;
    let queue = broker.queue("noop").expect("noop");
    let workers = run_pool(&broker, "noop");
    // A job whose downstream is down for a few seconds, with one attempt: it goes dead.
    let up_at = chrono::Utc::now().timestamp_millis() + 3_000;
    let job = queue
        .enqueue_json(
            &format!(r#"{{"fail_until_ms":{up_at}}}"#),
            &EnqueueOptions {
                max_attempts: Some(1),
                ..no_options()
            },
        )
        .await
        .expect("enqueued");
    wait_for(&queue, |s| s.dead == 1).await;

    let b = browser().await;
    sign_in(&b, &app, &app.settings.server.ops_token).await;
    let id = b.get("input#id").await;
    b.type_into(&id, &job.id).await;
    b.run("document.getElementById('queue').value = 'noop'")
        .await;
    b.follow(&b.get("form.find button").await).await;
    assert_eq!(b.text_of("[data-field='status']").await, "dead");
    assert!(b
        .text_of("section.job")
        .await
        .contains("noop asked to fail until"));
    b.screenshot("dashboard-dead-job-found").await;

    // The downstream is back; the operator retries.
    let wait = up_at - chrono::Utc::now().timestamp_millis();
    if wait > 0 {
        tokio::time::sleep(Duration::from_millis(wait as u64 + 100)).await;
    }
    b.follow(&b.get("section.job form[action$='/run'] button").await)
        .await;
    assert!(b.text_of("[role='status']").await.contains("1 job"));
    let done = wait_for_status(&queue, &job.id, JobStatus::Done).await;
    assert_eq!(done.attempts, 1, "a fresh attempt budget");
    b.screenshot("dashboard-dead-job-retried").await;
    workers.stop().await;
    app.stop().await;
}

async fn wait_for_status(queue: &Queue, id: &str, status: JobStatus) -> switchyard::queue::JobInfo {
    let deadline = tokio::time::Instant::now() + LIVE;
    loop {
        let job = queue.job(id).await.expect("read").expect("the job");
        if job.status == status {
            return job;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "job {id} is {:?}, not {status:?}",
            job.status
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_bulk_delete_states_its_count_and_acts_only_when_confirmed() {
    let (app, broker) = server().await;
    let queue = broker.queue("noop").expect("noop");
    let workers = run_pool(&broker, "noop");
    for _ in 0..4 {
        queue
            .enqueue_json(r#"{"permanent":true}"#, &no_options())
            .await
            .expect("enqueued");
    }
    wait_for(&queue, |s| s.dead == 4).await;
    workers.stop().await;

    let b = browser().await;
    sign_in(&b, &app, &app.settings.server.ops_token).await;
    b.follow(&b.get("tr[data-queue='noop'] a[data-field='dead']").await)
        .await;
    let boxes = b.all("input[type='checkbox'][name='ids']").await;
    assert_eq!(boxes.len(), 4);
    b.click(&boxes[0]).await;
    b.click(&boxes[1]).await;
    b.follow(&b.get("button[value='delete-selected']").await)
        .await;

    // A page that says how many, and nothing deleted yet.
    let question = b.get("form.confirm [role='alert']").await;
    assert_eq!(
        b.attribute(&question, "data-count").await.as_deref(),
        Some("2")
    );
    assert!(b
        .text(&question)
        .await
        .starts_with("Delete 2 dead jobs of noop?"));
    assert_eq!(queue.stats().await.unwrap().dead, 4);
    b.screenshot("dashboard-bulk-delete-confirm").await;
    // Cancel leaves them all.
    b.follow(&b.get("form.confirm a").await).await;
    assert_eq!(queue.stats().await.unwrap().dead, 4);

    let boxes = b.all("input[type='checkbox'][name='ids']").await;
    b.click(&boxes[0]).await;
    b.click(&boxes[1]).await;
    b.follow(&b.get("button[value='delete-selected']").await)
        .await;
    b.follow(&b.get("form.confirm button").await).await;
    assert!(b
        .text_of("[role='status']")
        .await
        .contains("Deleted 2 jobs"));
    assert_eq!(queue.stats().await.unwrap().dead, 2);

    // All of them: the count is the list's, stated before.
    b.follow(&b.get("button[value='delete-all']").await).await;
    assert!(b
        .text_of("form.confirm [role='alert']")
        .await
        .starts_with("Delete 2 dead jobs"));
    b.follow(&b.get("form.confirm button").await).await;
    assert_eq!(queue.stats().await.unwrap().dead, 0);
    b.screenshot("dashboard-bulk-deleted").await;
    app.stop().await;
}

#[tokio::test]
async fn pause_stops_work_and_resume_restarts_it() {
    let (app, broker) = server().await;
    let queue = broker.queue("noop").expect("noop");
    let workers = run_pool(&broker, "noop");
    let b = browser().await;
    sign_in(&b, &app, &app.settings.server.ops_token).await;

    b.follow(
        &b.get("tr[data-queue='noop'] form[action$='/pause'] button")
            .await,
    )
    .await;
    assert_eq!(cell(&b, "noop", "state").await, "paused");
    for _ in 0..5 {
        queue
            .enqueue_json("{}", &no_options())
            .await
            .expect("enqueued");
    }
    let live = b
        .until(LIVE, || async { cell(&b, "noop", "ready").await == "5" })
        .await;
    assert!(live, "the live view shows the jobs waiting");
    // Paused for a while: the running pool takes none of them.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stats = queue.stats().await.unwrap();
    assert_eq!((stats.ready, stats.processed_total), (5, 0), "{stats:?}");
    b.screenshot("dashboard-paused").await;

    b.follow(
        &b.get("tr[data-queue='noop'] form[action$='/resume'] button")
            .await,
    )
    .await;
    wait_for(&queue, |s| s.processed_total == 5).await;
    let shown = b
        .until(LIVE, || async { cell(&b, "noop", "done").await == "5" })
        .await;
    assert!(shown, "the live view shows them done");
    assert_eq!(cell(&b, "noop", "state").await, "running");
    b.screenshot("dashboard-resumed").await;
    workers.stop().await;
    app.stop().await;
}

#[tokio::test]
async fn an_action_without_its_csrf_token_is_refused() {
    let (app, broker) = server().await;
    let queue = broker.queue("noop").expect("noop");
    let b = browser().await;
    sign_in(&b, &app, &app.settings.server.ops_token).await;
    // The form as a forger would post it: the session cookie goes along, the token cannot.
    b.run(
        "var f = document.querySelector(\"tr[data-queue='noop'] form[action$='/pause']\");\
         f.querySelector(\"input[name='csrf']\").remove(); f.submit();",
    )
    .await;
    let refused = b
        .until(LIVE, || async {
            b.text_of("[role='alert']")
                .await
                .contains("did not come from the dashboard")
        })
        .await;
    assert!(refused, "{}", b.source().await);
    assert!(!queue.stats().await.unwrap().paused);
    b.screenshot("dashboard-csrf-refused").await;
    app.stop().await;
}
