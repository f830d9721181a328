//! The repository rules: what ARCHITECTURE.md claims about the code, checked
//! on every `cargo test`. Each rule names the files that break it, so a
//! failure says what to fix. Patterns that would match this file itself are
//! built with `concat!`.

use std::collections::BTreeSet;
use std::path::Path;

use tidy::{files_with_suffix, metric_literals, relative, snake_case, workspace_root};

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn rust_files() -> Vec<(String, String)> {
    let root = workspace_root();
    let files = files_with_suffix(&root, ".rs");
    assert!(files.len() > 50, "the walk found only {} .rs files under {}", files.len(), root.display());
    files.iter().map(|p| (relative(p), read(p))).collect()
}

fn fail_on(broken: Vec<String>, rule: &str) {
    assert!(broken.is_empty(), "{rule}:\n  {}", broken.join("\n  "));
}

#[test]
fn every_rust_file_opens_with_a_module_doc() {
    let broken = rust_files()
        .into_iter()
        .filter(|(_, text)| !text.trim_start().starts_with("//!"))
        .map(|(path, _)| path)
        .collect();
    fail_on(broken, "these .rs files do not open with a `//!` line saying what they are for");
}

#[test]
fn only_bus_depends_on_fred() {
    let root = workspace_root();
    let mut broken = Vec::new();
    for manifest in files_with_suffix(&root, "Cargo.toml") {
        let rel = relative(&manifest);
        if rel == "Cargo.toml" || rel == "bus/Cargo.toml" {
            continue;
        }
        if read(&manifest).lines().any(|l| l.trim_start().starts_with("fred")) {
            broken.push(rel);
        }
    }
    for (path, text) in rust_files() {
        if !path.starts_with("bus/") && text.contains(concat!("fred", "::")) {
            broken.push(path);
        }
    }
    fail_on(broken, "only `bus` may use fred (the Redis client); these files do");
}

#[test]
fn lua_lives_only_in_lua_files() {
    // Lua's calls quote the command they run; a Rust call of a library
    // function (`handle.call(Function::…)`) names a `Function` instead.
    let markers = [
        concat!("redis", ".call('"),
        concat!("redis", ".call(\""),
        concat!("redis", ".pcall('"),
        concat!("redis", ".pcall(\""),
        concat!("register", "_function("),
    ];
    let broken = rust_files()
        .into_iter()
        .filter(|(_, text)| markers.iter().any(|m| text.contains(m)))
        .map(|(path, _)| path)
        .collect();
    fail_on(broken, "Lua belongs in bus/lua/*.lua (one Redis Functions library); these .rs files hold Lua");
    let lua = files_with_suffix(&workspace_root(), ".lua");
    let outside: Vec<String> = lua.iter().map(|p| relative(p)).filter(|p| !p.starts_with("bus/lua/")).collect();
    fail_on(outside, "every .lua file belongs under bus/lua/");
}

#[test]
fn only_bus_names_redis_keys() {
    let marker = concat!("\"m", "q:");
    let broken = rust_files()
        .into_iter()
        .filter(|(path, text)| !path.starts_with("bus/") && text.contains(marker))
        .map(|(path, _)| path)
        .collect();
    fail_on(broken, "Redis key names (`mq:…`) are formatted only in bus::keys; these files format their own");
}

/// Metric names as documented: every `marquee_…` in backticks in docs/metrics.md.
fn documented_metrics() -> BTreeSet<String> {
    let text = read(&workspace_root().join("docs/metrics.md"));
    let mut out = BTreeSet::new();
    for part in text.split('`').skip(1).step_by(2) {
        if part.starts_with("marquee_")
            && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            out.insert(part.to_owned());
        }
    }
    out
}

/// The documented name a name in code stands for: counters are registered
/// without the `_total` the exposition adds, and a histogram's series carry
/// `_bucket`, `_sum` and `_count`.
fn stands_for<'a>(name: &str, documented: &'a BTreeSet<String>) -> Option<&'a String> {
    let candidates = [
        name.to_owned(),
        format!("{name}_total"),
        name.strip_suffix("_bucket").unwrap_or(name).to_owned(),
        name.strip_suffix("_sum").unwrap_or(name).to_owned(),
        name.strip_suffix("_count").unwrap_or(name).to_owned(),
    ];
    candidates.iter().find_map(|c| documented.get(c))
}

#[test]
fn every_metric_is_documented_and_every_documented_metric_exists() {
    let documented = documented_metrics();
    assert!(documented.len() >= 10, "docs/metrics.md lists only {} metrics", documented.len());
    let mut used = BTreeSet::new();
    let mut undocumented = Vec::new();
    for (path, text) in rust_files() {
        // The generated gRPC descriptor is not a metric; unit tests of the
        // registry use made-up names.
        if path.starts_with("tidy/") || path.starts_with("proto/") {
            continue;
        }
        let text = text.split("#[cfg(test)]").next().unwrap_or_default();
        for name in metric_literals(text) {
            match stands_for(&name, &documented) {
                Some(d) => {
                    used.insert(d.clone());
                }
                None => undocumented.push(format!("{path}: {name}")),
            }
        }
    }
    fail_on(undocumented, "these metric names in the code are missing from docs/metrics.md");
    let series_of_used = |d: &String| {
        ["_bucket", "_sum", "_count"].iter().any(|sfx| d.strip_suffix(sfx).is_some_and(|base| used.contains(base)))
    };
    let stale: Vec<String> = documented.difference(&used).filter(|d| !series_of_used(d)).cloned().collect();
    fail_on(stale, "docs/metrics.md lists metrics that no code registers");
}

#[test]
fn every_error_code_is_in_the_protocol_doc() {
    let root = workspace_root();
    let wire = read(&root.join("gateway/src/wire.rs"));
    let start = wire.find("pub enum ErrorCode {").expect("gateway/src/wire.rs defines `pub enum ErrorCode`");
    let body = &wire[start..];
    let body = &body[..body.find("\n}").expect("the enum ends")];
    let codes: Vec<String> = body
        .lines()
        .skip(1)
        .map(str::trim)
        .filter(|l| !l.starts_with("//") && !l.starts_with('#') && !l.is_empty())
        .map(|l| snake_case(l.trim_end_matches(',')))
        .collect();
    assert!(codes.len() >= 10, "found only {} error codes", codes.len());
    let protocol = read(&root.join("docs/protocol.md"));
    let missing: Vec<String> = codes.into_iter().filter(|c| !protocol.contains(&format!("`{c}`"))).collect();
    fail_on(missing, "these error codes of gateway/src/wire.rs are missing from docs/protocol.md");
}

#[test]
fn the_map_stays_a_map() {
    let root = workspace_root();
    let map = read(&root.join("ARCHITECTURE.md"));
    let lines = map.lines().count();
    assert!(lines <= 260, "ARCHITECTURE.md has {lines} lines; move designs and proofs to docs/design/");
    let unlinked: Vec<String> = files_with_suffix(&root.join("docs/design"), ".md")
        .iter()
        .map(|p| relative(p))
        .filter(|p| !map.contains(p.as_str()))
        .collect();
    fail_on(unlinked, "these design documents are not linked from ARCHITECTURE.md");
}
