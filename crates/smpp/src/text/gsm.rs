//! GSM 03.38 (3GPP TS 23.038 §6.2.1): the default 7-bit alphabet and its extension table
//! (reached through the escape 0x1B), septet packing with UDH fill bits, and decoding for MO
//! messages and receipts. Written here: no crate does decode, packed and unpacked forms and
//! fill bits together (docs/reference/dependencies.md §2).

/// The default alphabet, by septet value.
const DEFAULT: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', //
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\u{1B}', 'Æ', 'æ', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
];

/// The extension table: septet after the escape, and the character it stands for.
const EXTENSION: [(u8, char); 10] = [
    (0x0A, '\u{0C}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x65, '€'),
];

pub const ESCAPE: u8 = 0x1B;

/// The septets of one character: one from the default table, or escape plus one.
pub fn char_septets(c: char) -> Option<&'static [u8]> {
    // Static slices so the hot path allocates nothing.
    static ONE: [[u8; 1]; 128] = {
        let mut t = [[0u8; 1]; 128];
        let mut i = 0;
        while i < 128 {
            t[i][0] = i as u8;
            i += 1;
        }
        t
    };
    static TWO: [[u8; 2]; 10] = {
        let mut t = [[0u8; 2]; 10];
        let mut i = 0;
        while i < 10 {
            t[i] = [ESCAPE, EXTENSION[i].0];
            i += 1;
        }
        t
    };
    if c == '\u{1B}' {
        return None; // the escape itself is not a character of the text
    }
    // Latin-1 characters (nearly every text) by table, the Greek capitals by search.
    static BY_LATIN1: [u8; 256] = {
        let mut t = [NONE; 256];
        let mut i = 0;
        while i < 128 {
            let code = DEFAULT[i] as u32;
            if code < 256 && t[code as usize] == NONE {
                t[code as usize] = i as u8;
            }
            i += 1;
        }
        t
    };
    const NONE: u8 = 0xFF;
    let code = u32::from(c);
    if code < 256 {
        let septet = BY_LATIN1[code as usize];
        if septet != NONE {
            return Some(&ONE[septet as usize]);
        }
    } else if let Some(i) = DEFAULT.iter().position(|d| *d == c) {
        return Some(&ONE[i]);
    }
    EXTENSION
        .iter()
        .position(|(_, e)| *e == c)
        .map(|i| &TWO[i][..])
}

/// Whether every character of `text` has a GSM 03.38 encoding.
pub fn is_encodable(text: &str) -> bool {
    text.chars().all(|c| char_septets(c).is_some())
}

/// Septets needed for `text` (extension characters count two), or `None` if not encodable.
pub fn septet_len(text: &str) -> Option<usize> {
    text.chars().map(|c| char_septets(c).map(<[u8]>::len)).sum()
}

/// One septet per octet (the usual form in SMPP's short_message). `None` if not encodable.
pub fn encode_unpacked(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        out.extend_from_slice(char_septets(c)?);
    }
    Some(out)
}

/// Decodes unpacked septets. An escape followed by a value without an extension character
/// shows the default-table character (TS 23.038 §6.2.1.1); a final lone escape is dropped.
pub fn decode_unpacked(septets: &[u8]) -> String {
    let mut out = String::with_capacity(septets.len());
    let mut i = 0;
    while i < septets.len() {
        let s = septets[i] & 0x7F;
        if s == ESCAPE {
            if let Some(&next) = septets.get(i + 1) {
                let next = next & 0x7F;
                match EXTENSION.iter().find(|(v, _)| *v == next) {
                    Some((_, c)) => out.push(*c),
                    None if next == ESCAPE => out.push(' '),
                    None => out.push(DEFAULT[next as usize]),
                }
                i += 2;
                continue;
            }
            break;
        }
        out.push(DEFAULT[s as usize]);
        i += 1;
    }
    out
}

/// Packs septets into octets, least significant bit first (TS 23.038 §6.1.2.1.1), after
/// `fill_bits` zero bits (0–6) that align the first septet after a user data header.
pub fn pack(septets: &[u8], fill_bits: u8) -> Vec<u8> {
    let total_bits = fill_bits as usize + septets.len() * 7;
    let mut out = vec![0u8; total_bits.div_ceil(8)];
    let mut bit = fill_bits as usize;
    for &s in septets {
        let v = u16::from(s & 0x7F) << (bit % 8);
        out[bit / 8] |= v as u8;
        if bit % 8 > 1 {
            out[bit / 8 + 1] |= (v >> 8) as u8;
        }
        bit += 7;
    }
    out
}

/// Unpacks `count` septets after `fill_bits` bits.
pub fn unpack(octets: &[u8], count: usize, fill_bits: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(count);
    let mut bit = fill_bits as usize;
    for _ in 0..count {
        let byte = bit / 8;
        if byte >= octets.len() {
            break;
        }
        let lo = u16::from(octets[byte]);
        let hi = u16::from(*octets.get(byte + 1).unwrap_or(&0));
        out.push((((hi << 8) | lo) >> (bit % 8)) as u8 & 0x7F);
        bit += 7;
    }
    out
}

/// Fill bits after a user data header of `udh_octets` (including its length octet), so that
/// the text starts on a septet boundary.
pub fn fill_bits(udh_octets: usize) -> u8 {
    ((7 - (udh_octets * 8) % 7) % 7) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        // "hellohello" packed, the classic example of TS 23.038.
        let s = encode_unpacked("hellohello").unwrap();
        assert_eq!(
            pack(&s, 0),
            [0xE8, 0x32, 0x9B, 0xFD, 0x46, 0x97, 0xD9, 0xEC, 0x37]
        );
        assert_eq!(decode_unpacked(&unpack(&pack(&s, 0), 10, 0)), "hellohello");
        assert_eq!(encode_unpacked("€[").unwrap(), [0x1B, 0x65, 0x1B, 0x3C]);
        assert_eq!(septet_len("a€"), Some(3));
        assert_eq!(encode_unpacked("Привет"), None);
        assert_eq!(fill_bits(6), 1);
        assert_eq!(fill_bits(7), 0);
        assert_eq!(
            decode_unpacked(&[0x1B, 0x41]),
            "A",
            "unknown escape shows the default character"
        );
        assert_eq!(decode_unpacked(&[0x41, 0x1B]), "A");
    }
}
