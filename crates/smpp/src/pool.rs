//! A pool of binds to one SMSC: several connections (persistent ones, or the connections a
//! domain is allowed), submissions spread round-robin over the members that are bound, and a
//! messages-per-second limit shared by the whole group (Momentum's throttles "by reference",
//! docs/reference/momentum.md §3.1.5) on top of each connection's own limit.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use tokio::sync::mpsc;

use crate::esme::{Esme, EsmeConfig, Event};
use crate::pdu::Pdu;
use crate::session::{SubmitResult, TokenBucket};

#[derive(Clone)]
pub struct Pool {
    members: Arc<Vec<Esme>>,
    next: Arc<AtomicUsize>,
    shared_rate: Option<Arc<Mutex<TokenBucket>>>,
}

impl Pool {
    /// Starts `size` connections with the same settings; events of all of them go to `events`.
    pub fn spawn(
        cfg: EsmeConfig,
        size: usize,
        group_rate: Option<f64>,
        events: mpsc::UnboundedSender<Event>,
    ) -> Pool {
        let members = (0..size.max(1))
            .map(|_| Esme::spawn(cfg.clone(), events.clone()))
            .collect();
        let shared_rate = group_rate
            .map(|r| Arc::new(Mutex::new(TokenBucket::new(r, r.max(1.0), Instant::now()))));
        Pool {
            members: Arc::new(members),
            next: Arc::new(AtomicUsize::new(0)),
            shared_rate,
        }
    }

    /// Members bound right now.
    pub fn bound(&self) -> usize {
        self.members.iter().filter(|m| m.is_bound()).count()
    }

    /// Waits for the group's rate to allow one more submission.
    async fn pace(&self) {
        let Some(bucket) = &self.shared_rate else {
            return;
        };
        loop {
            let wait = {
                let mut b = bucket.lock().unwrap_or_else(PoisonError::into_inner);
                if b.take(Instant::now()) {
                    None
                } else {
                    Some(b.next_token())
                }
            };
            match wait {
                None => return,
                Some(t) => tokio::time::sleep_until(t.into()).await,
            }
        }
    }

    /// Submits through the next bound member; `ConnectionLost` when none is bound.
    pub async fn submit(&self, pdu: Pdu) -> SubmitResult {
        self.pace().await;
        let n = self.members.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            let member = &self.members[(start + i) % n];
            if member.is_bound() {
                return member.submit(pdu).await;
            }
        }
        SubmitResult::ConnectionLost
    }

    /// Unbinds every member cleanly.
    pub async fn shutdown(&self) {
        for m in self.members.iter() {
            m.shutdown().await;
        }
    }
}
