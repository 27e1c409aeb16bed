//! An append-only log file written in the background: callers format a line and append it to
//! a shared buffer (a short uncontended lock, no thread wake-up per record); one thread writes
//! the buffer every `FLUSH_EVERY`, and adds a heartbeat line when asked.
//!
//! Every log file of the process (these and the paniclog) is listed in one registry, so that
//! [`reopen_all`] (console `reopen logs`, SIGUSR1) can open each path again after logrotate
//! moved the file away: what was written before goes to the old file, what comes after to the
//! new one.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, Weak};
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
    path: PathBuf,
    mode: u32,
}

/// A log file that can be opened again at its path.
pub trait Reopen: Send + Sync {
    fn path(&self) -> &Path;
    /// Writes what is pending to the current file, then opens the path again.
    fn reopen(&self) -> std::io::Result<()>;
}

static OPEN_LOGS: Mutex<Vec<Weak<dyn Reopen>>> = Mutex::new(Vec::new());

/// Lists a log file for [`reopen_all`]; it leaves the list when its last handle is dropped.
pub fn register(log: Weak<dyn Reopen>) {
    let mut all = OPEN_LOGS.lock().unwrap_or_else(PoisonError::into_inner);
    all.retain(|w| w.strong_count() > 0);
    all.push(log);
}

/// Opens every log file of the process again at its path; each path with its result.
pub fn reopen_all() -> Vec<(PathBuf, std::io::Result<()>)> {
    let live: Vec<Arc<dyn Reopen>> = {
        let mut all = OPEN_LOGS.lock().unwrap_or_else(PoisonError::into_inner);
        all.retain(|w| w.strong_count() > 0);
        all.iter().filter_map(Weak::upgrade).collect()
    };
    live.iter()
        .map(|l| (l.path().to_path_buf(), l.reopen()))
        .collect()
}

/// Opens `path` for appending, creating it (and its directory) with `mode`.
pub fn open_append(path: &Path, mode: u32) -> std::io::Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(mode)
        .open(path)
}

impl Reopen for Inner {
    fn path(&self) -> &Path {
        &self.path
    }

    fn reopen(&self) -> std::io::Result<()> {
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        let pending = std::mem::take(&mut *self.buf.lock().unwrap_or_else(PoisonError::into_inner));
        let _ = file.write_all(&pending);
        *file = open_append(&self.path, self.mode)?;
        Ok(())
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

#[derive(Clone)]
pub struct LogFile {
    inner: Arc<Inner>,
}

/// A heartbeat: every so often, the line this makes (given the Unix time).
pub type Heartbeat = (Duration, Box<dyn Fn(u64) -> String + Send>);

impl LogFile {
    /// Opens `path` for appending (created with `mode`, e.g. 0o644) and starts its writer.
    pub fn open(path: &Path, mode: u32, heartbeat: Option<Heartbeat>) -> std::io::Result<LogFile> {
        let file = open_append(path, mode)?;
        let log = LogFile {
            inner: Arc::new(Inner {
                buf: Mutex::new(Vec::with_capacity(64 * 1024)),
                file: Mutex::new(file),
                path: path.to_path_buf(),
                mode,
            }),
        };
        let weak: Weak<dyn Reopen> = Arc::downgrade(&log.inner) as Weak<dyn Reopen>;
        register(weak);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reopen_after_rotation_writes_to_the_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mainlog");
        let log = LogFile::open(&path, 0o644, None).unwrap();
        log.write("before");
        // logrotate moves the file away; until the reopen, records still go to the moved file.
        let rotated = dir.path().join("mainlog.1");
        std::fs::rename(&path, &rotated).unwrap();
        log.write("pending at rotation");
        let results = reopen_all();
        assert!(
            results.iter().any(|(p, r)| *p == path && r.is_ok()),
            "{results:?}"
        );
        log.write("after");
        log.flush();
        assert_eq!(
            std::fs::read_to_string(&rotated).unwrap(),
            "before\npending at rotation\n"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "after\n");
    }
}
