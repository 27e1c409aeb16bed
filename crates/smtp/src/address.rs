//! The one type for a mail address that enters the spool, from whatever source: the SMTP
//! listener's MAIL FROM and RCPT TO, MM7's RFC2822Address, an MO SMS's sender, bounces, receipts
//! and the console. Every address is parsed here once, at the edge, and written onto the wire
//! only by [`Address`]'s `Display` (the SMTP client's `MAIL FROM:<…>`/`RCPT TO:<…>`).
//!
//! Untrusted input: every byte of it. What a peer sends in one protocol must never steer what
//! Impulse says in the next one, so an address here:
//!
//! - holds no control character at all (no CR, LF, NUL, TAB, DEL): RFC 5321's `qtextSMTP` and
//!   `quoted-pairSMTP` are printable ASCII, and UTF-8 (RFC 6531) adds only non-ASCII letters —
//!   not the invisible format characters (U+200B, U+202E…) nor Unicode spaces and line
//!   separators, which would make an address read differently in a log than on the wire;
//! - keeps its local part's meaning: a local part that is not a dot-string (`"a>b"`, `"x y"`)
//!   stays quoted when written, with `"` and `\` escaped, so `>`, spaces and `@` inside it can
//!   never end the path or start an ESMTP parameter;
//! - has a domain that is a host name (letters, digits, hyphens, dots, or UTF-8 labels) or an
//!   address literal (`[192.0.2.1]`, `[IPv6:…]`);
//! - fits in a command line: a domain of at most 255 octets and an address of at most
//!   [`MAX_ADDRESS`] (RFC 5321 §4.5.3.1 asks servers not to enforce the 64-octet local part, and
//!   long VERP bounce addresses exceed it).
//!
//! Input is lenient where real mail is: an unquoted local part with dots out of place
//! (`taro..yamada@docomo.ne.jp`, `taro.@ezweb.ne.jp`, which Japanese carriers issued) is taken
//! and written quoted, the form RFC 5321 allows for it.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// RFC 5321 §4.5.3.1.2.
const MAX_DOMAIN: usize = 255;
/// Longest address taken: `MAIL FROM:<…>` with its parameters must fit RFC 5321's 512-octet
/// command line (§4.5.3.1.4).
pub const MAX_ADDRESS: usize = 400;

/// Why an address was refused, in words an SMTP reply or a log line can carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("empty address")]
    Empty,
    #[error("no @domain")]
    NoDomain,
    #[error("control character in the address")]
    Control,
    #[error("local part is not a dot-string or a quoted string")]
    BadLocal,
    #[error("domain is not a host name or an address literal")]
    BadDomain,
    #[error("address too long")]
    TooLong,
    #[error("address is not UTF-8")]
    NotUtf8,
}

/// A mailbox `local@domain`, valid by construction.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address {
    /// The local part's meaning, unquoted (`a>b` for `"a>b"@x`).
    local: String,
    /// As given, case kept; compare with [`Address::domain_lower`].
    domain: String,
}

impl Address {
    /// Parses an address as written on the wire or in a header's addr-spec: a dot-string or a
    /// quoted local part, `@`, a domain. Surrounding angle brackets and blanks are not part of
    /// it (the caller strips `<…>`).
    pub fn parse(text: &str) -> Result<Address, AddressError> {
        if text.is_empty() {
            return Err(AddressError::Empty);
        }
        if text.len() > MAX_ADDRESS + 2 {
            return Err(AddressError::TooLong);
        }
        if text.chars().any(is_invisible) {
            return Err(AddressError::Control);
        }
        let (local, rest) = if let Some(quoted) = text.strip_prefix('"') {
            let mut local = String::new();
            let mut chars = quoted.char_indices();
            let end = loop {
                match chars.next() {
                    None => return Err(AddressError::BadLocal),
                    Some((i, '"')) => break i + 1,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, c)) => local.push(c),
                        None => return Err(AddressError::BadLocal),
                    },
                    Some((_, c)) => local.push(c),
                }
            };
            (local, &quoted[end..])
        } else {
            match text.find('@') {
                Some(at) => (text[..at].to_string(), &text[at..]),
                None => return Err(AddressError::NoDomain),
            }
        };
        let Some(domain) = rest.strip_prefix('@') else {
            return Err(if rest.is_empty() {
                AddressError::NoDomain
            } else {
                AddressError::BadLocal
            });
        };
        let quoted = text.starts_with('"');
        if !quoted && !is_loose_dot_string(&local) {
            return Err(AddressError::BadLocal);
        }
        Address::new(&local, domain)
    }

    /// Parses an address as a header or an MM7 `RFC2822Address` may give it: a bare addr-spec,
    /// or a name-addr `Display Name <addr-spec>` (RFC 5322 §3.4), whose display name is dropped.
    pub fn parse_mailbox(text: &str) -> Result<Address, AddressError> {
        let t = text.trim();
        if let Some(inner) = t.strip_suffix('>') {
            // The `<` that opens the angle-addr: the first one outside a quoted string.
            let (mut quoted, mut escaped) = (false, false);
            for (i, c) in inner.char_indices() {
                match c {
                    _ if escaped => escaped = false,
                    '\\' if quoted => escaped = true,
                    '"' => quoted = !quoted,
                    '<' if !quoted => return Address::parse(inner[i + 1..].trim()),
                    _ => {}
                }
            }
        }
        Address::parse(t)
    }

    /// Builds an address from a local part's meaning (unquoted, as smtp-proto and mail parsers
    /// give it) and a domain; the local part is quoted when written if it needs it.
    pub fn new(local: &str, domain: &str) -> Result<Address, AddressError> {
        if local.chars().chain(domain.chars()).any(is_invisible) {
            return Err(AddressError::Control);
        }
        if local.is_empty() {
            return Err(AddressError::BadLocal);
        }
        if domain.is_empty() {
            return Err(AddressError::NoDomain);
        }
        if !is_domain(domain) {
            return Err(AddressError::BadDomain);
        }
        let address = Address {
            local: local.to_string(),
            domain: domain.to_string(),
        };
        if domain.len() > MAX_DOMAIN || address.to_string().len() > MAX_ADDRESS {
            return Err(AddressError::TooLong);
        }
        Ok(address)
    }

    /// Builds an address from an unquoted `local@domain` (the form smtp-proto returns, quotes
    /// removed): the domain is after the last `@`, which a domain never contains.
    pub fn from_unquoted(text: &str) -> Result<Address, AddressError> {
        let at = text.rfind('@').ok_or(AddressError::NoDomain)?;
        Address::new(&text[..at], &text[at + 1..])
    }

    /// From bytes a peer sent: refused unless UTF-8 (a replacement character would change it).
    pub fn parse_bytes(bytes: &[u8]) -> Result<Address, AddressError> {
        Address::parse(std::str::from_utf8(bytes).map_err(|_| AddressError::NotUtf8)?)
    }

    /// The local part's meaning, unquoted.
    pub fn local(&self) -> &str {
        &self.local
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// Whether it is all ASCII (else it needs SMTPUTF8 on the wire).
    pub fn is_ascii(&self) -> bool {
        self.local.is_ascii() && self.domain.is_ascii()
    }

    /// The domain in lower case, the form routing compares.
    pub fn domain_lower(&self) -> String {
        self.domain.to_ascii_lowercase()
    }

    /// The local part as written: a dot-string as it is, anything else quoted.
    fn local_wire(&self) -> String {
        if is_dot_string(&self.local) {
            return self.local.clone();
        }
        let mut out = String::with_capacity(self.local.len() + 2);
        out.push('"');
        for c in self.local.chars() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
        out
    }
}

/// The address as RFC 5321 writes it inside `<…>`; parsing it gives the same address back.
impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local_wire(), self.domain)
    }
}

impl std::str::FromStr for Address {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Address::parse(s)
    }
}

/// A reverse-path: an address, or the null sender `<>` of bounces and notifications.
pub type ReversePath = Option<Address>;

/// Parses a stored reverse-path: empty is the null sender.
pub fn parse_reverse_path(text: &str) -> Result<ReversePath, AddressError> {
    if text.is_empty() {
        Ok(None)
    } else {
        Address::parse(text).map(Some)
    }
}

/// The reverse-path as stored and written: empty for `<>`.
pub fn reverse_path_text(path: &ReversePath) -> String {
    path.as_ref().map(Address::to_string).unwrap_or_default()
}

/// Control characters, and the characters that change how text reads without being seen:
/// Unicode format characters (category Cf: zero-width, bidirectional overrides, BOM...) and
/// non-ASCII spaces and line or paragraph separators.
fn is_invisible(c: char) -> bool {
    c.is_control()
        || (!c.is_ascii() && c.is_whitespace())
        || matches!(c as u32,
            0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x0890..=0x0891 | 0x08E2
            | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F
            | 0xFEFF | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F)
}

/// RFC 5321 `atext` (RFC 5322 §3.2.3), plus any visible non-ASCII character (RFC 6531
/// `UTF8-non-ascii`).
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || "!#$%&'*+-/=?^_`{|}~".contains(c)
        || (!c.is_ascii() && !is_invisible(c))
}

/// atext and dots in any arrangement: what real senders write unquoted, dots out of place
/// included; written back quoted when it is not a dot-string.
fn is_loose_dot_string(s: &str) -> bool {
    !s.is_empty() && s.chars().any(|c| c != '.') && s.chars().all(|c| c == '.' || is_atext(c))
}

/// `Dot-string = Atom *("." Atom)`.
fn is_dot_string(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|atom| !atom.is_empty() && atom.chars().all(is_atext))
}

/// A host name (letters, digits, hyphens; non-ASCII labels allowed for SMTPUTF8) or an address
/// literal.
fn is_domain(d: &str) -> bool {
    if let Some(literal) = d.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return match literal.strip_prefix("IPv6:") {
            Some(v6) => v6.parse::<Ipv6Addr>().is_ok(),
            None => literal.parse::<Ipv4Addr>().is_ok(),
        };
    }
    !d.is_empty()
        && d.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| {
                    c.is_ascii_alphanumeric() || c == '-' || (!c.is_ascii() && c.is_alphanumeric())
                })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_addresses_round_trip() {
        for a in [
            "a@b.example",
            "first.last+tag@sub.example.com",
            "4445551234@sms.example",
            "x@[192.0.2.1]",
            "x@[IPv6:2001:db8::1]",
            "jörg@bücher.example",
        ] {
            assert_eq!(Address::parse(a).unwrap().to_string(), a);
        }
    }

    #[test]
    fn quoted_local_parts_stay_quoted() {
        let smuggled =
            Address::from_unquoted("x> NOTIFY=SUCCESS ORCPT=rfc822;spy@evil.test@relay.test")
                .unwrap();
        assert_eq!(smuggled.domain(), "relay.test");
        assert_eq!(
            smuggled.to_string(),
            "\"x> NOTIFY=SUCCESS ORCPT=rfc822;spy@evil.test\"@relay.test"
        );
        assert_eq!(
            Address::from_unquoted("a>b@relay.test")
                .unwrap()
                .to_string(),
            "\"a>b\"@relay.test"
        );
        let escaped = Address::parse(r#""a\"b\\c"@x.test"#).unwrap();
        assert_eq!(escaped.local(), "a\"b\\c");
        assert_eq!(escaped.to_string(), r#""a\"b\\c"@x.test"#);
        // A quoted local part that needs no quotes is written bare (same mailbox).
        assert_eq!(
            Address::parse("\"abc\"@x.test").unwrap().to_string(),
            "abc@x.test"
        );
    }

    #[test]
    fn injections_are_refused() {
        for bad in [
            "a@relay.test>\r\nRCPT TO:<inj@evil.test>\r\nNOOP <x@y",
            "4445551234>\r\nRCPT TO:<smppinj@evil.test>\r\nX:<",
            "a\0b@x.test",
            "a@x.test\0",
            "a@x.test> SIZE=1",
            "a b@x.test",
            "a>b@x.test",
            "<a@x.test>",
            "a@",
            "@x.test",
            "a",
            "a@x..test",
            "a@-x.test",
            "a@[1.2.3]",
            "\"unterminated@x.test",
            "\"q\"x@x.test",
            "a@x.test.",
            "a\u{202E}moc.evil@x.test",
            "a\u{200B}b@x.test",
            "a\u{2028}b@x.test",
            "a\u{00A0}b@x.test",
        ] {
            assert!(Address::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(
            Address::parse_bytes(b"a\xff@x.test"),
            Err(AddressError::NotUtf8)
        );
        assert_eq!(Address::new("a\rb", "x.test"), Err(AddressError::Control));
    }

    #[test]
    fn lengths_are_capped() {
        // A local part over 64 octets is taken (RFC 5321 §4.5.3.1: do not enforce it).
        let verp =
            "bounces+123456-ab12-firstname.lastname=subsidiary.example.com@em1234.sendgrid.net";
        assert_eq!(Address::parse(verp).unwrap().to_string(), verp);
        let too_long = format!("{}@x.test", "a".repeat(MAX_ADDRESS));
        assert_eq!(Address::parse(&too_long), Err(AddressError::TooLong));
        let long_domain = format!("{}.test", "a".repeat(250));
        assert!(Address::parse(&format!("a@{long_domain}")).is_err());
    }

    #[test]
    fn mailboxes_with_display_names() {
        let a = Address::parse_mailbox("\"Shop <x>\" <a@b.example>").unwrap();
        assert_eq!(a.to_string(), "a@b.example");
        let b = Address::parse_mailbox(" Bob <\"a>b\"@b.example> ").unwrap();
        assert_eq!(b.to_string(), "\"a>b\"@b.example");
        assert_eq!(
            Address::parse_mailbox("a@b.example").unwrap().to_string(),
            "a@b.example"
        );
        assert!(Address::parse_mailbox("Bob <a@b.example>\r\nRCPT TO:<x@y>").is_err());
    }

    #[test]
    fn dots_out_of_place_are_taken_and_written_quoted() {
        for (given, written) in [
            ("taro..yamada@docomo.ne.jp", "\"taro..yamada\"@docomo.ne.jp"),
            ("taro.@ezweb.ne.jp", "\"taro.\"@ezweb.ne.jp"),
            (".x@ezweb.ne.jp", "\".x\"@ezweb.ne.jp"),
        ] {
            let a = Address::parse(given).unwrap();
            assert_eq!(a.to_string(), written);
            assert_eq!(Address::parse(written).unwrap(), a);
        }
        assert!(Address::parse("...@x.test").is_err());
    }

    proptest! {
        /// No byte sequence, in any address field, yields a command line with CR, LF, NUL or
        /// unbalanced angle brackets; whatever is accepted reads back as the same address.
        #[test]
        fn nothing_accepted_can_break_a_command_line(
            text in r#"[a-z0-9<>"\\@ .\r\n\x00\t:;\[\]-]{0,40}"#,
            bytes in proptest::collection::vec(any::<u8>(), 0..60),
        ) {
            let from_bytes = Address::parse_bytes(&bytes);
            let candidates = [Address::parse(&text), Address::from_unquoted(&text), from_bytes];
            for a in candidates.into_iter().flatten() {
                let line = format!("RCPT TO:<{a}>");
                prop_assert!(!line.contains(['\r', '\n', '\0']));
                let inner = &line["RCPT TO:<".len()..line.len() - 1];
                // Outside the quoted local part, no angle bracket, space or quote.
                let bare = match inner.strip_prefix('"') {
                    Some(_) => &inner[inner.rfind("\"@").unwrap() + 1..],
                    None => inner,
                };
                prop_assert!(!bare.contains(['<', '>', ' ', '"']), "{}", line);
                prop_assert_eq!(Address::parse(&a.to_string()).unwrap(), a);
            }
        }

        #[test]
        fn quoted_local_parts_round_trip(local in "[ -~]{1,40}", domain in "[a-z]{1,10}\\.test") {
            let a = Address::new(&local, &domain).unwrap();
            prop_assert_eq!(Address::parse(&a.to_string()).unwrap(), a);
        }
    }
}
