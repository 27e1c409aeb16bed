//! The SMPP log (`smpp_logger`) and SMPP bounce log (`smpp_bounce_logger`) of Momentum §2.6,
//! §2.7 and §5.2: one `@`-delimited record per event, laid out by format strings of `%`
//! macros. Formats are parsed once, at configuration check (an unknown macro is an error
//! there), and rendered from a [`SmsFields`] per event.

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
}

/// Longest names first, so `%drl` is not read as `%d` then `rl`.
const MACROS: &[(&str, Macro)] = &[
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

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Macro(Macro),
}

/// A parsed format string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Format(Vec<Piece>);

impl Format {
    pub fn parse(s: &str) -> Result<Format, String> {
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
            let Some((name, m)) = MACROS.iter().find(|(name, _)| rest.starts_with(name)) else {
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

    pub fn render(&self, f: &SmsFields) -> String {
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
pub struct SmsFields {
    pub message_id: String,
    pub domain: String,
    pub binding_group: String,
    pub binding: String,
    /// The SMSC's address.
    pub host: String,
    pub data_coding: u8,
    pub source: String,
    pub source_npi: u8,
    pub source_ton: u8,
    pub dest: String,
    pub dest_npi: u8,
    pub dest_ton: u8,
    /// The SMSC's message id(s), comma-separated for several segments.
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

/// The six record types of the SMPP log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmppRecord {
    Reception,
    Delivery,
    Status,
    TempFail,
    PermFail,
    Conversion,
}

impl SmppRecord {
    pub const ALL: [SmppRecord; 6] = [
        Self::Reception,
        Self::Delivery,
        Self::Status,
        Self::TempFail,
        Self::PermFail,
        Self::Conversion,
    ];

    /// The option stem (`log_reception`, `log_reception_format`) and the default format.
    pub fn option(self) -> (&'static str, &'static str) {
        match self {
            Self::Reception => ("log_reception", "%t@R@%i@%sa@%da@%d@%g@%b@%H@%B@%sg"),
            Self::Delivery => ("log_delivery", "%t@D@%i@%sa@%da@%d@%g@%b@%H@%B@%sg@%rm"),
            Self::Status => ("log_status", "%t@S@%sa@%da@%d@%g@%b@%H@%rm@%drl@%T@%S@%e"),
            Self::TempFail => ("log_tempfail", "%t@T@%i@%sa@%da@%d@%g@%b@%H@%e"),
            Self::PermFail => ("log_permfail", "%t@P@%i@%sa@%da@%d@%g@%b@%H@%e"),
            Self::Conversion => ("log_conversion", "%t@X@%i@%sa@%da@%d@%g@%b@%H@%e"),
        }
    }
}

/// The three record types of the SMPP bounce log (the heartbeat is the fourth).
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

/// An open SMPP log: each record type with its format, or `None` when switched off.
#[derive(Clone)]
pub struct SmppLog {
    file: LogFile,
    formats: Vec<Option<Format>>,
}

impl SmppLog {
    /// `formats` in the order of `kinds`; a heartbeat line is added when `heartbeat` is set.
    pub fn open(
        path: &Path,
        mode: u32,
        formats: Vec<Option<Format>>,
        heartbeat: Option<(Duration, Format)>,
    ) -> std::io::Result<SmppLog> {
        let beat: Option<crate::logfile::Heartbeat> = heartbeat.map(|(every, format)| {
            (
                every,
                Box::new(move |_| format.render(&SmsFields::default())) as _,
            )
        });
        Ok(SmppLog {
            file: LogFile::open(path, mode, beat)?,
            formats,
        })
    }

    fn write(&self, index: usize, fields: &SmsFields) {
        if let Some(Some(f)) = self.formats.get(index) {
            self.file.write(&f.render(fields));
        }
    }

    pub fn record(&self, kind: SmppRecord, fields: &SmsFields) {
        self.write(
            SmppRecord::ALL.iter().position(|k| *k == kind).unwrap_or(0),
            fields,
        );
    }

    pub fn bounce(&self, kind: BounceRecord, fields: &SmsFields) {
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
        let f = Format::parse(SmppRecord::Delivery.option().1).unwrap();
        let line = f.render(&SmsFields {
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
        let s = Format::parse(SmppRecord::Status.option().1)
            .unwrap()
            .render(&SmsFields {
                receipt_latency: Some(7),
                status: "DELIVRD".into(),
                ..Default::default()
            });
        assert!(s.contains("@7@@DELIVRD@"), "{s}");
    }

    #[test]
    fn macros_are_checked() {
        assert!(Format::parse("%t@%zz").is_err());
        assert_eq!(
            Format::parse("100%% %text").unwrap().render(&SmsFields {
                text: "hi\nthere".into(),
                ..Default::default()
            }),
            "100% hi there"
        );
    }
}
