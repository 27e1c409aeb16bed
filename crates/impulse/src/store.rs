//! The spool backend the gateway runs on: the one place that names the backends. Everything
//! else holds a [`Store`] and uses it through the spool's interfaces (`QueueStore`,
//! `MobileStore`, `QueueQueries`).
//!
//! `Spoolbase` chooses: a directory is the embedded SQLite spool of one node; a
//! `postgresql://` URL is a spool several nodes share (docs/scale-out.md), where this node
//! joins as `Node_Name` and a node silent for `Spool_Lease_Timeout` loses its leases.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::Duration;

use impulse_config::{Config, Resolved, names};
use impulse_spool::{
    Destination, DestinationDue, LeaseRef, Leased, MessageId, Millis, MoPart, MoPartStored,
    MobileStore, NewMessage, NodeInfo, Outcome, PgOptions, PgSpool, QueueCounts, QueueQueries,
    QueueStore, RecipientInfo, ReverseMapping, Selection, SpoolError, SqliteSpool, StoredMessage,
    Submission,
};
use sha2::Digest;

/// The spool: embedded SQLite, or PostgreSQL shared with other nodes.
#[derive(Clone)]
pub enum Store {
    Sqlite(SqliteSpool),
    Postgres(PgSpool),
}

/// Where `Spoolbase` says the spool is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Spoolbase {
    Directory(PathBuf),
    Postgres(String),
}

impl Spoolbase {
    pub fn parse(value: &str) -> Spoolbase {
        if value.starts_with("postgresql://") || value.starts_with("postgres://") {
            Spoolbase::Postgres(value.to_string())
        } else {
            Spoolbase::Directory(PathBuf::from(value))
        }
    }

    pub fn of(cfg: &Config) -> Spoolbase {
        Spoolbase::parse(&cfg.global().scalar(names::SPOOLBASE).unwrap_or_default())
    }
}

/// The URL without its password (in the user part or a `password=` parameter), for logs and
/// errors.
fn redacted(url: &str) -> String {
    let url = match url.split_once('?') {
        Some((base, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => p.to_string(),
                })
                .collect();
            format!("{base}?{}", params.join("&"))
        }
        None => url.to_string(),
    };
    let url = url.as_str();
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// This node's name in a cluster: `Node_Name`, else the host name.
pub fn node_name(cfg: &Config, hostname: &str) -> String {
    cfg.global()
        .scalar(names::NODE_NAME)
        .unwrap_or_else(|| hostname.to_string())
}

/// A hash of the configuration file as nodes compare it: its text without the lines that are
/// meant to differ between nodes (`Node_Name`, `Hostname`). Included files are not followed.
fn config_hash(path: Option<&Path>) -> String {
    let Some(text) = path.and_then(|p| std::fs::read_to_string(p).ok()) else {
        return String::new();
    };
    let mut hash = sha2::Sha256::new();
    for line in text.lines() {
        let lower = line.trim_start().to_ascii_lowercase();
        if !lower.starts_with("node_name") && !lower.starts_with("hostname") {
            hash.update(line.trim_end().as_bytes());
            hash.update(b"\n");
        }
    }
    hash.finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Opens the spool `Spoolbase` names, and logs how many recipients a stopped run (of this
/// node) had leased and are queued again.
pub async fn open(
    cfg: &Config,
    hostname: &str,
    config_path: Option<&Path>,
) -> anyhow::Result<Store> {
    match Spoolbase::of(cfg) {
        Spoolbase::Directory(dir) => {
            let (spool, resumed) = SqliteSpool::open(&dir)
                .map_err(|e| anyhow::anyhow!("opening the spool at {}: {e}", dir.display()))?;
            tracing::info!(spool = %spool.path().display(), resumed, "spool open");
            Ok(Store::Sqlite(spool))
        }
        Spoolbase::Postgres(url) => {
            let node = node_name(cfg, hostname);
            let lease_timeout = cfg
                .global()
                .seconds(names::SPOOL_LEASE_TIMEOUT)
                .max(Duration::from_secs(1));
            let options = PgOptions {
                url: url.clone(),
                node_name: node.clone(),
                lease_timeout,
                config_hash: config_hash(config_path),
            };
            let (spool, resumed) = PgSpool::open(options).await.map_err(|e| {
                anyhow::anyhow!("opening the PostgreSQL spool at {}: {e}", redacted(&url))
            })?;
            tracing::info!(
                spool = %redacted(&url),
                node = %node,
                epoch = spool.epoch(),
                lease_timeout = lease_timeout.as_secs_f64(),
                resumed,
                "spool open (shared)"
            );
            Ok(Store::Postgres(spool))
        }
    }
}

impl Store {
    /// The cluster's nodes when the spool is shared; `None` for a node of its own.
    pub async fn nodes(&self) -> Option<Result<Vec<NodeInfo>, SpoolError>> {
        match self {
            Store::Sqlite(_) => None,
            Store::Postgres(p) => Some(p.nodes().await),
        }
    }

    /// This node's name in a cluster (`None` for a node of its own).
    pub fn node_name(&self) -> Option<&str> {
        match self {
            Store::Sqlite(_) => None,
            Store::Postgres(p) => Some(p.node_name()),
        }
    }

    /// The hash of this node's configuration that nodes compare (a shared spool only).
    pub fn config_hash(&self) -> Option<&str> {
        match self {
            Store::Sqlite(_) => None,
            Store::Postgres(p) => Some(p.config_hash()),
        }
    }

    /// Whether other nodes share this spool: they enqueue and free work this node is not told
    /// about, so the scheduler looks for it often.
    pub fn is_shared(&self) -> bool {
        matches!(self, Store::Postgres(_))
    }

    /// The shared spool, for what only a cluster has (bind slots, shared fail orders).
    pub fn shared(&self) -> Option<&impulse_spool::PgSpool> {
        match self {
            Store::Sqlite(_) => None,
            Store::Postgres(p) => Some(p),
        }
    }

    /// Publishes this node's status for the others' consoles (a shared spool only).
    pub async fn publish_status(&self, status: &str) {
        if let Store::Postgres(p) = self
            && let Err(e) = p.publish_status(status).await
        {
            tracing::debug!(error = %e, "publishing this node's status failed");
        }
    }
}

type Boxed<'a, T> = Pin<Box<dyn Future<Output = Result<T, SpoolError>> + Send + 'a>>;

/// Calls the same method on whichever backend this is.
macro_rules! each {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            Store::Sqlite($s) => $call,
            Store::Postgres($s) => $call,
        }
    };
}

impl QueueStore for Store {
    async fn enqueue(&self, msg: NewMessage) -> Result<MessageId, SpoolError> {
        each!(self, s => s.enqueue(msg).await)
    }

    async fn lease_due(
        &self,
        dest: &Destination,
        now: Millis,
        limit: usize,
    ) -> Result<Leased, SpoolError> {
        each!(self, s => s.lease_due(dest, now, limit).await)
    }

    async fn record(&self, outcomes: Vec<(LeaseRef, Outcome)>) -> Result<(), SpoolError> {
        each!(self, s => s.record(outcomes).await)
    }

    async fn load(&self, id: MessageId) -> Result<StoredMessage, SpoolError> {
        each!(self, s => s.load(id).await)
    }

    async fn destinations(&self) -> Result<Vec<DestinationDue>, SpoolError> {
        each!(self, s => s.destinations().await)
    }

    async fn next_due(&self, dest: &Destination) -> Result<Option<Millis>, SpoolError> {
        each!(self, s => s.next_due(dest).await)
    }

    fn opened_at(&self) -> Millis {
        each!(self, s => s.opened_at())
    }
}

impl MobileStore for Store {
    // The writes are queued when called, not when first polled (see `MobileStore`): each
    // backend's future is made here and boxed.
    fn save_mapping(
        &self,
        mapping: ReverseMapping,
    ) -> impl Future<Output = Result<(), SpoolError>> + Send {
        let fut: Boxed<'_, ()> = each!(self, s => Box::pin(s.save_mapping(mapping)));
        fut
    }

    async fn lookup_mapping(
        &self,
        domain: &str,
        sms_addr: &str,
        shortcode: &str,
        now: Millis,
    ) -> Result<Option<String>, SpoolError> {
        each!(self, s => s.lookup_mapping(domain, sms_addr, shortcode, now).await)
    }

    fn record_submissions(
        &self,
        submissions: Vec<Submission>,
    ) -> impl Future<Output = Result<(), SpoolError>> + Send + 'static {
        let fut: Boxed<'static, ()> = each!(self, s => Box::pin(s.record_submissions(submissions)));
        fut
    }

    async fn accepted_segments(
        &self,
        message: String,
        recipient: String,
    ) -> Result<Vec<(u32, String)>, SpoolError> {
        each!(self, s => s.accepted_segments(message, recipient).await)
    }

    async fn find_submissions(&self, keys: Vec<String>) -> Result<Vec<Submission>, SpoolError> {
        each!(self, s => s.find_submissions(keys).await)
    }

    async fn store_mo_part(&self, part: MoPart) -> Result<MoPartStored, SpoolError> {
        each!(self, s => s.store_mo_part(part).await)
    }

    async fn mo_done(&self, key: String, seqs: Vec<u32>, mailed: bool) -> Result<(), SpoolError> {
        each!(self, s => s.mo_done(key, seqs, mailed).await)
    }

    async fn stale_mo_parts(
        &self,
        before: Millis,
        forget_before: Millis,
    ) -> Result<Vec<Vec<MoPart>>, SpoolError> {
        each!(self, s => s.stale_mo_parts(before, forget_before).await)
    }
}

impl QueueQueries for Store {
    async fn list(
        &self,
        dest: Option<&Destination>,
        limit: usize,
        offset: usize,
    ) -> Result<Vec<RecipientInfo>, SpoolError> {
        each!(self, s => s.list(dest, limit, offset).await)
    }

    async fn inspect(&self, id: MessageId) -> Result<Vec<RecipientInfo>, SpoolError> {
        each!(self, s => s.inspect(id).await)
    }

    async fn queue_counts(&self, now: Millis) -> Result<Vec<QueueCounts>, SpoolError> {
        each!(self, s => s.queue_counts(now).await)
    }

    async fn reschedule(
        &self,
        selection: Selection,
        due: Millis,
    ) -> Result<Vec<Destination>, SpoolError> {
        each!(self, s => s.reschedule(selection, due).await)
    }

    async fn reroute(
        &self,
        selection: Selection,
        to: Destination,
        due: Millis,
    ) -> Result<Vec<Destination>, SpoolError> {
        each!(self, s => s.reroute(selection, to, due).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spoolbase_is_a_directory_unless_it_is_a_postgresql_url() {
        assert_eq!(
            Spoolbase::parse("/var/spool/impulse"),
            Spoolbase::Directory("/var/spool/impulse".into())
        );
        assert!(matches!(
            Spoolbase::parse("postgresql://impulse@db:5432/impulse"),
            Spoolbase::Postgres(_)
        ));
        assert!(matches!(
            Spoolbase::parse("postgres://db/impulse"),
            Spoolbase::Postgres(_)
        ));
    }

    #[test]
    fn a_password_never_reaches_the_log() {
        assert_eq!(
            redacted("postgresql://impulse:s3cret@db:5432/spool"),
            "postgresql://impulse:***@db:5432/spool"
        );
        assert_eq!(
            redacted("postgresql://impulse@db/spool"),
            "postgresql://impulse@db/spool"
        );
        assert_eq!(
            redacted("postgresql://db/spool?user=impulse&password=s3cret"),
            "postgresql://db/spool?user=impulse&password=***"
        );
    }
}
