//! SMS → email: interworking parse of MO text (docs/reference/momentum.md §1.4 step 5.1): an email
//! address at the start, optionally followed by a subject in parentheses, then the body.
//! `user@example.com(subject text) This is an SMS`. The grammar Impulse accepts is in
//! docs/decisions/0006-interworking-format.md.

/// What an MO text says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interworking {
    pub address: Option<String>,
    pub subject: Option<String>,
    pub body: String,
}

/// Whether `s` has the shape of an email address: something@something, no spaces or brackets.
fn is_address(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && s.chars()
            .all(|c| !c.is_whitespace() && !"()<>,;:\"[]".contains(c) || c == '.')
}

/// Parses `addr(subject) body`, `addr body`, `(subject) body` or a plain body.
pub fn parse(text: &str) -> Interworking {
    let t = text.trim_start();
    // The address runs to the first whitespace or '('.
    let end = t
        .find(|c: char| c.is_whitespace() || c == '(')
        .unwrap_or(t.len());
    let (address, rest) = if is_address(&t[..end]) {
        (Some(t[..end].to_string()), &t[end..])
    } else {
        (None, t)
    };
    let after_addr = if address.is_some() {
        rest.trim_start_matches([' ', '\t'])
    } else {
        rest
    };
    let (subject, body) = match after_addr
        .strip_prefix('(')
        .and_then(|r| r.find(')').map(|close| (r, close)))
    {
        Some((r, close)) => (Some(r[..close].trim().to_string()), &r[close + 1..]),
        None => (None, if address.is_some() { rest } else { t }),
    };
    Interworking {
        address,
        subject: subject.filter(|s| !s.is_empty()),
        body: body.trim().to_string(),
    }
}

#[cfg(test)]
mod tests {

    /// `SMPP_GSM_Transcodes_To = "Cyrillic"`: the mail is written in ISO-8859-5 when it can
    /// carry the text, in UTF-8 when not.
    #[test]
    fn a_cyrillic_mail_charset() {
        let stamp = Stamp {
            date: 0,
            host: "gw.example",
        };
        let cs = MailCharset::parse("Latin-5").unwrap();
        let raw = build_email("a@x", "b@y", "s", "Привет", cs, stamp, &[]);
        let m = mail_parser::MessageParser::default().parse(&raw).unwrap();
        assert_eq!(m.body_text(0).unwrap().trim(), "Привет");
        assert!(String::from_utf8_lossy(&raw).contains("iso-8859-5"));
        let raw = build_email("a@x", "b@y", "s", "Привет 😀", cs, stamp, &[]);
        let m = mail_parser::MessageParser::default().parse(&raw).unwrap();
        assert_eq!(m.body_text(0).unwrap().trim(), "Привет 😀");
        assert_eq!(MailCharset::parse("UTF-16"), Some(MailCharset::Utf8));
    }
    use super::*;

    fn p(address: Option<&str>, subject: Option<&str>, body: &str) -> Interworking {
        Interworking {
            address: address.map(Into::into),
            subject: subject.map(Into::into),
            body: body.into(),
        }
    }

    #[test]
    fn forms_of_the_interworking_text() {
        assert_eq!(
            parse("user@example.com(subject text) This is an SMS"),
            p(
                Some("user@example.com"),
                Some("subject text"),
                "This is an SMS"
            )
        );
        assert_eq!(
            parse("user@example.com (hi there) body"),
            p(Some("user@example.com"), Some("hi there"), "body")
        );
        assert_eq!(
            parse("user@example.com just the body"),
            p(Some("user@example.com"), None, "just the body")
        );
        assert_eq!(
            parse("(only a subject) and a body"),
            p(None, Some("only a subject"), "and a body")
        );
        assert_eq!(
            parse("Hello, call me at 5pm (or later)"),
            p(None, None, "Hello, call me at 5pm (or later)")
        );
        assert_eq!(parse("meet @ noon"), p(None, None, "meet @ noon"));
        assert_eq!(
            parse("user@example.com(unclosed subject"),
            p(Some("user@example.com"), None, "(unclosed subject")
        );
        assert_eq!(
            parse("  Ünïcødé@example.com(sübject) bödy"),
            p(Some("Ünïcødé@example.com"), Some("sübject"), "bödy")
        );
        assert_eq!(parse(""), p(None, None, ""));
    }
}

/// `SMPP_GSM_Transcodes_To`: the charset of the email made from an MO.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MailCharset {
    /// UTF-8; also what UCS2/UTF-16 ask for: a mail body in UTF-16 is base64 that few mail
    /// programs read, and UTF-8 carries the same characters.
    Utf8,
    Latin1,
    Ascii,
    /// ISO-8859-5 (Momentum also says `Latin-5`, `Cyrillic`).
    Cyrillic,
    /// ISO-8859-8 (Momentum also says `Latin-8`, `Latin`, `Hebrew`).
    Hebrew,
}

impl MailCharset {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "utf-8" | "utf8" | "ucs2" | "ucs-2" | "utf-16" | "utf16" => Self::Utf8,
            "iso-8859-1" | "latin-1" | "latin1" => Self::Latin1,
            "ascii" | "us-ascii" => Self::Ascii,
            "iso-8859-5" | "latin-5" | "cyrillic" => Self::Cyrillic,
            "iso-8859-8" | "latin-8" | "latin" | "hebrew" => Self::Hebrew,
            _ => return None,
        })
    }

    /// The octets of `body` in this charset and its MIME name, when it is an 8-bit charset
    /// that can carry the text.
    fn eight_bit(self, body: &str) -> Option<(Vec<u8>, &'static str)> {
        use impulse_smpp::text::Coding;
        let (coding, name) = match self {
            Self::Latin1 => (Coding::Latin1, "iso-8859-1"),
            Self::Cyrillic => (Coding::Cyrillic, "iso-8859-5"),
            Self::Hebrew => (Coding::Hebrew, "iso-8859-8"),
            Self::Utf8 | Self::Ascii => return None,
        };
        coding.encode(body).map(|b| (b, name))
    }
}

/// The email an MO becomes. The body is written in `charset` when it is an 8-bit charset that
/// can carry the text (base64), else in UTF-8 so nothing is lost.
pub fn build_email(
    from: &str,
    to: &str,
    subject: &str,
    body: &str,
    charset: MailCharset,
    stamp: Stamp<'_>,
    extra_headers: &[(String, String)],
) -> Vec<u8> {
    use mail_builder::headers::content_type::ContentType;
    use mail_builder::mime::MimePart;

    let mut builder = headers(from, to, subject, stamp, extra_headers);
    builder = match charset.eight_bit(body) {
        Some((bytes, name)) if !body.is_ascii() => builder.body(
            // Binary content: mail-builder base64-encodes it (setting the header by hand would
            // only label raw bytes).
            MimePart::new(
                ContentType::new("text/plain").attribute("charset", name),
                bytes,
            ),
        ),
        _ => builder.text_body(body.to_string()),
    };
    builder.write_to_vec().unwrap_or_default()
}

/// The headers of a mail Impulse writes from an SMS or MMS: From, To, Subject, Date and the
/// protocol's own `extra_headers`.
pub(crate) fn headers<'x>(
    from: &'x str,
    to: impl Into<mail_builder::headers::address::Address<'x>>,
    subject: &'x str,
    stamp: Stamp<'_>,
    extra_headers: &[(String, String)],
) -> mail_builder::MessageBuilder<'x> {
    let mut builder = mail_builder::MessageBuilder::new()
        .from(from)
        .to(to)
        .subject(subject)
        .date(stamp.date)
        .message_id(message_id(stamp.host));
    for (name, value) in extra_headers {
        builder = builder.header(
            name.clone(),
            mail_builder::headers::text::Text::new(value.clone()),
        );
    }
    builder
}

/// When and by whom a mail is made: its Date (seconds since the epoch) and the host name its
/// Message-ID is under (the configuration's `Hostname`).
#[derive(Clone, Copy, Debug)]
pub struct Stamp<'a> {
    pub date: i64,
    pub host: &'a str,
}

/// A Message-ID under the gateway's own name (`Hostname`), not the system's: mail-builder would
/// use the machine's host name, which may be internal and is not what the operator configured.
/// Unique by time, a process-wide counter and the process id.
pub fn message_id(host: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{nanos:x}.{n:x}.{}@{host}", std::process::id())
}

#[cfg(test)]
mod email_tests {
    use super::*;

    #[test]
    fn latin1_when_it_fits_utf8_when_not() {
        let raw = build_email(
            "4445551234@sms.example.com",
            "u@example.com",
            "hi",
            "café",
            MailCharset::Latin1,
            Stamp {
                date: 0,
                host: "gw.example.net",
            },
            &[("X-SMPP-TLV-my_operator".into(), "Op Net".into())],
        );
        assert!(
            raw.is_ascii(),
            "8-bit text is transfer-encoded, never sent raw"
        );
        let mail = String::from_utf8(raw).unwrap();
        assert!(
            mail.contains("charset=\"iso-8859-1\"") || mail.contains("charset=iso-8859-1"),
            "{mail}"
        );
        let id_line = mail.lines().find(|l| l.starts_with("Message-ID:")).unwrap();
        assert!(
            id_line.ends_with("@gw.example.net>"),
            "under the gateway's name: {id_line}"
        );
        let parsed = mail_parser::MessageParser::default()
            .parse(mail.as_bytes())
            .unwrap();
        assert_eq!(parsed.body_text(0).unwrap(), "café");
        assert_eq!(
            parsed
                .header("X-SMPP-TLV-my_operator")
                .and_then(|h| h.as_text()),
            Some("Op Net")
        );
        let mail = build_email(
            "a@b",
            "u@example.com",
            "hi",
            "Привет 😀",
            MailCharset::Latin1,
            Stamp {
                date: 0,
                host: "gw.example.net",
            },
            &[],
        );
        let parsed = mail_parser::MessageParser::default().parse(&mail).unwrap();
        assert_eq!(parsed.body_text(0).unwrap(), "Привет 😀");
        assert_eq!(parsed.subject(), Some("hi"));
    }
}
