//! One view of what the gateway is doing: counters since start and their recent rates, queues
//! per destination, SMPP binds and MM7 domains. The console (`summary`, `show outbound`), the
//! admin API's JSON, the status page and the scrape-time metric gauges all read a
//! [`Snapshot`], so they never disagree.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::store::Store;
use impulse_spool::{Millis, QueueQueries, now_millis};
use serde::Serialize;

use crate::live::LiveConfig;
use crate::ops::counters::Counters;
use crate::outbound::mm7::{Mm7Connector, Mm7DomainStats};
use crate::outbound::smpp::SmppConnector;

#[derive(Clone, Debug, Serialize)]
pub struct Totals {
    pub received: u64,
    pub delivered: u64,
    pub deferred: u64,
    pub failed: u64,
    pub active: u64,
    pub delayed: u64,
    pub quarantined: u64,
}

/// Per second, over the last [`RATE_WINDOW`].
#[derive(Clone, Debug, Default, Serialize)]
pub struct Rates {
    pub received: f64,
    pub delivered: f64,
    /// SMPP submissions resolved.
    pub submitted: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Queue {
    pub domain: String,
    pub binding: String,
    /// How its mail leaves: `smtp`, `smpp` or `mm7`.
    pub protocol: &'static str,
    pub active: u64,
    pub delayed: u64,
    pub quarantined: u64,
    /// Age of the oldest message queued there.
    pub oldest_seconds: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Bind {
    pub domain: String,
    pub binding: String,
    pub persistent: bool,
    pub smsc: String,
    pub system_id: String,
    pub bind_type: &'static str,
    pub bound: bool,
    pub window: usize,
    pub in_window: usize,
    pub outstanding: usize,
    pub submitted: u64,
    pub incoming: u64,
    pub reconnects: u64,
    pub bound_seconds: Option<u64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Snapshot {
    pub version: &'static str,
    pub uptime_seconds: u64,
    pub config_generation: u64,
    pub totals: Totals,
    pub rates: Rates,
    pub queues: Vec<Queue>,
    pub binds: Vec<Bind>,
    pub mm7: Vec<Mm7DomainStats>,
}

/// How far back rates look.
pub const RATE_WINDOW: Duration = Duration::from_secs(10);

/// Samples of the counters, one a second, for the rates.
#[derive(Default)]
struct Samples(VecDeque<(Instant, [u64; 3])>);

/// Where a snapshot's figures come from.
pub struct Sources {
    pub cfg: LiveConfig,
    pub spool: Store,
    pub counters: Arc<Counters>,
    pub smpp: Arc<SmppConnector>,
    pub mm7: Arc<Mm7Connector>,
    samples: Mutex<Samples>,
}

impl Sources {
    pub fn new(
        cfg: LiveConfig,
        spool: Store,
        counters: Arc<Counters>,
        smpp: Arc<SmppConnector>,
        mm7: Arc<Mm7Connector>,
    ) -> Self {
        Sources {
            cfg,
            spool,
            counters,
            smpp,
            mm7,
            samples: Mutex::new(Samples::default()),
        }
    }

    fn counts(&self) -> [u64; 3] {
        let submitted = self.smpp.binds().iter().map(|b| b.status.submitted).sum();
        [
            Counters::get(&self.counters.received),
            Counters::get(&self.counters.delivered),
            submitted,
        ]
    }

    /// Takes a sample every second until `stop`; rates read these.
    pub async fn sample(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => return,
            }
            let now = Instant::now();
            let counts = self.counts();
            let mut s = self.samples.lock().unwrap_or_else(PoisonError::into_inner);
            s.0.push_back((now, counts));
            while s.0.len() > 2 && s.0.front().is_some_and(|(t, _)| now - *t > RATE_WINDOW) {
                s.0.pop_front();
            }
        }
    }

    fn rates(&self) -> Rates {
        let s = self.samples.lock().unwrap_or_else(PoisonError::into_inner);
        let (Some((t0, first)), Some((t1, last))) = (s.0.front(), s.0.back()) else {
            return Rates::default();
        };
        let secs = (*t1 - *t0).as_secs_f64();
        if secs <= 0.0 {
            return Rates::default();
        }
        // A bind retired by a reload takes its count with it: never a negative rate.
        let per = |i: usize| last[i].saturating_sub(first[i]) as f64 / secs;
        Rates {
            received: per(0),
            delivered: per(1),
            submitted: per(2),
        }
    }

    /// This node's binds as the status shows them (no spool read).
    pub fn binds(&self, now: Millis) -> Vec<Bind> {
        self.smpp
            .binds()
            .into_iter()
            .map(|b| Bind {
                domain: b.dest.domain,
                binding: b.dest.binding,
                persistent: b.persistent,
                smsc: b.status.addr,
                system_id: b.status.system_id,
                bind_type: b.status.bind_type,
                bound: b.status.bound,
                window: b.status.window,
                in_window: b.status.in_window,
                outstanding: b.status.outstanding,
                submitted: b.status.submitted,
                incoming: b.status.incoming,
                reconnects: b.status.binds.saturating_sub(1),
                bound_seconds: b.status.bound_since.map(|t| (now - t).max(0) as u64 / 1000),
            })
            .collect()
    }

    pub async fn snapshot(&self) -> Result<Snapshot, String> {
        let now = now_millis();
        let counts = self
            .spool
            .queue_counts(now)
            .await
            .map_err(|e| format!("the spool cannot be read: {e}"))?;
        let cfg = self.cfg.get();
        let queues: Vec<Queue> = counts
            .iter()
            .map(|q| Queue {
                domain: q.destination.domain.clone(),
                binding: q.destination.binding.clone(),
                protocol: crate::route::protocol_of(&cfg, &q.destination.domain),
                active: q.active,
                delayed: q.delayed,
                quarantined: q.quarantined,
                oldest_seconds: (now - q.oldest).max(0) as u64 / 1000,
            })
            .collect();
        let binds = self.binds(now);
        let c = &self.counters;
        Ok(Snapshot {
            version: env!("CARGO_PKG_VERSION"),
            uptime_seconds: (now - c.started_at).max(0) as u64 / 1000,
            config_generation: self.cfg.generation(),
            totals: Totals {
                received: Counters::get(&c.received),
                delivered: Counters::get(&c.delivered),
                deferred: Counters::get(&c.deferred),
                failed: Counters::get(&c.failed),
                active: queues.iter().map(|q| q.active).sum(),
                delayed: queues.iter().map(|q| q.delayed).sum(),
                quarantined: queues.iter().map(|q| q.quarantined).sum(),
            },
            rates: self.rates(),
            queues,
            binds,
            mm7: self.mm7.stats(),
        })
    }
}

/// Sets the gauges of `/metrics` from a snapshot: queue depth per domain, binds up and window
/// use per SMPP domain. A domain whose queue emptied is set to 0, not left at its last value.
pub fn set_gauges(cfg: &impulse_config::Config, snap: &Snapshot, seen: &Mutex<Vec<String>>) {
    let mut queues: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for q in &snap.queues {
        let e = queues
            .entry(crate::route::domain_label(cfg, &q.domain))
            .or_default();
        e.0 += q.active;
        e.1 += q.delayed;
    }
    let mut seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
    for d in seen.iter() {
        queues.entry(d.clone()).or_default();
    }
    for (domain, (active, delayed)) in &queues {
        metrics::gauge!("impulse_queue_active", "domain" => domain.clone()).set(*active as f64);
        metrics::gauge!("impulse_queue_delayed", "domain" => domain.clone()).set(*delayed as f64);
    }
    *seen = queues.into_keys().collect();
    let mut binds: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for d in cfg.domain_names() {
        if crate::route::is_smpp_domain(cfg, d) {
            binds.entry(d.to_ascii_lowercase()).or_default();
        }
    }
    for b in &snap.binds {
        let e = binds
            .entry(crate::route::domain_label(cfg, &b.domain))
            .or_default();
        e.0 += u64::from(b.bound);
        e.1 += b.in_window as u64;
    }
    for (domain, (up, window)) in binds {
        metrics::gauge!("impulse_smpp_binds_up", "domain" => domain.clone()).set(up as f64);
        metrics::gauge!("impulse_smpp_window_in_use", "domain" => domain).set(window as f64);
    }
    metrics::gauge!("impulse_config_generation").set(snap.config_generation as f64);
}
