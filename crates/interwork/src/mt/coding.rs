//! Which alphabet an MT text goes in and how it is cut: the preferred alphabet, look-alikes
//! when they save segments, else UCS-2; the data_coding value; the truncation marker and the
//! word it ends on. Used by [`super::convert_text`].

use impulse_smpp::text::Coding;

use super::{DataCoding, MtSettings, capacity, lookalike};

/// The alphabet the settings ask for: `SMPP_SMS_Data_Coding`, or the SMSC's default one.
pub(super) fn preferred_coding(s: &MtSettings) -> Coding {
    match s.data_coding {
        DataCoding::Default => s.default_alphabet.coding(),
        DataCoding::Ascii => Coding::Ascii,
        DataCoding::Latin1 => Coding::Latin1,
        DataCoding::Cyrillic => Coding::Cyrillic,
        DataCoding::Hebrew => Coding::Hebrew,
        DataCoding::Ucs2 => Coding::Ucs2,
    }
}

/// How many segments `text` takes in `coding` under these settings, before any size cap.
pub(super) fn segments_needed(text: &str, coding: Coding, s: &MtSettings) -> usize {
    let units: usize = text.chars().map(|c| coding.units(c).unwrap_or(1)).sum();
    let single = capacity(s.segment_size, coding);
    if units <= single {
        return 1;
    }
    let room = single.saturating_sub(if s.udh { udh_room(coding) } else { 0 });
    units.div_ceil(room.max(1))
}

/// The text and the coding it goes in: the preferred alphabet when it carries the text; with
/// `SMPP_Sms_Smart_Encoding`, the text with its look-alikes replaced when the preferred
/// alphabet then carries it in no more segments than UCS-2 would; else UCS-2. Also how many
/// characters were replaced, and which characters forced UCS-2.
pub(super) fn choose_coding(text: &str, s: &MtSettings) -> (String, Coding, usize, Vec<char>) {
    let preferred = preferred_coding(s);
    if preferred.can_encode(text) {
        return (text.to_string(), preferred, 0, Vec::new());
    }
    if s.smart_encoding {
        let (replaced, n) = lookalike::replace(text);
        if preferred.can_encode(&replaced)
            && segments_needed(&replaced, preferred, s) <= segments_needed(text, Coding::Ucs2, s)
        {
            return (replaced, preferred, n, Vec::new());
        }
    }
    let mut forced: Vec<char> = Vec::new();
    for c in text.chars() {
        let fixable = s.smart_encoding && lookalike::replacement(c).is_some();
        if preferred.units(c).is_none() && !fixable && !forced.contains(&c) {
            forced.push(c);
        }
    }
    if forced.is_empty() {
        // Only look-alikes, but replacing them would have cost more segments.
        forced =
            text.chars()
                .filter(|c| preferred.units(*c).is_none())
                .fold(Vec::new(), |mut v, c| {
                    if !v.contains(&c) {
                        v.push(c);
                    }
                    v
                });
    }
    (text.to_string(), Coding::Ucs2, 0, forced)
}

/// A UDH takes 6 octets of each segment's 140: 7 septets, 6 octets or 3 UCS-2 units.
pub(super) fn udh_room(coding: Coding) -> usize {
    match coding {
        Coding::Gsm7 => 7,
        Coding::Ascii | Coding::Latin1 | Coding::Cyrillic | Coding::Hebrew => 6,
        Coding::Ucs2 => 3,
    }
}

/// The truncation marker as `coding` can carry it: itself, its look-alike ("…" as "..."), or
/// nothing.
pub(super) fn marker_for(coding: Coding, s: &MtSettings) -> String {
    let m = s.truncation_marker.as_str();
    if coding.can_encode(m) {
        return m.to_string();
    }
    let (r, _) = lookalike::replace(m);
    if coding.can_encode(&r) {
        r
    } else {
        String::new()
    }
}

/// `cut`, a prefix of `text`, back to the end of its last whole word when it ends inside a
/// word and that word started in its last 20 characters.
pub(super) fn word_end<'a>(text: &str, cut: &'a str) -> &'a str {
    let inside = text[cut.len()..]
        .chars()
        .next()
        .is_some_and(|c| !c.is_whitespace());
    if !inside {
        return cut;
    }
    match cut
        .char_indices()
        .rev()
        .take(20)
        .find(|(_, c)| c.is_whitespace())
    {
        Some((i, _)) if i > 0 => &cut[..i],
        _ => cut,
    }
}

pub(super) fn units_of(text: &str, coding: Coding) -> usize {
    text.chars().map(|c| coding.units(c).unwrap_or(1)).sum()
}

/// The data_coding value for a coding under these settings: the SMSC's default alphabet is
/// sent as 0.
pub(super) fn data_coding_value(coding: Coding, s: &MtSettings) -> u8 {
    if coding == s.default_alphabet.coding() {
        0
    } else {
        coding.data_coding()
    }
}

/// Cuts `text` to at most `units` of `coding`, between characters.
pub(super) fn truncate_units(text: &str, coding: Coding, units: usize) -> (String, bool) {
    let mut used = 0;
    for (i, c) in text.char_indices() {
        let u = coding.units(c).unwrap_or(1);
        if used + u > units {
            return (text[..i].to_string(), true);
        }
        used += u;
    }
    (text.to_string(), false)
}
