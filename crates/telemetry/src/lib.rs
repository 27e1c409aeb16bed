//! Logs: the `@`-delimited mainlog (docs/reference/momentum.md §6.7: R, D, T, P records and the
//! M1 heartbeat) written by an `ec_logger`, the SMPP and MMS logs and bounce logs, and the paniclog, which receives every warning and
//! error event from `tracing`. Human-readable logs go to stderr through tracing-subscriber.
#![forbid(unsafe_code)]

mod logfile;
mod mainlog;
mod mobilelog;
mod paniclog;

pub use logfile::reopen_all;
pub use mainlog::{Delivery, Failure, Mainlog, Reception};
pub use mobilelog::{BounceRecord, Dialect, Format, LogFields, MobileLog, Record};
pub use paniclog::PaniclogLayer;

/// Keeps a field out of the `@`-delimited format's way: no `@`, no line breaks.
pub fn field(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '@' => '_',
            '\r' | '\n' => ' ',
            c => c,
        })
        .collect()
}

/// Free text for a record's last field: may contain `@`, never a line break.
pub fn text(s: &str) -> String {
    s.chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect()
}
