//! Loading a configuration with every check (the configuration crate's and the binary's), and
//! `impulse config check` / `impulse config eval`, which the console's `config eval` shares.

use std::path::Path;
use std::process::ExitCode;

use impulse_config::{Resolved, registry};

/// Exit status for a configuration that does not validate.
pub const EXIT_CONFIG: u8 = 2;

/// Parses and validates `file`: the configuration crate checks what it knows; the binary adds
/// what only it knows (log formats, vendor tables, MM7 targets, credentials, TLS files), on
/// the valid part of the same pass, so every error is reported in one round. Used at start
/// and by a reload.
pub fn load(file: &Path) -> Result<impulse_config::Config, Vec<impulse_config::Diagnostic>> {
    let (cfg, diags) = impulse_config::load_all(file);
    finish(cfg, diags)
}

/// The binary's own checks added to the configuration crate's.
pub fn finish(
    cfg: impulse_config::Config,
    mut diags: Vec<impulse_config::Diagnostic>,
) -> Result<impulse_config::Config, Vec<impulse_config::Diagnostic>> {
    diags.extend(crate::ops::mobile_logs::validate(&cfg));
    diags.extend(crate::outbound::smpp::vendor::validate(&cfg));
    diags.extend(crate::outbound::mm7::validate(&cfg));
    diags.extend(crate::net::credentials::validate(&cfg));
    diags.extend(crate::net::tls::validate(&cfg));
    if diags.is_empty() {
        Ok(cfg)
    } else {
        Err(diags)
    }
}

pub fn load_or_report(file: &Path) -> Option<impulse_config::Config> {
    match load(file) {
        Ok(cfg) => Some(cfg),
        Err(diags) => {
            for d in &diags {
                eprintln!("{d}");
            }
            eprintln!("{}: {} error(s)", file.display(), diags.len());
            None
        }
    }
}

pub fn check(file: &Path) -> ExitCode {
    match load_or_report(file) {
        Some(cfg) => {
            for w in crate::cli::config_warnings::warnings(&cfg) {
                eprintln!("{}: warning: {w}", file.display());
            }
            println!("{}: OK", file.display());
            ExitCode::SUCCESS
        }
        None => ExitCode::from(EXIT_CONFIG),
    }
}

pub fn eval(file: &Path, domain: Option<&str>, binding: Option<&str>, option: &str) -> ExitCode {
    let Some(cfg) = load_or_report(file) else {
        return ExitCode::from(EXIT_CONFIG);
    };
    match evaluate(&cfg, domain, binding, option) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

/// The effective value of `option` for a domain and binding, with the scope it comes from.
pub fn evaluate(
    cfg: &impulse_config::Config,
    domain: Option<&str>,
    binding: Option<&str>,
    option: &str,
) -> Result<String, String> {
    let Some(def) = registry::option(option) else {
        let hint = registry::suggest(option, registry::OPTIONS.iter().map(|o| o.name))
            .map(|n| format!("; did you mean `{n}`?"))
            .unwrap_or_default();
        return Err(format!("unknown option `{option}`{hint}"));
    };
    Ok(match cfg.sending(domain, binding).effective_def(def) {
        Some((value, origin)) => format!("{} = {value}    # from {origin}", def.name),
        None => format!("{} is not set    # no default", def.name),
    })
}
