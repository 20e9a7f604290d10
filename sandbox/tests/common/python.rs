//! A Python with the vendors' own packages, for tests that hold a simulator to an official client
//! library or to a schema shipped in a registry package. Installed on first use from PyPI (pinned
//! versions) into `target/sandbox-tools/`, the way the main crate's contract tests install theirs
//! under `target/contract-tools/`; a stamp file naming the pins makes a change of pins reinstall.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// Xero's official Python SDK, generated from the Xero-OpenAPI documents.
pub const XERO_PYTHON: &str = "xero-python==15.2.0";

/// Serialises installs between the tests of one binary.
static INSTALL: Mutex<()> = Mutex::new(());

fn run(cmd: &mut Command, what: &str) {
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
}

/// The interpreter of a virtual environment holding `packages`, installed if need be.
pub fn python_with(packages: &[&str]) -> PathBuf {
    let _one_at_a_time = INSTALL.lock().unwrap_or_else(|p| p.into_inner());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/sandbox-tools");
    let venv = root.join("venv");
    let stamp = root.join("installed");
    let wanted = format!("{packages:?}");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
        eprintln!("installing {wanted} into {}", root.display());
        std::fs::create_dir_all(&root).expect("target/sandbox-tools can be made");
        run(
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
            "python3 -m venv",
        );
        run(
            Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet", "--disable-pip-version-check"])
                .args(packages),
            "pip install",
        );
        std::fs::write(&stamp, wanted).expect("the stamp is written");
    }
    venv.join("bin/python")
}

/// Runs the script `tests/python/{script}` with `args`; panics with its output unless it exits
/// 0, and returns what it printed.
pub fn run_script(python: &Path, script: &str, args: &[&str]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(script);
    let out = Command::new(python)
        .arg(&path)
        .args(args)
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{script} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
