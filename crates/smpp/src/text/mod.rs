//! SMS text: encodings selected by data_coding, segmentation that never splits a GSM escape
//! pair or a UTF-16 surrogate pair, and concatenation by UDH or SAR TLVs.

pub mod gsm;
mod reassembly;
mod single_byte;

pub use reassembly::{Run, join};

/// How the text of a short message is encoded (SMPP 3.4 §5.2.19).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coding {
    /// data_coding 0 with the GSM 03.38 default alphabet, one septet per octet.
    Gsm7,
    /// data_coding 1 (IA5 / ASCII).
    Ascii,
    /// data_coding 3 (ISO-8859-1).
    Latin1,
    /// data_coding 6 (ISO-8859-5, Latin/Cyrillic).
    Cyrillic,
    /// data_coding 7 (ISO-8859-8, Latin/Hebrew).
    Hebrew,
    /// data_coding 8 (UCS-2, sent as UTF-16BE).
    Ucs2,
}

impl Coding {
    pub fn data_coding(self) -> u8 {
        match self {
            Coding::Gsm7 => 0,
            Coding::Ascii => 1,
            Coding::Latin1 => 3,
            Coding::Cyrillic => 6,
            Coding::Hebrew => 7,
            Coding::Ucs2 => 8,
        }
    }

    /// What a segment may hold, in this coding's units (septets, octets or UTF-16 code
    /// units): alone, and with a 6-octet concatenation UDH in front.
    pub fn limits(self) -> (usize, usize) {
        match self {
            Coding::Gsm7 => (160, 153),
            Coding::Ascii | Coding::Latin1 | Coding::Cyrillic | Coding::Hebrew => (140, 134),
            Coding::Ucs2 => (70, 67),
        }
    }

    /// Units of one character, or `None` when the coding cannot carry it.
    pub fn units(self, c: char) -> Option<usize> {
        match self {
            Coding::Gsm7 => gsm::char_septets(c).map(<[u8]>::len),
            Coding::Ascii => c.is_ascii().then_some(1),
            Coding::Latin1 => (u32::from(c) <= 0xFF).then_some(1),
            Coding::Cyrillic => single_byte::cyrillic().octet(c).map(|_| 1),
            Coding::Hebrew => single_byte::hebrew().octet(c).map(|_| 1),
            Coding::Ucs2 => Some(c.len_utf16()),
        }
    }

    /// Whether the coding can carry all of `text`.
    pub fn can_encode(self, text: &str) -> bool {
        text.chars().all(|c| self.units(c).is_some())
    }

    /// The octets of `text` in this coding (GSM unpacked), or `None` if it cannot carry it.
    pub fn encode(self, text: &str) -> Option<Vec<u8>> {
        match self {
            Coding::Gsm7 => gsm::encode_unpacked(text),
            Coding::Ascii => text.is_ascii().then(|| text.as_bytes().to_vec()),
            Coding::Latin1 => text
                .chars()
                .map(|c| u8::try_from(u32::from(c)).ok())
                .collect(),
            Coding::Cyrillic => text
                .chars()
                .map(|c| single_byte::cyrillic().octet(c))
                .collect(),
            Coding::Hebrew => text
                .chars()
                .map(|c| single_byte::hebrew().octet(c))
                .collect(),
            Coding::Ucs2 => Some(text.encode_utf16().flat_map(u16::to_be_bytes).collect()),
        }
    }
}

/// Decodes a short message's octets by data_coding. GSM is read unpacked; 6 and 7 as
/// ISO-8859-5 and -8; UCS-2 as UTF-16BE (a leading byte-order mark is honoured and removed);
/// unknown codings as Latin-1, which loses nothing and shows every octet.
///
/// data_coding 1 is IA5/ASCII in SMPP 3.4, but some peers (node-smpp among them) put GSM
/// 03.38 septets there: a control octet other than CR and LF cannot be ASCII text and marks
/// GSM (docs/decisions/0003-data-coding-1.md).
pub fn decode(data_coding: u8, octets: &[u8]) -> String {
    match data_coding {
        0 => gsm::decode_unpacked(octets),
        6 => single_byte::cyrillic().decode(octets),
        7 => single_byte::hebrew().decode(octets),
        8 => decode_utf16(octets),
        1 if octets.iter().any(|&b| b < 0x20 && b != b'\r' && b != b'\n') => {
            gsm::decode_unpacked(octets)
        }
        1 => octets
            .iter()
            .map(|&b| if b < 0x80 { b as char } else { '\u{FFFD}' })
            .collect(),
        _ => octets.iter().map(|&b| b as char).collect(),
    }
}

fn decode_utf16(octets: &[u8]) -> String {
    let little = octets.starts_with(&[0xFF, 0xFE]);
    let body = if octets.starts_with(&[0xFE, 0xFF]) || little {
        &octets[2..]
    } else {
        octets
    };
    let units: Vec<u16> = body
        .chunks_exact(2)
        .map(|p| {
            if little {
                u16::from_le_bytes([p[0], p[1]])
            } else {
                u16::from_be_bytes([p[0], p[1]])
            }
        })
        .collect();
    String::from_utf16_lossy(&units)
}

/// Splits `text` into segments of at most `max_units` units each, between characters, so that
/// no GSM escape pair and no surrogate pair is ever split. With `at_whitespace`, a split is
/// moved back to just before the last whitespace of the segment when there is one (Momentum's
/// `SMPP_Sms_Segment_Boundary`). Returns `None` when the coding cannot carry the text.
pub fn split(
    text: &str,
    coding: Coding,
    max_units: usize,
    at_whitespace: bool,
) -> Option<Vec<String>> {
    let max_units = max_units.max(2);
    let mut segments = Vec::new();
    let mut current = String::new();
    let mut used = 0;
    for c in text.chars() {
        let u = coding.units(c)?;
        if used + u > max_units {
            let mut carry = String::new();
            if at_whitespace
                && let Some(pos) = current.rfind(char::is_whitespace)
                && pos > 0
            {
                carry = current.split_off(pos);
            }
            segments.push(std::mem::take(&mut current));
            used = carry.chars().map(|c| coding.units(c).unwrap_or(1)).sum();
            current = carry;
            // The carried word and a two-unit character (a GSM escape pair, a surrogate
            // pair) may not fit together: the carry is a segment of its own then.
            if used + u > max_units {
                segments.push(std::mem::take(&mut current));
                used = 0;
            }
        }
        current.push(c);
        used += u;
    }
    if !current.is_empty() || segments.is_empty() {
        segments.push(current);
    }
    Some(segments)
}

/// Segments for a message: one if it fits a single SMS, else pieces sized for the
/// concatenation method (`udh`: a header takes room in each piece; SAR: it does not).
pub fn segment(text: &str, coding: Coding, udh: bool, at_whitespace: bool) -> Option<Vec<String>> {
    let (single, multi) = coding.limits();
    let total: usize = text
        .chars()
        .map(|c| coding.units(c))
        .sum::<Option<usize>>()?;
    if total <= single {
        return Some(vec![text.to_string()]);
    }
    split(
        text,
        coding,
        if udh { multi } else { single },
        at_whitespace,
    )
}

/// Concatenation information of one segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Concat {
    pub reference: u16,
    pub total: u8,
    pub seq: u8,
}

/// The concatenation UDH (TS 23.040 §9.2.3.24.1 and .8): 8-bit reference (IEI 0x00) when
/// `wide` is false, 16-bit (IEI 0x08) when true. Includes the UDH length octet.
pub fn concat_udh(c: Concat, wide: bool) -> Vec<u8> {
    if wide {
        let r = c.reference.to_be_bytes();
        vec![6, 0x08, 4, r[0], r[1], c.total, c.seq]
    } else {
        vec![5, 0x00, 3, c.reference as u8, c.total, c.seq]
    }
}

/// Reads a user data header at the start of `short_message` (when esm_class has UDHI):
/// the concatenation element if there is one, and where the text starts.
pub fn parse_udh(short_message: &[u8]) -> Option<(Option<Concat>, usize)> {
    parse_udh_wide(short_message).map(|(c, at)| (c.map(|(c, _)| c), at))
}

/// As [`parse_udh`], saying also whether the concatenation element has a 16-bit reference
/// (IEI 0x08) rather than an 8-bit one (IEI 0x00): two messages with the same reference number
/// in the two forms are different messages. The last well-formed element counts.
pub fn parse_udh_wide(short_message: &[u8]) -> Option<(Option<(Concat, bool)>, usize)> {
    let udhl = *short_message.first()? as usize;
    let header = short_message.get(1..1 + udhl)?;
    let mut concat = None;
    let mut i = 0;
    while i + 2 <= header.len() {
        let (iei, len) = (header[i], header[i + 1] as usize);
        let data = header.get(i + 2..i + 2 + len)?;
        match (iei, len) {
            (0x00, 3) => {
                let c = Concat {
                    reference: u16::from(data[0]),
                    total: data[1],
                    seq: data[2],
                };
                concat = Some((c, false));
            }
            (0x08, 4) => {
                let c = Concat {
                    reference: u16::from_be_bytes([data[0], data[1]]),
                    total: data[2],
                    seq: data[3],
                };
                concat = Some((c, true));
            }
            _ => {}
        }
        i += 2 + len;
    }
    Some((concat, 1 + udhl))
}

/// The SAR TLVs carrying concatenation outside the text (SMPP 3.4 §5.3.2.22–24).
pub fn sar_tlvs(c: Concat) -> Vec<crate::pdu::Tlv> {
    use crate::pdu::{Tlv, tag};
    vec![
        Tlv::u16(tag::SAR_MSG_REF_NUM, c.reference),
        Tlv::u8(tag::SAR_TOTAL_SEGMENTS, c.total),
        Tlv::u8(tag::SAR_SEGMENT_SEQNUM, c.seq),
    ]
}

/// Concatenation read from SAR TLVs, when all three are present.
pub fn sar_of(pdu: &impl crate::pdu::Tlvs) -> Option<Concat> {
    use crate::pdu::tag;
    Some(Concat {
        reference: pdu.tlv_u16(tag::SAR_MSG_REF_NUM)?,
        total: pdu.tlv_u8(tag::SAR_TOTAL_SEGMENTS)?,
        seq: pdu.tlv_u8(tag::SAR_SEGMENT_SEQNUM)?,
    })
}

/// The esm_class bit saying short_message starts with a user data header.
pub const ESM_UDHI: u8 = 0x40;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_limits() {
        assert_eq!(
            segment(&"a".repeat(160), Coding::Gsm7, true, false)
                .unwrap()
                .len(),
            1
        );
        let s = segment(&"a".repeat(161), Coding::Gsm7, true, false).unwrap();
        assert_eq!(s.iter().map(String::len).collect::<Vec<_>>(), [153, 8]);
        let s = segment(&"a".repeat(321), Coding::Gsm7, false, false).unwrap();
        assert_eq!(s.iter().map(String::len).collect::<Vec<_>>(), [160, 160, 1]);
        assert_eq!(
            segment(&"я".repeat(70), Coding::Ucs2, true, false)
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            segment(&"я".repeat(71), Coding::Ucs2, true, false)
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn escape_pairs_and_surrogates_stay_whole() {
        // 152 plain septets then a euro sign (2 septets): it cannot start at septet 153.
        let text = "a".repeat(152) + "€" + &"b".repeat(10);
        let s = segment(&text, Coding::Gsm7, true, false).unwrap();
        assert_eq!(s[0], "a".repeat(152));
        assert!(s[1].starts_with('€'));
        let emoji = "x".repeat(66) + "😀" + "y";
        let s = split(&emoji, Coding::Ucs2, 67, false).unwrap();
        assert_eq!(s[0], "x".repeat(66));
        assert!(s[1].starts_with('😀'));
    }

    /// A split moved back to whitespace never leaves a segment over its room when a two-unit
    /// character follows the carried word.
    #[test]
    fn a_carried_word_and_an_escape_pair_stay_within_the_room() {
        let text = "a ".to_string() + &"b".repeat(158) + "€";
        let s = split(&text, Coding::Gsm7, 160, true).unwrap();
        for seg in &s {
            assert!(
                seg.chars()
                    .map(|c| Coding::Gsm7.units(c).unwrap())
                    .sum::<usize>()
                    <= 160
            );
        }
        assert_eq!(s.concat(), text);
        let text = "a ".to_string() + &"b".repeat(68) + "😀";
        let s = split(&text, Coding::Ucs2, 70, true).unwrap();
        assert!(
            s.iter().all(|seg| seg.encode_utf16().count() <= 70),
            "{s:?}"
        );
    }

    #[test]
    fn udh_round_trip() {
        let c = Concat {
            reference: 0x1234,
            total: 3,
            seq: 2,
        };
        let mut sm = concat_udh(c, true);
        sm.extend_from_slice(b"text");
        assert_eq!(parse_udh(&sm), Some((Some(c), 7)));
        let small = concat_udh(
            Concat {
                reference: 9,
                total: 2,
                seq: 1,
            },
            false,
        );
        assert_eq!(
            parse_udh(&small),
            Some((
                Some(Concat {
                    reference: 9,
                    total: 2,
                    seq: 1
                }),
                6
            ))
        );
        assert_eq!(parse_udh(&[9, 0]), None, "header longer than the message");
    }

    /// Reference 7 as an 8-bit and as a 16-bit element are told apart; a malformed 8-bit element
    /// before a valid 16-bit one: the 16-bit one counts.
    #[test]
    fn the_reference_width_is_read() {
        let wide = |sm: &[u8]| parse_udh_wide(sm).and_then(|(c, _)| c).map(|(_, w)| w);
        assert_eq!(wide(&[5, 0x00, 3, 7, 3, 1, b'a']), Some(false));
        assert_eq!(wide(&[6, 0x08, 4, 0, 7, 3, 1, b'a']), Some(true));
        assert_eq!(wide(&[8, 0x00, 0, 0x08, 4, 0, 7, 3, 1, b'a']), Some(true));
    }

    #[test]
    fn sar_round_trip() {
        let c = Concat {
            reference: 0xBEEF,
            total: 4,
            seq: 3,
        };
        let sm = crate::pdu::ShortMessage {
            tlvs: sar_tlvs(c),
            ..Default::default()
        };
        assert_eq!(sar_of(&sm), Some(c));
        assert_eq!(sar_of(&crate::pdu::ShortMessage::default()), None);
    }

    #[test]
    fn decoding_by_data_coding() {
        assert_eq!(decode(8, &[0x04, 0x3F, 0xD8, 0x3D, 0xDE, 0x00]), "п😀");
        assert_eq!(
            decode(8, &[0xFF, 0xFE, 0x41, 0x00]),
            "A",
            "little-endian BOM honoured"
        );
        assert_eq!(decode(3, &[0xE9]), "é");
        assert_eq!(decode(0, &[0x1B, 0x65]), "€");
        assert_eq!(decode(1, b"a@b $5"), "a@b $5", "IA5 stays ASCII");
        assert_eq!(
            decode(1, &[0x61, 0x00, 0x62, 0x02]),
            "a@b$",
            "GSM septets under data_coding 1"
        );
        assert_eq!(Coding::Latin1.encode("é"), Some(vec![0xE9]));
        assert_eq!(Coding::Latin1.encode("€"), None);
    }
}
