//! The layers, as a test: which of the library's top-level modules each module may use. A
//! use that runs back up (an adapter reaching into the service, the service into a transport)
//! or a circle between modules fails here, naming the file and the line.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each module and the modules it may use, bottom to top. `standalone` wires everything.
const LAYERS: &[(&str, &[&str])] = &[
    ("fs", &[]),
    ("net", &[]),
    ("domain", &[]),
    ("error", &["domain"]),
    ("config", &["domain"]),
    ("ports", &["domain", "error", "config"]),
    ("email", &["fs", "domain", "error", "ports"]),
    ("store", &["fs", "domain", "error", "ports"]),
    ("webhook", &["net", "domain", "error", "ports"]),
    ("sms", &["fs", "net", "domain", "ports"]),
    ("service", &["domain", "error", "config", "ports", "email"]),
    (
        "graphql",
        &["domain", "error", "config", "ports", "service"],
    ),
    (
        "http",
        &[
            "domain", "error", "config", "ports", "email", "service", "graphql",
        ],
    ),
    (
        "standalone",
        &[
            "fs", "domain", "error", "config", "ports", "email", "store", "webhook", "sms",
            "service", "graphql", "http",
        ],
    ),
];

/// Every `crate::<module>` a file names outside comments, with its line.
fn uses(source: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (number, line) in source.lines().enumerate() {
        let code = line.split("//").next().unwrap_or_default();
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.push((number + 1, name));
            }
            rest = after;
        }
        // `use crate::{a, b}` names several modules at once.
        if let Some(group) = code.split("crate::{").nth(1) {
            for name in group.split([',', '}']).map(str::trim) {
                let name = name.split("::").next().unwrap_or_default();
                if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    found.push((number + 1, name.to_owned()));
                }
            }
        }
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_module_uses_only_the_layers_below_it_and_no_circle_exists() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let allowed: BTreeMap<&str, BTreeSet<&str>> = LAYERS
        .iter()
        .map(|(module, below)| (*module, below.iter().copied().collect()))
        .collect();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    let mut edges: BTreeSet<(String, String)> = BTreeSet::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let first = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs").to_owned();
        let Some(may_use) = allowed.get(module.as_str()) else {
            // `lib.rs` and `main.rs` stand above every layer.
            assert!(
                ["lib", "main"].contains(&module.as_str()),
                "{} is in no layer: add it to LAYERS",
                relative.display()
            );
            continue;
        };
        let source = std::fs::read_to_string(file).unwrap();
        for (line, used) in uses(&source) {
            if used == module || !allowed.contains_key(used.as_str()) {
                continue;
            }
            edges.insert((module.clone(), used.clone()));
            if !may_use.contains(used.as_str()) {
                violations.push(format!(
                    "{}:{line}: {module} uses {used}",
                    relative.display()
                ));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "uses against the layers:\n{}",
        violations.join("\n")
    );
    // The allowed table itself has no circle: each module may use only modules listed
    // before it, so the uses found cannot form one either.
    for (index, (module, below)) in LAYERS.iter().enumerate() {
        let earlier: Vec<&str> = LAYERS[..index].iter().map(|(m, _)| *m).collect();
        for used in *below {
            assert!(
                earlier.contains(used),
                "{module} may use {used}, which is not below it"
            );
        }
    }
    assert!(
        edges.len() > 20,
        "too few uses found to mean anything: {edges:?}"
    );
}
