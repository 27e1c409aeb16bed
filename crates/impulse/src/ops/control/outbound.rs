//! `show outbound`: each SMPP bind with its state, window use, counts and the recent rates,
//! then each MM7 domain's SubmitReq figures.

use std::fmt::Write as _;

use crate::ops::status::Snapshot;
use crate::route::binding_name;

pub fn render(snap: &Snapshot) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "Rates over the last {}s: received {:.1}/s  delivered {:.1}/s  SMPP submitted {:.1}/s",
        crate::ops::status::RATE_WINDOW.as_secs(),
        snap.rates.received,
        snap.rates.delivered,
        snap.rates.submitted
    );
    out.push_str("\nSMPP binds:");
    if snap.binds.is_empty() {
        out.push_str(" none");
    }
    for b in &snap.binds {
        let state = match (b.bound, b.bound_seconds) {
            (true, Some(s)) => format!("bound {s}s"),
            (true, None) => "bound".into(),
            (false, _) => "connecting".into(),
        };
        let _ = write!(
            out,
            "\n  {}/{} {} {} system_id={} {}{}  window {}/{}  queued {}  submitted {}  received {}  reconnects {}",
            binding_name(&b.binding),
            b.domain,
            b.smsc,
            b.bind_type,
            b.system_id,
            state,
            if b.persistent { " persistent" } else { "" },
            b.in_window,
            b.window,
            b.outstanding.saturating_sub(b.in_window),
            b.submitted,
            b.incoming,
            b.reconnects
        );
    }
    out.push_str("\nMM7 domains:");
    if snap.mm7.is_empty() {
        out.push_str(" none");
    }
    for m in &snap.mm7 {
        let _ = write!(
            out,
            "\n  {} {}  in flight {}  submitted {}  accepted {}  deferred {}  refused {}  last status {}",
            m.domain,
            m.url,
            m.in_flight,
            m.submitted,
            m.accepted,
            m.deferred,
            m.refused,
            m.last_status
        );
    }
    out
}

/// The throttles in use (`Outbound_Throttle_*`), by the scope that defines each: one bucket
/// for every destination that inherits it.
pub fn render_throttles(views: &[crate::outbound::throttle::ThrottleView]) -> String {
    if views.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nThrottles (shared by every destination that inherits them):\n");
    for v in views {
        let _ = writeln!(
            out,
            "  {} = \"{}\" set in {}: waited {} time(s)",
            v.option, v.value, v.scope, v.waits
        );
    }
    out
}
