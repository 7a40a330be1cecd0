//! The invariants of ARCHITECTURE.md, checked by reading the source: the core is pure, the
//! providers print nothing, the sandbox borrows nothing from the clients, commands do not call
//! provider clients, no file imports a file that imports it back, and the rooms stay small.
//!
//! These are text-level readings of `src/` (as `../shared/tools/import-cycles.py` is), so
//! each check says what it matched; test code (`#[cfg(test)]` onwards) is left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `src/`, with its module path (`core/plan/mod.rs` → `core::plan`).
fn sources() -> BTreeMap<Vec<String>, (PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(&root).unwrap().with_extension("");
                let mut module: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                if matches!(
                    module.last().map(String::as_str),
                    Some("mod" | "lib" | "main")
                ) {
                    module.pop();
                }
                let text = std::fs::read_to_string(&path).unwrap();
                out.insert(module, (path, text));
            }
        }
    }
    out
}

/// The code of a file without its tests and comments.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or("");
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn under<'a>(
    files: &'a BTreeMap<Vec<String>, (PathBuf, String)>,
    top: &str,
) -> impl Iterator<Item = (&'a PathBuf, String)> {
    files
        .iter()
        .filter(move |(m, _)| m.first().map(String::as_str) == Some(top))
        .map(|(_, (p, t))| (p, code(t)))
}

fn offenders(found: Vec<String>) -> String {
    found.join("\n  ")
}

#[test]
fn the_core_is_pure() {
    // What would let the core reach the network, files, environment, clock or randomness.
    let forbidden = [
        "std::fs",
        "std::env",
        "std::net",
        "std::process",
        "std::io::stdin",
        "tokio",
        "reqwest",
        "rand::",
        "Utc::now",
        "Local::now",
        "SystemTime",
        "Instant::now",
        "println!",
        "eprintln!",
    ];
    let files = sources();
    let mut found = Vec::new();
    for (path, code) in under(&files, "core") {
        for f in forbidden {
            if code.contains(f) {
                found.push(format!("{}: `{f}`", path.display()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "src/core must stay pure:\n  {}",
        offenders(found)
    );
}

#[test]
fn providers_print_nothing() {
    let files = sources();
    let mut found = Vec::new();
    for (path, code) in under(&files, "providers") {
        for m in ["println!", "eprintln!", "print!(", "eprint!(", "dbg!("] {
            if code.contains(m) {
                found.push(format!("{}: `{m}`", path.display()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "providers return data and errors; the cli prints:\n  {}",
        offenders(found)
    );
}

#[test]
fn the_sandbox_borrows_nothing_from_the_clients() {
    let files = sources();
    let mut found = Vec::new();
    for (path, code) in under(&files, "sandbox") {
        for m in [
            "crate::providers",
            "crate::core",
            "crate::apply",
            "crate::approve",
            "crate::cli",
            "crate::ops",
            "crate::workspace",
        ] {
            if code.contains(m) {
                found.push(format!("{}: `{m}`", path.display()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "the sandbox emulates the APIs on its own; it must not share code with the clients it tests:\n  {}",
        offenders(found)
    );
}

#[test]
fn commands_never_call_a_provider_client() {
    // What a command may name from `providers`: credentials and plain data, never a client.
    let allowed = [
        "crate::providers::Credentials",
        "crate::providers::EnvSecrets",
        "crate::providers::now_rfc3339",
        "crate::providers::github_issues::RepoRef",
        "crate::providers::github_issues::Upserted",
        "crate::providers::{Credentials",
        "crate::providers::github_issues::{RepoRef",
    ];
    let files = sources();
    let mut found = Vec::new();
    for (path, code) in under(&files, "cli") {
        for (i, _) in code.match_indices("crate::providers") {
            let rest = &code[i..];
            if !allowed.iter().any(|a| rest.starts_with(a)) {
                let line: String = rest.chars().take_while(|c| *c != '\n').collect();
                found.push(format!("{}: `{line}`", path.display()));
            }
        }
        // A command does not import another command either.
        for (i, _) in code.match_indices("crate::cli::") {
            let line: String = code[i..].chars().take_while(|c| *c != '\n').collect();
            if !line.starts_with("crate::cli::Ctx")
                && !line.starts_with("crate::cli::Exit")
                && !line.starts_with("crate::cli::render")
                && !line.starts_with("crate::cli::report")
            {
                found.push(format!("{}: `{line}`", path.display()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "cli/ parses, calls one operation and renders; providers are reached through ops/:\n  {}",
        offenders(found)
    );
}

#[test]
fn rooms_stay_small() {
    // 700 lines: a file a reader can hold in their head; 250 for a command, which only parses,
    // calls and renders.
    let files = sources();
    let mut found = Vec::new();
    for (module, (path, text)) in &files {
        let lines = text.lines().count();
        let limit = if module.first().map(String::as_str) == Some("cli") {
            250
        } else {
            700
        };
        if lines > limit {
            found.push(format!(
                "{}: {lines} lines (at most {limit})",
                path.display()
            ));
        }
    }
    assert!(
        found.is_empty(),
        "files over their size:\n  {}",
        offenders(found)
    );
}

/// `a::{b::c, d}` → `a::b::c`, `a::d` (nested groups too).
fn expand(path: &str) -> Vec<String> {
    let Some(open) = path.find('{') else {
        return vec![path.to_string()];
    };
    let (head, body) = (&path[..open], &path[open + 1..path.len() - 1]);
    let mut parts = Vec::new();
    let (mut depth, mut cur) = (0, String::new());
    for ch in body.chars() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ => {}
        }
        if ch == ',' && depth == 0 {
            parts.push(std::mem::take(&mut cur));
        } else {
            cur.push(ch);
        }
    }
    parts.push(cur);
    parts
        .iter()
        .filter(|p| !p.trim().is_empty())
        .flat_map(|p| expand(&format!("{head}{}", p.trim())))
        .collect()
}

/// File-level imports: `use crate::…`/`super::…`, inline `crate::…` paths, and a parent
/// naming its children — the same reading as `../shared/tools/import-cycles.py`.
fn import_graph() -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let files = sources();
    let resolve = |segs: &[String]| -> Option<Vec<String>> {
        (1..=segs.len())
            .rev()
            .map(|k| segs[..k].to_vec())
            .find(|m| files.contains_key(m))
    };
    let ident = |s: &str| {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
            .collect::<String>()
    };
    let mut graph = BTreeMap::new();
    for (module, (path, text)) in &files {
        let code = code(text);
        let is_parent = matches!(
            path.file_stem().and_then(|s| s.to_str()),
            Some("mod" | "lib" | "main")
        );
        let base: Vec<String> = if is_parent {
            module.clone()
        } else {
            module[..module.len().saturating_sub(1)].to_vec()
        };
        let mut paths: Vec<String> = Vec::new();
        for stmt in code.split("use ").skip(1) {
            if let Some(end) = stmt.find(';') {
                let p: String = stmt[..end].split_whitespace().collect();
                paths.extend(expand(&p));
            }
        }
        for key in ["crate::", "super::"] {
            for (i, _) in code.match_indices(key) {
                let before = code[..i].chars().last();
                if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
                    continue;
                }
                paths.push(ident(&code[i..]));
            }
        }
        if is_parent {
            for (i, _) in code.match_indices("::") {
                let start = code[..i]
                    .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .map_or(0, |s| s + 1);
                if code[..start].ends_with(':') {
                    continue;
                }
                let word = &code[start..i];
                let mut child = module.clone();
                child.push(word.to_string());
                if !word.is_empty() && files.contains_key(&child) {
                    paths.push(format!("crate::{}", child.join("::")));
                }
            }
        }
        let mut edges = BTreeSet::new();
        for p in paths {
            let p = p.split(" as ").next().unwrap_or("").to_string();
            let segs: Vec<String> = p.split("::").map(str::to_string).collect();
            let target: Vec<String> = match segs.first().map(String::as_str) {
                Some("crate") => segs[1..].to_vec(),
                Some("super") => {
                    let mut b = base.clone();
                    let mut rest = &segs[..];
                    while rest.first().map(String::as_str) == Some("super") {
                        rest = &rest[1..];
                        if rest.first().map(String::as_str) == Some("super") {
                            b.pop();
                        }
                    }
                    // `super::x` from a non-parent file names a sibling of its parent's level.
                    let mut t = if is_parent {
                        let mut up = base.clone();
                        up.pop();
                        up
                    } else {
                        b
                    };
                    t.extend(rest.iter().cloned());
                    t
                }
                _ => continue,
            };
            let target: Vec<String> = target
                .into_iter()
                .filter(|s| s != "self" && s != "*")
                .collect();
            // A child naming its ancestors (`super::Type`) is how a folder's files share its
            // types; only edges between siblings and across folders can make a cycle.
            let ancestor = |t: &Vec<String>| t.len() < module.len() && module.starts_with(t);
            if let Some(t) = resolve(&target).filter(|t| t != module && !ancestor(t)) {
                edges.insert(t);
            }
        }
        graph.insert(module.clone(), edges);
    }
    graph
}

#[test]
fn no_file_imports_a_file_that_imports_it_back() {
    let graph = import_graph();
    let mut g = petgraph::graph::DiGraph::<Vec<String>, ()>::new();
    let ids: BTreeMap<&Vec<String>, _> = graph.keys().map(|m| (m, g.add_node(m.clone()))).collect();
    for (from, tos) in &graph {
        for to in tos {
            g.add_edge(ids[from], ids[to], ());
        }
    }
    let cycles: Vec<String> = petgraph::algo::tarjan_scc(&g)
        .into_iter()
        .filter(|scc| scc.len() > 1)
        .map(|scc| {
            let mut names: Vec<String> = scc.iter().map(|n| g[*n].join("/")).collect();
            names.sort();
            names.join(" <-> ")
        })
        .collect();
    assert!(
        cycles.is_empty(),
        "import cycles between files (a module should depend on what is below it only):\n  {}",
        cycles.join("\n  ")
    );
    // The reading itself must see the imports it is meant to see.
    let from = |a: &str, b: &str| {
        graph
            .iter()
            .any(|(m, tos)| m.first().is_some_and(|m| m == a) && tos.iter().any(|t| t[0] == b))
    };
    assert!(from("cli", "ops") && from("apply", "core") && from("ops", "providers"));
    assert!(!from("core", "providers") && !from("sandbox", "providers"));
}
