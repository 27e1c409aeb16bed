//! The mail addresses of mail that Impulse makes from a mobile message (an MO SMS, an MO MMS):
//! parsed into [`Address`] at the edge, with relay control, and with a safe fallback where the
//! mobile side gives no usable address.
//!
//! Untrusted input: every address field of the SMSC's deliver_sm and the MMSC's DeliverReq. A
//! number becomes a local part only when it is plainly one (letters, digits, `+-._`); anything
//! else falls back to `unknown`, with the raw value logged by the caller. Nothing here ever
//! builds an address with an empty local part.

use std::net::SocketAddr;

use impulse_config::{Config, Resolved, names};
use impulse_smtp::Address;

/// The local part used when the mobile side gives no number, or one that is not plainly a
/// number or short code.
pub const UNKNOWN_LOCAL: &str = "unknown";

/// A phone number, short code or alphanumeric sender as a local part: `+4445551234/TYPE=PLMN`
/// gives `4445551234`. `None` when it is empty or holds anything else than letters, digits and
/// `+-._` (a control character, a space, brackets...).
pub fn number_local(raw: &str) -> Option<String> {
    let number = raw
        .trim()
        .split('/')
        .next()
        .unwrap_or("")
        .trim_start_matches('+');
    let plain = !number.is_empty()
        && number.len() <= 64
        && number
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.' | '_'))
        && !number.starts_with('.')
        && !number.ends_with('.')
        && !number.contains("..");
    plain.then(|| number.to_string())
}

/// `number@domain`, or `unknown@domain` when the number is not usable; `None` only when the
/// domain itself is not one (a configuration error).
pub fn from_number(raw: &str, domain: &str) -> Option<Address> {
    let local = number_local(raw).unwrap_or_else(|| UNKNOWN_LOCAL.to_string());
    Address::new(&local, domain).ok()
}

/// Whether a peer of the HTTP_Listener may have mail relayed to any domain, by the ESMTP
/// listener's rules: `Always_Allow`, `Open_Relay`, `Relay_Hosts`, or credentials it passed
/// (`Auth_Credentials` is set for it and the request got through).
pub fn http_peer_may_relay(cfg: &Config, local: SocketAddr, peer: SocketAddr) -> bool {
    let r = cfg.http_receiving(Some(local), peer.ip());
    crate::inbound::reception::may_relay(&r, peer.ip())
        || r.effective(names::AUTH_CREDENTIALS).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_become_local_parts_and_nothing_else_does() {
        assert_eq!(
            number_local("+4445551234/TYPE=PLMN").as_deref(),
            Some("4445551234")
        );
        assert_eq!(number_local("67890").as_deref(), Some("67890"));
        assert_eq!(number_local("Acme_Shop").as_deref(), Some("Acme_Shop"));
        for bad in [
            "",
            "  ",
            "+",
            "4445551234>\r\nRCPT TO:<x@evil.test>",
            "a b",
            "a@b",
            "<x>",
            "\"q\"",
            "a..b",
        ] {
            assert_eq!(number_local(bad), None, "{bad:?}");
        }
        assert_eq!(
            from_number("", "mms.example").unwrap().to_string(),
            "unknown@mms.example"
        );
        assert_eq!(
            from_number("x>\r\ny", "mms.example").unwrap().to_string(),
            "unknown@mms.example"
        );
        assert!(from_number("123", "bad domain").is_none());
    }
}
