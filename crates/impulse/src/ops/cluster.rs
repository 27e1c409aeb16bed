//! The cluster as an operator sees it, when nodes share a PostgreSQL spool: each node publishes
//! what it holds (its binds, its counters) into the database every few seconds, and any node's
//! console (`show cluster`) and admin API (`/api/cluster`) show every node with its heartbeat,
//! whether it was fenced, its configuration hash and its binds. Queues need nothing of this:
//! they are read from the shared spool, so every node's `summary` is the cluster's.
//!
//! It also runs what the nodes coordinate through the database: bind slots (`smpp::slots`),
//! fail orders given on any node, and throttles divided among the nodes that use them.

use std::sync::Arc;
use std::time::Duration;

use impulse_spool::NodeInfo;
use serde::Serialize;

use std::collections::HashMap;

use crate::ops::counters::Counters;
use crate::ops::status::Sources;
use crate::outbound::fail_orders::{FailOrders, Order};
use crate::outbound::smpp::SmppConnector;
use crate::outbound::throttle::Throttles;
use crate::store::Store;

/// How often a node publishes its status.
const PUBLISH_EVERY: Duration = Duration::from_secs(5);

/// One node, with the binds it published.
#[derive(Clone, Debug, Serialize)]
pub struct NodeView {
    pub name: String,
    pub epoch: i64,
    pub live: bool,
    pub heartbeat_age_seconds: f64,
    pub config_hash: String,
    /// This node's configuration hash differs from the asking node's.
    pub config_differs: bool,
    /// As the node published them (`/api/binds` of that node).
    pub binds: serde_json::Value,
    /// The bind slots it holds (`SMPP_Account_Binds`).
    pub bind_slots: serde_json::Value,
}

/// Publishes this node's binds, counters and throttles in use until `stop` (a shared spool
/// only), names the node in the metrics (`impulse_node_info{node="…"} 1`), and divides each
/// throttle among the live nodes that use it (see `Throttles::set_sharers`).
pub async fn publish(
    status: Arc<Sources>,
    spool: Store,
    throttles: Arc<Throttles>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let Some(name) = spool.node_name() else {
        return;
    };
    metrics::gauge!("impulse_node_info", "node" => name.to_string()).set(1.0);
    let mut tick = tokio::time::interval(PUBLISH_EVERY);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        // No queue counts here: they read the whole spool, and every node can read them itself.
        let c = &status.counters;
        let published = serde_json::json!({
            "binds": status.binds(impulse_spool::now_millis()),
            "received": Counters::get(&c.received),
            "delivered": Counters::get(&c.delivered),
            "throttles": throttles.in_use(),
            "bind_slots": status
                .smpp
                .slots()
                .held()
                .into_iter()
                .map(|(u, account, slot)| format!("{account} slot {slot} ({})", u.destination().domain))
                .collect::<Vec<_>>(),
        });
        spool.publish_status(&published.to_string()).await;
        if let Some(Ok(nodes)) = spool.nodes().await {
            let others = nodes.iter().filter(|n| !n.fenced && n.name != name);
            let mut sharers: HashMap<String, usize> = HashMap::new();
            for n in others {
                let published: serde_json::Value =
                    serde_json::from_str(&n.status).unwrap_or_default();
                for key in published
                    .get("throttles")
                    .and_then(|t| t.as_array())
                    .into_iter()
                    .flatten()
                    .filter_map(|k| k.as_str())
                {
                    *sharers.entry(key.to_string()).or_default() += 1;
                }
            }
            throttles.set_sharers(sharers);
        }
    }
}

/// How often a node takes and checks its bind slots and reads the cluster's fail orders.
const COORDINATE_EVERY: Duration = Duration::from_secs(1);

/// On a shared spool, every second until `stop`: this node's bind slots (`smpp::slots`), and
/// the fail orders given on any node.
pub async fn coordinate(
    spool: Store,
    smpp: Arc<SmppConnector>,
    fail_orders: Arc<FailOrders>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let Some(pg) = spool.shared() else {
        return;
    };
    let mut tick = tokio::time::interval(COORDINATE_EVERY);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        smpp.keep_slots().await;
        match pg.fail_orders().await {
            Ok(orders) => fail_orders.replace_shared(orders.into_iter().map(Order::from).collect()),
            Err(e) => tracing::warn!(error = %e, "the cluster's fail orders could not be read"),
        }
    }
}

/// Every node the shared spool knows (`None` when the spool is this node's own).
pub async fn nodes(spool: &Store) -> Option<Result<Vec<NodeView>, String>> {
    let nodes = spool.nodes().await?;
    let own_hash = spool.config_hash().unwrap_or_default().to_string();
    Some(
        nodes
            .map(|all| all.into_iter().map(|n| view(n, &own_hash)).collect())
            .map_err(|e| e.to_string()),
    )
}

fn view(n: NodeInfo, own_hash: &str) -> NodeView {
    let published: serde_json::Value = serde_json::from_str(&n.status).unwrap_or_default();
    NodeView {
        config_differs: !n.config_hash.is_empty()
            && !own_hash.is_empty()
            && n.config_hash != own_hash,
        name: n.name,
        epoch: n.epoch,
        live: !n.fenced,
        heartbeat_age_seconds: n.heartbeat_age as f64 / 1000.0,
        config_hash: n.config_hash,
        binds: published
            .get("binds")
            .cloned()
            .unwrap_or(serde_json::Value::Array(Vec::new())),
        bind_slots: published
            .get("bind_slots")
            .cloned()
            .unwrap_or(serde_json::Value::Array(Vec::new())),
    }
}

/// `show cluster`: one line per node, then its binds.
pub fn render(nodes: &[NodeView], me: &str) -> String {
    let mut out = String::from("NODE                 EPOCH  STATE    HEARTBEAT  CONFIG\n");
    for n in nodes {
        let name = if n.name == me && n.live {
            format!("{} (this node)", n.name)
        } else {
            n.name.clone()
        };
        out.push_str(&format!(
            "{name:<20} {:>5}  {:<7}  {:>7.1} s  {}{}\n",
            n.epoch,
            if n.live { "live" } else { "fenced" },
            n.heartbeat_age_seconds,
            if n.config_hash.is_empty() {
                "-"
            } else {
                &n.config_hash
            },
            if n.config_differs { " (differs)" } else { "" },
        ));
        if !n.live {
            continue;
        }
        for b in n.binds.as_array().into_iter().flatten() {
            let field = |k: &str| b.get(k).and_then(|v| v.as_str()).unwrap_or("");
            let binding = match field("binding") {
                "" => String::new(),
                other => format!(" binding {other}"),
            };
            let bound = b.get("bound").and_then(|v| v.as_bool()).unwrap_or(false);
            out.push_str(&format!(
                "    {}{binding} {} {} {}\n",
                field("domain"),
                field("bind_type"),
                field("smsc"),
                if bound { "bound" } else { "not bound" },
            ));
        }
        for slot in n.bind_slots.as_array().into_iter().flatten() {
            out.push_str(&format!("    bind slot {}\n", slot.as_str().unwrap_or("")));
        }
    }
    out.trim_end().to_string()
}
