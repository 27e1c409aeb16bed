//! Network plumbing shared by the listeners, named for what it is: the listeners' TLS as
//! configured (certificates per Listen, cached per generation; built by `impulse-tls`),
//! credential checks (SMTP AUTH, HTTP Basic) and the guard against password guessing. The
//! HTTP server and client are the `impulse-http` crate.
//!
//! May use: `live`, `ops::events`. Nothing here knows SMTP, SMPP or MM7.

pub mod auth_guard;
pub mod credentials;
pub mod tls;
