//! Commands other than `serve`: configuration checks and evaluation (`impulse config`), the
//! email -> SMS conversion preview (`impulse convert`), the self-contained demo and the
//! simulators (`impulse sim smsc|mmsc`).
//!
//! May use anything: these are entry points, like `serve`.

pub mod config;
pub mod config_warnings;
pub mod convert;
pub mod demo;
pub mod sim;
