//! SMTP for Impulse: the listener that accepts mail (RFC 5321, with PIPELINING, 8BITMIME, SIZE
//! and ENHANCEDSTATUSCODES), the client that delivers it, routing, and delivery status
//! notifications. Knows nothing of SMS, MMS, or how messages are stored.
#![forbid(unsafe_code)]

pub mod address;
mod conn;
pub mod dsn;
pub mod reply;

pub mod inbound {
    //! Receiving mail: the session state machine, the DATA reader and the tokio driver.
    mod auth;
    mod data;
    mod server;
    mod session;
    pub use auth::Credentials;
    pub use data::{DataReader, Oversize};
    pub use server::{Inbound, client, received_header, serve, serve_with_slots};
    pub use session::{Body, Envelope, Limits, Recipient, Session, Step};
}

pub mod outbound {
    //! Delivering mail: routing and the client.
    mod client;
    mod route;
    pub use client::{ClientError, Connection, Stage, TlsPolicy, dot_stuff};
    pub use route::{Hop, RouteError, addresses, mx_hops};
}

pub use address::{Address, AddressError, ReversePath};
pub use reply::Reply;
