//! The admin HTTP listener (`Control_Listener { Listen "http://127.0.0.1:PORT" {} }`): the
//! same figures as the console, read-only, for machines and browsers.
//!
//! - `GET /metrics`: Prometheus text format (gauges refreshed from a snapshot first).
//! - `GET /api/status`: the whole [`Snapshot`] as JSON; `/api/queues`, `/api/binds`,
//!   `/api/mm7`: its parts.
//! - `GET /` (or `/status`): an HTML status page that reloads itself every 2 seconds.
//!
//! It listens on loopback only (config check refuses other addresses); with `Auth_Credentials`
//! in the Control_Listener, every request needs HTTP Basic credentials.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use hyper::StatusCode;

use crate::ops::status::{Snapshot, Sources};
use crate::route::binding_name;
use impulse_http::{HttpRequest, Reply, Service, reply};

pub struct Admin {
    pub status: Arc<Sources>,
    pub credentials: Arc<Vec<String>>,
    /// Domains a queue gauge was set for, so an emptied queue reads 0.
    gauge_domains: Mutex<Vec<String>>,
}

impl Admin {
    pub fn new(status: Arc<Sources>, credentials: Arc<Vec<String>>) -> Self {
        Admin {
            status,
            credentials,
            gauge_domains: Mutex::new(Vec::new()),
        }
    }
}

fn json<T: serde::Serialize>(value: &T) -> Reply {
    match serde_json::to_vec_pretty(value) {
        Ok(body) => reply(StatusCode::OK, "application/json", body),
        Err(e) => reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain",
            format!("{e}\n"),
        ),
    }
}

impl Service for Admin {
    fn admit(
        &self,
        _local: SocketAddr,
        peer: SocketAddr,
        authorization: Option<&str>,
    ) -> Option<(Reply, std::time::Duration)> {
        if self.credentials.is_empty() {
            return None;
        }
        crate::net::credentials::check_basic(
            peer,
            authorization,
            &self.credentials,
            "admin",
            || {
                let mut r = reply(
                    StatusCode::UNAUTHORIZED,
                    "text/plain",
                    "credentials required\n",
                );
                r.headers_mut().insert(
                    "WWW-Authenticate",
                    hyper::header::HeaderValue::from_static("Basic realm=\"impulse\""),
                );
                r
            },
        )
    }

    async fn call(&self, req: HttpRequest) -> Reply {
        if req.method != hyper::Method::GET && req.method != hyper::Method::HEAD {
            return reply(
                StatusCode::METHOD_NOT_ALLOWED,
                "text/plain",
                "the admin API only reads: GET\n",
            );
        }
        let known = [
            "/",
            "/status",
            "/metrics",
            "/api/status",
            "/api/queues",
            "/api/binds",
            "/api/mm7",
            "/api/cluster",
        ];
        if !known.contains(&req.path.as_str()) {
            return reply(
                StatusCode::NOT_FOUND,
                "text/plain",
                format!("no such page; try {}\n", known.join(" ")),
            );
        }
        if req.path == "/api/cluster" {
            return match crate::ops::cluster::nodes(&self.status.spool).await {
                None => json(&Vec::<crate::ops::cluster::NodeView>::new()),
                Some(Ok(nodes)) => json(&nodes),
                Some(Err(e)) => reply(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain",
                    format!("{e}\n"),
                ),
            };
        }
        let snap = match self.status.snapshot().await {
            Ok(s) => s,
            Err(e) => {
                return reply(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain",
                    format!("{e}\n"),
                );
            }
        };
        match req.path.as_str() {
            "/metrics" => {
                crate::ops::status::set_gauges(&self.status.cfg.get(), &snap, &self.gauge_domains);
                reply(
                    StatusCode::OK,
                    "text/plain; version=0.0.4; charset=utf-8",
                    crate::ops::metrics::render(),
                )
            }
            "/api/status" => json(&snap),
            "/api/queues" => json(&snap.queues),
            "/api/binds" => json(&snap.binds),
            "/api/mm7" => json(&snap.mm7),
            _ => reply(StatusCode::OK, "text/html; charset=utf-8", page(&snap)),
        }
    }
}

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5em;color:#1d2330;background:#f6f7f9}\
h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1.1em;margin:1.4em 0 .4em}\
.meta{color:#5b6475}.tiles{display:flex;flex-wrap:wrap;gap:.6em;margin-top:1em}\
.tile{background:#fff;border:1px solid #d8dce3;border-radius:6px;padding:.5em .9em;min-width:7em}\
.tile b{display:block;font-size:1.5em}.tile span{color:#5b6475;font-size:.85em}\
table{border-collapse:collapse;background:#fff;min-width:40em}\
th,td{border:1px solid #d8dce3;padding:.3em .6em;text-align:left}th{background:#eef0f4}\
td.n{text-align:right;font-variant-numeric:tabular-nums}.up{color:#1a7f37}.down{color:#b42318}";

fn tile(out: &mut String, id: &str, value: &str, label: &str) {
    let _ = write!(
        out,
        "<div class=\"tile\"><b id=\"{id}\">{value}</b><span>{label}</span></div>"
    );
}

/// The status page: totals, rates, queues, binds and MM7 domains, with ids a script (or a
/// test) can read.
pub fn page(s: &Snapshot) -> String {
    let mut o = String::with_capacity(8 * 1024);
    let _ = write!(
        o,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"refresh\" content=\"2\"><title>Impulse status</title><style>{STYLE}</style></head><body>\
<h1>Impulse {}</h1><div class=\"meta\">up <span id=\"uptime\">{}</span> s · configuration generation \
<span id=\"generation\">{}</span> · refreshes every 2 s</div><div class=\"tiles\">",
        esc(s.version),
        s.uptime_seconds,
        s.config_generation
    );
    let t = &s.totals;
    for (id, v, label) in [
        ("total-received", t.received, "messages received"),
        ("total-delivered", t.delivered, "recipients delivered"),
        ("total-deferred", t.deferred, "temporary failures"),
        ("total-failed", t.failed, "permanent failures"),
        ("total-active", t.active, "active queue"),
        ("total-delayed", t.delayed, "delayed queue"),
    ] {
        tile(&mut o, id, &v.to_string(), label);
    }
    for (id, v, label) in [
        ("rate-received", s.rates.received, "received /s"),
        ("rate-delivered", s.rates.delivered, "delivered /s"),
        ("rate-submitted", s.rates.submitted, "SMPP submitted /s"),
    ] {
        tile(&mut o, id, &format!("{v:.1}"), label);
    }
    o.push_str("</div><h2>Queues</h2><table id=\"queues\"><tr><th>binding/domain</th><th>protocol</th><th>active</th><th>delayed</th><th>quarantined</th><th>oldest (s)</th></tr>");
    if s.queues.is_empty() {
        o.push_str("<tr><td colspan=\"6\">nothing queued</td></tr>");
    }
    for q in &s.queues {
        let _ = write!(
            o,
            "<tr data-domain=\"{d}\"><td>{b}/{d}</td><td>{}</td><td class=\"n active\">{}</td><td class=\"n delayed\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            q.protocol,
            q.active,
            q.delayed,
            q.quarantined,
            q.oldest_seconds,
            d = esc(&q.domain),
            b = esc(binding_name(&q.binding)),
        );
    }
    o.push_str("</table><h2>SMPP binds</h2><table id=\"binds\"><tr><th>binding/domain</th><th>SMSC</th><th>type</th><th>state</th><th>window</th><th>submitted</th><th>received</th><th>reconnects</th></tr>");
    if s.binds.is_empty() {
        o.push_str("<tr><td colspan=\"8\">no binds</td></tr>");
    }
    for b in &s.binds {
        let (class, state) = if b.bound {
            ("up", format!("bound {}s", b.bound_seconds.unwrap_or(0)))
        } else {
            ("down", "connecting".to_string())
        };
        let _ = write!(
            o,
            "<tr data-domain=\"{d}\"><td>{bn}/{d}{p}</td><td>{}</td><td>{}</td><td class=\"state {class}\">{state}</td><td class=\"n window\">{}/{}</td><td class=\"n submitted\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(&b.smsc),
            b.bind_type,
            b.in_window,
            b.window,
            b.submitted,
            b.incoming,
            b.reconnects,
            d = esc(&b.domain),
            bn = esc(binding_name(&b.binding)),
            p = if b.persistent { " (persistent)" } else { "" },
        );
    }
    o.push_str("</table><h2>MM7</h2><table id=\"mm7\"><tr><th>domain</th><th>MMSC</th><th>in flight</th><th>submitted</th><th>accepted</th><th>deferred</th><th>refused</th><th>last status</th></tr>");
    if s.mm7.is_empty() {
        o.push_str("<tr><td colspan=\"8\">no MM7 traffic yet</td></tr>");
    }
    for m in &s.mm7 {
        let _ = write!(
            o,
            "<tr data-domain=\"{}\"><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            esc(&m.domain),
            esc(&m.domain),
            esc(&m.url),
            m.in_flight,
            m.submitted,
            m.accepted,
            m.deferred,
            m.refused,
            esc(&m.last_status)
        );
    }
    o.push_str("</table><p class=\"meta\">JSON: <a href=\"/api/status\">/api/status</a> · Prometheus: <a href=\"/metrics\">/metrics</a></p></body></html>\n");
    o
}
