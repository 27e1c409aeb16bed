//! Email → SMS (docs/reference/momentum.md §1.3 steps 3–10): pick the text ([`select`]), trim a reply when
//! asked ([`trim`]), tidy its whitespace, build the interworking format `from (subject) body`
//! within the configured sizes, choose the cheapest faithful data coding ([`lookalike`]), and
//! cut the text into segments, marking a cut. Pure: bytes in, values out. The decisions taken
//! where the spec is ambiguous are in docs/decisions/0006-interworking-format.md; the text
//! rules in docs/sms-text.md.

mod coding;
pub mod lookalike;
pub mod select;
pub mod trim;

use impulse_smpp::text::{self, Coding};

use coding::{
    choose_coding, data_coding_value, marker_for, truncate_units, udh_room, units_of, word_end,
};

pub use select::{EmailText, select_text};

/// `SMPP_SMS_Data_Coding`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataCoding {
    /// Use `SMPP_SMSC_Default_Alphabet` (data_coding 0 when that is GSM).
    Default,
    Ascii,
    Latin1,
    /// ISO-8859-5 (data_coding 6), which Momentum also calls `Latin-5`.
    Cyrillic,
    /// ISO-8859-8 (data_coding 7), which Momentum also calls `Latin-8` and `Latin`.
    Hebrew,
    Ucs2,
}

impl DataCoding {
    /// The names and numbers Momentum accepts (§2.1).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "default" | "0" => Self::Default,
            "ascii" | "us-ascii" | "1" => Self::Ascii,
            "latin-1" | "latin1" | "iso-8859-1" | "3" => Self::Latin1,
            "latin-5" | "cyrillic" | "iso-8859-5" | "6" => Self::Cyrillic,
            "latin-8" | "latin" | "hebrew" | "iso-8859-8" | "7" => Self::Hebrew,
            "ucs2" | "ucs-2" | "utf-16" | "utf16" | "8" => Self::Ucs2,
            _ => return None,
        })
    }
}

/// `SMPP_SMSC_Default_Alphabet`: what data_coding 0 means to the SMSC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultAlphabet {
    Gsm,
    Ascii,
    Latin1,
    Cyrillic,
    Hebrew,
    Ucs2,
}

impl DefaultAlphabet {
    /// GSM by its names, and every name `SMPP_SMS_Data_Coding` takes (Momentum: "same names
    /// plus GSM, GSM0338").
    pub fn parse(s: &str) -> Option<Self> {
        let lower = s.trim().to_ascii_lowercase();
        if matches!(lower.as_str(), "gsm" | "gsm0338" | "default") {
            return Some(Self::Gsm);
        }
        Some(match DataCoding::parse(&lower)? {
            DataCoding::Default => Self::Gsm,
            DataCoding::Ascii => Self::Ascii,
            DataCoding::Latin1 => Self::Latin1,
            DataCoding::Cyrillic => Self::Cyrillic,
            DataCoding::Hebrew => Self::Hebrew,
            DataCoding::Ucs2 => Self::Ucs2,
        })
    }

    /// The coding data_coding 0 stands for.
    pub fn coding(self) -> Coding {
        match self {
            Self::Gsm => Coding::Gsm7,
            Self::Ascii => Coding::Ascii,
            Self::Latin1 => Coding::Latin1,
            Self::Cyrillic => Coding::Cyrillic,
            Self::Hebrew => Coding::Hebrew,
            Self::Ucs2 => Coding::Ucs2,
        }
    }
}

/// The settings of §2.1 that shape an MT message.
#[derive(Clone, Debug)]
pub struct MtSettings {
    /// `SMPP_Max_Sms_From_Size` (0: no sender part).
    pub max_from: usize,
    /// `SMPP_Max_Sms_Subject_Size` (0: no subject part).
    pub max_subject: usize,
    /// `SMPP_Max_Sms_Message_Size`, in GSM terms (see [`capacity`]).
    pub max_message: usize,
    /// `SMPP_Sms_Segment_Size`, in GSM terms.
    pub segment_size: usize,
    /// `SMPP_Sms_Segment_Boundary`.
    pub segment_boundary: bool,
    /// `SMPP_ESME_Max_Segments`.
    pub max_segments: usize,
    pub data_coding: DataCoding,
    pub default_alphabet: DefaultAlphabet,
    /// `SMPP_ESME_UDH_Segment`: concatenate by UDH (takes room in each segment) instead of SAR.
    pub udh: bool,
    /// UCS-2 text starts with a byte-order mark (`SMPP_SMS_Data_No_BOM = false`).
    pub ucs2_bom: bool,
    /// `SMPP_Sms_Smart_Encoding`: look-alike replacements when they save segments.
    pub smart_encoding: bool,
    /// `SMPP_Sms_Trim_Replies`: quoted originals, signatures and disclaimers removed.
    pub trim_replies: bool,
    /// `SMPP_Sms_Truncation_Marker`: ends a text that was cut ("" for none).
    pub truncation_marker: String,
}

impl Default for MtSettings {
    /// Momentum 3.3.3 defaults.
    fn default() -> Self {
        MtSettings {
            max_from: 0,
            max_subject: 10,
            max_message: 160,
            segment_size: 160,
            segment_boundary: false,
            max_segments: 255,
            data_coding: DataCoding::Default,
            default_alphabet: DefaultAlphabet::Gsm,
            udh: false,
            ucs2_bom: false,
            smart_encoding: true,
            trim_replies: false,
            truncation_marker: "\u{2026}".to_string(),
        }
    }
}

/// An SMS ready to be submitted: its text and the encoded payload of each segment (without a
/// concatenation header, which the submitter adds with its reference number).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sms {
    /// The whole text after the interworking format and truncation.
    pub text: String,
    pub coding: Coding,
    pub data_coding: u8,
    pub segments: Vec<Vec<u8>>,
    /// Some text did not fit `SMPP_Max_Sms_Message_Size` or `SMPP_ESME_Max_Segments`.
    pub truncated: bool,
    /// Where a reply should go: the mail's From address, else its envelope sender (kept as the
    /// reverse address mapping).
    pub reply_to: String,
    /// Characters written as their GSM look-alikes ([`lookalike`]).
    pub replaced: usize,
    /// The characters of the text that the preferred alphabet lacks, when the SMS went as
    /// UCS-2 for them (each once, in order of appearance).
    pub ucs2_forced_by: Vec<char>,
    /// Where the mail was read in a charset other than the one it declares ([`select`]).
    pub charset_notes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MtError {
    #[error("recipient {0:?} is not a phone number (digits, optionally after a +)")]
    NotANumber(String),
    #[error("the message is not a readable email")]
    Unparsable,
}

impl MtError {
    /// The permanent failure Impulse records and bounces with.
    pub fn response(&self) -> String {
        match self {
            MtError::NotANumber(_) => format!("554 5.1.3 {self}"),
            MtError::Unparsable => format!("554 5.6.0 {self}"),
        }
    }
}

/// The destination number of a recipient: its local part, digits with an optional leading
/// `+` (removed), at most 20 digits as SMPP's destination_addr allows.
pub fn destination(recipient: &str) -> Result<String, MtError> {
    let local = recipient.rsplit_once('@').map_or(recipient, |(l, _)| l);
    let digits = local.strip_prefix('+').unwrap_or(local);
    if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(MtError::NotANumber(local.to_string()));
    }
    Ok(digits.to_string())
}

/// What one SMS without a concatenation header holds in `coding`'s units, for a size given in
/// GSM terms: 160 septets are 140 octets and 70 UCS-2 characters, and other sizes scale alike.
pub fn capacity(gsm_units: usize, coding: Coding) -> usize {
    let (single, _) = coding.limits();
    (gsm_units * single / 160).max(1)
}

/// Line breaks as one LF, trailing space trimmed, and no run of blank lines: an SMS has no room
/// for a mail's layout.
///
/// Runs of spaces (alignment, indentation) become one space and lines lose their leading and
/// trailing space; line breaks stay, as they carry meaning (addresses, lists).
fn tidy_body(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut blank_run = 0;
    for line in body.replace("\r\n", "\n").lines() {
        let line = collapse_spaces(line.trim());
        let line = line.as_str();
        if line.is_empty() {
            blank_run += 1;
            if blank_run > 1 {
                continue;
            }
        } else {
            blank_run = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.trim().to_string()
}

/// Every run of two or more whitespace characters as one space.
fn collapse_spaces(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_whitespace() && chars.peek().is_some_and(|n| n.is_whitespace()) {
            while chars.peek().is_some_and(|n| n.is_whitespace()) {
                chars.next();
            }
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

fn first_chars(s: &str, n: usize) -> &str {
    s.char_indices().nth(n).map_or(s, |(i, _)| &s[..i])
}

/// `from (subject) body`, each part present only when it has content and its size is not 0,
/// parts separated by one space (Momentum's worked example).
pub fn interworking_text(from: &str, subject: &str, body: &str, s: &MtSettings) -> String {
    let mut parts: Vec<String> = Vec::new();
    let from = first_chars(from.trim(), s.max_from);
    if !from.is_empty() {
        parts.push(from.to_string());
    }
    let subject = first_chars(subject.trim(), s.max_subject).trim_end();
    if !subject.is_empty() {
        parts.push(format!("({subject})"));
    }
    let body = tidy_body(body);
    if !body.is_empty() {
        parts.push(body);
    }
    parts.join(" ")
}

/// Converts an email to the SMS to submit.
pub fn convert(raw: &[u8], envelope_sender: &str, s: &MtSettings) -> Result<Sms, MtError> {
    let email = select_text(raw, envelope_sender)?;
    let body = if s.trim_replies {
        trim::trim_reply(&email.body)
    } else {
        email.body
    };
    let mut sms = convert_text(&interworking_text(&email.from, &email.subject, &body, s), s);
    sms.reply_to = email.from;
    sms.charset_notes = email.charset_notes;
    Ok(sms)
}

/// Chooses the coding, applies the sizes and segments an already assembled text. A text cut by
/// `SMPP_Max_Sms_Message_Size` or `SMPP_ESME_Max_Segments` ends with the truncation marker.
pub fn convert_text(text: &str, s: &MtSettings) -> Sms {
    let (text, coding, replaced, ucs2_forced_by) = choose_coding(text, s);
    let single = capacity(s.segment_size, coding);
    // A byte-order mark is part of the first segment and takes one UCS-2 unit of its room.
    let bom = coding == Coding::Ucs2 && s.ucs2_bom;
    let text = if bom { format!("\u{FEFF}{text}") } else { text };
    let marker = marker_for(coding, s);
    let marker_units = units_of(&marker, coding);
    let allowed = (s.max_message / s.segment_size.max(1))
        .max(1)
        .min(s.max_segments.max(1));
    let mut budget = capacity(s.max_message.max(1), coding);
    let mut truncated = false;
    let (text, pieces) = loop {
        let (mut cut, over) = truncate_units(&text, coding, budget);
        if over {
            truncated = true;
            if !marker.is_empty() && marker_units < budget {
                let (shorter, _) = truncate_units(&text, coding, budget - marker_units);
                cut = word_end(&text, &shorter).trim_end().to_string() + &marker;
            }
        }
        let pieces = if units_of(&cut, coding) <= single {
            vec![cut.clone()]
        } else {
            let room = if s.udh { udh_room(coding) } else { 0 };
            text::split(
                &cut,
                coding,
                single.saturating_sub(room).max(2),
                s.segment_boundary,
            )
            .unwrap_or_default()
        };
        if pieces.len() <= allowed || budget == 0 {
            break (cut, pieces);
        }
        // Too many segments: cut to what the allowed ones hold, and go again.
        truncated = true;
        let fits = units_of(&pieces[..allowed].concat(), coding);
        budget = fits.min(budget - 1);
    };
    let segments = pieces
        .iter()
        .map(|p| coding.encode(p).unwrap_or_default())
        .collect();
    let text = if bom {
        text.trim_start_matches('\u{FEFF}').to_string()
    } else {
        text
    };
    Sms {
        data_coding: data_coding_value(coding, s),
        text,
        coding,
        segments,
        truncated,
        reply_to: String::new(),
        replaced,
        ucs2_forced_by,
        charset_notes: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worked_example_of_momentum() {
        // §1.3 step 5: from-size 12, subject-size 10, message-size 140.
        let s = MtSettings {
            max_from: 12,
            max_subject: 10,
            max_message: 140,
            segment_size: 140,
            ..MtSettings::default()
        };
        assert_eq!(
            interworking_text(
                "mickey@disneyworld.com",
                "stay in touch",
                "Greetings from Orlando!",
                &s
            ),
            "mickey@disne (stay in to) Greetings from Orlando!"
        );
    }

    #[test]
    fn parts_are_omitted_when_empty_or_sized_zero() {
        let s = MtSettings {
            max_from: 0,
            max_subject: 0,
            ..MtSettings::default()
        };
        assert_eq!(interworking_text("a@b", "subj", "body", &s), "body");
        let s = MtSettings {
            max_from: 20,
            max_subject: 10,
            ..MtSettings::default()
        };
        assert_eq!(
            interworking_text("a@b", "", "body", &s),
            "a@b body",
            "no empty parentheses"
        );
        assert_eq!(interworking_text("a@b", "hi", "", &s), "a@b (hi)");
        assert_eq!(
            interworking_text("", "hi", "line1\r\n\r\n\r\nline2  \r\n", &s),
            "(hi) line1\n\nline2"
        );
    }

    #[test]
    fn replies_go_to_the_from_address() {
        let raw = b"From: Alice <alice@example.org>\r\nSubject: x\r\n\r\nbody\r\n";
        assert_eq!(
            convert(raw, "bounces@example.org", &MtSettings::default())
                .unwrap()
                .reply_to,
            "alice@example.org"
        );
        let raw = b"Subject: x\r\n\r\nbody\r\n";
        assert_eq!(
            convert(raw, "bounces@example.org", &MtSettings::default())
                .unwrap()
                .reply_to,
            "bounces@example.org"
        );
    }

    #[test]
    fn numbers_only() {
        assert_eq!(
            destination("4445551234@sms.example.com").unwrap(),
            "4445551234"
        );
        assert_eq!(
            destination("+15551234567@sms.example.com").unwrap(),
            "15551234567"
        );
        assert!(
            matches!(destination("bob@sms.example.com"), Err(MtError::NotANumber(l)) if l == "bob")
        );
        assert!(
            destination("123456789012345678901@x").is_err(),
            "over 20 digits"
        );
        assert!(destination("@x").is_err());
    }

    #[test]
    fn coding_falls_back_to_ucs2_and_sizes_scale() {
        let s = MtSettings::default();
        let gsm = convert_text("Price: 5€ [sale]", &s);
        assert_eq!((gsm.coding, gsm.data_coding), (Coding::Gsm7, 0));
        let emoji = convert_text("Hello 😀", &s);
        assert_eq!((emoji.coding, emoji.data_coding), (Coding::Ucs2, 8));
        // 160 in GSM terms is 70 UCS-2 units: a longer UCS-2 text is truncated at the default size.
        let long = convert_text(&"я".repeat(100), &s);
        assert_eq!(
            (
                long.text.chars().count(),
                long.truncated,
                long.segments.len()
            ),
            (70, true, 1)
        );
        let latin = convert_text(
            "café",
            &MtSettings {
                data_coding: DataCoding::Latin1,
                ..s.clone()
            },
        );
        assert_eq!(
            (latin.data_coding, latin.segments[0].clone()),
            (3, b"caf\xe9".to_vec())
        );
    }

    #[test]
    fn ucs2_byte_order_mark_when_asked() {
        let s = MtSettings {
            ucs2_bom: true,
            ..MtSettings::default()
        };
        let sms = convert_text("Привет", &s);
        assert_eq!(&sms.segments[0][..2], &[0xFE, 0xFF]);
        assert_eq!(sms.text, "Привет");
        assert_eq!(
            impulse_smpp::text::decode(8, &sms.segments[0]),
            "Привет",
            "the BOM is read and dropped"
        );
        let plain = convert_text("Привет", &MtSettings::default());
        assert_eq!(&plain.segments[0][..2], &[0x04, 0x1F]);
    }

    #[test]
    fn long_messages_segment_by_sar_or_udh() {
        let s = MtSettings {
            max_message: 3200,
            ..MtSettings::default()
        };
        let text = "x".repeat(400);
        let sar = convert_text(&text, &s);
        assert_eq!(
            sar.segments.iter().map(Vec::len).collect::<Vec<_>>(),
            [160, 160, 80]
        );
        let udh = convert_text(
            &text,
            &MtSettings {
                udh: true,
                ..s.clone()
            },
        );
        assert_eq!(
            udh.segments.iter().map(Vec::len).collect::<Vec<_>>(),
            [153, 153, 94]
        );
        // Capped by SMPP_ESME_Max_Segments.
        let capped = convert_text(
            &text,
            &MtSettings {
                max_segments: 2,
                ..s
            },
        );
        assert_eq!(
            (capped.segments.len(), capped.truncated, capped.text.len()),
            (2, true, 320)
        );
    }

    /// A reply full of no-break spaces and typographic quotes goes in GSM, not UCS-2; a letter
    /// GSM lacks still forces UCS-2, and is named.
    #[test]
    fn look_alikes_save_segments_and_letters_are_never_replaced() {
        let s = MtSettings {
            max_message: 1600,
            ..MtSettings::default()
        };
        let text = "It\u{2019}s\u{00A0}fine \u{2013} \u{201C}see you\u{201D}\u{2026} ".repeat(6);
        let smart = convert_text(&text, &s);
        assert_eq!((smart.coding, smart.replaced), (Coding::Gsm7, 36));
        assert!(smart.text.starts_with("It's fine - \"see you\"... "));
        let exact = convert_text(
            &text,
            &MtSettings {
                smart_encoding: false,
                ..s.clone()
            },
        );
        assert_eq!(exact.coding, Coding::Ucs2);
        assert!(
            smart.segments.len() < exact.segments.len(),
            "{} vs {}",
            smart.segments.len(),
            exact.segments.len()
        );
        assert_eq!(
            exact.ucs2_forced_by,
            [
                '\u{2019}', '\u{00A0}', '\u{2013}', '\u{201C}', '\u{201D}', '\u{2026}'
            ]
        );
        let letter = convert_text("\u{201C}Zoë\u{201D} \u{00E1}", &s);
        assert_eq!((letter.coding, letter.replaced), (Coding::Ucs2, 0));
        assert_eq!(
            letter.text, "\u{201C}Zoë\u{201D} \u{00E1}",
            "exact text kept"
        );
        assert_eq!(letter.ucs2_forced_by, ['ë', '\u{00E1}']);
    }

    /// A cut text ends with the marker, as "..." in GSM, and still fits its segments.
    #[test]
    fn a_cut_text_is_marked() {
        let s = MtSettings::default();
        let gsm = convert_text(&"word ".repeat(50), &s);
        assert!(gsm.truncated);
        assert!(gsm.text.ends_with(" word..."), "{}", gsm.text);
        assert!(gsm.segments[0].len() <= 160);
        let ucs2 = convert_text(&"слово ".repeat(30), &s);
        assert!(ucs2.text.ends_with("слово\u{2026}"), "{}", ucs2.text);
        assert!(ucs2.text.chars().count() <= 70);
        let none = convert_text(
            &"word ".repeat(50),
            &MtSettings {
                truncation_marker: String::new(),
                ..s.clone()
            },
        );
        assert!(none.truncated && !none.text.contains('.'), "{}", none.text);
        assert_eq!(none.text.len(), 160, "cut where the room ends");
        let capped = convert_text(
            &"x".repeat(400),
            &MtSettings {
                max_message: 3200,
                max_segments: 2,
                udh: true,
                ..s
            },
        );
        assert_eq!(capped.segments.len(), 2);
        assert!(capped.text.ends_with("x..."), "no word to go back to");
        assert!(capped.segments.iter().all(|p| p.len() <= 153));
    }

    #[test]
    fn alignment_spaces_collapse_and_line_breaks_stay() {
        let s = MtSettings {
            max_subject: 0,
            ..MtSettings::default()
        };
        assert_eq!(
            interworking_text("", "", "Name:        Ann\r\n\tTotal:\t\t 12\r\n   Done", &s),
            "Name: Ann\nTotal: 12\nDone"
        );
    }

    /// Momentum's names for data_coding 6 and 7 (ISO-8859-5 and -8), as preferred alphabet
    /// and as the SMSC's default one (then sent as 0).
    #[test]
    fn cyrillic_and_hebrew_alphabets() {
        let cyr = MtSettings {
            data_coding: DataCoding::parse("Latin-5").unwrap(),
            ..MtSettings::default()
        };
        let sms = convert_text("Привет, мир", &cyr);
        assert_eq!((sms.coding, sms.data_coding), (Coding::Cyrillic, 6));
        assert_eq!(sms.segments[0][0], 0xBF, "П in ISO-8859-5");
        let heb = MtSettings {
            default_alphabet: DefaultAlphabet::parse("Hebrew").unwrap(),
            ..MtSettings::default()
        };
        let sms = convert_text("שלום", &heb);
        assert_eq!((sms.coding, sms.data_coding), (Coding::Hebrew, 0));
        // A character the alphabet lacks: UCS-2, as for any alphabet.
        assert_eq!(convert_text("Привет 😀", &cyr).coding, Coding::Ucs2);
        assert_eq!(DataCoding::parse("latin"), Some(DataCoding::Hebrew));
    }
}
