//! The console's `binding` commands: `binding summary [B]`, and `binding flush B D` (the
//! `binding flush B` and `binding fail B [D]` forms are in `commands` and `fail`). Mail leaves
//! by the default binding unless it was given another; `default` is the spool's empty name.

use impulse_spool::{Destination, QueueCounts, Selection};

use super::context::{Answer, Context, ok};

/// A binding's name as the spool keeps it: `default` is the empty name.
pub(super) fn spool_name(b: &str) -> &str {
    if b == "default" { "" } else { b }
}

/// `binding flush B D`: one domain's recipients of a binding due now (and no other
/// recipient of their messages).
pub(super) async fn flush(ctx: &Context, binding: &str, domain: &str) -> Answer {
    let dest = Destination {
        domain: domain.to_ascii_lowercase(),
        binding: spool_name(binding).to_string(),
    };
    let label = format!("binding {binding} domain {domain}");
    super::context::reschedule(ctx, Selection::Destination(dest), &label).await
}

/// `binding summary [B]`: queued recipients per binding and domain.
pub(super) async fn summary(ctx: &Context, only: Option<&str>) -> Answer {
    let counts = match super::context::counts(ctx).await {
        Ok(c) => c,
        Err(a) => return a,
    };
    let mut rows: Vec<&QueueCounts> = counts
        .iter()
        .filter(|c| only.is_none_or(|b| crate::route::binding_name(&c.destination.binding) == b))
        .collect();
    rows.sort_by(|a, b| {
        (&a.destination.binding, &a.destination.domain)
            .cmp(&(&b.destination.binding, &b.destination.domain))
    });
    if rows.is_empty() {
        return ok(match only {
            Some(b) => format!("binding {b}: nothing queued"),
            None => "nothing queued".into(),
        });
    }
    let mut out =
        String::from("binding              domain                          active  delayed\n");
    for c in rows {
        out.push_str(&format!(
            "{:<20} {:<30} {:>7} {:>8}\n",
            crate::route::binding_name(&c.destination.binding),
            c.destination.domain,
            c.active,
            c.delayed
        ));
    }
    ok(out.trim_end().to_string())
}
