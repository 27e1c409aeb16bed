//! Nothing acknowledged is lost: a message that got 250 survives SIGKILL and is delivered
//! after the restart.

mod common;

use std::time::Duration;

use common::{Impulse, Sink, free_port, swaks};

#[test]
fn message_acknowledged_then_sigkill_is_delivered_after_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let sink_port = free_port(); // nothing listens there yet: the message must wait in the spool
    let conf = format!(
        "Spoolbase = \"{{SPOOL}}\"\nESMTP_Listener {{ Listen \"127.0.0.1:{{SMTP_PORT}}\" {{ }} }}\n\
         domain \"example.com\" {{ Gateway = \"127.0.0.1:{sink_port}\" }}\nRetry_Interval = 1\nMax_Retry_Interval = 1\n"
    );
    let mut imp = Impulse::start(tmp.path(), &conf);
    let (ok, transcript) = swaks(
        imp.smtp_port,
        "alice@example.org",
        "bob@example.com",
        &["--body", "survive a crash"],
    );
    assert!(
        ok && transcript.contains("250 2.0.0 Ok: queued as"),
        "{transcript}"
    );
    imp.kill9();

    let sink = Sink::start_on(sink_port, &tmp.path().join("sink"));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        sink.count(),
        0,
        "Impulse is down: nothing can have been delivered yet"
    );
    imp.restart();
    let got = sink.wait_count(1, Duration::from_secs(30));
    assert!(got[0].contains("survive a crash"));
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(sink.count(), 1, "delivered once");
}
