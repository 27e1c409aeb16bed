//! What every console command works on and answers with, and the two spool actions several
//! commands share. The commands themselves are in `commands` (the dispatcher) and beside it
//! (`binding`, `fail`, `config_cmd`, `outbound`); they all depend on this, never on each
//! other.

use std::path::PathBuf;
use std::sync::Arc;

use impulse_queue::Handle;
use impulse_spool::{QueueCounts, QueueQueries, Selection, now_millis};
use tokio::sync::Notify;

use crate::live::LiveConfig;
use crate::route::queue_label;
use crate::store::Store;

/// What the commands work on.
pub struct Context {
    pub cfg: LiveConfig,
    pub spool: Store,
    pub scheduler: Handle,
    /// Notified by `shutdown`; the server stops as on SIGTERM.
    pub shutdown: Arc<Notify>,
    pub paniclog: Option<PathBuf>,
    pub status: Arc<crate::ops::status::Sources>,
    pub reloader: Arc<crate::ops::reload::Reloader>,
    pub fail_orders: Arc<crate::outbound::fail_orders::FailOrders>,
    pub throttles: Arc<crate::outbound::throttle::Throttles>,
    /// For `refresh domain`: its DNS cache.
    pub smtp: Arc<crate::outbound::smtp::SmtpConnector>,
}

/// The answer to a command: its text, and whether it is an error.
pub struct Answer {
    pub text: String,
    pub error: bool,
}

pub fn ok(text: String) -> Answer {
    Answer { text, error: false }
}

pub fn error(text: impl Into<String>) -> Answer {
    Answer {
        text: text.into(),
        error: true,
    }
}

pub async fn counts(ctx: &Context) -> Result<Vec<QueueCounts>, Answer> {
    ctx.spool
        .queue_counts(now_millis())
        .await
        .map_err(|e| error(format!("spool: {e}")))
}

pub async fn reschedule(ctx: &Context, selection: Selection, what: &str) -> Answer {
    let now = now_millis();
    match ctx.spool.reschedule(selection, now).await {
        Ok(dests) if dests.is_empty() => error(format!("{what}: nothing queued to retry")),
        Ok(dests) => {
            for d in &dests {
                ctx.scheduler.queued(d.clone(), now);
            }
            ok(format!(
                "{what}: queued recipients are due now ({})",
                dests.iter().map(queue_label).collect::<Vec<_>>().join(", ")
            ))
        }
        Err(e) => error(format!("spool: {e}")),
    }
}
