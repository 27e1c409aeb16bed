//! The SMPP loggers of the configuration (`smpp_logger`, `smpp_bounce_logger` stanzas): checked
//! with the configuration (format macros, file modes; Momentum's `jlog:` real-time feeds are
//! refused by name), opened at start, and written to by the SMPP connector and MO handler.

use std::path::PathBuf;
use std::time::Duration;

use impulse_config::{Config, Diagnostic, Logger, registry};
use impulse_telemetry::{BounceRecord, Format, SmppLog, SmppRecord, SmsFields};

/// The option's value in a logger stanza, or its default.
fn value(logger: &Logger, name: &str) -> Option<(String, Option<impulse_config::Span>)> {
    let def = registry::option(name)?;
    match logger.scope.get(def) {
        Some(e) => e
            .value
            .as_scalar()
            .map(|v| (v.to_string(), Some(e.span.clone()))),
        None => def.default.map(|d| (d.to_string(), None)),
    }
}

fn enabled(logger: &Logger, name: &str) -> bool {
    value(logger, name).is_none_or(|(v, _)| impulse_config::types::parse_bool(&v).unwrap_or(true))
}

fn mode(logger: &Logger, name: &str) -> Result<u32, String> {
    let (v, _) = value(logger, name).unwrap_or(("0644".into(), None));
    u32::from_str_radix(v.trim_start_matches("0o"), 8)
        .map_err(|_| format!("{name} `{v}` is not an octal file mode"))
}

struct Kind {
    file: &'static str,
    mode: &'static str,
    records: Vec<(&'static str, &'static str)>,
}

fn kinds() -> [Kind; 2] {
    [
        Kind {
            file: "Logfile",
            mode: "Logmode",
            records: SmppRecord::ALL.iter().map(|r| r.option()).collect(),
        },
        Kind {
            file: "Bounce_Logfile",
            mode: "Bounce_Logmode",
            records: BounceRecord::ALL.iter().map(|r| r.option()).collect(),
        },
    ]
}

fn stanzas(cfg: &Config) -> [&[Logger]; 2] {
    [&cfg.smpp_loggers, &cfg.smpp_bounce_loggers]
}

/// Problems the configuration crate cannot see: macros, modes, `jlog:` paths.
pub fn validate(cfg: &Config) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let diag = |span: Option<impulse_config::Span>, message: String| Diagnostic { span, message };
    for (kind, loggers) in kinds().iter().zip(stanzas(cfg)) {
        for logger in loggers {
            if let Some((path, span)) = value(logger, kind.file)
                && path.starts_with("jlog:")
            {
                out.push(diag(span, format!("{} \"{path}\": jlog real-time feeds are not implemented yet in Impulse (write to a file)", kind.file)));
            }
            if let Err(e) = mode(logger, kind.mode) {
                out.push(diag(value(logger, kind.mode).and_then(|(_, s)| s), e));
            }
            let mut formats: Vec<String> = kind
                .records
                .iter()
                .map(|(stem, _)| format!("{stem}_format"))
                .collect();
            formats.push("Log_Bounce_Heartbeat_Format".into());
            for name in formats {
                if let Some((f, span)) = value(logger, &name)
                    && let Err(e) = Format::parse(&f)
                {
                    out.push(diag(span, format!("{name}: {e}")));
                }
            }
        }
    }
    out
}

/// Every SMPP log and bounce log of the configuration.
#[derive(Clone, Default)]
pub struct SmppLogs {
    logs: Vec<SmppLog>,
    bounces: Vec<SmppLog>,
}

impl SmppLogs {
    pub fn open(cfg: &Config) -> anyhow::Result<SmppLogs> {
        let mut all = [Vec::new(), Vec::new()];
        for ((kind, loggers), opened) in kinds().iter().zip(stanzas(cfg)).zip(all.iter_mut()) {
            for logger in loggers {
                let path =
                    PathBuf::from(value(logger, kind.file).map(|(v, _)| v).unwrap_or_default());
                let formats = kind
                    .records
                    .iter()
                    .map(|(stem, default)| {
                        let fmt = value(logger, &format!("{stem}_format"))
                            .map_or(default.to_string(), |(v, _)| v);
                        enabled(logger, stem)
                            .then(|| Format::parse(&fmt).ok())
                            .flatten()
                    })
                    .collect();
                let heartbeat = (kind.file == "Bounce_Logfile")
                    .then(|| {
                        let every = value(logger, "Heartbeat")
                            .and_then(|(v, _)| impulse_config::types::parse_seconds(&v).ok())
                            .unwrap_or(Duration::from_secs(60));
                        let fmt = value(logger, "Log_Bounce_Heartbeat_Format")
                            .map_or("%t@M".to_string(), |(v, _)| v);
                        Format::parse(&fmt).ok().map(|f| (every, f))
                    })
                    .flatten();
                let mode = mode(logger, kind.mode).map_err(anyhow::Error::msg)?;
                let log = SmppLog::open(&path, mode, formats, heartbeat).map_err(|e| {
                    anyhow::anyhow!(
                        "opening {} \"{}\" ({}): {e}",
                        kind.file,
                        logger.name,
                        path.display()
                    )
                })?;
                opened.push(log);
            }
        }
        let [logs, bounces] = all;
        Ok(SmppLogs { logs, bounces })
    }

    pub fn record(&self, kind: SmppRecord, fields: &SmsFields) {
        for l in &self.logs {
            l.record(kind, fields);
        }
    }

    pub fn bounce(&self, kind: BounceRecord, fields: &SmsFields) {
        for l in &self.bounces {
            l.bounce(kind, fields);
        }
    }

    pub fn flush(&self) {
        for l in self.logs.iter().chain(&self.bounces) {
            l.flush();
        }
    }
}
