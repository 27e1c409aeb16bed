//! Outbound: spooled work leaving Impulse. The [`router`] (the scheduler's one connector), one
//! connector per protocol ([`smtp`], [`smpp`], [`mm7`]) behind the same interface, the
//! per-destination [`policy`], what every delivery consults on the way (throttles, operators'
//! fail orders), and [`observe`]: outcomes counted, logged and bounced in one place.
//!
//! May use: `inbound::reception` (bounces and notifications are new mail), `inbound::smpp_mo`
//! (the MO side of an SMPP bind), `net`, `ops` (logs, counters, metrics), `route`, `live`,
//! `store`.

pub mod fail_orders;
pub mod mm7;
pub mod observe;
pub mod policy;
pub mod router;
pub mod smpp;
pub mod smtp;
pub mod throttle;
