//! TLS configuration for every Impulse connection, in one place and named for what it is: the
//! client side (SMPP to an SMSC, SMTP to a relay or MX, MM7 to an MMSC, each verifying the
//! peer against Mozilla's roots plus an optional private CA) and the server side (a
//! listener's certificate and key). rustls with the ring provider, passed explicitly to each
//! builder, so the process never depends on a global default provider
//! (docs/reference/dependencies.md §9). No I/O beyond reading PEM files.
#![forbid(unsafe_code)]

mod client;
mod server;

pub use client::{Client, TlsSettings, client, client_config};
pub use server::server_config;
