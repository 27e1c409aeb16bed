//! Mail addresses from arbitrary bytes (any address field of SMTP, MM7 or SMPP): parsing never
//! panics, and whatever is accepted writes as a command line with no CR, LF or NUL, nothing
//! outside its quoted local part that could end the path or start a parameter, and reads back as
//! the same address.
#![no_main]

use impulse_smtp::Address;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let candidates = [
        Address::parse_bytes(data),
        Address::parse(&text),
        Address::from_unquoted(&text),
    ];
    for a in candidates.into_iter().flatten() {
        let wire = a.to_string();
        assert!(!wire.contains(['\r', '\n', '\0']), "{wire:?}");
        let bare = match wire.strip_prefix('"') {
            Some(_) => &wire[wire.rfind("\"@").expect("a closing quote") + 1..],
            None => &wire,
        };
        assert!(!bare.contains(['<', '>', ' ', '"']), "{wire:?}");
        assert_eq!(Address::parse(&wire).as_ref(), Ok(&a), "{wire:?}");
    }
});
