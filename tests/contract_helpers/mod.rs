//! The independent tools the contract is held to, installed on first use under
//! `target/contract-tools/` from PyPI and the npm registry (pinned versions): openapi-spec-validator
//! and schemathesis (Python), jsonschema (Python, for Postman's collection schema), the
//! Prometheus client's text parser (Python, for `/metrics`) and newman (Postman's own collection
//! runner). Debian's `chromium` renders `/docs`.
//!
//! A test binary installs them once; later runs find them in place.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

const PYTHON_PACKAGES: [&str; 4] = [
    "schemathesis==4.32.5",
    "openapi-spec-validator==0.9.0",
    "jsonschema==4.26.0",
    "prometheus-client==0.26.0",
];
const NPM_PACKAGES: [&str; 1] = ["newman@6.2.2"];

pub struct Tools {
    pub python: PathBuf,
    pub schemathesis: PathBuf,
    pub newman: PathBuf,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/contract-tools")
}

/// Where a test keeps what it produced (reports, screenshots) for whoever reads the run.
pub fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/contract");
    std::fs::create_dir_all(&dir).expect("target/contract can be made");
    dir
}

fn run(cmd: &mut Command, what: &str) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: could not start: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The tools, installed if they are not yet (the stamp file names the pinned versions, so a
/// change of pins reinstalls).
pub fn tools() -> &'static Tools {
    static TOOLS: OnceLock<Tools> = OnceLock::new();
    TOOLS.get_or_init(|| {
        let root = root();
        std::fs::create_dir_all(&root).expect("target/contract-tools can be made");
        let venv = root.join("venv");
        let stamp = root.join("installed");
        let wanted = format!("{PYTHON_PACKAGES:?} {NPM_PACKAGES:?}");
        if std::fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
            eprintln!("installing the contract tools into {}", root.display());
            run(
                Command::new("python3").args(["-m", "venv"]).arg(&venv),
                "python3 -m venv",
            );
            run(
                Command::new(venv.join("bin/pip"))
                    .args(["install", "--quiet", "--disable-pip-version-check"])
                    .args(PYTHON_PACKAGES),
                "pip install",
            );
            run(
                Command::new("npm")
                    .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
                    .arg(root.join("node"))
                    .args(NPM_PACKAGES),
                "npm install",
            );
            std::fs::write(&stamp, wanted).expect("the stamp is written");
        }
        Tools {
            python: venv.join("bin/python"),
            schemathesis: venv.join("bin/schemathesis"),
            newman: root.join("node/node_modules/.bin/newman"),
        }
    })
}

/// Runs `script` with the tools' Python and `files` as its arguments; panics with `refusal` and
/// the script's stderr when it fails, and prints what it printed.
pub fn python(script: &str, files: &[&Path], refusal: &str) {
    let out = Command::new(&tools().python)
        .args(["-c", script])
        .args(files)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{refusal}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{}", String::from_utf8_lossy(&out.stdout).trim());
}

/// Debian's Chromium.
pub fn chromium() -> PathBuf {
    let path = PathBuf::from("/usr/bin/chromium");
    assert!(
        path.exists(),
        "the /docs test renders the page in Debian's chromium: `apt-get install chromium` (.ci/run does)"
    );
    path
}

/// Postman's published collection schema v2.1.0, as shipped in the `postman_collection` crate
/// (a dev-dependency), found through `cargo metadata`. Offline, and for this machine's platform
/// only: the packages of other platforms' dependencies were never downloaded here, and without
/// the filter cargo would want every one of them.
pub fn postman_schema() -> PathBuf {
    let rustc = run(Command::new("rustc").arg("-vV"), "rustc -vV");
    let host = String::from_utf8_lossy(&rustc.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .expect("rustc names its host");
    let out = run(
        Command::new(env!("CARGO"))
            .args(["metadata", "--format-version", "1", "--offline"])
            .args(["--filter-platform", &host])
            .current_dir(env!("CARGO_MANIFEST_DIR")),
        "cargo metadata",
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    let manifest = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == "postman_collection")
        .and_then(|p| p["manifest_path"].as_str())
        .expect("the postman_collection crate is a dev-dependency");
    let schema = Path::new(manifest)
        .parent()
        .expect("a crate directory")
        .join("tests/fixtures/schema/postman-collection-v2.1.0.json");
    assert!(schema.exists(), "{} is missing", schema.display());
    schema
}
