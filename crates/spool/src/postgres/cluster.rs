//! What the nodes share besides the queue: the bind slots of SMSC accounts and the operators'
//! fail orders. Both are small tables read and written by single statements on the read pool,
//! never by the writer's groups.

use deadpool_postgres::Pool;

use super::node::NodeState;
use super::schema::NOW_MS;
use super::storage;
use crate::{Millis, SpoolError};

/// A fail order as every node applies it (`fail domain`, `message fail`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharedFailOrder {
    pub id: i64,
    /// Lower-case domain.
    pub domain: String,
    pub message: Option<i64>,
    pub binding: Option<String>,
    /// Only what was received at or before this time.
    pub before: Millis,
    pub quiet: bool,
}

/// Takes a free slot of `account` (of `limit`) for this node's epoch; `None` when every slot
/// is held by a live node. A slot of a fenced node is free. Two nodes racing for one slot:
/// the primary key lets one insert it, and the other's conflict finds a live holder.
pub(super) async fn take_bind_slot(
    pool: &Pool,
    node: &NodeState,
    account: &str,
    limit: u32,
) -> Result<Option<i32>, SpoolError> {
    let client = pool.get().await.map_err(storage)?;
    let row = client
        .query_opt(
            "WITH live AS (SELECT epoch FROM nodes WHERE NOT fenced), \
             free AS (SELECT s FROM generate_series(0, $3::int - 1) s \
                 WHERE NOT EXISTS (SELECT 1 FROM bind_slots b WHERE b.account = $1 AND b.slot = s \
                     AND b.epoch IN (SELECT epoch FROM live)) \
                 ORDER BY s LIMIT 1) \
             INSERT INTO bind_slots (account, slot, epoch, node) \
             SELECT $1, s, $2, $4 FROM free WHERE $2 IN (SELECT epoch FROM live) \
             ON CONFLICT (account, slot) DO UPDATE SET epoch = excluded.epoch, node = excluded.node \
                 WHERE bind_slots.epoch NOT IN (SELECT epoch FROM nodes WHERE NOT fenced) \
             RETURNING slot",
            &[&account, &node.epoch(), &(limit as i32), &node.name],
        )
        .await
        .map_err(storage)?;
    Ok(row.map(|r| r.get(0)))
}

/// Gives a slot back (its bind closed, or is no longer wanted).
pub(super) async fn release_bind_slot(
    pool: &Pool,
    node: &NodeState,
    account: &str,
    slot: i32,
) -> Result<(), SpoolError> {
    let client = pool.get().await.map_err(storage)?;
    client
        .execute(
            "DELETE FROM bind_slots WHERE account = $1 AND slot = $2 AND epoch = $3",
            &[&account, &slot, &node.epoch()],
        )
        .await
        .map_err(storage)?;
    Ok(())
}

/// The slots this node holds by the database (a fenced epoch holds none).
pub(super) async fn held_bind_slots(
    pool: &Pool,
    node: &NodeState,
) -> Result<Vec<(String, i32)>, SpoolError> {
    let client = pool.get().await.map_err(storage)?;
    let rows = client
        .query(
            "SELECT b.account, b.slot FROM bind_slots b JOIN nodes n ON n.epoch = b.epoch \
             WHERE b.epoch = $1 AND NOT n.fenced",
            &[&node.epoch()],
        )
        .await
        .map_err(storage)?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Puts a fail order in force on every node until it is withdrawn or `expires_in` passes (the
/// node that gave it may die before withdrawing it). Returns its id.
pub(super) async fn give_fail_order(
    pool: &Pool,
    node: &NodeState,
    order: &SharedFailOrder,
    expires_in: Millis,
) -> Result<i64, SpoolError> {
    let client = pool.get().await.map_err(storage)?;
    let row = client
        .query_one(
            &format!(
                "INSERT INTO fail_orders (domain, message, binding, before, quiet, node, expires) \
                 VALUES ($1, $2, $3, $4, $5, $6, {NOW_MS} + $7) RETURNING id"
            ),
            &[
                &order.domain,
                &order.message,
                &order.binding,
                &order.before,
                &order.quiet,
                &node.name,
                &expires_in,
            ],
        )
        .await
        .map_err(storage)?;
    Ok(row.get(0))
}

pub(super) async fn withdraw_fail_order(pool: &Pool, id: i64) -> Result<(), SpoolError> {
    let client = pool.get().await.map_err(storage)?;
    client
        .execute(
            &format!("DELETE FROM fail_orders WHERE id = $1 OR expires < {NOW_MS}"),
            &[&id],
        )
        .await
        .map_err(storage)?;
    Ok(())
}

/// The fail orders in force.
pub(super) async fn fail_orders(pool: &Pool) -> Result<Vec<SharedFailOrder>, SpoolError> {
    let client = pool.get().await.map_err(storage)?;
    let rows = client
        .query(
            &format!(
                "SELECT id, domain, message, binding, before, quiet FROM fail_orders \
                 WHERE expires >= {NOW_MS} ORDER BY id"
            ),
            &[],
        )
        .await
        .map_err(storage)?;
    Ok(rows
        .iter()
        .map(|r| SharedFailOrder {
            id: r.get(0),
            domain: r.get(1),
            message: r.get(2),
            binding: r.get(3),
            before: r.get(4),
            quiet: r.get(5),
        })
        .collect())
}
