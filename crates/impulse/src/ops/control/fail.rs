//! `fail domain D [quiet]`, `binding fail B [D] [quiet]` and `message fail ID`: gives a fail order (see `fail_orders`), makes
//! the recipients it names due at once, waits for them to leave the spool through the
//! ordinary delivery path (logged, and bounced unless `quiet`), then withdraws the order.

use std::time::Duration;

use impulse_spool::{
    MessageId, QueueQueries, RecipientInfo, RecipientState, Selection, now_millis,
};

use super::context::{Answer, Context, error, ok};
use crate::outbound::fail_orders::Order;

/// How long the command waits for the named recipients; one in the middle of an attempt when
/// the order is given finishes that attempt and stays queued if it failed temporarily.
const WAIT: Duration = Duration::from_secs(30);

async fn named(
    ctx: &Context,
    what: &Target<'_>,
    before: i64,
) -> Result<Vec<RecipientInfo>, String> {
    let (domain, binding, message) = (what.domain, what.binding, what.message);
    let rows = match message {
        Some(m) => ctx.spool.inspect(m).await,
        None => ctx.spool.list(None, usize::MAX >> 1, 0).await,
    }
    .map_err(|e| format!("spool: {e}"))?;
    Ok(rows
        .into_iter()
        .filter(|r| {
            r.state != RecipientState::Quarantined
                && r.received_at <= before
                && domain.is_none_or(|d| r.destination.domain.eq_ignore_ascii_case(d))
                && binding.is_none_or(|b| r.destination.binding == b)
        })
        .collect())
}

/// What a fail command names: a domain, a binding (and perhaps one of its domains) or a
/// message.
#[derive(Clone, Copy, Default)]
pub struct Target<'a> {
    pub domain: Option<&'a str>,
    pub binding: Option<&'a str>,
    pub message: Option<MessageId>,
}

impl<'a> Target<'a> {
    pub fn domain(d: &'a str) -> Self {
        Target {
            domain: Some(d),
            ..Target::default()
        }
    }
}

pub async fn fail(ctx: &Context, target: Target<'_>, quiet: bool) -> Answer {
    let before = now_millis();
    let (domain, binding, message) = (target.domain, target.binding, target.message);
    let what = match (domain, binding, message) {
        (_, _, Some(m)) => format!("message {m}"),
        (d, Some(b), None) => {
            let b = crate::route::binding_name(b);
            match d {
                Some(d) => format!("binding {b} domain {d}"),
                None => format!("binding {b}"),
            }
        }
        (Some(d), None, None) => format!("domain {d}"),
        (None, None, None) => return error("nothing to fail"),
    };
    let first = match named(ctx, &target, before).await {
        Ok(r) => r,
        Err(e) => return error(e),
    };
    if first.is_empty() {
        return error(format!("{what}: nothing queued to fail"));
    }
    let mut domains: Vec<String> = first.iter().map(|r| r.destination.domain.clone()).collect();
    domains.sort();
    domains.dedup();
    let ids: Vec<u64> = domains
        .iter()
        .map(|d| {
            ctx.fail_orders.give(Order {
                id: 0,
                domain: d.clone(),
                message,
                binding: binding.map(str::to_string),
                before,
                quiet,
            })
        })
        .collect();
    let selection = match (message, binding, domain) {
        (Some(m), _, _) => Selection::Message(m),
        (None, Some(b), Some(d)) => Selection::Destination(impulse_spool::Destination {
            domain: d.to_ascii_lowercase(),
            binding: b.to_string(),
        }),
        (None, Some(b), None) => Selection::Binding(b.to_string()),
        (None, None, _) => Selection::Domain(domains[0].clone()),
    };
    match ctx.spool.reschedule(selection, before).await {
        Ok(dests) => {
            for d in dests {
                ctx.scheduler.queued(d, before);
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "fail: reschedule failed; waiting for the next attempts")
        }
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut left = first.len();
    while left > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if let Ok(rows) = named(ctx, &target, before).await {
            left = rows.len();
        }
    }
    for id in ids {
        ctx.fail_orders.withdraw(id);
    }
    let failed = first.len().saturating_sub(left);
    let mut text = format!(
        "{what}: {failed} recipient(s) failed{}",
        if quiet {
            " quietly (no bounce)"
        } else {
            "; the senders get bounces"
        }
    );
    if left > 0 {
        text.push_str(&format!(
            "\n{left} recipient(s) were being delivered and stay queued; run the command again"
        ));
    }
    tracing::info!("console: {}", text.replace('\n', "; "));
    ok(text)
}
