//! `fail domain D [quiet]` and `message fail ID`: gives a fail order (see `fail_orders`), makes
//! the recipients it names due at once, waits for them to leave the spool through the
//! ordinary delivery path (logged, and bounced unless `quiet`), then withdraws the order.

use std::time::Duration;

use impulse_spool::{MessageId, RecipientInfo, RecipientState, Selection, Spool, now_millis};

use super::commands::{Answer, Context, error, ok};
use crate::fail_orders::Order;

/// How long the command waits for the named recipients; one in the middle of an attempt when
/// the order is given finishes that attempt and stays queued if it failed temporarily.
const WAIT: Duration = Duration::from_secs(30);

async fn named(
    ctx: &Context,
    domain: Option<&str>,
    message: Option<MessageId>,
    before: i64,
) -> Result<Vec<RecipientInfo>, String> {
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
        })
        .collect())
}

pub async fn fail(
    ctx: &Context,
    domain: Option<&str>,
    message: Option<MessageId>,
    quiet: bool,
) -> Answer {
    let before = now_millis();
    let what = match (domain, message) {
        (_, Some(m)) => format!("message {m}"),
        (Some(d), None) => format!("domain {d}"),
        (None, None) => return error("nothing to fail"),
    };
    let first = match named(ctx, domain, message, before).await {
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
                before,
                quiet,
            })
        })
        .collect();
    let selection = match message {
        Some(m) => Selection::Message(m),
        None => Selection::Domain(domains[0].clone()),
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
        if let Ok(rows) = named(ctx, domain, message, before).await {
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
