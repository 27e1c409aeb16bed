//! Vendor TLVs (`SMPP_Vendor_TLV_Table`, docs/reference/momentum.md §2.1.1): which vendor-specific
//! optional parameters an SMSC uses, how to encode them on MT messages and how to read them on
//! MO messages and receipts.
//!
//! CSV lines `tagName, tagID (hex), type, minLen, maxLen, validIn[, default]`: type 0 is an
//! integer (big-endian, maxLen octets), 1 an octet string, 2 a NUL-terminated C string (the NUL
//! counts in the length, as everywhere in SMPP); validIn is a bit mask (0x01 MO, 0x02 MT, 0x04
//! delivery receipt); the default, when present, is sent on every MT message. Lines starting
//! with `;` or `#` are comments; empty lines are not allowed.

use super::Tlv;
use super::vendor_csv::{self, number};

pub const VALID_MO: u8 = 0x01;
pub const VALID_MT: u8 = 0x02;
pub const VALID_RECEIPT: u8 = 0x04;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlvKind {
    Integer,
    Octets,
    CString,
}

/// One row of the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VendorTlv {
    pub name: String,
    pub tag: u16,
    pub kind: TlvKind,
    pub min_len: usize,
    pub max_len: usize,
    pub valid_in: u8,
    /// The default value, already encoded (checked against the lengths when parsed).
    pub default: Option<Tlv>,
}

impl VendorTlv {
    /// `value` encoded as this TLV, or why it cannot be.
    pub fn encode(&self, value: &str) -> Result<Tlv, String> {
        let bytes = match self.kind {
            TlvKind::Integer => {
                let n: u64 = value
                    .trim()
                    .parse()
                    .map_err(|_| format!("`{value}` is not an integer"))?;
                let width = self.max_len;
                if width < 8 && n >> (8 * width) != 0 {
                    return Err(format!("{n} does not fit in {width} octets"));
                }
                n.to_be_bytes()[8 - width..].to_vec()
            }
            TlvKind::Octets => value.as_bytes().to_vec(),
            TlvKind::CString => [value.as_bytes(), &[0]].concat(),
        };
        if bytes.len() < self.min_len || bytes.len() > self.max_len {
            return Err(format!(
                "`{value}` is {} octets; {} allows {} to {}",
                bytes.len(),
                self.name,
                self.min_len,
                self.max_len
            ));
        }
        Ok(Tlv {
            tag: self.tag,
            value: bytes.into(),
        })
    }

    /// A received value as text: integers in decimal, strings as text when they are UTF-8,
    /// else in hexadecimal.
    pub fn decode(&self, value: &[u8]) -> String {
        match self.kind {
            TlvKind::Integer if value.len() <= 8 => value
                .iter()
                .fold(0u64, |n, b| n << 8 | u64::from(*b))
                .to_string(),
            _ => {
                let v = match self.kind {
                    TlvKind::CString => value.strip_suffix(&[0]).unwrap_or(value),
                    _ => value,
                };
                match std::str::from_utf8(v) {
                    Ok(s) if !s.chars().any(char::is_control) => s.to_string(),
                    _ => v.iter().map(|b| format!("{b:02x}")).collect(),
                }
            }
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VendorTlvs {
    pub entries: Vec<VendorTlv>,
}

impl VendorTlvs {
    /// Parses the table; every bad line is reported as (line number, problem).
    pub fn parse(text: &str) -> Result<VendorTlvs, Vec<(usize, String)>> {
        let mut entries: Vec<VendorTlv> = Vec::new();
        vendor_csv::rows(text, |line| {
            let row = parse_row(line)?;
            if entries
                .iter()
                .any(|e| e.tag == row.tag || e.name == row.name)
            {
                return Err(format!("{} (0x{:04x}) is listed twice", row.name, row.tag));
            }
            entries.push(row);
            Ok(())
        })?;
        Ok(VendorTlvs { entries })
    }

    /// The TLVs every MT message carries: the defaults of the rows valid on MT.
    pub fn mt_defaults(&self) -> impl Iterator<Item = &Tlv> {
        self.entries
            .iter()
            .filter(|e| e.valid_in & VALID_MT != 0)
            .filter_map(|e| e.default.as_ref())
    }

    /// The listed TLVs among `tlvs` that are valid where they arrived (`VALID_MO` or
    /// `VALID_RECEIPT`), as (name, value as text).
    pub fn read(&self, tlvs: &[Tlv], valid: u8) -> Vec<(String, String)> {
        tlvs.iter()
            .filter_map(|t| {
                let e = self
                    .entries
                    .iter()
                    .find(|e| e.tag == t.tag && e.valid_in & valid != 0)?;
                Some((e.name.clone(), e.decode(&t.value)))
            })
            .collect()
    }
}

fn parse_row(line: &str) -> Result<VendorTlv, String> {
    let cols: Vec<&str> = line.splitn(7, ',').map(str::trim).collect();
    if cols.len() < 6 {
        return Err(format!(
            "{} columns; want tagName, tagID, type, minLen, maxLen, validIn[, default]",
            cols.len()
        ));
    }
    let name = cols[0];
    // The name becomes a mail header name on MO: a token of letters, digits, `-` and `_`.
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!(
            "tag name `{name}` must be letters, digits, `-` and `_`"
        ));
    }
    let tag = number(cols[1])
        .filter(|t| *t <= 0xFFFF)
        .ok_or_else(|| format!("`{}` is not a 16-bit tag", cols[1]))? as u16;
    let kind = match cols[2] {
        "0" => TlvKind::Integer,
        "1" => TlvKind::Octets,
        "2" => TlvKind::CString,
        other => return Err(format!("type `{other}` is not 0, 1 or 2")),
    };
    let min_len =
        number(cols[3]).ok_or_else(|| format!("minLen `{}` is not a number", cols[3]))? as usize;
    let max_len =
        number(cols[4]).ok_or_else(|| format!("maxLen `{}` is not a number", cols[4]))? as usize;
    if min_len > max_len || max_len > 0xFFFF {
        return Err(format!("lengths {min_len} to {max_len} make no sense"));
    }
    if kind == TlvKind::Integer && !matches!(max_len, 1 | 2 | 4 | 8) {
        return Err(format!("an integer is 1, 2, 4 or 8 octets, not {max_len}"));
    }
    let valid_in = number(cols[5])
        .filter(|v| *v != 0 && *v <= 0x07)
        .ok_or_else(|| format!("validIn `{}` is not a mask of 0x01, 0x02 and 0x04", cols[5]))?
        as u8;
    let mut row = VendorTlv {
        name: name.to_string(),
        tag,
        kind,
        min_len,
        max_len,
        valid_in,
        default: None,
    };
    if let Some(value) = cols.get(6).filter(|v| !v.is_empty()) {
        row.default = Some(
            row.encode(cut_to(value, kind, max_len))
                .map_err(|e| format!("default: {e}"))?,
        );
    }
    Ok(row)
}

/// A string default cut to the row's maxLen octets (a C string keeps room for its NUL), at a
/// character boundary: the table's lengths are what the SMSC takes. The reference's own
/// example row (`my_operator, 0x1402, 1, 5, 5, 0x03, Message Systems`) sends `Messa`.
fn cut_to(value: &str, kind: TlvKind, max_len: usize) -> &str {
    let room = match kind {
        TlvKind::Integer => return value,
        TlvKind::Octets => max_len,
        TlvKind::CString => max_len.saturating_sub(1),
    };
    if value.len() <= room {
        return value;
    }
    let mut end = room;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference's example rows load; a string default longer than maxLen is cut to it.
    #[test]
    fn the_reference_example_rows_load() {
        let t = VendorTlvs::parse(
            "my_operator, 0x1402, 1, 5, 5, 0x03, Message Systems\nmy_sessionid, 0x1404, 2, 1, 64, 0x03\n",
        )
        .unwrap();
        let d = t.entries[0].default.as_ref().unwrap();
        assert_eq!(&d.value[..], b"Messa");
        let c = VendorTlvs::parse("c, 0x1405, 2, 1, 4, 0x02, abcdef\n").unwrap();
        assert_eq!(&c.entries[0].default.as_ref().unwrap().value[..], b"abc\0");
        assert!(
            VendorTlvs::parse("s, 0x1406, 1, 4, 8, 0x02, ab\n").is_err(),
            "too short stays an error"
        );
    }

    #[test]
    fn rows_defaults_and_reading() {
        let t = VendorTlvs::parse(
            "; vendor TLVs\n\
             my_operator, 0x1402, 1, 1, 20, 0x03, Message Systems\n\
             my_sessionid, 0x1404, 2, 1, 64, 0x03\n\
             my_priority, 0x1405, 0, 2, 2, 0x02, 258\n\
             my_network, 0x1406, 0, 1, 1, 0x05\n",
        )
        .unwrap();
        let mt: Vec<&Tlv> = t.mt_defaults().collect();
        assert_eq!(mt.len(), 2);
        assert_eq!(
            (mt[0].tag, &mt[0].value[..]),
            (0x1402, &b"Message Systems"[..])
        );
        assert_eq!((mt[1].tag, &mt[1].value[..]), (0x1405, &[1u8, 2][..]));
        let mo = [
            Tlv::bytes(0x1404, b"abc\0".to_vec()),
            Tlv::bytes(0x1406, vec![7]),
            Tlv::bytes(0x1405, vec![0, 1]), // MT only: not read on MO
            Tlv::bytes(0x1999, vec![1]),    // not listed
        ];
        assert_eq!(
            t.read(&mo, VALID_MO),
            vec![
                ("my_sessionid".into(), "abc".into()),
                ("my_network".into(), "7".into())
            ]
        );
        assert_eq!(
            t.read(&mo, VALID_RECEIPT),
            vec![("my_network".into(), "7".into())]
        );
    }

    #[test]
    fn every_bad_line_is_reported() {
        let errors = VendorTlvs::parse(
            "a, 0x1402, 1, 5, 5, 0x03, Message Systems\n\
             \n\
             b c, 0x1403, 1, 1, 5, 0x03\n\
             d, 0x1404, 3, 1, 5, 0x03\n\
             e, 0x1405, 0, 3, 3, 0x02\n\
             f, 0x1406, 1, 1, 5, 0x09\n\
             g, 0x1407, 1, 1\n",
        )
        .unwrap_err();
        let lines: Vec<usize> = errors.iter().map(|(n, _)| *n).collect();
        // Line 1 is the reference's example row: it loads (its default is cut to maxLen).
        assert_eq!(lines, vec![2, 3, 4, 5, 6, 7], "{errors:?}");
    }
}
