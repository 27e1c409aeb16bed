//! An append-only log file written in the background: callers format a line and append it to
//! a shared buffer (a short uncontended lock, no thread wake-up per record); one thread writes
//! the buffer every `FLUSH_EVERY`, and adds a heartbeat line when asked.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a record may wait in memory before it is written.
const FLUSH_EVERY: Duration = Duration::from_millis(100);

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

struct Inner {
    buf: Mutex<Vec<u8>>,
    file: Mutex<File>,
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

#[derive(Clone)]
pub struct LogFile {
    inner: Arc<Inner>,
}

/// A heartbeat: every so often, the line this makes (given the Unix time).
pub type Heartbeat = (Duration, Box<dyn Fn(u64) -> String + Send>);

impl LogFile {
    /// Opens `path` for appending (created with `mode`, e.g. 0o644) and starts its writer.
    pub fn open(path: &Path, mode: u32, heartbeat: Option<Heartbeat>) -> std::io::Result<LogFile> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(mode)
            .open(path)?;
        let log = LogFile {
            inner: Arc::new(Inner {
                buf: Mutex::new(Vec::with_capacity(64 * 1024)),
                file: Mutex::new(file),
            }),
        };
        let weak = Arc::downgrade(&log.inner);
        let heartbeat = heartbeat.filter(|(every, _)| !every.is_zero());
        thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || {
                let mut since_beat = Duration::ZERO;
                // Runs while any handle exists; the last handle's drop writes what is left.
                loop {
                    thread::sleep(FLUSH_EVERY);
                    let Some(inner) = weak.upgrade() else { return };
                    let log = LogFile { inner };
                    since_beat += FLUSH_EVERY;
                    if let Some((every, line)) = &heartbeat
                        && since_beat >= *every
                    {
                        since_beat = Duration::ZERO;
                        log.write(&line(unix_now()));
                    }
                    log.flush();
                }
            })?;
        Ok(log)
    }

    /// Writes every buffered line to the file now.
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

    /// Appends one line (a newline is added).
    pub fn write(&self, line: &str) {
        let mut buf = self
            .inner
            .buf
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        buf.extend_from_slice(line.as_bytes());
        buf.push(b'\n');
    }
}
