//! Email → SMS conversion on arbitrary mail (what any SMTP client may send to an SMPP domain),
//! with the default settings and with UDH segmentation into UCS-2: no panic, and every segment
//! fits one SMS (160 GSM septets or 140 octets, less the concatenation header when there is
//! one). With the text rules of docs/sms-text.md (look-alikes, reply trimming, a truncation
//! marker) as well: and look-alikes never change a letter or a digit. The same mail through
//! the MMS conversion must not panic either.
#![no_main]

use impulse_interwork::mt::{self, DataCoding, MtSettings};
use impulse_smpp::text::Coding;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let plain = MtSettings::default();
    let udh = MtSettings {
        udh: true,
        max_segments: 4,
        max_message: 560,
        data_coding: DataCoding::Ucs2,
        ..MtSettings::default()
    };
    let rules = MtSettings {
        udh: true,
        max_segments: 3,
        max_message: 480,
        trim_replies: true,
        smart_encoding: true,
        ..MtSettings::default()
    };
    for s in [&plain, &udh, &rules] {
        if let Ok(sms) = mt::convert(data, "sender@fuzz.example", s) {
            // GSM 03.38 goes one septet per octet: 160 of them, or 153 beside a UDH (7 septets);
            // the 8-bit and 16-bit codings have 140 octets, or 134 beside a UDH.
            let (limit, header) = match sms.coding {
                Coding::Gsm7 => (160, 7),
                _ => (140, 6),
            };
            let room = if s.udh && sms.segments.len() > 1 {
                header
            } else {
                0
            };
            for seg in &sms.segments {
                assert!(
                    seg.len() + room <= limit,
                    "{:?} segment of {} octets",
                    sms.coding,
                    seg.len()
                );
            }
            assert!(sms.segments.len() <= s.max_segments.max(1));
        }
    }
    // Look-alikes never touch a letter: the same mail with and without them, uncut, has the
    // same letters once the table's symbols are written out.
    let uncut = MtSettings {
        max_message: 255 * 160,
        max_segments: 255,
        ..MtSettings::default()
    };
    let exact = MtSettings {
        smart_encoding: false,
        ..uncut.clone()
    };
    if let (Ok(a), Ok(b)) = (
        mt::convert(data, "s@fuzz.example", &exact),
        mt::convert(data, "s@fuzz.example", &uncut),
    ) {
        let written = if b.replaced > 0 {
            mt::lookalike::replace(&a.text).0
        } else {
            a.text.clone()
        };
        let letters = |t: &str| {
            t.chars()
                .filter(|c| c.is_alphanumeric())
                .collect::<String>()
        };
        assert_eq!(letters(&written), letters(&b.text));
    }
    let _ = impulse_interwork::mms::from_email(data, false, 300 * 1024);
});
