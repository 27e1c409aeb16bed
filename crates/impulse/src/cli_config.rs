//! `impulse config check` and `impulse config eval`.

use std::path::Path;
use std::process::ExitCode;

use impulse_config::{Resolved, registry};

/// Exit status for a configuration that does not validate.
pub const EXIT_CONFIG: u8 = 2;

pub fn load_or_report(file: &Path) -> Option<impulse_config::Config> {
    // The configuration crate checks what it knows; the binary adds what only it knows.
    let loaded = impulse_config::load(file).and_then(|cfg| {
        let mut more = crate::mobile_logs::validate(&cfg);
        more.extend(crate::smpp_vendor::validate(&cfg));
        more.extend(crate::mm7_delivery::validate(&cfg));
        more.extend(crate::credentials::validate(&cfg));
        if more.is_empty() { Ok(cfg) } else { Err(more) }
    });
    match loaded {
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
        Some(_) => {
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
    let Some(def) = registry::option(option) else {
        let hint = registry::suggest(option, registry::OPTIONS.iter().map(|o| o.name))
            .map(|n| format!("; did you mean `{n}`?"))
            .unwrap_or_default();
        eprintln!("unknown option `{option}`{hint}");
        return ExitCode::from(EXIT_CONFIG);
    };
    match cfg.sending(domain, binding).effective(def.name) {
        Some((value, origin)) => {
            println!("{} = {value}    # from {origin}", def.name);
            ExitCode::SUCCESS
        }
        None => {
            println!("{} is not set    # no default", def.name);
            ExitCode::SUCCESS
        }
    }
}
