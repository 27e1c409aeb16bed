//! Operations: what an operator sees and does. The console and admin HTTP API ([`control`]),
//! status snapshots and Prometheus metrics, configuration reload, the SMS and MMS logs,
//! counters and the view of inbound connections.
//!
//! May use: the connectors' read-only views and operator methods (`outbound`), `net`,
//! `route`, `live`, `store`, and `cli::config` (loading a configuration with every check in
//! one round, for reload and `config get`).
//! Listeners and connectors write to `counters`, `metrics`, `mobile_logs` and `inbound_view`;
//! nothing here starts or stops traffic except through the spool and the connectors' own
//! operator methods.

pub mod control;
pub mod counters;
pub mod inbound_view;
pub mod metrics;
pub mod mobile_logs;
pub mod reload;
pub mod status;
