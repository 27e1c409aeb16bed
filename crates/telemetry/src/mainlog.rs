//! The mainlog writer: records are formatted by the caller's thread into a shared buffer, and
//! one writer thread appends the buffer to the file every `FLUSH_EVERY`. Logging a record is a
//! short uncontended lock, never a thread wake-up per record.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::{field, text};

/// A message received (one record per recipient).
#[derive(Debug)]
pub struct Reception<'a> {
    pub message_id: &'a str,
    pub recipient: &'a str,
    pub sender: &'a str,
    pub peer: &'a str,
    pub size: usize,
    pub protocol: &'a str,
    pub binding_group: &'a str,
    pub binding: &'a str,
}

/// A recipient delivered.
#[derive(Debug)]
pub struct Delivery<'a> {
    pub message_id: &'a str,
    pub recipient_id: i64,
    pub domain: &'a str,
    pub size: usize,
    pub binding_group: &'a str,
    pub binding: &'a str,
    pub retries: u32,
    pub seconds: i64,
    pub remote: &'a str,
}

/// A recipient failed, temporarily (T) or permanently (P).
#[derive(Debug)]
pub struct Failure<'a> {
    pub message_id: &'a str,
    pub recipient_id: i64,
    pub domain: &'a str,
    pub bytes_sent: usize,
    pub binding_group: &'a str,
    pub binding: &'a str,
    pub stage: u8,
    pub retries: u32,
    pub seconds: i64,
    pub remote: &'a str,
    pub error: &'a str,
}

/// How long a record may wait in memory before it is written.
const FLUSH_EVERY: Duration = Duration::from_millis(100);

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn split(addr: &str) -> (String, String) {
    match addr.rsplit_once('@') {
        Some((l, d)) => (field(l), field(d)),
        None => (field(addr), String::new()),
    }
}

struct Inner {
    buf: Mutex<Vec<u8>>,
    file: Mutex<File>,
}

#[derive(Clone)]
pub struct Mainlog {
    inner: Arc<Inner>,
}

impl Mainlog {
    /// Opens `path` for appending and starts the writer (and a heartbeat every `heartbeat`).
    pub fn open(path: &Path, heartbeat: Option<Duration>) -> std::io::Result<Mainlog> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let log = Mainlog {
            inner: Arc::new(Inner {
                buf: Mutex::new(Vec::with_capacity(64 * 1024)),
                file: Mutex::new(file),
            }),
        };
        let weak = Arc::downgrade(&log.inner);
        let beat_every = heartbeat.filter(|d| !d.is_zero());
        thread::Builder::new()
            .name("mainlog".into())
            .spawn(move || {
                let mut since_beat = Duration::ZERO;
                // Runs while any handle exists; the last handle's drop does the final flush.
                loop {
                    thread::sleep(FLUSH_EVERY);
                    let Some(inner) = weak.upgrade() else { return };
                    let log = Mainlog { inner };
                    since_beat += FLUSH_EVERY;
                    if let Some(every) = beat_every
                        && since_beat >= every
                    {
                        since_beat = Duration::ZERO;
                        log.write(format!("{}@@@@M1\n", now()));
                    }
                    log.flush();
                }
            })?;
        Ok(log)
    }

    /// Writes every buffered record to the file now.
    pub fn flush(&self) {
        let pending = std::mem::take(
            &mut *self
                .inner
                .buf
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        if !pending.is_empty() {
            let _ = self
                .inner
                .file
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .write_all(&pending);
        }
    }

    fn write(&self, line: String) {
        self.inner
            .buf
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(line.as_bytes());
    }

    /// `ts@msgid@batchid@connid@R@rcpt_local@rcpt_domain@sender_local@sender_domain@peer_ip@size@protocol@binding_group@binding`
    pub fn reception(&self, r: &Reception<'_>) {
        let (rl, rd) = split(r.recipient);
        let (sl, sd) = split(r.sender);
        self.write(format!(
            "{}@{}@@@R@{rl}@{rd}@{sl}@{sd}@{}@{}@{}@{}@{}\n",
            now(),
            field(r.message_id),
            field(r.peer),
            r.size,
            field(r.protocol),
            field(r.binding_group),
            field(r.binding)
        ));
    }

    /// `ts@msgid@batchid@connid@D@domain@size@binding_group@binding@retries@seconds@remote_ip`
    pub fn delivery(&self, d: &Delivery<'_>) {
        self.write(format!(
            "{}@{}@{}@@D@{}@{}@{}@{}@{}@{}@{}\n",
            now(),
            field(d.message_id),
            d.recipient_id,
            field(d.domain),
            d.size,
            field(d.binding_group),
            field(d.binding),
            d.retries,
            d.seconds,
            field(d.remote)
        ));
    }

    /// `ts@msgid@batchid@connid@T@domain@bytes@binding_group@binding@stage@retries@seconds@remote_ip@error`
    /// (`P` instead of `T` when `permanent`).
    pub fn failure(&self, f: &Failure<'_>, permanent: bool) {
        let kind = if permanent { 'P' } else { 'T' };
        self.write(format!(
            "{}@{}@{}@@{kind}@{}@{}@{}@{}@{}@{}@{}@{}@{}\n",
            now(),
            field(f.message_id),
            f.recipient_id,
            field(f.domain),
            f.bytes_sent,
            field(f.binding_group),
            field(f.binding),
            f.stage,
            f.retries,
            f.seconds,
            field(f.remote),
            text(f.error)
        ));
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let pending = std::mem::take(self.buf.get_mut().unwrap_or_else(PoisonError::into_inner));
        let _ = self
            .file
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .write_all(&pending);
    }
}
