//! The shared spool: one PostgreSQL database that several `impulse serve` nodes use at once
//! (docs/scale-out.md).
//!
//! Writes go through two writer tasks per node, each of which commits *groups* of requests in
//! one transaction, as the SQLite spool's writer thread does: many SMTP sessions share one
//! commit (and PostgreSQL's own group commit shares the WAL flush among writers and nodes).
//! One writer takes new messages, the other everything else, so that an SMTP session waits
//! for a commit of new messages only. A caller is answered only after its group has
//! committed, so an acknowledgement never precedes its commit. Reads use a small connection
//! pool.
//!
//! Several nodes lease from the same queue: a lease is `FOR UPDATE SKIP LOCKED` and carries
//! the node's epoch, the fencing token of `node`.

mod cluster;
mod floors;
mod node;
mod ops;
mod schema;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use tokio::sync::{mpsc, oneshot, watch};

pub use cluster::SharedFailOrder;
pub use node::NodeInfo;
use node::NodeState;
#[cfg(feature = "conformance")]
pub(crate) use schema::SCHEMA as SCHEMA_V1;

use crate::request::{Produced, Request, answer};
use crate::{
    Destination, DestinationDue, LeaseRef, Leased, MessageId, Millis, MoPart, MoPartStored,
    MobileStore, NewMessage, Outcome, QueueCounts, QueueQueries, QueueStore, RecipientId,
    RecipientInfo, RecipientState, ReverseMapping, Selection, SpoolError, StoredMessage,
    Submission,
};

/// Most requests committed in one transaction (as in the SQLite spool).
const MAX_GROUP: usize = 512;
/// Connections for reads (the writers and the heartbeat have two each of their own).
const POOL_SIZE: usize = 8;

/// A database error as the spool reports it, with its causes: the server's message (a
/// deadlock, a constraint) is the source of tokio-postgres's "db error".
pub(super) fn storage(e: impl std::error::Error) -> SpoolError {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        // Some errors print their source themselves (deadpool's); it is not repeated.
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    SpoolError::Storage(text)
}

/// How to reach the database and who this node is.
#[derive(Clone, Debug)]
pub struct PgOptions {
    /// `postgresql://user[:password]@host[:port]/database[?options]`.
    pub url: String,
    /// This node's name (logs, console, leases). Unique in the cluster: a process that starts
    /// with the name of another fences it.
    pub node_name: String,
    /// A node that has not been heard from for this long is declared dead and its leases go
    /// to the others.
    pub lease_timeout: Duration,
    /// A hash of this node's configuration, compared with the other nodes' at start.
    pub config_hash: String,
}

/// The PostgreSQL spool. Cheap to clone; all clones share the writer tasks and the pool. The
/// heartbeat stops when the last clone is dropped.
#[derive(Clone)]
pub struct PgSpool {
    inner: Arc<Inner>,
}

struct Inner {
    /// The writer of new messages: an SMTP session's acknowledgement waits for its commit
    /// alone, not for the delivery work's.
    intake: mpsc::UnboundedSender<Request>,
    /// The writer of everything else: leases, outcomes, submissions, MO parts, moves.
    writer: mpsc::UnboundedSender<Request>,
    pool: Pool,
    node: Arc<NodeState>,
    /// Dropped with the last handle: stops the heartbeat.
    _stop: watch::Sender<bool>,
}

impl PgSpool {
    /// Connects, creates or checks the schema, and joins the cluster as `options.node_name`.
    /// Returns the recipients queued again: those a previous process of this name had leased.
    pub async fn open(options: PgOptions) -> Result<(Self, u64), SpoolError> {
        let mut config = tokio_postgres::Config::from_str(&options.url)
            .map_err(|e| SpoolError::Storage(format!("Spoolbase is not a PostgreSQL URL: {e}")))?;
        // A dead connection (a failover, a cut network) is noticed within the lease timeout,
        // and a session left idle inside a transaction (its node paused) is ended by the
        // server before the lease timeout, so that the locks it held are released.
        let half = (options.lease_timeout / 2).max(Duration::from_secs(1));
        config
            .connect_timeout(Duration::from_secs(10))
            .keepalives_idle(half)
            .tcp_user_timeout(options.lease_timeout)
            .options(format!(
                "-c idle_in_transaction_session_timeout={}",
                half.as_millis()
            ));
        let pools = |size: usize| {
            let manager = Manager::from_config(
                config.clone(),
                tokio_postgres::NoTls,
                ManagerConfig {
                    recycling_method: RecyclingMethod::Fast,
                },
            );
            Pool::builder(manager)
                .max_size(size)
                .runtime(deadpool_postgres::Runtime::Tokio1)
                .wait_timeout(Some(Duration::from_secs(10)))
                .create_timeout(Some(Duration::from_secs(10)))
                .build()
                .map_err(storage)
        };
        let pool = pools(POOL_SIZE)?;
        // The heartbeat has connections of its own: reads never hold it up.
        let beat_pool = pools(2)?;
        let mut first = pool.get().await.map_err(storage)?;
        schema::migrate(&mut first).await?;
        let (stop, stopped) = watch::channel(false);
        let (node, resumed) = node::join(
            &beat_pool,
            options.node_name,
            options.lease_timeout,
            options.config_hash,
            stopped,
        )
        .await?;
        drop(first);
        // The writers run on a thread of their own, with their connections, as the SQLite
        // spool's writer does: their round trips to the database do not wait for the
        // sessions' tasks of the node's runtime. Two writers, each a transaction at a time
        // on its own connection; they hardly touch the same rows (new messages are rows nobody
        // else sees until they commit; only a destination new to both may be inserted by
        // each, and a deadlock there is detected and retried one request at a time).
        let writer_pool = pools(2)?;
        let (intake, intake_rx) = mpsc::unbounded_channel();
        let (writer, writer_rx) = mpsc::unbounded_channel();
        let writer_node = node.clone();
        std::thread::Builder::new()
            .name("spool-writer".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                let runtime = match runtime {
                    Ok(r) => r,
                    // Every write is then refused as "spool closed".
                    Err(e) => return tracing::error!(error = %e, "spool writer did not start"),
                };
                runtime.block_on(async move {
                    tokio::join!(
                        writer_loop(
                            writer_pool.clone(),
                            writer_node.clone(),
                            intake_rx,
                            Writer::Intake
                        ),
                        writer_loop(writer_pool, writer_node, writer_rx, Writer::Delivery),
                    )
                });
            })
            .map_err(storage)?;
        Ok((
            PgSpool {
                inner: Arc::new(Inner {
                    intake,
                    writer,
                    pool,
                    node,
                    _stop: stop,
                }),
            },
            resumed,
        ))
    }

    /// Groups of writes (in this process) that ran one request at a time because the group as
    /// a whole failed: a request that fails alone is rare, so a count that grows with the
    /// traffic means the merged path is broken (the tests check it stays 0).
    pub fn groups_run_one_by_one() -> u64 {
        GROUPS_RUN_ONE_BY_ONE.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// This node's name.
    pub fn node_name(&self) -> &str {
        &self.inner.node.name
    }

    /// This node's current epoch (it changes when the node had been fenced and registered
    /// again).
    pub fn epoch(&self) -> i64 {
        self.inner.node.epoch()
    }

    /// The configuration hash this node registered with.
    pub fn config_hash(&self) -> &str {
        &self.inner.node.config_hash
    }

    /// Every node the database knows, live ones first.
    pub async fn nodes(&self) -> Result<Vec<NodeInfo>, SpoolError> {
        node::nodes(&self.inner.pool).await
    }

    /// Publishes what this node says about itself (its binds, say), for other nodes' consoles.
    pub async fn publish_status(&self, status: &str) -> Result<(), SpoolError> {
        node::publish_status(&self.inner.pool, &self.inner.node, status).await
    }

    /// Takes one of the `limit` bind slots of an SMSC `account` for this node, if one is free
    /// (see `bind_slots` in the schema).
    pub async fn take_bind_slot(
        &self,
        account: &str,
        limit: u32,
    ) -> Result<Option<i32>, SpoolError> {
        cluster::take_bind_slot(&self.inner.pool, &self.inner.node, account, limit).await
    }

    /// Gives back a bind slot this node holds.
    pub async fn release_bind_slot(&self, account: &str, slot: i32) -> Result<(), SpoolError> {
        cluster::release_bind_slot(&self.inner.pool, &self.inner.node, account, slot).await
    }

    /// The bind slots this node holds, by the database: none once it was fenced.
    pub async fn held_bind_slots(&self) -> Result<Vec<(String, i32)>, SpoolError> {
        cluster::held_bind_slots(&self.inner.pool, &self.inner.node).await
    }

    /// Puts a fail order in force on every node, for at most `expires_in` ms.
    pub async fn give_fail_order(
        &self,
        order: &SharedFailOrder,
        expires_in: Millis,
    ) -> Result<i64, SpoolError> {
        cluster::give_fail_order(&self.inner.pool, &self.inner.node, order, expires_in).await
    }

    pub async fn withdraw_fail_order(&self, id: i64) -> Result<(), SpoolError> {
        cluster::withdraw_fail_order(&self.inner.pool, id).await
    }

    /// The fail orders in force, given on any node.
    pub async fn fail_orders(&self) -> Result<Vec<SharedFailOrder>, SpoolError> {
        cluster::fail_orders(&self.inner.pool).await
    }

    /// Queues a write at once. Writes other than new messages go to one writer and commit in
    /// call order (as in the SQLite spool); new messages go to the intake writer and may
    /// commit before writes queued earlier (their callers wait for them).
    fn write<T: Send + 'static>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, SpoolError>>) -> Request,
    ) -> impl Future<Output = Result<T, SpoolError>> + Send + 'static {
        let (tx, rx) = oneshot::channel();
        let req = make(tx);
        let sent = match req {
            Request::Enqueue(..) => self.inner.intake.send(req),
            _ => self.inner.writer.send(req),
        };
        async move {
            sent.map_err(|_| SpoolError::Closed)?;
            rx.await.map_err(|_| SpoolError::Closed)?
        }
    }

    async fn reader(&self) -> Result<Object, SpoolError> {
        self.inner.pool.get().await.map_err(storage)
    }
}

async fn writer_loop(
    pool: Pool,
    node: Arc<NodeState>,
    mut rx: mpsc::UnboundedReceiver<Request>,
    writer: Writer,
) {
    let name = match writer {
        Writer::Intake => "intake",
        Writer::Delivery => "delivery",
    };
    let mut conn: Option<Object> = None;
    while let Some(req) = rx.recv().await {
        let mut group = vec![req];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(r) => group.push(r),
                Err(_) => break,
            }
        }
        // A connection the database closed (a restart, a failover) is replaced.
        let client = match conn.take().filter(|c| !c.is_closed()) {
            Some(c) => Ok(c),
            None => pool.get().await.map_err(storage),
        };
        let mut client = match client {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "spool database unreachable; the group was refused");
                for req in group {
                    let p = Produced::failed(&req, &e);
                    answer(req, p);
                }
                continue;
            }
        };
        let started = std::time::Instant::now();
        let committed = apply_group(&mut client, &node, &group).await;
        metrics::histogram!("impulse_spool_commit_seconds", "writer" => name)
            .record(started.elapsed().as_secs_f64());
        match committed {
            Ok(produced) => {
                for (req, p) in group.into_iter().zip(produced) {
                    answer(req, p);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "spool commit failed; every request of the group was refused");
                // Its outcome may be unknown (the connection died around the commit): leases
                // this node took or kept may be left behind under its epoch; registering again
                // fences that epoch and queues them again.
                if writer == Writer::Delivery {
                    node.rejoin();
                    node.floors.forget();
                }
                for req in group {
                    let p = Produced::failed(&req, &e);
                    answer(req, p);
                }
                // The connection may be left inside a transaction: it is closed, not reused.
                drop(Object::take(client));
                continue;
            }
        }
        conn = Some(client);
    }
}

/// The two writers of a node (see the module's documentation).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Writer {
    /// New messages: no leases, so a failure of its own leaves nothing of this node's epoch
    /// behind and needs no new registration.
    Intake,
    Delivery,
}

/// Applies a group in one transaction; when a request fails, the group runs again with each
/// request in its own savepoint, so that it is refused alone (as in the SQLite spool).
async fn apply_group(
    client: &mut Object,
    node: &NodeState,
    group: &[Request],
) -> Result<Vec<Produced>, SpoolError> {
    let c: &Object = client;
    if group.iter().all(|r| matches!(r, Request::Enqueue(..))) {
        // New messages alone are one statement (`ops::enqueue_many`), atomic without a
        // transaction around it: one round trip, and its answer comes after the commit.
        let all: Vec<usize> = (0..group.len()).collect();
        let mut produced: Vec<Option<Produced>> = (0..group.len()).map(|_| None).collect();
        match ops::execute_merged(c, node, group, &all, &mut produced).await {
            Ok(()) => return Ok(produced.into_iter().flatten().collect()),
            Err(e) => {
                tracing::debug!(error = %e, "a group of new messages failed; they are stored one by one");
                GROUPS_RUN_ONE_BY_ONE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return apply_one_by_one(client, node, group).await;
            }
        }
    }
    // Requests that touch rows no other request of a group can (enqueues, outcomes of
    // distinct leases, submissions, mappings) are merged by kind: each kind is a few
    // statements for the whole group. Leases touch only the rows they pick. All of these are
    // sent at once behind the BEGIN (pipelined on the connection: one round trip). The others
    // (MO parts, operator moves) read what they wrote and run one at a time after them.
    let (at_once, in_turn): (Vec<usize>, Vec<usize>) =
        (0..group.len()).partition(|&i| independent(&group[i]));
    let (leases, in_turn): (Vec<usize>, Vec<usize>) = in_turn
        .into_iter()
        .partition(|&i| matches!(group[i], Request::Lease(..)));
    let mut produced: Vec<Option<Produced>> = (0..group.len()).map(|_| None).collect();
    let (begun, merged, leased) = tokio::join!(
        biased;
        c.batch_execute("BEGIN"),
        ops::execute_merged(c, node, group, &at_once, &mut produced),
        futures_util::future::join_all(leases.iter().map(|&i| ops::execute(c, node, &group[i]))),
    );
    // A BEGIN fails only with its connection, and then so did every statement after it.
    begun.map_err(storage)?;
    let mut failed = leased.iter().any(|p| !p.is_ok());
    for (&i, p) in leases.iter().zip(leased) {
        produced[i] = Some(p);
    }
    if let Err(e) = &merged {
        tracing::debug!(error = %e, "a merged group failed; its requests run one by one");
        GROUPS_RUN_ONE_BY_ONE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        failed = true;
    }
    if !failed
        && !in_turn.is_empty()
        && let Err(e) = ops::lock_mo_keys(c, group).await
    {
        tracing::debug!(error = %e, "the group's MO locks were not taken; its requests run one by one");
        failed = true;
    }
    for i in in_turn {
        if failed {
            break;
        }
        let p = ops::execute(c, node, &group[i]).await;
        failed = !p.is_ok();
        produced[i] = Some(p);
    }
    if !failed {
        c.batch_execute("COMMIT").await.map_err(storage)?;
        return Ok(produced.into_iter().flatten().collect());
    }
    c.batch_execute("ROLLBACK").await.map_err(storage)?;
    // Leases of the rolled-back attempt raised floors over what is queued again.
    node.floors.forget();
    apply_one_by_one(client, node, group).await
}

/// A group with a failing request: each request in its own savepoint, so that it is refused
/// alone.
async fn apply_one_by_one(
    client: &mut Object,
    node: &NodeState,
    group: &[Request],
) -> Result<Vec<Produced>, SpoolError> {
    let mut tx = client.transaction().await.map_err(storage)?;
    ops::lock_mo_keys(&tx, group).await?;
    let mut produced = Vec::with_capacity(group.len());
    for req in group {
        let sp = tx.savepoint("request").await.map_err(storage)?;
        let p = ops::execute(&sp, node, req).await;
        if p.is_ok() {
            sp.commit().await.map_err(storage)?;
        } else {
            sp.rollback().await.map_err(storage)?;
        }
        produced.push(p);
    }
    tx.commit().await.map_err(storage)?;
    Ok(produced)
}

/// Groups that ran one request at a time after a failure (see [`PgSpool::groups_run_one_by_one`]).
static GROUPS_RUN_ONE_BY_ONE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Whether a request's statements may run interleaved with other requests' of its group.
fn independent(req: &Request) -> bool {
    matches!(
        req,
        Request::Enqueue(..)
            | Request::Record(..)
            | Request::Submissions(..)
            | Request::Mapping(..)
    )
}

const INFO_COLUMNS: &str = "r.id, r.message_id, coalesce(m.sender, ''), r.address, r.domain, r.binding, r.state, \
                            r.due, r.attempts, r.last_response, coalesce(m.received_at, 0)";

fn info_row(row: &tokio_postgres::Row) -> RecipientInfo {
    let code: i16 = row.get(6);
    RecipientInfo {
        recipient: RecipientId(row.get(0)),
        message: MessageId(row.get(1)),
        sender: row.get(2),
        address: row.get(3),
        destination: Destination {
            domain: row.get(4),
            binding: row.get(5),
        },
        state: match code {
            0 => RecipientState::Queued,
            1 => RecipientState::Leased,
            _ => RecipientState::Quarantined,
        },
        due: row.get(7),
        attempts: row.get::<_, i64>(8) as u32,
        last_response: row.get(9),
        received_at: row.get(10),
    }
}

impl QueueStore for PgSpool {
    async fn enqueue(&self, msg: NewMessage) -> Result<MessageId, SpoolError> {
        self.write(|tx| Request::Enqueue(msg, tx)).await
    }

    async fn lease_due(
        &self,
        dest: &Destination,
        now: Millis,
        limit: usize,
    ) -> Result<Leased, SpoolError> {
        let dest = dest.clone();
        self.write(|tx| Request::Lease(dest, now, limit, tx)).await
    }

    async fn record(&self, outcomes: Vec<(LeaseRef, Outcome)>) -> Result<(), SpoolError> {
        self.write(|tx| Request::Record(outcomes, tx)).await
    }

    async fn load(&self, id: MessageId) -> Result<StoredMessage, SpoolError> {
        let c = self.reader().await?;
        let mut loaded = ops::load_messages(&c, &[id.0]).await?;
        match loaded.remove(&id) {
            Some(m) => m.map(|m| (*m).clone()),
            None => Err(SpoolError::Unreadable(
                id,
                "message record is missing".into(),
            )),
        }
    }

    /// Each destination's earliest queued recipient, found from its floor (see `floors`): the
    /// scheduler of every node asks this every second, and a scan of the whole queued index
    /// would walk every version a long transaction keeps.
    async fn destinations(&self) -> Result<Vec<DestinationDue>, SpoolError> {
        let c = self.reader().await?;
        let known: Vec<Destination> = c
            .query("SELECT domain, binding FROM destinations", &[])
            .await
            .map_err(storage)?
            .iter()
            .map(|r| Destination {
                domain: r.get(0),
                binding: r.get(1),
            })
            .collect();
        let floors = &self.inner.node.floors;
        let scans: Vec<_> = known.iter().map(|d| floors.scan(d)).collect();
        let (domains, bindings): (Vec<&str>, Vec<&str>) = known
            .iter()
            .map(|d| (d.domain.as_str(), d.binding.as_str()))
            .unzip();
        let from: Vec<Millis> = scans.iter().map(|s| s.from).collect();
        let st = c
            .prepare_cached(
                "SELECT (SELECT min(due) FROM recipients r WHERE r.state = 0 AND r.domain = f.d \
                     AND r.binding = f.b AND r.due >= f.from_due) \
                 FROM unnest($1::text[], $2::text[], $3::bigint[]) WITH ORDINALITY \
                     AS f(d, b, from_due, n) ORDER BY n",
            )
            .await
            .map_err(storage)?;
        let rows = c
            .query(&st, &[&domains, &bindings, &from])
            .await
            .map_err(storage)?;
        let now = crate::now_millis();
        let mut out = Vec::new();
        for ((destination, scan), row) in known.into_iter().zip(scans).zip(rows) {
            let first: Option<Millis> = row.get(0);
            floors.saw(&destination, scan, first, now);
            if let Some(next_due) = first {
                out.push(DestinationDue {
                    destination,
                    next_due,
                });
            }
        }
        Ok(out)
    }

    async fn next_due(&self, dest: &Destination) -> Result<Option<Millis>, SpoolError> {
        let c = self.reader().await?;
        let floors = &self.inner.node.floors;
        let scan = floors.scan(dest);
        let first = ops::next_due(&c, dest, scan.from).await?;
        floors.saw(dest, scan, first, crate::now_millis());
        Ok(first)
    }

    /// A recipient that may have been in flight on a node that died says so itself
    /// (`Lease::leased_before`), whenever it was received.
    fn opened_at(&self) -> Millis {
        0
    }
}

impl MobileStore for PgSpool {
    fn save_mapping(
        &self,
        mapping: ReverseMapping,
    ) -> impl Future<Output = Result<(), SpoolError>> + Send {
        self.write(|tx| Request::Mapping(mapping, tx))
    }

    async fn lookup_mapping(
        &self,
        domain: &str,
        sms_addr: &str,
        shortcode: &str,
        now: Millis,
    ) -> Result<Option<String>, SpoolError> {
        let c = self.reader().await?;
        let row = c
            .query_opt(
                "SELECT email_addr FROM reverse_mappings WHERE domain = $1 AND sms_addr = $2 \
                 AND shortcode = $3 AND expires > $4",
                &[&domain, &sms_addr, &shortcode, &now],
            )
            .await
            .map_err(storage)?;
        Ok(row.map(|r| r.get(0)))
    }

    fn record_submissions(
        &self,
        submissions: Vec<Submission>,
    ) -> impl Future<Output = Result<(), SpoolError>> + Send + 'static {
        self.write(|tx| Request::Submissions(submissions, tx))
    }

    async fn accepted_segments(
        &self,
        message: String,
        recipient: String,
    ) -> Result<Vec<(u32, String)>, SpoolError> {
        let c = self.reader().await?;
        let rows = c
            .query(
                "SELECT DISTINCT segment, smsc_id FROM submissions WHERE message = $1 \
                 AND recipient = $2 ORDER BY segment",
                &[&message, &recipient],
            )
            .await
            .map_err(storage)?;
        Ok(rows
            .iter()
            .map(|r| (r.get::<_, i64>(0) as u32, r.get(1)))
            .collect())
    }

    async fn find_submissions(&self, keys: Vec<String>) -> Result<Vec<Submission>, SpoolError> {
        let c = self.reader().await?;
        let rows = c
            .query(
                "SELECT key, smsc_id, message, domain, recipient, sender, segment, total, \
                 submitted_at FROM submissions WHERE key = ANY($1) \
                 ORDER BY array_position($1, key), message, recipient, segment",
                &[&keys],
            )
            .await
            .map_err(storage)?;
        Ok(rows
            .iter()
            .map(|r| Submission {
                key: r.get(0),
                smsc_id: r.get(1),
                message: r.get(2),
                domain: r.get(3),
                recipient: r.get(4),
                sender: r.get(5),
                segment: r.get::<_, i64>(6) as u32,
                total: r.get::<_, i64>(7) as u32,
                submitted_at: r.get(8),
            })
            .collect())
    }

    fn store_mo_part(
        &self,
        part: MoPart,
    ) -> impl Future<Output = Result<MoPartStored, SpoolError>> + Send {
        self.write(|tx| Request::MoPart(part, tx))
    }

    fn mo_done(
        &self,
        key: String,
        seqs: Vec<u32>,
        mailed: bool,
    ) -> impl Future<Output = Result<(), SpoolError>> + Send {
        self.write(move |tx| Request::MoDone(key, seqs, mailed, tx))
    }

    fn stale_mo_parts(
        &self,
        before: Millis,
        forget_before: Millis,
    ) -> impl Future<Output = Result<Vec<Vec<MoPart>>, SpoolError>> + Send {
        self.write(move |tx| Request::MoStale(before, forget_before, tx))
    }
}

impl QueueQueries for PgSpool {
    async fn list(
        &self,
        dest: Option<&Destination>,
        limit: usize,
        offset: usize,
    ) -> Result<Vec<RecipientInfo>, SpoolError> {
        let c = self.reader().await?;
        let (d, b) = dest
            .map(|d| (Some(d.domain.clone()), d.binding.clone()))
            .unwrap_or((None, String::new()));
        let rows = c
            .query(
                &format!(
                    "SELECT {INFO_COLUMNS} FROM recipients r LEFT JOIN messages m ON m.id = r.message_id \
                     WHERE ($1::text IS NULL OR (r.domain = $1 AND r.binding = $2)) \
                     ORDER BY r.due, r.id LIMIT $3 OFFSET $4"
                ),
                &[&d, &b, &(limit as i64), &(offset as i64)],
            )
            .await
            .map_err(storage)?;
        Ok(rows.iter().map(info_row).collect())
    }

    async fn inspect(&self, id: MessageId) -> Result<Vec<RecipientInfo>, SpoolError> {
        let c = self.reader().await?;
        let rows = c
            .query(
                &format!(
                    "SELECT {INFO_COLUMNS} FROM recipients r LEFT JOIN messages m ON m.id = r.message_id \
                     WHERE r.message_id = $1 ORDER BY r.id"
                ),
                &[&id.0],
            )
            .await
            .map_err(storage)?;
        Ok(rows.iter().map(info_row).collect())
    }

    async fn queue_counts(&self, now: Millis) -> Result<Vec<QueueCounts>, SpoolError> {
        let c = self.reader().await?;
        let rows = c
            .query(
                "SELECT domain, binding, \
                    count(*) FILTER (WHERE state = 1 OR (state = 0 AND due <= $1)), \
                    count(*) FILTER (WHERE state = 0 AND due > $1), \
                    count(*) FILTER (WHERE state = 4), \
                    min(m.received_at) \
                 FROM recipients r JOIN messages m ON m.id = r.message_id \
                 GROUP BY domain, binding ORDER BY domain, binding",
                &[&now],
            )
            .await
            .map_err(storage)?;
        Ok(rows
            .iter()
            .map(|r| QueueCounts {
                destination: Destination {
                    domain: r.get(0),
                    binding: r.get(1),
                },
                active: r.get::<_, i64>(2) as u64,
                delayed: r.get::<_, i64>(3) as u64,
                quarantined: r.get::<_, i64>(4) as u64,
                oldest: r.get(5),
            })
            .collect())
    }

    async fn reschedule(
        &self,
        selection: Selection,
        due: Millis,
    ) -> Result<Vec<Destination>, SpoolError> {
        self.write(|tx| Request::Reschedule(selection, due, None, tx))
            .await
    }

    async fn reroute(
        &self,
        selection: Selection,
        to: Destination,
        due: Millis,
    ) -> Result<Vec<Destination>, SpoolError> {
        self.write(|tx| Request::Reschedule(selection, due, Some(to), tx))
            .await
    }
}
