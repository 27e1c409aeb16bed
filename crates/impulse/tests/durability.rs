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
         domain \"example.com\" {{ Gateway = \"127.0.0.1:{sink_port}\" }}\nRetry_Interval = 1\nMax_Retry_Interval = 1\n\
         Control_Listener {{ Listen \"{{CONTROL_SOCK}}\" {{ }} }}\n"
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
    // Impulse was killed and reaped before the sink listened: nothing can have reached it.
    assert_eq!(
        sink.count(),
        0,
        "Impulse is down: nothing can have been delivered yet"
    );
    imp.restart();
    let got = sink.wait_count(1, Duration::from_secs(30));
    assert!(got[0].contains("survive a crash"));
    imp.wait_queues(0, 0);
    assert_eq!(sink.count(), 1, "delivered once");
}

fn sms_config(smsc_port: u16, gateway_port: u16) -> String {
    format!(
        "Spoolbase = \"{{SPOOL}}\"\nESMTP_Listener {{ Listen \"127.0.0.1:{{SMTP_PORT}}\" {{ }} }}\n\
         Gateway = \"127.0.0.1:{gateway_port}\"\nRetry_Interval = 1\nMax_Retry_Interval = 1\n\
         domain \"sms.example.com\" {{\n  SMPP_SMSC_Server = \"127.0.0.1\"\n  SMPP_SMSC_Port = {smsc_port}\n  SMPP_ESME_Address = \"12345\"\n  SMPP_Submit_Response_Timer = 60\n  SMPP_Persistent_Connections = [ default = 1 ]\n}}\n"
    )
}

/// An MO that Impulse acknowledged with deliver_sm_resp, then SIGKILL before its mail could
/// leave: after the restart the mail is delivered.
#[test]
fn acknowledged_mo_survives_sigkill() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = common::SimSmsc::start(&[]);
    let gateway = free_port(); // the mail server is down for now
    let mut imp = Impulse::start(tmp.path(), &sms_config(sim.smpp, gateway));
    common::wait_for("the persistent bind", Duration::from_secs(20), || {
        sim.control("stats").contains("bound=1")
    });
    assert_eq!(
        sim.control("mo 4445551234 12345 user@example.com(kept) survive a crash")
            .trim(),
        "ok"
    );
    common::wait_for("deliver_sm_resp", Duration::from_secs(20), || {
        sim.control("stats").contains("mo_acked=1")
    });
    imp.kill9();
    let sink = Sink::start_on(gateway, &tmp.path().join("sink"));
    imp.restart();
    let mail = &sink.wait_count(1, Duration::from_secs(30))[0];
    assert!(
        mail.contains("X-Envelope-To: user@example.com") && mail.contains("survive a crash"),
        "{mail}"
    );
}

/// An email for an SMS, SIGKILL while its submit_sm waits for a response: after the restart it
/// is submitted again and delivered (at least once: the SMSC may see it twice).
#[test]
fn mt_in_flight_survives_sigkill() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = common::SimSmsc::start(&[]);
    let mut imp = Impulse::start(tmp.path(), &sms_config(sim.smpp, free_port()));
    common::wait_for("the persistent bind", Duration::from_secs(20), || {
        sim.control("stats").contains("bound=1")
    });
    assert_eq!(sim.control("delay 600000").trim(), "ok"); // the SMSC stops answering
    let (ok, t) = swaks(
        imp.smtp_port,
        "alice@example.org",
        "4445551234@sms.example.com",
        &["--body", "in flight"],
    );
    assert!(ok, "{t}");
    common::wait_for("the submit at the SMSC", Duration::from_secs(20), || {
        sim.control("stats").starts_with("submits=1 ")
    });
    imp.kill9();
    assert_eq!(sim.control("delay 0").trim(), "ok");
    imp.restart();
    common::wait_for("the resubmission", Duration::from_secs(30), || {
        sim.control("stats").starts_with("submits=2 ")
    });
    assert!(
        sim.list().iter().all(|m| m[5].ends_with("in flight")),
        "{:?}",
        sim.list()
    );
}
