//! Delivery receipts: the SMPP 3.4 Appendix B text (`id:… sub:… dlvrd:… submit date:… done
//! date:… stat:… err:… text:…`), read leniently because no two SMSCs write it alike (fields
//! missing, in another order or case, extra fields), and the `receipted_message_id` /
//! `message_state` / `network_error_code` TLVs, which win when present.
//!
//! Message ids are matched through keys that survive the usual format drift (decimal in one
//! PDU, hexadecimal in the other, leading zeros, case): see [`id_keys`].

use crate::pdu::{ShortMessage, Tlvs, tag};
use crate::text;

/// message_state (SMPP 3.4 §5.2.28), and the `stat:` words of Appendix B.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageState {
    Enroute,
    Delivered,
    Expired,
    Deleted,
    Undeliverable,
    Accepted,
    Unknown,
    Rejected,
}

impl MessageState {
    pub fn from_code(v: u8) -> Option<Self> {
        Some(match v {
            1 => Self::Enroute,
            2 => Self::Delivered,
            3 => Self::Expired,
            4 => Self::Deleted,
            5 => Self::Undeliverable,
            6 => Self::Accepted,
            7 => Self::Unknown,
            8 => Self::Rejected,
            _ => return None,
        })
    }

    /// Reads a `stat:` value: the 7-letter words of Appendix B and the common long forms.
    pub fn from_stat(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_uppercase().as_str() {
            "ENROUTE" => Self::Enroute,
            "DELIVRD" | "DELIVERED" => Self::Delivered,
            "EXPIRED" => Self::Expired,
            "DELETED" => Self::Deleted,
            "UNDELIV" | "UNDELIVERABLE" => Self::Undeliverable,
            "ACCEPTD" | "ACCEPTED" => Self::Accepted,
            "UNKNOWN" => Self::Unknown,
            "REJECTD" | "REJECTED" => Self::Rejected,
            _ => return None,
        })
    }

    /// The Appendix B word (what `SMPP_Notify_Deliver_Receipt` lists).
    pub fn stat(self) -> &'static str {
        match self {
            Self::Enroute => "ENROUTE",
            Self::Delivered => "DELIVRD",
            Self::Expired => "EXPIRED",
            Self::Deleted => "DELETED",
            Self::Undeliverable => "UNDELIV",
            Self::Accepted => "ACCEPTD",
            Self::Unknown => "UNKNOWN",
            Self::Rejected => "REJECTD",
        }
    }

    /// A final state in which the message did not reach the handset.
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            Self::Expired | Self::Deleted | Self::Undeliverable | Self::Rejected | Self::Unknown
        )
    }

    pub fn is_final(self) -> bool {
        !matches!(self, Self::Enroute | Self::Accepted)
    }
}

/// What a receipt says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Receipt {
    pub id: Option<String>,
    pub state: Option<MessageState>,
    /// The `stat:` word as written, even when it is not a known state.
    pub stat: Option<String>,
    pub err: Option<String>,
    pub sub: Option<String>,
    pub dlvrd: Option<String>,
    pub submit_date: Option<String>,
    pub done_date: Option<String>,
    pub text: Option<String>,
    /// network_error_code TLV: network type, then error code.
    pub network_error: Option<(u8, u16)>,
}

const KEYS: [&str; 8] = [
    "id",
    "sub",
    "dlvrd",
    "submit date",
    "done date",
    "stat",
    "err",
    "text",
];

/// Parses receipt text. Keys are matched case-insensitively at the start of the text or after
/// whitespace; a value runs to the next key; `text:` takes the rest of the line.
pub fn parse_text(s: &str) -> Receipt {
    let lower = s.to_ascii_lowercase();
    // (position of key, key index, position of value)
    let mut marks: Vec<(usize, Option<usize>, usize)> = Vec::new();
    let bytes = lower.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let at_boundary = i == 0 || bytes[i - 1].is_ascii_whitespace();
        if at_boundary {
            if let Some(k) = KEYS
                .iter()
                .position(|k| lower[i..].starts_with(k) && lower[i + k.len()..].starts_with(':'))
            {
                marks.push((i, Some(k), i + KEYS[k].len() + 1));
                if KEYS[k] == "text" {
                    break;
                }
                i += KEYS[k].len() + 1;
                continue;
            }
            // An unknown `word:` also ends the previous value.
            let word_len = bytes[i..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                .count();
            if word_len > 0 && bytes.get(i + word_len) == Some(&b':') {
                marks.push((i, None, i + word_len + 1));
                i += word_len + 1;
                continue;
            }
        }
        i += 1;
    }
    let mut r = Receipt::default();
    for (n, &(_, key, start)) in marks.iter().enumerate() {
        let end = marks.get(n + 1).map_or(s.len(), |m| m.0);
        let value = s.get(start..end).unwrap_or("").trim().to_string();
        match key.map(|k| KEYS[k]) {
            Some("id") => r.id = Some(value),
            Some("sub") => r.sub = Some(value),
            Some("dlvrd") => r.dlvrd = Some(value),
            Some("submit date") => r.submit_date = Some(value),
            Some("done date") => r.done_date = Some(value),
            Some("stat") => {
                r.state = MessageState::from_stat(&value);
                r.stat = Some(value);
            }
            Some("err") => r.err = Some(value),
            Some("text") => r.text = Some(value),
            _ => {}
        }
    }
    r
}

/// esm_class message type "SMSC delivery receipt" (bits 2–5 = 0001).
pub const ESM_DELIVERY_RECEIPT: u8 = 0x04;

/// Whether a deliver_sm is a delivery receipt rather than a mobile-originated message:
/// esm_class says so, or it carries `receipted_message_id`.
pub fn is_receipt(sm: &ShortMessage) -> bool {
    sm.esm_class & 0x3C == ESM_DELIVERY_RECEIPT || sm.tlv(tag::RECEIPTED_MESSAGE_ID).is_some()
}

/// Reads a receipt from a deliver_sm (or the fields of a data_sm): text first, TLVs over it.
pub fn from_deliver_sm(sm: &ShortMessage) -> Receipt {
    let payload = sm.tlv(tag::MESSAGE_PAYLOAD).unwrap_or(&sm.short_message);
    let mut r = parse_text(&text::decode(sm.data_coding, payload));
    if let Some(id) = sm.tlv_str(tag::RECEIPTED_MESSAGE_ID) {
        r.id = Some(id);
    }
    if let Some(state) = sm
        .tlv_u8(tag::MESSAGE_STATE)
        .and_then(MessageState::from_code)
    {
        r.state = Some(state);
        r.stat.get_or_insert_with(|| state.stat().to_string());
    }
    if let Some(v) = sm.tlv(tag::NETWORK_ERROR_CODE).filter(|v| v.len() == 3) {
        r.network_error = Some((v[0], u16::from_be_bytes([v[1], v[2]])));
    }
    r
}

/// How an SMSC writes message ids (`SMPP_Submit_Response_Message_ID_Format`,
/// `SMPP_Delivery_Receipt_Message_ID_Format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdFormat {
    String,
    Decimal,
    Hexadecimal,
}

impl IdFormat {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "string" => Some(Self::String),
            "decimal" => Some(Self::Decimal),
            "hexadecimal" | "hex" => Some(Self::Hexadecimal),
            _ => None,
        }
    }
}

fn numeric(id: &str, radix: u32) -> Option<String> {
    let ok = !id.is_empty() && id.len() <= 38 && id.chars().all(|c| c.is_digit(radix));
    ok.then(|| {
        u128::from_str_radix(id, radix)
            .ok()
            .map(|n| format!("n:{n}"))
    })
    .flatten()
}

/// The one key of an id written in a known format.
pub fn id_key(id: &str, format: IdFormat) -> String {
    let t = id.trim();
    match format {
        IdFormat::String => format!("s:{}", t.to_ascii_lowercase()),
        IdFormat::Decimal => {
            numeric(t, 10).unwrap_or_else(|| format!("s:{}", t.to_ascii_lowercase()))
        }
        IdFormat::Hexadecimal => {
            numeric(t, 16).unwrap_or_else(|| format!("s:{}", t.to_ascii_lowercase()))
        }
    }
}

/// Every key an id may match when its format is not configured: the id as text, and its
/// numeric value read as decimal and as hexadecimal where it can be. A receipt matches a
/// submission when their key sets meet in exactly one submission; where they meet in several
/// (`"10"` is ten or sixteen), the configured formats must decide.
pub fn id_keys(id: &str) -> Vec<String> {
    let t = id.trim();
    let mut keys = vec![format!("s:{}", t.to_ascii_lowercase())];
    for radix in [10, 16] {
        if let Some(k) = numeric(t, radix)
            && !keys.contains(&k)
        {
            keys.push(k);
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdu::{ShortMessage, Tlv};
    use bytes::Bytes;

    #[test]
    fn appendix_b_text() {
        let r = parse_text(
            "id:0123456789 sub:001 dlvrd:001 submit date:2511231600 done date:2511231601 stat:DELIVRD err:000 text:Hello world",
        );
        assert_eq!(r.id.as_deref(), Some("0123456789"));
        assert_eq!(r.state, Some(MessageState::Delivered));
        assert_eq!(r.submit_date.as_deref(), Some("2511231600"));
        assert_eq!(r.done_date.as_deref(), Some("2511231601"));
        assert_eq!(r.err.as_deref(), Some("000"));
        assert_eq!(r.text.as_deref(), Some("Hello world"));
    }

    #[test]
    fn lenient_variants() {
        let r = parse_text("STAT:undeliv ID:ab12 Err:034 extra:thing");
        assert_eq!(
            (r.id.as_deref(), r.state, r.err.as_deref()),
            (Some("ab12"), Some(MessageState::Undeliverable), Some("034"))
        );
        let r = parse_text("id:7 stat:WEIRD");
        assert_eq!((r.state, r.stat.as_deref()), (None, Some("WEIRD")));
        assert_eq!(parse_text("no receipt here"), Receipt::default());
        let r = parse_text("id:1 text:stat:DELIVRD is not a field here");
        assert_eq!(
            (r.state, r.text.as_deref()),
            (None, Some("stat:DELIVRD is not a field here"))
        );
    }

    #[test]
    fn tlvs_win_over_text() {
        let sm = ShortMessage {
            esm_class: ESM_DELIVERY_RECEIPT,
            short_message: Bytes::from_static(b"id:999 stat:ENROUTE"),
            tlvs: vec![
                Tlv::cstr(tag::RECEIPTED_MESSAGE_ID, "3E7"),
                Tlv::u8(tag::MESSAGE_STATE, 5),
                Tlv::bytes(tag::NETWORK_ERROR_CODE, Bytes::from_static(&[3, 0, 11])),
            ],
            ..Default::default()
        };
        assert!(is_receipt(&sm));
        let r = from_deliver_sm(&sm);
        assert_eq!(
            (r.id.as_deref(), r.state, r.network_error),
            (
                Some("3E7"),
                Some(MessageState::Undeliverable),
                Some((3, 11))
            )
        );
    }

    #[test]
    fn id_formats_meet() {
        // mBlox: hexadecimal in submit_sm_resp, decimal in the receipt.
        assert_eq!(
            id_key("3E8", IdFormat::Hexadecimal),
            id_key("1000", IdFormat::Decimal)
        );
        assert_eq!(
            id_key("0000123", IdFormat::Decimal),
            id_key("123", IdFormat::Decimal)
        );
        assert_eq!(
            id_key("AbC-1", IdFormat::String),
            id_key("abc-1", IdFormat::String)
        );
        // Unconfigured: keys overlap where the numbers agree.
        let submit = id_keys("3e8");
        assert!(id_keys("1000").iter().any(|k| submit.contains(k)));
        assert!(id_keys("00003E8").iter().any(|k| submit.contains(k)));
        assert!(!id_keys("999").iter().any(|k| submit.contains(k)));
        assert_eq!(id_keys("uuid-like-x").len(), 1);
    }
}
