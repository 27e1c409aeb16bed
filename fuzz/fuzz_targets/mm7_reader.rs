//! The MM7 reader on arbitrary input (what an MMSC may POST): the first line is the HTTP
//! Content-Type, the rest the body; multipart splitting, envelope parsing and content lookup
//! must never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let content_type = String::from_utf8_lossy(&data[..split]).into_owned();
    let body = data.get(split + 1..).unwrap_or(&[]);
    if let Ok(msg) = impulse_mm7::read_body(Some(&content_type), body) {
        if let Ok(env) = impulse_mm7::read_envelope(&msg.envelope, impulse_mm7::Schema::Rel6_1_4) {
            let href = match &env.body {
                impulse_mm7::Body::DeliverReq(d) => d.content.as_ref().map(|c| c.href.clone()),
                impulse_mm7::Body::SubmitReq(s) => s.content.as_ref().map(|c| c.href.clone()),
                _ => None,
            };
            let _ = msg.content(href.as_deref());
            let _ = impulse_mm7::write_envelope(&env, &Default::default());
        }
    }
});
