//! The shared spool's writes, as the writer task runs them inside a group's transaction: one
//! function per request, each a few statements that send their rows as arrays (one round trip
//! for many rows). Leases and outcomes carry this node's epoch (see `node`).

use std::collections::HashMap;
use std::sync::Arc;

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::node::NodeState;
use super::storage;
use crate::request::{Produced, Request};
use crate::{
    Destination, Lease, LeaseRef, Leased, LeasedMessage, MessageId, Millis, MoPart, MoPartStored,
    NewMessage, Outcome, RecipientId, ReverseMapping, Selection, SpoolError, StoredMessage,
    Submission,
};

pub(super) async fn execute(c: &impl GenericClient, node: &NodeState, req: &Request) -> Produced {
    match req {
        Request::Enqueue(m, _) => {
            Produced::Enqueue(enqueue_many(c, node, &[m]).await.map(|ids| ids[0]))
        }
        Request::Lease(d, now, limit, _) => Produced::Lease(lease(c, node, d, *now, *limit).await),
        Request::Record(o, _) => Produced::Unit(record(c, node, o).await),
        Request::Mapping(m, _) => Produced::Unit(save_mappings(c, &[m]).await),
        Request::Submissions(s, _) => Produced::Unit(save_submissions(c, s).await),
        Request::MoPart(p, _) => Produced::MoPart(store_mo_part(c, node, p).await),
        Request::MoDone(key, seqs, mailed, _) => {
            Produced::Unit(mo_done(c, node, key, seqs, *mailed).await)
        }
        Request::MoStale(before, forget, _) => {
            Produced::MoParts(stale_mo_parts(c, node, *before, *forget).await)
        }
        Request::Reschedule(sel, due, to, _) => {
            Produced::Destinations(reschedule(c, sel, *due, to.as_ref()).await)
        }
    }
}

/// Runs the requests `which` of `group` merged by kind (see `apply_group`) and puts each one's
/// answer in `produced`. An error means the transaction must be rolled back.
pub(super) async fn execute_merged(
    c: &impl GenericClient,
    node: &NodeState,
    group: &[Request],
    which: &[usize],
    produced: &mut [Option<Produced>],
) -> Result<(), SpoolError> {
    let (mut messages, mut outcomes, mut subs, mut maps) = (vec![], vec![], vec![], vec![]);
    for &i in which {
        match &group[i] {
            Request::Enqueue(m, _) => messages.push((i, m)),
            Request::Record(o, _) => outcomes.extend(o.iter().cloned()),
            Request::Submissions(s, _) => subs.extend(s.iter().cloned()),
            Request::Mapping(m, _) => maps.push(m),
            _ => {}
        }
    }
    let only: Vec<&NewMessage> = messages.iter().map(|(_, m)| *m).collect();
    let (ids, recorded, submitted, mapped) = tokio::join!(
        biased;
        enqueue_many(c, node, &only),
        async {
            match outcomes.is_empty() {
                true => Ok(()),
                false => record(c, node, &outcomes).await,
            }
        },
        save_submissions(c, &subs),
        save_mappings(c, &maps),
    );
    let ids = ids?;
    recorded?;
    submitted?;
    mapped?;
    for ((i, _), id) in messages.iter().zip(ids) {
        produced[*i] = Some(Produced::Enqueue(Ok(id)));
    }
    for &i in which {
        if produced[i].is_none() {
            produced[i] = Some(Produced::Unit(Ok(())));
        }
    }
    Ok(())
}

/// How many message ids a node draws from the sequence at a time.
const ID_BLOCK: usize = 1024;

/// `n` new message ids. They come from the identity's sequence, which never gives one twice
/// (a rolled-back transaction does not return its values), drawn a block at a time so that
/// an enqueue need not wait for them.
async fn message_ids(
    c: &impl GenericClient,
    node: &NodeState,
    n: usize,
) -> Result<Vec<i64>, SpoolError> {
    let have = node.spare_ids.lock().map(|s| s.len()).unwrap_or(0);
    if have < n {
        let st = c
            .prepare_cached(
                "SELECT nextval(pg_get_serial_sequence('messages', 'id')) FROM generate_series(1, $1::bigint)",
            )
            .await
            .map_err(storage)?;
        let drawn = c
            .query(&st, &[&(n.max(ID_BLOCK) as i64)])
            .await
            .map_err(storage)?;
        // A stack: ids are taken from its end, the lowest first.
        let mut spare = node.spare_ids.lock().unwrap_or_else(|e| e.into_inner());
        let mut refill: Vec<i64> = drawn.iter().rev().map(|r| r.get(0)).collect();
        refill.append(&mut spare);
        *spare = refill;
    }
    let mut spare = node.spare_ids.lock().unwrap_or_else(|e| e.into_inner());
    // The intake writer is the only caller, one request at a time: the ids just drawn are
    // there.
    let at = (spare.len().checked_sub(n))
        .ok_or_else(|| SpoolError::Storage("message ids drawn by another caller".into()))?;
    Ok(spare.drain(at..).rev().collect())
}

/// Stores messages in one statement whatever their number, with ids drawn ahead
/// (`message_ids`): the messages, their recipients and their destinations.
async fn enqueue_many(
    c: &impl GenericClient,
    node: &NodeState,
    messages: &[&NewMessage],
) -> Result<Vec<MessageId>, SpoolError> {
    if messages.is_empty() {
        return Ok(Vec::new());
    }
    let ids = message_ids(c, node, messages.len()).await?;
    let col = |f: fn(&NewMessage) -> &str| messages.iter().map(|m| f(m)).collect::<Vec<&str>>();
    let received: Vec<i64> = messages.iter().map(|m| m.received_at).collect();
    let bodies: Vec<&[u8]> = messages.iter().map(|m| m.body.as_slice()).collect();
    // Due at reception, which callers stamp when the message is complete, a moment before
    // this write: above the floors of every node's scans (`floors`).
    let (mut rid, mut addr, mut dom, mut bind, mut due) = (vec![], vec![], vec![], vec![], vec![]);
    for (m, id) in messages.iter().zip(&ids) {
        for r in &m.recipients {
            rid.push(*id);
            addr.push(r.address.as_str());
            dom.push(r.destination.domain.as_str());
            bind.push(r.destination.binding.as_str());
            due.push(m.received_at);
        }
    }
    let (dests, bindings) = distinct_destinations(&dom, &bind);
    // One statement: atomic by itself, so that a group of new messages alone needs no
    // transaction around it (see `apply_group`). The destinations are added to the list
    // `destinations()` reads (an existing one costs an index probe).
    let insert = c
        .prepare_cached(
            "WITH m AS (INSERT INTO messages (id, received_at, sender, peer, protocol, body) \
                 OVERRIDING SYSTEM VALUE \
                 SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::bytea[])), \
             r AS (INSERT INTO recipients (message_id, address, domain, binding, state, due) \
                 SELECT m, a, d, b, 0, t FROM unnest($7::bigint[], $8::text[], $9::text[], $10::text[], $11::bigint[]) \
                     AS u(m, a, d, b, t)) \
             INSERT INTO destinations (domain, binding) \
             SELECT * FROM unnest($12::text[], $13::text[]) ON CONFLICT DO NOTHING",
        )
        .await
        .map_err(storage)?;
    let (senders, peers, protocols) = (col(|m| &m.sender), col(|m| &m.peer), col(|m| &m.protocol));
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 13] = [
        &ids, &received, &senders, &peers, &protocols, &bodies, &rid, &addr, &dom, &bind, &due,
        &dests, &bindings,
    ];
    c.execute(&insert, &params).await.map_err(storage)?;
    Ok(ids.into_iter().map(MessageId).collect())
}

/// The distinct (domain, binding) pairs of two columns, as two columns.
fn distinct_destinations<'a>(
    domains: &[&'a str],
    bindings: &[&'a str],
) -> (Vec<&'a str>, Vec<&'a str>) {
    let mut pairs: Vec<(&str, &str)> = domains
        .iter()
        .copied()
        .zip(bindings.iter().copied())
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    pairs.into_iter().unzip()
}

/// Adds destinations to the list `destinations()` reads (a row is never written twice: an
/// existing one costs an index probe). Rows are never removed: a removal could race with an
/// enqueue that found the row and has not committed yet.
async fn note_destinations(
    c: &impl GenericClient,
    domains: &[&str],
    bindings: &[&str],
) -> Result<(), SpoolError> {
    let (domains, bindings) = distinct_destinations(domains, bindings);
    let st = c
        .prepare_cached(
            "INSERT INTO destinations (domain, binding) \
             SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING",
        )
        .await
        .map_err(storage)?;
    c.execute(&st, &[&domains, &bindings])
        .await
        .map_err(storage)?;
    Ok(())
}

async fn lease(
    c: &impl GenericClient,
    node: &NodeState,
    d: &Destination,
    now: Millis,
    limit: usize,
) -> Result<Leased, SpoolError> {
    // SKIP LOCKED: recipients another node is leasing at this moment are passed over, not
    // waited for. A fenced node leases nothing; the key-share lock on its node row makes its
    // fencing wait for this statement, and this statement see a fencing committed first.
    // The scan starts at the destination's floor (see `floors`). The messages come in the
    // same statement, each body once (with its first recipient).
    let st = c
        .prepare_cached(&format!(
            "WITH alive AS ({}), \
             picked AS (SELECT id, leased_before FROM recipients \
                 WHERE state = 0 AND domain = $1 AND binding = $2 AND due <= $3 AND due >= $7 \
                   AND EXISTS (SELECT 1 FROM alive) \
                 ORDER BY due, id LIMIT $4 FOR UPDATE SKIP LOCKED), \
             leased AS (UPDATE recipients r SET state = 1, lease_node = $5, lease_epoch = $6, \
                 leased_before = true \
             FROM picked WHERE r.id = picked.id \
             RETURNING r.id, r.message_id, r.address, r.attempts, r.due, picked.leased_before) \
             SELECT l.id, l.message_id, l.address, l.attempts, l.due, l.leased_before, m.sender, \
                 CASE WHEN l.id = min(l.id) OVER (PARTITION BY l.message_id) THEN m.body END, \
                 m.peer, m.protocol, m.received_at \
             FROM leased l LEFT JOIN messages m ON m.id = l.message_id",
            alive("$6")
        ))
        .await
        .map_err(storage)?;
    let next = c.prepare_cached(NEXT_DUE).await.map_err(storage)?;
    let scan = node.floors.scan(d);
    let epoch = node.epoch();
    let lease_params: [&Param; 7] = [
        &d.domain,
        &d.binding,
        &now,
        &(limit as i64),
        &node.name,
        &epoch,
        &scan.from,
    ];
    let next_params: [&Param; 3] = [&d.domain, &d.binding, &scan.from];
    // Sent together: the second statement sees what the first leased, and finds the earliest
    // due time of what is left.
    let (rows, first) = tokio::join!(
        biased;
        c.query(&st, &lease_params),
        c.query_one(&next, &next_params)
    );
    let rows = rows.map_err(storage)?;
    let first: Option<Millis> = first.map_err(storage)?.get(0);
    let mut messages: Vec<LeasedMessage> = Vec::new();
    let mut bodies: Loaded = HashMap::new();
    let mut leases: Vec<Lease> = Vec::with_capacity(rows.len());
    for r in &rows {
        let message = MessageId(r.get(1));
        // The body is there on the message's first row, if the message is.
        if r.try_get::<_, Option<&[u8]>>(7).ok().flatten().is_some() {
            bodies.insert(message, stored_message(message, r, 6).map(Arc::new));
        }
        leases.push(Lease {
            recipient: RecipientId(r.get(0)),
            message,
            address: r.get(2),
            destination: d.clone(),
            attempts: r.get::<_, i64>(3) as u32,
            received_at: r.try_get::<_, Option<i64>>(10).ok().flatten().unwrap_or(0),
            due: r.get(4),
            fence: epoch,
            leased_before: r.get(5),
        });
    }
    leases.sort_by_key(|l| (l.due, l.recipient));
    let count = leases.len();
    for l in leases {
        match messages
            .iter_mut()
            .find(|m| m.leases[0].message == l.message)
        {
            Some(m) => m.leases.push(l),
            None => messages.push(LeasedMessage {
                message: bodies.remove(&l.message).unwrap_or_else(|| {
                    Err(SpoolError::Unreadable(
                        l.message,
                        "message record is missing".into(),
                    ))
                }),
                leases: vec![l],
            }),
        }
    }
    let next_due = if count == limit {
        let last = messages.iter().flat_map(|m| &m.leases).map(|l| l.due).max();
        node.floors.saw(d, scan, last, crate::now_millis());
        Some(now)
    } else {
        // Recipients due now but not leased are locked by another node's lease in progress
        // (or this node is fenced): look again in a second, not at once.
        node.floors.saw(d, scan, first, crate::now_millis());
        first.map(|due| if due <= now { now + 1000 } else { due })
    };
    Ok(Leased { messages, next_due })
}

const NEXT_DUE: &str = "SELECT min(due) FROM recipients WHERE state = 0 AND domain = $1 \
                        AND binding = $2 AND due >= $3";

/// The earliest due time of `d`'s queued recipients from `from` on.
pub(super) async fn next_due(
    c: &impl GenericClient,
    d: &Destination,
    from: Millis,
) -> Result<Option<Millis>, SpoolError> {
    let st = c.prepare_cached(NEXT_DUE).await.map_err(storage)?;
    let row = c
        .query_one(&st, &[&d.domain, &d.binding, &from])
        .await
        .map_err(storage)?;
    Ok(row.get(0))
}

/// Whether the node of epoch `param` is live, with a key-share lock on its row for the rest of
/// the transaction (see `lease`).
fn alive(param: &str) -> String {
    format!("SELECT 1 FROM nodes WHERE epoch = {param} AND NOT fenced FOR KEY SHARE")
}

/// A statement's parameter.
type Param = dyn tokio_postgres::types::ToSql + Sync;

type Loaded = HashMap<MessageId, Result<Arc<StoredMessage>, SpoolError>>;

/// Reads messages by id; a missing one is absent from the map.
pub(super) async fn load_messages(
    c: &impl GenericClient,
    ids: &[i64],
) -> Result<Loaded, SpoolError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let st = c
        .prepare_cached(
            "SELECT id, sender, body, peer, protocol, received_at FROM messages WHERE id = ANY($1)",
        )
        .await
        .map_err(storage)?;
    let rows = c.query(&st, &[&ids]).await.map_err(storage)?;
    Ok(rows
        .iter()
        .map(|r| {
            let id = MessageId(r.get(0));
            (id, stored_message(id, r, 1).map(Arc::new))
        })
        .collect())
}

/// A message from a row whose columns sender, body, peer, protocol and received_at begin at
/// `at`.
pub(super) fn stored_message(
    id: MessageId,
    r: &Row,
    at: usize,
) -> Result<StoredMessage, SpoolError> {
    let bad =
        |what: &str, e: tokio_postgres::Error| SpoolError::Unreadable(id, format!("{what}: {e}"));
    Ok(StoredMessage {
        id,
        sender: r.try_get(at).map_err(|e| bad("sender", e))?,
        body: r
            .try_get::<_, Vec<u8>>(at + 1)
            .map_err(|e| bad("body", e))?
            .into(),
        peer: r.try_get(at + 2).unwrap_or_default(),
        protocol: r.try_get(at + 3).unwrap_or_default(),
        received_at: r.try_get(at + 4).unwrap_or(0),
    })
}

/// The outcomes that put recipients back in the queue, as columns.
#[derive(Default)]
struct Requeue {
    ids: Vec<i64>,
    epochs: Vec<i64>,
    dues: Vec<i64>,
    /// Attempts added: 1 for a retry, 0 for a release.
    tries: Vec<i64>,
    responses: Vec<Option<String>>,
}

/// Records outcomes where the lease still holds: the recipient is leased under the epoch the
/// outcome's lease carried. Others are refused, counted and logged: another node (or a later
/// lease of this node, after it was fenced) has the recipient now.
async fn record(
    c: &impl GenericClient,
    node: &NodeState,
    outcomes: &[(LeaseRef, Outcome)],
) -> Result<(), SpoolError> {
    let mut done: (Vec<i64>, Vec<i64>) = Default::default();
    let mut done_messages: Vec<i64> = Vec::new();
    let mut requeue = Requeue::default();
    let mut quarantine: (Vec<i64>, Vec<i64>, Vec<String>) = Default::default();
    for (lease, outcome) in outcomes {
        let (id, epoch) = (lease.recipient.0, lease.fence);
        match outcome {
            Outcome::Delivered { .. } | Outcome::Failed { .. } => {
                done.0.push(id);
                done.1.push(epoch);
                done_messages.push(lease.message.0);
            }
            Outcome::Retry { due, response } => {
                requeue.ids.push(id);
                requeue.epochs.push(epoch);
                requeue.dues.push(*due);
                requeue.tries.push(1);
                requeue.responses.push(Some(response.clone()));
            }
            Outcome::Released { due } => {
                requeue.ids.push(id);
                requeue.epochs.push(epoch);
                requeue.dues.push(*due);
                requeue.tries.push(0);
                requeue.responses.push(None);
            }
            Outcome::Quarantined { reason } => {
                quarantine.0.push(id);
                quarantine.1.push(epoch);
                quarantine.2.push(reason.clone());
            }
        }
    }
    done_messages.sort_unstable();
    done_messages.dedup();
    let mut epochs = done.1.clone();
    epochs.sort_unstable();
    epochs.dedup();
    let by_epoch: Vec<(i64, Vec<i64>)> = epochs
        .into_iter()
        .map(|epoch| {
            let ids = (done.0.iter().zip(&done.1))
                .filter(|(_, e)| **e == epoch)
                .map(|(id, _)| *id)
                .collect();
            (epoch, ids)
        })
        .collect();
    // The statements are prepared first, then sent at once: the connection runs them in the
    // order they are sent, and one round trip carries them all.
    let lock = c
        .prepare_cached("SELECT id FROM messages WHERE id = ANY($1) ORDER BY id FOR UPDATE")
        .await
        .map_err(storage)?;
    // One statement per epoch (nearly always one): `id = ANY` keeps to the primary key.
    let delete = c
        .prepare_cached(
            "DELETE FROM recipients WHERE id = ANY($1) AND state = 1 AND lease_epoch = $2",
        )
        .await
        .map_err(storage)?;
    let gone = c
        .prepare_cached(
            "DELETE FROM messages m WHERE m.id = ANY($1) \
             AND NOT EXISTS (SELECT 1 FROM recipients r WHERE r.message_id = m.id)",
        )
        .await
        .map_err(storage)?;
    let requeued = c
        .prepare_cached(
            "UPDATE recipients r SET state = 0, due = u.due, attempts = r.attempts + u.tries, \
                 last_response = coalesce(u.response, r.last_response), \
                 lease_epoch = NULL, lease_node = NULL \
             FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[]) \
                  AS u(id, epoch, due, tries, response) \
             WHERE r.id = ANY($1) AND r.id = u.id AND r.state = 1 AND r.lease_epoch = u.epoch",
        )
        .await
        .map_err(storage)?;
    let quarantined = c
        .prepare_cached(
            "UPDATE recipients r SET state = 4, last_response = u.reason, \
                 lease_epoch = NULL, lease_node = NULL \
             FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS u(id, epoch, reason) \
             WHERE r.id = ANY($1) AND r.id = u.id AND r.state = 1 AND r.lease_epoch = u.epoch",
        )
        .await
        .map_err(storage)?;
    let removed = async {
        if done_messages.is_empty() {
            return Ok(0);
        }
        // The messages are locked first, in id order: two nodes removing the last recipients
        // of one message take turns, and the second one's last statement, which begins after
        // the first committed, sees both removals and removes the message.
        let messages: [&Param; 1] = [&done_messages];
        let per_epoch: Vec<[&Param; 2]> =
            by_epoch.iter().map(|(e, ids)| [ids as &Param, e]).collect();
        let (locked, deleted, gone) = tokio::join!(
            biased;
            c.query(&lock, &messages),
            futures_util::future::join_all(per_epoch.iter().map(|p| c.execute(&delete, p))),
            c.execute(&gone, &messages),
        );
        locked?;
        gone?;
        deleted.into_iter().sum::<Result<u64, _>>()
    };
    let requeued = async {
        match requeue.ids.is_empty() {
            true => Ok(0),
            false => {
                c.execute(
                    &requeued,
                    &[
                        &requeue.ids,
                        &requeue.epochs,
                        &requeue.dues,
                        &requeue.tries,
                        &requeue.responses,
                    ],
                )
                .await
            }
        }
    };
    let quarantined = async {
        match quarantine.0.is_empty() {
            true => Ok(0),
            false => {
                c.execute(&quarantined, &[&quarantine.0, &quarantine.1, &quarantine.2])
                    .await
            }
        }
    };
    let (removed, requeued, quarantined) = tokio::join!(biased; removed, requeued, quarantined);
    let recorded =
        removed.map_err(storage)? + requeued.map_err(storage)? + quarantined.map_err(storage)?;
    let refused = outcomes.len() as u64 - recorded.min(outcomes.len() as u64);
    if refused > 0 {
        tracing::warn!(
            node = %node.name,
            refused,
            "outcomes refused: the leases they were for no longer hold (the recipients were \
             taken over after this node's heartbeat was late)"
        );
        metrics::counter!("impulse_spool_outcomes_refused_total").increment(refused);
    }
    Ok(())
}

async fn save_submissions(c: &impl GenericClient, subs: &[Submission]) -> Result<(), SpoolError> {
    if subs.is_empty() {
        return Ok(());
    }
    // Old submissions leave in the heartbeat's housekeeping (`node::housekeeping`), in batches.
    // One row per primary key (the last wins, as with one insert after another): an upsert may
    // not touch a row twice.
    let mut rows: HashMap<(&str, &str, &str, u32), &Submission> = HashMap::new();
    for s in subs {
        rows.insert((&s.key, &s.message, &s.recipient, s.segment), s);
    }
    let rows: Vec<&Submission> = rows.into_values().collect();
    let col = |f: fn(&Submission) -> &str| rows.iter().map(|s| f(s)).collect::<Vec<&str>>();
    let num = |f: fn(&Submission) -> i64| rows.iter().map(|s| f(s)).collect::<Vec<i64>>();
    let st = c
        .prepare_cached(
            "INSERT INTO submissions (key, smsc_id, message, domain, recipient, sender, segment, total, submitted_at) \
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
                                  $7::bigint[], $8::bigint[], $9::bigint[]) \
             ON CONFLICT (key, message, recipient, segment) DO UPDATE SET smsc_id = excluded.smsc_id, \
                 domain = excluded.domain, sender = excluded.sender, total = excluded.total, \
                 submitted_at = excluded.submitted_at",
        )
        .await
        .map_err(storage)?;
    c.execute(
        &st,
        &[
            &col(|s| &s.key),
            &col(|s| &s.smsc_id),
            &col(|s| &s.message),
            &col(|s| &s.domain),
            &col(|s| &s.recipient),
            &col(|s| &s.sender),
            &num(|s| s.segment.into()),
            &num(|s| s.total.into()),
            &num(|s| s.submitted_at),
        ],
    )
    .await
    .map_err(storage)?;
    Ok(())
}

/// Upserts mappings in one statement (the last of a key wins, as one after another would).
async fn save_mappings(c: &impl GenericClient, maps: &[&ReverseMapping]) -> Result<(), SpoolError> {
    if maps.is_empty() {
        return Ok(());
    }
    let mut last: HashMap<(&str, &str, &str), &ReverseMapping> = HashMap::new();
    for m in maps {
        last.insert((&m.domain, &m.sms_addr, &m.shortcode), m);
    }
    let rows: Vec<&ReverseMapping> = last.into_values().collect();
    let col = |f: fn(&ReverseMapping) -> &str| rows.iter().map(|m| f(m)).collect::<Vec<&str>>();
    let expires: Vec<i64> = rows.iter().map(|m| m.expires).collect();
    let st = c
        .prepare_cached(
            "INSERT INTO reverse_mappings (domain, sms_addr, shortcode, email_addr, expires) \
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[]) \
                 AS u(d, s, c, e, x) \
             WHERE NOT EXISTS (SELECT 1 FROM reverse_mappings r WHERE r.domain = u.d \
                 AND r.sms_addr = u.s AND r.shortcode = u.c AND r.email_addr = u.e \
                 AND r.expires >= u.x - $6) \
             ON CONFLICT (domain, sms_addr, shortcode) \
             DO UPDATE SET email_addr = excluded.email_addr, expires = excluded.expires \
             WHERE reverse_mappings.email_addr <> excluded.email_addr \
                OR reverse_mappings.expires < excluded.expires - $6",
        )
        .await
        .map_err(storage)?;
    c.execute(
        &st,
        &[
            &col(|m| &m.domain),
            &col(|m| &m.sms_addr),
            &col(|m| &m.shortcode),
            &col(|m| &m.email_addr),
            &expires,
            &MAPPING_REFRESH,
        ],
    )
    .await
    .map_err(storage)?;
    Ok(())
}

/// A mapping that still names the same address is written again only when its expiry moves by
/// more than this (it may then expire up to this much early). Every SMS to one handset from one
/// sender would otherwise write a new version of one row, and with a transaction held open
/// somewhere none of those versions can be removed: each upsert walks them all. Such a mapping
/// is not even locked (an upsert locks the row it conflicts with, changed or not, and the
/// nodes sending to one handset would take turns on it, a commit at a time).
const MAPPING_REFRESH: Millis = 30_000;

const MO_COLUMNS: &str =
    "key, seq, total, data, data_coding, domain, binding, source, dest, meta, received_at";

fn mo_part(r: &Row) -> MoPart {
    MoPart {
        key: r.get(0),
        seq: r.get::<_, i64>(1) as u32,
        total: r.get::<_, i64>(2) as u32,
        data: r.get(3),
        data_coding: r.get::<_, i16>(4) as u8,
        domain: r.get(5),
        binding: r.get(6),
        source: r.get(7),
        dest: r.get(8),
        meta: r.get(9),
        received_at: r.get(10),
    }
}

/// The waiting parts of `key`, claimed for this node in the same statement, so that one node
/// alone mails them.
async fn claim_mo_parts(
    c: &impl GenericClient,
    node: &NodeState,
    key: &str,
) -> Result<Vec<MoPart>, SpoolError> {
    let st = c
        .prepare_cached(&format!(
            "WITH alive AS ({}) \
             UPDATE mo_parts SET done = 2, claimed_epoch = $2 WHERE key = $1 AND done = 0 \
               AND EXISTS (SELECT 1 FROM alive) \
             RETURNING {MO_COLUMNS}",
            alive("$2")
        ))
        .await
        .map_err(storage)?;
    let rows = c
        .query(&st, &[&key, &node.epoch()])
        .await
        .map_err(storage)?;
    let mut parts: Vec<MoPart> = rows.iter().map(mo_part).collect();
    parts.sort_by_key(|p| p.seq);
    Ok(parts)
}

/// Takes the locks of the MO messages that `group`'s parts belong to, all at once and in one
/// order (by lock number), before any part is stored: two nodes storing parts of the same
/// messages then wait for each other instead of deadlocking. Later in the transaction only
/// try-locks (`stale_mo_parts`) and locks already held (`store_mo_part` takes its own again)
/// are asked for, and neither waits.
pub(super) async fn lock_mo_keys(
    c: &impl GenericClient,
    group: &[Request],
) -> Result<(), SpoolError> {
    let keys: Vec<&str> = group
        .iter()
        .filter_map(|r| match r {
            Request::MoPart(p, _) => Some(p.key.as_str()),
            _ => None,
        })
        .collect();
    if keys.is_empty() {
        return Ok(());
    }
    let st = c
        .prepare_cached(
            "SELECT pg_advisory_xact_lock(h) FROM \
                 (SELECT DISTINCT hashtextextended(k, 0) AS h FROM unnest($1::text[]) AS k ORDER BY h) AS l",
        )
        .await
        .map_err(storage)?;
    c.query(&st, &[&keys]).await.map_err(storage)?;
    Ok(())
}

async fn store_mo_part(
    c: &impl GenericClient,
    node: &NodeState,
    p: &MoPart,
) -> Result<MoPartStored, SpoolError> {
    // Parts of one message may arrive on several nodes at once: the message's key is locked
    // for the rest of this transaction, so that exactly one of them sees it complete.
    c.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        &[&p.key],
    )
    .await
    .map_err(storage)?;
    let st = c
        .prepare_cached("SELECT data, done FROM mo_parts WHERE key = $1 AND seq = $2")
        .await
        .map_err(storage)?;
    let existing = c
        .query_opt(&st, &[&p.key, &i64::from(p.seq)])
        .await
        .map_err(storage)?
        .map(|r| (r.get::<_, Vec<u8>>(0), r.get::<_, i16>(1)));
    // As in the SQLite spool: the same part again is a duplicate; another text under the
    // key of a message mailed earlier is a new message reusing the reference; another text
    // under a message still being put together leaves the first one.
    match existing {
        Some((data, _)) if data == p.data => return Ok(MoPartStored::Duplicate),
        Some((_, 1)) => {
            c.execute(
                "DELETE FROM mo_parts WHERE key = $1 AND done = 1",
                &[&p.key],
            )
            .await
            .map_err(storage)?;
        }
        Some(_) => return Ok(MoPartStored::Duplicate),
        None => {}
    }
    let st = c
        .prepare_cached(&format!(
            "INSERT INTO mo_parts ({MO_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (key, seq) DO NOTHING"
        ))
        .await
        .map_err(storage)?;
    let inserted = c
        .execute(
            &st,
            &[
                &p.key,
                &i64::from(p.seq),
                &i64::from(p.total),
                &p.data,
                &i16::from(p.data_coding),
                &p.domain,
                &p.binding,
                &p.source,
                &p.dest,
                &p.meta,
                &p.received_at,
            ],
        )
        .await
        .map_err(storage)?;
    if inserted == 0 {
        return Ok(MoPartStored::Duplicate);
    }
    let waiting: i64 = c
        .query_one(
            "SELECT count(*) FROM mo_parts WHERE key = $1 AND done = 0",
            &[&p.key],
        )
        .await
        .map_err(storage)?
        .get(0);
    let complete = if waiting == i64::from(p.total) {
        Some(claim_mo_parts(c, node, &p.key).await?)
    } else {
        None
    };
    Ok(MoPartStored::Stored { complete })
}

async fn mo_done(
    c: &impl GenericClient,
    node: &NodeState,
    key: &str,
    seqs: &[u32],
    mailed: bool,
) -> Result<(), SpoolError> {
    let seqs: Vec<i64> = seqs.iter().map(|s| i64::from(*s)).collect();
    let done: i16 = if mailed { 1 } else { 0 };
    c.execute(
        "UPDATE mo_parts SET done = $3, claimed_epoch = NULL \
         WHERE key = $1 AND seq = ANY($2) AND done = 2 AND claimed_epoch = $4",
        &[&key, &seqs, &done, &node.epoch()],
    )
    .await
    .map_err(storage)?;
    Ok(())
}

async fn stale_mo_parts(
    c: &impl GenericClient,
    node: &NodeState,
    before: Millis,
    forget_before: Millis,
) -> Result<Vec<Vec<MoPart>>, SpoolError> {
    c.execute(
        "DELETE FROM mo_parts WHERE done = 1 AND received_at < $1",
        &[&forget_before],
    )
    .await
    .map_err(storage)?;
    // Another node's sweep may run at the same moment: keys it is claiming are passed over.
    let rows = c
        .query(
            "SELECT DISTINCT key FROM (SELECT key FROM mo_parts WHERE done = 0 AND received_at < $1 \
             LIMIT 1000 FOR UPDATE SKIP LOCKED) k LIMIT 100",
            &[&before],
        )
        .await
        .map_err(storage)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let key: String = r.get(0);
        // A part of this message being stored on another node holds the message's lock
        // (`store_mo_part`): that node decides whether it is complete; this sweep passes.
        let free: bool = c
            .query_one(
                "SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))",
                &[&key],
            )
            .await
            .map_err(storage)?
            .get(0);
        if !free {
            continue;
        }
        let parts = claim_mo_parts(c, node, &key).await?;
        if !parts.is_empty() {
            out.push(parts);
        }
    }
    Ok(out)
}

async fn reschedule(
    c: &impl GenericClient,
    sel: &Selection,
    due: Millis,
    to: Option<&Destination>,
) -> Result<Vec<Destination>, SpoolError> {
    if let Some(to) = to {
        note_destinations(c, &[to.domain.as_str()], &[to.binding.as_str()]).await?;
    }
    let (to_domain, to_binding) = (to.map(|d| &d.domain), to.map(|d| &d.binding));
    let set = "UPDATE recipients SET due = $2, domain = coalesce($3, domain), \
               binding = coalesce($4, binding) WHERE state = 0 AND ";
    let rows = match sel {
        Selection::Domain(d) => {
            c.query(
                &format!("{set} domain = $1 RETURNING domain, binding"),
                &[&d.to_ascii_lowercase(), &due, &to_domain, &to_binding],
            )
            .await
        }
        Selection::Message(m) => {
            c.query(
                &format!("{set} message_id = $1 RETURNING domain, binding"),
                &[&m.0, &due, &to_domain, &to_binding],
            )
            .await
        }
        Selection::Binding(b) => {
            c.query(
                &format!("{set} binding = $1 RETURNING domain, binding"),
                &[b, &due, &to_domain, &to_binding],
            )
            .await
        }
        Selection::Destination(d) => {
            c.query(
                &format!("{set} domain = $1 AND binding = $5 RETURNING domain, binding"),
                &[
                    &d.domain.to_ascii_lowercase(),
                    &due,
                    &to_domain,
                    &to_binding,
                    &d.binding,
                ],
            )
            .await
        }
    }
    .map_err(storage)?;
    let mut dests: Vec<Destination> = rows
        .iter()
        .map(|r| Destination {
            domain: r.get(0),
            binding: r.get(1),
        })
        .collect();
    dests.sort_by(|a, b| (&a.domain, &a.binding).cmp(&(&b.domain, &b.binding)));
    dests.dedup();
    Ok(dests)
}
