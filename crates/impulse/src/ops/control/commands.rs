//! Console commands (docs/reference/momentum.md §5.1 names): parsed from a line, answered in text.
//! They read the spool, the counters and the binds (through a status snapshot) and act
//! through the spool, the scheduler and the reloader; they never block the delivery path for
//! longer than one spool read.

use std::fmt::Write as _;

use impulse_config::Config;
use impulse_spool::{
    Destination, MessageId, QueueCounts, QueueQueries, RecipientState, Selection, now_millis,
};

use super::context::{Answer, Context, counts, error, ok, reschedule};
use super::fail::Target;
use crate::route::{binding_name, queue_label};

pub const HELP: &str = "\
summary [with-mobile]          counters since start and queue totals
active | delayed               queued recipients per domain
domain DOMAIN                  one domain's queue
showqueue [binding B] DOMAIN [LIMIT,OFFSET]
                               messages queued for a domain (default 100,0)
message details ID             a message's recipients, attempts and last response
message retry ID               try a message's queued recipients now
message fail ID                fail a message's queued recipients (bounced)
fail domain DOMAIN [quiet]     fail a domain's queued recipients (quiet: no bounces)
flush domain DOMAIN            try a domain's queued recipients now
reroute queue DOMAIN NEWDOMAIN deliver a domain's queued recipients as NEWDOMAIN's mail
binding flush BINDING [DOMAIN] try a binding's queued recipients now
binding fail BINDING [DOMAIN] [quiet]
                               fail a binding's queued recipients
binding summary [BINDING]      queued recipients per binding and domain
refresh domain DOMAIN          forget cached DNS answers and try the domain's queue now
show inbound                   listeners with their open connections and limits
show outbound                  SMPP binds (state, window, rates), MM7 domains, throttles
show cluster                   the nodes sharing a PostgreSQL spool: heartbeat, state, binds
config reload                  read the configuration file again and put it in force
config eval|get [domain D] [binding B] OPTION
                               an option's value in force and where it comes from
config set [domain D] [binding B] OPTION VALUE
                               change an option now, checked as a reload (until the next)
reopen logs                    open every log file again (after logrotate);
                               also LOGGER:INSTANCE reopen logs
paniclog [LINES]               the end of the paniclog (default 20 lines)
version                        Impulse's version
shutdown                       stop accepting, finish in-flight work, exit
help                           this list";

/// Commands Momentum has that Impulse does not: refused by name, with the reason.
const REFUSED: &[(&str, &str)] = &[
    ("mstore", "mstore (Riak) is not supported by Impulse"),
    (
        "config writeback",
        "Impulse never rewrites the configuration file: change the file and `config reload`",
    ),
];

pub async fn execute(ctx: &Context, line: &str) -> Answer {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        [] => ok(String::new()),
        ["help"] => ok(HELP.to_string()),
        ["version"] => ok(format!("Impulse {}", env!("CARGO_PKG_VERSION"))),
        ["summary"] => summary(ctx, false).await,
        ["summary", "with-mobile"] => summary(ctx, true).await,
        ["active"] => per_domain(ctx, |c| c.active, "active").await,
        ["delayed"] => per_domain(ctx, |c| c.delayed, "delayed").await,
        ["domain", d] => domain(ctx, d).await,
        ["showqueue", rest @ ..] => showqueue(ctx, rest).await,
        ["message", "details", id] => details(ctx, id).await,
        ["message", "retry", id] => match id.parse::<MessageId>() {
            Ok(m) => reschedule(ctx, Selection::Message(m), &format!("message {m}")).await,
            Err(_) => error(format!("`{id}` is not a message id")),
        },
        ["message", "fail", id] => match id.parse::<MessageId>() {
            Ok(m) => {
                let target = Target {
                    message: Some(m),
                    ..Target::default()
                };
                super::fail::fail(ctx, target, false).await
            }
            Err(_) => error(format!("`{id}` is not a message id")),
        },
        ["fail", "domain", d] => super::fail::fail(ctx, Target::domain(d), false).await,
        ["fail", "domain", d, "quiet"] => super::fail::fail(ctx, Target::domain(d), true).await,
        ["binding", "flush", b] => {
            let selection = Selection::Binding(super::binding::spool_name(b).to_string());
            reschedule(ctx, selection, &format!("binding {b}")).await
        }
        ["binding", "flush", b, d] => super::binding::flush(ctx, b, d).await,
        ["binding", "fail", b, rest @ ..] => {
            let (domain, quiet) = match rest {
                [] => (None, false),
                ["quiet"] => (None, true),
                [d] => (Some(*d), false),
                [d, "quiet"] => (Some(*d), true),
                _ => return error("usage: binding fail BINDING [DOMAIN] [quiet]"),
            };
            let target = Target {
                domain,
                binding: Some(super::binding::spool_name(b)),
                message: None,
            };
            super::fail::fail(ctx, target, quiet).await
        }
        ["refresh", "domain", d] => {
            ctx.smtp.clear_dns_cache();
            let flushed = reschedule(
                ctx,
                Selection::Domain(d.to_string()),
                &format!("domain {d}"),
            )
            .await;
            ok(format!("DNS cache cleared; {}", flushed.text))
        }
        ["binding", "summary"] => super::binding::summary(ctx, None).await,
        ["binding", "summary", b] => super::binding::summary(ctx, Some(b)).await,
        [module, "reopen", "logs"] if module.contains(':') => ok(reopen_logs().join("\n")),
        ["reroute", "queue", from, to] => reroute(ctx, from, to).await,
        ["flush", "domain", d] => {
            reschedule(
                ctx,
                Selection::Domain(d.to_string()),
                &format!("domain {d}"),
            )
            .await
        }
        ["show", "inbound"] => ok(crate::ops::inbound_view::render()),
        ["show", "cluster"] => match crate::ops::cluster::nodes(&ctx.spool).await {
            None => ok("this node's spool is its own (SQLite): no cluster".into()),
            Some(Ok(nodes)) => ok(crate::ops::cluster::render(
                &nodes,
                ctx.spool.node_name().unwrap_or_default(),
            )),
            Some(Err(e)) => error(format!("spool: {e}")),
        },
        ["show", "outbound"] => match ctx.status.snapshot().await {
            Ok(snap) => ok(super::outbound::render(&snap)
                + &super::outbound::render_throttles(&ctx.throttles.views())),
            Err(e) => error(e),
        },
        ["config", "reload"] => match ctx.reloader.reload().await {
            Ok(text) => ok(text),
            Err(text) => error(text),
        },
        ["config", "eval" | "get", rest @ ..] => super::config_cmd::eval(ctx, rest),
        ["config", "set", rest @ ..] => super::config_cmd::set(ctx, rest).await,
        ["reopen", "logs"] => {
            let lines = reopen_logs();
            ok(lines.join("\n"))
        }
        ["paniclog", rest @ ..] => paniclog(ctx, rest.first().and_then(|n| n.parse().ok())),
        ["shutdown"] => {
            ctx.shutdown.notify_one();
            ok("shutting down: no new connections; work in flight finishes or goes back to the spool".into())
        }
        _ => match refused(&words) {
            Some(why) => error(format!("`{line}` is not supported: {why}")),
            None => error(format!("unknown command `{line}`; see `help`")),
        },
    }
}

/// Why a Momentum command Impulse does not have is refused, when `words` is one.
fn refused(words: &[&str]) -> Option<&'static str> {
    REFUSED
        .iter()
        .find(|(c, _)| {
            let c: Vec<&str> = c.split_whitespace().collect();
            words.len() >= c.len() && words[..c.len()] == c[..]
        })
        .map(|(_, why)| *why)
}

/// Opens every log file again (console `reopen logs`, SIGUSR1); one line per file.
pub fn reopen_logs() -> Vec<String> {
    let results = impulse_telemetry::reopen_all();
    if results.is_empty() {
        return vec!["no log files are open".into()];
    }
    results
        .into_iter()
        .map(|(path, r)| match r {
            Ok(()) => {
                tracing::info!(path = %path.display(), "log file reopened");
                format!("reopened {}", path.display())
            }
            Err(e) => {
                tracing::error!(path = %path.display(), error = %e, "log file could not be reopened");
                format!("cannot reopen {}: {e}", path.display())
            }
        })
        .collect()
}

fn uptime(s: u64) -> String {
    format!(
        "{}d {:02}:{:02}:{:02}",
        s / 86400,
        s / 3600 % 24,
        s / 60 % 60,
        s % 60
    )
}

/// `summary [with-mobile]`, from the same snapshot as the admin API and the status page.
async fn summary(ctx: &Context, mobile: bool) -> Answer {
    let snap = match ctx.status.snapshot().await {
        Ok(s) => s,
        Err(e) => return error(e),
    };
    let cfg = ctx.cfg.get();
    let t = &snap.totals;
    let mut out = format!(
        "Impulse {} up {}",
        snap.version,
        uptime(snap.uptime_seconds)
    );
    for (label, value) in [
        ("Messages received:", t.received),
        ("Recipients delivered:", t.delivered),
        ("Temporary failures:", t.deferred),
        ("Permanent failures:", t.failed),
        ("Active queue:", t.active),
        ("Delayed queue:", t.delayed),
        ("Quarantined:", t.quarantined),
    ] {
        let _ = write!(out, "\n{label:<26}{value}");
    }
    if mobile {
        for (title, is) in [
            (
                "SMPP",
                crate::route::is_smpp_domain as fn(&Config, &str) -> bool,
            ),
            ("MM7", crate::route::is_mm7_domain),
        ] {
            let _ = write!(out, "\n{title} domains:");
            let mut any = false;
            for d in cfg.domain_names().into_iter().filter(|d| is(&cfg, d)) {
                any = true;
                let (a, l) = snap
                    .queues
                    .iter()
                    .filter(|q| q.domain == *d)
                    .fold((0, 0), |(a, l), q| (a + q.active, l + q.delayed));
                let _ = write!(out, "\n  {d:<32} active {a:>7}  delayed {l:>7}");
            }
            if !any {
                out.push_str(" none");
            }
        }
    }
    ok(out)
}

async fn per_domain(ctx: &Context, pick: fn(&QueueCounts) -> u64, what: &str) -> Answer {
    let all = match counts(ctx).await {
        Ok(c) => c,
        Err(e) => return e,
    };
    let lines: Vec<String> = all
        .iter()
        .filter(|q| pick(q) > 0)
        .map(|q| format!("{:>8} {}", pick(q), queue_label(&q.destination)))
        .collect();
    if lines.is_empty() {
        return ok(format!("no {what} recipients"));
    }
    ok(lines.join("\n"))
}

/// `binding/domain` as Momentum prints queues.
async fn domain(ctx: &Context, domain: &str) -> Answer {
    let all = match counts(ctx).await {
        Ok(c) => c,
        Err(e) => return e,
    };
    let domain = domain.to_ascii_lowercase();
    let mut out = format!("Domain {domain}");
    let mine: Vec<&QueueCounts> = all
        .iter()
        .filter(|q| q.destination.domain == domain)
        .collect();
    if mine.is_empty() {
        out.push_str("\n  nothing queued");
    }
    for q in mine {
        let _ = write!(
            out,
            "\n  {:<24} active {}  delayed {}  quarantined {}  oldest {}",
            queue_label(&q.destination),
            q.active,
            q.delayed,
            q.quarantined,
            timestamp(q.oldest)
        );
    }
    ok(out)
}

fn timestamp(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|_| ms.to_string())
}

/// `showqueue [binding B] DOMAIN [LIMIT,OFFSET]`.
async fn showqueue(ctx: &Context, args: &[&str]) -> Answer {
    let (binding, rest) = match args {
        ["binding", b, rest @ ..] => (b.to_string(), rest),
        rest => (String::new(), rest),
    };
    let (domain, page) = match rest {
        [d] => (d, None),
        [d, p] => (d, Some(*p)),
        _ => return error("usage: showqueue [binding B] DOMAIN [LIMIT,OFFSET]"),
    };
    let (limit, offset) = match page.map(|p| p.split_once(',')) {
        None => (100, 0),
        Some(Some((l, o))) => match (l.trim().parse(), o.trim().parse()) {
            (Ok(l), Ok(o)) => (l, o),
            _ => return error(format!("`{}` is not LIMIT,OFFSET", page.unwrap_or(""))),
        },
        Some(None) => return error(format!("`{}` is not LIMIT,OFFSET", page.unwrap_or(""))),
    };
    let binding = if binding == "default" {
        String::new()
    } else {
        binding
    };
    let dest = Destination {
        domain: domain.to_ascii_lowercase(),
        binding,
    };
    let rows = match ctx.spool.list(Some(&dest), limit, offset).await {
        Ok(r) => r,
        Err(e) => return error(format!("spool: {e}")),
    };
    if rows.is_empty() {
        return ok(format!("nothing queued for {}", queue_label(&dest)));
    }
    let now = now_millis();
    let mut out = String::new();
    for r in rows {
        let queue = match r.state {
            RecipientState::Leased => "active",
            RecipientState::Queued if r.due <= now => "active",
            RecipientState::Queued => "delayed",
            RecipientState::Quarantined => "quarantined",
        };
        if !out.is_empty() {
            out.push('\n');
        }
        let _ = write!(
            out,
            "[{queue}/{}] {} Created: {}\n  From: <{}>\n  To: <{}>",
            binding_name(&r.destination.binding),
            r.message,
            timestamp(r.received_at),
            r.sender,
            r.address
        );
        if r.attempts > 0 {
            let _ = write!(
                out,
                "\n  Attempts: {}  Next try: {}  Last: {}",
                r.attempts,
                timestamp(r.due),
                r.last_response.as_deref().unwrap_or("-")
            );
        }
    }
    ok(out)
}

async fn details(ctx: &Context, id: &str) -> Answer {
    let Ok(m) = id.parse::<MessageId>() else {
        return error(format!("`{id}` is not a message id"));
    };
    let rows = match ctx.spool.inspect(m).await {
        Ok(r) => r,
        Err(e) => return error(format!("spool: {e}")),
    };
    let Some(first) = rows.first() else {
        return error(format!(
            "message {m} is not in the spool (delivered, failed, or never received)"
        ));
    };
    let mut out = format!(
        "Message {m}\n  Received: {}\n  From: <{}>",
        timestamp(first.received_at),
        first.sender
    );
    let now = now_millis();
    for r in &rows {
        let state = match r.state {
            RecipientState::Leased => "being delivered".to_string(),
            RecipientState::Queued if r.due <= now => "due now".to_string(),
            RecipientState::Queued => format!("next try {}", timestamp(r.due)),
            RecipientState::Quarantined => "quarantined".to_string(),
        };
        let _ = write!(
            out,
            "\n  To: <{}> ({}) {state}, {} attempt(s), last: {}",
            r.address,
            queue_label(&r.destination),
            r.attempts,
            r.last_response.as_deref().unwrap_or("-")
        );
    }
    ok(out)
}

/// `reroute queue FROM TO`: FROM's queued recipients keep their addresses and are delivered
/// the way TO's mail is (its Gateway, routes or SMPP/MM7 settings), now.
async fn reroute(ctx: &Context, from: &str, to: &str) -> Answer {
    let now = now_millis();
    let to_dest = Destination {
        domain: to.to_ascii_lowercase(),
        binding: String::new(),
    };
    match ctx
        .spool
        .reroute(Selection::Domain(from.to_string()), to_dest.clone(), now)
        .await
    {
        Ok(moved) if moved.is_empty() => error(format!("domain {from}: nothing queued to reroute")),
        Ok(_) => {
            ctx.scheduler.queued(to_dest.clone(), now);
            tracing::info!(%from, %to, "console: queue rerouted");
            ok(format!(
                "domain {from}: queued recipients now go the way of {} (due now)",
                queue_label(&to_dest)
            ))
        }
        Err(e) => error(format!("spool: {e}")),
    }
}

fn paniclog(ctx: &Context, lines: Option<usize>) -> Answer {
    let Some(path) = &ctx.paniclog else {
        return error("no paniclog is configured (ec_logger { paniclog = ... })");
    };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            let n = lines.unwrap_or(20).min(all.len());
            if n == 0 {
                return ok("the paniclog is empty".into());
            }
            ok(all[all.len() - n..].join("\n"))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => ok("the paniclog is empty".into()),
        Err(e) => error(format!("{}: {e}", path.display())),
    }
}
