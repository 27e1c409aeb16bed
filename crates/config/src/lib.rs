//! Momentum-compatible configuration (`ecelerity.conf`): parse with spans, validate against the
//! option registry (every error at once, with file:line:col), resolve values through the scope
//! fallback. Three steps, as Vector and Postfix do it: parse, validate, then the binary builds.
#![forbid(unsafe_code)]

pub mod ast;
pub mod compat;
mod load;
mod model;
pub mod overrides;
mod parse;
pub mod registry;
mod resolve;
pub mod types;

use std::path::Path;

pub use ast::{Diagnostic, Span, Value};
pub use load::{load_file, load_str};
pub use model::{
    Binding, BindingGroup, Config, ControlAddr, ControlListener, ControlSocket, Entry, Listen,
    Listener, Logger, Peer, Scope, parse_listen_addr,
};
pub use parse::parse_str;
pub use resolve::{Origin, Receiving, Resolved, Sending};

/// Reads, includes and validates a configuration file.
pub fn load(path: &Path) -> Result<Config, Vec<Diagnostic>> {
    let (items, mut diags) = load_file(path);
    match model::validate(&items) {
        Ok(cfg) if diags.is_empty() => Ok(cfg),
        Ok(_) => Err(diags),
        Err(more) => {
            diags.extend(more);
            Err(diags)
        }
    }
}

/// Reads, includes and validates a configuration file, keeping what is valid: the
/// configuration of every valid setting, and every problem found (empty when the file is
/// good). For checks outside this crate that should report in the same round.
pub fn load_all(path: &Path) -> (Config, Vec<Diagnostic>) {
    let (items, mut diags) = load_file(path);
    let (cfg, more) = model::validate_all(&items);
    diags.extend(more);
    (cfg, diags)
}

/// As [`load_all`], with console `config set` overrides applied to the file's items first (an
/// override that cannot be applied is reported as an error of the `console` file).
pub fn load_all_with(path: &Path, overrides: &[overrides::Override]) -> (Config, Vec<Diagnostic>) {
    let (mut items, mut diags) = load_file(path);
    for o in overrides {
        if let Err(e) = overrides::apply(&mut items, o) {
            diags.push(Diagnostic {
                span: None,
                message: format!("console: {e}"),
            });
        }
    }
    let (cfg, more) = model::validate_all(&items);
    diags.extend(more);
    (cfg, diags)
}

/// As [`load_all`], for configuration text as if read from `path`.
pub fn from_str_all(path: &Path, text: &str) -> (Config, Vec<Diagnostic>) {
    let (items, mut diags) = load_str(path, text);
    let (cfg, more) = model::validate_all(&items);
    diags.extend(more);
    (cfg, diags)
}

/// Validates configuration text as if read from `path` (includes resolve relative to it).
pub fn from_str(path: &Path, text: &str) -> Result<Config, Vec<Diagnostic>> {
    let (items, mut diags) = load_str(path, text);
    match model::validate(&items) {
        Ok(cfg) if diags.is_empty() => Ok(cfg),
        Ok(_) => Err(diags),
        Err(more) => {
            diags.extend(more);
            Err(diags)
        }
    }
}

/// Option names used by the rest of Impulse, generated from the registry: a typo is a compile
/// error, not a silent default.
pub use registry::{Opt, names};
