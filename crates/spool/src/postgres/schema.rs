//! The shared spool's tables, and how a database is brought to the version this code writes.
//!
//! Nodes may start at the same moment: creation and migration run under a transaction-level
//! advisory lock, so exactly one node creates or migrates and the others find it done. The
//! version is a row of `impulse_schema`; a database written by a newer Impulse is refused.

use deadpool_postgres::{GenericClient, Object};

use super::storage;
use crate::SpoolError;

/// The schema this code writes. 1: the first shared spool. 2: drained epochs, the list of
/// destinations, bind slots and fail orders (`MIGRATIONS`).
pub(super) const SCHEMA_VERSION: i64 = 2;

/// Any 64-bit number that other users of the database do not lock: "IMPULSE" in ASCII.
const MIGRATION_LOCK: i64 = 0x0049_4d50_554c_5345;

/// The database's clock in milliseconds since the Unix epoch: lease expiry and heartbeats are
/// judged by one clock, whatever the nodes' clocks say.
pub(super) const NOW_MS: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

/// Version 1, which a new database is created at before the migrations run.
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS impulse_schema (version BIGINT NOT NULL);
-- One row per node process: its name, its epoch (the fencing token its leases carry), its
-- heartbeat. A node whose heartbeat is older than the lease timeout is fenced: its leases are
-- queued again and nothing it records afterwards is accepted.
CREATE TABLE IF NOT EXISTS nodes (
    epoch        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         TEXT NOT NULL,
    started_at   BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL,
    fenced       BOOLEAN NOT NULL DEFAULT false,
    config_hash  TEXT NOT NULL DEFAULT '',
    -- Its own Spool_Lease_Timeout, in ms: each node is judged by the timeout it beats for.
    lease_timeout BIGINT NOT NULL DEFAULT 30000,
    -- What the node reports about itself for the cluster's console (binds, queues), as JSON.
    status       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS nodes_live ON nodes (heartbeat_at) WHERE NOT fenced;
CREATE TABLE IF NOT EXISTS messages (
    -- An identity is never reused: logs, receipts and retry bookkeeping refer to messages by it.
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at BIGINT NOT NULL,
    sender      TEXT NOT NULL,
    peer        TEXT NOT NULL,
    protocol    TEXT NOT NULL,
    body        BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS recipients (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id    BIGINT NOT NULL,
    address       TEXT NOT NULL,
    domain        TEXT NOT NULL,
    binding       TEXT NOT NULL,
    -- 0 queued, 1 leased, 4 quarantined (as in the SQLite spool).
    state         SMALLINT NOT NULL,
    due           BIGINT NOT NULL,
    attempts      BIGINT NOT NULL DEFAULT 0,
    last_response TEXT,
    -- The lease: the holder's name (for people) and epoch (the fencing token).
    lease_node    TEXT,
    lease_epoch   BIGINT,
    -- Leased before: an attempt may have been under way when its process died.
    leased_before BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS recipients_due ON recipients (domain, binding, due) WHERE state = 0;
CREATE INDEX IF NOT EXISTS recipients_leased ON recipients (lease_epoch) WHERE state = 1;
CREATE INDEX IF NOT EXISTS recipients_message ON recipients (message_id);
CREATE TABLE IF NOT EXISTS submissions (
    key          TEXT NOT NULL,
    smsc_id      TEXT NOT NULL,
    message      TEXT NOT NULL,
    domain       TEXT NOT NULL,
    recipient    TEXT NOT NULL,
    sender       TEXT NOT NULL,
    segment      BIGINT NOT NULL,
    total        BIGINT NOT NULL,
    submitted_at BIGINT NOT NULL,
    PRIMARY KEY (key, message, recipient, segment)
);
CREATE INDEX IF NOT EXISTS submissions_message ON submissions (message, recipient);
CREATE INDEX IF NOT EXISTS submissions_age ON submissions (submitted_at);
CREATE TABLE IF NOT EXISTS reverse_mappings (
    domain     TEXT NOT NULL,
    sms_addr   TEXT NOT NULL,
    shortcode  TEXT NOT NULL,
    email_addr TEXT NOT NULL,
    expires    BIGINT NOT NULL,
    PRIMARY KEY (domain, sms_addr, shortcode)
);
CREATE INDEX IF NOT EXISTS reverse_mappings_expiry ON reverse_mappings (expires);
CREATE TABLE IF NOT EXISTS mo_parts (
    key         TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    total       BIGINT NOT NULL,
    data        BYTEA NOT NULL,
    data_coding SMALLINT NOT NULL,
    domain      TEXT NOT NULL,
    binding     TEXT NOT NULL,
    source      TEXT NOT NULL,
    dest        TEXT NOT NULL,
    meta        TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    -- 0 waiting for the rest; 2 claimed (being mailed) by the node of claimed_epoch; 1 mailed,
    -- kept a while to answer late duplicates at once.
    done        SMALLINT NOT NULL DEFAULT 0,
    claimed_epoch BIGINT,
    PRIMARY KEY (key, seq)
);
CREATE INDEX IF NOT EXISTS mo_parts_waiting ON mo_parts (received_at) WHERE done = 0;
CREATE INDEX IF NOT EXISTS mo_parts_mailed ON mo_parts (received_at) WHERE done = 1;
CREATE INDEX IF NOT EXISTS mo_parts_claimed ON mo_parts (claimed_epoch) WHERE done = 2;
";

/// Each version's changes to the one before, in order.
const MIGRATIONS: &[(i64, &str)] = &[(2, V2)];

const V2: &str = "
-- A fenced epoch whose leases were all queued again: the heartbeat stops looking at it.
ALTER TABLE nodes ADD COLUMN IF NOT EXISTS drained BOOLEAN NOT NULL DEFAULT false;
-- Every destination ever queued for: the schedulers' rescans probe each one's queue from its
-- floor instead of grouping the whole queued index.
CREATE TABLE IF NOT EXISTS destinations (
    domain  TEXT NOT NULL,
    binding TEXT NOT NULL,
    PRIMARY KEY (domain, binding)
);
INSERT INTO destinations SELECT DISTINCT domain, binding FROM recipients ON CONFLICT DO NOTHING;
-- The binds an SMSC account allows, shared by the cluster: a bind opens only in a slot its
-- node holds; a slot whose holder is fenced is free.
CREATE TABLE IF NOT EXISTS bind_slots (
    account TEXT NOT NULL,
    slot    INT NOT NULL,
    epoch   BIGINT NOT NULL,
    node    TEXT NOT NULL,
    PRIMARY KEY (account, slot)
);
-- Operators' fail orders, in force on every node until withdrawn or expired.
CREATE TABLE IF NOT EXISTS fail_orders (
    id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    domain   TEXT NOT NULL,
    message  BIGINT,
    binding  TEXT,
    before   BIGINT NOT NULL,
    quiet    BOOLEAN NOT NULL,
    node     TEXT NOT NULL,
    expires  BIGINT NOT NULL
);
";

/// Nodes still running an older version would keep writing the older schema (version 1 nodes
/// do not fill `destinations`, whose recipients the newer nodes would then never find): a
/// database is migrated only when no node beats any more. Stop every node, then start the new
/// version.
async fn refuse_while_older_nodes_run(
    c: &impl GenericClient,
    found: i64,
) -> Result<(), SpoolError> {
    if found >= SCHEMA_VERSION {
        return Ok(());
    }
    let live: Vec<String> = c
        .query(
            &format!(
                "SELECT DISTINCT name FROM nodes WHERE NOT fenced \
                 AND heartbeat_at >= {NOW_MS} - lease_timeout ORDER BY name"
            ),
            &[],
        )
        .await
        .map_err(storage)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if live.is_empty() {
        return Ok(());
    }
    Err(SpoolError::Storage(format!(
        "the spool database is at schema version {found} and nodes of that version are running \
         ({}): stop every node before starting this version, which migrates it to {SCHEMA_VERSION}",
        live.join(", ")
    )))
}

/// The version a database holds, if it has Impulse's schema.
async fn version(client: &impl GenericClient) -> Result<Option<i64>, SpoolError> {
    let exists: bool = client
        .query_one("SELECT to_regclass('impulse_schema') IS NOT NULL", &[])
        .await
        .map_err(storage)?
        .get(0);
    if !exists {
        return Ok(None);
    }
    Ok(client
        .query_one("SELECT max(version) FROM impulse_schema", &[])
        .await
        .map_err(storage)?
        .get(0))
}

/// Creates the tables, or checks that the database holds the version this code writes.
///
/// A database already at this version is only read: the DDL (`CREATE INDEX IF NOT EXISTS` takes
/// a share lock on its table) would wait behind the other nodes' writes, and they behind it.
pub(super) async fn migrate(client: &mut Object) -> Result<(), SpoolError> {
    match version(client).await? {
        Some(found) if found > SCHEMA_VERSION => {
            return Err(SpoolError::NewerSchema {
                found,
                supported: SCHEMA_VERSION,
            });
        }
        Some(SCHEMA_VERSION) => return Ok(()),
        _ => {}
    }
    let tx = client.transaction().await.map_err(storage)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(storage)?;
    // Another node may have created or migrated it while this one waited for the lock.
    let found = version(&tx).await?;
    let from = match found {
        Some(found) if found > SCHEMA_VERSION => {
            return Err(SpoolError::NewerSchema {
                found,
                supported: SCHEMA_VERSION,
            });
        }
        Some(found) => {
            refuse_while_older_nodes_run(&tx, found).await?;
            found
        }
        None => {
            tx.batch_execute(SCHEMA).await.map_err(storage)?;
            1
        }
    };
    for (version, changes) in MIGRATIONS.iter().filter(|(v, _)| *v > from) {
        tx.batch_execute(changes).await.map_err(storage)?;
        tracing::info!(version, "spool database migrated");
    }
    tx.execute("DELETE FROM impulse_schema", &[])
        .await
        .map_err(storage)?;
    tx.execute(
        "INSERT INTO impulse_schema (version) VALUES ($1)",
        &[&SCHEMA_VERSION],
    )
    .await
    .map_err(storage)?;
    tx.commit().await.map_err(storage)
}
