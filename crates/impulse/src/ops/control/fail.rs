//! `fail domain D [quiet]`, `binding fail B [D] [quiet]` and `message fail ID`: gives a fail order (see `fail_orders`), makes
//! the recipients it names due at once, waits for them to leave the spool through the
//! ordinary delivery path (logged, and bounced unless `quiet`), then withdraws the order. On a
//! shared spool the order is in force on every node (`fail_orders`).

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

/// With a shared spool: writes the orders into the database for every node, and waits until
/// the other nodes have read them (they read every second) before the recipients are made due.
/// An order expires by itself a while after the command's wait.
async fn give_to_cluster(
    ctx: &Context,
    domains: &[String],
    target: Target<'_>,
    before: i64,
    quiet: bool,
) -> Result<Vec<i64>, String> {
    let Some(pg) = ctx.spool.shared() else {
        return Ok(Vec::new());
    };
    let mut ids = Vec::new();
    for d in domains {
        let order = impulse_spool::SharedFailOrder {
            id: 0,
            domain: d.to_ascii_lowercase(),
            message: target.message.map(|m| m.0),
            binding: target.binding.map(str::to_string),
            before,
            quiet,
        };
        let expires_in = 2 * WAIT.as_millis() as i64;
        match pg.give_fail_order(&order, expires_in).await {
            Ok(id) => ids.push(id),
            Err(e) => {
                for id in ids {
                    let _ = pg.withdraw_fail_order(id).await;
                }
                return Err(format!(
                    "the fail order could not be given to the cluster: {e}"
                ));
            }
        }
    }
    tokio::time::sleep(CLUSTER_READS_ORDERS).await;
    Ok(ids)
}

/// Longer than the other nodes take to read the cluster's fail orders (every second).
const CLUSTER_READS_ORDERS: Duration = Duration::from_millis(2500);

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
    let shared = match give_to_cluster(ctx, &domains, target, before, quiet).await {
        Ok(ids) => ids,
        Err(e) => {
            for id in ids {
                ctx.fail_orders.withdraw(id);
            }
            return error(e);
        }
    };
    let selection = match (message, binding, domain) {
        (Some(m), _, _) => Selection::Message(m),
        (None, Some(b), Some(d)) => Selection::Destination(impulse_spool::Destination {
            domain: d.to_ascii_lowercase(),
            binding: b.to_string(),
        }),
        (None, Some(b), None) => Selection::Binding(b.to_string()),
        (None, None, _) => Selection::Domain(domains[0].clone()),
    };
    // Due now (not at `before`, the cut-off for what the order names): above every node's
    // floor on a shared spool.
    let now = now_millis();
    match ctx.spool.reschedule(selection, now).await {
        Ok(dests) => {
            for d in dests {
                ctx.scheduler.queued(d, now);
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
    if let Some(pg) = ctx.spool.shared() {
        for id in shared {
            if let Err(e) = pg.withdraw_fail_order(id).await {
                tracing::warn!(error = %e, id, "withdrawing a fail order failed; it expires by itself");
            }
        }
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
