//! The validated configuration: parsed items checked against the registry (every error at
//! once, each with file:line:col) and put in the scopes of docs/reference/momentum.md §6.2/§6.3.
//! Validation is pure: it opens no socket and no file besides the configuration itself.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::ast::{Diagnostic, Item, Setting, Span, Stanza, Value};
use crate::registry::{self, OptionDef, ScopeKind, Status};
use crate::types::{self, Cidr};

/// One option set in one scope.
#[derive(Clone, Debug)]
pub struct Entry {
    pub def: &'static OptionDef,
    pub value: Value,
    pub span: Span,
}

/// The options set directly in one stanza.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    entries: Vec<Entry>,
}

impl Scope {
    pub fn get(&self, def: &OptionDef) -> Option<&Entry> {
        self.entries.iter().find(|e| std::ptr::eq(e.def, def))
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }
}

#[derive(Clone, Debug, Default)]
pub struct Binding {
    pub scope: Scope,
    /// `domain` stanzas inside this binding (lower-case names).
    pub domains: BTreeMap<String, Scope>,
    /// The binding_group this binding was declared in, if any.
    pub group: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct BindingGroup {
    pub scope: Scope,
    pub domains: BTreeMap<String, Scope>,
}

#[derive(Clone, Debug)]
pub struct Peer {
    pub cidr: Cidr,
    pub scope: Scope,
}

#[derive(Clone, Debug)]
pub struct Listen {
    /// The address as written (`":25"`, `"127.0.0.1:2525"`).
    pub written: String,
    pub addr: SocketAddr,
    pub scope: Scope,
    pub peers: Vec<Peer>,
}

#[derive(Clone, Debug, Default)]
pub struct Listener {
    pub scope: Scope,
    pub listens: Vec<Listen>,
    pub peers: Vec<Peer>,
}

/// Where the console listens: a Unix socket path or a loopback TCP address; or, written
/// `http://127.0.0.1:PORT`, where the read-only admin HTTP API, `/metrics` and the status page
/// are served (an Impulse addition).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ControlAddr {
    Unix(std::path::PathBuf),
    Tcp(SocketAddr),
    Http(SocketAddr),
}

#[derive(Clone, Debug)]
pub struct ControlSocket {
    /// As written (`"/var/run/impulse/control"`, `"127.0.0.1:2025"`).
    pub written: String,
    pub addr: ControlAddr,
}

/// The `Control_Listener` stanza: the console's sockets and their options.
#[derive(Clone, Debug, Default)]
pub struct ControlListener {
    pub scope: Scope,
    pub sockets: Vec<ControlSocket>,
}

#[derive(Clone, Debug)]
pub struct Logger {
    pub name: String,
    pub scope: Scope,
}

/// A whole validated configuration.
#[derive(Clone, Debug, Default)]
pub struct Config {
    pub global: Scope,
    /// Global `domain` stanzas, by lower-case name.
    pub domains: BTreeMap<String, Scope>,
    /// Bindings by their case-sensitive name, wherever they were declared.
    pub bindings: BTreeMap<String, Binding>,
    pub binding_groups: BTreeMap<String, BindingGroup>,
    pub esmtp_listener: Option<Listener>,
    /// The HTTP listener MM7 requests from the MMSC arrive on.
    pub http_listener: Option<Listener>,
    /// The `mm7_serv` stanza.
    pub mm7_serv: Option<Scope>,
    /// The console's listener.
    pub control_listener: Option<ControlListener>,
    pub loggers: Vec<Logger>,
    pub smpp_loggers: Vec<Logger>,
    pub smpp_bounce_loggers: Vec<Logger>,
    pub mms_loggers: Vec<Logger>,
    pub mms_bounce_loggers: Vec<Logger>,
}

impl Config {
    /// Whether a `domain` stanza for `domain` itself (global, or inside a binding or
    /// binding_group) sets `option`; a value inherited from an outer scope does not count.
    pub fn domain_stanza_sets(&self, domain: &str, option: crate::Opt) -> bool {
        let def = option.def();
        let d = domain.to_ascii_lowercase();
        let sets = |domains: &BTreeMap<String, Scope>| {
            domains.get(&d).is_some_and(|s| s.get(def).is_some())
        };
        sets(&self.domains)
            || self.bindings.values().any(|b| sets(&b.domains))
            || self.binding_groups.values().any(|g| sets(&g.domains))
    }

    /// Whether any sending scope (global, a domain, a binding or binding group, or a domain inside
    /// one) sets `option`: when none does, a look-up per delivery can be skipped.
    pub fn sets_anywhere(&self, option: crate::Opt) -> bool {
        let def = option.def();
        let in_domains =
            |domains: &BTreeMap<String, Scope>| domains.values().any(|s| s.get(def).is_some());
        self.global.get(def).is_some()
            || in_domains(&self.domains)
            || self
                .bindings
                .values()
                .any(|b| b.scope.get(def).is_some() || in_domains(&b.domains))
            || self
                .binding_groups
                .values()
                .any(|g| g.scope.get(def).is_some() || in_domains(&g.domains))
    }

    /// Whether a `domain` stanza names `domain` in any scope: mail to it is accepted from anyone.
    pub fn is_configured_domain(&self, domain: &str) -> bool {
        let d = domain.to_ascii_lowercase();
        self.domains.contains_key(&d)
            || self.bindings.values().any(|b| b.domains.contains_key(&d))
            || self
                .binding_groups
                .values()
                .any(|g| g.domains.contains_key(&d))
    }

    /// Every domain a `domain` stanza names, in any scope, sorted, once each.
    pub fn domain_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .domains
            .keys()
            .chain(self.bindings.values().flat_map(|b| b.domains.keys()))
            .chain(self.binding_groups.values().flat_map(|g| g.domains.keys()))
            .map(String::as_str)
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }
}

/// Validates parsed items into a [`Config`], or returns every problem found.
pub fn validate(items: &[Item]) -> Result<Config, Vec<Diagnostic>> {
    let (cfg, diags) = validate_all(items);
    if diags.is_empty() {
        Ok(cfg)
    } else {
        Err(diags)
    }
}

/// Validates parsed items into the [`Config`] of everything that is valid, and every problem
/// found: checks made outside this crate can run on the same pass, so an operator sees every
/// error of a file at once.
pub fn validate_all(items: &[Item]) -> (Config, Vec<Diagnostic>) {
    let mut v = Validator { diags: Vec::new() };
    let mut cfg = Config::default();
    for item in items {
        match item {
            Item::Setting(s) => v.setting(&mut cfg.global, s, ScopeKind::Global),
            Item::Stanza(st) => v.top_stanza(&mut cfg, st),
        }
    }
    (cfg, v.diags)
}

struct Validator {
    diags: Vec<Diagnostic>,
}

impl Validator {
    fn err(&mut self, span: &Span, msg: impl Into<String>) {
        self.diags.push(Diagnostic::at(span, msg));
    }

    fn setting(&mut self, scope: &mut Scope, s: &Setting, kind: ScopeKind) {
        let Some(def) = registry::option(&s.name) else {
            let hint = registry::suggest(&s.name, registry::OPTIONS.iter().map(|o| o.name))
                .map(|n| format!("; did you mean `{n}`?"))
                .unwrap_or_default();
            self.err(&s.span, format!("unknown option `{}`{hint}", s.name));
            return;
        };
        if let Status::NotYet(why) = def.status {
            self.err(
                &s.span,
                format!(
                    "option `{}` is not implemented yet in Impulse ({why})",
                    def.name
                ),
            );
            return;
        }
        if !def.scopes.contains(&kind) {
            let allowed: Vec<&str> = def.scopes.iter().map(|k| k.name()).collect();
            self.err(
                &s.span,
                format!(
                    "option `{}` cannot be set in {} scope (allowed in: {})",
                    def.name,
                    kind.name(),
                    allowed.join(", ")
                ),
            );
            return;
        }
        if let Err(e) = types::check(def.kind, &s.value) {
            self.err(&s.span, format!("option `{}`: {e}", def.name));
            return;
        }
        if def.name == "Delivery_Method" {
            // MM7 is the 3.5.6+ way to make an MM7 domain (the connector reads it).
            let m = s.value.as_scalar().unwrap_or_default().to_ascii_lowercase();
            if m != "esmtp" && m != "smtp" && m != "mm7" {
                self.err(&s.span, format!("Delivery_Method `{m}` is not implemented yet in Impulse (ESMTP, SMTP and MM7 are)"));
                return;
            }
        }
        if let Some(prev) = scope.get(def) {
            let first = prev.span.clone();
            self.err(
                &s.span,
                format!(
                    "option `{}` is set twice in this scope (first at {first})",
                    def.name
                ),
            );
            return;
        }
        scope.entries.push(Entry {
            def,
            value: s.value.clone(),
            span: s.span.clone(),
        });
    }

    /// Checks a stanza keyword against the registry; `None` when it cannot be used here.
    fn known_stanza(
        &mut self,
        st: &Stanza,
        allowed: &[&str],
        parent: &str,
    ) -> Option<&'static str> {
        let Some(def) = registry::stanza(&st.kind) else {
            let hint = registry::suggest(&st.kind, registry::STANZAS.iter().map(|s| s.kind))
                .map(|n| format!("; did you mean `{n}`?"))
                .unwrap_or_default();
            self.err(&st.span, format!("unknown stanza `{}`{hint}", st.kind));
            return None;
        };
        if let Status::NotYet(why) = def.status {
            self.err(
                &st.span,
                format!(
                    "stanza `{}` is not implemented yet in Impulse ({why})",
                    def.kind
                ),
            );
            return None;
        }
        if !allowed.iter().any(|a| a.eq_ignore_ascii_case(def.kind)) {
            self.err(
                &st.span,
                format!("stanza `{}` cannot appear inside {parent}", def.kind),
            );
            return None;
        }
        match (&st.name, def.named) {
            (None, true) => {
                self.err(
                    &st.span,
                    format!(
                        "stanza `{}` needs a name: {} \"name\" {{ }}",
                        def.kind, def.kind
                    ),
                );
                None
            }
            (Some(n), false) => {
                self.err(
                    &st.span,
                    format!("stanza `{}` takes no name (found \"{n}\")", def.kind),
                );
                None
            }
            _ => Some(def.kind),
        }
    }

    fn top_stanza(&mut self, cfg: &mut Config, st: &Stanza) {
        let allowed = [
            "domain",
            "binding",
            "binding_group",
            "ESMTP_Listener",
            "ec_logger",
            "smpp_logger",
            "smpp_bounce_logger",
            "mms_logger",
            "mms_bounce_logger",
            "Control_Listener",
            "smpp",
            "HTTP_Listener",
            "mm7",
            "mm7_serv",
            "httpsrv",
        ];
        let Some(kind) = self.known_stanza(st, &allowed, "the global scope") else {
            return;
        };
        let name = st.name.clone().unwrap_or_default();
        match kind {
            "domain" => {
                let scope = cfg.domains.entry(name.to_ascii_lowercase()).or_default();
                self.leaf(scope, st, ScopeKind::Domain);
            }
            "binding" => self.binding(cfg, st, None),
            "binding_group" => {
                let mut group = cfg.binding_groups.remove(&name).unwrap_or_default();
                for item in &st.items {
                    match item {
                        Item::Setting(s) => {
                            self.setting(&mut group.scope, s, ScopeKind::BindingGroup)
                        }
                        Item::Stanza(inner) => {
                            let Some(k) =
                                self.known_stanza(inner, &["binding", "domain"], "binding_group")
                            else {
                                continue;
                            };
                            if k == "binding" {
                                self.binding(cfg, inner, Some(&name));
                            } else {
                                let d = inner.name.clone().unwrap_or_default().to_ascii_lowercase();
                                self.leaf(
                                    group.domains.entry(d).or_default(),
                                    inner,
                                    ScopeKind::Domain,
                                );
                            }
                        }
                    }
                }
                cfg.binding_groups.insert(name, group);
            }
            "ESMTP_Listener" => {
                let mut listener = cfg.esmtp_listener.take().unwrap_or_default();
                self.listener(&mut listener, st, ScopeKind::EsmtpListener);
                cfg.esmtp_listener = Some(listener);
            }
            "Control_Listener" => {
                let mut control = cfg.control_listener.take().unwrap_or_default();
                self.control_listener(&mut control, st);
                cfg.control_listener = Some(control);
            }
            "ec_logger" => {
                let mut scope = Scope::default();
                self.leaf(&mut scope, st, ScopeKind::EcLogger);
                cfg.loggers.push(Logger { name, scope });
            }
            "smpp_logger" => {
                let mut scope = Scope::default();
                self.leaf(&mut scope, st, ScopeKind::SmppLogger);
                cfg.smpp_loggers.push(Logger { name, scope });
            }
            "smpp_bounce_logger" => {
                let mut scope = Scope::default();
                self.leaf(&mut scope, st, ScopeKind::SmppBounceLogger);
                cfg.smpp_bounce_loggers.push(Logger { name, scope });
            }
            "mms_logger" => {
                let mut scope = Scope::default();
                self.leaf(&mut scope, st, ScopeKind::MmsLogger);
                cfg.mms_loggers.push(Logger { name, scope });
            }
            "mms_bounce_logger" => {
                let mut scope = Scope::default();
                self.leaf(&mut scope, st, ScopeKind::MmsBounceLogger);
                cfg.mms_bounce_loggers.push(Logger { name, scope });
            }
            "smpp" => {
                // Only checked: SMPP is built in (see `debug_level`).
                self.leaf(&mut Scope::default(), st, ScopeKind::SmppModule);
            }
            "mm7" | "httpsrv" => self.leaf(&mut Scope::default(), st, ScopeKind::Mm7Module),
            "mm7_serv" => {
                let mut scope = cfg.mm7_serv.take().unwrap_or_default();
                self.leaf(&mut scope, st, ScopeKind::Mm7Serv);
                cfg.mm7_serv = Some(scope);
            }
            "HTTP_Listener" => {
                let mut listener = cfg.http_listener.take().unwrap_or_default();
                self.listener(&mut listener, st, ScopeKind::HttpListener);
                cfg.http_listener = Some(listener);
            }
            _ => unreachable!("top-level stanza list and match arms agree"),
        }
    }

    fn binding(&mut self, cfg: &mut Config, st: &Stanza, group: Option<&str>) {
        let name = st.name.clone().unwrap_or_default();
        if name.contains(char::is_whitespace) || name.contains(':') {
            self.err(
                &st.span,
                format!("binding name \"{name}\" may not contain spaces or colons"),
            );
            return;
        }
        let binding = cfg.bindings.entry(name.clone()).or_default();
        if let Some(g) = group {
            match &binding.group {
                Some(prev) if prev != g => {
                    let msg = format!("binding \"{name}\" is already in binding_group \"{prev}\"");
                    self.err(&st.span, msg);
                    return;
                }
                _ => binding.group = Some(g.to_string()),
            }
        }
        let mut scope = std::mem::take(&mut binding.scope);
        let mut domains = std::mem::take(&mut binding.domains);
        for item in &st.items {
            match item {
                Item::Setting(s) => self.setting(&mut scope, s, ScopeKind::Binding),
                Item::Stanza(inner) => {
                    if self.known_stanza(inner, &["domain"], "binding").is_some() {
                        let d = inner.name.clone().unwrap_or_default().to_ascii_lowercase();
                        self.leaf(domains.entry(d).or_default(), inner, ScopeKind::Domain);
                    }
                }
            }
        }
        let binding = cfg.bindings.get_mut(&name).expect("inserted above");
        binding.scope = scope;
        binding.domains = domains;
    }

    /// A stanza that holds only options.
    fn leaf(&mut self, scope: &mut Scope, st: &Stanza, kind: ScopeKind) {
        for item in &st.items {
            match item {
                Item::Setting(s) => self.setting(scope, s, kind),
                Item::Stanza(inner) => {
                    let what =
                        format!("{} \"{}\"", st.kind, st.name.as_deref().unwrap_or_default());
                    self.err(
                        &inner.span,
                        format!("stanza `{}` cannot appear inside {what}", inner.kind),
                    );
                }
            }
        }
    }

    fn listener(&mut self, listener: &mut Listener, st: &Stanza, kind: ScopeKind) {
        for item in &st.items {
            match item {
                Item::Setting(s) => self.setting(&mut listener.scope, s, kind),
                Item::Stanza(inner) => {
                    let Some(k) = self.known_stanza(inner, &["Listen", "Peer"], kind.name()) else {
                        continue;
                    };
                    if k == "Peer" {
                        if let Some(p) = self.peer(inner) {
                            listener.peers.push(p);
                        }
                    } else if let Some(l) = self.listen(inner) {
                        listener.listens.push(l);
                    }
                }
            }
        }
    }

    /// `Listen` stanzas name a Unix socket path (starting with `/`), a loopback TCP address, or
    /// `http://` and a loopback address for the admin HTTP listener. TCP needs
    /// `Auth_Credentials`, since anyone on the host can connect to it; the HTTP listener only
    /// reads, and asks for Basic credentials when `Auth_Credentials` is set.
    fn control_listener(&mut self, control: &mut ControlListener, st: &Stanza) {
        let mut tcp = Vec::new();
        for item in &st.items {
            match item {
                Item::Setting(s) => self.setting(&mut control.scope, s, ScopeKind::ControlListener),
                Item::Stanza(inner) => {
                    if self
                        .known_stanza(inner, &["Listen"], "Control_Listener")
                        .is_none()
                    {
                        continue;
                    }
                    self.leaf(&mut Scope::default(), inner, ScopeKind::Listen);
                    let written = inner.name.clone().unwrap_or_default();
                    let addr = if written.starts_with('/') {
                        ControlAddr::Unix(written.clone().into())
                    } else if let Some(http) = written.strip_prefix("http://") {
                        match parse_listen_addr(http.trim_end_matches('/')) {
                            Ok(a) if a.ip().is_loopback() => ControlAddr::Http(a),
                            Ok(_) => {
                                self.err(&inner.span, format!("Control_Listener Listen \"{written}\": the admin HTTP listener listens on a loopback address only (it has no TLS yet)"));
                                continue;
                            }
                            Err(e) => {
                                self.err(&inner.span, format!("Control_Listener Listen: {e}"));
                                continue;
                            }
                        }
                    } else {
                        match parse_listen_addr(&written) {
                            Ok(a) if a.ip().is_loopback() => {
                                tcp.push(inner.span.clone());
                                ControlAddr::Tcp(a)
                            }
                            Ok(_) => {
                                self.err(&inner.span, format!("Control_Listener Listen \"{written}\": the console listens on a Unix socket or a loopback address only (it has no TLS yet)"));
                                continue;
                            }
                            Err(e) => {
                                self.err(&inner.span, format!("Control_Listener Listen: {e} (or a Unix socket path starting with `/`)"));
                                continue;
                            }
                        }
                    };
                    control.sockets.push(ControlSocket { written, addr });
                }
            }
        }
        let has_credentials = registry::option("Auth_Credentials")
            .is_some_and(|def| control.scope.get(def).is_some());
        if !has_credentials {
            for span in tcp {
                self.err(&span, "Control_Listener: a TCP Listen needs Auth_Credentials (a Unix socket is guarded by its file mode)");
            }
        }
    }

    fn listen(&mut self, st: &Stanza) -> Option<Listen> {
        let written = st.name.clone().unwrap_or_default();
        let addr = match parse_listen_addr(&written) {
            Ok(a) => a,
            Err(e) => {
                self.err(&st.span, e);
                return None;
            }
        };
        let mut listen = Listen {
            written,
            addr,
            scope: Scope::default(),
            peers: Vec::new(),
        };
        for item in &st.items {
            match item {
                Item::Setting(s) => self.setting(&mut listen.scope, s, ScopeKind::Listen),
                Item::Stanza(inner) => {
                    if self.known_stanza(inner, &["Peer"], "Listen").is_some()
                        && let Some(p) = self.peer(inner)
                    {
                        listen.peers.push(p);
                    }
                }
            }
        }
        Some(listen)
    }

    fn peer(&mut self, st: &Stanza) -> Option<Peer> {
        let name = st.name.clone().unwrap_or_default();
        let cidr = match Cidr::parse(&name) {
            Ok(c) => c,
            Err(e) => {
                self.err(&st.span, format!("Peer: {e}"));
                return None;
            }
        };
        let mut scope = Scope::default();
        self.leaf(&mut scope, st, ScopeKind::Peer);
        Some(Peer { cidr, scope })
    }
}

/// Momentum listen addresses: `":25"` and `"*:25"` (all IPv4), `"[::]:25"` / `"[*]:25"` (all
/// IPv6), `"127.0.0.1:2525"`, `"[::1]:2525"`.
pub fn parse_listen_addr(text: &str) -> Result<SocketAddr, String> {
    let bad = || {
        format!(
            "Listen \"{text}\" is not an address:port (\":25\", \"127.0.0.1:2525\", \"[::1]:25\")"
        )
    };
    if text.starts_with('/') {
        return Err(format!(
            "Listen \"{text}\": Unix-socket listeners are not implemented yet in Impulse"
        ));
    }
    let (host, port) = text.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let ip = match host {
        "" | "*" => "0.0.0.0".parse().expect("literal"),
        "[*]" | "[::]" => "::".parse().expect("literal"),
        h => h
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .map_err(|_| bad())?,
    };
    Ok(SocketAddr::new(ip, port))
}
