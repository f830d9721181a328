//! Repository rules as tests, in the manner of rust-analyzer's `tidy`: the
//! rules themselves are in `tests/tidy.rs`; this library only walks the
//! source tree. It reads files and never writes them.

use std::path::{Path, PathBuf};

/// The workspace root (the parent of this crate's folder).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// Folders never walked: build output, installed packages, VCS data.
const SKIP_DIRS: &[&str] = &["target", "node_modules", ".git", "results"];

/// Every file under `dir` (relative to the workspace root) whose name ends
/// with `suffix`, sorted, skipping build output and installed packages.
pub fn files_with_suffix(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    walk(dir, suffix, &mut out);
    out.sort();
    out
}

fn walk(dir: &Path, suffix: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() {
            if name.starts_with('.') || SKIP_DIRS.contains(&name.as_ref()) {
                continue;
            }
            walk(&path, suffix, out);
        } else if name.ends_with(suffix) {
            out.push(path);
        }
    }
}

/// The path of `path` relative to the workspace root, with `/` separators,
/// for messages and for rules that name folders.
pub fn relative(path: &Path) -> String {
    let root = workspace_root();
    path.strip_prefix(&root).unwrap_or(path).to_string_lossy().replace('\\', "/")
}

/// `CamelCase` → `snake_case` (the serde `rename_all = "snake_case"` rule for
/// unit variants).
pub fn snake_case(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Every `marquee_…` metric-like name (lowercase letters, digits and `_`)
/// that appears inside a string literal in `text`.
pub fn metric_literals(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("\"marquee_") {
        let name: String =
            rest[i + 1..].chars().take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_').collect();
        let after = &rest[i + 1 + name.len()..];
        if after.starts_with('"') && !name.ends_with('_') {
            out.push(name.clone());
        }
        rest = &rest[i + 1 + name.len()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_follows_serde() {
        assert_eq!(snake_case("BadRequest"), "bad_request");
        assert_eq!(snake_case("Overloaded"), "overloaded");
    }

    #[test]
    fn metric_literals_are_whole_string_literals() {
        let text = r#"let a = "marquee_connections"; let b = "marquee_holds_total"; let c = "marquee_x_{y}"; "#;
        assert_eq!(metric_literals(text), vec!["marquee_connections", "marquee_holds_total"]);
    }
}
