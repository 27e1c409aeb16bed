//! Where each destination's queue begins, as far as this node knows: the due time a scan of
//! the queued index (`recipients_due`, in due order) starts from.
//!
//! Why: a recipient leased or delivered leaves its old row version behind until VACUUM removes
//! it, and VACUUM cannot while any transaction older than the change is open (a report, a
//! backup, a forgotten `psql` session). The index keeps entries for those versions, and a scan
//! from the oldest due time walks them all, at every lease: with one such transaction open,
//! the rate fell from 1,119 to 199 msg/s in 3 minutes. Starting at the floor steps over them in
//! one index descent.
//!
//! A floor is a hint derived from what a scan saw, never a promise. Below it lie versions that
//! were leased, and rows whose writer committed more than [`LAG`] after choosing their due time
//! (an unusually slow commit, another node's lease rolled back). To find those, the first scan
//! of a destination, and one every [`FULL_SCAN_EVERY`] after it, starts from the bottom; and a
//! failed commit of this node forgets every floor. Writes that queue a recipient give it a due
//! time no earlier than the moment of writing, so that it lands above the floors.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::{Destination, Millis};

/// How long a write may take between choosing a due time and committing, for the scans of
/// other nodes to still find it without a full scan.
pub(super) const LAG: Millis = 3_000;
/// How often a destination's scan starts from the bottom of the index.
const FULL_SCAN_EVERY: Duration = Duration::from_secs(60);

/// The lowest possible due time: a full scan.
const BOTTOM: Millis = Millis::MIN;

#[derive(Debug, Default)]
pub(super) struct Floors(Mutex<HashMap<Destination, Floor>>);

#[derive(Debug)]
struct Floor {
    at: Millis,
    full_scan_at: Instant,
}

/// Where one scan starts; hand it back to [`Floors::saw`] with what the scan found.
#[derive(Clone, Copy, Debug)]
pub(super) struct Scan {
    pub(super) from: Millis,
    full: bool,
}

impl Floors {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<Destination, Floor>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Where a scan of `d` starts now.
    pub(super) fn scan(&self, d: &Destination) -> Scan {
        match self.map().get(d) {
            Some(f) if f.full_scan_at.elapsed() < FULL_SCAN_EVERY => Scan {
                from: f.at,
                full: false,
            },
            _ => Scan {
                from: BOTTOM,
                full: true,
            },
        }
    }

    /// After `scan` of `d`: the queued recipients it left (those it did not lease) begin at
    /// `first` (`None`: none from `scan.from` on), at `now` by this node's clock.
    pub(super) fn saw(&self, d: &Destination, scan: Scan, first: Option<Millis>, now: Millis) {
        let floor = first.map_or(now, |f| f.min(now)).saturating_sub(LAG);
        let mut map = self.map();
        match map.get_mut(d) {
            // A scan that began below the floor now in force (a full scan lowered it meanwhile)
            // must not raise it over what that full scan found.
            Some(f) if !scan.full => {
                if scan.from <= f.at {
                    f.at = f.at.max(floor);
                }
            }
            // Forgotten since the scan began: the next scan is a full one anyway.
            None if !scan.full => {}
            _ => {
                map.insert(
                    d.clone(),
                    Floor {
                        at: floor,
                        full_scan_at: Instant::now(),
                    },
                );
            }
        }
    }

    /// After a commit that failed: what it leased is queued again below the floors.
    pub(super) fn forget(&self) {
        self.map().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dest() -> Destination {
        Destination {
            domain: "sms.example".into(),
            binding: String::new(),
        }
    }

    #[test]
    fn the_first_scan_is_full_and_later_ones_start_below_what_it_saw() {
        let floors = Floors::default();
        let first = floors.scan(&dest());
        assert_eq!(first.from, BOTTOM);
        floors.saw(&dest(), first, Some(50_000), 100_000);
        assert_eq!(floors.scan(&dest()).from, 50_000 - LAG);
        // Nothing queued: the floor follows the clock, less the lag.
        floors.saw(&dest(), floors.scan(&dest()), None, 200_000);
        assert_eq!(floors.scan(&dest()).from, 200_000 - LAG);
        // A later scan never lowers it; a due time in the future counts as now.
        floors.saw(&dest(), floors.scan(&dest()), Some(10_000), 210_000);
        floors.saw(&dest(), floors.scan(&dest()), Some(900_000), 205_000);
        assert_eq!(floors.scan(&dest()).from, 205_000 - LAG);
    }

    #[test]
    fn a_full_scan_lowers_the_floor_and_forgetting_starts_again_from_the_bottom() {
        let floors = Floors::default();
        floors.saw(&dest(), floors.scan(&dest()), None, 100_000);
        let full = Scan {
            from: BOTTOM,
            full: true,
        };
        floors.saw(&dest(), full, Some(1_000), 100_000);
        assert_eq!(floors.scan(&dest()).from, 1_000 - LAG);
        floors.forget();
        assert_eq!(floors.scan(&dest()).from, BOTTOM);
        // A scan that began before the floors were forgotten does not set one.
        let stale = Scan {
            from: 5,
            full: false,
        };
        floors.saw(&dest(), stale, Some(90_000), 100_000);
        assert_eq!(floors.scan(&dest()).from, BOTTOM);
        // A scan that began above a floor a full scan lowered meanwhile does not raise it.
        floors.saw(&dest(), full, Some(1_000), 100_000);
        let stale = Scan {
            from: 50_000,
            full: false,
        };
        floors.saw(&dest(), stale, None, 100_000);
        assert_eq!(floors.scan(&dest()).from, 1_000 - LAG);
    }
}
