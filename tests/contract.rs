//! The API contract, tested rather than only published: the OpenAPI document is valid OpenAPI
//! 3.1 by an independent validator (openapi-spec-validator), names every route the routers
//! declare and no other, and holds against the live server under a schema-driven run
//! (schemathesis); `/docs` renders every resource in Chromium with networking off; and the
//! Postman collection is valid against Postman's published v2.1.0 schema and runs in order
//! against a seeded server (newman) with every request answered 2xx (a redirect where that is the
//! documented answer).
//!
//! Reports and the screenshot are kept in `target/contract/`.

mod app_helpers;
mod contract_helpers;
mod fixture_helpers;
mod tenant_helpers;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::process::Command;

use app_helpers::{key, spawn_server, wait_for, TestServer};
use contract_helpers::{artifacts, chromium, postman_schema, python, tools};
use fixture_helpers::{declared_routes, fixture, routes_in, Fixture};
use reqwest::StatusCode;
use serde_json::Value;
use switchyard::api::openapi::{document, METHODS};
use switchyard::queue::EnqueueOptions;
use switchyard_sandbox::{Sandbox, SandboxConfig};
use tenant_helpers::{channel, pool, tenant_with_channel};

/// Routes served by a router the source does not spell out with `.route(...)`.
const SERVED_ELSEWHERE: [(&str, &str); 1] = [
    // Swagger UI's own router (src/api/contract.rs).
    ("GET", "/docs"),
];

/// `(METHOD, path)` of every operation of `doc`.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if item.get(method).is_some() {
                ops.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    ops
}

/// What the routers declare and the document lacks, and what it documents that no router
/// declares, each as `METHOD path` lines; a router's `{*rest}` is the document's `{rest}`.
fn coverage_gaps(
    declared: &BTreeSet<(String, String)>,
    documented: &BTreeSet<(String, String)>,
) -> (Vec<String>, Vec<String>) {
    let mut served: BTreeSet<(String, String)> = declared
        .iter()
        .map(|(m, p)| (m.clone(), p.replace("{*", "{")))
        .collect();
    served.extend(
        SERVED_ELSEWHERE
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string())),
    );
    let line = |(m, p): &(String, String)| format!("{m} {p}");
    (
        served.difference(documented).map(line).collect(),
        documented.difference(&served).map(line).collect(),
    )
}

#[test]
fn every_route_is_documented_and_every_documented_route_is_served() {
    let declared = declared_routes();
    let doc = document();
    let (undocumented, unserved) = coverage_gaps(&declared, &documented(&doc));
    assert!(
        undocumented.is_empty(),
        "routes without documentation (add #[utoipa::path] and list them in the module's Doc):\n{}",
        undocumented.join("\n")
    );
    assert!(
        unserved.is_empty(),
        "documented routes no router serves:\n{}",
        unserved.join("\n")
    );
    assert!(declared.len() > 60, "{} routes read", declared.len());
}

#[test]
fn the_coverage_check_names_a_route_added_without_documentation() {
    let doc = documented(&document());
    let mut declared = declared_routes();
    let (before, _) = coverage_gaps(&declared, &doc);
    let added = r#"Router::new().route("/widgets/{id}", get(read).delete(remove))"#;
    for (method, path) in routes_in(added) {
        declared.insert((method, format!("/v1{path}")));
    }
    let (after, _) = coverage_gaps(&declared, &doc);
    let named: Vec<&String> = after.iter().filter(|r| !before.contains(r)).collect();
    assert_eq!(named, ["DELETE /v1/widgets/{id}", "GET /v1/widgets/{id}"]);
}

#[test]
fn operations_are_named_tagged_and_answer_something() {
    let doc = document();
    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let at = format!("{method} {path}");
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{at}: no operationId"));
            assert!(
                ids.insert(id.to_owned()),
                "{at}: operationId {id} used twice"
            );
            assert!(op["tags"][0].is_string(), "{at}: no tag");
            assert!(
                op["summary"].is_string(),
                "{at}: no summary (a doc comment)"
            );
            let responses = op["responses"].as_object().expect("responses");
            assert!(
                responses
                    .keys()
                    .any(|s| s.starts_with('2') || s.starts_with('3')),
                "{at}: no success answer"
            );
        }
    }
    let hooks = doc["webhooks"].as_object().expect("webhooks");
    assert!(hooks.contains_key("order.created") && hooks.contains_key("webhook.test"));
}

async fn served_document(app: &TestServer) -> Value {
    let res = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("GET /openapi.json");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/json");
    res.json().await.expect("the document is JSON")
}

#[tokio::test]
async fn the_served_document_is_valid_openapi_3_1() {
    let app = spawn_server().await;
    let doc = served_document(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let path = artifacts().join("openapi.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    // The document by the OpenAPI 3.1 validator, then every example by the schema it
    // illustrates (JSON Schema 2020-12, OpenAPI 3.1's dialect), so an example cannot drift from
    // what the server answers, which the schema-driven run holds the schemas to.
    let check = "import json, sys, jsonschema\n\
                 from openapi_spec_validator import validate\n\
                 from openapi_spec_validator.validation import OpenAPIV31SpecValidator\n\
                 doc = json.load(open(sys.argv[1]))\n\
                 validate(doc, cls=OpenAPIV31SpecValidator)\n\
                 n = 0\n\
                 for name, schema in doc['components']['schemas'].items():\n\
                 \x20   for example in ([schema['example']] if 'example' in schema else []) + schema.get('examples', []):\n\
                 \x20       root = {'$ref': '#/components/schemas/' + name, 'components': doc['components']}\n\
                 \x20       jsonschema.Draft202012Validator(root).validate(example)\n\
                 \x20       n += 1\n\
                 print('valid OpenAPI 3.1;', n, 'schema examples valid')";
    python(
        check,
        &[&path],
        "openapi-spec-validator refused the document, or an example its schema",
    );
    app.stop().await;
}

/// The value of path parameter `name` of `path` in `fx`, as the fixture names them.
fn path_value(fx: &Fixture, path: &str, name: &str) -> String {
    let name = if name == "topic" { "*topic" } else { name };
    fx.param(path, name)
}

/// A schemathesis configuration: the server, the three tokens, and for every operation the
/// fixture rows its path parameters point at (deletes get a second fixture's, so the first
/// stays whole for the rest of the run).
fn schemathesis_config(app: &TestServer, doc: &Value, fx: &Fixture, victim: &Fixture) -> String {
    let mut toml = String::new();
    writeln!(toml, "base-url = \"{}\"", app.address).unwrap();
    // One worker: a run with two once failed inside schemathesis itself (a KeyError in its
    // coverage phase); one worker keeps the run's order, and so the seed, reproducible.
    writeln!(toml, "seed = 20261204\nworkers = 1\n").unwrap();
    writeln!(toml, "[generation]\nmax-examples = 12\n").unwrap();
    writeln!(
        toml,
        "[auth.openapi.tenant_token]\nbearer = \"{}\"",
        fx.tenant_token
    )
    .unwrap();
    writeln!(
        toml,
        "[auth.openapi.ops_token]\nbearer = \"{}\"",
        fx.ops_token
    )
    .unwrap();
    writeln!(
        toml,
        "[auth.openapi.plugin_token]\nbearer = \"{}\"\n",
        fx.plugin_token
    )
    .unwrap();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let params: Vec<String> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "path")
                .filter_map(|p| p["name"].as_str())
                .map(|name| {
                    let rows = if method == "delete" { victim } else { fx };
                    let value = path_value(rows, path, name);
                    format!("\"path.{name}\" = {}", Value::String(value))
                })
                .collect();
            if params.is_empty() {
                continue;
            }
            writeln!(
                toml,
                "[[operations]]\ninclude-operation-id = \"{}\"\nparameters = {{ {} }}\n",
                op["operationId"].as_str().expect("an operationId"),
                params.join(", ")
            )
            .unwrap();
        }
    }
    toml
}

/// Makes every well-formed `Idempotency-Key` schemathesis sends unique: generated keys repeat
/// (`0`, `a`), and a key reused with another request is refused with 409 before the handler
/// runs, which would leave most POSTs untested. Malformed keys are sent as generated.
const HOOKS: &str = r#"
import re, uuid
import schemathesis

@schemathesis.hook
def before_call(ctx, case, **kwargs):
    headers = case.headers or {}
    for name in list(headers):
        if name.lower() == "idempotency-key" and re.fullmatch(r"[\x21-\x7e]{1,255}", str(headers[name])):
            headers[name] = str(uuid.uuid4())
"#;

/// Every operation of the document, run by schemathesis against a live server with a seeded
/// account: example, boundary ("coverage") and random inputs, valid and not. The run fails on a
/// 5xx answer, a status, content type, header or body the document does not describe for the
/// operation, or a route that serves without the token the document says it takes.
/// Taken by the two runs that send every route: the schema-driven run's requests make webhook
/// endpoints at the documented example address, which resolves nowhere, and events for them;
/// the collection's run has workers, which would spend their delivery slots timing out on them
/// while its own test send waits. One at a time, and the first leaves its endpoints switched off.
static WHOLE_API_RUNS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Switches off the webhook endpoints of `stores`, which a run made pointing nowhere.
async fn switch_off_webhooks(pool: &sqlx::PgPool, stores: &[i64]) {
    sqlx::query("UPDATE webhooks SET enabled = false WHERE store_id = ANY($1)")
        .bind(stores)
        .execute(pool)
        .await
        .expect("the run's webhooks switched off");
}

#[tokio::test]
async fn a_schema_driven_run_finds_no_5xx_and_nothing_undocumented() {
    let _whole_api = WHOLE_API_RUNS.lock().await;
    let app = spawn_server().await;
    let pool = pool().await;
    let (t, ch) = tenant_with_channel(&pool).await;
    let fx = fixture(&app, &pool, &t, &ch).await;
    let second = channel(&pool, &key(&app.settings), t.account).await;
    let victim = fixture(&app, &pool, &t, &second).await;
    let doc = served_document(&app).await;
    let dir = artifacts();
    let config = dir.join("schemathesis.toml");
    std::fs::write(&config, schemathesis_config(&app, &doc, &fx, &victim)).unwrap();
    let schema = dir.join("openapi.json");
    std::fs::write(&schema, doc.to_string()).unwrap();

    let hooks = dir.join("schemathesis_hooks.py");
    std::fs::write(&hooks, HOOKS).unwrap();
    let cassette = dir.join("schemathesis.vcr.yaml");
    let tools = tools();
    let out = tokio::process::Command::new(&tools.schemathesis)
        .arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(&schema)
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_headers_conformance,response_schema_conformance,ignored_auth",
            "--phases",
            "examples,coverage,fuzzing",
            "--report",
            "junit,vcr",
            "--report-junit-path",
        ])
        .arg(dir.join("schemathesis.junit.xml"))
        .arg("--report-vcr-path")
        .arg(&cassette)
        .args(["--no-color", "--output-truncate", "false"])
        .env("SCHEMATHESIS_HOOKS", &hooks)
        // Its cache goes beside the reports, not into the checkout.
        .current_dir(&dir)
        .kill_on_drop(true)
        .output()
        .await
        .expect("schemathesis runs");
    switch_off_webhooks(&pool, &[fx.store, victim.store]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    std::fs::write(dir.join("schemathesis.txt"), stdout.as_bytes()).unwrap();
    let summary: Vec<&str> = stdout
        .lines()
        .filter(|l| {
            l.contains("API Operations")
                || l.contains("Test cases")
                || l.contains("Test Phases")
                || l.contains("passed")
                || l.contains("failed")
        })
        .collect();
    eprintln!("schemathesis:\n{}", summary.join("\n"));
    // Every exchange, read back from the cassette: how many, and none of them 5xx.
    let recorded = std::fs::read_to_string(&cassette).expect("the cassette");
    let requests = recorded.lines().filter(|l| l.starts_with("- id:")).count();
    let server_errors = recorded
        .lines()
        .filter(|l| l.trim_start().starts_with("code: '5"))
        .count();
    eprintln!(
        "schemathesis: {} operations, {requests} requests, {server_errors} answered 5xx",
        documented(&doc).len()
    );
    assert!(requests > 1000, "{requests} requests recorded");
    assert_eq!(
        server_errors,
        0,
        "answers of 5xx: see {}",
        cassette.display()
    );
    assert!(
        out.status.success(),
        "schemathesis found failures (full output in target/contract/schemathesis.txt):\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    app.stop().await;
}

/// Runs Chromium headless with every host but the loopback address unresolvable.
fn chromium_offline(args: &[&str], url: &str) -> String {
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--no-first-run",
            "--virtual-time-budget=20000",
        ])
        .args(args)
        .arg(url)
        .output()
        .expect("chromium runs");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn docs_render_every_resource_with_networking_off() {
    let app = spawn_server().await;
    let doc = served_document(&app).await;
    let url = app.url("/docs/");
    let dom = tokio::task::spawn_blocking(move || chromium_offline(&["--dump-dom"], &url))
        .await
        .unwrap();
    let tags: BTreeSet<&str> = doc["paths"]
        .as_object()
        .expect("paths")
        .values()
        .flat_map(|item| METHODS.iter().filter_map(|m| item.get(*m)))
        .filter_map(|op| op["tags"][0].as_str())
        .collect();
    for tag in &tags {
        assert!(
            dom.contains(&format!("data-tag=\"{tag}\"")),
            "/docs shows no section for {tag}"
        );
    }
    assert!(dom.contains("switchyard"), "the page names the API");
    let shot = artifacts().join("docs.png");
    let arg = format!("--screenshot={}", shot.display());
    let url = app.url("/docs/");
    tokio::task::spawn_blocking(move || {
        chromium_offline(
            &[&arg, "--window-size=1280,2600", "--hide-scrollbars"],
            &url,
        )
    })
    .await
    .unwrap();
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "a real picture"
    );
    eprintln!(
        "/docs: {} resources shown; screenshot {}",
        tags.len(),
        shot.display()
    );
    app.stop().await;
}

/// Enqueues a job on `noop` that fails for good, and waits until it is a dead letter.
async fn dead_letter(app: &TestServer) -> String {
    let queue = switchyard::queue::Broker::connect(&app.settings)
        .await
        .expect("the broker connects")
        .queue("noop")
        .expect("the noop queue");
    let job = queue
        .enqueue_json(r#"{"permanent":true}"#, &EnqueueOptions::default())
        .await
        .expect("enqueued");
    wait_for(&queue, |s| s.dead > 0).await;
    job.id
}

#[tokio::test]
async fn the_postman_collection_is_v2_1_and_runs_in_order_with_every_request_answered_as_documented(
) {
    let _whole_api = WHOLE_API_RUNS.lock().await;
    let sandbox = Sandbox::start(SandboxConfig::demo())
        .await
        .expect("the sandbox starts");
    let shop = sandbox.shopify("demo-shop").expect("demo shop");
    let app = spawn_server().await;
    let res = app
        .client
        .get(app.url("/postman.json"))
        .send()
        .await
        .expect("GET /postman.json");
    assert_eq!(res.status(), StatusCode::OK);
    let collection: Value = res.json().await.expect("JSON");
    let dir = artifacts();
    let file = dir.join("switchyard.postman_collection.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&collection).unwrap()).unwrap();

    // Valid by Postman's published schema, and readable as a v2.1 collection.
    let check = "import json, sys, jsonschema\n\
                 schema = json.load(open(sys.argv[1]))\n\
                 jsonschema.validators.validator_for(schema)(schema).validate(json.load(open(sys.argv[2])))\n\
                 print('valid')";
    python(
        check,
        &[&postman_schema(), &file],
        "the collection is not valid v2.1.0",
    );
    let parsed = postman_collection::from_path(&file).expect("postman_collection reads it");
    assert!(matches!(
        parsed,
        postman_collection::PostmanCollection::V2_1_0(_)
    ));
    let folders: Vec<&str> = collection["item"]
        .as_array()
        .expect("folders")
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert!(folders.contains(&"Stores") && folders.last() == Some(&"Teardown"));

    // A seeded account, as the demo makes one, and a dead letter to requeue and delete.
    let pool = pool().await;
    let (t, ch) = tenant_with_channel(&pool).await;
    let fx = fixture(&app, &pool, &t, &ch).await;
    // Every worker pool, the timers and the outbox relay, as `switchyard run` has them: a test
    // send is delivered, a requeued dead letter runs (and dies) again.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let settings = app.settings.clone();
    let workers = tokio::spawn(async move {
        switchyard::runner::run_workers(&settings, Vec::new(), stopped).await
    });
    let receiver = Receiver::start().await;
    let dead = dead_letter(&app).await;
    // What the collection cannot make itself: the tokens, an imported order (routed to the
    // fixture's plugin, whose token reports on it), a SKU that plugin stocks, a dead letter, and
    // a platform to connect a channel to. Everything else it makes as it runs.
    let vars = [
        ("base_url", app.address.clone()),
        ("token", fx.tenant_token.clone()),
        ("ops_token", fx.ops_token.clone()),
        ("plugin_token", fx.plugin_token.clone()),
        ("queue", "noop".to_owned()),
        ("order_id", fx.order.to_string()),
        ("order_line_id", fx.line.to_string()),
        ("sku", fx.sku.clone()),
        ("kit_product_id", fx.kit.to_string()),
        ("component_product_id", fx.product.to_string()),
        ("dead_job_id", dead),
        ("shop_url", shop.base_url().to_owned()),
        ("shop_access_token", shop.access_token().to_owned()),
        ("shop_app_secret", shop.app_secret().to_owned()),
        ("webhook_url", receiver.url.clone()),
    ];
    let mut cmd = tokio::process::Command::new(&tools().newman);
    cmd.arg("run")
        .arg(&file)
        .args(["--reporters", "cli,json", "--reporter-json-export"])
        .arg(dir.join("newman.json"))
        .args([
            "--delay-request",
            "50",
            "--timeout-request",
            "10000",
            "--color",
            "off",
        ]);
    for (name, value) in &vars {
        cmd.arg("--env-var").arg(format!("{name}={value}"));
    }
    let out = cmd.kill_on_drop(true).output().await.expect("newman runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    std::fs::write(dir.join("newman.txt"), stdout.as_bytes()).unwrap();
    let report: Value =
        serde_json::from_slice(&std::fs::read(dir.join("newman.json")).expect("a report"))
            .expect("the report is JSON");
    let executions = report["run"]["executions"].as_array().expect("executions");
    // A request the collection does not follow the redirect of is answered by the redirect.
    let redirecting: BTreeSet<String> = collection_items(&collection)
        .into_iter()
        .filter(|i| i["protocolProfileBehavior"]["followRedirects"] == false)
        .filter_map(|i| i["name"].as_str().map(str::to_owned))
        .collect();
    let mut not_2xx = Vec::new();
    for e in executions {
        let code = e["response"]["code"].as_u64().unwrap_or(0);
        let name = e["item"]["name"].as_str().unwrap_or("?");
        let expected = if redirecting.contains(name) {
            300..400
        } else {
            200..300
        };
        if !expected.contains(&code) {
            not_2xx.push(format!(
                "{code} {}",
                e["item"]["name"].as_str().unwrap_or("?")
            ));
        }
    }
    let requests = collection_requests(&collection);
    eprintln!(
        "newman: {} exchanges for {requests} requests, {} not 2xx (or 3xx where documented)",
        executions.len(),
        not_2xx.len()
    );
    assert!(
        out.status.success() && not_2xx.is_empty(),
        "the collection's run failed:\n{}\n{stdout}",
        not_2xx.join("\n")
    );
    // A pre-request script's own calls are recorded beside its request, at the same position.
    let positions: BTreeSet<u64> = executions
        .iter()
        .filter_map(|e| e["cursor"]["position"].as_u64())
        .collect();
    assert_eq!(positions.len(), requests, "every request ran");
    let _ = stop.send(true);
    workers
        .await
        .expect("the workers did not panic")
        .expect("the workers stopped cleanly");
    app.stop().await;
}

/// A webhook endpoint on loopback that takes every delivery.
struct Receiver {
    url: String,
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let app = axum::Router::new().route("/hooks", axum::routing::post(|| async { "ok" }));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url }
    }
}

/// How many requests the collection holds, in every folder.
fn collection_requests(c: &Value) -> usize {
    collection_items(c).len()
}

/// Every request item of a collection, through its folders.
fn collection_items(c: &Value) -> Vec<&Value> {
    c["item"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|i| {
            if i.get("request").is_some() {
                vec![i]
            } else {
                collection_items(i)
            }
        })
        .collect()
}
