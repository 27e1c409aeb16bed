//! Whole emails to SMS: which text is chosen, how charsets and transfer encodings are undone,
//! and what the SMS then holds.

use impulse_interwork::mt::{MtSettings, convert};
use impulse_smpp::text::{Coding, decode};

fn sms_text(raw: &str, s: &MtSettings) -> String {
    let sms = convert(raw.as_bytes(), "envelope@example.org", s).unwrap();
    sms.segments
        .iter()
        .map(|seg| {
            decode(
                if sms.coding == Coding::Ucs2 {
                    8
                } else if sms.coding == Coding::Latin1 {
                    3
                } else {
                    0
                },
                seg,
            )
        })
        .collect()
}

fn subject_and_from() -> MtSettings {
    MtSettings {
        max_from: 20,
        max_subject: 20,
        max_message: 1000,
        ..MtSettings::default()
    }
}

#[test]
fn plain_non_mime_mail() {
    let raw = "From: Alice <alice@example.org>\r\nTo: 4445551234@sms.example.com\r\nSubject: Lunch\r\n\r\nAt noon?\r\n";
    assert_eq!(
        sms_text(raw, &subject_and_from()),
        "alice@example.org (Lunch) At noon?"
    );
}

#[test]
fn the_first_text_part_and_no_attachment() {
    let raw = "From: a@example.org\r\nSubject: report\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
               --b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee attached.\r\n\
               --b1\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=r.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n\
               --b1--\r\n";
    assert_eq!(
        sms_text(raw, &MtSettings::default()),
        "(report) See attached."
    );
}

#[test]
fn html_only_mail_becomes_its_text() {
    let raw = "From: a@example.org\r\nSubject: news\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>Big <b>sale</b> today</p></body></html>\r\n";
    let text = sms_text(
        raw,
        &MtSettings {
            max_subject: 0,
            ..MtSettings::default()
        },
    );
    assert!(
        text.contains("Big") && text.contains("sale") && text.contains("today"),
        "{text}"
    );
    assert!(!text.contains('<'), "no markup: {text}");
}

#[test]
fn quoted_printable_latin1_is_decoded_then_sent_as_gsm() {
    let raw = "From: a@example.org\r\nSubject: =?iso-8859-1?q?Caf=E9?=\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nD=E9j=E0 vu =\r\n=E0 Paris\r\n";
    let s = MtSettings::default();
    let sms = convert(raw.as_bytes(), "", &s).unwrap();
    assert_eq!(sms.coding, Coding::Gsm7, "é and à are in the GSM alphabet");
    assert_eq!(sms.text, "(Café) Déjà vu à Paris");
}

#[test]
fn utf8_with_emoji_goes_ucs2() {
    let raw = "From: a@example.org\r\nSubject: hi\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n8J+YgCBzbWlsZQ==\r\n";
    let sms = convert(raw.as_bytes(), "", &MtSettings::default()).unwrap();
    assert_eq!((sms.coding, sms.data_coding), (Coding::Ucs2, 8));
    assert_eq!(sms.text, "(hi) 😀 smile");
    assert_eq!(decode(8, &sms.segments[0]), "(hi) 😀 smile");
}
