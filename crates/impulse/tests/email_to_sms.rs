//! Email → SMS end to end through real sockets: swaks sends mail to `<number>@<smpp domain>`,
//! Impulse converts and submits it over SMPP to `impulse sim smsc`, and the simulator's record
//! shows what the handset would get.

mod common;

use std::time::Duration;

use common::{Impulse, SimSmsc, Sink, swaks, wait_for};

fn config(sim: &SimSmsc, sink_port: u16, extra: &str) -> String {
    format!(
        "Spoolbase = \"{{SPOOL}}\"\nHostname = \"impulse.test\"\n\
         ESMTP_Listener {{ Listen \"127.0.0.1:{{SMTP_PORT}}\" {{ }} }}\n\
         Gateway = \"127.0.0.1:{sink_port}\"\nRetry_Interval = 1\n\
         domain \"sms.example.com\" {{\n  SMPP_SMSC_Server = \"127.0.0.1\"\n  SMPP_SMSC_Port = {}\n  SMPP_SMSC_System_ID = \"impulse\"\n  SMPP_SMSC_Password = \"secret\"\n  SMPP_ESME_Address = \"12345\"\n{extra}}}\n\
         Mainlog_Mobile_Records = true\nec_logger \"l\" {{ mainlog = \"{{LOG}}/mainlog.ec\" }}\n\
         Control_Listener {{ Listen \"{{CONTROL_SOCK}}\" {{ }} }}\n",
        sim.smpp
    )
}

/// What each test runs against: a temporary directory, a mail sink, an SMSC simulator started
/// with `sim_args`, and Impulse with `extra` inside the SMPP domain's stanza. Bound in this
/// order, they are dropped the other way round: Impulse stops first.
fn gateway(sim_args: &[&str], extra: &str) -> (tempfile::TempDir, Sink, SimSmsc, Impulse) {
    let tmp = tempfile::tempdir().unwrap();
    let sink = Sink::start(&tmp.path().join("sink"));
    let sim = SimSmsc::start(sim_args);
    let imp = Impulse::start(tmp.path(), &config(&sim, sink.port, extra));
    (tmp, sink, sim, imp)
}

fn send(imp: &Impulse, to: &str, subject: &str, body: &str, extra: &[&str]) {
    let mut args = vec!["--header", &format!("Subject: {subject}")]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
    args.extend(["--body".to_string(), body.to_string()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, t) = swaks(imp.smtp_port, "alice@example.org", to, &args);
    assert!(ok, "{t}");
}

fn received(sim: &SimSmsc, n: usize) -> Vec<Vec<String>> {
    wait_for(
        &format!("{n} SMS at the SMSC"),
        Duration::from_secs(20),
        || sim.list().len() >= n,
    );
    sim.list()
}

#[test]
fn plain_and_gsm_extension_text() {
    let (_tmp, _sink, sim, imp) = gateway(&["--credentials", "impulse:secret"], "");
    send(
        &imp,
        "4445551234@sms.example.com",
        "Hi",
        "Price 5€ [sale] {today} ~ok^",
        &[],
    );
    let got = received(&sim, 1);
    assert_eq!(
        got[0][1..5],
        ["impulse", "12345", "4445551234", "0"],
        "{got:?}"
    );
    assert_eq!(got[0][5], "(Hi) Price 5€ [sale] {today} ~ok^");
    wait_for("D record", Duration::from_secs(5), || {
        imp.mainlog().contains("@D@sms.example.com@")
    });
}

#[test]
fn emoji_goes_as_ucs2_and_long_text_by_sar() {
    let (_tmp, _sink, sim, imp) = gateway(
        &[],
        "  SMPP_Max_Sms_Message_Size = 3200\n  SMPP_Max_Sms_Subject_Size = 0\n",
    );
    send(
        &imp,
        "15551234567@sms.example.com",
        "x",
        "Smile 😀 please",
        &["--add-header", "Content-Type: text/plain; charset=utf-8"],
    );
    let got = received(&sim, 1);
    assert_eq!(
        (got[0][4].as_str(), got[0][5].as_str()),
        ("8", "Smile 😀 please")
    );

    let long = "The quick brown fox jumps over the lazy dog. ".repeat(8); // 360 characters
    send(&imp, "15551234567@sms.example.com", "x", &long, &[]);
    let got = received(&sim, 4);
    let parts: Vec<&Vec<String>> = got[1..].iter().collect();
    assert_eq!(parts.len(), 3, "360 GSM characters by SAR: 160 + 160 + 40");
    assert_eq!(
        parts.iter().map(|p| p[5].as_str()).collect::<String>(),
        long.trim_end()
    );
}

#[test]
fn long_text_by_udh_and_an_invalid_number_is_refused_at_rcpt() {
    let (_tmp, sink, sim, imp) = gateway(
        &[],
        "  SMPP_Max_Sms_Message_Size = 3200\n  SMPP_ESME_UDH_Segment = true\n  SMPP_Max_Sms_Subject_Size = 0\n",
    );
    let long = "x".repeat(200);
    send(&imp, "4445551234@sms.example.com", "x", &long, &[]);
    let got = received(&sim, 2);
    assert_eq!(
        got.iter().map(|p| p[5].len()).collect::<Vec<_>>(),
        [153, 47],
        "UDH takes room: 153 + 47"
    );

    // Not a number: refused at RCPT (no bounce after 250), nothing submitted.
    let (ok, t) = swaks(
        imp.smtp_port,
        "alice@example.org",
        "not-a-number@sms.example.com",
        &["--body", "hello"],
    );
    assert!(!ok, "{t}");
    assert!(
        t.contains("550 5.1.3") && t.contains("is not a phone number"),
        "{t}"
    );
    assert_eq!(
        sim.list().len(),
        2,
        "nothing submitted for the invalid number"
    );
    assert_eq!(sink.count(), 0, "no bounce: the client was told at RCPT");
}

#[test]
fn smsc_refusals_retry_or_bounce() {
    let (_tmp, sink, sim, imp) = gateway(&[], "");
    // A temporary refusal (ESME_RMSGQFUL) is retried and then accepted.
    assert_eq!(sim.control("fail 0x14 1").trim(), "ok");
    send(&imp, "4445551234@sms.example.com", "t", "retried", &[]);
    let got = received(&sim, 1);
    assert!(got[0][5].ends_with("retried"));
    wait_for("T then D", Duration::from_secs(10), || {
        imp.mainlog().contains("@T@") && imp.mainlog().contains("@D@")
    });
    assert!(imp.mainlog().contains("ESME_RMSGQFUL"), "{}", imp.mainlog());
    // A permanent refusal (ESME_RINVDSTADR) bounces.
    assert_eq!(sim.control("fail 0x0B 1").trim(), "ok");
    send(&imp, "4445559999@sms.example.com", "p", "refused", &[]);
    let dsn = &sink.wait_count(1, Duration::from_secs(20))[0];
    assert!(dsn.contains("ESME_RINVDSTADR"), "{dsn}");
}

#[test]
fn the_interworking_sizes_of_the_spec_give_its_exact_text() {
    // docs/reference/momentum.md §4.5 sizes, and its worked example (§1.3 step 5).
    let (_tmp, _sink, sim, imp) = gateway(
        &[],
        "  SMPP_Max_Sms_Message_Size = 140\n  SMPP_Sms_Segment_Size = 140\n  SMPP_Max_Sms_From_Size = 12\n  SMPP_Max_Sms_Subject_Size = 10\n",
    );
    let (ok, t) = swaks(
        imp.smtp_port,
        "mickey@disneyworld.com",
        "4445551234@sms.example.com",
        &[
            "--header",
            "Subject: stay in touch",
            "--body",
            "Greetings from Orlando!",
        ],
    );
    assert!(ok, "{t}");
    assert_eq!(
        received(&sim, 1)[0][5],
        "mickey@disne (stay in to) Greetings from Orlando!"
    );
}

#[test]
fn html_only_mail_and_attachments() {
    let (tmp, _sink, sim, imp) = gateway(&[], "  SMPP_Max_Sms_Subject_Size = 0\n");
    // HTML only: its text is sent, without markup.
    let (ok, t) = swaks(
        imp.smtp_port,
        "alice@example.org",
        "4445551234@sms.example.com",
        &[
            "--add-header",
            "MIME-Version: 1.0",
            "--add-header",
            "Content-Type: text/html; charset=utf-8",
            "--body",
            "<html><body><p>Big <b>sale</b> today</p></body></html>",
        ],
    );
    assert!(ok, "{t}");
    let got = received(&sim, 1);
    assert!(
        got[0][5].contains("Big") && got[0][5].contains("sale") && !got[0][5].contains('<'),
        "{:?}",
        got[0]
    );
    // A text part with an attachment: only the text goes.
    let attachment = tmp.path().join("report.pdf");
    std::fs::write(&attachment, b"%PDF-1.4 binary stuff").unwrap();
    let (ok, t) = swaks(
        imp.smtp_port,
        "alice@example.org",
        "4445551234@sms.example.com",
        &[
            "--body",
            "See the report",
            "--attach",
            attachment.to_str().unwrap(),
        ],
    );
    assert!(ok, "{t}");
    let got = received(&sim, 2);
    assert_eq!(got[1][5], "See the report");
}

/// The same path against an SMSC nobody here wrote: the npm `smpp` package.
#[test]
fn email_to_sms_and_back_through_node_smpp() {
    use std::io::BufRead;
    let tmp = tempfile::tempdir().unwrap();
    let sink = Sink::start(&tmp.path().join("sink"));
    let mut child = std::process::Command::new("node")
        .arg(common::repo_root().join("tests/peers/node_smsc.js"))
        .arg("0")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("node");
    let stdout = child.stdout.take().unwrap();
    let _node = common::Proc(child);
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(l);
        }
    });
    let expect = |needle: &str| loop {
        let l = lines
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("node never logged {needle}"));
        if l.contains(needle) {
            return l;
        }
    };
    let port = common::port_of_ready_line(&expect("\"event\":\"ready\""));
    let conf = format!(
        "Spoolbase = \"{{SPOOL}}\"\nESMTP_Listener {{ Listen \"127.0.0.1:{{SMTP_PORT}}\" {{ }} }}\nGateway = \"127.0.0.1:{}\"\n\
         domain \"sms.example.com\" {{\n  SMPP_SMSC_Server = \"127.0.0.1\"\n  SMPP_SMSC_Port = {port}\n  SMPP_SMSC_System_ID = \"impulse\"\n  SMPP_SMSC_Password = \"secret\"\n  SMPP_ESME_Address = \"12345\"\n  SMPP_Max_Sms_Subject_Size = 0\n}}\n",
        sink.port
    );
    let imp = Impulse::start(tmp.path(), &conf);
    send(
        &imp,
        "4445551234@sms.example.com",
        "x",
        "Grüße aus Köln",
        &["--add-header", "Content-Type: text/plain; charset=utf-8"],
    );
    let submit = expect("\"event\":\"submit_sm\"");
    assert!(
        submit.contains("\"dest\":\"4445551234\"") && submit.contains("\"source\":\"12345\""),
        "{submit}"
    );
    // node-smpp decodes data_coding 0 as GSM 03.38: the umlauts arrive intact.
    assert!(
        submit.contains("\"text\":\"Grüße aus Köln\"")
            || submit.contains("Gr\\u00fc\\u00dfe aus K\\u00f6ln"),
        "{submit}"
    );
    // "please reply" makes node-smpp send an MO back, which becomes mail.
    send(&imp, "4445551234@sms.example.com", "x", "please reply", &[]);
    let mail = &sink.wait_count(1, Duration::from_secs(20))[0];
    assert!(mail.contains("X-Envelope-To: alice@example.com"), "{mail}");
    assert!(
        mail.contains("Subject: Re: hi") && mail.contains("sure thing"),
        "{mail}"
    );
    assert!(
        expect("\"kind\":\"mo\"").contains("\"status\":0"),
        "deliver_sm_resp OK after spooling"
    );
}

#[test]
fn an_accepted_segment_is_not_sent_again_when_another_is_retried() {
    let (_tmp, _sink, sim, imp) = gateway(
        &[],
        "  SMPP_Max_Sms_Message_Size = 3200\n  SMPP_Max_Sms_Subject_Size = 0\n",
    );
    // The first segment is accepted, the second refused with ESME_RMSGQFUL (temporary).
    assert_eq!(sim.control("fail 0 1").trim(), "ok");
    assert_eq!(sim.control("fail 0x14 1").trim(), "ok");
    let text = format!("{}{}", "a".repeat(160), "b".repeat(40));
    send(&imp, "4445551234@sms.example.com", "x", &text, &[]);
    wait_for("the retry", Duration::from_secs(20), || {
        sim.control("stats").starts_with("submits=3 ")
    });
    let got = received(&sim, 2);
    assert_eq!(
        got.iter().map(|m| m[5].clone()).collect::<Vec<_>>(),
        ["a".repeat(160), "b".repeat(40)],
        "segment 1 once, segment 2 after its retry"
    );
    imp.wait_queues(0, 0);
    assert!(
        sim.control("stats").starts_with("submits=3 "),
        "nothing sent after delivery: {}",
        sim.control("stats")
    );
    wait_for("D record", Duration::from_secs(5), || {
        imp.mainlog().contains("@D@sms.example.com@")
    });
}

#[test]
fn a_vendor_status_table_turns_a_refusal_into_a_retry() {
    let tmp = tempfile::tempdir().unwrap();
    let table = tmp.path().join("vendor.csv");
    std::fs::write(
        &table,
        "; vendor command statuses\n0x406,1,Destination busy\n",
    )
    .unwrap();
    let sink = Sink::start(&tmp.path().join("sink"));
    let sim = SimSmsc::start(&[]);
    let imp = Impulse::start(
        tmp.path(),
        &config(
            &sim,
            sink.port,
            &format!(
                "  SMPP_Vendor_Command_Status_Table = \"{}\"\n",
                table.display()
            ),
        ),
    );
    // 0x406 is permanent by default; the table makes it temporary, so the SMS is retried.
    assert_eq!(sim.control("fail 0x406 1").trim(), "ok");
    send(
        &imp,
        "4445551234@sms.example.com",
        "x",
        "busy then fine",
        &[],
    );
    let got = received(&sim, 1);
    assert!(got[0][5].ends_with("busy then fine"));
    wait_for("T record", Duration::from_secs(10), || {
        imp.mainlog().contains("Destination busy")
    });
    assert_eq!(sink.count(), 0, "no bounce");

    std::fs::write(&table, "0x406,1,ok\n\n0x407,9,bad\n").unwrap();
    let out = std::process::Command::new(common::impulse_bin())
        .args(["config", "check"])
        .arg(&imp.config)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "{}:2: empty lines are not allowed",
            table.display()
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{}:3: action `9` is not 0 (permanent) or 1 (temporary)",
            table.display()
        )),
        "{err}"
    );
}

#[test]
fn data_sm_carries_the_whole_text_in_one_pdu() {
    let (_tmp, _sink, sim, imp) = gateway(
        &[],
        "  SMPP_ESME_Submit_Data_SM = true\n  SMPP_Max_Sms_Message_Size = 3200\n  SMPP_Max_Sms_Subject_Size = 0\n",
    );
    let long = "y".repeat(400);
    send(&imp, "4445551234@sms.example.com", "x", &long, &[]);
    let got = received(&sim, 1);
    // Delivered and recorded: every PDU of the message was sent.
    imp.wait_queues(0, 0);
    assert_eq!(sim.list().len(), 1, "one data_sm, not segments");
    assert_eq!(got[0][5], long);
    wait_for("D record", Duration::from_secs(5), || {
        imp.mainlog().contains("@D@sms.example.com@")
    });
}

/// `SMPP_ESME_Submit_Submit_Multi`: one mail to three numbers is one submit_multi; the number
/// the SMSC lists as unsuccessful bounces with its status, the others are delivered, and each
/// delivered number's receipt is matched to its own recipient although they share the id.
#[test]
fn submit_multi_reaches_every_number_in_one_pdu() {
    let (_tmp, sink, sim, imp) = gateway(
        &["--credentials", "impulse:secret"],
        "  SMPP_ESME_Submit_Submit_Multi = true\n  SMPP_Registered_Delivery = ( \"SMSC_Delivery\" )\n  SMPP_Notify_Deliver_Receipt = ( \"DELIVRD\" )\n",
    );
    // ESME_RINVDSTADR: permanent.
    assert_eq!(sim.control("refuse 4445550003 0x0B").trim(), "ok");
    send(
        &imp,
        "4445550001@sms.example.com,4445550002@sms.example.com,4445550003@sms.example.com",
        "Team",
        "meeting at 3",
        &[],
    );
    let got = received(&sim, 1);
    assert_eq!(got.len(), 1, "one PDU: {got:?}");
    assert_eq!(got[0][3], "4445550001,4445550002,4445550003");
    assert!(got[0][5].ends_with("meeting at 3"));
    let mails = sink.wait_count(3, Duration::from_secs(30));
    let find = |what: &str| {
        mails
            .iter()
            .find(|m| m.contains(what))
            .unwrap_or_else(|| panic!("no mail with {what}: {mails:#?}"))
    };
    assert!(find("Status: 5.").contains("4445550003@sms.example.com"));
    assert!(find("ESME_RINVDSTADR").contains("X-Envelope-To: alice@example.org"));
    find("Subject: SMS to 4445550001: DELIVRD");
    find("Subject: SMS to 4445550002: DELIVRD");
    imp.wait_queues(0, 0);
    assert_eq!(sink.count(), 3, "one bounce and two notices, nothing else");
    assert_eq!(sim.control("stats").split(' ').next(), Some("submits=1"));
}

/// With `SMPP_Destination_Flag = 2` the recipients of an SMS domain are distribution list
/// names, not numbers: RCPT takes them (only numbers are checked at RCPT on other domains).
#[test]
fn distribution_list_names_are_taken_at_rcpt() {
    let (_tmp, _sink, _sim, imp) = gateway(
        &[],
        "  SMPP_Destination_Flag = 2\n  SMPP_ESME_Submit_Submit_Multi = true\n",
    );
    let (ok, t) = swaks(
        imp.smtp_port,
        "alice@example.org",
        "friends@sms.example.com",
        &["--body", "to a list"],
    );
    assert!(ok, "{t}");
}
