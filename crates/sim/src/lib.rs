//! The peers Impulse talks to, simulated: an SMSC that takes binds and submit_sm, sends
//! delivery receipts and MO messages and injects faults on command ([`smsc`]), and an MMSC that
//! takes SubmitReq and sends DeliverReq and delivery reports on command ([`mmsc`]). Both have a
//! line-based control port. Used by the tests, the benchmarks, `impulse demo` and
//! `impulse sim`; nothing here is part of the gateway.
#![forbid(unsafe_code)]

pub mod mmsc;
pub mod smsc;
