//! The mainlog (docs/reference/momentum.md §6.7): the R, D, T and P records, and the
//! `M1` heartbeat, written through a [`LogFile`].

use std::path::Path;
use std::time::Duration;

use crate::logfile::{LogFile, unix_now};
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

fn now() -> u64 {
    unix_now()
}

fn split(addr: &str) -> (String, String) {
    match addr.rsplit_once('@') {
        Some((l, d)) => (field(l), field(d)),
        None => (field(addr), String::new()),
    }
}

#[derive(Clone)]
pub struct Mainlog {
    file: LogFile,
}

impl Mainlog {
    /// Opens `path` for appending and starts the writer (and a `M1` heartbeat every `heartbeat`).
    pub fn open(path: &Path, heartbeat: Option<Duration>) -> std::io::Result<Mainlog> {
        let beat: Option<crate::logfile::Heartbeat> =
            heartbeat.map(|d| (d, Box::new(|t| format!("{t}@@@@M1")) as _));
        Ok(Mainlog {
            file: LogFile::open(path, 0o644, beat)?,
        })
    }

    /// Writes every buffered record to the file now.
    pub fn flush(&self) {
        self.file.flush();
    }

    fn write(&self, line: String) {
        self.file.write(line.trim_end_matches('\n'));
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
