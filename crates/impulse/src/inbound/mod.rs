//! Inbound: what peers hand to Impulse and how it becomes spooled work. SMTP reception (and
//! the one path every new message takes into the spool, [`reception::Reception`]), MM7
//! requests from the MMSC, and SMS from the SMSC (deliver_sm: MO messages and delivery
//! receipts). Each listener parses a peer's fields into types before anything is stored, and
//! acknowledges only after the spool commit.
//!
//! May use: `net` (listeners, TLS, credentials), `ops` (logs, counters, the connection view),
//! `route`, `live`, `store`, and `outbound::mm7::report_source` (a delivery report names the
//! sender the MM7 connector used). The SMPP bind is one connection for both directions: the SMPP
//! connector in `outbound` starts this folder's MO handler on each bind.

pub mod mm7;
pub mod mo_addresses;
pub mod receipt_wait;
pub mod reception;
pub mod smpp_mo;
