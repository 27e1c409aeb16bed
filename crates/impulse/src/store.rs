//! The spool backend the gateway runs on: the one place that names it. Everything else holds a
//! [`Store`] and uses it through the spool's interfaces (`QueueStore`, `MobileStore`,
//! `QueueQueries`), so a second backend changes this file, not its users.

use std::path::Path;

/// The backend: SQLite, embedded, in `Spoolbase`.
pub type Store = impulse_spool::SqliteSpool;

/// Opens the spool in `spoolbase`, and logs how many recipients a stopped run had leased and
/// are queued again.
pub fn open(spoolbase: &Path) -> anyhow::Result<Store> {
    let (spool, resumed) = Store::open(spoolbase)
        .map_err(|e| anyhow::anyhow!("opening the spool at {}: {e}", spoolbase.display()))?;
    tracing::info!(spool = %spool.path().display(), resumed, "spool open");
    Ok(spool)
}
