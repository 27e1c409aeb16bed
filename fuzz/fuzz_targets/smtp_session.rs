//! The SMTP server session (its commands and the message body it reads itself) on arbitrary
//! client input: the bytes are split into lines as the listener splits them and fed in order.
//! Whatever a client sends, every reply must be a well-formed SMTP reply (a 2xx–5xx code, one
//! CRLF per line, no CR or LF smuggled into the text from what the client wrote) and the
//! session must never panic.
#![no_main]

use impulse_smtp::inbound::{Body, Credentials, Limits, Session, Step};

fn check_reply(r: &impulse_smtp::Reply) {
    assert!((200..600).contains(&r.code), "reply code {}", r.code);
    let mut wire = Vec::new();
    r.write_to(&mut wire);
    let crlf = wire.windows(2).filter(|w| w == b"\r\n").count();
    let cr = wire.iter().filter(|b| **b == b'\r').count();
    let lf = wire.iter().filter(|b| **b == b'\n').count();
    assert_eq!(
        (crlf, cr, lf),
        (r.lines.len().max(1), crlf, crlf),
        "{wire:?}"
    );
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // The first byte picks the listener: relay rights, STARTTLS offered or required, AUTH.
    let flags = data.first().copied().unwrap_or(0);
    let mut session = Session::new(Limits {
        relay_any: flags & 1 == 1,
        max_message_size: 4096,
        max_recipients: 5,
        max_receptions: 3,
        starttls: flags & 2 == 2,
        tls_required: flags & 4 == 4,
        auth: (flags & 8 == 8).then(|| Credentials::from_pairs(&["user:pw"])),
        ..Limits::plain("mx.fuzz")
    });
    check_reply(&session.greeting());
    // The session itself reads the body after DATA, as the listener drives it.
    for line in data.split_inclusive(|b| *b == b'\n') {
        if session.in_data() {
            match session.data_line(line) {
                Body::More => {}
                Body::Complete(env, body) => {
                    assert!(!env.recipients.is_empty());
                    assert!(body.len() <= 4096);
                    session.data_done(true);
                }
                Body::Refused(r) => {
                    check_reply(&r);
                    assert_eq!(r.code, 552);
                }
            }
            continue;
        }
        match session.command(line, |a| {
            if a.domain().eq_ignore_ascii_case("sms.example") {
                impulse_smtp::inbound::Recipient::Ours
            } else {
                impulse_smtp::inbound::Recipient::Elsewhere
            }
        }) {
            Step::Reply(r) => check_reply(&r),
            Step::StartData(r) => {
                check_reply(&r);
                assert_eq!(r.code, 354);
                assert!(session.in_data());
            }
            Step::Close(r) => {
                check_reply(&r);
                return;
            }
            Step::StartTls(r) => {
                check_reply(&r);
                // As if the handshake succeeded: the session starts over, now over TLS.
                session.tls_started();
            }
        }
    }
});
