//! This node in the cluster: its registration (a name and an epoch), its heartbeat, and the
//! reaping of what dead nodes held.
//!
//! The epoch is the fencing token. Every lease a node takes carries its epoch, and an outcome
//! is recorded only where the recipient is still leased under that epoch. A node whose
//! heartbeat is older than the lease timeout is *fenced* by whichever node notices first, in
//! one transaction with queueing its leases again; from then on nothing it records is
//! accepted, and when it wakes up it learns so from its own heartbeat and registers again
//! under a new epoch. Row locks make the two orders exact: either the outcome was recorded
//! before the reaping (the recipient is gone or rescheduled), or it is refused.
//!
//! Liveness is judged by the database's clock alone, so the nodes' clocks need not agree.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use deadpool_postgres::{GenericClient, Pool};
use tokio::sync::{Notify, watch};

use super::floors::Floors;
use super::schema::NOW_MS;
use super::storage;
use crate::{Millis, SpoolError};

/// Fenced nodes are forgotten this long after their last heartbeat, once nothing of theirs
/// is left to requeue.
const FORGET_AFTER: Millis = 24 * 3600 * 1000;

/// How long submissions are kept for matching receipts (as in the SQLite spool).
const SUBMISSION_RETENTION: Millis = 7 * 24 * 3600 * 1000;
/// How often a node removes expired rows, and how many at most each time.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(60);
const HOUSEKEEPING_BATCH: i64 = 10_000;

/// Who this process is in the cluster.
#[derive(Debug)]
pub(super) struct NodeState {
    pub(super) name: String,
    epoch: AtomicI64,
    pub(super) lease_timeout: Duration,
    pub(super) config_hash: String,
    /// Set by the writer when a commit failed or its outcome is unknown: leases it recorded
    /// may be left behind under this epoch, so the node registers again and fences it.
    rejoin: Notify,
    /// Where each destination's scans start (see `floors`).
    pub(super) floors: Floors,
    /// Message ids drawn from the sequence ahead of need (see `ops::message_ids`).
    pub(super) spare_ids: std::sync::Mutex<Vec<i64>>,
}

impl NodeState {
    pub(super) fn epoch(&self) -> i64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// After a commit that failed or whose outcome is unknown: register again soon.
    pub(super) fn rejoin(&self) {
        self.rejoin.notify_one();
    }
}

/// A node as the cluster's console shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeInfo {
    pub name: String,
    pub epoch: i64,
    pub started_at: Millis,
    /// Milliseconds since its last heartbeat, by the database's clock.
    pub heartbeat_age: Millis,
    /// Fenced: declared dead; its leases went back to the queue.
    pub fenced: bool,
    pub config_hash: String,
    /// What it published about itself (`PgSpool::publish_status`).
    pub status: String,
}

/// Queues again what fenced epochs hold: leased recipients and claimed MO parts. Rows locked by
/// a transaction still open are passed over (SKIP LOCKED) and taken at a later heartbeat: a
/// paused node's open transaction never blocks the heartbeat of the others. An epoch with
/// nothing left is marked drained and not looked at again: the leased index keeps entries for
/// every lease ever taken until VACUUM can remove them (see `floors`), and only a fenced
/// epoch's are walked. Returns the recipients queued again.
///
/// No lease is taken under an epoch once its fencing has committed (the lease statement holds a
/// key-share lock on its node's row, which fencing's row lock waits for), so a drained epoch
/// stays drained.
async fn requeue_fenced(c: &impl GenericClient) -> Result<u64, SpoolError> {
    let fenced: Vec<i64> = c
        .query("SELECT epoch FROM nodes WHERE fenced AND NOT drained", &[])
        .await
        .map_err(storage)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if fenced.is_empty() {
        return Ok(0);
    }
    // Due now by the database's clock, or later: above every node's floor.
    let recipients = c
        .execute(
            &format!(
                "UPDATE recipients SET state = 0, due = greatest(due, {NOW_MS}), \
                     lease_epoch = NULL, lease_node = NULL \
                 WHERE id IN (SELECT id FROM recipients WHERE state = 1 \
                     AND lease_epoch = ANY($1) FOR UPDATE SKIP LOCKED)"
            ),
            &[&fenced],
        )
        .await
        .map_err(storage)?;
    c.execute(
        "UPDATE mo_parts SET done = 0, claimed_epoch = NULL \
         WHERE (key, seq) IN (SELECT key, seq FROM mo_parts WHERE done = 2 \
             AND claimed_epoch = ANY($1) FOR UPDATE SKIP LOCKED)",
        &[&fenced],
    )
    .await
    .map_err(storage)?;
    c.execute(
        "UPDATE nodes n SET drained = true WHERE epoch = ANY($1) \
           AND NOT EXISTS (SELECT 1 FROM recipients r WHERE r.state = 1 AND r.lease_epoch = n.epoch) \
           AND NOT EXISTS (SELECT 1 FROM mo_parts p WHERE p.done = 2 AND p.claimed_epoch = n.epoch)",
        &[&fenced],
    )
    .await
    .map_err(storage)?;
    Ok(recipients)
}

/// Whom a registration fences besides registering.
enum Fence {
    /// Every other registration of this name: a process starting (a node restarted after a
    /// crash takes its own work back without waiting for the lease timeout).
    SameName,
    /// This process's earlier epoch only (after a commit whose outcome is unknown).
    Epoch(i64),
    /// Nobody (this process was fenced by the others).
    Nobody,
}

/// Registers this process under `name` with a new epoch and fences as `fence` says. Returns
/// the epoch and the recipients queued again.
async fn register(
    pool: &Pool,
    node: (&str, &str, Duration),
    fence: Fence,
) -> Result<(i64, u64), SpoolError> {
    let (name, config_hash, lease_timeout) = node;
    let mut client = pool.get().await.map_err(storage)?;
    let tx = client.transaction().await.map_err(storage)?;
    let epoch: i64 = tx
        .query_one(
            &format!(
                "INSERT INTO nodes (name, started_at, heartbeat_at, config_hash, lease_timeout) \
                 VALUES ($1, {NOW_MS}, {NOW_MS}, $2, $3) RETURNING epoch"
            ),
            &[&name, &config_hash, &(lease_timeout.as_millis() as i64)],
        )
        .await
        .map_err(storage)?
        .get(0);
    match fence {
        Fence::SameName => {
            tx.execute(
                "UPDATE nodes SET fenced = true WHERE epoch IN (SELECT epoch FROM nodes \
                 WHERE name = $1 AND epoch <> $2 AND NOT fenced ORDER BY epoch FOR UPDATE)",
                &[&name, &epoch],
            )
            .await
            .map_err(storage)?;
        }
        Fence::Epoch(old) => {
            tx.execute(
                "UPDATE nodes SET fenced = true WHERE epoch IN \
                 (SELECT epoch FROM nodes WHERE epoch = $1 FOR UPDATE)",
                &[&old],
            )
            .await
            .map_err(storage)?;
        }
        Fence::Nobody => {}
    }
    let resumed = requeue_fenced(&tx).await?;
    tx.commit().await.map_err(storage)?;
    Ok((epoch, resumed))
}

/// Registers this node, then keeps its heartbeat and reaps dead nodes until `stop` is dropped
/// or set. Returns the node and the recipients queued again at registration.
pub(super) async fn join(
    pool: &Pool,
    name: String,
    lease_timeout: Duration,
    config_hash: String,
    stop: watch::Receiver<bool>,
) -> Result<(Arc<NodeState>, u64), SpoolError> {
    let (epoch, resumed) =
        register(pool, (&name, &config_hash, lease_timeout), Fence::SameName).await?;
    let node = Arc::new(NodeState {
        name,
        epoch: AtomicI64::new(epoch),
        lease_timeout,
        config_hash,
        rejoin: Notify::new(),
        spare_ids: Default::default(),
        floors: Floors::default(),
    });
    warn_if_configured_differently(pool, &node).await;
    tokio::spawn(heartbeat_loop(pool.clone(), node.clone(), stop));
    Ok((node, resumed))
}

/// Each node's configuration is a file of its own: a node whose configuration differs from a
/// live node's says so at start (the hash of each node's files is in `nodes`).
async fn warn_if_configured_differently(pool: &Pool, node: &NodeState) {
    if node.config_hash.is_empty() {
        return;
    }
    let Ok(client) = pool.get().await else { return };
    let Ok(rows) = client
        .query(
            "SELECT DISTINCT name FROM nodes WHERE NOT fenced AND name <> $1 \
             AND config_hash <> $2 AND config_hash <> ''",
            &[&node.name, &node.config_hash],
        )
        .await
    else {
        return;
    };
    let others: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    if !others.is_empty() {
        tracing::warn!(
            node = %node.name,
            others = %others.join(", "),
            "this node's configuration differs from other live nodes' (configuration hash)"
        );
    }
}

async fn heartbeat_loop(pool: Pool, node: Arc<NodeState>, mut stop: watch::Receiver<bool>) {
    let every = (node.lease_timeout / 3).max(Duration::from_millis(100));
    let identity = (
        node.name.as_str(),
        node.config_hash.as_str(),
        node.lease_timeout,
    );
    let mut rejoin = false;
    let mut housekept = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = node.rejoin.notified() => rejoin = true,
            changed = stop.changed() => if changed.is_err() || *stop.borrow() { return },
        }
        // A handle dropped meanwhile: never register again for it.
        if stop.has_changed().is_err() {
            return;
        }
        if rejoin {
            let old = node.epoch();
            match register(&pool, identity, Fence::Epoch(old)).await {
                Ok((epoch, resumed)) => {
                    node.epoch.store(epoch, Ordering::Release);
                    rejoin = false;
                    tracing::warn!(
                        node = %node.name, old, epoch, resumed,
                        "a spool commit failed or its outcome is unknown: registered again, and \
                         what the earlier epoch held is queued again"
                    );
                }
                Err(e) => tracing::error!(error = %e, "registering again failed"),
            }
            continue;
        }
        if housekept.elapsed() >= HOUSEKEEPING_EVERY {
            housekept = tokio::time::Instant::now();
            if let Err(e) = housekeeping(&pool).await {
                tracing::warn!(error = %e, "removing expired submissions and mappings failed");
            }
        }
        match beat(&pool, &node).await {
            Ok(Beat { fenced: true, .. }) => {
                tracing::error!(
                    node = %node.name,
                    epoch = node.epoch(),
                    "this node was declared dead by the cluster (its heartbeat was late, or \
                     another process started with its name); its leases went to other nodes \
                     and what it records under them is refused"
                );
                match another_live(&pool, &node.name).await {
                    Ok(true) => tracing::error!(
                        node = %node.name,
                        "another process runs as this node: this one leases nothing more \
                         (give each node its own Node_Name)"
                    ),
                    Ok(false) => match register(&pool, identity, Fence::Nobody).await {
                        Ok((epoch, _)) => node.epoch.store(epoch, Ordering::Release),
                        Err(e) => tracing::error!(error = %e, "registering again failed"),
                    },
                    Err(e) => tracing::error!(error = %e, "registering again failed"),
                }
            }
            Ok(Beat { taken_over, .. }) => {
                if taken_over > 0 {
                    tracing::warn!(
                        node = %node.name,
                        recipients = taken_over,
                        "recipients leased by a node whose lease expired are queued again"
                    );
                    metrics::counter!("impulse_spool_leases_taken_over_total")
                        .increment(taken_over);
                }
            }
            Err(e) => tracing::error!(error = %e, "spool heartbeat failed"),
        }
    }
}

/// Removes submissions past their retention and expired reverse mappings, a batch at a time
/// (a time-bounded statement; the rest goes at the next round): the writer's groups never
/// carry these deletions.
async fn housekeeping(pool: &Pool) -> Result<(), SpoolError> {
    let client = pool.get().await.map_err(storage)?;
    let now = crate::now_millis();
    client
        .execute(
            "DELETE FROM submissions WHERE ctid = ANY(ARRAY(SELECT ctid FROM submissions \
             WHERE submitted_at < $1 LIMIT $2))",
            &[&(now - SUBMISSION_RETENTION), &HOUSEKEEPING_BATCH],
        )
        .await
        .map_err(storage)?;
    client
        .execute(
            "DELETE FROM reverse_mappings WHERE ctid = ANY(ARRAY(SELECT ctid FROM reverse_mappings \
             WHERE expires <= $1 LIMIT $2))",
            &[&now, &HOUSEKEEPING_BATCH],
        )
        .await
        .map_err(storage)?;
    Ok(())
}

/// Whether a live registration of `name` exists (another process runs under this name).
async fn another_live(pool: &Pool, name: &str) -> Result<bool, SpoolError> {
    let client = pool.get().await.map_err(storage)?;
    Ok(client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM nodes WHERE name = $1 AND NOT fenced)",
            &[&name],
        )
        .await
        .map_err(storage)?
        .get(0))
}

struct Beat {
    /// This node had been fenced.
    fenced: bool,
    /// Recipients of dead nodes queued again.
    taken_over: u64,
}

/// One heartbeat: this node's, committed on its own (nothing can hold it up), then fencing the
/// nodes whose heartbeat is older than their own lease timeout and queueing their work again,
/// in a transaction that waits for no lock longer than a second.
async fn beat(pool: &Pool, node: &NodeState) -> Result<Beat, SpoolError> {
    let mut client = pool.get().await.map_err(storage)?;
    let alive = client
        .execute(
            &format!("UPDATE nodes SET heartbeat_at = {NOW_MS} WHERE epoch = $1 AND NOT fenced"),
            &[&node.epoch()],
        )
        .await
        .map_err(storage)?;
    let tx = client.transaction().await.map_err(storage)?;
    tx.batch_execute("SET LOCAL lock_timeout = '1s'")
        .await
        .map_err(storage)?;
    tx.execute(
        &format!(
            "UPDATE nodes SET fenced = true WHERE epoch IN (SELECT epoch FROM nodes \
             WHERE NOT fenced AND heartbeat_at < {NOW_MS} - lease_timeout ORDER BY epoch FOR UPDATE)"
        ),
        &[],
    )
    .await
    .map_err(storage)?;
    let taken_over = requeue_fenced(&tx).await?;
    tx.execute(
        &format!("DELETE FROM nodes WHERE fenced AND drained AND heartbeat_at < {NOW_MS} - $1"),
        &[&FORGET_AFTER],
    )
    .await
    .map_err(storage)?;
    tx.commit().await.map_err(storage)?;
    Ok(Beat {
        fenced: alive == 0,
        taken_over,
    })
}

/// Every node the database knows, live ones first.
pub(super) async fn nodes(pool: &Pool) -> Result<Vec<NodeInfo>, SpoolError> {
    let client = pool.get().await.map_err(storage)?;
    let rows = client
        .query(
            &format!(
                "SELECT name, epoch, started_at, {NOW_MS} - heartbeat_at, fenced, config_hash, status \
                 FROM nodes ORDER BY fenced, name, epoch"
            ),
            &[],
        )
        .await
        .map_err(storage)?;
    Ok(rows
        .iter()
        .map(|r| NodeInfo {
            name: r.get(0),
            epoch: r.get(1),
            started_at: r.get(2),
            heartbeat_age: r.get(3),
            fenced: r.get(4),
            config_hash: r.get(5),
            status: r.get(6),
        })
        .collect())
}

/// Publishes what this node says about itself (the console of any node shows it).
pub(super) async fn publish_status(
    pool: &Pool,
    node: &NodeState,
    status: &str,
) -> Result<(), SpoolError> {
    let client = pool.get().await.map_err(storage)?;
    client
        .execute(
            "UPDATE nodes SET status = $2 WHERE epoch = $1",
            &[&node.epoch(), &status],
        )
        .await
        .map_err(storage)?;
    Ok(())
}
