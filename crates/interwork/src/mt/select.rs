//! Which mail text becomes the SMS (docs/reference/momentum.md §1.3 step 3, and real mail's needs):
//!
//! - every inline text part in order (text, an image, more text: both texts), attachments
//!   never; HTML rendered as text when it is the only body, or when the text/plain
//!   alternative is blank;
//! - each part decoded by the charset that reads it cleanly: UTF-8 when its bytes are UTF-8
//!   with non-ASCII in them, else the declared charset when it decodes without replacement
//!   characters, else Windows-1252 (mislabelled and unlabelled 8-bit mail is common);
//! - an unlabelled 8-bit Subject read the same way (the body's charset as the second guess);
//! - format=flowed text unwrapped (RFC 3676);
//! - of a duplicated Content-Type or Content-Transfer-Encoding in the top header section, the
//!   first wins, as mail clients show it.
//!
//! Rules and their reasons: docs/sms-text.md.

use std::borrow::Cow;

use mail_parser::decoders::{
    base64::base64_decode, charsets::map::charset_decoder, html::html_to_text,
    quoted_printable::quoted_printable_decode,
};
use mail_parser::{Encoding, HeaderName, Message, MessageParser, MimeHeaders, PartType};

use super::MtError;

/// The parts of a mail an SMS is made of.
pub struct EmailText {
    pub from: String,
    pub subject: String,
    pub body: String,
    /// Where a charset other than the declared one was used, and why (logged at debug level
    /// and shown by `impulse convert`).
    pub charset_notes: Vec<String>,
}

/// The text of an email for an SMS: its From address (else the envelope sender), its subject
/// and its body text.
pub fn select_text(raw: &[u8], envelope_sender: &str) -> Result<EmailText, MtError> {
    let raw = first_structural_headers(skip_space_lines(raw));
    let msg = MessageParser::default()
        .parse(raw.as_ref())
        .ok_or(MtError::Unparsable)?;
    let from = msg
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .map(str::to_string);
    let body_charset = msg
        .text_part(0)
        .and_then(|p| p.content_type())
        .and_then(|c| c.attribute("charset"))
        .map(str::to_string);
    let mut charset_notes = Vec::new();
    let subject = subject(&msg, body_charset.as_deref(), &mut charset_notes);
    let body = tree_text(&msg, 0, 0, &mut charset_notes);
    Ok(EmailText {
        from: from.unwrap_or_else(|| envelope_sender.to_string()),
        subject,
        body,
        charset_notes,
    })
}

/// The body, read from the MIME tree: of a multipart/alternative, its first text/plain
/// alternative that is not blank, else the first other one that gives text (HTML, a nested
/// multipart); of any other multipart, every inline child's text in order; attachments and
/// non-text parts never.
fn tree_text(msg: &Message<'_>, id: u32, depth: usize, notes: &mut Vec<String>) -> String {
    let Some(part) = msg.part(id) else {
        return String::new();
    };
    let attachment = part
        .content_disposition()
        .is_some_and(|d| d.ctype().eq_ignore_ascii_case("attachment"));
    let subtype = part
        .content_type()
        .and_then(|c| c.subtype())
        .map(str::to_ascii_lowercase);
    match &part.body {
        PartType::Multipart(children) if depth < 32 => {
            let texts: Vec<(u32, String)> = children
                .iter()
                .map(|&c| (c, tree_text(msg, c, depth + 1, notes)))
                .collect();
            let texts = texts.into_iter();
            if subtype.as_deref() == Some("alternative") {
                let all: Vec<(u32, String)> = texts.filter(|(_, t)| !t.trim().is_empty()).collect();
                let plain = all.iter().find(|(c, _)| {
                    msg.part(*c)
                        .is_some_and(|p| matches!(p.body, PartType::Text(_)))
                });
                plain
                    .or(all.first())
                    .map(|(_, t)| t.clone())
                    .unwrap_or_default()
            } else {
                let all: Vec<String> = texts
                    .map(|(_, t)| t.trim_end().to_string())
                    .filter(|t| !t.trim().is_empty())
                    .collect();
                all.join("\n\n")
            }
        }
        PartType::Text(_) if !attachment && subtype.as_deref().is_none_or(|s| s == "plain") => {
            part_text(msg, part, notes).unwrap_or_default()
        }
        PartType::Html(_) if !attachment => part_text(msg, part, notes).unwrap_or_default(),
        _ => String::new(),
    }
}

/// One text or HTML part as plain text, or `None` for other parts (inline images).
fn part_text(
    msg: &Message<'_>,
    part: &mail_parser::MessagePart<'_>,
    notes: &mut Vec<String>,
) -> Option<String> {
    let html = match &part.body {
        PartType::Text(_) => false,
        PartType::Html(_) => true,
        _ => return None,
    };
    let ctype = part.content_type();
    let declared = ctype.and_then(|c| c.attribute("charset"));
    let raw = msg
        .raw_message()
        .get(part.offset_body as usize..part.offset_end as usize);
    let bytes = raw.and_then(|r| match part.encoding {
        Encoding::None => Some(Cow::Borrowed(r)),
        Encoding::QuotedPrintable => quoted_printable_decode(r).map(Cow::Owned),
        Encoding::Base64 => base64_decode(r).map(Cow::Owned),
    });
    // What mail-parser decoded is the fallback when the part cannot be read again here.
    let text = match bytes {
        Some(b) => {
            let (text, used) = decode(&b, declared, None);
            let same = |d: &str| {
                let norm = |c: &str| c.replace(['-', '_'], "").to_ascii_lowercase();
                norm(d) == norm(used)
            };
            if !b.is_ascii() && declared.is_none_or(|d| !same(d)) {
                notes.push(format!(
                    "{} part labelled {}: read as {used}",
                    if html { "HTML" } else { "text" },
                    declared.unwrap_or("with no charset")
                ));
            }
            text
        }
        None => match &part.body {
            PartType::Text(t) | PartType::Html(t) => t.to_string(),
            _ => return None,
        },
    };
    if html {
        return Some(html_to_text(&text));
    }
    let flowed = ctype
        .and_then(|c| c.attribute("format"))
        .is_some_and(|f| f.eq_ignore_ascii_case("flowed"));
    if flowed {
        let delsp = ctype
            .and_then(|c| c.attribute("delsp"))
            .is_some_and(|d| d.eq_ignore_ascii_case("yes"));
        return Some(unflow(&text, delsp));
    }
    Some(text)
}

/// Bytes as text by the first charset that reads them cleanly: UTF-8 (when there is non-ASCII
/// in them), the declared charset, a second guess, Windows-1252; and the charset used.
pub fn decode<'c>(
    bytes: &[u8],
    declared: Option<&'c str>,
    second: Option<&'c str>,
) -> (String, &'c str) {
    if !bytes.is_ascii()
        && let Ok(s) = std::str::from_utf8(bytes)
    {
        // Short text in a multi-byte CJK charset can be valid UTF-8 by chance (gb2312 `谢谢`
        // reads as `лл`): when it holds only two-byte UTF-8 characters and the declared
        // multi-byte charset reads it cleanly, the label wins.
        let two_byte_only = s.chars().all(|c| (c as u32) < 0x800);
        if two_byte_only
            && let Some(d) = declared.filter(|d| is_cjk_multibyte(d))
            && let Some(dec) = charset_decoder(d.as_bytes())
        {
            let t = dec(bytes);
            if !t.contains('\u{FFFD}') {
                return (t, d);
            }
        }
        return (s.to_string(), "utf-8");
    }
    for charset in [declared, second].into_iter().flatten() {
        if charset.eq_ignore_ascii_case("utf-8") || charset.eq_ignore_ascii_case("utf8") {
            continue; // not UTF-8, as seen above
        }
        if let Some(dec) = charset_decoder(charset.as_bytes()) {
            let s = dec(bytes);
            if !s.contains('\u{FFFD}') {
                return (s, charset);
            }
        }
    }
    if bytes.is_ascii() {
        return (String::from_utf8_lossy(bytes).into_owned(), "us-ascii");
    }
    let text = charset_decoder(b"windows-1252").map_or_else(
        || String::from_utf8_lossy(bytes).into_owned(),
        |dec| dec(bytes),
    );
    (text, "windows-1252")
}

fn is_cjk_multibyte(charset: &str) -> bool {
    let c = charset.to_ascii_lowercase();
    [
        "gb2312",
        "gbk",
        "gb18030",
        "big5",
        "euc-",
        "shift_jis",
        "sjis",
        "ks_c_5601",
        "cp949",
        "cp936",
        "windows-31j",
    ]
    .iter()
    .any(|p| c.starts_with(p))
}

/// The Subject: as mail-parser decodes it, unless its raw value has 8-bit bytes, which no
/// header may have unlabelled (RFC 5322): then read by [`decode`] with the body's charset as
/// the guess, and any encoded words in it decoded after.
fn subject(msg: &Message<'_>, body_charset: Option<&str>, notes: &mut Vec<String>) -> String {
    let parsed = msg.subject().unwrap_or("").to_string();
    let raw = msg
        .root_part()
        .headers
        .iter()
        .find(|h| h.name == HeaderName::Subject)
        .and_then(|h| {
            msg.raw_message()
                .get(h.offset_start as usize..h.offset_end as usize)
        });
    let Some(raw) = raw.filter(|r| !r.is_ascii()) else {
        return parsed;
    };
    let (text, used) = decode(raw, None, body_charset);
    notes.push(format!(
        "Subject with unlabelled 8-bit bytes: read as {used}"
    ));
    let unfolded: String = text
        .split(['\r', '\n'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if unfolded.contains("=?") {
        let again = format!("Subject: {unfolded}\r\n\r\n");
        if let Some(s) = MessageParser::default()
            .parse(again.as_bytes())
            .and_then(|m| m.subject().map(str::to_string))
        {
            return s;
        }
    }
    unfolded
}

/// The raw mail with every Content-Type, Content-Transfer-Encoding and MIME-Version field of
/// the top header section after the first removed (mail-parser keeps the last one).
fn first_structural_headers(raw: &[u8]) -> Cow<'_, [u8]> {
    const STRUCTURAL: [&[u8]; 3] = [
        b"content-type",
        b"content-transfer-encoding",
        b"mime-version",
    ];
    let end = find_header_end(raw);
    // Each field: its start and end (continuation lines included) and its name.
    let mut fields: Vec<(usize, usize, Vec<u8>)> = Vec::new();
    let mut at = 0;
    while at < end {
        let line_end = raw[at..end]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(end, |p| at + p + 1);
        let line = &raw[at..line_end];
        if matches!(line.first(), Some(b' ' | b'\t')) {
            if let Some(last) = fields.last_mut() {
                last.1 = line_end;
            }
        } else {
            let name = line
                .iter()
                .position(|&b| b == b':')
                .map(|c| line[..c].trim_ascii().to_ascii_lowercase())
                .unwrap_or_default();
            fields.push((at, line_end, name));
        }
        at = line_end;
    }
    let mut seen: Vec<&[u8]> = Vec::new();
    let mut drop: Vec<(usize, usize)> = Vec::new();
    for (start, stop, name) in &fields {
        if let Some(s) = STRUCTURAL.iter().find(|s| **s == name.as_slice()) {
            if seen.contains(s) {
                drop.push((*start, *stop));
            } else {
                seen.push(s);
            }
        }
    }
    if drop.is_empty() {
        return Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut from = 0;
    for (start, stop) in drop {
        out.extend_from_slice(&raw[from..start]);
        from = stop;
    }
    out.extend_from_slice(&raw[from..]);
    Cow::Owned(out)
}

/// The mail without lines of only spaces or tabs before its first header: some software
/// writes them, and a parser would take the whole mail for a body.
fn skip_space_lines(raw: &[u8]) -> &[u8] {
    let mut at = 0;
    while let Some(nl) = raw[at..].iter().position(|&b| b == b'\n') {
        let line = &raw[at..at + nl];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() || !line.iter().all(|&b| b == b' ' || b == b'\t') {
            break;
        }
        at += nl + 1;
    }
    &raw[at..]
}

/// Where the top header section ends (the offset of its blank line), or the end.
fn find_header_end(raw: &[u8]) -> usize {
    let mut at = 0;
    while at < raw.len() {
        let rest = &raw[at..];
        if rest.starts_with(b"\r\n") || rest.starts_with(b"\n") {
            return at;
        }
        match rest.iter().position(|&b| b == b'\n') {
            Some(p) => at += p + 1,
            None => return raw.len(),
        }
    }
    raw.len()
}

/// RFC 3676 format=flowed: a line that ends in a space continues on the next line of the same
/// quote depth (the space removed too with `delsp=yes`); a space-stuffed line loses its
/// stuffing; the signature separator `-- ` is never flowed.
pub fn unflow(text: &str, delsp: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending: Option<(usize, String)> = None;
    let flush = |out: &mut String, depth: usize, line: &str| {
        out.push_str(&">".repeat(depth));
        if depth > 0 {
            out.push(' ');
        }
        out.push_str(line);
        out.push('\n');
    };
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let depth = line.bytes().take_while(|&b| b == b'>').count();
        let content = &line[depth..];
        let content = content.strip_prefix(' ').unwrap_or(content);
        let flowed = content.ends_with(' ') && content != "-- ";
        let mut buf = match pending.take() {
            Some((d, buf)) if d == depth && content != "-- " => buf,
            Some((d, buf)) => {
                flush(&mut out, d, &buf);
                String::new()
            }
            None => String::new(),
        };
        if flowed {
            buf.push_str(if delsp {
                &content[..content.len() - 1]
            } else {
                content
            });
            pending = Some((depth, buf));
        } else {
            buf.push_str(content);
            flush(&mut out, depth, &buf);
        }
    }
    if let Some((d, buf)) = pending {
        flush(&mut out, d, &buf);
    }
    out.truncate(out.trim_end_matches('\n').len());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_of(raw: &[u8]) -> String {
        select_text(raw, "s@x").unwrap().body
    }

    #[test]
    fn a_blank_text_alternative_falls_back_to_the_html() {
        let raw = b"From: a@b\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n\
            --b\r\nContent-Type: text/plain\r\n\r\n \r\n\r\n--b\r\nContent-Type: text/html\r\n\r\n\
            <p>Meet at <b>noon</b></p>\r\n--b--\r\n";
        assert_eq!(body_of(raw).trim(), "Meet at noon");
    }

    #[test]
    fn inline_texts_around_an_image_are_joined_and_attachments_left_out() {
        let raw = b"From: a@b\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
            --b\r\nContent-Type: text/plain\r\n\r\nfirst\r\n\
            --b\r\nContent-Type: image/jpeg\r\nContent-Disposition: inline\r\nContent-Transfer-Encoding: base64\r\n\r\n/9j/4AAQ\r\n\
            --b\r\nContent-Type: text/plain\r\n\r\nsecond\r\n\
            --b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=x.txt\r\n\r\nsecret\r\n--b--\r\n";
        assert_eq!(body_of(raw), "first\n\nsecond");
    }

    #[test]
    fn the_first_of_two_content_types_wins() {
        let raw = b"From: a@b\r\nContent-Type: text/plain; charset=utf-8\r\n\
            Content-Type: multipart/mixed; boundary=zz\r\n\r\nhello there\r\n";
        assert_eq!(body_of(raw).trim(), "hello there");
    }

    #[test]
    fn charsets_that_lie_and_unlabelled_8bit_subjects() {
        // Labelled gb2312, written in UTF-8.
        let raw = "From: a@b\r\nContent-Type: text/plain; charset=gb2312\r\n\r\nGrüße, 你好\r\n";
        let t = select_text(raw.as_bytes(), "s@x").unwrap();
        assert_eq!(t.body.trim(), "Grüße, 你好");
        // Short gb2312 that happens to be valid UTF-8 (as two Cyrillic letters) keeps its label.
        let mut raw = b"From: a@b\r\nContent-Type: text/plain; charset=gb2312\r\n\r\n".to_vec();
        raw.extend_from_slice(&[0xD0, 0xBB, 0xD0, 0xBB, b'\r', b'\n']);
        assert_eq!(body_of(&raw).trim(), "谢谢");
        assert_eq!(
            t.charset_notes,
            ["text part labelled gb2312: read as utf-8"]
        );
        // A Latin-1 Subject with no charset at all, and a real gb2312 body.
        let mut raw = b"From: a@b\r\nSubject: caf\xe9 cr\xe8me\r\nContent-Type: text/plain; charset=gb2312\r\n\r\n".to_vec();
        raw.extend_from_slice(&[0xC4, 0xE3, 0xBA, 0xC3, b'\r', b'\n']);
        let t = select_text(&raw, "s@x").unwrap();
        assert_eq!(t.subject, "café crème");
        assert_eq!(
            t.charset_notes,
            ["Subject with unlabelled 8-bit bytes: read as windows-1252"],
            "gb2312, the body's charset, does not read it cleanly"
        );
        assert_eq!(t.body.trim(), "你好");
        // Windows-1252 quotes under no label.
        let raw = b"From: a@b\r\nSubject: x\r\n\r\n\x93quoted\x94\r\n";
        assert_eq!(body_of(raw).trim(), "\u{201C}quoted\u{201D}");
    }

    #[test]
    fn format_flowed_is_unwrapped() {
        assert_eq!(
            unflow(
                "This is one \r\nparagraph.\r\n> quoted \r\n> too\r\n-- \r\nsig",
                false
            ),
            "This is one paragraph.\n> quoted too\n-- \nsig"
        );
        assert_eq!(unflow("abc \r\ndef", true), "abcdef");
        assert_eq!(
            unflow(" From me", false),
            "From me",
            "space-stuffing removed"
        );
    }
}
