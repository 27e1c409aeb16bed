//! Scope fallback (docs/reference/momentum.md §6.2): an option's value for a domain and binding,
//! or for a connection on a listener, and the scope it came from.
//!
//! Sending order, most specific first: binding::domain (which covers
//! binding_group::binding::domain, since a binding belongs to one group), binding_group::domain,
//! binding, binding_group, domain, global, registry default.
//! Receiving order: Listen::Peer, listener Peer, Listen, ESMTP_Listener, global, default; among
//! Peers the longest matching prefix wins.

use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::ast::{Span, Value};
use crate::model::{Config, Listener, Peer, Scope};
use crate::registry::{self, Opt, OptionDef};
use crate::types::{self, Route};

/// Where an effective value came from.
#[derive(Clone, Debug, PartialEq)]
pub enum Origin {
    Scope { label: String, span: Span },
    Default,
}

impl Origin {
    /// How specific the scope that set a value is, in the order sending options fall back:
    /// binding's domain 6, binding group's domain 5, binding 4, binding group 3, domain 2,
    /// global 1, default 0. Of two options that compete (a Gateway and Routes), the one set in
    /// the more specific scope decides.
    pub fn specificity(&self) -> u8 {
        match self {
            Origin::Default => 0,
            Origin::Scope { label, .. } => {
                let in_domain = label.contains(" domain \"");
                if label == "global" {
                    1
                } else if label.starts_with("domain ") {
                    2
                } else if label.starts_with("binding_group ") {
                    if in_domain { 5 } else { 3 }
                } else if label.starts_with("binding ") {
                    if in_domain { 6 } else { 4 }
                } else {
                    1
                }
            }
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Scope { label, span } => write!(f, "{label} ({span})"),
            Origin::Default => f.write_str("default"),
        }
    }
}

/// Something that can find the effective setting of an option.
pub trait Resolved {
    /// The value set in the most specific scope, with its origin; `None` when unset everywhere.
    fn find(&self, def: &'static OptionDef) -> Option<(&Value, Origin)>;

    /// The effective value (set or default) and its origin; `None` when unset with no default.
    fn effective(&self, opt: Opt) -> Option<(Cow<'_, Value>, Origin)> {
        self.effective_def(opt.def())
    }

    /// As [`Resolved::effective`], for an option named at run time (`config get`).
    fn effective_named(&self, name: &str) -> Option<(Cow<'_, Value>, Origin)> {
        self.effective_def(registry::option(name)?)
    }

    fn effective_def(&self, def: &'static OptionDef) -> Option<(Cow<'_, Value>, Origin)> {
        if let Some((v, origin)) = self.find(def) {
            return Some((Cow::Borrowed(v), origin));
        }
        def.default
            .map(|d| (Cow::Owned(Value::scalar(d)), Origin::Default))
    }

    fn scalar(&self, name: Opt) -> Option<String> {
        self.effective(name)
            .and_then(|(v, _)| v.as_scalar().map(str::to_owned))
    }

    fn bool(&self, name: Opt) -> bool {
        self.scalar(name)
            .and_then(|s| types::parse_bool(&s).ok())
            .unwrap_or(false)
    }

    fn u64(&self, name: Opt) -> u64 {
        self.scalar(name)
            .and_then(|s| types::parse_u64(&s).ok())
            .unwrap_or(0)
    }

    fn seconds(&self, name: Opt) -> Duration {
        self.scalar(name)
            .and_then(|s| types::parse_seconds(&s).ok())
            .unwrap_or_default()
    }

    fn size(&self, name: Opt) -> u64 {
        self.scalar(name)
            .and_then(|s| types::parse_size(&s).ok())
            .unwrap_or(0)
    }

    fn retries(&self, name: Opt) -> Option<u64> {
        self.scalar(name)
            .and_then(|s| types::parse_retries(&s).ok())
            .flatten()
    }

    fn cidrs(&self, name: Opt) -> Vec<types::Cidr> {
        self.effective(name)
            .and_then(|(v, _)| types::parse_cidrs(&v).ok())
            .unwrap_or_default()
    }

    fn routes(&self, name: Opt) -> Vec<Route> {
        self.effective(name)
            .and_then(|(v, _)| types::parse_routes(&v).ok())
            .unwrap_or_default()
    }
}

/// Sending options for mail to `domain` through `binding`.
pub struct Sending<'a> {
    cfg: &'a Config,
    domain: Option<String>,
    binding: Option<&'a str>,
}

impl Config {
    pub fn sending<'a>(&'a self, domain: Option<&str>, binding: Option<&'a str>) -> Sending<'a> {
        Sending {
            cfg: self,
            domain: domain.map(str::to_ascii_lowercase),
            binding,
        }
    }

    pub fn receiving(&self, listen: Option<SocketAddr>, peer: IpAddr) -> Receiving<'_> {
        Receiving {
            cfg: self,
            listener: self.esmtp_listener.as_ref().map(|l| (l, "ESMTP_Listener")),
            listen,
            peer,
        }
    }

    /// Receiving options for an HTTP request from `peer` to the HTTP_Listener's `listen`.
    pub fn http_receiving(&self, listen: Option<SocketAddr>, peer: IpAddr) -> Receiving<'_> {
        Receiving {
            cfg: self,
            listener: self.http_listener.as_ref().map(|l| (l, "HTTP_Listener")),
            listen,
            peer,
        }
    }

    /// Global options only.
    pub fn global(&self) -> Sending<'_> {
        Sending {
            cfg: self,
            domain: None,
            binding: None,
        }
    }
}

fn hit<'a>(
    scope: Option<&'a Scope>,
    def: &OptionDef,
    label: impl FnOnce() -> String,
) -> Option<(&'a Value, Origin)> {
    let e = scope?.get(def)?;
    Some((
        &e.value,
        Origin::Scope {
            label: label(),
            span: e.span.clone(),
        },
    ))
}

impl Resolved for Sending<'_> {
    fn find(&self, def: &'static OptionDef) -> Option<(&Value, Origin)> {
        let cfg = self.cfg;
        let d = self.domain.as_deref();
        let binding = self
            .binding
            .and_then(|b| cfg.bindings.get(b).map(|x| (b, x)));
        let group = binding
            .and_then(|(_, b)| b.group.as_deref())
            .and_then(|g| cfg.binding_groups.get(g).map(|x| (g, x)));
        if let (Some((bn, b)), Some(d)) = (binding, d)
            && let Some(found) = hit(b.domains.get(d), def, || {
                format!("binding \"{bn}\" domain \"{d}\"")
            })
        {
            return Some(found);
        }
        if let (Some((gn, g)), Some(d)) = (group, d)
            && let Some(found) = hit(g.domains.get(d), def, || {
                format!("binding_group \"{gn}\" domain \"{d}\"")
            })
        {
            return Some(found);
        }
        if let Some((bn, b)) = binding
            && let Some(found) = hit(Some(&b.scope), def, || format!("binding \"{bn}\""))
        {
            return Some(found);
        }
        if let Some((gn, g)) = group
            && let Some(found) = hit(Some(&g.scope), def, || format!("binding_group \"{gn}\""))
        {
            return Some(found);
        }
        if let Some(d) = d
            && let Some(found) = hit(cfg.domains.get(d), def, || format!("domain \"{d}\""))
        {
            return Some(found);
        }
        hit(Some(&cfg.global), def, || "global".to_string())
    }
}

/// Receiving options for a connection from `peer` to `listen`.
pub struct Receiving<'a> {
    cfg: &'a Config,
    /// The listener and its stanza name.
    listener: Option<(&'a Listener, &'static str)>,
    listen: Option<SocketAddr>,
    peer: IpAddr,
}

fn best_peer(peers: &[Peer], ip: IpAddr) -> Option<&Peer> {
    peers
        .iter()
        .filter(|p| p.cidr.contains(ip))
        .max_by_key(|p| p.cidr.prefix)
}

impl Resolved for Receiving<'_> {
    fn find(&self, def: &'static OptionDef) -> Option<(&Value, Origin)> {
        let cfg = self.cfg;
        if let Some((listener, name)) = self.listener {
            let listen = self
                .listen
                .and_then(|a| listener.listens.iter().find(|l| l.addr == a));
            if let Some(l) = listen
                && let Some(p) = best_peer(&l.peers, self.peer)
                && let Some(found) = hit(Some(&p.scope), def, || {
                    format!(
                        "Listen \"{}\" Peer \"{}/{}\"",
                        l.written, p.cidr.addr, p.cidr.prefix
                    )
                })
            {
                return Some(found);
            }
            if let Some(p) = best_peer(&listener.peers, self.peer)
                && let Some(found) = hit(Some(&p.scope), def, || {
                    format!("Peer \"{}/{}\"", p.cidr.addr, p.cidr.prefix)
                })
            {
                return Some(found);
            }
            if let Some(l) = listen
                && let Some(found) =
                    hit(Some(&l.scope), def, || format!("Listen \"{}\"", l.written))
            {
                return Some(found);
            }
            if let Some(found) = hit(Some(&listener.scope), def, || name.to_string()) {
                return Some(found);
            }
        }
        hit(Some(&cfg.global), def, || "global".to_string())
    }
}
