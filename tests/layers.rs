//! The direction of dependencies, as a test: each top-level module of the crate may import only
//! modules of the layers below its own (`docs/architecture.md` has the picture in words). The
//! rule is written once, in [`LAYERS`]; a `crate::...` path that runs against it, or a new
//! top-level module that no layer names, fails here with the file and the import.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, lowest first. A module imports only from layers below its own; the top layer, the
/// program's wiring, may also import the other modules of the top.
const LAYERS: &[(&str, &[&str])] = &[
    ("settings data", &["config"]),
    (
        "plain leaves",
        &[
            "error",
            "crypto",
            "telemetry",
            "shutdown",
            "db",
            "provision",
        ],
    ),
    ("contracts and rules", &["domain", "jobs", "outbound"]),
    (
        "stores, platforms, queue",
        &["store", "connectors", "queue"],
    ),
    ("outbox and webhooks", &["outbox", "webhooks"]),
    ("API and workers", &["api", "workers"]),
    ("HTTP server", &["server"]),
    (
        "the top",
        &["app", "runner", "settings", "sandbox_cmd", "demo", "bench"],
    ),
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS
        .iter()
        .position(|(_, modules)| modules.contains(&module))
}

fn allowed(from: &str, to: &str) -> bool {
    let (Some(f), Some(t)) = (layer_of(from), layer_of(to)) else {
        return false;
    };
    t < f || (t == f && f == LAYERS.len() - 1)
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`src/store/orders.rs` is `store`), or `None` for
/// the crate root and the binary.
fn module_of(root: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(root).ok()?;
    let mut parts = rel.components().map(|c| c.as_os_str().to_string_lossy());
    let first = parts.next()?;
    if first == "workers" {
        return Some("workers".into());
    }
    let name = parts.next()?;
    let top = name.trim_end_matches(".rs").to_string();
    (top != "lib" && top != "main").then_some(top)
}

/// The code of a file without its comments, which may name modules freely.
fn code(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("/*") {
        out.push_str(&rest[..i]);
        rest = rest[i..].find("*/").map_or("", |j| &rest[i + j + 2..]);
    }
    out.push_str(rest);
    out.lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules a file's code names through `crate::`: `crate::store::orders`,
/// `crate::{jobs, queue::Broker}`.
fn imports(code: &str) -> BTreeSet<String> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut found = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let after = &code[i + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            let inner = group.split('}').next().unwrap_or_default();
            for item in inner.split(',') {
                let name = ident(item.trim());
                if !name.is_empty() {
                    found.insert(name);
                }
            }
        } else {
            let name = ident(after);
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

/// `module -> imported module -> the files that import it`, for the whole crate.
fn graph() -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    sources(&root.join("src"), &mut files);
    sources(&root.join("workers"), &mut files);
    let mut graph: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for file in files {
        let Some(module) = module_of(root, &file) else {
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let shown = file
            .strip_prefix(root)
            .unwrap_or(&file)
            .display()
            .to_string();
        let entry = graph.entry(module.clone()).or_default();
        for import in imports(&code(&text)) {
            if import != module {
                entry.entry(import).or_default().insert(shown.clone());
            }
        }
    }
    graph
}

#[test]
fn every_module_imports_only_from_the_layers_below_it() {
    let graph = graph();
    let unplaced: Vec<&String> = graph.keys().filter(|m| layer_of(m).is_none()).collect();
    assert!(
        unplaced.is_empty(),
        "modules in no layer of tests/layers.rs (place them there): {unplaced:?}"
    );
    let mut against = Vec::new();
    for (from, imports) in &graph {
        for (to, files) in imports {
            if !allowed(from, to) {
                against.push(format!("{from} -> {to} (in {files:?})"));
            }
        }
    }
    assert!(
        against.is_empty(),
        "imports against the direction of dependencies:\n{}",
        against.join("\n")
    );
}

#[test]
fn only_the_top_of_the_program_imports_the_workers() {
    let importers: Vec<String> = graph()
        .into_iter()
        .filter(|(_, imports)| imports.contains_key("workers"))
        .map(|(module, _)| module)
        .collect();
    let top = LAYERS[LAYERS.len() - 1].1;
    assert!(
        importers.iter().all(|m| top.contains(&m.as_str())),
        "{importers:?}"
    );
}

#[test]
fn the_scanner_finds_paths_and_groups_and_ignores_comments() {
    let text = "use crate::store::orders;\nuse crate::{jobs, queue::Broker};\n\
                // crate::workers in a comment\n/* crate::api */ let x = crate::domain::X;";
    let found = imports(&code(text));
    let expected: BTreeSet<String> = ["store", "jobs", "queue", "domain"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(found, expected);
    assert!(allowed("store", "domain"));
    assert!(!allowed("domain", "store"));
    assert!(
        !allowed("store", "connectors"),
        "one layer does not import itself"
    );
    assert!(allowed("demo", "runner"), "the top wires itself");
}
