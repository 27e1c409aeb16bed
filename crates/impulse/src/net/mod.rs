//! Network plumbing shared by every listener and client, named for what it is: the HTTP/1.1
//! server (MM7 listener, admin API, MMSC simulator), TLS configuration (server certificates,
//! client trust), credential checks and the guard against password guessing.
//!
//! May use: `ops::inbound_view` (connections register for `show inbound`), `live`.
//! Nothing here knows SMTP, SMPP or MM7.

pub mod auth_guard;
pub mod credentials;
pub mod tls;
