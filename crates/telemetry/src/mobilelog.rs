//! The mobile logs of Momentum: the SMPP log (`smpp_logger`, §2.6, §5.2), the MMS log
//! (`mms_logger`, §2.8, §5.3) and their bounce logs (`smpp_bounce_logger`,
//! `mms_bounce_logger`, §2.7, §2.9): one `@`-delimited record per event, laid out by format
//! strings of `%` macros. Formats are parsed once, at configuration check (a macro the log's
//! [`Dialect`] does not know is an error there), and rendered from [`LogFields`] per event.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use crate::logfile::{LogFile, unix_now};
use crate::{field, text};

/// One `%` macro.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Macro {
    Time,
    MessageId,
    Domain,
    BindingGroup,
    Binding,
    Host,
    DataCoding,
    SourceAddr,
    SourceNpi,
    SourceTon,
    DestAddr,
    DestNpi,
    DestTon,
    RemoteId,
    RawRemoteId,
    StatusType,
    Status,
    Error,
    Size,
    Segment,
    Text,
    ReceiptLatency,
    OriginalId,
    TransactionId,
    Pathway,
    PathwayGroup,
}

/// A log's macro set: the SMPP log's (docs/reference/momentum.md §5.2) or the MMS log's (§5.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Smpp,
    Mms,
}

/// The SMPP log's macros, longest names first so `%drl` is not read as `%d` then `rl`.
const SMPP_MACROS: &[(&str, Macro)] = &[
    ("text", Macro::Text),
    ("drl", Macro::ReceiptLatency),
    ("dc", Macro::DataCoding),
    ("sa", Macro::SourceAddr),
    ("sn", Macro::SourceNpi),
    ("st", Macro::SourceTon),
    ("da", Macro::DestAddr),
    ("dn", Macro::DestNpi),
    ("dt", Macro::DestTon),
    ("rm", Macro::RemoteId),
    ("rM", Macro::RawRemoteId),
    ("sg", Macro::Segment),
    ("t", Macro::Time),
    ("i", Macro::MessageId),
    ("d", Macro::Domain),
    ("g", Macro::BindingGroup),
    ("b", Macro::Binding),
    ("H", Macro::Host),
    ("T", Macro::StatusType),
    ("S", Macro::Status),
    ("e", Macro::Error),
    ("B", Macro::Size),
];

/// The MMS log's macros (§5.3), longest names first.
const MMS_MACROS: &[(&str, Macro)] = &[
    ("drl", Macro::ReceiptLatency),
    ("ti", Macro::TransactionId),
    ("rm", Macro::RemoteId),
    ("sa", Macro::SourceAddr),
    ("da", Macro::DestAddr),
    ("PG", Macro::PathwayGroup),
    ("P", Macro::Pathway),
    ("t", Macro::Time),
    ("i", Macro::MessageId),
    ("I", Macro::OriginalId),
    ("d", Macro::Domain),
    ("g", Macro::BindingGroup),
    ("b", Macro::Binding),
    ("H", Macro::Host),
    ("S", Macro::Status),
    ("e", Macro::Error),
    ("B", Macro::Size),
];

impl Dialect {
    fn macros(self) -> &'static [(&'static str, Macro)] {
        match self {
            Dialect::Smpp => SMPP_MACROS,
            Dialect::Mms => MMS_MACROS,
        }
    }

    fn other(self) -> Dialect {
        match self {
            Dialect::Smpp => Dialect::Mms,
            Dialect::Mms => Dialect::Smpp,
        }
    }

    fn log_name(self) -> &'static str {
        match self {
            Dialect::Smpp => "SMPP",
            Dialect::Mms => "MMS",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Macro(Macro),
}

/// A parsed format string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Format(Vec<Piece>);

impl Format {
    pub fn parse(s: &str, dialect: Dialect) -> Result<Format, String> {
        let mut pieces = Vec::new();
        let mut lit = String::new();
        let mut rest = s;
        while let Some(pos) = rest.find('%') {
            lit.push_str(&rest[..pos]);
            rest = &rest[pos + 1..];
            if let Some(r) = rest.strip_prefix('%') {
                lit.push('%');
                rest = r;
                continue;
            }
            let own = dialect
                .macros()
                .iter()
                .find(|(name, _)| rest.starts_with(name));
            // A macro of the other log read here would be a shorter macro and literal letters
            // (`%ti` as `%t` then `i`): refused, naming the log it belongs to.
            if let Some((other, _)) = dialect
                .other()
                .macros()
                .iter()
                .find(|(name, _)| rest.starts_with(name))
                && own.is_none_or(|(name, _)| other.len() > name.len())
            {
                return Err(format!(
                    "`%{other}` is a macro of the {} log, not of the {} log, in format {s:?}",
                    dialect.other().log_name(),
                    dialect.log_name()
                ));
            }
            let Some((name, m)) = own else {
                return Err(format!(
                    "unknown macro `%{}` in format {s:?}",
                    rest.chars().take(4).collect::<String>()
                ));
            };
            if !lit.is_empty() {
                pieces.push(Piece::Literal(std::mem::take(&mut lit)));
            }
            pieces.push(Piece::Macro(*m));
            rest = &rest[name.len()..];
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            pieces.push(Piece::Literal(lit));
        }
        Ok(Format(pieces))
    }

    pub fn render(&self, f: &LogFields) -> String {
        let mut out = String::with_capacity(128);
        for p in &self.0 {
            match p {
                Piece::Literal(l) => out.push_str(l),
                Piece::Macro(m) => {
                    let _ = match m {
                        Macro::Time => write!(out, "{}", unix_now()),
                        Macro::MessageId => write!(out, "{}", field(&f.message_id)),
                        Macro::Domain => write!(out, "{}", field(&f.domain)),
                        Macro::BindingGroup => {
                            write!(out, "{}", field(or_default(&f.binding_group)))
                        }
                        Macro::Binding => write!(out, "{}", field(or_default(&f.binding))),
                        Macro::Host => write!(out, "{}", field(&f.host)),
                        Macro::DataCoding => write!(out, "{}", f.data_coding),
                        Macro::SourceAddr => write!(out, "{}", field(&f.source)),
                        Macro::SourceNpi => write!(out, "{}", f.source_npi),
                        Macro::SourceTon => write!(out, "{}", f.source_ton),
                        Macro::DestAddr => write!(out, "{}", field(&f.dest)),
                        Macro::DestNpi => write!(out, "{}", f.dest_npi),
                        Macro::DestTon => write!(out, "{}", f.dest_ton),
                        Macro::RemoteId => write!(out, "{}", field(&f.remote_id)),
                        Macro::RawRemoteId => write!(out, "{}", text(&f.remote_id)),
                        Macro::StatusType => write!(out, "{}", field(&f.status_type)),
                        Macro::Status => write!(out, "{}", field(&f.status)),
                        Macro::Error => write!(out, "{}", text(&f.error)),
                        Macro::Size => write!(out, "{}", f.size),
                        Macro::Segment => write!(out, "{}", field(&f.segment)),
                        Macro::Text => write!(out, "{}", text(&f.text)),
                        Macro::OriginalId => write!(out, "{}", field(&f.original_id)),
                        Macro::TransactionId => write!(out, "{}", field(&f.transaction_id)),
                        Macro::Pathway => write!(out, "{}", field(&f.pathway)),
                        Macro::PathwayGroup => write!(out, "{}", field(&f.pathway_group)),
                        Macro::ReceiptLatency => write!(
                            out,
                            "{}",
                            f.receipt_latency.map(|l| l.to_string()).unwrap_or_default()
                        ),
                    };
                }
            }
        }
        out
    }
}

fn or_default(s: &str) -> &str {
    if s.is_empty() { "default" } else { s }
}

/// What a record can say; unset fields render empty.
#[derive(Clone, Debug, Default)]
pub struct LogFields {
    pub message_id: String,
    /// The message a report or reply is about (MMS log `%I`).
    pub original_id: String,
    /// The MM7 TransactionID (`%ti`).
    pub transaction_id: String,
    /// Receiving pathway and pathway group (`%P`, `%PG`): the listener that took the message.
    pub pathway: String,
    pub pathway_group: String,
    pub domain: String,
    pub binding_group: String,
    pub binding: String,
    /// The SMSC's or MMSC's address.
    pub host: String,
    pub data_coding: u8,
    pub source: String,
    pub source_npi: u8,
    pub source_ton: u8,
    pub dest: String,
    pub dest_npi: u8,
    pub dest_ton: u8,
    /// The SMSC's message id(s), comma-separated for several segments; the MMSC's MessageID.
    pub remote_id: String,
    pub status_type: String,
    pub status: String,
    pub error: String,
    pub size: usize,
    /// Segment number, or the segment count for a whole message.
    pub segment: String,
    pub text: String,
    /// Seconds from submission to receipt.
    pub receipt_latency: Option<i64>,
}

/// The six record types of the SMPP and MMS logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Record {
    Reception,
    Delivery,
    Status,
    TempFail,
    PermFail,
    Conversion,
}

impl Record {
    pub const ALL: [Record; 6] = [
        Self::Reception,
        Self::Delivery,
        Self::Status,
        Self::TempFail,
        Self::PermFail,
        Self::Conversion,
    ];

    /// The option stem (`log_reception`, `log_reception_format`) and the log's default
    /// format (docs/reference/momentum.md §2.6 for SMPP, §2.8 for MMS).
    pub fn option(self, dialect: Dialect) -> (&'static str, &'static str) {
        use Dialect::*;
        match (self, dialect) {
            (Self::Reception, Smpp) => ("log_reception", "%t@R@%i@%sa@%da@%d@%g@%b@%H@%B@%sg"),
            (Self::Reception, Mms) => (
                "log_reception",
                "%t@R@%i@%sa@%da@%d@%P@%PG@%H@%B@%S@%e@\"%ti\"",
            ),
            (Self::Delivery, Smpp) => ("log_delivery", "%t@D@%i@%sa@%da@%d@%g@%b@%H@%B@%sg@%rm"),
            (Self::Delivery, Mms) => (
                "log_delivery",
                "%t@D@%i@%sa@%da@%d@%g@%b@%H@%B@\"%rm\"@\"%ti\"",
            ),
            (Self::Status, Smpp) => ("log_status", "%t@S@%sa@%da@%d@%g@%b@%H@%rm@%drl@%T@%S@%e"),
            (Self::Status, Mms) => ("log_status", "%t@S@%sa@%da@%d@%g@%b@%H@\"%rm\"@%drl@%S@%e"),
            (Self::TempFail, Smpp) => ("log_tempfail", "%t@T@%i@%sa@%da@%d@%g@%b@%H@%e"),
            (Self::TempFail, Mms) => ("log_tempfail", "%t@T@%i@%sa@%da@%d@%g@%b@%H@%S@%e"),
            (Self::PermFail, Smpp) => ("log_permfail", "%t@P@%i@%sa@%da@%d@%g@%b@%H@%e"),
            (Self::PermFail, Mms) => ("log_permfail", "%t@P@%i@%sa@%da@%d@%g@%b@%H@%S@%e"),
            (Self::Conversion, _) => ("log_conversion", "%t@X@%i@%sa@%da@%d@%g@%b@%H@%e"),
        }
    }
}

/// The three record types of the SMPP and MMS bounce logs (the heartbeat is the fourth); both
/// have the same defaults (docs/reference/momentum.md §2.9).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BounceRecord {
    /// An MT failed permanently.
    InBand,
    /// A receipt reported a final failure.
    OutOfBand,
    /// An MT failed temporarily.
    Transient,
}

impl BounceRecord {
    pub const ALL: [BounceRecord; 3] = [Self::InBand, Self::OutOfBand, Self::Transient];

    pub fn option(self) -> (&'static str, &'static str) {
        match self {
            Self::InBand => ("log_bounce_inband", "%t@I@%i@%sa@%da@%d@%g@%b@%H@%e"),
            Self::OutOfBand => ("log_bounce_outband", "%t@O@%i@%sa@%da@%d@%g@%b@%H@%e"),
            Self::Transient => ("log_bounce_transient", "%t@T@%i@%sa@%da@%d@%g@%b@%H@%e"),
        }
    }
}

/// An open mobile log: each record type with its format, or `None` when switched off.
#[derive(Clone)]
pub struct MobileLog {
    file: LogFile,
    formats: Vec<Option<Format>>,
}

impl MobileLog {
    /// `formats` in the order of `kinds`; a heartbeat line is added when `heartbeat` is set.
    pub fn open(
        path: &Path,
        mode: u32,
        formats: Vec<Option<Format>>,
        heartbeat: Option<(Duration, Format)>,
    ) -> std::io::Result<MobileLog> {
        let beat: Option<crate::logfile::Heartbeat> = heartbeat.map(|(every, format)| {
            (
                every,
                Box::new(move |_| format.render(&LogFields::default())) as _,
            )
        });
        Ok(MobileLog {
            file: LogFile::open(path, mode, beat)?,
            formats,
        })
    }

    fn write(&self, index: usize, fields: &LogFields) {
        if let Some(Some(f)) = self.formats.get(index) {
            self.file.write(&f.render(fields));
        }
    }

    pub fn record(&self, kind: Record, fields: &LogFields) {
        self.write(
            Record::ALL.iter().position(|k| *k == kind).unwrap_or(0),
            fields,
        );
    }

    pub fn bounce(&self, kind: BounceRecord, fields: &LogFields) {
        self.write(
            BounceRecord::ALL
                .iter()
                .position(|k| *k == kind)
                .unwrap_or(0),
            fields,
        );
    }

    pub fn flush(&self) {
        self.file.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_formats_render_in_momentum_order() {
        let f = Format::parse(Record::Delivery.option(Dialect::Smpp).1, Dialect::Smpp).unwrap();
        let line = f.render(&LogFields {
            message_id: "00000000002A".into(),
            source: "12345".into(),
            dest: "4445551234".into(),
            domain: "sms.example.com".into(),
            host: "127.0.0.1:2775".into(),
            size: 42,
            segment: "2".into(),
            remote_id: "a1,a2".into(),
            ..Default::default()
        });
        let fields: Vec<&str> = line.split('@').collect();
        assert_eq!(
            &fields[1..],
            [
                "D",
                "00000000002A",
                "12345",
                "4445551234",
                "sms.example.com",
                "default",
                "default",
                "127.0.0.1:2775",
                "42",
                "2",
                "a1,a2"
            ]
        );
        let s = Format::parse(Record::Status.option(Dialect::Smpp).1, Dialect::Smpp)
            .unwrap()
            .render(&LogFields {
                receipt_latency: Some(7),
                status: "DELIVRD".into(),
                ..Default::default()
            });
        assert!(s.contains("@7@@DELIVRD@"), "{s}");
    }

    #[test]
    fn macros_are_checked() {
        assert!(Format::parse("%t@%zz", Dialect::Smpp).is_err());
        let e = Format::parse("%t@%ti", Dialect::Smpp).unwrap_err();
        assert!(
            e.contains("`%ti` is a macro of the MMS log, not of the SMPP log"),
            "{e}"
        );
        let e = Format::parse("%text", Dialect::Mms).unwrap_err();
        assert!(e.contains("`%text` is a macro of the SMPP log"), "{e}");
        assert_eq!(
            Format::parse("100%% %text", Dialect::Smpp)
                .unwrap()
                .render(&LogFields {
                    text: "hi\nthere".into(),
                    ..Default::default()
                }),
            "100% hi there"
        );
    }

    #[test]
    fn mms_formats_know_mms_macros_only() {
        let line = Format::parse(Record::Reception.option(Dialect::Mms).1, Dialect::Mms)
            .unwrap()
            .render(&LogFields {
                message_id: "00000000002A".into(),
                source: "+15551234567".into(),
                dest: "28444".into(),
                pathway: "127.0.0.1:8089".into(),
                size: 1200,
                status: "Success".into(),
                transaction_id: "tx-1".into(),
                ..Default::default()
            });
        let fields: Vec<&str> = line.split('@').collect();
        assert_eq!(
            &fields[1..],
            [
                "R",
                "00000000002A",
                "+15551234567",
                "28444",
                "",
                "127.0.0.1:8089",
                "",
                "",
                "1200",
                "Success",
                "",
                "\"tx-1\""
            ]
        );
        // `%PG` is the pathway group, not `%P` then `G`; `%I` is the original message id.
        assert_eq!(
            Format::parse("%PG|%P|%I", Dialect::Mms)
                .unwrap()
                .render(&LogFields {
                    pathway: "p".into(),
                    pathway_group: "pg".into(),
                    original_id: "o".into(),
                    ..Default::default()
                }),
            "pg|p|o"
        );
        // `%ti` is the MMS log's TransactionID: refused in an SMPP format (it would render
        // as the time and an `i`), read whole in an MMS one.
        assert!(Format::parse("%ti", Dialect::Smpp).is_err());
        assert!(Format::parse("%ti", Dialect::Mms).is_ok());
        assert!(Format::parse("%sg", Dialect::Mms).is_err());
        assert!(Format::parse("%I", Dialect::Smpp).is_err());
    }
}
