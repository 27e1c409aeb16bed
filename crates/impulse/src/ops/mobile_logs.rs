//! The mobile loggers of the configuration (`smpp_logger`, `smpp_bounce_logger`, `mms_logger`,
//! `mms_bounce_logger` stanzas): checked with the configuration (format macros, file modes;
//! Momentum's `jlog:` real-time feeds are refused by name), opened at start, and written to by
//! the SMPP and MM7 connectors, the SMPP MO handler and the MM7 server.

use std::path::PathBuf;
use std::time::Duration;

use impulse_config::{Config, Diagnostic, Logger, Opt, Span, names, registry};
use impulse_telemetry::{BounceRecord, Dialect, Format, LogFields, MobileLog, Record};

/// The option's value in a logger stanza, or `fallback`, or the registry's default.
fn value(logger: &Logger, name: &str, fallback: Option<&str>) -> Option<(String, Option<Span>)> {
    let def = registry::option(name)?;
    match logger.scope.get(def) {
        Some(e) => e
            .value
            .as_scalar()
            .map(|v| (v.to_string(), Some(e.span.clone()))),
        None => fallback.or(def.default).map(|d| (d.to_string(), None)),
    }
}

fn enabled(logger: &Logger, name: &str) -> bool {
    value(logger, name, None)
        .is_none_or(|(v, _)| impulse_config::types::parse_bool(&v).unwrap_or(true))
}

fn mode(logger: &Logger, name: &str) -> Result<u32, String> {
    let (v, _) = value(logger, name, None).unwrap_or(("0644".into(), None));
    u32::from_str_radix(v.trim_start_matches("0o"), 8)
        .map_err(|_| format!("{name} `{v}` is not an octal file mode"))
}

/// One of the four logger stanzas: its options and defaults.
struct Kind {
    dialect: Dialect,
    bounce: bool,
    file: Opt,
    default_file: &'static str,
    mode: Opt,
    /// Each record's option stem and default format, in the order of `Record::ALL` or
    /// `BounceRecord::ALL`.
    records: Vec<(&'static str, &'static str)>,
    /// The heartbeat format option, when the stanza writes heartbeats.
    heartbeat: Option<Opt>,
}

impl Kind {
    fn log(dialect: Dialect) -> Kind {
        Kind {
            dialect,
            bounce: false,
            file: names::LOGFILE,
            default_file: match dialect {
                Dialect::Smpp => "/var/log/ecelerity/smpplog.ec",
                Dialect::Mms => "/var/log/ecelerity/mmslog.ec",
            },
            mode: names::LOGMODE,
            records: Record::ALL.iter().map(|r| r.option(dialect)).collect(),
            // The MMS log has heartbeats, not the SMPP log: docs/reference/momentum.md §2.8, §2.6.
            heartbeat: (dialect == Dialect::Mms).then_some(names::LOG_HEARTBEAT_FORMAT),
        }
    }

    fn bounce_log(dialect: Dialect) -> Kind {
        Kind {
            dialect,
            bounce: true,
            file: names::BOUNCE_LOGFILE,
            default_file: match dialect {
                Dialect::Smpp => "/var/log/ecelerity/smppbouncelog.ec",
                Dialect::Mms => "/var/log/ecelerity/mmsbouncelog.ec",
            },
            mode: names::BOUNCE_LOGMODE,
            records: BounceRecord::ALL.iter().map(|r| r.option()).collect(),
            heartbeat: Some(names::LOG_BOUNCE_HEARTBEAT_FORMAT),
        }
    }

    /// The stanzas of this kind in the configuration.
    fn stanzas<'c>(&self, cfg: &'c Config) -> std::slice::Iter<'c, Logger> {
        match (self.dialect, self.bounce) {
            (Dialect::Smpp, false) => cfg.smpp_loggers.iter(),
            (Dialect::Smpp, true) => cfg.smpp_bounce_loggers.iter(),
            (Dialect::Mms, false) => cfg.mms_loggers.iter(),
            (Dialect::Mms, true) => cfg.mms_bounce_loggers.iter(),
        }
    }

    /// Every format option of the stanza with its default.
    fn formats(&self) -> impl Iterator<Item = (String, &'static str)> + '_ {
        self.records
            .iter()
            .map(|(stem, default)| (format!("{stem}_format"), *default))
            .chain(self.heartbeat.map(|h| (h.to_string(), "%t@M")))
    }

    fn open(&self, logger: &Logger) -> anyhow::Result<MobileLog> {
        let path = PathBuf::from(
            value(logger, self.file.name(), Some(self.default_file))
                .map(|(v, _)| v)
                .unwrap_or_default(),
        );
        let parse = |option: &str, default: &str| {
            let fmt = value(logger, option, Some(default)).map_or(default.to_string(), |(v, _)| v);
            Format::parse(&fmt, self.dialect).ok()
        };
        let formats = self
            .records
            .iter()
            .map(|(stem, default)| {
                enabled(logger, stem)
                    .then(|| parse(&format!("{stem}_format"), default))
                    .flatten()
            })
            .collect();
        let heartbeat = self.heartbeat.and_then(|option| {
            let every = value(logger, names::HEARTBEAT.name(), None)
                .and_then(|(v, _)| impulse_config::types::parse_seconds(&v).ok())
                .unwrap_or(Duration::from_secs(60));
            (!every.is_zero())
                .then(|| parse(option.name(), "%t@M").map(|f| (every, f)))
                .flatten()
        });
        let mode = mode(logger, self.mode.name()).map_err(anyhow::Error::msg)?;
        MobileLog::open(&path, mode, formats, heartbeat).map_err(|e| {
            anyhow::anyhow!(
                "opening {} \"{}\" ({}): {e}",
                self.file,
                logger.name,
                path.display()
            )
        })
    }
}

fn kinds() -> [Kind; 4] {
    [
        Kind::log(Dialect::Smpp),
        Kind::bounce_log(Dialect::Smpp),
        Kind::log(Dialect::Mms),
        Kind::bounce_log(Dialect::Mms),
    ]
}

/// Problems the configuration crate cannot see: macros, modes, `jlog:` paths.
pub fn validate(cfg: &Config) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let diag = |span: Option<Span>, message: String| Diagnostic { span, message };
    for kind in kinds() {
        for logger in kind.stanzas(cfg) {
            if let Some((path, span)) = value(logger, kind.file.name(), None)
                && path.starts_with("jlog:")
            {
                out.push(diag(span, format!("{} \"{path}\": jlog real-time feeds are not implemented yet in Impulse (write to a file)", kind.file)));
            }
            if let Err(e) = mode(logger, kind.mode.name()) {
                out.push(diag(
                    value(logger, kind.mode.name(), None).and_then(|(_, s)| s),
                    e,
                ));
            }
            for (name, default) in kind.formats() {
                if let Some((f, span)) = value(logger, &name, Some(default))
                    && let Err(e) = Format::parse(&f, kind.dialect)
                {
                    out.push(diag(span, format!("{name}: {e}")));
                }
            }
        }
    }
    out
}

/// Every log and bounce log of one protocol (SMPP or MMS) in the configuration.
#[derive(Clone, Default)]
pub struct MobileLogs {
    logs: Vec<MobileLog>,
    bounces: Vec<MobileLog>,
}

impl MobileLogs {
    pub fn open(cfg: &Config, dialect: Dialect) -> anyhow::Result<MobileLogs> {
        let open_all = |kind: Kind| -> anyhow::Result<Vec<MobileLog>> {
            kind.stanzas(cfg).map(|l| kind.open(l)).collect()
        };
        Ok(MobileLogs {
            logs: open_all(Kind::log(dialect))?,
            bounces: open_all(Kind::bounce_log(dialect))?,
        })
    }

    pub fn record(&self, kind: Record, fields: &LogFields) {
        for l in &self.logs {
            l.record(kind, fields);
        }
    }

    pub fn bounce(&self, kind: BounceRecord, fields: &LogFields) {
        for l in &self.bounces {
            l.bounce(kind, fields);
        }
    }

    /// A failed attempt in the log (P or T) and the bounce log (I or T).
    pub fn failed(&self, fields: &LogFields, permanent: bool) {
        if permanent {
            self.record(Record::PermFail, fields);
            self.bounce(BounceRecord::InBand, fields);
        } else {
            self.record(Record::TempFail, fields);
            self.bounce(BounceRecord::Transient, fields);
        }
    }

    pub fn flush(&self) {
        for l in self.logs.iter().chain(&self.bounces) {
            l.flush();
        }
    }
}

/// Whether a protocol's receptions go to the mainlog: SMTP and mail Impulse makes itself; SMS
/// and MMS only with `Mainlog_Mobile_Records` (they are in the smpp and mms logs).
pub fn mainlog_takes(cfg: &impulse_config::Config, mobile: bool) -> bool {
    use impulse_config::Resolved;
    !mobile
        || cfg
            .global()
            .bool(impulse_config::names::MAINLOG_MOBILE_RECORDS)
}
