//! 3GPP MM7 (TS 23.140) without I/O: typed transactions ([`model`]), the SOAP 1.1 writer and
//! its lenient reader for every schema from REL-5-MM7-1-0 to REL-6-MM7-1-4 ([`schema`]), SOAP
//! with attachments ([`multipart`]) and status codes ([`status`]). The HTTP client, server and
//! simulator that use it live in the `impulse` crate.

pub mod error;
pub mod model;
pub mod multipart;
pub mod schema;
pub mod soap_read;
pub mod soap_write;
pub mod status;

pub use error::ReadError;
pub use model::*;
pub use multipart::{MimePart, OutContent, SoapMessage, read_body, write_body};
pub use schema::Schema;
pub use soap_read::read_envelope;
pub use soap_write::{WriteOptions, write_envelope};
pub use status::{Class, StatusCode};
