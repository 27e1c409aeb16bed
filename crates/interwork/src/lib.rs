//! Conversion between email and SMS, pure (no I/O): the only crate besides the binary that
//! sees two protocols at once. `mt`: an email becomes the text and segments of an SMS; `mo`:
//! the interworking parse of an SMS that becomes an email. Untrusted input: whole emails (parsed
//! by mail-parser) and SMS texts.
#![forbid(unsafe_code)]

pub mod mms;
pub mod mo;
pub mod mt;
