//! The configuration parser and validator on arbitrary text (what an operator may write):
//! errors come back as diagnostics, never as a panic. Inputs naming `include` are skipped: an
//! include reads files from this machine's disk, which is not what this target explores.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if text.to_ascii_lowercase().contains("include") {
        return;
    }
    match impulse_config::from_str(std::path::Path::new("/nonexistent/fuzz.conf"), text) {
        Ok(_) => {}
        Err(diags) => assert!(!diags.is_empty(), "a refused file names at least one error"),
    }
});
