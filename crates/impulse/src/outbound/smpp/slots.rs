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

/// An on-demand bind's slot is given back when its destination has had nothing due and
/// nothing submitted for this long.
const WANTED_FOR: Duration = Duration::from_secs(60);
/// A slot whose bind is closing (draining what it carries) stays this node's for at most this
/// long before a round treats its row as a stray: longer than a bind takes to drain.
const CLOSING_FOR: Duration = Duration::from_secs(120);

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
    /// Slots whose bind is closing, and since when: their rows stay until it has closed.
    closing: HashMap<(String, i32), Instant>,
    /// Past this since `checked`, the slots count as lost (set from the lease timeout).
    trust_for: Duration,
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
    /// slot (of the account the configuration now names, checked lately).
    pub fn holds(&self, cfg: &Config, u: &Use) -> bool {
        if self.spool.shared().is_none() {
            return true;
        }
        let Some((account, _)) = account(cfg, u.destination()) else {
            return true;
        };
        let st = self.state();
        let fresh = st.checked.is_some_and(|t| t.elapsed() < st.trust_for);
        fresh && st.held.get(u).is_some_and(|(a, _)| *a == account)
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
            tracing::warn!(error = %e, %account, slot, "giving a bind slot back failed; a later round retries");
        }
        self.state().closing.remove(&(account.to_string(), slot));
    }

    /// One round: checks the slots held against the database, gives back those not wanted any
    /// more (or whose account changed), and takes those wanted: the on-demand binds of
    /// destinations with work due now or submitted to lately, and the `persistent` binds of
    /// the configuration. A destination whose only work is due later wants no slot after a
    /// minute, so that its slot can go to another destination of the account.
    pub async fn keep(&self, cfg: &Config, persistent: &[Use], lease_timeout: Duration) -> Kept {
        let mut kept = Kept::default();
        let Some(pg) = self.spool.shared() else {
            return kept;
        };
        // Trusted for most of a lease timeout: the cluster declares a silent node dead after it
        // and gives its slots to others, so its binds must be down by then.
        let trust_for = lease_timeout.mul_f64(0.8);
        self.state().trust_for = trust_for;
        let read = tokio::time::timeout(trust_for / 2, pg.held_bind_slots()).await;
        let in_db: HashSet<(String, i32)> = match read.unwrap_or_else(|_| {
            Err(impulse_spool::SpoolError::Storage(
                "no answer in time".into(),
            ))
        }) {
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
        // Destinations with work due that this node would deliver (not those it suspends);
        // `None` when the queue could not be read: then no held slot is given back this round.
        let due: Option<Vec<Destination>> =
            match impulse_spool::QueueStore::destinations(&self.spool).await {
                Ok(all) => Some(
                    all.into_iter()
                        .filter(|d| d.next_due <= now_ms)
                        .map(|d| d.destination)
                        .filter(|d| !crate::route::sending(cfg, d).bool(names::SUSPEND_DELIVERY))
                        .collect(),
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "the queue could not be read for bind slots");
                    None
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
            match due {
                Some(due) => on_demand.extend(due),
                None => on_demand.extend(st.held.keys().filter_map(|u| match u {
                    Use::OnDemand(d) => Some(d.clone()),
                    Use::Persistent(..) => None,
                })),
            }
            for d in on_demand {
                if let Some((a, l)) = account(cfg, &d) {
                    wanted.push((Use::OnDemand(d), a, l));
                }
            }
            st.closing.retain(|_, since| since.elapsed() < CLOSING_FOR);
            let known: HashSet<(String, i32)> =
                st.held.values().chain(st.closing.keys()).cloned().collect();
            // Rows of this epoch it does not know it holds (a take that committed but answered
            // with an error, a release that failed): given back. Not those whose bind is closing.
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
            for (_, a, slot) in &unwanted {
                st.closing.insert((a.clone(), *slot), Instant::now());
            }
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
