//! Property tests of the SMS text layer: GSM 03.38 round trips (unpacked and packed with any
//! fill), and segmentation that never exceeds a limit, never splits a character's units, and
//! loses nothing.

use impulse_smpp::text::{self, Coding, gsm};
use proptest::prelude::*;

/// Characters of the GSM default alphabet and extension table (with an escape among them).
fn gsm_text() -> impl Strategy<Value = String> {
    let alphabet: Vec<char> = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€\u{0C}"
        .chars()
        .collect();
    proptest::collection::vec(proptest::sample::select(alphabet), 0..400)
        .prop_map(|v| v.into_iter().collect())
}

proptest! {
    #[test]
    fn gsm_unpacked_round_trip(t in gsm_text()) {
        let septets = gsm::encode_unpacked(&t).unwrap();
        prop_assert_eq!(septets.len(), gsm::septet_len(&t).unwrap());
        prop_assert_eq!(gsm::decode_unpacked(&septets), t);
    }

    #[test]
    fn gsm_packed_round_trip(t in gsm_text(), fill in 0u8..7) {
        let septets = gsm::encode_unpacked(&t).unwrap();
        let packed = gsm::pack(&septets, fill);
        prop_assert_eq!(packed.len(), (fill as usize + septets.len() * 7).div_ceil(8));
        prop_assert_eq!(gsm::unpack(&packed, septets.len(), fill), septets);
    }

    #[test]
    fn gsm_segments_respect_limits_and_lose_nothing(t in gsm_text(), udh in any::<bool>(), ws in any::<bool>()) {
        let segs = text::segment(&t, Coding::Gsm7, udh, ws).unwrap();
        let (single, multi) = Coding::Gsm7.limits();
        let limit = if segs.len() == 1 { single } else if udh { multi } else { single };
        for s in &segs {
            prop_assert!(gsm::septet_len(s).unwrap() <= limit);
            // Every segment encodes on its own: no escape pair was cut in half.
            prop_assert_eq!(gsm::decode_unpacked(&gsm::encode_unpacked(s).unwrap()), s.clone());
        }
        prop_assert_eq!(segs.concat(), t);
    }

    #[test]
    fn ucs2_segments_never_split_surrogates(t in "\\PC{0,300}", udh in any::<bool>()) {
        let segs = text::segment(&t, Coding::Ucs2, udh, false).unwrap();
        let (single, multi) = Coding::Ucs2.limits();
        let limit = if segs.len() == 1 { single } else if udh { multi } else { single };
        for s in &segs {
            let bytes = Coding::Ucs2.encode(s).unwrap();
            prop_assert!(bytes.len() / 2 <= limit);
            prop_assert_eq!(text::decode(8, &bytes), s.clone());
        }
        prop_assert_eq!(segs.concat(), t);
    }

    #[test]
    fn decoding_any_octets_never_panics(dc in any::<u8>(), octets in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = text::decode(dc, &octets);
        let _ = text::parse_udh(&octets);
    }
}
