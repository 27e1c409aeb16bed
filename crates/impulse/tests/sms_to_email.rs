//! SMS → email end to end: the simulator sends MO deliver_sm on the bind Impulse holds for an
//! SMPP domain; Impulse turns them into mail, spools it, answers, and delivers it by SMTP to an
//! aiosmtpd sink.

mod common;

use std::time::Duration;

use common::{Impulse, SimSmsc, Sink, swaks, wait_for};

fn start(extra: &str) -> (tempfile::TempDir, Sink, SimSmsc, Impulse) {
    start_with(&[], extra)
}

fn start_with(sim_args: &[&str], extra: &str) -> (tempfile::TempDir, Sink, SimSmsc, Impulse) {
    let tmp = tempfile::tempdir().unwrap();
    let sink = Sink::start(&tmp.path().join("sink"));
    let sim = SimSmsc::start(sim_args);
    let conf = format!(
        "Spoolbase = \"{{SPOOL}}\"\nESMTP_Listener {{ Listen \"127.0.0.1:{{SMTP_PORT}}\" {{ }} }}\n\
         Gateway = \"127.0.0.1:{}\"\n\
         domain \"sms.example.com\" {{\n  SMPP_SMSC_Server = \"127.0.0.1\"\n  SMPP_SMSC_Port = {}\n  SMPP_ESME_Address = \"12345\"\n{extra}}}\n\
         Control_Listener {{ Listen \"{{CONTROL_SOCK}}\" {{ }} }}\n",
        sink.port, sim.smpp
    );
    let imp = Impulse::start(tmp.path(), &conf);
    // The bind opens when mail is queued for the domain (a persistent receiver is not built yet).
    let (ok, t) = swaks(
        imp.smtp_port,
        "alice@example.org",
        "4445551234@sms.example.com",
        &["--body", "open the bind"],
    );
    assert!(ok, "{t}");
    wait_for("the bind", Duration::from_secs(20), || {
        sim.control("stats").contains("bound=1")
    });
    // The reverse mapping is saved once the SMSC has accepted that SMS, before its delivery
    // is recorded: with the queues empty, it is there.
    wait_for("the SMS at the SMSC", Duration::from_secs(20), || {
        sim.control("stats").starts_with("submits=1 ")
    });
    imp.wait_queues(0, 0);
    (tmp, sink, sim, imp)
}

fn header<'a>(mail: &'a str, name: &str) -> &'a str {
    mail.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("no {name} in {mail}"))
}

#[test]
fn interworking_address_and_subject() {
    let (_tmp, sink, sim, _imp) = start("");
    assert_eq!(
        sim.control("mo 4445551234 12345 user@example.com(Lunch?) see you at noon")
            .trim(),
        "ok"
    );
    let mail = &sink.wait_count(1, Duration::from_secs(20))[0];
    assert!(
        mail.starts_with(
            "X-Envelope-From: <4445551234@sms.example.com>\r\nX-Envelope-To: user@example.com\r\n"
        ),
        "{mail}"
    );
    assert_eq!(header(mail, "Subject"), "Lunch?");
    assert!(header(mail, "From").contains("4445551234@sms.example.com"));
    assert!(mail.contains("see you at noon"), "{mail}");
}

#[test]
fn default_address_and_from_domain() {
    let (_tmp, sink, sim, _imp) = start(
        "  SMPP_Default_Email_Address = \"ops@example.com\"\n  SMPP_Default_Email_From_Domain = \"txt.example.net\"\n  SMPP_GSM_Transcodes_To = \"utf-8\"\n",
    );
    assert_eq!(
        sim.control("mo 4447770000 12345 Hola, ¿qué tal?").trim(),
        "ok"
    );
    let mail = &sink.wait_count(1, Duration::from_secs(20))[0];
    assert!(mail.contains("X-Envelope-To: ops@example.com"), "{mail}");
    assert!(
        mail.contains("X-Envelope-From: <4447770000@txt.example.net>"),
        "{mail}"
    );
    let parsed = mail_text(mail);
    assert_eq!(parsed, "Hola, ¿qué tal?");
}

#[test]
fn concatenated_mo_becomes_one_mail() {
    let (_tmp, sink, sim, imp) = start("");
    let long = format!("user@example.com(long one) {}", "word ".repeat(60)); // 327 characters: 3 UDH parts
    assert_eq!(
        sim.control(&format!("mo 4445551234 12345 {long}")).trim(),
        "ok"
    );
    let mail = &sink.wait_count(1, Duration::from_secs(20))[0];
    assert_eq!(header(mail, "Subject"), "long one");
    assert_eq!(mail_text(mail), "word ".repeat(60).trim_end());
    // Every part answered (so each was stored, or mailed if that were the bug), and nothing
    // left to deliver.
    wait_for("the three parts answered", Duration::from_secs(20), || {
        sim.control("stats").contains("mo_acked=3")
    });
    imp.wait_queues(0, 0);
    assert_eq!(sink.count(), 1, "one mail, not one per part");
}

#[test]
fn an_mo_with_nowhere_to_go_is_dropped_and_answered() {
    let (_tmp, sink, sim, imp) = start("");
    assert_eq!(
        sim.control("mo 4449990000 12345 no address here").trim(),
        "ok"
    );
    wait_for("the drop in the log", Duration::from_secs(10), || {
        imp.stderr().contains("MO dropped")
    });
    imp.wait_queues(0, 0);
    assert_eq!(sink.count(), 0);
}

/// The decoded text body of a mail (via mail-parser, as a mail client would).
fn mail_text(mail: &str) -> String {
    let body = mail.split_once("\r\n\r\n").map_or(mail, |(_, b)| b);
    let headers = mail.split_once("\r\n\r\n").map_or("", |(h, _)| h);
    let raw = format!("{headers}\r\n\r\n{body}");
    let parsed = mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .unwrap();
    parsed.body_text(0).unwrap().trim().to_string()
}

#[test]
fn a_persistent_receiver_takes_mo_without_any_mail_sent() {
    let tmp = tempfile::tempdir().unwrap();
    let sink = Sink::start(&tmp.path().join("sink"));
    let sim = SimSmsc::start(&[]);
    // docs/reference/momentum.md §4.4: on-demand transmitter for MT, persistent receiver for MO.
    let conf = format!(
        "Spoolbase = \"{{SPOOL}}\"\nESMTP_Listener {{ Listen \"127.0.0.1:{{SMTP_PORT}}\" {{ }} }}\nGateway = \"127.0.0.1:{}\"\n\
         Domain \"sms.example.com\" {{\n  SMPP_SMSC_Server = \"127.0.0.1\"\n  SMPP_SMSC_Port = {}\n  SMPP_Bind_Type = \"Transmitter\"\n  SMPP_Persistent_Connections = [ Persist_This = 1 ]\n}}\n\
         Binding \"Persist_This\" {{\n  Max_Outbound_Connections = 1\n  SMPP_Bind_Type = \"Receiver\"\n}}\n",
        sink.port, sim.smpp
    );
    let _imp = Impulse::start(tmp.path(), &conf);
    wait_for("the persistent bind", Duration::from_secs(20), || {
        sim.control("stats").contains("bound=1")
    });
    assert_eq!(
        sim.control("mo 4445551234 12345 user@example.com(hi) straight in")
            .trim(),
        "ok"
    );
    let mail = &sink.wait_count(1, Duration::from_secs(20))[0];
    assert!(mail.contains("X-Envelope-To: user@example.com"), "{mail}");
    assert!(mail.contains("straight in"));
}

#[test]
fn a_plain_reply_goes_back_to_who_sent_the_sms() {
    // `start` sent alice@example.org's mail to 4445551234 from short code 12345.
    let (_tmp, sink, sim, _imp) = start("");
    assert_eq!(
        sim.control("mo 4445551234 12345 Sure, see you then").trim(),
        "ok"
    );

    let mail = &sink.wait_count(1, Duration::from_secs(20))[0];
    assert!(
        mail.contains("X-Envelope-To: alice@example.org"),
        "reverse mapping: {mail}"
    );
    assert!(mail.contains("Sure, see you then"));
    // Another short code has no mapping for this handset.
    let (_tmp2, sink2, sim2, _imp2) = start(
        "  SMPP_Use_Reverse_Address_Mappings = false\n  SMPP_Default_Email_Address = \"ops@example.com\"\n",
    );
    assert_eq!(
        sim2.control("mo 4445551234 12345 no mapping when off")
            .trim(),
        "ok"
    );
    let mail = &sink2.wait_count(1, Duration::from_secs(20))[0];
    assert!(mail.contains("X-Envelope-To: ops@example.com"), "{mail}");
}

/// `SMPP_Vendor_TLV_Table`: a default valid on MT goes on every submit_sm; a TLV listed for MO
/// arrives as an `X-SMPP-TLV-<name>` header; one listed only for MT, or not listed, does not.
#[test]
fn vendor_tlvs_go_out_on_mt_and_come_back_as_headers() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("tlvs.csv");
    std::fs::write(
        &table,
        "# name, tag, type, min, max, valid in, default\n\
         my_operator, 0x1402, 1, 1, 20, 0x03, Op Net\n\
         my_sessionid, 0x1404, 2, 1, 64, 0x01\n\
         my_priority, 0x1405, 0, 2, 2, 0x02, 258\n",
    )
    .unwrap();
    let (_tmp, sink, sim, _imp) = start(&format!(
        "  SMPP_Vendor_TLV_Table = \"{}\"\n  SMPP_Default_Email_Address = \"ops@example.com\"\n",
        table.display()
    ));
    // The SMS `start` sent: "Op Net" as an octet string, 258 as two octets.
    let tlvs = sim.control("tlvs 10");
    assert!(
        tlvs.lines()
            .any(|l| l.ends_with("\t1402=4f70204e6574,1405=0102")),
        "{tlvs}"
    );
    // 0x1404 "s-77\0" (listed for MO), 0x1405 (MT only) and 0x1999 (not listed).
    assert_eq!(
        sim.control("mo-tlv 1404=732d373700,1405=0001,1999=01 4445551234 12345 hello")
            .trim(),
        "ok"
    );
    let mail = &sink.wait_count(1, Duration::from_secs(20))[0];
    assert_eq!(header(mail, "X-SMPP-TLV-my_sessionid"), "s-77");
    assert!(
        !mail.contains("my_priority") && !mail.contains("1999"),
        "{mail}"
    );
}

/// Two domains share one SMSC account (issue #10 item 3): the SMSC may deliver an MO on either
/// bind. Each MO goes to the domain whose SMPP_ESME_Address it was sent to, whichever bind it
/// arrived on.
#[test]
fn mo_on_a_shared_smsc_account_goes_to_the_domain_of_its_short_code() {
    let tmp = tempfile::tempdir().unwrap();
    let sink = Sink::start(&tmp.path().join("sink"));
    let sim = SimSmsc::start(&[]);
    let _imp = two_domains_on_one_account(
        &tmp,
        &sink,
        &sim,
        ["a-inbox@example.com", "b-inbox@example.com"],
    );
    for bind in ["1", "2"] {
        assert_eq!(sim.control(&format!("mo-bind {bind}")).trim(), "ok");
        for (code, word) in [("67890", "for-a"), ("11111", "for-b")] {
            let answer = sim.control(&format!("mo 4445559999 {code} {word} via bind {bind}"));
            assert_eq!(answer.trim(), "ok");
        }
    }
    let mails = sink.wait_count(4, Duration::from_secs(20));
    for m in &mails {
        let to_a = m.contains("X-Envelope-To: a-inbox@example.com");
        let to_b = m.contains("X-Envelope-To: b-inbox@example.com");
        assert!(
            to_a == m.contains("for-a") && to_b == m.contains("for-b"),
            "{m}"
        );
    }
    assert_eq!(mails.iter().filter(|m| m.contains("for-a")).count(), 2);
}

/// A concatenated MO from an SMSC whose window is 1 (issue #10 item 7): it sends the next part
/// only once the last one is answered. Each part is stored and answered at once, and the mail
/// comes when the last part is in.
#[test]
fn concatenated_mo_through_a_window_of_one() {
    let (_tmp, sink, sim, _imp) = start_with(
        &["--mo-window", "1"],
        "  SMPP_Default_Email_Address = \"inbox@example.com\"\n",
    );
    let text: String = (0..40).map(|i| format!("word{i:02} ")).collect(); // 280 GSM characters
    let answer = sim.control(&format!("mo 4445551234 12345 {text}"));
    assert_eq!(answer.trim(), "ok");
    let mail = &sink.wait_count(1, Duration::from_secs(20))[0];
    assert_eq!(mail_text(mail), text.trim(), "{mail}");
}

/// Fifty 3-part messages sent as every first part, then every second, then every third, spread
/// over the two binds of one SMSC account (issue #10 item 7): all fifty are reassembled.
#[test]
fn interleaved_parts_spread_over_binds_are_reassembled() {
    let tmp = tempfile::tempdir().unwrap();
    let sink = Sink::start(&tmp.path().join("sink"));
    let sim = SimSmsc::start(&[]);
    let _imp = two_domains_on_one_account(
        &tmp,
        &sink,
        &sim,
        ["inbox@example.com", "inbox@example.com"],
    );
    let text: String = (0..45).map(|i| format!("part{i:02} ")).collect(); // 3 parts each
    assert_eq!(
        sim.control(&format!("mo-many 50 1 4445559999 67890 {text}"))
            .trim(),
        "ok"
    );
    let mails = sink.wait_count(50, Duration::from_secs(30));
    let mut seen: Vec<usize> = mails
        .iter()
        .map(|m| {
            let body = mail_text(m);
            // Each part starts with its message's number: "7:part00 ... 7:part15 ... 7:part31".
            let n: usize = body.split(':').next().unwrap().parse().unwrap();
            assert_eq!(body.matches(&format!("{n}:")).count(), 3, "{body}");
            n
        })
        .collect();
    seen.sort();
    assert_eq!(seen, (0..50).collect::<Vec<_>>());
}

/// A character split between two parts (a UCS-2 surrogate pair, a GSM 03.38 escape) comes out
/// whole: the parts' payloads are joined before they are decoded (issue #10 item 9).
#[test]
fn characters_split_between_parts_come_out_whole() {
    let (_tmp, sink, sim, _imp) = start(
        "  SMPP_Default_Email_Address = \"inbox@example.com\"\n  SMPP_GSM_Transcodes_To = \"UTF-8\"\n",
    );
    // 66 characters, then an emoji whose two UTF-16 units are units 67 and 68: the first part
    // ends after 67 units.
    let emoji = format!("{}😀 end", "a".repeat(66));
    assert_eq!(
        sim.control(&format!("mo-split 8 4445551234 12345 {emoji}"))
            .trim(),
        "ok"
    );
    let mail = &sink.wait_count(1, Duration::from_secs(20))[0];
    assert_eq!(mail_text(mail), emoji, "{mail}");
    // 152 septets, then € (escape 0x1B and 0x65: septets 153 and 154, split between parts).
    let euro = format!("{}€99", "b".repeat(152));
    assert_eq!(
        sim.control(&format!("mo-split 0 4445551234 12345 {euro}"))
            .trim(),
        "ok"
    );
    let mails = sink.wait_count(2, Duration::from_secs(20));
    assert_eq!(mail_text(&mails[1]), euro, "{}", mails[1]);
}

/// Impulse with two SMPP domains on one SMSC account (the simulator's), `a.sms.example` at short
/// code 67890 and `b.sms.example` at 11111, each mailing its MO to its inbox; both binds up.
fn two_domains_on_one_account(
    tmp: &tempfile::TempDir,
    sink: &Sink,
    sim: &SimSmsc,
    inboxes: [&str; 2],
) -> Impulse {
    let domain = |name: &str, code: &str, inbox: &str| {
        format!(
            "domain \"{name}\" {{\n  SMPP_SMSC_Server = \"127.0.0.1\"\n  SMPP_SMSC_Port = {}\n  \
             SMPP_ESME_Address = \"{code}\"\n  SMPP_Default_Email_Address = \"{inbox}\"\n  \
             SMPP_Use_Reverse_Address_Mappings = false\n}}\n",
            sim.smpp
        )
    };
    let conf = format!(
        "Spoolbase = \"{{SPOOL}}\"\nESMTP_Listener {{ Listen \"127.0.0.1:{{SMTP_PORT}}\" {{ }} }}\n\
         Gateway = \"127.0.0.1:{}\"\n{}{}",
        sink.port,
        domain("a.sms.example", "67890", inboxes[0]),
        domain("b.sms.example", "11111", inboxes[1]),
    );
    let imp = Impulse::start(tmp.path(), &conf);
    // The binds open when mail is queued for each domain.
    for d in ["a.sms.example", "b.sms.example"] {
        let (ok, t) = swaks(
            imp.smtp_port,
            "alice@example.org",
            &format!("4445551234@{d}"),
            &["--body", "open"],
        );
        assert!(ok, "{t}");
    }
    wait_for("both binds", Duration::from_secs(20), || {
        sim.control("stats").contains("bound=2")
    });
    imp
}

/// A concatenated MO whose middle part never comes (issue #10 item 7): its parts were answered
/// as they came; after SMPP_MO_Reassembly_Timeout the message is mailed with the gap marked,
/// not dropped and not refused.
#[test]
fn an_incomplete_concatenated_mo_is_mailed_with_its_gap_marked() {
    let (_tmp, sink, sim, _imp) = start(
        "  SMPP_Default_Email_Address = \"inbox@example.com\"\n  SMPP_MO_Reassembly_Timeout = 1\n",
    );
    let text = format!("{}{}{}", "a".repeat(153), "b".repeat(153), "c".repeat(10));
    assert_eq!(
        sim.control(&format!("mo-parts 1,3 0 4445551234 12345 {text}"))
            .trim(),
        "ok"
    );
    wait_for("both parts answered", Duration::from_secs(10), || {
        sim.control("stats").contains("mo_acked=2")
    });
    let mail = &sink.wait_count(1, Duration::from_secs(30))[0];
    let body = mail_text(mail);
    assert!(body.starts_with(&"a".repeat(153)), "{body}");
    assert!(body.contains("[parts 2-2 of 3 missing]"), "{body}");
    assert!(body.ends_with(&"c".repeat(10)), "{body}");
}
