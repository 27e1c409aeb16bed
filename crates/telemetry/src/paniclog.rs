//! The paniclog: warnings and errors an operator must see, one line each,
//! `[Mon 23 Nov 2026 16:42:17] [serious] text`, fed from `tracing` events.

use std::fmt::Write as _;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

pub struct PaniclogLayer {
    file: Arc<PanicFile>,
}

struct PanicFile {
    file: Mutex<File>,
    path: PathBuf,
}

impl crate::logfile::Reopen for PanicFile {
    fn path(&self) -> &Path {
        &self.path
    }

    fn reopen(&self) -> std::io::Result<()> {
        let new = crate::logfile::open_append(&self.path, 0o644)?;
        *self.file.lock().unwrap_or_else(PoisonError::into_inner) = new;
        Ok(())
    }
}

impl PaniclogLayer {
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = Arc::new(PanicFile {
            file: Mutex::new(crate::logfile::open_append(path, 0o644)?),
            path: path.to_path_buf(),
        });
        let weak = Arc::downgrade(&file) as std::sync::Weak<dyn crate::logfile::Reopen>;
        crate::logfile::register(weak);
        Ok(PaniclogLayer { file })
    }
}

struct Text(String);

impl Visit for Text {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}

impl<S: Subscriber> Layer<S> for PaniclogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level = *event.metadata().level();
        let severity = if level == Level::ERROR {
            "serious"
        } else if level == Level::WARN {
            "warning"
        } else {
            return;
        };
        let mut text = Text(String::new());
        event.record(&mut text);
        let stamp = jiff::Timestamp::now().strftime("%a %d %b %Y %H:%M:%S");
        let line = format!("[{stamp}] [{severity}] {}\n", text.0.replace('\n', " "));
        if let Ok(mut f) = self.file.file.lock() {
            let _ = f.write_all(line.as_bytes());
        }
    }
}
