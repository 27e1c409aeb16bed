//! SOAP with attachments: the `multipart/related` HTTP body that carries an MM7 envelope and
//! its multimedia content, in both directions.
//!
//! Reading buffers the body and lets mail-parser (the MIME parser the rest of Impulse uses)
//! split it, after prepending the HTTP Content-Type as a MIME header; then finds the SOAP root
//! (`start`, else the first XML part, else the first part) and the content the envelope's
//! `href` names, with the fallbacks of docs/reference/mm7-interop.md §4: Content-IDs with or
//! without angle brackets, `cid:` missing or followed by a space, href naming a
//! Content-Location, and finally the first part that is not the envelope.
//!
//! Writing is our own small writer (no crate writes multipart/related with SwA's `type` and
//! `start` parameters): base64 for binary media, 8bit for text, boundaries that cannot occur
//! in base64 and are checked against the text parts.

use base64::Engine;
use mail_parser::{Message, MessageParser, MessagePart, MimeHeaders, PartType};

use crate::error::ReadError;

/// One leaf MIME part, decoded (transfer encoding undone; text parts in UTF-8).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MimePart {
    /// `type/subtype`, lower case.
    pub content_type: String,
    /// Text parts: the charset of `data` (always utf-8 after reading).
    pub charset: Option<String>,
    /// File name (Content-Type `name` or Content-Disposition `filename`).
    pub name: Option<String>,
    /// Without angle brackets.
    pub content_id: Option<String>,
    pub content_location: Option<String>,
    pub data: Vec<u8>,
}

impl MimePart {
    pub fn is_text(&self) -> bool {
        self.content_type.starts_with("text/")
    }
    pub fn is_smil(&self) -> bool {
        self.content_type == "application/smil" || self.content_type == "application/smil+xml"
    }
}

/// A top-level attachment of the SOAP message: one MIME entity and its leaf parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub content_type: String,
    pub content_id: Option<String>,
    pub content_location: Option<String>,
    /// The leaves (the entity itself when it is not a multipart), in document order.
    pub parts: Vec<MimePart>,
}

/// An MM7 HTTP body taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoapMessage {
    pub envelope: Vec<u8>,
    pub attachments: Vec<Attachment>,
}

impl SoapMessage {
    /// The attachment an envelope's `Content href` names, with the fallbacks of the module
    /// comment; `None` when there is no attachment at all.
    pub fn content(&self, href: Option<&str>) -> Option<&Attachment> {
        if let Some(href) = href {
            let raw = href.trim();
            let cid = strip_cid(raw);
            let found = self.attachments.iter().find(|a| {
                a.content_id
                    .as_deref()
                    .is_some_and(|id| id == cid || id == raw)
                    || a.content_location.as_deref() == Some(raw)
                    || a.content_location.as_deref() == Some(cid)
            });
            if found.is_some() {
                return found;
            }
        }
        self.attachments.first()
    }
}

/// `cid:x`, `cid: x`, `<x>`, `x` → `x`.
fn strip_cid(href: &str) -> &str {
    let h = href.trim();
    let h = if h.len() >= 4 && h[..4].eq_ignore_ascii_case("cid:") {
        h[4..].trim_start()
    } else {
        h
    };
    bare_id(h)
}

/// A Content-ID or `start` value without its angle brackets.
pub fn bare_id(id: &str) -> &str {
    let id = id.trim();
    id.strip_prefix('<')
        .and_then(|i| i.strip_suffix('>'))
        .unwrap_or(id)
        .trim()
}

/// Takes an HTTP body apart. A non-multipart body (text/xml, application/xml, no type) is the
/// envelope itself; so is a "multipart" body that is bare XML without a boundary.
pub fn read_body(content_type: Option<&str>, body: &[u8]) -> Result<SoapMessage, ReadError> {
    let ct = content_type.unwrap_or("").trim();
    let lower = ct.to_ascii_lowercase();
    let starts_like_xml = body
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'<' || *b == 0xEF);
    // Some MMSC test suites send a multipart body as `text/xml; boundary=…`: the boundary
    // parameter, and a body that is not XML, say what it is whatever the media type says.
    let has_boundary = lower.contains("boundary");
    let is_multipart = lower.starts_with("multipart/") || (has_boundary && !starts_like_xml);
    if !is_multipart || (starts_like_xml && !has_boundary) {
        return Ok(SoapMessage {
            envelope: body.to_vec(),
            attachments: Vec::new(),
        });
    }
    let mut buf = Vec::with_capacity(body.len() + ct.len() + 40);
    buf.extend_from_slice(b"MIME-Version: 1.0\r\nContent-Type: ");
    let ct = if lower.starts_with("multipart/") {
        ct.to_string()
    } else {
        // Keep the parameters (boundary, start, type), give the media type that matches them.
        format!("multipart/related{}", ct.find(';').map_or("", |i| &ct[i..]))
    };
    buf.extend_from_slice(ct.replace(['\r', '\n'], " ").as_bytes());
    buf.extend_from_slice(b"\r\n\r\n");
    buf.extend_from_slice(body);
    let msg = MessageParser::default()
        .parse(&buf)
        .ok_or_else(|| ReadError::corrupt("the multipart body cannot be parsed"))?;
    let root = msg.root_part();
    let start = root
        .content_type()
        .and_then(|t| t.attribute("start"))
        .map(|s| bare_id(s).to_string());
    let top: Vec<&MessagePart> = root
        .sub_parts()
        .unwrap_or(&[])
        .iter()
        .filter_map(|id| msg.parts.get(*id as usize))
        .collect();
    if top.is_empty() {
        return Err(ReadError::corrupt(
            "the multipart body has no parts (wrong boundary?)",
        ));
    }
    let by_start = start
        .as_deref()
        .and_then(|s| top.iter().position(|p| part_id(p).as_deref() == Some(s)));
    let by_type = || {
        top.iter().position(|p| {
            let t = type_of(p);
            t.ends_with("/xml") || t == "application/soap+xml"
        })
    };
    let root_index = by_start.or_else(by_type).unwrap_or(0);
    let envelope = top[root_index].contents().to_vec();
    let attachments = top
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != root_index)
        .map(|(_, p)| {
            let mut parts = Vec::new();
            leaves(&msg, p, &mut parts, 0);
            Attachment {
                content_type: type_of(p),
                content_id: part_id(p),
                content_location: p.content_location().map(|l| l.trim().to_string()),
                parts,
            }
        })
        .collect();
    Ok(SoapMessage {
        envelope,
        attachments,
    })
}

fn part_id(p: &MessagePart) -> Option<String> {
    p.content_id().map(|id| bare_id(id).to_string())
}

/// A part's `type/subtype`, lower case; text/plain when it has no Content-Type (RFC 2045).
pub fn type_of(p: &MessagePart) -> String {
    match p.content_type() {
        Some(t) => match t.subtype() {
            Some(sub) => format!("{}/{}", t.ctype(), sub).to_ascii_lowercase(),
            None => t.ctype().to_ascii_lowercase(),
        },
        None => "text/plain".into(),
    }
}

/// Nesting deeper than this is refused silently (its parts are skipped): real MMS use two.
const MAX_DEPTH: usize = 8;

fn leaves(msg: &Message, p: &MessagePart, out: &mut Vec<MimePart>, depth: usize) {
    if let Some(children) = p.sub_parts() {
        if depth < MAX_DEPTH {
            for id in children {
                if let Some(c) = msg.parts.get(*id as usize) {
                    leaves(msg, c, out, depth + 1);
                }
            }
        }
        return;
    }
    let text = matches!(p.body, PartType::Text(_) | PartType::Html(_));
    out.push(MimePart {
        content_type: type_of(p),
        charset: text.then(|| "utf-8".to_string()),
        name: p.attachment_name().map(str::to_string),
        content_id: part_id(p),
        content_location: p.content_location().map(|l| l.trim().to_string()),
        data: p.contents().to_vec(),
    });
}

/// The multimedia content of an outgoing request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutContent {
    /// One part sent as the attachment itself (`MM7_SOAP_Attachment_Simple_MIME` with a
    /// text-only message).
    Single(MimePart),
    /// `multipart/related` with a SMIL start part (when `smil` names a part's Content-ID), or
    /// `multipart/mixed`.
    Multi {
        smil: Option<String>,
        parts: Vec<MimePart>,
    },
}

/// The Content-ID the envelope's `href` must name for [`write_body`]'s content.
pub const CONTENT_ID: &str = "mms-content@impulse";
const ENVELOPE_ID: &str = "mm7-envelope@impulse";

/// Builds the HTTP body: bare `text/xml` without content; otherwise `multipart/related`
/// (`type="text/xml"`, `start` = the envelope) holding the envelope and the content under
/// [`CONTENT_ID`]. Returns the HTTP Content-Type and the body.
pub fn write_body(envelope: &str, content: Option<&OutContent>, seed: u64) -> (String, Vec<u8>) {
    let Some(content) = content else {
        return (
            "text/xml; charset=\"utf-8\"".into(),
            envelope.as_bytes().to_vec(),
        );
    };
    let outer = boundary(seed, 1, content);
    let mut out = Vec::with_capacity(envelope.len() + 1024);
    push(
        &mut out,
        &format!(
            "--{outer}\r\nContent-Type: text/xml; charset=\"utf-8\"\r\nContent-ID: <{ENVELOPE_ID}>\r\n\r\n"
        ),
    );
    out.extend_from_slice(envelope.as_bytes());
    push(&mut out, &format!("\r\n--{outer}\r\n"));
    match content {
        OutContent::Single(p) => write_part(&mut out, p, Some(CONTENT_ID)),
        OutContent::Multi { smil, parts } => {
            let inner = boundary(seed, 2, content);
            let ctype = match smil {
                Some(s) => format!(
                    "multipart/related; boundary=\"{inner}\"; type=\"application/smil\"; start=\"<{s}>\""
                ),
                None => format!("multipart/mixed; boundary=\"{inner}\""),
            };
            push(
                &mut out,
                &format!("Content-Type: {ctype}\r\nContent-ID: <{CONTENT_ID}>\r\n\r\n"),
            );
            for p in parts {
                push(&mut out, &format!("--{inner}\r\n"));
                write_part(&mut out, p, None);
                push(&mut out, "\r\n");
            }
            push(&mut out, &format!("--{inner}--\r\n"));
        }
    }
    push(&mut out, &format!("\r\n--{outer}--\r\n"));
    let ctype = format!(
        "multipart/related; boundary=\"{outer}\"; type=\"text/xml\"; start=\"<{ENVELOPE_ID}>\""
    );
    (ctype, out)
}

fn push(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
}

/// `=_` never occurs in base64; the text parts are checked.
fn boundary(seed: u64, level: u8, content: &OutContent) -> String {
    let texts: Vec<&MimePart> = match content {
        OutContent::Single(p) => vec![p],
        OutContent::Multi { parts, .. } => parts.iter().collect(),
    };
    let texts: Vec<&MimePart> = texts.into_iter().filter(|p| sent_as_text(p)).collect();
    let mut n = seed;
    loop {
        let b = format!("=_impulse_{level}_{n:016x}");
        let clash = texts
            .iter()
            .any(|p| memchr::memmem::find(&p.data, b.as_bytes()).is_some());
        if !clash {
            return b;
        }
        n = n
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
    }
}

/// Text (and SMIL) that is valid UTF-8 with no NUL goes as 8bit (MM7 runs over HTTP, which is
/// 8-bit clean); everything else as base64.
fn sent_as_text(p: &MimePart) -> bool {
    (p.is_text() || p.is_smil() || p.content_type.ends_with("/xml"))
        && std::str::from_utf8(&p.data).is_ok()
        && !p.data.contains(&0)
}

fn header_value(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() || c == '"' { '_' } else { c })
        .collect()
}

fn write_part(out: &mut Vec<u8>, p: &MimePart, content_id: Option<&str>) {
    let mut ctype = p.content_type.clone();
    if let Some(cs) = &p.charset {
        ctype.push_str(&format!("; charset=\"{}\"", header_value(cs)));
    }
    if let Some(n) = &p.name {
        ctype.push_str(&format!("; name=\"{}\"", header_value(n)));
    }
    push(out, &format!("Content-Type: {ctype}\r\n"));
    if let Some(id) = content_id.or(p.content_id.as_deref()) {
        push(out, &format!("Content-ID: <{}>\r\n", header_value(id)));
    }
    if let Some(l) = &p.content_location {
        push(out, &format!("Content-Location: {}\r\n", header_value(l)));
    }
    if sent_as_text(p) {
        push(out, "Content-Transfer-Encoding: 8bit\r\n\r\n");
        out.extend_from_slice(&p.data);
    } else {
        push(out, "Content-Transfer-Encoding: base64\r\n\r\n");
        let b64 = base64::engine::general_purpose::STANDARD.encode(&p.data);
        for line in b64.as_bytes().chunks(76) {
            out.extend_from_slice(line);
            push(out, "\r\n");
        }
    }
}
