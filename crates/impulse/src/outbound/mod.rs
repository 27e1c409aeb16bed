//! Outbound: spooled work leaving Impulse. The router and the SMTP connector
//! ([`delivery`]), one connector per mobile protocol ([`smpp`], [`mm7`]), and what every
//! delivery consults on the way: throttles and operators' fail orders.
//!
//! May use: `inbound::reception` (bounces and notifications are new mail), `inbound::smpp_mo`
//! (the MO side of an SMPP bind), `net`, `ops` (logs, counters, metrics), `route`, `live`,
//! `store`.

pub mod delivery;
pub mod fail_orders;
pub mod mm7;
pub mod smpp;
pub mod throttle;
