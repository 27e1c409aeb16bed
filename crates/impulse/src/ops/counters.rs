//! What happened since Impulse started, counted where it happens (reception, delivery
//! outcomes) and read by the console's `summary`.

use std::sync::atomic::{AtomicU64, Ordering};

use impulse_spool::{Millis, now_millis};

pub struct Counters {
    pub started_at: Millis,
    /// Messages accepted (SMTP 250, deliver_sm_resp, DeliverRsp).
    pub received: AtomicU64,
    /// Recipients delivered.
    pub delivered: AtomicU64,
    /// Recipient attempts that failed temporarily (each retry counts).
    pub deferred: AtomicU64,
    /// Recipients that failed permanently.
    pub failed: AtomicU64,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            started_at: now_millis(),
            received: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            deferred: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
    }
}

impl Counters {
    pub fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}
