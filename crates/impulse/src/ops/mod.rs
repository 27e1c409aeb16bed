//! Operations: what an operator sees and does. The console and admin HTTP API ([`control`]),
//! status snapshots and Prometheus metrics, configuration reload, the SMS and MMS logs,
//! counters and the view of inbound connections.
//!
//! May use: the connectors' read-only views and operator methods (`outbound`), `net`,
//! `route`, `live`, `store`, and `cli::config` (loading a configuration with every check in
//! one round, for reload and `config get`).
//! Listeners and connectors emit [`events`] (counted and turned into metrics there) and write
//! to `mobile_logs` and `inbound_view`; nothing here starts or stops traffic except through the
//! spool and the connectors' own operator methods.

pub mod cluster;
pub mod control;
pub mod counters;
pub mod events;
pub mod inbound_view;
pub mod metrics;
pub mod mobile_logs;
pub mod reload;
pub mod status;
