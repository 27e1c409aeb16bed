//! SMPP frame splitting and decoding on arbitrary bytes (what an SMSC or ESME may send).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    impulse_smpp::pdu::check_stream(data);
});
