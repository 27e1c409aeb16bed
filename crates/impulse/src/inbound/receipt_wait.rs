//! Delivery receipts that arrive before the submission they report on is recorded (decision
//! 0009). Some SMSCs send a receipt (or an ENROUTE/ACCEPTD one) right behind the submit_sm_resp,
//! and a multi-part message's submissions are recorded together once its last segment is
//! answered; a receipt looked up in between matches nothing.
//!
//! Such a receipt is answered at once (the SMSC's window is not held hostage) and kept here, in
//! memory, for `SMPP_Delivery_Receipt_Wait` seconds: whenever submissions are recorded, the
//! connector [`announce`]s their keys, and each bind's MO task retries the receipts held under
//! those keys. A receipt still unmatched at its deadline is logged as such. Held receipts are
//! lost with the process (a receipt is a report, not a message); at most [`MAX_HELD`] per bind.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use impulse_smpp::receipt::Receipt;
use tokio::sync::broadcast;

/// Receipts held at once per bind; past it the oldest is logged as unmatched.
pub const MAX_HELD: usize = 10_000;

/// A receipt whose id matches a submission only read as a number ("10" as ten or sixteen),
/// not as written, waits this long for a submission under its written form before the number
/// match is taken: early receipts otherwise meet another message's id that reads the same.
pub const NUMERIC_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Announcements buffered per subscriber before it lags (and then retries everything).
const CHANNEL: usize = 4096;

fn channel() -> &'static broadcast::Sender<Arc<Vec<String>>> {
    static TX: OnceLock<broadcast::Sender<Arc<Vec<String>>>> = OnceLock::new();
    TX.get_or_init(|| broadcast::channel(CHANNEL).0)
}

/// Submissions under these receipt keys are now recorded (committed) in the spool.
pub fn announce(keys: Vec<String>) {
    // No subscriber (no bind receives MO) is not an error.
    let _ = channel().send(Arc::new(keys));
}

/// Announcements of recorded submissions, for one bind's MO task.
pub fn subscribe() -> broadcast::Receiver<Arc<Vec<String>>> {
    channel().subscribe()
}

/// A receipt waiting for its submission.
#[derive(Clone, Debug)]
pub struct Held {
    pub receipt: Receipt,
    /// The keys its id may be recorded under.
    pub keys: Vec<String>,
    /// The receipt's source (the handset) and destination (the ESME's address).
    pub handset: String,
    pub esme: String,
    pub until: Instant,
    pub since: Instant,
    /// From when a match by number is taken, and whether that try was made.
    pub numeric_at: Instant,
    pub numeric_tried: bool,
}

/// One bind's held receipts.
#[derive(Debug, Default)]
pub struct HeldReceipts {
    items: Vec<Held>,
}

impl HeldReceipts {
    /// Holds a receipt; returns the one pushed out when the table is full.
    pub fn hold(&mut self, held: Held) -> Option<Held> {
        let evicted = (self.items.len() >= MAX_HELD).then(|| self.items.remove(0));
        self.items.push(held);
        evicted
    }

    /// Takes the receipts held under any of `keys` (to retry them).
    pub fn take_matching(&mut self, keys: &[String]) -> Vec<Held> {
        if self.items.is_empty() {
            return Vec::new();
        }
        let keys: HashSet<&str> = keys.iter().map(String::as_str).collect();
        let (hit, keep): (Vec<Held>, Vec<Held>) = std::mem::take(&mut self.items)
            .into_iter()
            .partition(|h| h.keys.iter().any(|k| keys.contains(k.as_str())));
        self.items = keep;
        hit
    }

    /// Takes every held receipt (after missed announcements).
    pub fn take_all(&mut self) -> Vec<Held> {
        std::mem::take(&mut self.items)
    }

    /// Takes the receipts whose grace for a number match is over and that were not tried so.
    pub fn take_numeric_due(&mut self, now: Instant) -> Vec<Held> {
        let (due, keep): (Vec<Held>, Vec<Held>) = std::mem::take(&mut self.items)
            .into_iter()
            .partition(|h| !h.numeric_tried && h.numeric_at <= now);
        self.items = keep;
        due
    }

    /// Takes the receipts whose wait is over.
    pub fn take_expired(&mut self, now: Instant) -> Vec<Held> {
        let (gone, keep): (Vec<Held>, Vec<Held>) = std::mem::take(&mut self.items)
            .into_iter()
            .partition(|h| h.until <= now);
        self.items = keep;
        gone
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn held(keys: &[&str], until: Instant) -> Held {
        Held {
            receipt: Receipt::default(),
            keys: keys.iter().map(|k| k.to_string()).collect(),
            handset: "1".into(),
            esme: "2".into(),
            until,
            since: until,
            numeric_at: until,
            numeric_tried: false,
        }
    }

    #[test]
    fn receipts_come_out_by_key_or_by_deadline() {
        let t = Instant::now();
        let mut h = HeldReceipts::default();
        h.hold(held(&["s:a", "d:1"], t + Duration::from_secs(5)));
        h.hold(held(&["s:b"], t + Duration::from_secs(1)));
        assert_eq!(h.take_matching(&["d:1".into()]).len(), 1);
        assert_eq!(h.len(), 1);
        assert!(h.take_expired(t).is_empty());
        assert_eq!(h.take_expired(t + Duration::from_secs(1)).len(), 1);
        assert_eq!(h.len(), 0);
    }

    #[test]
    fn the_table_is_bounded() {
        let t = Instant::now();
        let mut h = HeldReceipts::default();
        for i in 0..MAX_HELD {
            assert!(h.hold(held(&[&format!("s:{i}")], t)).is_none());
        }
        let out = h.hold(held(&["s:new"], t)).unwrap();
        assert_eq!(out.keys, ["s:0"]);
        assert_eq!(h.len(), MAX_HELD);
    }
}
