//! Temporary failures are retried on schedule; permanent failures and expiry bounce to the
//! sender as RFC 3464 reports; the null sender never gets a bounce.

mod common;

use std::time::{Duration, Instant};

use common::{Impulse, Sink, swaks, wait_for};

fn config(sink_port: u16, extra: &str) -> String {
    format!(
        "Spoolbase = \"{{SPOOL}}\"\nHostname = \"impulse.test\"\n\
         ESMTP_Listener {{ Listen \"127.0.0.1:{{SMTP_PORT}}\" {{ }} }}\n\
         domain \"example.com\" {{ }}\nGateway = \"127.0.0.1:{sink_port}\"\n{extra}\n\
         ec_logger \"l\" {{ mainlog = \"{{LOG}}/mainlog.ec\" }}\n\
         Control_Listener {{ Listen \"{{CONTROL_SOCK}}\" {{ }} }}\n"
    )
}

#[test]
fn temporary_failure_is_retried_with_doubling_interval() {
    let tmp = tempfile::tempdir().unwrap();
    let sink = Sink::start(&tmp.path().join("sink"));
    let imp = Impulse::start(
        tmp.path(),
        &config(sink.port, "Retry_Interval = 1\nMax_Retry_Interval = 60"),
    );
    let start = Instant::now();
    let (ok, t) = swaks(
        imp.smtp_port,
        "alice@example.org",
        "defer2-bob@example.com",
        &[],
    );
    assert!(ok, "{t}");
    let got = sink.wait_count(1, Duration::from_secs(30));
    let elapsed = start.elapsed();
    assert!(got[0].contains("X-Envelope-To: defer2-bob@example.com"));
    // Two deferrals: retries 1 s and then 2 s later.
    assert!(
        elapsed >= Duration::from_millis(2900),
        "retried too early: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(15),
        "retried too late: {elapsed:?}"
    );
    wait_for("D record", Duration::from_secs(5), || {
        imp.mainlog().contains("@D@")
    });
    let log = imp.mainlog();
    let temps: Vec<&str> = log.lines().filter(|l| l.contains("@T@")).collect();
    assert_eq!(temps.len(), 2, "{log}");
    assert!(
        temps[0].ends_with("451 4.3.0 <defer2-bob@example.com>: deferred attempt 1"),
        "{}",
        temps[0]
    );
    assert!(
        log.lines()
            .any(|l| l.contains("@D@") && l.split('@').nth(9) == Some("2")),
        "D record counts 2 retries: {log}"
    );
    assert_eq!(
        sink.messages()
            .iter()
            .filter(|m| m.contains("multipart/report"))
            .count(),
        0,
        "no bounce for a deferral"
    );
}

#[test]
fn permanent_failure_bounces_to_the_sender() {
    let tmp = tempfile::tempdir().unwrap();
    let sink = Sink::start(&tmp.path().join("sink"));
    let imp = Impulse::start(tmp.path(), &config(sink.port, ""));
    let (ok, t) = swaks(
        imp.smtp_port,
        "alice@example.org",
        "reject-bob@example.com",
        &["--header", "Subject: doomed"],
    );
    assert!(ok, "{t}");
    let got = sink.wait_count(1, Duration::from_secs(20));
    let dsn = &got[0];
    assert!(
        dsn.starts_with("X-Envelope-From: <>\r\nX-Envelope-To: alice@example.org\r\n"),
        "bounce from the null sender: {dsn}"
    );
    assert!(dsn.contains("Content-Type: multipart/report; report-type=delivery-status;"));
    assert!(dsn.contains("Final-Recipient: rfc822; reject-bob@example.com"));
    assert!(dsn.contains("Status: 5.1.1"));
    assert!(
        dsn.contains("Diagnostic-Code: smtp; 550 5.1.1 <reject-bob@example.com>: no such user")
    );
    assert!(
        dsn.contains("Subject: doomed"),
        "original headers are returned"
    );
    wait_for("P record", Duration::from_secs(5), || {
        imp.mainlog().contains("@P@")
    });
    imp.wait_queues(0, 0);
    assert_eq!(sink.count(), 1, "exactly one bounce");
}

#[test]
fn a_bounce_is_never_sent_to_the_null_sender() {
    let tmp = tempfile::tempdir().unwrap();
    let sink = Sink::start(&tmp.path().join("sink"));
    let imp = Impulse::start(tmp.path(), &config(sink.port, ""));
    let (ok, t) = swaks(imp.smtp_port, "<>", "reject-bob@example.com", &[]);
    assert!(ok, "{t}");
    wait_for("P record", Duration::from_secs(20), || {
        imp.mainlog().contains("@P@")
    });
    imp.wait_queues(0, 0);
    assert_eq!(sink.count(), 0);
}

#[test]
fn expiry_fails_the_message_and_bounces() {
    let tmp = tempfile::tempdir().unwrap();
    let sink = Sink::start(&tmp.path().join("sink"));
    let imp = Impulse::start(
        tmp.path(),
        &config(sink.port, "Retry_Interval = 1\nMessage_Expiration = 3"),
    );
    let (ok, t) = swaks(
        imp.smtp_port,
        "alice@example.org",
        "deferall-bob@example.com",
        &[],
    );
    assert!(ok, "{t}");
    let got = sink.wait_count(1, Duration::from_secs(30));
    let dsn = &got[0];
    assert!(dsn.contains("X-Envelope-To: alice@example.org"));
    assert!(dsn.contains("Status: 5.4.7"), "{dsn}");
    assert!(dsn.contains("exceeded max time without delivery"), "{dsn}");
    wait_for("P record", Duration::from_secs(5), || {
        imp.mainlog().contains("@P@")
    });
    let log = imp.mainlog();
    assert!(
        log.lines().filter(|l| l.contains("@T@")).count() >= 2,
        "{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.contains("@P@") && l.contains("exceeded max time")),
        "{log}"
    );
}
