//! Bind slots: with nodes sharing a PostgreSQL spool, the binds all of them hold to one SMSC
//! account (server, port and system_id) stay within `SMPP_Account_Binds`. A bind opens only in
//! a slot its node took in the database (`bind_slots`); a slot whose holder was fenced is free,
//! so a dead node's binds go back to the others at its lease timeout.
//!
//! A node wants a slot for each SMPP destination with work due now in the spool or submitted to
//! through it lately, and for each persistent bind of its configuration. Until it holds one, the
//! destination's queue is left to the nodes that do (the delivery policy asks
//! [`BindSlots::may_deliver`]: it is not leased here) and the persistent bind is not opened.
//! Every second [`BindSlots::keep`] takes the slots wanted, gives back those no longer wanted
//! (after their binds closed), and checks the others against the database: a slot lost (this
//! node was fenced while it stalled, or cannot reach the database) closes its bind.
//!
//! Slots go first come, first served: a node never holds more than its own configuration would
//! open, and nodes without binds still receive mail and MO and spool them for the others.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use impulse_config::{Config, Resolved, names};
use impulse_spool::Destination;

use crate::store::Store;

/// An on-demand bind's slot is given back when its destination has not asked for this long.
const WANTED_FOR: Duration = Duration::from_secs(60);

/// What a slot is for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Use {
    /// The bind a destination's queued mail opens.
    OnDemand(Destination),
    /// The `n`th persistent bind of a destination (`SMPP_Persistent_Connections`).
    Persistent(Destination, usize),
}

impl Use {
    pub fn destination(&self) -> &Destination {
        match self {
            Use::OnDemand(d) | Use::Persistent(d, _) => d,
        }
    }
}

/// The account a destination's binds log in to and the cluster's limit on them, when the
/// configuration sets one.
pub fn account(cfg: &Config, dest: &Destination) -> Option<(String, u32)> {
    if !crate::route::is_smpp_domain(cfg, &dest.domain) {
        return None;
    }
    let binding = (!dest.binding.is_empty()).then_some(dest.binding.as_str());
    let s = cfg.sending(Some(&dest.domain), binding);
    let limit = s.u64(names::SMPP_ACCOUNT_BINDS).min(u32::MAX as u64) as u32;
    if limit == 0 {
        return None;
    }
    let account = format!(
        "{}@{}:{}",
        s.scalar(names::SMPP_SMSC_SYSTEM_ID).unwrap_or_default(),
        s.scalar(names::SMPP_SMSC_SERVER)
            .unwrap_or_default()
            .to_ascii_lowercase(),
        s.u64(names::SMPP_SMSC_PORT)
    );
    Some((account, limit))
}

#[derive(Default)]
struct State {
    held: HashMap<Use, (String, i32)>,
    /// Destinations this node submitted to, and when last.
    busy: HashMap<Destination, Instant>,
    /// When the slots were last read from the database.
    checked: Option<Instant>,
}

/// What a round of [`BindSlots::keep`] changed (slots lost are no longer held: their binds
/// close, see [`BindSlots::holds`]).
#[derive(Debug, Default)]
pub struct Kept {
    /// Slots no longer wanted: their binds close, and then the slot is given back
    /// ([`BindSlots::release`]), so that no other node binds in it while this bind is open.
    pub unwanted: Vec<(Use, String, i32)>,
}

pub struct BindSlots {
    spool: Store,
    state: Mutex<State>,
}

impl BindSlots {
    pub fn new(spool: Store) -> Self {
        BindSlots {
            spool,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a bind for `u` may open: no cluster-wide limit applies, or this node holds its
    /// slot.
    pub fn holds(&self, cfg: &Config, u: &Use) -> bool {
        self.spool.shared().is_none()
            || account(cfg, u.destination()).is_none()
            || self.state().held.contains_key(u)
    }

    /// Whether this node may deliver to `dest` now.
    pub fn may_deliver(&self, cfg: &Config, dest: &Destination) -> bool {
        self.holds(cfg, &Use::OnDemand(dest.clone()))
    }

    /// A submission went through `dest`'s bind: its slot stays wanted a while.
    pub fn submitted(&self, dest: &Destination) {
        if self.spool.shared().is_some() {
            self.state().busy.insert(dest.clone(), Instant::now());
        }
    }

    /// The slots held, for the console.
    pub fn held(&self) -> Vec<(Use, String, i32)> {
        let mut v: Vec<_> = self
            .state()
            .held
            .iter()
            .map(|(u, (a, s))| (u.clone(), a.clone(), *s))
            .collect();
        v.sort_by(|a, b| (&a.1, a.2).cmp(&(&b.1, b.2)));
        v
    }

    /// Gives a slot back, once its bind has closed.
    pub async fn release(&self, account: &str, slot: i32) {
        if let Some(pg) = self.spool.shared()
            && let Err(e) = pg.release_bind_slot(account, slot).await
        {
            tracing::warn!(error = %e, %account, slot, "giving a bind slot back failed; the next round retries");
        }
    }

    /// One round: checks the slots held against the database, gives back those not wanted any
    /// more (or whose account changed), and takes those wanted: the on-demand binds of
    /// destinations with work due now or submitted to lately, and the `persistent` binds of
    /// the configuration. A destination whose only work is due later wants no slot, so that
    /// destinations sharing an account take turns.
    pub async fn keep(&self, cfg: &Config, persistent: &[Use], lease_timeout: Duration) -> Kept {
        let mut kept = Kept::default();
        let Some(pg) = self.spool.shared() else {
            return kept;
        };
        let in_db: HashSet<(String, i32)> = match pg.held_bind_slots().await {
            Ok(v) => v.into_iter().collect(),
            Err(e) => {
                tracing::warn!(error = %e, "bind slots could not be read");
                // Cut off from the database for most of a lease timeout: the cluster is about
                // to declare this node dead and give its slots to others. Its binds close first.
                let mut st = self.state();
                let stale = st
                    .checked
                    .is_some_and(|t| t.elapsed() > lease_timeout.mul_f64(0.8));
                if stale && !st.held.is_empty() {
                    tracing::warn!(
                        "the database has not answered for most of the lease timeout: every bind in a slot closes"
                    );
                    st.held.clear();
                }
                return kept;
            }
        };
        let now_ms = impulse_spool::now_millis();
        let due: Vec<Destination> = match impulse_spool::QueueStore::destinations(&self.spool).await
        {
            Ok(all) => all
                .into_iter()
                .filter(|d| d.next_due <= now_ms)
                .map(|d| d.destination)
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "the queue could not be read for bind slots");
                Vec::new()
            }
        };
        let mut wanted: Vec<(Use, String, u32)> = persistent
            .iter()
            .filter_map(|u| account(cfg, u.destination()).map(|(a, l)| (u.clone(), a, l)))
            .collect();
        let mut strays = Vec::new();
        {
            let mut st = self.state();
            st.checked = Some(Instant::now());
            st.busy.retain(|_, at| at.elapsed() < WANTED_FOR);
            let mut on_demand: HashSet<Destination> = st.busy.keys().cloned().collect();
            on_demand.extend(due);
            for d in on_demand {
                if let Some((a, l)) = account(cfg, &d) {
                    wanted.push((Use::OnDemand(d), a, l));
                }
            }
            let known: HashSet<(String, i32)> = st.held.values().cloned().collect();
            // Rows of this epoch it does not know it holds (a take that committed but answered
            // with an error, a release that failed): given back.
            strays.extend(in_db.iter().filter(|r| !known.contains(*r)).cloned());
            let mut unwanted = Vec::new();
            st.held.retain(|u, (a, slot)| {
                let lost = !in_db.contains(&(a.clone(), *slot));
                let still = wanted.iter().any(|(w, wa, _)| w == u && wa == a);
                if lost {
                    tracing::warn!(account = %a, slot, "bind slot lost (this node was declared dead): its bind closes");
                } else if !still {
                    unwanted.push((u.clone(), a.clone(), *slot));
                }
                !lost && still
            });
            kept.unwanted = unwanted;
            wanted.retain(|(u, _, _)| !st.held.contains_key(u));
        }
        for (account, slot) in strays {
            self.release(&account, slot).await;
        }
        for (u, account, limit) in wanted {
            match pg.take_bind_slot(&account, limit).await {
                Ok(Some(slot)) => {
                    tracing::info!(%account, slot, limit, domain = %u.destination().domain, "bind slot taken");
                    self.state().held.insert(u, (account, slot));
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, %account, "taking a bind slot failed"),
            }
        }
        kept
    }
}
