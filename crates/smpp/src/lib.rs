//! The SMPP 3.4 engine of Impulse, as a library that knows nothing of email: the PDU codec,
//! SMS text encodings (GSM 03.38, UCS-2, Latin-1) and segmentation, delivery receipt parsing,
//! the ESME session state machine and (feature `runtime`, on by default) its tokio driver and
//! a bind pool. The SMSC simulator it is tested against is in `impulse-sim`.
#![forbid(unsafe_code)]

#[cfg(feature = "runtime")]
pub mod esme;
pub mod pdu;
#[cfg(feature = "runtime")]
pub mod pool;
pub mod receipt;
pub mod session;
pub mod text;
#[cfg(feature = "runtime")]
pub use impulse_tls as tls;

pub use pdu::{CommandId, CommandStatus, Frame, Pdu};
