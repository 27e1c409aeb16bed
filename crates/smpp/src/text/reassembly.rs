//! Reassembly of concatenated MO messages (UDH or SAR): parts may come out of order, twice,
//! or never. A plain value fed parts and the time; no clock inside.
//!
//! Untrusted input: the counts and references in the parts. The number of messages waiting
//! for parts is capped ([`MAX_PENDING`]); when full, the oldest is given up as incomplete.

use std::collections::{BTreeMap, HashMap};

/// Messages waiting for parts at most. At 160 octets a part, even a full table is small.
pub const MAX_PENDING: usize = 10_000;

/// One part of a concatenated message.
#[derive(Clone, Debug)]
pub struct Part {
    /// Identifies the message: source, destination and reference.
    pub key: (String, String, u16),
    pub total: u8,
    pub seq: u8,
    pub data: Vec<u8>,
}

/// A message put back together, or given up on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reassembled {
    pub key: (String, String, u16),
    /// The parts' data in sequence order.
    pub parts: Vec<Vec<u8>>,
    /// False when the message timed out (or was evicted) with parts missing.
    pub complete: bool,
    /// Sequence numbers that never arrived.
    pub missing: Vec<u8>,
}

struct Pending {
    total: u8,
    parts: BTreeMap<u8, Vec<u8>>,
    first_seen: i64,
}

pub struct Reassembler {
    pending: HashMap<(String, String, u16), Pending>,
    timeout_ms: i64,
}

impl Reassembler {
    pub fn new(timeout_ms: i64) -> Self {
        Reassembler {
            pending: HashMap::new(),
            timeout_ms,
        }
    }

    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Adds a part received at `now` (ms). Returns the message when it is complete; a part
    /// already seen is ignored; a part whose numbers make no sense is passed through alone.
    pub fn add(&mut self, part: Part, now: i64) -> Option<Reassembled> {
        if part.total <= 1 || part.seq == 0 || part.seq > part.total {
            return Some(Reassembled {
                key: part.key,
                parts: vec![part.data],
                complete: true,
                missing: vec![],
            });
        }
        if !self.pending.contains_key(&part.key) && self.pending.len() >= MAX_PENDING {
            // Eviction is rare and only under abuse; a linear scan is fine then.
            if let Some(oldest) = self
                .pending
                .iter()
                .min_by_key(|(_, p)| p.first_seen)
                .map(|(k, _)| k.clone())
            {
                tracing::warn!(
                    ?oldest,
                    "MO reassembly table full; giving up the oldest message"
                );
                self.pending.remove(&oldest);
            }
        }
        let entry = self
            .pending
            .entry(part.key.clone())
            .or_insert_with(|| Pending {
                total: part.total,
                parts: BTreeMap::new(),
                first_seen: now,
            });
        if entry.total != part.total {
            // Same reference, different count: a new message reusing the reference.
            *entry = Pending {
                total: part.total,
                parts: BTreeMap::new(),
                first_seen: now,
            };
        }
        entry.parts.entry(part.seq).or_insert(part.data);
        if entry.parts.len() == entry.total as usize {
            let done = self.pending.remove(&part.key)?;
            return Some(Reassembled {
                key: part.key,
                parts: done.parts.into_values().collect(),
                complete: true,
                missing: vec![],
            });
        }
        None
    }

    /// Gives up messages older than the timeout, returning what arrived of each.
    pub fn expire(&mut self, now: i64) -> Vec<Reassembled> {
        let expired: Vec<_> = self
            .pending
            .iter()
            .filter(|(_, p)| now - p.first_seen >= self.timeout_ms)
            .map(|(k, _)| k.clone())
            .collect();
        expired
            .into_iter()
            .filter_map(|k| {
                let p = self.pending.remove(&k)?;
                let missing = (1..=p.total).filter(|s| !p.parts.contains_key(s)).collect();
                Some(Reassembled {
                    key: k,
                    parts: p.parts.into_values().collect(),
                    complete: false,
                    missing,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(reference: u16, total: u8, seq: u8, data: &str) -> Part {
        Part {
            key: ("111".into(), "222".into(), reference),
            total,
            seq,
            data: data.as_bytes().to_vec(),
        }
    }

    #[test]
    fn out_of_order_and_duplicates() {
        let mut r = Reassembler::new(60_000);
        assert_eq!(r.add(part(7, 3, 3, "c"), 0), None);
        assert_eq!(r.add(part(7, 3, 1, "a"), 1), None);
        assert_eq!(
            r.add(part(7, 3, 1, "a-again"), 2),
            None,
            "duplicate ignored"
        );
        let done = r.add(part(7, 3, 2, "b"), 3).unwrap();
        assert_eq!(done.parts, [b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
        assert!(done.complete);
        assert_eq!(r.pending(), 0);
    }

    #[test]
    fn timeout_gives_up_with_what_arrived() {
        let mut r = Reassembler::new(1000);
        r.add(part(1, 3, 2, "b"), 0);
        assert!(r.expire(999).is_empty());
        let gone = r.expire(1000);
        assert_eq!(gone.len(), 1);
        assert_eq!(
            (
                gone[0].complete,
                gone[0].missing.clone(),
                gone[0].parts.clone()
            ),
            (false, vec![1, 3], vec![b"b".to_vec()])
        );
    }

    #[test]
    fn nonsense_numbers_pass_through() {
        let mut r = Reassembler::new(1000);
        assert!(r.add(part(1, 2, 0, "x"), 0).is_some());
        assert!(r.add(part(1, 2, 5, "y"), 0).is_some());
        assert!(r.add(part(1, 1, 1, "z"), 0).is_some());
        assert_eq!(r.pending(), 0);
    }
}
