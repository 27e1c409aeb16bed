//! The window: requests sent and awaiting their response, at most `capacity` of them
//! (`SMPP_Command_Window_Size`). A small value type, tested alone.
//!
//! Every request gets the same timeout, so deadlines arrive in sending order: the oldest
//! entry is always the next to expire, found without scanning.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use crate::pdu::CommandId;

struct Entry<T> {
    response: CommandId,
    token: T,
}

pub struct Window<T> {
    capacity: usize,
    entries: HashMap<u32, Entry<T>>,
    /// Sequence numbers with their deadline, oldest first; may hold entries already answered.
    order: VecDeque<(u32, Instant)>,
}

impl<T> Window<T> {
    pub fn new(capacity: usize) -> Self {
        Window {
            capacity,
            entries: HashMap::with_capacity(capacity),
            order: VecDeque::with_capacity(capacity),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn is_full(&self) -> bool {
        self.entries.len() >= self.capacity
    }

    pub fn insert(&mut self, seq: u32, response: CommandId, token: T, deadline: Instant) {
        debug_assert!(!self.is_full(), "caller checks is_full");
        self.entries.insert(seq, Entry { response, token });
        self.order.push_back((seq, deadline));
    }

    /// Takes the request answered by a response with this sequence number and command_id
    /// (generic_nack answers any request).
    pub fn remove(&mut self, seq: u32, response: CommandId) -> Option<T> {
        let matches = self
            .entries
            .get(&seq)
            .is_some_and(|e| e.response == response || response == CommandId::GENERIC_NACK);
        if !matches {
            return None;
        }
        let token = self.entries.remove(&seq).map(|e| e.token);
        self.trim();
        token
    }

    /// Drops answered entries from the front of the deadline order.
    fn trim(&mut self) {
        while let Some((seq, _)) = self.order.front() {
            if self.entries.contains_key(seq) {
                break;
            }
            self.order.pop_front();
        }
        if self.entries.is_empty() {
            self.order.clear();
        }
    }

    /// Removes and returns every request whose deadline has passed.
    pub fn expire(&mut self, now: Instant) -> Vec<T> {
        let mut out = Vec::new();
        while let Some(&(seq, deadline)) = self.order.front() {
            if deadline > now {
                break;
            }
            self.order.pop_front();
            if let Some(e) = self.entries.remove(&seq) {
                out.push(e.token);
            }
        }
        self.trim();
        out
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.order
            .iter()
            .find(|(s, _)| self.entries.contains_key(s))
            .map(|(_, d)| *d)
    }

    pub fn drain(&mut self) -> impl Iterator<Item = T> + '_ {
        self.order.clear();
        self.entries.drain().map(|(_, e)| e.token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn capacity_matching_and_expiry() {
        let t0 = Instant::now();
        let mut w = Window::new(2);
        w.insert(
            1,
            CommandId::SUBMIT_SM_RESP,
            "a",
            t0 + Duration::from_secs(1),
        );
        w.insert(
            2,
            CommandId::SUBMIT_SM_RESP,
            "b",
            t0 + Duration::from_secs(2),
        );
        assert!(w.is_full());
        assert_eq!(
            w.remove(1, CommandId::DELIVER_SM_RESP),
            None,
            "wrong response type"
        );
        assert_eq!(
            w.remove(9, CommandId::SUBMIT_SM_RESP),
            None,
            "unknown sequence"
        );
        assert_eq!(w.remove(1, CommandId::SUBMIT_SM_RESP), Some("a"));
        assert_eq!(w.next_deadline(), Some(t0 + Duration::from_secs(2)));
        w.insert(
            3,
            CommandId::QUERY_SM_RESP,
            "c",
            t0 + Duration::from_secs(3),
        );
        assert_eq!(w.expire(t0 + Duration::from_millis(2500)), ["b"]);
        assert_eq!(w.remove(3, CommandId::GENERIC_NACK), Some("c"));
        assert!(w.is_empty());
        assert_eq!(w.next_deadline(), None);
    }
}
