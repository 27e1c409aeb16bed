//! Email → SMS (Momentum §1.3 steps 3–10): select the text, build the interworking format
//! `from (subject) body` within the configured sizes, choose the data coding, and cut the text
//! into segments. Pure: bytes in, values out. The decisions taken where the spec is ambiguous
//! are in docs/decisions/0006-interworking-format.md.

use impulse_smpp::text::{self, Coding};
use mail_parser::MessageParser;

/// `SMPP_SMS_Data_Coding`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataCoding {
    /// Use `SMPP_SMSC_Default_Alphabet` (data_coding 0 when that is GSM).
    Default,
    Ascii,
    Latin1,
    Ucs2,
}

impl DataCoding {
    /// The names and numbers Momentum accepts (§2.1).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "default" | "0" => Self::Default,
            "ascii" | "us-ascii" | "1" => Self::Ascii,
            "latin-1" | "latin1" | "iso-8859-1" | "3" => Self::Latin1,
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
}

impl DefaultAlphabet {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "gsm" | "gsm0338" | "default" => Self::Gsm,
            "ascii" | "us-ascii" => Self::Ascii,
            "latin-1" | "latin1" | "iso-8859-1" => Self::Latin1,
            _ => return None,
        })
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

/// The text of an email for an SMS: the first text/plain part, else the HTML rendered as text,
/// else nothing; with the From address (or the envelope sender) and the subject.
pub struct EmailText {
    pub from: String,
    pub subject: String,
    pub body: String,
}

pub fn select_text(raw: &[u8], envelope_sender: &str) -> Result<EmailText, MtError> {
    let msg = MessageParser::default()
        .parse(raw)
        .ok_or(MtError::Unparsable)?;
    let from = msg
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .map(str::to_string);
    Ok(EmailText {
        from: from.unwrap_or_else(|| envelope_sender.to_string()),
        subject: msg.subject().unwrap_or("").to_string(),
        body: msg.body_text(0).map(|b| b.into_owned()).unwrap_or_default(),
    })
}

/// Line breaks as one LF, trailing space trimmed, and no run of blank lines: an SMS has no room
/// for a mail's layout.
fn tidy_body(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut blank_run = 0;
    for line in body.replace("\r\n", "\n").lines() {
        let line = line.trim_end();
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

fn choose_coding(text: &str, s: &MtSettings) -> Coding {
    let preferred = match s.data_coding {
        DataCoding::Default => match s.default_alphabet {
            DefaultAlphabet::Gsm => Coding::Gsm7,
            DefaultAlphabet::Ascii => Coding::Ascii,
            DefaultAlphabet::Latin1 => Coding::Latin1,
        },
        DataCoding::Ascii => Coding::Ascii,
        DataCoding::Latin1 => Coding::Latin1,
        DataCoding::Ucs2 => Coding::Ucs2,
    };
    if preferred.can_encode(text) {
        preferred
    } else {
        Coding::Ucs2
    }
}

/// The data_coding value for a coding under these settings: the SMSC's default alphabet is
/// sent as 0.
fn data_coding_value(coding: Coding, s: &MtSettings) -> u8 {
    let default = match s.default_alphabet {
        DefaultAlphabet::Gsm => Coding::Gsm7,
        DefaultAlphabet::Ascii => Coding::Ascii,
        DefaultAlphabet::Latin1 => Coding::Latin1,
    };
    if coding == default {
        0
    } else {
        coding.data_coding()
    }
}

/// Cuts `text` to at most `units` of `coding`, between characters.
fn truncate_units(text: &str, coding: Coding, units: usize) -> (String, bool) {
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

/// Converts an email to the SMS to submit.
pub fn convert(raw: &[u8], envelope_sender: &str, s: &MtSettings) -> Result<Sms, MtError> {
    let email = select_text(raw, envelope_sender)?;
    let mut sms = convert_text(
        &interworking_text(&email.from, &email.subject, &email.body, s),
        s,
    );
    sms.reply_to = email.from;
    Ok(sms)
}

/// Chooses the coding, applies the sizes and segments an already assembled text.
pub fn convert_text(text: &str, s: &MtSettings) -> Sms {
    let coding = choose_coding(text, s);
    let single = capacity(s.segment_size, coding);
    let max_total = capacity(s.max_message.max(1), coding);
    // A byte-order mark is part of the first segment and takes one UCS-2 unit of its room.
    let bom = coding == Coding::Ucs2 && s.ucs2_bom;
    let with_bom;
    let text = if bom {
        with_bom = format!("\u{FEFF}{text}");
        &with_bom[..]
    } else {
        text
    };
    let (mut text, mut truncated) = truncate_units(text, coding, max_total);
    let total_units: usize = text.chars().map(|c| coding.units(c).unwrap_or(1)).sum();
    let mut pieces = if total_units <= single {
        vec![text.clone()]
    } else {
        // A UDH takes 6 octets of each segment's 140: 7 septets, 6 octets or 3 UCS-2 units.
        let room = if s.udh {
            match coding {
                Coding::Gsm7 => 7,
                Coding::Ascii | Coding::Latin1 => 6,
                Coding::Ucs2 => 3,
            }
        } else {
            0
        };
        text::split(
            &text,
            coding,
            single.saturating_sub(room).max(2),
            s.segment_boundary,
        )
        .unwrap_or_default()
    };
    let allowed = (s.max_message / s.segment_size.max(1))
        .max(1)
        .min(s.max_segments.max(1));
    if pieces.len() > allowed {
        pieces.truncate(allowed);
        text = pieces.concat();
        truncated = true;
    }
    let segments = pieces
        .iter()
        .map(|p| coding.encode(p).unwrap_or_default())
        .collect();
    if bom {
        text = text.trim_start_matches('\u{FEFF}').to_string();
    }
    Sms {
        data_coding: data_coding_value(coding, s),
        text,
        coding,
        segments,
        truncated,
        reply_to: String::new(),
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
}
