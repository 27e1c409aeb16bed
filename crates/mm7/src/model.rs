//! MM7 transactions as plain values: what the SOAP reader produces and the writer consumes.
//! Element names follow the schemas; optional elements are `Option`s and repeated ones `Vec`s.

use crate::schema::Schema;
use crate::status::StatusCode;

/// One SOAP envelope: the transaction id of its header, the schema (namespace) and
/// `MM7Version` of its body, and the operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub transaction_id: String,
    pub schema: Schema,
    /// `MM7Version` as written; the writer replaces a value the schema does not list by the
    /// schema's newest one.
    pub version: String,
    pub body: Body,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    SubmitReq(SubmitReq),
    SubmitRsp(SubmitRsp),
    DeliverReq(DeliverReq),
    DeliverRsp(DeliverRsp),
    CancelReq(CancelReq),
    CancelRsp(Status),
    ReplaceReq(ReplaceReq),
    ReplaceRsp(Status),
    DeliveryReportReq(DeliveryReportReq),
    DeliveryReportRsp(Status),
    ReadReplyReq(ReadReplyReq),
    ReadReplyRsp(Status),
    /// RSErrorRsp (relay) or VASPErrorRsp (VASP), bare in the Body.
    ErrorRsp(ErrorRsp),
    Fault(Fault),
}

impl Body {
    /// The operation's element name (`Fault` for a SOAP fault).
    pub fn name(&self) -> &'static str {
        match self {
            Body::SubmitReq(_) => "SubmitReq",
            Body::SubmitRsp(_) => "SubmitRsp",
            Body::DeliverReq(_) => "DeliverReq",
            Body::DeliverRsp(_) => "DeliverRsp",
            Body::CancelReq(_) => "CancelReq",
            Body::CancelRsp(_) => "CancelRsp",
            Body::ReplaceReq(_) => "ReplaceReq",
            Body::ReplaceRsp(_) => "ReplaceRsp",
            Body::DeliveryReportReq(_) => "DeliveryReportReq",
            Body::DeliveryReportRsp(_) => "DeliveryReportRsp",
            Body::ReadReplyReq(_) => "ReadReplyReq",
            Body::ReadReplyRsp(_) => "ReadReplyRsp",
            Body::ErrorRsp(e) => e.side.element(),
            Body::Fault(_) => "Fault",
        }
    }

    /// The status of a response, error response or fault detail.
    pub fn status(&self) -> Option<&Status> {
        match self {
            Body::SubmitRsp(r) => Some(&r.status),
            Body::DeliverRsp(r) => Some(&r.status),
            Body::CancelRsp(s)
            | Body::ReplaceRsp(s)
            | Body::DeliveryReportRsp(s)
            | Body::ReadReplyRsp(s) => Some(s),
            Body::ErrorRsp(e) => Some(&e.status),
            Body::Fault(f) => f.detail.as_ref().map(|d| &d.status),
            _ => None,
        }
    }
}

/// `Status{StatusCode, StatusText, Details?}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub code: StatusCode,
    pub text: String,
    /// Free-form Details, as text.
    pub details: Option<String>,
}

impl Status {
    pub fn new(code: StatusCode) -> Status {
        Status {
            code,
            text: code.name().to_string(),
            details: None,
        }
    }

    pub fn with_text(code: StatusCode, text: impl Into<String>) -> Status {
        Status {
            code,
            text: text.into(),
            details: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressKind {
    Rfc2822,
    Number,
    ShortCode,
}

impl AddressKind {
    pub fn element(self) -> &'static str {
        match self {
            AddressKind::Rfc2822 => "RFC2822Address",
            AddressKind::Number => "Number",
            AddressKind::ShortCode => "ShortCode",
        }
    }
}

/// One of `RFC2822Address`, `Number`, `ShortCode`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub kind: AddressKind,
    pub value: String,
    pub display_only: bool,
}

impl Address {
    pub fn number(value: impl Into<String>) -> Address {
        Address {
            kind: AddressKind::Number,
            value: value.into(),
            display_only: false,
        }
    }
    pub fn short_code(value: impl Into<String>) -> Address {
        Address {
            kind: AddressKind::ShortCode,
            value: value.into(),
            display_only: false,
        }
    }
    pub fn email(value: impl Into<String>) -> Address {
        Address {
            kind: AddressKind::Rfc2822,
            value: value.into(),
            display_only: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecipientKind {
    To,
    Cc,
    Bcc,
}

impl RecipientKind {
    pub fn element(self) -> &'static str {
        match self {
            RecipientKind::To => "To",
            RecipientKind::Cc => "Cc",
            RecipientKind::Bcc => "Bcc",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub kind: RecipientKind,
    pub address: Address,
}

/// `Content href=... allowAdaptations=...`: which MIME part holds the multimedia message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentRef {
    pub href: String,
    pub allow_adaptations: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SenderIdentification {
    pub vaspid: Option<String>,
    pub vasid: Option<String>,
    pub sender_address: Option<Address>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplyCharging {
    pub size: Option<u64>,
    pub deadline: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SubmitReq {
    pub sender: SenderIdentification,
    pub recipients: Vec<Recipient>,
    pub service_code: Option<String>,
    pub linked_id: Option<String>,
    /// Personal, Informational, Advertisement or Auto (any case on input and in configuration).
    pub message_class: Option<String>,
    pub timestamp: Option<String>,
    pub reply_charging: Option<ReplyCharging>,
    pub earliest_delivery_time: Option<String>,
    pub expiry_date: Option<String>,
    pub delivery_report: Option<bool>,
    pub read_reply: Option<bool>,
    /// Normal, High or Low.
    pub priority: Option<String>,
    pub subject: Option<String>,
    pub charged_party: Option<String>,
    pub distribution_indicator: Option<bool>,
    pub content: Option<ContentRef>,
    /// Raw XML appended inside SubmitReq after every schema element (`MM7_Request_IE_Extended`).
    /// Whatever it holds is the operator's contract, not the schema's.
    pub extension_xml: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SubmitRsp {
    pub status: Status,
    pub message_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeliverReq {
    pub relay_server_id: Option<String>,
    pub linked_id: Option<String>,
    pub sender: Option<Address>,
    pub recipients: Vec<Recipient>,
    pub timestamp: Option<String>,
    pub reply_charging_id: Option<String>,
    pub priority: Option<String>,
    pub subject: Option<String>,
    pub content: Option<ContentRef>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeliverRsp {
    pub status: Status,
    pub service_code: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct CancelReq {
    pub sender: SenderIdentification,
    pub message_id: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReplaceReq {
    pub sender: SenderIdentification,
    pub message_id: String,
    pub service_code: Option<String>,
    pub timestamp: Option<String>,
    pub read_reply: Option<bool>,
    pub earliest_delivery_time: Option<String>,
    pub distribution_indicator: Option<bool>,
    pub content: Option<ContentRef>,
}

/// A delivery report's MMStatus. Values outside the schemas' lists (Skycore's `NotSupported`,
/// the US spelling `Unrecognized`) are kept as they came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MmStatus {
    Expired,
    Retrieved,
    Rejected,
    Indeterminate,
    Forwarded,
    Unrecognised,
    Deferred,
    DeliveryConditionNotMet,
    Other(String),
}

impl MmStatus {
    pub fn parse(s: &str) -> MmStatus {
        match s.trim().to_ascii_lowercase().as_str() {
            "expired" => MmStatus::Expired,
            "retrieved" => MmStatus::Retrieved,
            "rejected" => MmStatus::Rejected,
            "indeterminate" => MmStatus::Indeterminate,
            "forwarded" => MmStatus::Forwarded,
            "unrecognised" | "unrecognized" => MmStatus::Unrecognised,
            "deferred" => MmStatus::Deferred,
            "deliveryconditionnotmet" => MmStatus::DeliveryConditionNotMet,
            _ => MmStatus::Other(s.trim().to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            MmStatus::Expired => "Expired",
            MmStatus::Retrieved => "Retrieved",
            MmStatus::Rejected => "Rejected",
            MmStatus::Indeterminate => "Indeterminate",
            MmStatus::Forwarded => "Forwarded",
            MmStatus::Unrecognised => "Unrecognised",
            MmStatus::Deferred => "Deferred",
            MmStatus::DeliveryConditionNotMet => "DeliveryConditionNotMet",
            MmStatus::Other(s) => s,
        }
    }

    /// Momentum treats Expired, Rejected, Unrecognised and DeliveryConditionNotMet as negative
    /// (docs/reference/momentum.md §1.7); so do we, and some relays' `Unreachable`/`NotSupported`.
    pub fn is_negative(&self) -> bool {
        match self {
            MmStatus::Expired
            | MmStatus::Rejected
            | MmStatus::Unrecognised
            | MmStatus::DeliveryConditionNotMet => true,
            MmStatus::Other(s) => {
                s.eq_ignore_ascii_case("unreachable") || s.eq_ignore_ascii_case("notsupported")
            }
            _ => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryReportReq {
    pub relay_server_id: Option<String>,
    pub message_id: String,
    pub recipient: Address,
    pub sender: Address,
    /// `Date` or `TimeStamp`, whichever the version names it.
    pub date: String,
    pub status: MmStatus,
    pub status_extension: Option<String>,
    pub status_text: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReadReplyReq {
    pub relay_server_id: Option<String>,
    pub message_id: String,
    pub recipient: Address,
    pub sender: Address,
    pub timestamp: String,
    /// Indeterminate, Read or Deleted.
    pub status: String,
    pub status_text: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// RSErrorRsp: the relay could not handle a VASP's request.
    Relay,
    /// VASPErrorRsp: the VASP could not handle a relay's request.
    Vasp,
}

impl Side {
    pub fn element(self) -> &'static str {
        match self {
            Side::Relay => "RSErrorRsp",
            Side::Vasp => "VASPErrorRsp",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ErrorRsp {
    pub side: Side,
    pub status: Status,
}

impl Envelope {
    /// The answer to this request: its TransactionID and schema, `version`, and `body`.
    pub fn reply(&self, version: &str, body: Body) -> Envelope {
        Envelope {
            transaction_id: self.transaction_id.clone(),
            schema: self.schema,
            version: version.to_string(),
            body,
        }
    }

    /// A SOAP Fault answering a request that could not be served: faultcode `Client` for
    /// client errors (2xxx, 4004 validation), `Server` otherwise, the status in an RSErrorRsp
    /// (`Side::Relay`) or VASPErrorRsp (`Side::Vasp`). The version is the request's when its
    /// schema lists it, else the schema's newest.
    pub fn fault(
        schema: Schema,
        version: &str,
        tid: &str,
        side: Side,
        code: StatusCode,
        text: &str,
    ) -> Envelope {
        let client =
            code.class() == crate::status::Class::Client || code == StatusCode::VALIDATION_ERROR;
        Envelope {
            transaction_id: if tid.trim().is_empty() {
                "unknown".into()
            } else {
                tid.into()
            },
            schema,
            version: if schema.accepts_version(version) {
                version
            } else {
                schema.newest_version()
            }
            .into(),
            body: Body::Fault(Fault {
                code: if client { "Client" } else { "Server" }.into(),
                string: text.into(),
                detail: Some(ErrorRsp {
                    side,
                    status: Status::with_text(code, text),
                }),
            }),
        }
    }
}

/// A SOAP 1.1 Fault, with an RSErrorRsp/VASPErrorRsp as its detail when the peer gave one.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// `Client` or `Server` (written with the envelope prefix).
    pub code: String,
    pub string: String,
    pub detail: Option<ErrorRsp>,
}
