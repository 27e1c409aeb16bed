//! Delivery receipts on arbitrary input (what any SMSC may send in a deliver_sm): the Appendix
//! B text reader and the message-id keys never panic, and an id always yields its text key.
#![no_main]

use impulse_smpp::receipt::{self, IdFormat};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let r = receipt::parse_text(&text);
    if let Some(id) = &r.id {
        let keys = receipt::id_keys(id);
        assert!(keys[0].starts_with("s:"));
        for f in [IdFormat::String, IdFormat::Decimal, IdFormat::Hexadecimal] {
            let k = receipt::id_key(id, f);
            assert!(
                keys.contains(&k) || k.starts_with("s:"),
                "{k} not among {keys:?}"
            );
        }
    }
});
