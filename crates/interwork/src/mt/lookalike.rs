//! Look-alike replacements ("smart encoding"): punctuation and spaces that GSM 03.38 lacks,
//! written as the GSM characters they look like, so that a text whose only non-GSM characters
//! are a no-break space, typographic quotes or a dash goes in 160-septet segments instead of
//! 70-character UCS-2 ones. Operators bill per segment.
//!
//! The table holds punctuation, spaces and symbols only: never a letter or a digit, so no word
//! changes its spelling (an `é` stays an `é`, and forces UCS-2 if the alphabet lacks it). The
//! caller applies it only when the replaced text fits the preferred alphabet in no more
//! segments (see `mt::convert_text`). Documented in docs/sms-text.md.

/// What each character is written as; `""` removes it (invisible characters).
pub const TABLE: &[(char, &str)] = &[
    // Spaces: no-break, en/em and the other typographic spaces, ideographic space.
    ('\u{00A0}', " "),
    ('\u{1680}', " "),
    ('\u{2000}', " "),
    ('\u{2001}', " "),
    ('\u{2002}', " "),
    ('\u{2003}', " "),
    ('\u{2004}', " "),
    ('\u{2005}', " "),
    ('\u{2006}', " "),
    ('\u{2007}', " "),
    ('\u{2008}', " "),
    ('\u{2009}', " "),
    ('\u{200A}', " "),
    ('\u{202F}', " "),
    ('\u{205F}', " "),
    ('\u{3000}', " "),
    ('\t', " "),
    // Line and paragraph separators.
    ('\u{2028}', "\n"),
    ('\u{2029}', "\n"),
    // Invisible: zero-width space, joiners, word joiner, byte-order mark, soft hyphen.
    ('\u{200B}', ""),
    ('\u{200C}', ""),
    ('\u{200D}', ""),
    ('\u{2060}', ""),
    ('\u{FEFF}', ""),
    ('\u{00AD}', ""),
    // Single quotes, apostrophes, primes, backtick and acute accent.
    ('\u{2018}', "'"),
    ('\u{2019}', "'"),
    ('\u{201A}', "'"),
    ('\u{201B}', "'"),
    ('\u{2032}', "'"),
    ('\u{2039}', "'"),
    ('\u{203A}', "'"),
    ('`', "'"),
    ('\u{00B4}', "'"),
    // Double quotes, guillemets, double prime.
    ('\u{201C}', "\""),
    ('\u{201D}', "\""),
    ('\u{201E}', "\""),
    ('\u{201F}', "\""),
    ('\u{2033}', "\""),
    ('\u{00AB}', "\""),
    ('\u{00BB}', "\""),
    // Hyphens, dashes and the minus sign.
    ('\u{2010}', "-"),
    ('\u{2011}', "-"),
    ('\u{2012}', "-"),
    ('\u{2013}', "-"),
    ('\u{2014}', "-"),
    ('\u{2015}', "-"),
    ('\u{2212}', "-"),
    // Ellipsis, bullets and dots.
    ('\u{2026}', "..."),
    ('\u{2022}', "-"),
    ('\u{2023}', "-"),
    ('\u{2043}', "-"),
    ('\u{25E6}', "-"),
    ('\u{2219}', "-"),
    ('\u{00B7}', "."),
    // Symbols GSM lacks, written as their usual ASCII forms.
    ('\u{00A9}', "(C)"),
    ('\u{00AE}', "(R)"),
    ('\u{2122}', "(TM)"),
    ('\u{2044}', "/"),
    ('\u{00A6}', "|"),
];

/// What `c` is written as, when the table has it.
pub fn replacement(c: char) -> Option<&'static str> {
    // Most text is ASCII: only the tab and the backtick are in the table below 0x80.
    if c.is_ascii() && c != '\t' && c != '`' {
        return None;
    }
    TABLE.iter().find(|(k, _)| *k == c).map(|(_, v)| *v)
}

/// `text` with every table character replaced, and how many were replaced.
pub fn replace(text: &str) -> (String, usize) {
    let mut out = String::with_capacity(text.len());
    let mut n = 0;
    for c in text.chars() {
        match replacement(c) {
            Some(r) => {
                out.push_str(r);
                n += 1;
            }
            None => out.push(c),
        }
    }
    (out, n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use impulse_smpp::text::Coding;

    #[test]
    fn typography_becomes_gsm() {
        let (t, n) = replace("It\u{2019}s \u{201C}done\u{201D}\u{00A0}\u{2013} see `x`\u{2026}");
        assert_eq!(t, "It's \"done\" - see 'x'...");
        assert_eq!(n, 8);
        assert!(Coding::Gsm7.can_encode(&t));
    }

    /// The table never changes a letter or a digit, and every replacement is GSM (and ASCII).
    #[test]
    fn no_letter_is_replaced_and_every_replacement_is_gsm() {
        for (c, r) in TABLE {
            assert!(!c.is_alphanumeric(), "{c:?} is a letter or digit");
            assert!(
                Coding::Gsm7.can_encode(r) && r.is_ascii(),
                "{c:?} -> {r:?} is not GSM"
            );
            assert!(
                !Coding::Gsm7.can_encode(&c.to_string()),
                "{c:?} is GSM already"
            );
        }
        assert_eq!(replace("café naïve Ωμέγα 123").1, 0);
    }
}
