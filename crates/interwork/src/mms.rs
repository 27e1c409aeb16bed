//! Email ⇄ MMS (docs/reference/momentum.md §1.5 step 3, §1.6 step 4). Pure: bytes in, values out.
//!
//! Email → MMS: the subject; the text (first text/plain part, else the text of the HTML); the
//! image, audio and video parts (other attachments cannot be shown by a handset and are left
//! out, and named in `dropped`); a SMIL presentation (one slide per medium, text on the slide
//! of the first medium, an explicit `dur` on every slide since some handsets cut media short
//! without one) unless the mail carries its own SMIL; a text-only message as a single
//! text/plain part when `simple_text` is set (`MM7_SOAP_Attachment_Simple_MIME`).
//!
//! MMS → email: the text parts become the body, media become attachments, SMIL is dropped
//! (it is presentation, not content).

use impulse_mm7::multipart::type_of;
use impulse_mm7::{MimePart, OutContent};
use mail_parser::{MessageParser, MimeHeaders, PartType};

/// What goes into a SubmitReq.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mms {
    pub subject: Option<String>,
    pub content: OutContent,
    /// Total bytes of the parts.
    pub size: usize,
    /// Attachments left out (`type name`), for the log.
    pub dropped: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MmsError {
    #[error("the message is not a readable email")]
    Unparsable,
    #[error("the message has no text, image, audio or video to send as MMS")]
    Empty,
    #[error("the MMS would be {size} bytes, more than the {limit} bytes allowed")]
    TooBig { size: usize, limit: usize },
}

impl MmsError {
    /// The permanent failure Impulse records and bounces with.
    pub fn response(&self) -> String {
        match self {
            MmsError::Unparsable => format!("554 5.6.0 {self}"),
            MmsError::Empty => format!("554 5.6.0 {self}"),
            MmsError::TooBig { .. } => format!("554 5.3.4 {self}"),
        }
    }
}

fn is_media(t: &str) -> bool {
    t.starts_with("image/") || t.starts_with("audio/") || t.starts_with("video/")
}

/// Converts an email to MMS content; `limit` is the largest size allowed (0: no limit).
pub fn from_email(raw: &[u8], simple_text: bool, limit: usize) -> Result<Mms, MmsError> {
    let msg = MessageParser::default()
        .parse(raw)
        .ok_or(MmsError::Unparsable)?;
    let subject = msg
        .subject()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let text = msg
        .body_text(0)
        .map(|t| t.trim_end().to_string())
        .filter(|t| !t.trim().is_empty());
    let mut media = Vec::new();
    let mut smil = None;
    let mut dropped = Vec::new();
    for (i, p) in msg.parts.iter().enumerate() {
        if i == 0 || matches!(p.body, PartType::Multipart(_) | PartType::Message(_)) {
            continue;
        }
        let t = type_of(p);
        if t == "application/smil" || t == "application/smil+xml" {
            smil = Some(p.contents().to_vec());
            continue;
        }
        let is_body_text =
            msg.text_body.contains(&(i as u32)) || msg.html_body.contains(&(i as u32));
        if is_body_text {
            continue;
        }
        if is_media(&t) {
            media.push((
                t,
                p.attachment_name().map(str::to_string),
                p.contents().to_vec(),
            ));
        } else if p.is_text()
            && !matches!(p.body, PartType::Html(_))
            && p.attachment_name().is_some()
        {
            // A text attachment is content a handset shows.
            media.push((
                "text/plain".into(),
                p.attachment_name().map(str::to_string),
                p.contents().to_vec(),
            ));
        } else {
            dropped.push(
                format!("{t} {}", p.attachment_name().unwrap_or(""))
                    .trim()
                    .to_string(),
            );
        }
    }
    if text.is_none() && media.is_empty() {
        return Err(MmsError::Empty);
    }
    let text_part = text.map(|t| MimePart {
        content_type: "text/plain".into(),
        charset: Some("utf-8".into()),
        name: Some("text.txt".into()),
        content_id: Some("text.txt".into()),
        content_location: Some("text.txt".into()),
        data: t.into_bytes(),
    });
    let mut parts: Vec<MimePart> = Vec::new();
    for (n, (t, name, data)) in media.into_iter().enumerate() {
        let ext = t.rsplit('/').next().unwrap_or("bin");
        let name = name
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| format!("part{}.{ext}", n + 1));
        let id = format!("part{}-{}", n + 1, sanitize(&name));
        parts.push(MimePart {
            content_type: t,
            charset: None,
            name: Some(name.clone()),
            content_id: Some(id),
            content_location: Some(name),
            data,
        });
    }
    let size = parts.iter().map(|p| p.data.len()).sum::<usize>()
        + text_part.as_ref().map_or(0, |t| t.data.len());
    if limit > 0 && size > limit {
        return Err(MmsError::TooBig { size, limit });
    }
    let content = if parts.is_empty() && simple_text && smil.is_none() {
        OutContent::Single(text_part.expect("text or media is present"))
    } else {
        let smil_data =
            smil.unwrap_or_else(|| generate_smil(text_part.as_ref(), &parts).into_bytes());
        let mut all = vec![MimePart {
            content_type: "application/smil".into(),
            charset: Some("utf-8".into()),
            name: Some("presentation.smil".into()),
            content_id: Some(SMIL_ID.into()),
            content_location: Some("presentation.smil".into()),
            data: smil_data,
        }];
        all.extend(text_part);
        all.extend(parts);
        OutContent::Multi {
            smil: Some(SMIL_ID.into()),
            parts: all,
        }
    };
    Ok(Mms {
        subject,
        content,
        size,
        dropped,
    })
}

const SMIL_ID: &str = "presentation.smil";

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// One slide per medium (the text on the first), 5 s each; the regions of the MMS
/// conformance document (image above, text below).
fn generate_smil(text: Option<&MimePart>, media: &[MimePart]) -> String {
    let mut s = String::from(
        "<smil><head><layout><root-layout width=\"100%\" height=\"100%\"/>\
<region id=\"Image\" left=\"0\" top=\"0\" width=\"100%\" height=\"80%\" fit=\"meet\"/>\
<region id=\"Text\" left=\"0\" top=\"80%\" width=\"100%\" height=\"20%\" fit=\"scroll\"/>\
</layout></head><body>",
    );
    let text_ref = text.map(|t| {
        format!(
            "<text src=\"cid:{}\" region=\"Text\"/>",
            t.content_id.as_deref().unwrap_or("")
        )
    });
    if media.is_empty() {
        s.push_str("<par dur=\"5000ms\">");
        s.push_str(text_ref.as_deref().unwrap_or(""));
        s.push_str("</par>");
    }
    for (i, m) in media.iter().enumerate() {
        let id = m.content_id.as_deref().unwrap_or("");
        let element = match m.content_type.split('/').next() {
            Some("image") => format!("<img src=\"cid:{id}\" region=\"Image\"/>"),
            Some("audio") => format!("<audio src=\"cid:{id}\"/>"),
            Some("video") => format!("<video src=\"cid:{id}\" region=\"Image\"/>"),
            _ => format!("<text src=\"cid:{id}\" region=\"Text\"/>"),
        };
        s.push_str("<par dur=\"5000ms\">");
        s.push_str(&element);
        if i == 0 {
            s.push_str(text_ref.as_deref().unwrap_or(""));
        }
        s.push_str("</par>");
    }
    s.push_str("</body></smil>");
    s
}

/// Who an MO MMS's mail is addressed to in its headers: its To and Cc recipients (Bcc ones
/// only in the envelope). Without a To one, To is the empty group `undisclosed-recipients:;`.
#[derive(Clone, Debug, Default)]
pub struct HeaderRecipients {
    pub to: Vec<String>,
    pub cc: Vec<String>,
}

/// The email an MO MMS becomes: text parts as the body, media as attachments, SMIL left out.
pub fn to_email(
    from: &str,
    to: &HeaderRecipients,
    subject: &str,
    parts: &[MimePart],
    stamp: crate::mo::Stamp<'_>,
    extra_headers: &[(String, String)],
) -> Vec<u8> {
    use mail_builder::headers::address::Address;
    fn list(v: &[String]) -> Vec<Address<'_>> {
        v.iter()
            .map(|a| Address::new_address(None::<&str>, a.as_str()))
            .collect()
    }
    let to_header = if to.to.is_empty() {
        Address::new_group(Some("undisclosed-recipients"), Vec::new())
    } else {
        Address::new_list(list(&to.to))
    };
    let mut builder = crate::mo::headers(from, to_header, subject, stamp, extra_headers);
    if !to.cc.is_empty() {
        builder = builder.cc(Address::new_list(list(&to.cc)));
    }
    let mut text = String::new();
    let mut n = 0;
    for p in parts {
        if p.is_smil() {
            continue;
        }
        if p.is_text() && p.name.as_deref().is_none_or(|n| n.ends_with(".txt")) {
            if !text.is_empty() {
                text.push_str("\n\n");
            }
            text.push_str(&String::from_utf8_lossy(&p.data));
            continue;
        }
        n += 1;
        let name = p
            .name
            .clone()
            .or_else(|| p.content_location.clone())
            .unwrap_or_else(|| {
                format!(
                    "part{n}.{}",
                    p.content_type.rsplit('/').next().unwrap_or("bin")
                )
            });
        builder = builder.attachment(p.content_type.clone(), name, p.data.clone());
    }
    builder = builder.text_body(text);
    builder.write_to_vec().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const JPEG: &[u8] = &[
        0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F', 0, 0xFF, 0xD9,
    ];

    fn mail_with_image() -> Vec<u8> {
        mail_builder::MessageBuilder::new()
            .from("alice@example.com")
            .to("15551234567@mms.example.com")
            .subject("Beach")
            .text_body("Look at this")
            .attachment("image/jpeg", "beach.jpg", JPEG)
            .attachment("application/pdf", "terms.pdf", &b"%PDF-1.4"[..])
            .write_to_vec()
            .unwrap()
    }

    #[test]
    fn text_and_image_become_a_smil_presentation_and_pdfs_are_dropped() {
        let mms = from_email(&mail_with_image(), true, 0).unwrap();
        assert_eq!(mms.subject.as_deref(), Some("Beach"));
        assert_eq!(mms.dropped, vec!["application/pdf terms.pdf".to_string()]);
        let OutContent::Multi { smil, parts } = &mms.content else {
            panic!("{mms:?}")
        };
        assert_eq!(smil.as_deref(), Some(SMIL_ID));
        assert_eq!(parts.len(), 3);
        assert!(parts[0].is_smil());
        let smil_text = String::from_utf8_lossy(&parts[0].data);
        assert!(
            smil_text.contains("<img src=\"cid:part1-beach.jpg\""),
            "{smil_text}"
        );
        assert!(smil_text.contains("dur=\"5000ms\""));
        assert_eq!(parts[1].data, b"Look at this");
        assert_eq!(parts[2].data, JPEG);
        assert_eq!(parts[2].content_type, "image/jpeg");
    }

    #[test]
    fn text_only_is_one_part_when_simple_mime_is_on() {
        let raw = b"From: a@b\r\nSubject: hi\r\n\r\nhello there\r\n";
        let mms = from_email(raw, true, 0).unwrap();
        assert!(matches!(&mms.content, OutContent::Single(p) if p.data == b"hello there"));
        let mms = from_email(raw, false, 0).unwrap();
        assert!(matches!(&mms.content, OutContent::Multi { parts, .. } if parts.len() == 2));
    }

    #[test]
    fn too_big_and_empty_fail_with_clear_reasons() {
        let err = from_email(&mail_with_image(), true, 10).unwrap_err();
        assert!(
            err.response().starts_with("554 5.3.4"),
            "{}",
            err.response()
        );
        let err = from_email(b"From: a@b\r\nSubject: x\r\n\r\n   \r\n", true, 0).unwrap_err();
        assert_eq!(err, MmsError::Empty);
    }

    #[test]
    fn an_mo_mms_becomes_mail_with_its_image_attached() {
        let parts = vec![
            MimePart {
                content_type: "application/smil".into(),
                data: b"<smil/>".to_vec(),
                ..Default::default()
            },
            MimePart {
                content_type: "text/plain".into(),
                charset: Some("utf-8".into()),
                data: "Grüße".as_bytes().to_vec(),
                ..Default::default()
            },
            MimePart {
                content_type: "image/jpeg".into(),
                name: Some("p.jpg".into()),
                data: JPEG.to_vec(),
                ..Default::default()
            },
        ];
        let raw = to_email(
            "15551234567@mms.example.com",
            &HeaderRecipients {
                to: vec!["u@example.com".into(), "v@example.com".into()],
                cc: vec!["w@example.com".into()],
            },
            "Hi",
            &parts,
            crate::mo::Stamp {
                date: 0,
                host: "gw.example.net",
            },
            &[],
        );
        let m = MessageParser::default().parse(&raw).unwrap();
        assert_eq!(m.subject(), Some("Hi"));
        let addrs = |a: Option<&mail_parser::Address>| -> Vec<String> {
            a.map(|a| {
                a.iter()
                    .filter_map(|a| a.address().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
        };
        assert_eq!(addrs(m.to()), ["u@example.com", "v@example.com"]);
        assert_eq!(addrs(m.cc()), ["w@example.com"]);
        assert_eq!(m.body_text(0).unwrap().trim(), "Grüße");
        let att = m.attachment(0).unwrap();
        assert_eq!(att.attachment_name(), Some("p.jpg"));
        assert_eq!(att.contents(), JPEG);
        assert_eq!(m.attachment_count(), 1, "SMIL is not attached");
    }
}
