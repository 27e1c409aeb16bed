//! The 8-bit alphabets SMPP 3.4 names by data_coding besides Latin-1: 6 ISO-8859-5 (Latin/
//! Cyrillic) and 7 ISO-8859-8 (Latin/Hebrew). Their tables come from encoding_rs (the WHATWG
//! mappings every browser uses): each octet read once into a char, and the reverse map built
//! from that, so encoding and decoding agree by construction.

use std::collections::HashMap;
use std::sync::OnceLock;

pub struct Table {
    to_char: [Option<char>; 256],
    to_octet: HashMap<char, u8>,
}

impl Table {
    fn build(encoding: &'static encoding_rs::Encoding) -> Table {
        let mut to_char = [None; 256];
        let mut to_octet = HashMap::new();
        for b in 0..=255u8 {
            let octet = [b];
            let (text, had_errors) = encoding.decode_without_bom_handling(&octet);
            let mut chars = text.chars();
            if let (false, Some(c), None) = (had_errors, chars.next(), chars.next()) {
                to_char[b as usize] = Some(c);
                to_octet.entry(c).or_insert(b);
            }
        }
        Table { to_char, to_octet }
    }

    pub fn octet(&self, c: char) -> Option<u8> {
        self.to_octet.get(&c).copied()
    }

    /// Octets as text; one the alphabet leaves undefined shows as U+FFFD.
    pub fn decode(&self, octets: &[u8]) -> String {
        octets
            .iter()
            .map(|&b| self.to_char[b as usize].unwrap_or('\u{FFFD}'))
            .collect()
    }
}

pub fn cyrillic() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(|| Table::build(encoding_rs::ISO_8859_5))
}

pub fn hebrew() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(|| Table::build(encoding_rs::ISO_8859_8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cyrillic_and_hebrew_round_trip() {
        let c = cyrillic();
        assert_eq!(c.octet('Ж'), Some(0xB6));
        assert_eq!(c.octet('№'), Some(0xF0));
        assert_eq!(c.decode(&[0xB6, 0x41]), "ЖA");
        let h = hebrew();
        assert_eq!(h.octet('א'), Some(0xE0));
        assert_eq!(h.decode(&[0xE0, 0xEA]), "אך");
        assert_eq!(h.octet('Ж'), None);
        assert_eq!(h.decode(&[0xBF]), "\u{FFFD}", "undefined in ISO-8859-8");
    }
}
