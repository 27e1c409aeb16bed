//! The scheduler: takes due recipients from the spool and hands them to the connector of
//! their destination's delivery method, then records what happened.
//!
//! Design (after Postfix's qmgr and Stalwart's queue manager):
//! - Work is found through the spool's due-time index, per destination; the whole spool is
//!   never scanned (a periodic rescan asks the spool only for per-destination summaries).
//! - Each destination (domain + binding) has its own bounded active queue and its own
//!   connection budget (`Max_Outbound_Connections`); a session task per connection pulls
//!   messages from that queue and reuses its connection until idle. A slow destination only
//!   ties up its own sessions, never another destination's.
//! - Outcomes are decided in one place ([`retry::decide`]): delivered, retry with doubling
//!   delay, or failed (permanent answer, retries exhausted, expired, Never_Retry).
//!
//! The scheduler knows nothing of SMTP, SMPP or MM7: a [`Connector`] does the talking.
#![forbid(unsafe_code)]

pub mod retry;
mod scheduler;

use std::future::Future;

use impulse_spool::{Destination, Lease, Millis, Outcome, StoredMessage};

pub use retry::DestinationPolicy;
pub use scheduler::{Handle, Scheduler};

/// How a delivery attempt ended for one recipient.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Delivered,
    Temporary,
    Permanent,
}

/// One attempt's result for one recipient, with what the logs need.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub verdict: Verdict,
    /// The remote (or internal) response, e.g. `250 2.0.0 Ok` or `451 4.4.1 connect failed`.
    pub response: String,
    /// The remote host's address, when a connection was made.
    pub remote: Option<String>,
    /// Momentum connection stage at which the attempt ended (0 when not connected).
    pub stage: u8,
}

/// A delivery method. SMTP, SMPP and MM7 each implement it; the binary's router picks one
/// per destination and is itself the connector the scheduler drives.
pub trait Connector: Send + Sync + 'static {
    /// One connection (or bind) to a destination, reused for several messages.
    type Session: Send + 'static;

    /// Opens a session. An `Err` is the attempt of every message waiting for the destination.
    fn open(
        &self,
        dest: &Destination,
    ) -> impl Future<Output = Result<Self::Session, Attempt>> + Send;

    /// Delivers one message to `recipients` (all of one destination). Returns one attempt per
    /// recipient, in order; an `Err` means the session broke and applies to all of them.
    fn deliver(
        &self,
        session: &mut Self::Session,
        message: &StoredMessage,
        recipients: &[Lease],
    ) -> impl Future<Output = Result<Vec<Attempt>, Attempt>> + Send;

    /// Ends a session that is no longer needed.
    fn close(&self, session: Self::Session) -> impl Future<Output = ()> + Send;
}

/// Where the scheduler reads the time that due times, retries and expiry are measured against,
/// in the spool's unit. Injected, so that a test can run hours of retries on tokio's paused
/// time (see [`TokioClock`]) instead of waiting for them.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Millis;
}

/// The wall clock: what the gateway runs on.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Millis {
        impulse_spool::now_millis()
    }
}

/// A clock that follows tokio's time from a starting wall-clock value: under
/// `tokio::time::pause`, it advances exactly as far as the runtime's timers do.
#[derive(Clone, Copy, Debug)]
pub struct TokioClock {
    start: tokio::time::Instant,
    at_start: Millis,
}

impl TokioClock {
    /// Reads `at_start` at tokio's current instant.
    pub fn starting_at(at_start: Millis) -> Self {
        TokioClock {
            start: tokio::time::Instant::now(),
            at_start,
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Millis {
        self.at_start + self.start.elapsed().as_millis() as Millis
    }
}

/// Per-destination settings, resolved from the configuration.
pub trait Policy: Send + Sync + 'static {
    fn policy(&self, dest: &Destination) -> DestinationPolicy;
}

/// What happened to each recipient of one message in one pass, for logs and bounces.
#[derive(Debug)]
pub struct Report<'a> {
    pub lease: &'a Lease,
    pub attempt: &'a Attempt,
    pub outcome: &'a Outcome,
}

/// Told of every outcome *before* it is recorded in the spool, so that a bounce is spooled
/// before the failed recipient leaves: a crash in between repeats work rather than losing it.
pub trait Observer: Send + Sync + 'static {
    fn outcomes(
        &self,
        message: Option<&StoredMessage>,
        reports: &[Report<'_>],
    ) -> impl Future<Output = ()> + Send;
}
