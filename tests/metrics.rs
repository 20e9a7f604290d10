//! `/metrics` as Prometheus reads it: the exposition parses with the Prometheus Python client's
//! own text parser, every family carries `# HELP` and `# TYPE`, every metric the code emits is
//! described, and the Grafana dashboard in `docs/grafana/` asks only for metrics that exist.

mod app_helpers;
mod contract_helpers;

use std::collections::BTreeSet;
use std::path::Path;

use app_helpers::{run_pool, spawn_server, wait_for};
use contract_helpers::{artifacts, python};
use switchyard::queue::{Broker, EnqueueOptions};

/// The names in `text` written as the first argument of `macro!(`: `counter!("name"`.
fn named_in(text: &str, macros: &[&str]) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for m in macros {
        for (at, _) in text.match_indices(&format!("{m}!(")) {
            let rest = text[at + m.len() + 2..].trim_start();
            if let Some(name) = rest.strip_prefix('"').and_then(|r| r.split('"').next()) {
                names.insert(name.to_owned());
            }
        }
    }
    names
}

fn sources() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut texts = Vec::new();
    let mut dirs = vec![root.join("src"), root.join("workers")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("a source directory") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                texts.push(std::fs::read_to_string(&path).expect("a source file"));
            }
        }
    }
    texts
}

/// Every metric the code records, and every metric it describes.
fn emitted_and_described() -> (BTreeSet<String>, BTreeSet<String>) {
    let texts = sources();
    let all = texts.join("\n");
    let emitted = named_in(
        &all,
        &["metrics::counter", "metrics::gauge", "metrics::histogram"],
    );
    let described = named_in(
        &all,
        &[
            "metrics::describe_counter",
            "metrics::describe_gauge",
            "metrics::describe_histogram",
        ],
    );
    (emitted, described)
}

#[test]
fn every_metric_the_code_records_is_described() {
    let (emitted, described) = emitted_and_described();
    let undescribed: Vec<&String> = emitted
        .iter()
        .filter(|m| !m.starts_with("switchyard_bench") && !described.contains(*m))
        .collect();
    assert!(
        undescribed.is_empty(),
        "metrics without a describe_* call in telemetry.rs (no # HELP): {undescribed:?}"
    );
    assert!(emitted.len() >= 12, "{emitted:?}");
}

#[test]
fn the_grafana_dashboard_asks_only_for_described_metrics() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/grafana/switchyard.json");
    let dash: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("the dashboard")).expect("JSON");
    let (_, described) = emitted_and_described();
    let mut asked = BTreeSet::new();
    for panel in dash["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("an expression");
            for word in expr.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
                if word.starts_with("switchyard_") {
                    let family = ["_bucket", "_sum", "_count"]
                        .iter()
                        .find_map(|s| word.strip_suffix(s))
                        .unwrap_or(word);
                    asked.insert(family.to_owned());
                }
            }
        }
    }
    let unknown: Vec<&String> = asked.iter().filter(|m| !described.contains(*m)).collect();
    assert!(unknown.is_empty(), "the dashboard asks for {unknown:?}");
    let missing: Vec<&String> = described.iter().filter(|m| !asked.contains(*m)).collect();
    assert!(missing.is_empty(), "no panel shows {missing:?}");
}

/// The family a sample line belongs to: its name without a histogram's suffix.
fn family(line: &str) -> &str {
    let name = line.split(['{', ' ']).next().unwrap_or_default();
    ["_bucket", "_sum", "_count"]
        .iter()
        .find_map(|s| name.strip_suffix(s))
        .unwrap_or(name)
}

#[tokio::test]
async fn metrics_parse_as_prometheus_text_with_help_and_type_on_every_family() {
    let app = spawn_server().await;
    let broker = Broker::connect(&app.settings).await.expect("the broker");
    let queue = broker.queue("noop").expect("the noop queue");
    let pool = run_pool(&broker, "noop");
    // A job that finishes, one retried once, one that dies: every job counter moves.
    for payload in [r#"{}"#, r#"{"fail_attempts":1}"#, r#"{"permanent":true}"#] {
        queue
            .enqueue_json(payload, &EnqueueOptions::default())
            .await
            .expect("enqueued");
    }
    wait_for(&queue, |s| {
        s.dead == 1 && s.ready == 0 && s.scheduled == 0 && s.running == 0
    })
    .await;
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("text");
    pool.stop().await;
    app.stop().await;

    let file = artifacts().join("metrics.txt");
    std::fs::write(&file, &text).unwrap();
    let parse = "import sys\n\
                 from prometheus_client.parser import text_string_to_metric_families\n\
                 families = list(text_string_to_metric_families(open(sys.argv[1]).read()))\n\
                 print(len(families), 'families,', sum(len(f.samples) for f in families), 'samples')";
    python(parse, &[&file], "Prometheus's parser refused /metrics");

    let families: BTreeSet<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(family)
        .collect();
    for f in &families {
        assert!(text.contains(&format!("# HELP {f} ")), "{f} has no HELP");
        assert!(text.contains(&format!("# TYPE {f} ")), "{f} has no TYPE");
    }
    for moved in [
        "switchyard_jobs_processed_total",
        "switchyard_jobs_failed_total",
        "switchyard_jobs_retried_total",
        "switchyard_jobs_dead_lettered_total",
    ] {
        assert!(
            families.contains(moved),
            "{moved} missing from /metrics:\n{text}"
        );
    }
}
