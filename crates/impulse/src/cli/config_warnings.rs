//! Warnings about risky but valid set-ups, shown by `impulse config check` and logged when
//! Impulse starts: a listener reachable from other hosts that relays for everyone or takes MM7
//! without credentials, and spool or log directories that other users may write to. They do not
//! stop Impulse (a closed test network may want exactly that); they make sure it is a choice.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use impulse_config::{Config, Resolved, names};

use crate::net::tls::ANY_PEER;

/// Every warning for `cfg`, as sentences.
pub fn warnings(cfg: &Config) -> Vec<String> {
    let mut out = Vec::new();
    let listens = |l: &Option<impulse_config::Listener>| -> Vec<SocketAddr> {
        l.iter()
            .flat_map(|l| l.listens.iter().map(|x| x.addr))
            .filter(|a| !a.ip().is_loopback())
            .collect()
    };
    for addr in listens(&cfg.esmtp_listener) {
        let r = cfg.receiving(Some(addr), ANY_PEER);
        if r.bool(names::OPEN_RELAY) || r.bool(names::ALWAYS_ALLOW) {
            out.push(format!(
                "ESMTP_Listener {addr}: reachable from other hosts and relays mail for everyone (Open_Relay or Always_Allow): an open relay"
            ));
        } else if r.cidrs(names::RELAY_HOSTS).iter().any(|c| {
            let all = |a: &str, b: &str| {
                c.contains(a.parse().expect("an address"))
                    && c.contains(b.parse().expect("an address"))
            };
            all("0.0.0.1", "255.255.255.254") || all("1::", "ffff::1")
        }) {
            out.push(format!(
                "ESMTP_Listener {addr}: Relay_Hosts covers every address: an open relay"
            ));
        }
    }
    if cfg.mm7_serv.is_some() {
        for addr in listens(&cfg.http_listener) {
            let r = cfg.http_receiving(Some(addr), ANY_PEER);
            if r.bool(names::ALWAYS_ALLOW) || r.effective(names::AUTH_CREDENTIALS).is_none() {
                out.push(format!(
                    "HTTP_Listener {addr}: reachable from other hosts and takes MM7 requests without credentials (set Auth_Credentials, or listen on the MMSC-facing address only behind a firewall)"
                ));
            }
            if r.bool(names::OPEN_RELAY) {
                out.push(format!(
                    "HTTP_Listener {addr}: Open_Relay lets any MM7 peer have mail sent to any domain"
                ));
            }
        }
    }
    let spool = cfg.global().scalar(names::SPOOLBASE).map(PathBuf::from);
    let logs = cfg.loggers.iter().flat_map(|l| {
        [names::MAINLOG, names::PANICLOG]
            .into_iter()
            .map(|o| o.def())
            .filter_map(|def| {
                l.scope
                    .get(def)
                    .and_then(|e| e.value.as_scalar())
                    .map(PathBuf::from)
            })
            .filter_map(|p| p.parent().map(Path::to_path_buf))
            .collect::<Vec<_>>()
    });
    for dir in spool.into_iter().chain(logs) {
        if let Some(w) = world_writable(&dir) {
            out.push(format!(
                "{}: writable by every user ({w}); other users could replace spool or log files",
                dir.display()
            ));
        }
    }
    out
}

/// The directory itself, or its nearest existing ancestor when it does not exist yet, if other
/// users may write to it (and it is not a sticky directory like /tmp).
fn world_writable(dir: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let existing = dir.ancestors().find(|d| d.exists())?;
    let mode = std::fs::metadata(existing).ok()?.permissions().mode();
    (mode & 0o002 != 0 && mode & 0o1000 == 0)
        .then(|| format!("{} has mode {:o}", existing.display(), mode & 0o7777))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Config {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.conf");
        std::fs::write(&path, text).unwrap();
        impulse_config::load(&path).unwrap()
    }

    #[test]
    fn open_listeners_and_writable_directories_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let spool = dir.path().join("spool");
        std::fs::create_dir(&spool).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&spool, std::fs::Permissions::from_mode(0o777)).unwrap();
        let cfg = parse(&format!(
            "Spoolbase = \"{}\"\n\
             ESMTP_Listener {{ Listen \"0.0.0.0:2525\" {{ Open_Relay = true }} Listen \"127.0.0.1:2526\" {{ Open_Relay = true }} }}\n\
             HTTP_Listener {{ Listen \"0.0.0.0:8080\" {{ }} }}\n\
             mm7_serv {{ mm7_vasp_uri_paths = (\"/mm7/\") }}\n",
            spool.display()
        ));
        let w = warnings(&cfg);
        assert_eq!(w.len(), 3, "{w:#?}");
        assert!(w[0].contains("0.0.0.0:2525") && w[0].contains("open relay"));
        assert!(w[1].contains("0.0.0.0:8080") && w[1].contains("without credentials"));
        assert!(w[2].contains("writable by every user"));
    }

    #[test]
    fn a_guarded_set_up_has_no_warning() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = parse(&format!(
            "Spoolbase = \"{}\"\n\
             ESMTP_Listener {{ Listen \"0.0.0.0:2525\" {{ }} }}\n\
             HTTP_Listener {{ Listen \"0.0.0.0:8080\" {{ }} Auth_Credentials = ( \"mmsc:s3cret\" ) }}\n\
             mm7_serv {{ mm7_vasp_uri_paths = (\"/mm7/\") }}\n",
            dir.path().join("spool").display()
        ));
        assert_eq!(warnings(&cfg), Vec::<String>::new());
    }
}
