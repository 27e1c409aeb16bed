//! The SMTP server session and DATA reader on arbitrary client input: the bytes are split into
//! lines as the listener splits them and fed in order. Whatever a client sends, every reply must
//! be a well-formed SMTP reply (a 2xx–5xx code, one CRLF per line, no CR or LF smuggled into the
//! text from what the client wrote) and the session must never panic.
#![no_main]

use impulse_smtp::inbound::{Credentials, DataReader, Limits, Session, Step};

fn check_reply(r: &impulse_smtp::Reply) {
    assert!((200..600).contains(&r.code), "reply code {}", r.code);
    let mut wire = Vec::new();
    r.write_to(&mut wire);
    let crlf = wire.windows(2).filter(|w| w == b"\r\n").count();
    let cr = wire.iter().filter(|b| **b == b'\r').count();
    let lf = wire.iter().filter(|b| **b == b'\n').count();
    assert_eq!((crlf, cr, lf), (r.lines.len().max(1), crlf, crlf), "{wire:?}");
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
    let mut reader: Option<DataReader> = None;
    for line in data.split_inclusive(|b| *b == b'\n') {
        if let Some(r) = reader.as_mut() {
            if r.line(line) {
                let body = reader.take().expect("in data").finish();
                let env = session.envelope().expect("a transaction is open during DATA");
                assert!(!env.recipients.is_empty());
                if let Ok(body) = &body {
                    assert!(body.len() <= 4096);
                }
                session.data_done(body.is_ok());
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
                reader = Some(DataReader::new(4096));
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
