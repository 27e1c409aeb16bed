//! The listeners' TLS as configured: server configurations (built by `impulse_tls`) from
//! `TLS_Certificate` / `TLS_Key`, cached per configuration generation, and the checks
//! `config check` makes on TLS and AUTH settings before anything listens.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use impulse_config::{Config, Diagnostic, Receiving, Resolved, names};
use impulse_tls::server_config;
use rustls::ServerConfig;

/// The peer address that resolves a Listen scope's own options (no Peer scope matches it).
pub const ANY_PEER: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

/// Where a listener's certificate and key are, if it has both.
pub fn cert_paths(r: &Receiving<'_>) -> Option<(PathBuf, PathBuf)> {
    let cert = r.scalar(names::TLS_CERTIFICATE)?;
    let key = r.scalar(names::TLS_KEY)?;
    Some((PathBuf::from(cert), PathBuf::from(key)))
}

/// Server configurations already built, by file pair, for one configuration generation: a
/// `config reload` reads the files again (how a renewed certificate is taken up).
#[derive(Default)]
pub struct ServerConfigs {
    built: Mutex<(u64, Built)>,
}

/// Certificate and key paths → the configuration built from them.
type Built = HashMap<(PathBuf, PathBuf), Arc<ServerConfig>>;

impl ServerConfigs {
    /// The configuration for this pair of files; `None` (and an error in the log) when they no
    /// longer load, in which case the listener offers no TLS rather than failing connections.
    pub fn get(&self, generation: u64, paths: &(PathBuf, PathBuf)) -> Option<Arc<ServerConfig>> {
        let mut built = self.built.lock().unwrap_or_else(|e| e.into_inner());
        if built.0 != generation {
            *built = (generation, HashMap::new());
        }
        if let Some(c) = built.1.get(paths) {
            return Some(c.clone());
        }
        match server_config(&paths.0, &paths.1) {
            Ok(c) => {
                built.1.insert(paths.clone(), c.clone());
                Some(c)
            }
            Err(e) => {
                tracing::error!(error = %e, "listener TLS unavailable");
                None
            }
        }
    }
}

/// Checks every Listen of the ESMTP and HTTP listeners: a certificate needs its key and both
/// must load; `TLS = required`, `Use_SSL` and `Enable_Authentication` need a certificate;
/// `Enable_Authentication` needs `Auth_Credentials`.
pub fn validate(cfg: &Config) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    let mut err = |m: String| {
        diags.push(Diagnostic {
            span: None,
            message: m,
        })
    };
    let listens = |l: &Option<impulse_config::Listener>| -> Vec<SocketAddr> {
        l.iter()
            .flat_map(|l| l.listens.iter().map(|x| x.addr))
            .collect()
    };
    let smtp = listens(&cfg.esmtp_listener)
        .into_iter()
        .map(|a| (true, cfg.receiving(Some(a), ANY_PEER), a));
    let http = listens(&cfg.http_listener)
        .into_iter()
        .map(|a| (false, cfg.http_receiving(Some(a), ANY_PEER), a));
    for (is_smtp, r, addr) in smtp.chain(http) {
        let kind = if is_smtp {
            "ESMTP_Listener"
        } else {
            "HTTP_Listener"
        };
        let at = format!("{kind} Listen \"{addr}\"");
        let cert = r.scalar(names::TLS_CERTIFICATE);
        let key = r.scalar(names::TLS_KEY);
        match (&cert, &key) {
            (Some(c), Some(k)) => {
                if let Err(e) = server_config(Path::new(c), Path::new(k)) {
                    err(format!("{at}: {e}"));
                }
            }
            (Some(_), None) => err(format!("{at}: TLS_Certificate is set without TLS_Key")),
            (None, Some(_)) => err(format!("{at}: TLS_Key is set without TLS_Certificate")),
            (None, None) => {}
        }
        if !is_smtp {
            continue;
        }
        let has_cert = cert.is_some() && key.is_some();
        let policy = r
            .scalar(names::TLS)
            .unwrap_or_default()
            .to_ascii_lowercase();
        if policy == "required" && !has_cert {
            err(format!(
                "{at}: TLS = required needs TLS_Certificate and TLS_Key"
            ));
        }
        if r.bool(names::USE_SSL) && !has_cert {
            err(format!("{at}: Use_SSL needs TLS_Certificate and TLS_Key"));
        }
        if r.bool(names::ENABLE_AUTHENTICATION) {
            if !has_cert || policy == "no" {
                err(format!(
                    "{at}: Enable_Authentication needs TLS (AUTH is offered only over TLS)"
                ));
            }
            if r.effective(names::AUTH_CREDENTIALS).is_none() {
                err(format!(
                    "{at}: Enable_Authentication needs Auth_Credentials"
                ));
            }
        }
    }
    diags
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_pair(dir: &Path) -> (PathBuf, PathBuf) {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, made.cert.pem()).unwrap();
        std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
        (cert, key)
    }

    #[test]
    fn a_reload_reads_renewed_certificate_files() {
        let tmp = tempfile::tempdir().unwrap();
        let paths = write_pair(tmp.path());
        let configs = ServerConfigs::default();
        let first = configs.get(1, &paths).expect("loads");
        write_pair(tmp.path()); // renewed on disk
        assert!(
            Arc::ptr_eq(&first, &configs.get(1, &paths).unwrap()),
            "kept until a reload"
        );
        let after_reload = configs.get(2, &paths).unwrap();
        assert!(
            !Arc::ptr_eq(&first, &after_reload),
            "read again at the next generation"
        );
        std::fs::write(&paths.1, "not a key").unwrap();
        assert!(
            configs.get(3, &paths).is_none(),
            "a broken file offers no TLS"
        );
        assert!(
            server_config(&paths.0, &paths.1)
                .unwrap_err()
                .contains("TLS_Key")
        );
    }
}
