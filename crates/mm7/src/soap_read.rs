//! The SOAP reader, lenient as docs/reference/mm7-interop.md §3, §5 and §10 say. Elements are
//! matched by local name (any prefix, any or no namespace, any letter case), in any order;
//! values are trimmed; booleans accept any case; the schema is taken from whichever MM7
//! namespace the message uses, and an unknown `MM7Version` is kept, not refused.
//! roxmltree parses (no DTDs, a node limit for untrusted input).

use std::borrow::Cow;

use roxmltree::{Document, Node, ParsingOptions};

use crate::error::ReadError;
use crate::model::*;
use crate::schema::Schema;
use crate::status::StatusCode;

/// A SOAP envelope bigger than this many XML nodes is refused (the largest real MM7 requests
/// have a few hundred: one per recipient address and element).
const NODES_LIMIT: u32 = 200_000;

/// Parses one SOAP envelope. `fallback` is the schema assumed when no element carries an MM7
/// namespace at all (peers that send everything unqualified).
pub fn read_envelope(xml: &[u8], fallback: Schema) -> Result<Envelope, ReadError> {
    let source = decode_xml(xml)?;
    let opts = ParsingOptions {
        allow_dtd: false,
        nodes_limit: NODES_LIMIT,
        ..ParsingOptions::default()
    };
    let doc = Document::parse_with_options(&source, opts)
        .map_err(|e| ReadError::corrupt(format!("XML: {e}")))?;
    let root = doc.root_element();
    if !is(root, "Envelope") {
        return Err(ReadError::corrupt(format!(
            "the root element is {}, not a SOAP Envelope",
            root.tag_name().name()
        )));
    }
    let header = child(root, "Header");
    let body = child(root, "Body").ok_or_else(|| ReadError::validation("no SOAP Body"))?;
    let op = body
        .children()
        .find(|n| n.is_element())
        .ok_or_else(|| ReadError::validation("the SOAP Body is empty"))?;
    let tid_node = header.and_then(|h| child(h, "TransactionID"));
    let schema = [Some(op), tid_node]
        .into_iter()
        .flatten()
        .flat_map(|n| n.descendants())
        .filter_map(|n| n.tag_name().namespace())
        .find_map(Schema::from_namespace)
        .unwrap_or(fallback);
    let transaction_id = tid_node.map(text).unwrap_or_default();
    let version_node = if is(op, "Fault") {
        child(op, "detail").and_then(|d| d.descendants().find(|n| is(*n, "MM7Version")))
    } else {
        child(op, "MM7Version")
    };
    let version = version_node.map(text).unwrap_or_default();
    let body = read_body(op)?;
    if !matches!(body, Body::Fault(_)) {
        if transaction_id.is_empty() {
            return Err(ReadError::validation("no TransactionID in the SOAP Header"));
        }
        if version.is_empty() {
            return Err(ReadError::validation(format!(
                "{} has no MM7Version",
                body.name()
            )));
        }
    }
    Ok(Envelope {
        transaction_id,
        schema,
        version,
        body,
    })
}

/// The XML text: UTF-8 as is (after a BOM); otherwise decoded by the encoding its XML
/// declaration names (GB2312 and others, docs/reference/mm7-interop.md §10.13).
fn decode_xml(xml: &[u8]) -> Result<Cow<'_, str>, ReadError> {
    let xml = xml.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(xml);
    if let Ok(s) = std::str::from_utf8(xml) {
        return Ok(Cow::Borrowed(s));
    }
    let head = String::from_utf8_lossy(&xml[..xml.len().min(200)]);
    let label = head
        .split("encoding=")
        .nth(1)
        .and_then(|rest| {
            rest.trim_start_matches(['"', '\''])
                .split(['"', '\''])
                .next()
        })
        .unwrap_or("");
    let enc = encoding_rs::Encoding::for_label(label.as_bytes())
        .ok_or_else(|| ReadError::corrupt("the XML is neither UTF-8 nor in a declared charset"))?;
    let (s, _, errors) = enc.decode(xml);
    if errors {
        return Err(ReadError::corrupt(format!("the XML is not valid {label}")));
    }
    Ok(Cow::Owned(s.into_owned()))
}

fn is(n: Node, name: &str) -> bool {
    n.is_element() && n.tag_name().name().eq_ignore_ascii_case(name)
}

fn child<'a, 'i>(n: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    n.children().find(|c| is(*c, name))
}

/// The trimmed text of an element (all its text, entities resolved).
fn text(n: Node) -> String {
    let mut s = String::new();
    for d in n.descendants().filter(|d| d.is_text()) {
        s.push_str(d.text().unwrap_or(""));
    }
    s.trim().to_string()
}

fn opt(n: Node, name: &str) -> Option<String> {
    child(n, name).map(text)
}

fn req(n: Node, name: &str) -> Result<String, ReadError> {
    child(n, name)
        .map(text)
        .ok_or_else(|| ReadError::validation(format!("{} has no {name}", n.tag_name().name())))
}

pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

fn opt_bool(n: Node, name: &str) -> Option<bool> {
    opt(n, name).and_then(|v| parse_bool(&v))
}

/// An address element's value: one of RFC2822Address / Number / ShortCode inside, or (the
/// REL-5-MM7-1-0/-1-1 SenderAddress) plain text, classified by its look.
fn address(n: Node) -> Option<Address> {
    for kind in [
        AddressKind::Rfc2822,
        AddressKind::Number,
        AddressKind::ShortCode,
    ] {
        if let Some(a) = child(n, kind.element()) {
            return Some(address_value(a, kind));
        }
    }
    let t = text(n);
    if t.is_empty() {
        return None;
    }
    let kind = if t.contains('@') {
        AddressKind::Rfc2822
    } else {
        AddressKind::Number
    };
    Some(Address {
        kind,
        value: t,
        display_only: false,
    })
}

fn address_value(a: Node, kind: AddressKind) -> Address {
    Address {
        kind,
        value: text(a),
        display_only: attr(a, "displayOnly").and_then(|v| parse_bool(&v)) == Some(true),
    }
}

/// An attribute by local name, whatever its prefix (`href`, `mm7:href`).
fn attr(n: Node, name: &str) -> Option<String> {
    n.attributes()
        .find(|a| a.name().eq_ignore_ascii_case(name))
        .map(|a| a.value().trim().to_string())
}

fn recipients(n: Node) -> Vec<Recipient> {
    let mut out = Vec::new();
    let Some(r) = child(n, "Recipients") else {
        return out;
    };
    for group in r.children().filter(|c| c.is_element()) {
        let kind = match group.tag_name().name().to_ascii_lowercase().as_str() {
            "to" => RecipientKind::To,
            "cc" => RecipientKind::Cc,
            "bcc" => RecipientKind::Bcc,
            _ => continue,
        };
        for a in group.children().filter(|c| c.is_element()) {
            let name = a.tag_name().name();
            let akind = [
                AddressKind::Rfc2822,
                AddressKind::Number,
                AddressKind::ShortCode,
            ]
            .into_iter()
            .find(|k| k.element().eq_ignore_ascii_case(name));
            if let Some(k) = akind {
                out.push(Recipient {
                    kind,
                    address: address_value(a, k),
                });
            }
        }
    }
    out
}

fn content(n: Node) -> Option<ContentRef> {
    let c = child(n, "Content")?;
    Some(ContentRef {
        href: attr(c, "href").unwrap_or_default(),
        allow_adaptations: attr(c, "allowAdaptations").and_then(|v| parse_bool(&v)),
    })
}

fn sender_identification(n: Node) -> SenderIdentification {
    let Some(s) = child(n, "SenderIdentification") else {
        return SenderIdentification::default();
    };
    SenderIdentification {
        vaspid: opt(s, "VASPID"),
        vasid: opt(s, "VASID"),
        sender_address: child(s, "SenderAddress").and_then(address),
    }
}

fn status(n: Node) -> Result<Status, ReadError> {
    let s = child(n, "Status")
        .ok_or_else(|| ReadError::validation(format!("{} has no Status", n.tag_name().name())))?;
    let code_text = req(s, "StatusCode")?;
    let code = code_text
        .parse::<u32>()
        .map_err(|_| ReadError::validation(format!("StatusCode {code_text:?} is not a number")))?;
    Ok(Status {
        code: StatusCode(code),
        text: opt(s, "StatusText").unwrap_or_default(),
        details: opt(s, "Details").filter(|d| !d.is_empty()),
    })
}

fn required_address(n: Node, name: &str) -> Result<Address, ReadError> {
    child(n, name)
        .and_then(address)
        .ok_or_else(|| ReadError::validation(format!("{} has no {name}", n.tag_name().name())))
}

fn read_body(op: Node) -> Result<Body, ReadError> {
    let name = op.tag_name().name();
    let body = match name.to_ascii_lowercase().as_str() {
        "submitreq" => Body::SubmitReq(SubmitReq {
            sender: sender_identification(op),
            recipients: recipients(op),
            service_code: opt(op, "ServiceCode"),
            linked_id: opt(op, "LinkedID"),
            message_class: opt(op, "MessageClass"),
            timestamp: opt(op, "TimeStamp"),
            reply_charging: child(op, "ReplyCharging").map(|rc| ReplyCharging {
                size: attr(rc, "replyChargingSize").and_then(|s| s.parse().ok()),
                deadline: attr(rc, "replyDeadline"),
            }),
            earliest_delivery_time: opt(op, "EarliestDeliveryTime"),
            expiry_date: opt(op, "ExpiryDate"),
            delivery_report: opt_bool(op, "DeliveryReport"),
            read_reply: opt_bool(op, "ReadReply"),
            priority: opt(op, "Priority"),
            subject: opt(op, "Subject"),
            charged_party: opt(op, "ChargedParty"),
            distribution_indicator: opt_bool(op, "DistributionIndicator")
                .or_else(|| opt_bool(op, "DistributionProtection")),
            content: content(op),
            extension_xml: None,
        }),
        "submitrsp" => Body::SubmitRsp(SubmitRsp {
            status: status(op)?,
            message_id: opt(op, "MessageID").filter(|m| !m.is_empty()),
        }),
        "deliverreq" => Body::DeliverReq(DeliverReq {
            relay_server_id: opt(op, "MMSRelayServerID"),
            linked_id: opt(op, "LinkedID"),
            sender: child(op, "Sender").and_then(address),
            recipients: recipients(op),
            timestamp: opt(op, "TimeStamp"),
            reply_charging_id: opt(op, "ReplyChargingID"),
            priority: opt(op, "Priority"),
            subject: opt(op, "Subject"),
            content: content(op),
        }),
        "deliverrsp" => Body::DeliverRsp(DeliverRsp {
            status: status(op)?,
            service_code: opt(op, "ServiceCode"),
        }),
        "cancelreq" => Body::CancelReq(CancelReq {
            sender: sender_identification(op),
            message_id: req(op, "MessageID")?,
        }),
        "cancelrsp" => Body::CancelRsp(status(op)?),
        "replacereq" => Body::ReplaceReq(ReplaceReq {
            sender: sender_identification(op),
            message_id: req(op, "MessageID")?,
            service_code: opt(op, "ServiceCode"),
            timestamp: opt(op, "TimeStamp"),
            read_reply: opt_bool(op, "ReadReply"),
            earliest_delivery_time: opt(op, "EarliestDeliveryTime"),
            distribution_indicator: opt_bool(op, "DistributionIndicator")
                .or_else(|| opt_bool(op, "DistributionProtection")),
            content: content(op),
        }),
        "replacersp" => Body::ReplaceRsp(status(op)?),
        "deliveryreportreq" => Body::DeliveryReportReq(DeliveryReportReq {
            relay_server_id: opt(op, "MMSRelayServerID"),
            message_id: req(op, "MessageID")?,
            recipient: required_address(op, "Recipient")?,
            sender: required_address(op, "Sender")?,
            // The element is Date or TimeStamp depending on the version; accept either.
            date: opt(op, "Date")
                .or_else(|| opt(op, "TimeStamp"))
                .unwrap_or_default(),
            status: crate::model::MmStatus::parse(&req(op, "MMStatus")?),
            status_extension: opt(op, "MMStatusExtension"),
            status_text: opt(op, "StatusText"),
        }),
        "deliveryreportrsp" => Body::DeliveryReportRsp(status(op)?),
        "readreplyreq" => Body::ReadReplyReq(ReadReplyReq {
            relay_server_id: opt(op, "MMSRelayServerID"),
            message_id: req(op, "MessageID")?,
            recipient: required_address(op, "Recipient")?,
            sender: required_address(op, "Sender")?,
            timestamp: opt(op, "TimeStamp")
                .or_else(|| opt(op, "Date"))
                .unwrap_or_default(),
            status: req(op, "MMStatus")?,
            status_text: opt(op, "StatusText"),
        }),
        "readreplyrsp" => Body::ReadReplyRsp(status(op)?),
        "rserrorrsp" => Body::ErrorRsp(ErrorRsp {
            side: Side::Relay,
            status: status(op)?,
        }),
        "vasperrorrsp" => Body::ErrorRsp(ErrorRsp {
            side: Side::Vasp,
            status: status(op)?,
        }),
        "fault" => Body::Fault(fault(op)?),
        _ => return Err(ReadError::unsupported(name)),
    };
    Ok(body)
}

fn fault(op: Node) -> Result<Fault, ReadError> {
    let detail = match child(op, "detail") {
        Some(d) => {
            let inner = d
                .children()
                .find(|c| is(*c, "RSErrorRsp") || is(*c, "VASPErrorRsp"));
            match inner {
                Some(e) => Some(ErrorRsp {
                    side: if is(e, "RSErrorRsp") {
                        Side::Relay
                    } else {
                        Side::Vasp
                    },
                    status: status(e)?,
                }),
                None => None,
            }
        }
        None => None,
    };
    Ok(Fault {
        // `env:Client`, `soap-env:Client`, `Client`: only the local part means anything.
        code: opt(op, "faultcode")
            .map(|c| c.rsplit(':').next().unwrap_or("").to_string())
            .unwrap_or_default(),
        string: opt(op, "faultstring").unwrap_or_default(),
        detail,
    })
}
