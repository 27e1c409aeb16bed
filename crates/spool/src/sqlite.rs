//! The embedded spool backend: one SQLite database in WAL mode with `synchronous=FULL`.
//!
//! One writer thread owns the write connection and commits *groups* of requests: it blocks for
//! the first request, takes every other request already waiting (up to `MAX_GROUP`), applies
//! them in one transaction (falling back to one savepoint per request only when one fails, so
//! a failing request spoils nothing else), commits once (one fsync when the group holds a new
//! message or MO part), and only then answers each caller.
//! So an acknowledgement is never sent before its commit, and many concurrent SMTP sessions
//! share one fsync. Reads run on a small pool of reader connections, which WAL lets proceed
//! while the writer commits.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use tokio::sync::oneshot;

use crate::request::{Produced, Request, answer};
use crate::{
    Destination, DestinationDue, Lease, LeaseRef, Leased, LeasedMessage, MessageId, Millis, MoPart,
    MoPartStored, MobileStore, NewMessage, Outcome, QueueCounts, QueueQueries, QueueStore,
    RecipientId, RecipientInfo, RecipientState, ReverseMapping, Selection, SpoolError,
    StoredMessage, Submission,
};

/// Most requests committed in one transaction. Bounds the latency one commit adds to the
/// first request of a group while still sharing the fsync among many sessions.
const MAX_GROUP: usize = 512;
const READERS: usize = 4;

/// The one mapping between a recipient's state and the code stored for it. Queries that must
/// use the partial index `WHERE state = 0` name the queued (0) and leased (1) codes literally;
/// a unit test checks that they agree.
const fn state_code(state: RecipientState) -> i64 {
    match state {
        RecipientState::Queued => 0,
        RecipientState::Leased => 1,
        RecipientState::Quarantined => 4,
    }
}

fn state_of(code: i64) -> Option<RecipientState> {
    [
        RecipientState::Queued,
        RecipientState::Leased,
        RecipientState::Quarantined,
    ]
    .into_iter()
    .find(|s| state_code(*s) == code)
}

const STATE_QUEUED: i64 = state_code(RecipientState::Queued);
const STATE_LEASED: i64 = state_code(RecipientState::Leased);
const STATE_QUARANTINED: i64 = state_code(RecipientState::Quarantined);

/// The schema this code writes, kept in SQLite's `user_version`. 1: submissions keyed without
/// their recipient (before submit_multi); 2: keyed with it. A spool written by a newer Impulse
/// is refused rather than misread.
const SCHEMA_VERSION: i64 = 2;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS messages (
    -- AUTOINCREMENT: a message id is never reused, even after the newest message leaves the
    -- spool; logs, receipts and retry bookkeeping refer to messages by it.
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at INTEGER NOT NULL,
    sender      TEXT NOT NULL,
    peer        TEXT NOT NULL,
    protocol    TEXT NOT NULL,
    body        BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS recipients (
    id            INTEGER PRIMARY KEY,
    message_id    INTEGER NOT NULL,
    address       TEXT NOT NULL,
    domain        TEXT NOT NULL,
    binding       TEXT NOT NULL,
    state         INTEGER NOT NULL,
    due           INTEGER NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_response TEXT
);
CREATE INDEX IF NOT EXISTS recipients_due ON recipients (domain, binding, due) WHERE state = 0;
CREATE INDEX IF NOT EXISTS recipients_message ON recipients (message_id);
CREATE TABLE IF NOT EXISTS submissions (
    key          TEXT NOT NULL,
    smsc_id      TEXT NOT NULL,
    message      TEXT NOT NULL,
    domain       TEXT NOT NULL,
    recipient    TEXT NOT NULL,
    sender       TEXT NOT NULL,
    segment      INTEGER NOT NULL,
    total        INTEGER NOT NULL,
    submitted_at INTEGER NOT NULL,
    -- With the recipient: one submit_multi gives all its recipients the same id.
    PRIMARY KEY (key, message, recipient, segment)
);
CREATE INDEX IF NOT EXISTS submissions_message ON submissions (message, recipient);
CREATE INDEX IF NOT EXISTS submissions_age ON submissions (submitted_at);
CREATE TABLE IF NOT EXISTS reverse_mappings (
    domain     TEXT NOT NULL,
    sms_addr   TEXT NOT NULL,
    shortcode  TEXT NOT NULL,
    email_addr TEXT NOT NULL,
    expires    INTEGER NOT NULL,
    PRIMARY KEY (domain, sms_addr, shortcode)
);
CREATE INDEX IF NOT EXISTS reverse_mappings_expiry ON reverse_mappings (expires);
CREATE TABLE IF NOT EXISTS mo_parts (
    key         TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    total       INTEGER NOT NULL,
    data        BLOB NOT NULL,
    data_coding INTEGER NOT NULL,
    domain      TEXT NOT NULL,
    binding     TEXT NOT NULL,
    source      TEXT NOT NULL,
    dest        TEXT NOT NULL,
    meta        TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    -- 0 waiting for the rest; 2 claimed (being mailed); 1 mailed, kept a while to answer late
    -- duplicates at once.
    done        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (key, seq)
);
CREATE INDEX IF NOT EXISTS mo_parts_waiting ON mo_parts (received_at) WHERE done = 0;
CREATE INDEX IF NOT EXISTS mo_parts_mailed ON mo_parts (received_at) WHERE done = 1;
";

/// The SQLite spool. Cheap to clone; all clones share the writer thread and readers.
#[derive(Clone)]
pub struct SqliteSpool {
    writer: mpsc::Sender<Request>,
    readers: Arc<Mutex<Vec<Connection>>>,
    path: PathBuf,
    opened_at: Millis,
}

fn storage(e: impl std::fmt::Display) -> SpoolError {
    SpoolError::Storage(e.to_string())
}

fn open_connection(path: &Path) -> Result<Connection, SpoolError> {
    let conn = Connection::open(path).map_err(storage)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 10000;",
    )
    .map_err(storage)?;
    Ok(conn)
}

/// Creates the schema, or brings a spool written by an earlier version up to date, and records
/// the version written; refuses a spool from a newer version.
fn migrate(conn: &Connection) -> Result<(), SpoolError> {
    let found: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(storage)?;
    if found > SCHEMA_VERSION {
        return Err(SpoolError::NewerSchema {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    conn.execute_batch(SCHEMA).map_err(storage)?;
    if found < 2 {
        migrate_submission_keys(conn)?;
    }
    conn.pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(storage)
}

/// Version 1 to 2 (spools from before versioning say 0): a submission's key gains its
/// recipient.
fn migrate_submission_keys(conn: &Connection) -> Result<(), SpoolError> {
    let submissions: String = conn
        .query_row(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'submissions'",
            [],
            |r| r.get(0),
        )
        .map_err(storage)?;
    // Before submit_multi, a submission's key did not include its recipient.
    if submissions.contains("PRIMARY KEY (key, message, segment)") {
        conn.execute_batch(
            "BEGIN IMMEDIATE;
             ALTER TABLE submissions RENAME TO submissions_v0;
             DROP INDEX IF EXISTS submissions_message;
             DROP INDEX IF EXISTS submissions_age;",
        )
        .map_err(storage)?;
        let done = conn
            .execute_batch(SCHEMA)
            .and_then(|()| {
                conn.execute_batch(
                    "INSERT INTO submissions SELECT * FROM submissions_v0;
                     DROP TABLE submissions_v0;
                     COMMIT;",
                )
            })
            .map_err(storage);
        if done.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        done?;
        tracing::info!("spool: submissions table migrated (recipient in its key)");
    }
    Ok(())
}

impl SqliteSpool {
    /// Opens (or creates) the spool in `dir`. Recipients that were leased when the process
    /// stopped are queued again: their delivery outcome was never recorded.
    pub fn open(dir: &Path) -> Result<(Self, u64), SpoolError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| SpoolError::Storage(format!("{}: {e}", dir.display())))?;
        let path = dir.join("spool.db");
        let conn = open_connection(&path)?;
        migrate(&conn)?;
        let resumed = conn
            .execute(
                "UPDATE recipients SET state = ?1 WHERE state = ?2",
                params![STATE_QUEUED, STATE_LEASED],
            )
            .map_err(storage)? as u64;
        // MO parts claimed by a run that stopped before it mailed them wait again.
        conn.execute("UPDATE mo_parts SET done = 0 WHERE done = 2", [])
            .map_err(storage)?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let r = open_connection(&path)?;
            r.execute_batch("PRAGMA query_only = ON;")
                .map_err(storage)?;
            readers.push(r);
        }
        let (tx, rx) = mpsc::channel();
        thread::Builder::new()
            .name("spool-writer".into())
            .spawn(move || writer_loop(conn, rx))
            .map_err(storage)?;
        Ok((
            SqliteSpool {
                writer: tx,
                readers: Arc::new(Mutex::new(readers)),
                path,
                opened_at: crate::now_millis(),
            },
            resumed,
        ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Queues a write at once, before the returned future is first polled: writes reach the
    /// writer thread in call order, so a caller that does not need the confirmation can drop
    /// the future, and a later write that commits implies this one committed too.
    fn write<T: Send + 'static>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, SpoolError>>) -> Request,
    ) -> impl Future<Output = Result<T, SpoolError>> + Send + 'static {
        let (tx, rx) = oneshot::channel();
        let sent = self.writer.send(make(tx));
        async move {
            sent.map_err(|_| SpoolError::Closed)?;
            rx.await.map_err(|_| SpoolError::Closed)?
        }
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, SpoolError> + Send + 'static,
    ) -> Result<T, SpoolError> {
        let readers = self.readers.clone();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let conn = readers.lock().map_err(storage)?.pop();
            let conn = match conn {
                Some(c) => c,
                None => open_connection(&path)?,
            };
            let result = f(&conn);
            if let Ok(mut pool) = readers.lock()
                && pool.len() < READERS
            {
                pool.push(conn);
            }
            result
        })
        .await
        .map_err(storage)?
    }
}

fn writer_loop(mut conn: Connection, rx: mpsc::Receiver<Request>) {
    let mut full_sync = true;
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(r) => group.push(r),
                Err(_) => break,
            }
        }
        // A group that acknowledges a new message commits with its own fsync. A group of only
        // leases and outcomes does not: the WAL is written in order, so the next fsync makes
        // it durable too, and if power fails first the worst case is a repeated delivery.
        let needs_sync = group
            .iter()
            .any(|r| matches!(r, Request::Enqueue(..) | Request::MoPart(..)));
        if needs_sync != full_sync {
            let pragma = if needs_sync {
                "PRAGMA synchronous = FULL"
            } else {
                "PRAGMA synchronous = NORMAL"
            };
            match conn.execute_batch(pragma) {
                Ok(()) => full_sync = needs_sync,
                Err(e) => tracing::error!(error = %e, "cannot change the spool's sync mode"),
            }
        }
        apply_group(&mut conn, group);
    }
}

fn execute(conn: &Connection, req: &Request) -> Produced {
    match req {
        Request::Enqueue(m, _) => Produced::Enqueue(enqueue(conn, m)),
        Request::Lease(d, now, limit, _) => Produced::Lease(lease(conn, d, *now, *limit)),
        Request::Record(o, _) => Produced::Unit(record(conn, o)),
        Request::Mapping(m, _) => Produced::Unit(save_mapping(conn, m)),
        Request::Submissions(subs, _) => Produced::Unit(save_submissions(conn, subs)),
        Request::MoPart(p, _) => Produced::MoPart(store_mo_part(conn, p)),
        Request::MoDone(key, seqs, mailed, _) => Produced::Unit(mo_done(conn, key, seqs, *mailed)),
        Request::MoStale(before, forget, _) => {
            Produced::MoParts(stale_mo_parts(conn, *before, *forget))
        }
        Request::Reschedule(sel, due, to, _) => {
            Produced::Destinations(reschedule(conn, sel, *due, to.as_ref()))
        }
    }
}

/// Applies a group of requests in one transaction and answers each once it has committed.
///
/// The group first runs without savepoints (they cost a statement journal per request). If a
/// request fails, that transaction is rolled back and the group runs again with each request
/// in its own savepoint, so the failing request is refused alone and leaves nothing behind.
///
/// Each group's time from its first statement to its commit is recorded as the
/// `impulse_spool_commit_seconds` histogram (a no-op unless the binary installed a recorder).
fn apply_group(conn: &mut Connection, group: Vec<Request>) {
    let started = std::time::Instant::now();
    let fast = (|| -> Result<Option<Vec<Produced>>, SpoolError> {
        let tx = conn.transaction().map_err(storage)?;
        let mut produced = Vec::with_capacity(group.len());
        for req in &group {
            let p = execute(&tx, req);
            if !p.is_ok() {
                return Ok(None); // dropping `tx` rolls it back
            }
            produced.push(p);
        }
        commit_tx(tx)?;
        Ok(Some(produced))
    })();
    let committed = match fast {
        Ok(Some(produced)) => Ok(produced),
        Ok(None) => apply_with_savepoints(conn, &group),
        Err(e) => Err(e),
    };
    metrics::histogram!("impulse_spool_commit_seconds").record(started.elapsed().as_secs_f64());
    if let Err(e) = &committed {
        tracing::error!(error = %e, "spool commit failed; every request of the group was refused");
    }
    match committed {
        Ok(produced) => {
            for (req, p) in group.into_iter().zip(produced) {
                answer(req, p);
            }
        }
        Err(e) => {
            for req in group {
                let p = Produced::failed(&req, &e);
                answer(req, p);
            }
        }
    }
}

fn apply_with_savepoints(
    conn: &mut Connection,
    group: &[Request],
) -> Result<Vec<Produced>, SpoolError> {
    let mut tx = conn.transaction().map_err(storage)?;
    let mut produced = Vec::with_capacity(group.len());
    for req in group {
        let mut sp = tx.savepoint().map_err(storage)?;
        let p = execute(&sp, req);
        if p.is_ok() {
            sp.commit().map_err(storage)?;
        } else {
            sp.rollback().map_err(storage)?;
        }
        produced.push(p);
    }
    commit_tx(tx)?;
    Ok(produced)
}

fn commit_tx(tx: Transaction<'_>) -> Result<(), SpoolError> {
    tx.commit().map_err(storage)
}

fn enqueue(conn: &Connection, m: &NewMessage) -> Result<MessageId, SpoolError> {
    conn.prepare_cached("INSERT INTO messages (received_at, sender, peer, protocol, body) VALUES (?1, ?2, ?3, ?4, ?5)")
        .and_then(|mut st| st.execute(params![m.received_at, m.sender, m.peer, m.protocol, m.body]))
        .map_err(storage)?;
    let id = conn.last_insert_rowid();
    let mut st = conn
        .prepare_cached(
            "INSERT INTO recipients (message_id, address, domain, binding, state, due) VALUES (?1, ?2, ?3, ?4, 0, ?5)",
        )
        .map_err(storage)?;
    for r in &m.recipients {
        st.execute(params![
            id,
            r.address,
            r.destination.domain,
            r.destination.binding,
            m.received_at
        ])
        .map_err(storage)?;
    }
    Ok(MessageId(id))
}

fn lease(
    conn: &Connection,
    d: &Destination,
    now: Millis,
    limit: usize,
) -> Result<Leased, SpoolError> {
    let mut st = conn
        .prepare_cached(
            "SELECT r.id, r.message_id, r.address, r.attempts, m.received_at, r.due FROM recipients r \
             LEFT JOIN messages m ON m.id = r.message_id \
             WHERE r.state = 0 AND r.domain = ?1 AND r.binding = ?2 AND r.due <= ?3 ORDER BY r.due LIMIT ?4",
        )
        .map_err(storage)?;
    let rows = st
        .query_map(params![d.domain, d.binding, now, limit as i64], |row| {
            Ok(Lease {
                recipient: RecipientId(row.get(0)?),
                message: MessageId(row.get(1)?),
                address: row.get::<_, String>(2).unwrap_or_default(),
                destination: d.clone(),
                attempts: row.get::<_, i64>(3).unwrap_or(0) as u32,
                received_at: row.get::<_, Option<i64>>(4).ok().flatten().unwrap_or(0),
                due: row.get(5)?,
                fence: 0,
                leased_before: false,
            })
        })
        .map_err(storage)?;
    let leases: Vec<Lease> = rows.collect::<Result<_, _>>().map_err(storage)?;
    let count = leases.len();
    let mut up = conn
        .prepare_cached("UPDATE recipients SET state = 1 WHERE id = ?1")
        .map_err(storage)?;
    // Recipients of one message travel together (one transaction per connection).
    let mut messages: Vec<LeasedMessage> = Vec::new();
    for l in leases {
        up.execute(params![l.recipient.0]).map_err(storage)?;
        match messages
            .iter_mut()
            .find(|m| m.leases[0].message == l.message)
        {
            Some(m) => m.leases.push(l),
            None => messages.push(LeasedMessage {
                message: load_message(conn, l.message).map(Arc::new),
                leases: vec![l],
            }),
        }
    }
    let next_due = if count == limit {
        Some(now)
    } else {
        conn.prepare_cached(
            "SELECT min(due) FROM recipients WHERE state = 0 AND domain = ?1 AND binding = ?2",
        )
        .and_then(|mut st| st.query_row(params![d.domain, d.binding], |r| r.get(0)))
        .map_err(storage)?
    };
    Ok(Leased { messages, next_due })
}

/// Reads one message; a missing or damaged record is `Unreadable`, for quarantine.
fn load_message(c: &Connection, id: MessageId) -> Result<StoredMessage, SpoolError> {
    let row = c
        .prepare_cached(
            "SELECT sender, body, peer, protocol, received_at FROM messages WHERE id = ?1",
        )
        .and_then(|mut st| {
            st.query_row(params![id.0], |r| {
                Ok((
                    r.get::<_, String>(0),
                    r.get::<_, Vec<u8>>(1),
                    r.get::<_, String>(2),
                    r.get::<_, String>(3),
                    r.get::<_, i64>(4),
                ))
            })
            .optional()
        })
        .map_err(storage)?;
    let Some((sender, body, peer, protocol, received_at)) = row else {
        return Err(SpoolError::Unreadable(
            id,
            "message record is missing".into(),
        ));
    };
    let bad = |what: &str, e: rusqlite::Error| SpoolError::Unreadable(id, format!("{what}: {e}"));
    Ok(StoredMessage {
        id,
        sender: sender.map_err(|e| bad("sender", e))?,
        body: body.map_err(|e| bad("body", e))?.into(),
        peer: peer.unwrap_or_default(),
        protocol: protocol.unwrap_or_default(),
        received_at: received_at.unwrap_or(0),
    })
}

fn record(conn: &Connection, outcomes: &[(LeaseRef, Outcome)]) -> Result<(), SpoolError> {
    // One node holds this spool: a lease's fence is always 0.
    for (lease, outcome) in outcomes {
        let id = &lease.recipient;
        let message: Option<i64> = conn
            .prepare_cached("SELECT message_id FROM recipients WHERE id = ?1")
            .and_then(|mut st| st.query_row(params![id.0], |r| r.get(0)).optional())
            .map_err(storage)?;
        let Some(message) = message else { continue };
        match outcome {
            Outcome::Delivered { .. } | Outcome::Failed { .. } => {
                conn.prepare_cached("DELETE FROM recipients WHERE id = ?1")
                    .and_then(|mut st| st.execute(params![id.0]))
                    .map_err(storage)?;
                conn.prepare_cached(
                    "DELETE FROM messages WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM recipients WHERE message_id = ?1)",
                )
                .and_then(|mut st| st.execute(params![message]))
                .map_err(storage)?;
            }
            Outcome::Retry { due, response } => {
                conn.prepare_cached(
                    "UPDATE recipients SET state = 0, due = ?2, attempts = attempts + 1, last_response = ?3 WHERE id = ?1",
                )
                .and_then(|mut st| st.execute(params![id.0, due, response]))
                .map_err(storage)?;
            }
            Outcome::Released { due } => {
                conn.prepare_cached("UPDATE recipients SET state = 0, due = ?2 WHERE id = ?1")
                    .and_then(|mut st| st.execute(params![id.0, due]))
                    .map_err(storage)?;
            }
            Outcome::Quarantined { reason } => {
                conn.prepare_cached(
                    "UPDATE recipients SET state = ?2, last_response = ?3 WHERE id = ?1",
                )
                .and_then(|mut st| st.execute(params![id.0, STATE_QUARANTINED, reason]))
                .map_err(storage)?;
            }
        }
    }
    Ok(())
}

/// How long submissions are kept for matching receipts: SMSCs give up on a message well within
/// this (a typical validity period is 1–3 days).
const SUBMISSION_RETENTION: Millis = 7 * 24 * 3600 * 1000;

fn save_submissions(conn: &Connection, subs: &[Submission]) -> Result<(), SpoolError> {
    if let Some(first) = subs.first() {
        conn.prepare_cached("DELETE FROM submissions WHERE submitted_at < ?1")
            .and_then(|mut st| st.execute(params![first.submitted_at - SUBMISSION_RETENTION]))
            .map_err(storage)?;
    }
    let mut st = conn
        .prepare_cached(
            "INSERT OR REPLACE INTO submissions (key, smsc_id, message, domain, recipient, sender, segment, total, submitted_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .map_err(storage)?;
    for s in subs {
        st.execute(params![
            s.key,
            s.smsc_id,
            s.message,
            s.domain,
            s.recipient,
            s.sender,
            s.segment,
            s.total,
            s.submitted_at
        ])
        .map_err(storage)?;
    }
    Ok(())
}

const MO_COLUMNS: &str =
    "key, seq, total, data, data_coding, domain, binding, source, dest, meta, received_at";

fn mo_part_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<MoPart> {
    Ok(MoPart {
        key: r.get(0)?,
        seq: r.get(1)?,
        total: r.get(2)?,
        data: r.get(3)?,
        data_coding: r.get(4)?,
        domain: r.get(5)?,
        binding: r.get(6)?,
        source: r.get(7)?,
        dest: r.get(8)?,
        meta: r.get(9)?,
        received_at: r.get(10)?,
    })
}

/// The waiting parts of `key`, claimed (state 2) in the same transaction, so that one caller
/// alone mails them.
fn claim_mo_parts(conn: &Connection, key: &str) -> Result<Vec<MoPart>, SpoolError> {
    let parts: Vec<MoPart> = {
        let mut st = conn
            .prepare_cached(&format!(
                "SELECT {MO_COLUMNS} FROM mo_parts WHERE key = ?1 AND done = 0 ORDER BY seq"
            ))
            .map_err(storage)?;
        let rows = st.query_map(params![key], mo_part_row).map_err(storage)?;
        rows.collect::<Result<_, _>>().map_err(storage)?
    };
    conn.prepare_cached("UPDATE mo_parts SET done = 2 WHERE key = ?1 AND done = 0")
        .and_then(|mut st| st.execute(params![key]))
        .map_err(storage)?;
    Ok(parts)
}

fn store_mo_part(conn: &Connection, p: &MoPart) -> Result<MoPartStored, SpoolError> {
    // The same part again (an SMSC resending what it thinks unanswered) is a duplicate; a part
    // under the key of a message mailed earlier but with other content is a new message that
    // reuses the reference (modems that always send 0, wrapping 8-bit counters): the old
    // message's parts are forgotten.
    let existing: Option<(Vec<u8>, i64)> = conn
        .prepare_cached("SELECT data, done FROM mo_parts WHERE key = ?1 AND seq = ?2")
        .and_then(|mut st| {
            st.query_row(params![p.key, p.seq], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .map_err(storage)?;
    match existing {
        Some((data, _)) if data == p.data => return Ok(MoPartStored::Duplicate),
        Some((_, 1)) => {
            conn.prepare_cached("DELETE FROM mo_parts WHERE key = ?1 AND done = 1")
                .and_then(|mut st| st.execute(params![p.key]))
                .map_err(storage)?;
        }
        // Another text under a part number of a message still being put together: the first
        // one stays (the reference is ambiguous; the gap will be marked if this was new).
        Some(_) => return Ok(MoPartStored::Duplicate),
        None => {}
    }
    let inserted = conn
        .prepare_cached(&format!(
            "INSERT OR IGNORE INTO mo_parts ({MO_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
        ))
        .and_then(|mut st| {
            st.execute(params![
                p.key, p.seq, p.total, p.data, p.data_coding, p.domain, p.binding, p.source,
                p.dest, p.meta, p.received_at
            ])
        })
        .map_err(storage)?;
    if inserted == 0 {
        return Ok(MoPartStored::Duplicate);
    }
    let waiting: u32 = conn
        .prepare_cached("SELECT count(*) FROM mo_parts WHERE key = ?1 AND done = 0")
        .and_then(|mut st| st.query_row(params![p.key], |r| r.get(0)))
        .map_err(storage)?;
    let complete = if waiting == p.total {
        Some(claim_mo_parts(conn, &p.key)?)
    } else {
        None
    };
    Ok(MoPartStored::Stored { complete })
}

/// After claimed parts were mailed (`mailed`), they are marked so; when the mail could not be
/// spooled, they wait again (the sweep retries them).
fn mo_done(conn: &Connection, key: &str, seqs: &[u32], mailed: bool) -> Result<(), SpoolError> {
    let mut st = conn
        .prepare_cached("UPDATE mo_parts SET done = ?3 WHERE key = ?1 AND seq = ?2 AND done = 2")
        .map_err(storage)?;
    for seq in seqs {
        st.execute(params![key, seq, if mailed { 1 } else { 0 }])
            .map_err(storage)?;
    }
    Ok(())
}

fn stale_mo_parts(
    conn: &Connection,
    before: Millis,
    forget_before: Millis,
) -> Result<Vec<Vec<MoPart>>, SpoolError> {
    conn.prepare_cached("DELETE FROM mo_parts WHERE done = 1 AND received_at < ?1")
        .and_then(|mut st| st.execute(params![forget_before]))
        .map_err(storage)?;
    // At most 100 messages a sweep: the writer is not held long, the next sweep takes more.
    let keys: Vec<String> = {
        let mut st = conn
            .prepare_cached(
                "SELECT DISTINCT key FROM mo_parts WHERE done = 0 AND received_at < ?1 LIMIT 100",
            )
            .map_err(storage)?;
        let rows = st
            .query_map(params![before], |r| r.get(0))
            .map_err(storage)?;
        rows.collect::<Result<_, _>>().map_err(storage)?
    };
    keys.iter().map(|k| claim_mo_parts(conn, k)).collect()
}

fn save_mapping(conn: &Connection, m: &ReverseMapping) -> Result<(), SpoolError> {
    conn.prepare_cached("DELETE FROM reverse_mappings WHERE expires <= ?1")
        .and_then(|mut st| st.execute(params![crate::now_millis()]))
        .map_err(storage)?;
    conn.prepare_cached(
        "INSERT OR REPLACE INTO reverse_mappings (domain, sms_addr, shortcode, email_addr, expires) VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut st| st.execute(params![m.domain, m.sms_addr, m.shortcode, m.email_addr, m.expires]))
    .map(drop)
    .map_err(storage)
}

const INFO_COLUMNS: &str = "r.id, r.message_id, coalesce(m.sender, ''), r.address, r.domain, r.binding, r.state, \
                            r.due, r.attempts, r.last_response, coalesce(m.received_at, 0)";

/// The WHERE clause (with `?1`) of a selection and its parameter.
fn selection_filter(sel: &Selection) -> (&'static str, rusqlite::types::Value) {
    match sel {
        Selection::Domain(d) => ("domain = ?1", d.to_ascii_lowercase().into()),
        Selection::Message(m) => ("message_id = ?1", m.0.into()),
        Selection::Binding(b) => ("binding = ?1", b.clone().into()),
        // One parameter for both columns: a NUL cannot occur in a domain or binding name.
        Selection::Destination(d) => (
            "(domain || char(0) || binding) = ?1",
            format!("{}\0{}", d.domain.to_ascii_lowercase(), d.binding).into(),
        ),
    }
}

fn reschedule(
    conn: &Connection,
    sel: &Selection,
    due: Millis,
    to: Option<&Destination>,
) -> Result<Vec<Destination>, SpoolError> {
    let (filter, param) = selection_filter(sel);
    let mut st = conn
        .prepare_cached(&format!(
            "UPDATE recipients SET due = ?2, domain = coalesce(?4, domain), \
             binding = coalesce(?5, binding) WHERE state = ?3 AND {filter} RETURNING domain, binding"
        ))
        .map_err(storage)?;
    let (to_domain, to_binding) = (to.map(|d| &d.domain), to.map(|d| &d.binding));
    let rows = st
        .query_map(
            params![param, due, STATE_QUEUED, to_domain, to_binding],
            |r| {
                Ok(Destination {
                    domain: r.get(0)?,
                    binding: r.get(1)?,
                })
            },
        )
        .map_err(storage)?;
    let mut dests: Vec<Destination> = rows.collect::<Result<_, _>>().map_err(storage)?;
    dests.sort_by(|a, b| (&a.domain, &a.binding).cmp(&(&b.domain, &b.binding)));
    dests.dedup();
    Ok(dests)
}

fn info_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RecipientInfo> {
    Ok(RecipientInfo {
        recipient: RecipientId(row.get(0)?),
        message: MessageId(row.get(1)?),
        sender: row
            .get::<_, String>(2)
            .unwrap_or_else(|_| "<unreadable>".into()),
        address: row
            .get::<_, String>(3)
            .unwrap_or_else(|_| "<unreadable>".into()),
        destination: Destination {
            domain: row.get(4)?,
            binding: row.get(5)?,
        },
        state: {
            let code = row.get::<_, i64>(6)?;
            state_of(code).unwrap_or_else(|| {
                // Never written by this code: shown as kept aside rather than failing the list.
                tracing::warn!(
                    code,
                    "a recipient with an unknown state; shown as quarantined"
                );
                RecipientState::Quarantined
            })
        },
        due: row.get(7)?,
        attempts: row.get::<_, i64>(8)? as u32,
        last_response: row.get(9).ok().flatten(),
        received_at: row.get(10)?,
    })
}

impl QueueStore for SqliteSpool {
    async fn enqueue(&self, msg: NewMessage) -> Result<MessageId, SpoolError> {
        self.write(|tx| Request::Enqueue(msg, tx)).await
    }

    async fn lease_due(
        &self,
        dest: &Destination,
        now: Millis,
        limit: usize,
    ) -> Result<Leased, SpoolError> {
        let dest = dest.clone();
        self.write(|tx| Request::Lease(dest, now, limit, tx)).await
    }

    async fn record(&self, outcomes: Vec<(LeaseRef, Outcome)>) -> Result<(), SpoolError> {
        self.write(|tx| Request::Record(outcomes, tx)).await
    }

    async fn load(&self, id: MessageId) -> Result<StoredMessage, SpoolError> {
        self.read(move |c| load_message(c, id)).await
    }

    async fn destinations(&self) -> Result<Vec<DestinationDue>, SpoolError> {
        self.read(|c| {
            let mut st = c
                .prepare_cached(
                    "SELECT domain, binding, min(due) FROM recipients WHERE state = 0 GROUP BY domain, binding",
                )
                .map_err(storage)?;
            let rows = st
                .query_map([], |r| {
                    Ok(DestinationDue {
                        destination: Destination { domain: r.get(0)?, binding: r.get(1)? },
                        next_due: r.get(2)?,
                    })
                })
                .map_err(storage)?;
            rows.collect::<Result<_, _>>().map_err(storage)
        })
        .await
    }

    async fn next_due(&self, dest: &Destination) -> Result<Option<Millis>, SpoolError> {
        let dest = dest.clone();
        self.read(move |c| {
            c.prepare_cached(
                "SELECT min(due) FROM recipients WHERE state = 0 AND domain = ?1 AND binding = ?2",
            )
            .and_then(|mut st| st.query_row(params![dest.domain, dest.binding], |r| r.get(0)))
            .map_err(storage)
        })
        .await
    }

    fn opened_at(&self) -> Millis {
        self.opened_at
    }
}

impl MobileStore for SqliteSpool {
    fn save_mapping(
        &self,
        mapping: ReverseMapping,
    ) -> impl Future<Output = Result<(), SpoolError>> + Send {
        self.write(|tx| Request::Mapping(mapping, tx))
    }

    async fn lookup_mapping(
        &self,
        domain: &str,
        sms_addr: &str,
        shortcode: &str,
        now: Millis,
    ) -> Result<Option<String>, SpoolError> {
        let (d, a, c) = (
            domain.to_string(),
            sms_addr.to_string(),
            shortcode.to_string(),
        );
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT email_addr FROM reverse_mappings WHERE domain = ?1 AND sms_addr = ?2 AND shortcode = ?3 AND expires > ?4",
            )
            .and_then(|mut st| st.query_row(params![d, a, c, now], |r| r.get(0)).optional())
            .map_err(storage)
        })
        .await
    }

    fn record_submissions(
        &self,
        submissions: Vec<Submission>,
    ) -> impl Future<Output = Result<(), SpoolError>> + Send + 'static {
        self.write(|tx| Request::Submissions(submissions, tx))
    }

    async fn accepted_segments(
        &self,
        message: String,
        recipient: String,
    ) -> Result<Vec<(u32, String)>, SpoolError> {
        self.read(move |conn| {
            let mut st = conn
                .prepare_cached("SELECT DISTINCT segment, smsc_id FROM submissions WHERE message = ?1 AND recipient = ?2 ORDER BY segment")
                .map_err(storage)?;
            let rows = st.query_map(params![message, recipient], |r| Ok((r.get(0)?, r.get(1)?))).map_err(storage)?;
            rows.collect::<Result<_, _>>().map_err(storage)
        })
        .await
    }

    async fn find_submissions(&self, keys: Vec<String>) -> Result<Vec<Submission>, SpoolError> {
        self.read(move |conn| {
            let mut st = conn
                .prepare_cached(
                    "SELECT key, smsc_id, message, domain, recipient, sender, segment, total, submitted_at FROM submissions WHERE key = ?1",
                )
                .map_err(storage)?;
            let mut out = Vec::new();
            for key in &keys {
                let rows = st
                    .query_map(params![key], |r| {
                        Ok(Submission {
                            key: r.get(0)?,
                            smsc_id: r.get(1)?,
                            message: r.get(2)?,
                            domain: r.get(3)?,
                            recipient: r.get(4)?,
                            sender: r.get(5)?,
                            segment: r.get(6)?,
                            total: r.get(7)?,
                            submitted_at: r.get(8)?,
                        })
                    })
                    .map_err(storage)?;
                for row in rows {
                    out.push(row.map_err(storage)?);
                }
            }
            Ok(out)
        })
        .await
    }

    fn store_mo_part(
        &self,
        part: MoPart,
    ) -> impl Future<Output = Result<MoPartStored, SpoolError>> + Send {
        self.write(|tx| Request::MoPart(part, tx))
    }

    fn mo_done(
        &self,
        key: String,
        seqs: Vec<u32>,
        mailed: bool,
    ) -> impl Future<Output = Result<(), SpoolError>> + Send {
        self.write(move |tx| Request::MoDone(key, seqs, mailed, tx))
    }

    fn stale_mo_parts(
        &self,
        before: Millis,
        forget_before: Millis,
    ) -> impl Future<Output = Result<Vec<Vec<MoPart>>, SpoolError>> + Send {
        self.write(move |tx| Request::MoStale(before, forget_before, tx))
    }
}

impl QueueQueries for SqliteSpool {
    async fn list(
        &self,
        dest: Option<&Destination>,
        limit: usize,
        offset: usize,
    ) -> Result<Vec<RecipientInfo>, SpoolError> {
        let dest = dest.cloned();
        self.read(move |c| {
            let sql = format!(
                "SELECT {INFO_COLUMNS} FROM recipients r LEFT JOIN messages m ON m.id = r.message_id \
                 WHERE (?1 IS NULL OR (r.domain = ?1 AND r.binding = ?2)) ORDER BY r.due, r.id LIMIT ?3 OFFSET ?4"
            );
            let mut st = c.prepare_cached(&sql).map_err(storage)?;
            let (d, b) = dest.map(|d| (Some(d.domain), d.binding)).unwrap_or((None, String::new()));
            let rows = st.query_map(params![d, b, limit as i64, offset as i64], info_row).map_err(storage)?;
            rows.collect::<Result<_, _>>().map_err(storage)
        })
        .await
    }

    async fn inspect(&self, id: MessageId) -> Result<Vec<RecipientInfo>, SpoolError> {
        self.read(move |c| {
            let sql = format!(
                "SELECT {INFO_COLUMNS} FROM recipients r LEFT JOIN messages m ON m.id = r.message_id \
                 WHERE r.message_id = ?1 ORDER BY r.id"
            );
            let mut st = c.prepare_cached(&sql).map_err(storage)?;
            let rows = st.query_map(params![id.0], info_row).map_err(storage)?;
            rows.collect::<Result<_, _>>().map_err(storage)
        })
        .await
    }

    async fn queue_counts(&self, now: Millis) -> Result<Vec<QueueCounts>, SpoolError> {
        self.read(move |c| {
            let mut st = c
                .prepare_cached(
                    "SELECT domain, binding,
                        sum(state = ?2 OR (state = ?1 AND due <= ?4)),
                        sum(state = ?1 AND due > ?4),
                        sum(state = ?3),
                        min(received_at)
                     FROM recipients r JOIN messages m ON m.id = r.message_id
                     GROUP BY domain, binding ORDER BY domain, binding",
                )
                .map_err(storage)?;
            let rows = st
                .query_map(
                    params![STATE_QUEUED, STATE_LEASED, STATE_QUARANTINED, now],
                    |r| {
                        Ok(QueueCounts {
                            destination: Destination {
                                domain: r.get(0)?,
                                binding: r.get(1)?,
                            },
                            active: r.get::<_, i64>(2)? as u64,
                            delayed: r.get::<_, i64>(3)? as u64,
                            quarantined: r.get::<_, i64>(4)? as u64,
                            oldest: r.get(5)?,
                        })
                    },
                )
                .map_err(storage)?;
            rows.collect::<Result<_, _>>().map_err(storage)
        })
        .await
    }

    async fn reschedule(
        &self,
        selection: Selection,
        due: Millis,
    ) -> Result<Vec<Destination>, SpoolError> {
        self.write(|tx| Request::Reschedule(selection, due, None, tx))
            .await
    }

    async fn reroute(
        &self,
        selection: Selection,
        to: Destination,
        due: Millis,
    ) -> Result<Vec<Destination>, SpoolError> {
        self.write(|tx| Request::Reschedule(selection, due, Some(to), tx))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SQL text names the queued and leased codes literally (the planner uses the partial
    /// index only for a literal `state = 0`): the mapping must agree with it.
    #[test]
    fn state_codes_agree_with_the_sql_text() {
        assert_eq!(STATE_QUEUED, 0);
        assert_eq!(STATE_LEASED, 1);
        for s in [
            RecipientState::Queued,
            RecipientState::Leased,
            RecipientState::Quarantined,
        ] {
            assert_eq!(state_of(state_code(s)), Some(s));
        }
        assert_eq!(state_of(2), None);
    }
}
