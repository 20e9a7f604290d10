//! A Python with the vendors' own packages, for tests that hold a simulator to an official client
//! library or to a schema shipped in a registry package. Installed on first use from PyPI (pinned
//! versions) under `target/sandbox-tools/`, the way the main crate's contract tests install theirs
//! under `target/contract-tools/`: one virtual environment per package set, named from its pins,
//! so test binaries wanting different sets never reinstall over each other. A file lock per set
//! makes binaries that run at once wait for one install; a stamp written last marks it complete.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Xero's official Python SDK, generated from the Xero-OpenAPI documents.
pub const XERO_PYTHON: &str = "xero-python==15.2.0";

/// Shopify's official Python library (`import shopify`), whose `GraphQL` client the GraphQL
/// simulator must serve unchanged.
pub const SHOPIFY_PYTHON: &str = "ShopifyAPI==12.7.0";

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

/// `xero-python==15.2.0` -> `xero-python-15.2.0`; several packages joined by `+`.
fn set_name(packages: &[&str]) -> String {
    packages
        .iter()
        .map(|p| {
            p.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                        c
                    } else {
                        '-'
                    }
                })
                .collect::<String>()
                .replace("--", "-")
        })
        .collect::<Vec<_>>()
        .join("+")
}

/// The interpreter of a virtual environment holding `packages`, installed if need be.
pub fn python_with(packages: &[&str]) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/sandbox-tools");
    std::fs::create_dir_all(&root).expect("target/sandbox-tools can be made");
    let name = set_name(packages);
    let venv = root.join(format!("venv-{name}"));
    let stamp = venv.join("installed");
    let lock = File::create(root.join(format!("{name}.lock"))).expect("the lock file opens");
    lock.lock().expect("the install lock is taken");
    if !stamp.exists() {
        eprintln!("installing {packages:?} into {}", venv.display());
        // A half-made environment from an interrupted install is made again from scratch.
        let _ = std::fs::remove_dir_all(&venv);
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
        std::fs::write(&stamp, format!("{packages:?}")).expect("the stamp is written");
    }
    drop(lock);
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
