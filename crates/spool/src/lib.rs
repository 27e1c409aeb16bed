//! The durable spool: every message Impulse has acknowledged lives here until each of its
//! recipients is delivered or failed.
//!
//! The interface is domain-level, not a key-value store, and comes in three parts:
//! [`QueueStore`] (enqueue, lease due work per destination, record outcomes: what the
//! listeners and the scheduler need), [`MobileStore`] (SMS bookkeeping: submissions, reverse
//! mappings, MO parts) and [`QueueQueries`] (what operators read and move). Each backend uses
//! its own strengths behind them: the embedded SQLite backend commits groups of writes in one
//! transaction on one writer thread; a PostgreSQL backend for several nodes can lease with
//! `FOR UPDATE SKIP LOCKED`. Every backend passes the same suite, [`conformance`].
//!
//! A message body is stored once; the envelope keeps one row per recipient with its own state,
//! due time, attempt count and last response, so a crash re-delivers only what was not done.
#![forbid(unsafe_code)]

#[cfg(feature = "conformance")]
pub mod conformance;
mod postgres;
mod request;
mod sqlite;
#[cfg(feature = "conformance")]
pub mod test_postgres;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

pub use postgres::{NodeInfo, PgOptions, PgSpool, SharedFailOrder};
pub use sqlite::SqliteSpool;

/// A spooled message. Displayed as 12 hex digits, which is what logs and the console show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(pub i64);

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:012X}", self.0)
    }
}

impl std::str::FromStr for MessageId {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        i64::from_str_radix(s, 16).map(MessageId)
    }
}

/// One recipient of one spooled message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecipientId(pub i64);

/// Milliseconds since the Unix epoch: the spool's clock unit.
pub type Millis = i64;

pub fn now_millis() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Where a recipient is delivered: its domain and the binding chosen for it ("" = default).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Destination {
    pub domain: String,
    pub binding: String,
}

#[derive(Clone, Debug)]
pub struct NewRecipient {
    pub address: String,
    pub destination: Destination,
}

/// A message to spool, as accepted from a listener.
#[derive(Clone, Debug)]
pub struct NewMessage {
    pub sender: String,
    pub recipients: Vec<NewRecipient>,
    pub body: Vec<u8>,
    /// Peer IP address (or a label such as "internal" for generated bounces).
    pub peer: String,
    /// Reception protocol for the logs: "esmtp", "internal", later "smpp", "mm7".
    pub protocol: String,
    pub received_at: Millis,
}

/// What a scheduler holds while it delivers one recipient.
#[derive(Clone, Debug)]
pub struct Lease {
    pub recipient: RecipientId,
    pub message: MessageId,
    pub address: String,
    pub destination: Destination,
    /// Attempts made before this one.
    pub attempts: u32,
    pub received_at: Millis,
    /// When it was due: the time this try was scheduled for.
    pub due: Millis,
    /// The fencing token of this lease: a shared spool's epoch of the node that took it (0 for
    /// a spool of one node). Its outcome is recorded only while the lease still carries it.
    pub fence: i64,
    /// The recipient was leased before and put back without an attempt counted: a process (of
    /// this node or another) may have been delivering it when it died, so what that attempt
    /// recorded (accepted segments) must be consulted. A spool of one node says this through
    /// [`QueueStore::opened_at`] instead, and leaves it false.
    pub leased_before: bool,
}

impl Lease {
    /// What an outcome names: this recipient under this lease.
    pub fn reference(&self) -> LeaseRef {
        LeaseRef {
            recipient: self.recipient,
            message: self.message,
            fence: self.fence,
        }
    }
}

/// The lease an outcome is for: the recipient, and the fencing token the lease carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LeaseRef {
    pub recipient: RecipientId,
    /// The recipient's message: a shared spool locks it before removing its last recipient.
    pub message: MessageId,
    pub fence: i64,
}

/// The leased recipients of one message, with the message itself.
#[derive(Debug)]
pub struct LeasedMessage {
    pub message: Result<Arc<StoredMessage>, SpoolError>,
    pub leases: Vec<Lease>,
}

/// What one lease call returns.
#[derive(Debug, Default)]
pub struct Leased {
    pub messages: Vec<LeasedMessage>,
    /// Earliest due time of the destination's recipients still queued after this lease.
    pub next_due: Option<Millis>,
}

impl Leased {
    pub fn recipients(&self) -> usize {
        self.messages.iter().map(|m| m.leases.len()).sum()
    }
}

/// A message's content and envelope sender.
#[derive(Clone, Debug)]
pub struct StoredMessage {
    pub id: MessageId,
    pub sender: String,
    pub body: Arc<[u8]>,
    pub peer: String,
    pub protocol: String,
    pub received_at: Millis,
}

/// What happened to one leased recipient.
#[derive(Clone, Debug)]
pub enum Outcome {
    Delivered {
        response: String,
    },
    /// Temporary failure: try again at `due`.
    Retry {
        due: Millis,
        response: String,
    },
    /// Permanent failure (or expiry): never try again.
    Failed {
        response: String,
    },
    /// The record could not be read; kept aside for an operator, never delivered or deleted.
    Quarantined {
        reason: String,
    },
    /// Put back untried (shutdown, connector unavailable) without counting an attempt.
    Released {
        due: Millis,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecipientState {
    Queued,
    Leased,
    Quarantined,
}

/// A row of `list`: one recipient still in the spool.
#[derive(Clone, Debug)]
pub struct RecipientInfo {
    pub recipient: RecipientId,
    pub message: MessageId,
    pub sender: String,
    pub address: String,
    pub destination: Destination,
    pub state: RecipientState,
    pub due: Millis,
    pub attempts: u32,
    pub last_response: Option<String>,
    pub received_at: Millis,
}

/// Which queued recipients an operator's command acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection {
    /// Every recipient of a domain, whatever its binding.
    Domain(String),
    /// Every recipient of a message.
    Message(MessageId),
    /// Every recipient leaving by a binding (its name, case-sensitive), whatever its domain.
    Binding(String),
    /// Every recipient of one destination: a domain through a binding.
    Destination(Destination),
}

/// What one destination's queue holds, for the console and metrics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueCounts {
    pub destination: Destination,
    /// Being delivered, or due now.
    pub active: u64,
    /// Waiting for a later try.
    pub delayed: u64,
    /// Unreadable records kept aside.
    pub quarantined: u64,
    /// When the oldest message still queued here was received.
    pub oldest: Millis,
}

/// Queued work per destination, for the scheduler's start and periodic rescans.
#[derive(Clone, Debug)]
pub struct DestinationDue {
    pub destination: Destination,
    pub next_due: Millis,
}

/// A reverse address mapping: replies from `sms_addr` to `shortcode` go to `email_addr`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReverseMapping {
    pub domain: String,
    pub sms_addr: String,
    pub shortcode: String,
    pub email_addr: String,
    pub expires: Millis,
}

/// One part of a concatenated MO SMS, stored as it arrived so that the SMSC can be answered at
/// once and the message assembled when its last part is here, from whichever bind each part
/// came on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MoPart {
    /// What identifies its message: source, destination, reference kind and value, part count.
    pub key: String,
    pub seq: u32,
    pub total: u32,
    /// The payload after its user data header, undecoded (septets, octets or UCS-2 units), so
    /// that a character split between parts is joined before it is decoded.
    pub data: Vec<u8>,
    pub data_coding: u8,
    /// The bind it came on.
    pub domain: String,
    pub binding: String,
    pub source: String,
    pub dest: String,
    /// Opaque to the spool: what the caller keeps with the part (its vendor TLVs).
    pub meta: String,
    pub received_at: Millis,
}

/// What storing an MO part found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MoPartStored {
    /// The same part (key and number) was stored before: answered, not kept again.
    Duplicate,
    /// Stored; when it completed its message, every part in order.
    Stored { complete: Option<Vec<MoPart>> },
}

/// One SMS segment the SMSC accepted, stored under `key` (a normalised form of its id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submission {
    pub key: String,
    /// The SMSC's message id as it came.
    pub smsc_id: String,
    /// The spooled message it was part of.
    pub message: String,
    pub domain: String,
    /// The recipient (`<number>@<domain>`).
    pub recipient: String,
    /// The mail's envelope sender (where notifications go).
    pub sender: String,
    pub segment: u32,
    pub total: u32,
    pub submitted_at: Millis,
}

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool storage error: {0}")]
    Storage(String),
    #[error("spool is shut down")]
    Closed,
    #[error("record {0} is unreadable: {1}")]
    Unreadable(MessageId, String),
    #[error("no such message {0}")]
    NotFound(MessageId),
    #[error(
        "the spool was written by a newer Impulse (schema {found}; this one reads up to \
         {supported}): run that version, or move the spool aside"
    )]
    NewerSchema { found: i64, supported: i64 },
}

/// The queue core: what every message goes through, whatever its protocol. A backend commits
/// each call's writes before its future resolves, so a listener may acknowledge after `enqueue`
/// and a scheduler may forget a lease after `record`.
pub trait QueueStore: Send + Sync + 'static {
    /// Stores a message durably. When this returns `Ok`, the message survives a crash: only
    /// then may the listener acknowledge it (SMTP 250, deliver_sm_resp, DeliverRsp).
    fn enqueue(
        &self,
        msg: NewMessage,
    ) -> impl Future<Output = Result<MessageId, SpoolError>> + Send;

    /// Leases up to `limit` recipients of `dest` due at or before `now`, oldest due first,
    /// grouped by message with each message's content (or why it could not be read), and the
    /// earliest due time of what is still queued for `dest`.
    fn lease_due(
        &self,
        dest: &Destination,
        now: Millis,
        limit: usize,
    ) -> impl Future<Output = Result<Leased, SpoolError>> + Send;

    /// Records outcomes of leases this handle took; delivered and failed recipients leave the
    /// spool, and a message leaves with its last recipient. All outcomes of one call commit
    /// together. A spool shared by several nodes refuses (logs and counts, without an error) the
    /// outcome of a lease that no longer holds (its fence is not the recipient's lease's any
    /// more): another node, or a later lease, has the recipient now.
    fn record(
        &self,
        outcomes: Vec<(LeaseRef, Outcome)>,
    ) -> impl Future<Output = Result<(), SpoolError>> + Send;

    /// Reads a message's body and sender.
    fn load(&self, id: MessageId)
    -> impl Future<Output = Result<StoredMessage, SpoolError>> + Send;

    /// Destinations with queued recipients and when each is next due.
    fn destinations(&self) -> impl Future<Output = Result<Vec<DestinationDue>, SpoolError>> + Send;

    /// The earliest due time of queued recipients of `dest`.
    fn next_due(
        &self,
        dest: &Destination,
    ) -> impl Future<Output = Result<Option<Millis>, SpoolError>> + Send;

    /// When this handle was opened: a recipient received earlier may have been in flight in an
    /// earlier run, so what that run recorded about it (accepted segments) must be consulted.
    fn opened_at(&self) -> Millis;
}

/// Mobile bookkeeping: what SMS and MMS need beyond the queue (submissions and the ids
/// receipts are matched by, reverse address mappings, concatenated MO parts).
pub trait MobileStore: Send + Sync + 'static {
    /// Remembers who sent an SMS, so that a reply without an address finds its way back
    /// (Momentum's reverse address mappings): only the latest sender per (domain, handset,
    /// short code) is kept, until `expires`. The write is queued when this is called; writes
    /// commit in call order, so the future may be dropped when the answer is not needed.
    fn save_mapping(
        &self,
        mapping: ReverseMapping,
    ) -> impl Future<Output = Result<(), SpoolError>> + Send;

    /// The email address a reply from `sms_addr` to `shortcode` in `domain` goes to, if a
    /// mapping exists and has not expired at `now`.
    fn lookup_mapping(
        &self,
        domain: &str,
        sms_addr: &str,
        shortcode: &str,
        now: Millis,
    ) -> impl Future<Output = Result<Option<String>, SpoolError>> + Send;

    /// Remembers SMS segments the SMSC accepted, under each key their message id may be looked
    /// up by, so that delivery receipts can be matched to them. Queued when called, like
    /// `save_mapping`: a later `record` that succeeds implies these are stored too.
    fn record_submissions(
        &self,
        submissions: Vec<Submission>,
    ) -> impl Future<Output = Result<(), SpoolError>> + Send + 'static;

    /// Segments of a message already accepted for a recipient (segment number, SMSC id), so a
    /// retry submits only the others.
    fn accepted_segments(
        &self,
        message: String,
        recipient: String,
    ) -> impl Future<Output = Result<Vec<(u32, String)>, SpoolError>> + Send;

    /// The submissions stored under any of `keys`.
    fn find_submissions(
        &self,
        keys: Vec<String>,
    ) -> impl Future<Output = Result<Vec<Submission>, SpoolError>> + Send;

    /// Stores one part of a concatenated MO durably (the SMSC is answered after this commits);
    /// returns every part, claimed for the caller to mail, when this one completed the message.
    fn store_mo_part(
        &self,
        part: MoPart,
    ) -> impl Future<Output = Result<MoPartStored, SpoolError>> + Send;

    /// The claimed parts `seqs` of `key` (returned complete by [`MobileStore::store_mo_part`] or by
    /// [`MobileStore::stale_mo_parts`]) were `mailed`: kept only to recognise late duplicates, and
    /// removed by [`MobileStore::stale_mo_parts`] once older than its cut-off. Not mailed: they wait
    /// again.
    fn mo_done(
        &self,
        key: String,
        seqs: Vec<u32>,
        mailed: bool,
    ) -> impl Future<Output = Result<(), SpoolError>> + Send;

    /// Messages with a waiting part that arrived before `before` (at most 100): their waiting
    /// parts, claimed for the caller to mail (incomplete messages, and complete ones a crash
    /// left unmailed). Parts of mailed messages older than `forget_before` are deleted.
    fn stale_mo_parts(
        &self,
        before: Millis,
        forget_before: Millis,
    ) -> impl Future<Output = Result<Vec<Vec<MoPart>>, SpoolError>> + Send;
}

/// Operator queries and commands (console, admin API, metrics): read the queues, move work.
pub trait QueueQueries: Send + Sync + 'static {
    /// Recipients still in the spool for `dest` (all destinations when `None`).
    fn list(
        &self,
        dest: Option<&Destination>,
        limit: usize,
        offset: usize,
    ) -> impl Future<Output = Result<Vec<RecipientInfo>, SpoolError>> + Send;

    /// All recipients still in the spool of one message.
    fn inspect(
        &self,
        id: MessageId,
    ) -> impl Future<Output = Result<Vec<RecipientInfo>, SpoolError>> + Send;

    /// Every destination's queue: active (leased or due by `now`), delayed, quarantined.
    fn queue_counts(
        &self,
        now: Millis,
    ) -> impl Future<Output = Result<Vec<QueueCounts>, SpoolError>> + Send;

    /// Makes the selected queued (not leased) recipients due at `due`; returns the
    /// destinations that had any, so the scheduler can be told.
    fn reschedule(
        &self,
        selection: Selection,
        due: Millis,
    ) -> impl Future<Output = Result<Vec<Destination>, SpoolError>> + Send;

    /// Moves the selected queued (not leased) recipients to the destination `to`, due at
    /// `due` (console `reroute queue`); returns `[to]` when any moved, else nothing.
    fn reroute(
        &self,
        selection: Selection,
        to: Destination,
        due: Millis,
    ) -> impl Future<Output = Result<Vec<Destination>, SpoolError>> + Send;
}

/// The spool as the rest of Impulse sees it: the three interfaces of one backend. Code that
/// needs only one of them asks for that one; every backend implements all three and passes
/// the suite in [`conformance`] (feature `conformance`).
pub trait Spool: QueueStore + MobileStore + QueueQueries + Clone {}

impl<T: QueueStore + MobileStore + QueueQueries + Clone> Spool for T {}
