//! The cluster as an operator sees it, when nodes share a PostgreSQL spool: each node publishes
//! what it holds (its binds, its counters) into the database every few seconds, and any node's
//! console (`show cluster`) and admin API (`/api/cluster`) show every node with its heartbeat,
//! whether it was fenced, its configuration hash and its binds. Queues need nothing of this:
//! they are read from the shared spool, so every node's `summary` is the cluster's.

use std::sync::Arc;
use std::time::Duration;

use impulse_spool::NodeInfo;
use serde::Serialize;

use crate::ops::status::Sources;
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
}

/// Publishes this node's binds and counters until `stop` (a shared spool only), and names the
/// node in the metrics: `impulse_node_info{node="…"} 1`.
pub async fn publish(
    status: Arc<Sources>,
    spool: Store,
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
        let Ok(snap) = status.snapshot().await else {
            continue;
        };
        let published = serde_json::json!({
            "binds": snap.binds,
            "received": snap.totals.received,
            "delivered": snap.totals.delivered,
        });
        spool.publish_status(&published.to_string()).await;
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
    }
    out.trim_end().to_string()
}
