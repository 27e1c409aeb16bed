//! SMTP replies (RFC 5321 §4.2) with enhanced status codes (RFC 3463): written by the server,
//! parsed by the client, classified in one place as success, temporary or permanent.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    /// Text lines without the code; the first usually starts with the enhanced status code.
    pub lines: Vec<String>,
}

/// How a reply code is to be treated (RFC 5321 §4.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    Positive,
    Intermediate,
    Temporary,
    Permanent,
}

impl Reply {
    pub fn new(code: u16, text: impl Into<String>) -> Self {
        Reply {
            code,
            lines: vec![text.into()],
        }
    }

    pub fn class(&self) -> Class {
        match self.code {
            200..=299 => Class::Positive,
            300..=399 => Class::Intermediate,
            400..=499 => Class::Temporary,
            _ => Class::Permanent,
        }
    }

    /// Writes the reply in wire form, multi-line replies with `-` continuations.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let last = self.lines.len().saturating_sub(1);
        for (i, line) in self.lines.iter().enumerate() {
            let sep = if i == last { ' ' } else { '-' };
            out.extend_from_slice(format!("{}{sep}{line}\r\n", self.code).as_bytes());
        }
        if self.lines.is_empty() {
            out.extend_from_slice(format!("{}\r\n", self.code).as_bytes());
        }
    }
}

impl fmt::Display for Reply {
    /// One line: `code text text...`, as logs and bounces show a remote answer.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, self.lines.join(" "))
    }
}

/// Result of feeding reply lines to [`ReplyParser`].
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    NeedMore,
    Done(Reply),
    Malformed(String),
}

/// Accumulates the lines of one (possibly multi-line) reply.
#[derive(Default, Debug)]
pub struct ReplyParser {
    code: Option<u16>,
    lines: Vec<String>,
}

/// More continuation lines than this in one reply is treated as a broken server.
const MAX_REPLY_LINES: usize = 512;

impl ReplyParser {
    /// Feeds one line (without CRLF).
    pub fn line(&mut self, line: &[u8]) -> Parsed {
        let text = String::from_utf8_lossy(line);
        let bytes = text.as_bytes();
        if bytes.len() < 3 || !bytes[..3].iter().all(u8::is_ascii_digit) {
            return Parsed::Malformed(format!("not an SMTP reply: {text:?}"));
        }
        let code: u16 = text[..3].parse().unwrap_or(0);
        if !(200..=599).contains(&code) {
            return Parsed::Malformed(format!("reply code out of range: {text:?}"));
        }
        if let Some(prev) = self.code
            && prev != code
        {
            return Parsed::Malformed(format!("reply code changed within a reply: {text:?}"));
        }
        self.code = Some(code);
        let rest = text.get(4..).unwrap_or("").to_string();
        self.lines.push(rest);
        if self.lines.len() > MAX_REPLY_LINES {
            return Parsed::Malformed("reply has too many lines".into());
        }
        match bytes.get(3) {
            Some(b'-') => Parsed::NeedMore,
            _ => Parsed::Done(Reply {
                code,
                lines: std::mem::take(&mut self.lines),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_line_replies_round_trip() {
        let r = Reply {
            code: 250,
            lines: vec!["mx.example".into(), "PIPELINING".into(), "SIZE 100".into()],
        };
        let mut out = Vec::new();
        r.write_to(&mut out);
        assert_eq!(out, b"250-mx.example\r\n250-PIPELINING\r\n250 SIZE 100\r\n");
        let mut p = ReplyParser::default();
        let mut result = Parsed::NeedMore;
        for line in out.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            result = p.line(line.strip_suffix(b"\r").unwrap());
        }
        assert_eq!(result, Parsed::Done(r));
    }

    #[test]
    fn malformed_replies_are_reported() {
        assert!(matches!(
            ReplyParser::default().line(b"hello"),
            Parsed::Malformed(_)
        ));
        let mut p = ReplyParser::default();
        assert_eq!(p.line(b"250-a"), Parsed::NeedMore);
        assert!(matches!(p.line(b"251 b"), Parsed::Malformed(_)));
        assert_eq!(
            ReplyParser::default().line(b"421"),
            Parsed::Done(Reply {
                code: 421,
                lines: vec![String::new()]
            })
        );
    }
}
