//! Delivery receipts end to end: Impulse asks for them, the simulator sends them, Impulse
//! matches them to the SMS it submitted and mails the original sender as configured.

mod common;

use std::time::Duration;

use common::{Impulse, SimSmsc, Sink, swaks};

fn start(sim_args: &[&str], extra: &str) -> (tempfile::TempDir, Sink, SimSmsc, Impulse) {
    let tmp = tempfile::tempdir().unwrap();
    let sink = Sink::start(&tmp.path().join("sink"));
    let sim = SimSmsc::start(sim_args);
    let conf = format!(
        "Spoolbase = \"{{SPOOL}}\"\nHostname = \"impulse.test\"\nESMTP_Listener {{ Listen \"127.0.0.1:{{SMTP_PORT}}\" {{ }} }}\n\
         Gateway = \"127.0.0.1:{}\"\n\
         domain \"sms.example.com\" {{\n  SMPP_SMSC_Server = \"127.0.0.1\"\n  SMPP_SMSC_Port = {}\n  SMPP_ESME_Address = \"12345\"\n  SMPP_Registered_Delivery = ( \"SMSC_Delivery\" )\n{extra}}}\n\
         Control_Listener {{ Listen \"{{CONTROL_SOCK}}\" {{ }} }}\n",
        sink.port, sim.smpp
    );
    let imp = Impulse::start(tmp.path(), &conf);
    (tmp, sink, sim, imp)
}

#[test]
fn a_receipt_is_matched_and_mailed_to_the_sender_when_asked() {
    let (_tmp, sink, sim, _imp) = start(
        &["--delivered-percent", "100"],
        "  SMPP_Notify_Deliver_Receipt = ( \"ALL\" )\n",
    );
    let (ok, t) = swaks(
        _imp.smtp_port,
        "alice@example.org",
        "4445551234@sms.example.com",
        &["--body", "hello"],
    );
    assert!(ok, "{t}");
    let notice = &sink.wait_count(1, Duration::from_secs(20))[0];
    let id = &sim.list()[0][0];
    assert!(
        notice.starts_with("X-Envelope-From: <>\r\nX-Envelope-To: alice@example.org\r\n"),
        "{notice}"
    );
    assert!(
        notice.contains("Subject: SMS to 4445551234: DELIVRD"),
        "{notice}"
    );
    assert!(
        notice.contains(&format!("SMSC message id {id}")),
        "matched to the submitted segment: {notice}"
    );
}

#[test]
fn a_failed_receipt_always_tells_the_sender_and_a_delivered_one_only_when_asked() {
    let (_tmp, sink, _sim, imp) = start(&["--delivered-percent", "0"], "");
    let (ok, t) = swaks(
        imp.smtp_port,
        "alice@example.org",
        "4445551234@sms.example.com",
        &["--body", "hello"],
    );
    assert!(ok, "{t}");
    let notice = &sink.wait_count(1, Duration::from_secs(20))[0];
    assert!(
        notice.contains("Subject: Undelivered SMS to 4445551234 (UNDELIV)"),
        "{notice}"
    );

    let (_tmp2, sink2, sim2, imp2) = start(&["--delivered-percent", "100"], "");
    let (ok, t) = swaks(
        imp2.smtp_port,
        "alice@example.org",
        "4445551234@sms.example.com",
        &["--body", "hello"],
    );
    assert!(ok, "{t}");
    // Answered: a notice, if one were sent, is spooled before the receipt is answered.
    common::wait_for("the receipt answered", Duration::from_secs(20), || {
        sim2.control("stats").contains("mo_acked=1")
    });
    imp2.wait_queues(0, 0);
    assert_eq!(
        sink2.count(),
        0,
        "no notice for a delivered SMS unless SMPP_Notify_Deliver_Receipt asks"
    );
}

/// Receipts that reach Impulse before the submit_sm_resp of what they report on (issue #10):
/// each is held until its submission is recorded, then matched. 20 three-part messages, every
/// receipt sent ahead of its response: all 60 are matched (each one is mailed to the sender).
#[test]
fn receipts_sent_before_their_response_are_all_matched() {
    let (_tmp, sink, sim, imp) = start(
        &["--receipts-first", "--delivered-percent", "100"],
        "  SMPP_Notify_Deliver_Receipt = ( \"ALL\" )\n  SMPP_Max_Sms_Message_Size = 1000\n",
    );
    let long = "word ".repeat(70); // 350 GSM characters: 3 segments
    for i in 0..20 {
        let (ok, t) = swaks(
            imp.smtp_port,
            "alice@example.org",
            &format!("44455512{i:02}@sms.example.com"),
            &["--body", &format!("{i} {long}")],
        );
        assert!(ok, "{t}");
    }
    common::wait_for("60 receipts sent", Duration::from_secs(30), || {
        sim.control("stats").contains("receipts=60")
    });
    let notices = sink.wait_count(60, Duration::from_secs(30));
    assert_eq!(notices.len(), 60);
    for i in 0..20 {
        let n = notices
            .iter()
            .filter(|m| m.contains(&format!("Subject: SMS to 44455512{i:02}: DELIVRD")))
            .count();
        assert_eq!(
            n, 3,
            "a receipt per segment of the message to 44455512{i:02}"
        );
    }
}
