//! Impulse as a relay, end to end over loopback: third-party clients (swaks, Postfix's
//! smtp-source) send to Impulse, which delivers to a third-party sink (aiosmtpd) named by
//! `Gateway`; and the listener's answers to what a hostile or careless client sends.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{Impulse, RawClient, Sink, swaks};

fn config(sink_port: u16, extra: &str) -> String {
    format!(
        "Spoolbase = \"{{SPOOL}}\"\nHostname = \"impulse.test\"\n\
         ESMTP_Listener {{\n  Listen \"127.0.0.1:{{SMTP_PORT}}\" {{ }}\n  Max_Message_Size = 100K\n{extra}}}\n\
         domain \"example.com\" {{ Gateway = \"127.0.0.1:{sink_port}\" }}\n\
         Gateway = \"127.0.0.1:{sink_port}\"\n\
         ec_logger \"l\" {{ mainlog = \"{{LOG}}/mainlog.ec\" paniclog = \"{{LOG}}/paniclog.ec\" }}\n\
         Control_Listener {{ Listen \"{{CONTROL_SOCK}}\" {{ }} }}\n"
    )
}

#[test]
fn swaks_to_impulse_to_aiosmtpd() {
    let tmp = tempfile::tempdir().unwrap();
    let sink = Sink::start(&tmp.path().join("sink"));
    let imp = Impulse::start(tmp.path(), &config(sink.port, ""));
    let (ok, transcript) = swaks(
        imp.smtp_port,
        "alice@example.org",
        "bob@example.com",
        &[
            "--header",
            "Subject: relay test",
            "--body",
            "Hello through Impulse.\n.leading dot line\n",
        ],
    );
    assert!(ok, "{transcript}");
    assert!(
        transcript.contains("250 2.0.0 Ok: queued as"),
        "{transcript}"
    );
    let got = sink.wait_count(1, Duration::from_secs(20));
    let msg = &got[0];
    assert!(
        msg.starts_with(
            "X-Envelope-From: <alice@example.org>\r\nX-Envelope-To: bob@example.com\r\n"
        ),
        "{msg}"
    );
    assert!(
        msg.contains("Received: from "),
        "a Received: header is added: {msg}"
    );
    assert!(
        msg.contains("by impulse.test (Impulse) with ESMTP"),
        "{msg}"
    );
    assert!(msg.contains("Subject: relay test"));
    assert!(msg.contains("Hello through Impulse."));
    assert!(
        msg.contains("\r\n.leading dot line\r\n"),
        "dot-stuffing undone on both hops: {msg}"
    );

    // Mainlog: one reception and one delivery record for the message, `@`-delimited.
    common::wait_for("D record", Duration::from_secs(5), || {
        imp.mainlog().contains("@D@")
    });
    let log = imp.mainlog();
    let r: Vec<&str> = log
        .lines()
        .find(|l| l.contains("@R@"))
        .unwrap()
        .split('@')
        .collect();
    assert_eq!(
        &r[4..10],
        [
            "R",
            "bob",
            "example.com",
            "alice",
            "example.org",
            "127.0.0.1"
        ]
    );
    let d: Vec<&str> = log
        .lines()
        .find(|l| l.contains("@D@"))
        .unwrap()
        .split('@')
        .collect();
    assert_eq!(d[1], r[1], "same message id in R and D");
    assert_eq!((d[4], d[5], d[11]), ("D", "example.com", "127.0.0.1"));
}

#[test]
fn smtp_source_sends_10000_and_all_arrive() {
    let tmp = tempfile::tempdir().unwrap();
    let sink = Sink::start(&tmp.path().join("sink"));
    let imp = Impulse::start(
        tmp.path(),
        &config(sink.port, "  Relay_Hosts = ( \"127.0.0.1\" )\n"),
    );
    let out = Command::new("smtp-source")
        .args([
            "-s",
            "20",
            "-l",
            "1024",
            "-m",
            "10000",
            "-f",
            "load@example.org",
            "-t",
            "sink@example.com",
        ])
        .arg(format!("127.0.0.1:{}", imp.smtp_port))
        .output()
        .expect("smtp-source (Debian package postfix) is needed");
    assert!(
        out.status.success(),
        "smtp-source: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = sink.wait_count(10_000, Duration::from_secs(240));
    assert_eq!(
        got.len(),
        10_000,
        "every accepted message arrives exactly once"
    );
    let log = imp.mainlog();
    assert_eq!(log.lines().filter(|l| l.contains("@R@")).count(), 10_000);
    common::wait_for("10000 D records", Duration::from_secs(10), || {
        imp.mainlog().lines().filter(|l| l.contains("@D@")).count() == 10_000
    });
}

#[test]
fn relay_control_size_limit_and_garbage() {
    let tmp = tempfile::tempdir().unwrap();
    let sink = Sink::start(&tmp.path().join("sink"));
    let imp = Impulse::start(tmp.path(), &config(sink.port, ""));
    let mut c = RawClient::connect(imp.smtp_port);
    assert!(c.cmd("EHLO client.test").contains("250-PIPELINING"));
    assert!(c.cmd("MAIL FROM:<a@example.org>").starts_with("250"));
    // 127.0.0.1 is not in Relay_Hosts here: only configured domains are accepted.
    assert!(
        c.cmd("RCPT TO:<victim@elsewhere.example>")
            .starts_with("550 5.7.1")
    );
    assert!(c.cmd("RCPT TO:<bob@example.com>").starts_with("250"));
    // Garbage gets 500 and the session goes on.
    assert!(c.cmd("HELLO THERE").starts_with("500"));
    assert!(c.cmd("\u{1}\u{2}\u{3}").starts_with("500"));
    assert!(c.cmd("NOOP").starts_with("250"));
    // Oversize: 552 after the body, and nothing is queued.
    assert!(c.cmd("DATA").starts_with("354"));
    let line = "x".repeat(998) + "\r\n";
    for _ in 0..150 {
        c.send(line.as_bytes());
    }
    assert!(c.cmd(".").starts_with("552 5.3.4"));
    // SIZE declared up front is refused at MAIL.
    assert!(
        c.cmd("MAIL FROM:<a@example.org> SIZE=200000")
            .starts_with("552")
    );
    // A too-long command line.
    assert!(c.cmd(&"A".repeat(10_000)).starts_with("500 5.5.2"));
    assert!(c.cmd("VRFY bob").starts_with("252"));
    assert!(c.cmd("QUIT").starts_with("221"));
    imp.wait_queues(0, 0);
    assert_eq!(
        sink.count(),
        0,
        "nothing was accepted, so nothing is delivered"
    );
    assert!(!imp.mainlog().contains("@R@"));
}

#[test]
fn pipelined_transaction_gets_every_reply_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let sink = Sink::start(&tmp.path().join("sink"));
    let imp = Impulse::start(tmp.path(), &config(sink.port, ""));
    let mut c = RawClient::connect(imp.smtp_port);
    assert!(c.cmd("EHLO pipe.test").starts_with("250"));
    c.send(b"MAIL FROM:<p@example.org>\r\nRCPT TO:<one@example.com>\r\nRCPT TO:<two@example.com>\r\nDATA\r\n");
    assert!(c.reply().starts_with("250 2.1.0"));
    assert!(c.reply().starts_with("250 2.1.5"));
    assert!(c.reply().starts_with("250 2.1.5"));
    assert!(c.reply().starts_with("354"));
    c.send(b"Subject: pipelined\r\n\r\nbody\r\n.\r\nQUIT\r\n");
    assert!(c.reply().starts_with("250 2.0.0 Ok: queued as"));
    assert!(c.reply().starts_with("221"));
    let got = sink.wait_count(1, Duration::from_secs(20));
    assert!(
        got[0].contains("X-Envelope-To: one@example.com,two@example.com"),
        "{}",
        got[0]
    );
}

#[test]
fn peer_rules_refuse_or_trust_a_client() {
    let tmp = tempfile::tempdir().unwrap();
    let sink = Sink::start(&tmp.path().join("sink"));
    let imp = Impulse::start(
        tmp.path(),
        &config(
            sink.port,
            "  Peer \"127.0.0.3/32\" { Always_Deny = true }\n  Peer \"127.0.0.4/32\" { Always_Allow = true }\n",
        ),
    );
    let send = |from_ip: &str| {
        swaks(
            imp.smtp_port,
            "alice@example.org",
            "bob@elsewhere.example",
            &["--local-interface", from_ip, "--body", "hi"],
        )
    };
    let (ok, t) = send("127.0.0.3");
    assert!(!ok, "{t}");
    assert!(t.contains("554 5.7.1 impulse.test access denied"), "{t}");
    // 127.0.0.1 may not relay to a domain that is not configured; a trusted peer may.
    let (ok, t) = send("127.0.0.1");
    assert!(!ok && t.contains("550 5.7.1 Relaying denied"), "{t}");
    let (ok, t) = send("127.0.0.4");
    assert!(ok, "{t}");
    let mails = sink.wait_count(1, Duration::from_secs(20));
    assert!(mails[0].contains("bob@elsewhere.example"), "{}", mails[0]);
}
