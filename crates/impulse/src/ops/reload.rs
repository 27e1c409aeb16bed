//! Reloading the configuration without a restart (console `config reload`, SIGHUP): the file
//! is parsed and validated again off the runtime; a configuration with errors is refused with
//! them and the one in force stays. A good one is put in force at once: the next delivery
//! attempt, SMTP session and MM7 request read it; SMPP binds whose connection parameters
//! changed are retired (what they hold is answered first) and reopened with the new ones; new
//! persistent binds start. Mail in flight is never dropped: it finishes under the old
//! configuration or goes back to the spool.
//!
//! What is bound at start stays until a restart: listening sockets, the spool directory, log
//! paths and worker threads. A reload that changes them says so.

use impulse_config::overrides::Override;
use std::path::PathBuf;
use std::sync::Arc;

use impulse_config::{Config, ControlAddr, Resolved, names};

use crate::live::LiveConfig;
use crate::outbound::mm7::Mm7Connector;
use crate::outbound::smpp::SmppConnector;

pub struct Reloader {
    pub path: PathBuf,
    pub cfg: LiveConfig,
    pub smpp: Arc<SmppConnector>,
    pub mm7: Arc<Mm7Connector>,
    /// One reload at a time.
    busy: tokio::sync::Mutex<()>,
    /// Console `config set` changes in force on top of the file, until the next reload.
    overrides: std::sync::Mutex<Vec<Override>>,
}

/// What only a restart changes, as comparable text.
fn fixed_at_start(cfg: &Config) -> Vec<(&'static str, String)> {
    let listens = |l: &Option<impulse_config::Listener>| {
        l.as_ref()
            .map(|l| {
                l.listens
                    .iter()
                    .map(|x| x.addr.to_string())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
            .join(" ")
    };
    let control = cfg
        .control_listener
        .as_ref()
        .map(|c| {
            c.sockets
                .iter()
                .map(|s| match &s.addr {
                    ControlAddr::Unix(p) => p.display().to_string(),
                    ControlAddr::Tcp(a) => a.to_string(),
                    ControlAddr::Http(a) => format!("http://{a}"),
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    let loggers = [
        &cfg.loggers,
        &cfg.smpp_loggers,
        &cfg.smpp_bounce_loggers,
        &cfg.mms_loggers,
        &cfg.mms_bounce_loggers,
    ]
    .iter()
    .flat_map(|ls| {
        ls.iter().map(|l| {
            let options: Vec<String> = l
                .scope
                .entries()
                .iter()
                .map(|e| format!("{}={}", e.def.name, e.value))
                .collect();
            format!("{}[{}]", l.name, options.join(","))
        })
    })
    .collect::<Vec<_>>()
    .join(" ");
    let g = cfg.global();
    vec![
        ("ESMTP_Listener addresses", listens(&cfg.esmtp_listener)),
        ("HTTP_Listener addresses", listens(&cfg.http_listener)),
        ("Control_Listener sockets", control),
        (
            names::SPOOLBASE.name(),
            g.scalar(names::SPOOLBASE).unwrap_or_default(),
        ),
        ("loggers", loggers),
        (
            names::WORKER_THREADS.name(),
            g.u64(names::WORKER_THREADS).to_string(),
        ),
        (
            names::HOSTNAME.name(),
            g.scalar(names::HOSTNAME).unwrap_or_default(),
        ),
    ]
}

impl Reloader {
    pub fn new(
        path: PathBuf,
        cfg: LiveConfig,
        smpp: Arc<SmppConnector>,
        mm7: Arc<Mm7Connector>,
    ) -> Self {
        Reloader {
            path,
            cfg,
            smpp,
            mm7,
            busy: tokio::sync::Mutex::new(()),
            overrides: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Console `config set`: the file with this change (and the earlier `config set`s since
    /// the last reload) is checked and put in force as a reload does. The file is not
    /// changed; a reload (`config reload`, SIGHUP) reads it as it is again.
    pub async fn set(&self, o: Override) -> Result<String, String> {
        let _one = self.busy.lock().await;
        let mut overrides = self
            .overrides
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        overrides.retain(|p| {
            !(p.domain == o.domain
                && p.binding == o.binding
                && p.option.eq_ignore_ascii_case(&o.option))
        });
        overrides.push(o.clone());
        let text = self.put_in_force(overrides.clone()).await?;
        *self
            .overrides
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = overrides;
        Ok(format!(
            "{} = {} set{}{} until the next reload\n{text}",
            o.option,
            o.value,
            o.binding
                .as_ref()
                .map(|b| format!(" in binding {b}"))
                .unwrap_or_default(),
            o.domain
                .as_ref()
                .map(|d| format!(" for domain {d}"))
                .unwrap_or_default(),
        ))
    }

    /// Reloads; `Ok` says what changed, `Err` lists why the new file was refused. Earlier
    /// `config set` changes are dropped: the file is what it says.
    pub async fn reload(&self) -> Result<String, String> {
        let _one = self.busy.lock().await;
        let text = self.put_in_force(Vec::new()).await?;
        self.overrides
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
        Ok(text)
    }

    /// Loads the file with `overrides`, checks it and puts it in force.
    async fn put_in_force(&self, overrides: Vec<Override>) -> Result<String, String> {
        let path = self.path.clone();
        let loaded = tokio::task::spawn_blocking(move || {
            let (cfg, diags) = impulse_config::load_all_with(&path, &overrides);
            crate::cli::config::finish(cfg, diags)
        })
        .await
        .map_err(|e| format!("the reload failed: {e}"))?;
        let new = match loaded {
            Ok(c) => Arc::new(c),
            Err(diags) => {
                let mut text = format!(
                    "{} has {} error(s); the configuration in force is unchanged:",
                    self.path.display(),
                    diags.len()
                );
                for d in &diags {
                    text.push_str(&format!("\n{d}"));
                }
                tracing::error!("configuration reload refused: {text}");
                return Err(text);
            }
        };
        let old = self.cfg.get();
        let restart: Vec<&str> = fixed_at_start(&old)
            .into_iter()
            .zip(fixed_at_start(&new))
            .filter(|(a, b)| a.1 != b.1)
            .map(|(a, _)| a.0)
            .collect();
        let added: Vec<String> = new
            .domain_names()
            .into_iter()
            .filter(|d| !old.domain_names().contains(d))
            .map(str::to_string)
            .collect();
        let removed: Vec<String> = old
            .domain_names()
            .into_iter()
            .filter(|d| !new.domain_names().contains(d))
            .map(str::to_string)
            .collect();
        let generation = self.cfg.replace(new);
        self.mm7.reconfigured();
        let (retired, started) = self.smpp.reconfigured();
        let mut text = format!(
            "configuration {} reloaded (generation {generation})",
            self.path.display()
        );
        let list = |v: &[String]| {
            if v.is_empty() {
                "none".to_string()
            } else {
                v.join(", ")
            }
        };
        text.push_str(&format!(
            "\ndomains added: {}\ndomains removed: {}\nSMPP binds retired: {retired}, persistent binds started: {started}",
            list(&added),
            list(&removed)
        ));
        if !restart.is_empty() {
            text.push_str(&format!(
                "\nchanged but kept until a restart: {}",
                restart.join(", ")
            ));
        }
        tracing::info!("{}", text.replace('\n', "; "));
        Ok(text)
    }
}
