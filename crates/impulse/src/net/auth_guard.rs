//! Slows and then stops password guessing, per client address, on every credential check:
//! SMTP AUTH, HTTP Basic on the MM7 and admin listeners, the console's `login`. The habit of
//! Postfix's anvil and of fail2ban: the first few failures cost nothing (a user mistypes),
//! later ones are answered slowly, and past a limit the address is refused outright for a while,
//! right password or not, so a guesser gets a handful of tries per lockout period.
//!
//! Failures are counted in metrics (`impulse_auth_failures_total{service}`) and logged once per
//! burst (the first failure, the lockout), not once each: an attack must not flood the logs.
//!
//! Addresses are counted by client: an IPv4 address, or an IPv6 /64 (one host's share; a
//! guesser holding a /64 would otherwise have 2^64 fresh addresses). A success does not wipe
//! the count: a valid account on one service must not buy unlimited guesses on another.
//!
//! A plain value fed the time ([`Guard::check`], [`Guard::failed`] take `now`), so tests drive
//! it without waiting; [`global`] is the process's one instance.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use impulse_smtp::inbound::client;

/// Failures answered at once: typing mistakes.
const FREE_FAILURES: u32 = 3;
/// Delay of each failed answer past the free ones.
const FAILURE_DELAY: Duration = Duration::from_secs(1);
/// Failures, within [`WINDOW`], after which the address is locked out.
const LOCK_AFTER: u32 = 10;
/// How long a locked-out address is refused.
const LOCKOUT: Duration = Duration::from_secs(300);
/// Failures older than this are forgotten.
const WINDOW: Duration = Duration::from_secs(600);
/// Clients tracked at once; past it, stale entries are dropped, then the least recently failing
/// one (memory stays bounded).
const MAX_TRACKED: usize = 65_536;

#[derive(Clone, Copy, Debug)]
struct Entry {
    failures: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

/// Whether a credential check from an address may go ahead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    Open,
    /// Locked out for this long still: refuse without checking.
    Locked(Duration),
}

#[derive(Debug, Default)]
pub struct Guard {
    entries: Mutex<HashMap<IpAddr, Entry>>,
}

impl Guard {
    /// Before checking credentials from `ip`.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Gate {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(&client(ip)).and_then(|e| e.locked_until) {
            Some(until) if until > now => Gate::Locked(until - now),
            _ => Gate::Open,
        }
    }

    /// A failed check from `ip` for `service`; returns how long to wait before answering.
    pub fn failed(&self, ip: IpAddr, service: &'static str, now: Instant) -> Duration {
        crate::ops::events::emit(crate::ops::events::Event::AuthFailure { service });
        let ip = client(ip);
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_TRACKED && !entries.contains_key(&ip) {
            entries.retain(|_, e| {
                now.duration_since(e.last) < WINDOW || e.locked_until.is_some_and(|u| u > now)
            });
            if entries.len() >= MAX_TRACKED
                && let Some(oldest) = entries.iter().min_by_key(|(_, e)| e.last).map(|(k, _)| *k)
            {
                entries.remove(&oldest);
            }
        }
        let e = entries.entry(ip).or_insert(Entry {
            failures: 0,
            last: now,
            locked_until: None,
        });
        if now.duration_since(e.last) >= WINDOW || e.locked_until.is_some_and(|u| u <= now) {
            // A new burst: the old one is forgotten (and a lockout served).
            *e = Entry {
                failures: 0,
                last: now,
                locked_until: None,
            };
        }
        e.failures += 1;
        e.last = now;
        if e.failures == 1 {
            tracing::warn!(%ip, service, "credentials refused (further failures from this address are counted, not logged, until it is locked out)");
        }
        if e.failures >= LOCK_AFTER && e.locked_until.is_none() {
            e.locked_until = Some(now + LOCKOUT);
            tracing::warn!(%ip, service, failures = e.failures, lockout_s = LOCKOUT.as_secs(), "address locked out after repeated credential failures");
            crate::ops::events::emit(crate::ops::events::Event::AuthLockout { service });
        }
        if e.failures > FREE_FAILURES {
            FAILURE_DELAY
        } else {
            Duration::ZERO
        }
    }
}

/// The process's guard, shared by every listener: a guesser gains nothing by switching service.
pub fn global() -> &'static Guard {
    static GUARD: OnceLock<Guard> = OnceLock::new();
    GUARD.get_or_init(Guard::default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mistakes_are_free_guessing_is_slowed_then_locked_out() {
        let g = Guard::default();
        let ip: IpAddr = "127.0.0.9".parse().unwrap();
        let other: IpAddr = "127.0.0.10".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..FREE_FAILURES {
            assert_eq!(g.failed(ip, "test", t0), Duration::ZERO);
        }
        assert_eq!(g.check(ip, t0), Gate::Open);
        for _ in FREE_FAILURES..LOCK_AFTER {
            assert_eq!(g.failed(ip, "test", t0), FAILURE_DELAY);
        }
        assert_eq!(g.check(ip, t0), Gate::Locked(LOCKOUT));
        assert_eq!(g.check(other, t0), Gate::Open, "per address");
        let later = t0 + LOCKOUT - Duration::from_secs(1);
        assert_eq!(g.check(ip, later), Gate::Locked(Duration::from_secs(1)));
        // The lockout served, the address starts afresh.
        let after = t0 + LOCKOUT;
        assert_eq!(g.check(ip, after), Gate::Open);
        assert_eq!(g.failed(ip, "test", after), Duration::ZERO);
    }

    #[test]
    fn time_forgets_failures_and_a_v6_host_is_its_64() {
        let g = Guard::default();
        let ip: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let t0 = Instant::now();
        for i in 0..LOCK_AFTER - 1 {
            // Each guess from another address of the same /64.
            let other: IpAddr = format!("2001:db8:1:2::{:x}", i + 2).parse().unwrap();
            g.failed(other, "test", t0);
        }
        assert_eq!(g.check(ip, t0), Gate::Open);
        g.failed(ip, "test", t0);
        assert_eq!(g.check(ip, t0), Gate::Locked(LOCKOUT));
        assert_eq!(g.check("2001:db8:1:3::1".parse().unwrap(), t0), Gate::Open);
        let ip: IpAddr = "::1".parse().unwrap();
        for _ in 0..LOCK_AFTER - 2 {
            g.failed(ip, "test", t0);
        }
        // The window passes: a new burst.
        assert_eq!(g.failed(ip, "test", t0 + WINDOW), Duration::ZERO);
        assert_eq!(g.check(ip, t0 + WINDOW), Gate::Open);
    }
}
