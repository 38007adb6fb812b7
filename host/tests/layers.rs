//! The host's modules form layers that point one way: each may use only the modules below
//! it. This test reads every `crate::` path in `host/src` and fails on one that points up,
//! so the order written in ARCHITECTURE.md stays true.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Bottom first. A module may use the ones before it, never the ones after.
const LAYERS: &[&str] = &[
    "role",         // sink or source: one type for config, component and runtime
    "backoff",      // retry delays, shared by every loop
    "config",       // the connector file: TOML, env overrides, validation
    "observe",      // Prometheus metrics and the totals read back from them
    "wit",          // bindings of what connectors export and the types they share
    "client",       // reaching the broker: address, TLS, token, timeouts, a shared client
    "schemas",      // the schema registry: register, look up, check records
    "capabilities", // what connectors import, one unit each
    "engine",       // the wasmtime engine and epoch ticker
    "component",    // load, link, instantiate, call with limits
    "host",         // what a process shares between its connectors
    "danube",       // consumers, producers, dead letters over danube-client
    "runtime",      // the sink and source loops
    "supervisor",   // start, steer and reload running connectors
    "endpoints",    // /metrics, /healthz, /readyz and the admin API
    "bench",        // the `bench` subcommand
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to: `src/runtime/sink/pump.rs` → `runtime`.
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).expect("file under src");
    let first = relative
        .components()
        .next()
        .expect("a path")
        .as_os_str()
        .to_string_lossy()
        .into_owned();
    first.trim_end_matches(".rs").to_string()
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The top-level modules named after `crate::` in `code`, including the members of
/// `use crate::{a::x, b::{y, z}}` groups. Comments are skipped.
fn crate_paths(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in code.lines() {
        let line = line.trim_start();
        if line.starts_with("//") {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            let preceded_by_ident = rest[..at].chars().next_back().is_some_and(is_ident);
            rest = &rest[at + "crate::".len()..];
            if preceded_by_ident {
                continue; // e.g. `my_crate::`
            }
            if let Some(group) = rest.strip_prefix('{') {
                found.extend(group_heads(group));
            } else {
                let name: String = rest.chars().take_while(|&c| is_ident(c)).collect();
                if !name.is_empty() {
                    found.insert(name);
                }
            }
        }
    }
    found
}

/// The first segment of every item at the top level of a `{…}` use group.
fn group_heads(group: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut at_item_start = true;
    let mut current = String::new();
    for c in group.chars() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => at_item_start = true,
            c if depth == 0 && at_item_start && is_ident(c) => current.push(c),
            _ if depth == 0 && at_item_start && !current.is_empty() => {
                heads.push(std::mem::take(&mut current));
                at_item_start = false;
            }
            _ => {}
        }
    }
    if !current.is_empty() {
        heads.push(current);
    }
    heads
}

#[test]
fn modules_only_use_the_layers_below_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut upward = Vec::new();
    let mut unplaced = BTreeSet::new();
    for file in &files {
        let module = module_of(&src, file);
        if module == "lib" || module == "main" {
            continue; // the roots: lib.rs declares the layers, main.rs is the binary on top
        }
        let Some(level) = LAYERS.iter().position(|l| *l == module) else {
            unplaced.insert(module);
            continue;
        };
        let code = std::fs::read_to_string(file).expect("readable source");
        for used in crate_paths(&code) {
            match LAYERS.iter().position(|l| *l == used) {
                Some(used_level) if used_level > level => upward.push(format!(
                    "{} ({module}) uses crate::{used}, a layer above it",
                    file.strip_prefix(&src).unwrap_or(file).display()
                )),
                Some(_) => {}
                None => {
                    unplaced.insert(used);
                }
            }
        }
    }
    assert!(
        unplaced.is_empty(),
        "modules missing from LAYERS: {unplaced:?}"
    );
    assert!(upward.is_empty(), "upward uses:\n{}", upward.join("\n"));
}

#[test]
fn the_reader_sees_grouped_and_nested_uses() {
    let code = "use crate::{config::X, danube::{a, b}};\n\
                // use crate::supervisor::Ignored;\n\
                let t: crate::runtime::T = other_crate::host::f();\n";
    let found: Vec<String> = crate_paths(code).into_iter().collect();
    assert_eq!(found, ["config", "danube", "runtime"]);
}
