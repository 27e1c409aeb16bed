//! Reading configuration files from disk and expanding `include` / `readonly_include`
//! (docs/reference/momentum.md §6.1): paths are relative to the including file; a directory
//! includes its files in lexical order, skipping dot-files and subdirectories.

use std::path::{Path, PathBuf};

use crate::ast::{Diagnostic, Item, Span, Stanza};
use crate::parse::parse_str;

/// Include nesting beyond this is reported as a probable include cycle.
const MAX_INCLUDE_DEPTH: usize = 16;

/// Reads `path` and every file it includes. Returns the expanded items and all diagnostics.
pub fn load_file(path: &Path) -> (Vec<Item>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let items = match std::fs::read_to_string(path) {
        Ok(text) => expand_file(path, &text, 0, &mut diags),
        Err(e) => {
            diags.push(Diagnostic {
                span: None,
                message: format!("cannot read {}: {e}", path.display()),
            });
            Vec::new()
        }
    };
    (items, diags)
}

/// Parses `text` as if read from `path` (used by tests and embedded configurations).
pub fn load_str(path: &Path, text: &str) -> (Vec<Item>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let items = expand_file(path, text, 0, &mut diags);
    (items, diags)
}

fn expand_file(path: &Path, text: &str, depth: usize, diags: &mut Vec<Diagnostic>) -> Vec<Item> {
    let (items, mut parse_diags) = parse_str(&path.display().to_string(), text);
    diags.append(&mut parse_diags);
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    expand_items(items, &dir, depth, diags)
}

fn expand_items(
    items: Vec<Item>,
    dir: &Path,
    depth: usize,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Item> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Item::Setting(s)
                if s.name.eq_ignore_ascii_case("include")
                    || s.name.eq_ignore_ascii_case("readonly_include") =>
            {
                let Some(target) = s.value.as_scalar() else {
                    diags.push(Diagnostic::at(&s.span, "include takes one path"));
                    continue;
                };
                if depth >= MAX_INCLUDE_DEPTH {
                    diags.push(Diagnostic::at(
                        &s.span,
                        format!(
                            "includes nested deeper than {MAX_INCLUDE_DEPTH} (an include cycle?)"
                        ),
                    ));
                    continue;
                }
                out.extend(include(target, dir, &s.span, depth, diags));
            }
            Item::Stanza(st) => {
                let items = expand_items(st.items, dir, depth, diags);
                out.push(Item::Stanza(Stanza { items, ..st }));
            }
            other => out.push(other),
        }
    }
    out
}

fn include(
    target: &str,
    dir: &Path,
    span: &Span,
    depth: usize,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Item> {
    let target = target.strip_prefix("file://").unwrap_or(target);
    let path: PathBuf = if Path::new(target).is_absolute() {
        target.into()
    } else {
        dir.join(target)
    };
    let files = if path.is_dir() {
        match std::fs::read_dir(&path) {
            Ok(entries) => {
                let mut files: Vec<PathBuf> = entries
                    .filter_map(Result::ok)
                    .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                    .map(|e| e.path())
                    .filter(|p| p.is_file())
                    .collect();
                files.sort();
                files
            }
            Err(e) => {
                diags.push(Diagnostic::at(
                    span,
                    format!("cannot read directory {}: {e}", path.display()),
                ));
                return Vec::new();
            }
        }
    } else {
        vec![path]
    };
    let mut out = Vec::new();
    for file in files {
        match std::fs::read_to_string(&file) {
            Ok(text) => out.extend(expand_file(&file, &text, depth + 1, diags)),
            Err(e) => diags.push(Diagnostic::at(
                span,
                format!("cannot include {}: {e}", file.display()),
            )),
        }
    }
    out
}
