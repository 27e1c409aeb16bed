//! The SMPP 3.4 engine of Impulse, as a library that knows nothing of email: the PDU codec,
//! SMS text encodings (GSM 03.38, UCS-2, Latin-1) and segmentation, delivery receipt parsing,
//! the ESME session state machine and its tokio driver, and an SMSC simulator.
#![forbid(unsafe_code)]

pub mod esme;
pub mod pdu;
pub mod pool;
pub mod receipt;
pub mod session;
pub mod sim;
pub mod text;
pub mod tls;

pub use pdu::{CommandId, CommandStatus, Frame, Pdu};
