//! What the crash harnesses share (one node on SQLite, several on PostgreSQL): the ledger of
//! what peers were told was accepted, the kill moments, and the reconciliation of the ledger
//! against what arrived downstream.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use super::{SimSmsc, Sink};

/// The simulator's count of MO messages Impulse answered with deliver_sm_resp.
pub fn mo_acked(sim: &SimSmsc) -> Option<u64> {
    let stats = sim.control("stats");
    stats
        .split_whitespace()
        .find_map(|w| w.strip_prefix("mo_acked="))
        .and_then(|v| v.parse().ok())
}

#[derive(Default)]
pub struct Ledger {
    /// Tokens whose message was acknowledged upstream, with where they must arrive.
    pub acked: Mutex<Vec<(String, Downstream)>>,
    pub attempts: AtomicU64,
}

#[derive(Clone, Copy, PartialEq)]
pub enum Downstream {
    Sink,
    Smsc,
}

/// A small deterministic generator for the kill moments (xorshift; the seed is printed).
pub fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

/// How often each `[tok-…]` token arrived: in the sink's mail and at the SMSC.
pub fn arrived(sink: &Sink, sim: &SimSmsc) -> HashMap<String, u32> {
    let mut seen: HashMap<String, u32> = HashMap::new();
    let mut count = |text: &str| {
        let mut rest = text;
        while let Some(i) = rest.find("[tok-") {
            let end = rest[i..].find(']').map_or(rest.len(), |e| i + e + 1);
            *seen.entry(rest[i..end].to_string()).or_default() += 1;
            rest = &rest[end..];
        }
    };
    for m in sink.messages() {
        count(&m);
    }
    for sms in sim.control("list 1000000").lines() {
        count(sms);
    }
    seen
}
