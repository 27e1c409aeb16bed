//! Email ⇄ MMS end to end through real sockets: SMTP client (swaks) → Impulse → MMSC
//! simulator over MM7, and MMSC → Impulse's mm7_serv → mail at an SMTP sink (aiosmtpd).

mod common;

use std::time::Duration;

use common::{Impulse, SimMmsc, Sink, http_post, http_request, swaks, wait_for};
use mail_parser::{MessageParser, MimeHeaders};

/// A JPEG-looking file with every byte value in it (CR, LF, NUL, 0xFF…).
fn jpeg() -> Vec<u8> {
    let mut v = vec![
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00,
    ];
    v.extend((0..=255u8).cycle().take(30_000));
    v.extend_from_slice(&[0xFF, 0xD9]);
    v
}

struct Setup {
    _tmp: tempfile::TempDir,
    dir: std::path::PathBuf,
    sink: Sink,
    mmsc: SimMmsc,
    imp: Impulse,
    http: u16,
}

fn setup(domain_extra: &str, global_extra: &str) -> Setup {
    setup_with(domain_extra, global_extra, "", &[])
}

/// With `listener_extra` inside the HTTP_Listener stanza and `mmsc_args` for the simulator.
fn setup_with(
    domain_extra: &str,
    global_extra: &str,
    listener_extra: &str,
    mmsc_args: &[&str],
) -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let sink = Sink::start(&dir.join("sink"));
    let mmsc = SimMmsc::start(&dir.join("dump"), mmsc_args);
    let config = format!(
        "Spoolbase = \"{{SPOOL}}\"\nHostname = \"impulse.test\"\n\
         ESMTP_Listener {{ Listen \"127.0.0.1:{{SMTP_PORT}}\" {{ }} }}\n\
         HTTP_Listener {{ Listen \"127.0.0.1:{{HTTP_PORT}}\" {{ }} {listener_extra} }}\n\
         mm7_serv {{ mm7_vasp_uri_paths = (\"/mm7/\") mm7_server_default_email_from_domain = \"mms.example.com\" \
           mm7_server_default_email_to_address = \"inbox@example.com\" }}\n\
         domain \"example.com\" {{ }}\ndomain \"example.org\" {{ }}\nGateway = \"127.0.0.1:{}\"\n\
         domain \"mms.example.com\" {{\n  MM7_MMSC_Server = \"127.0.0.1\"\n  MM7_MMSC_Port = {}\n  MM7_MMSC_Path = \"/mm7/submit\"\n  \
           MM7_VASPID = \"vasp-01\"\n  MM7_Sender_Address = \"<ShortCode>28444</ShortCode>\"\n  MM7_Delivery_Report = true\n  {domain_extra}\n}}\n\
         {global_extra}\nMainlog_Mobile_Records = true\nec_logger \"l\" {{ mainlog = \"{{LOG}}/mainlog.ec\" }}\n\
         Control_Listener {{ Listen \"{{CONTROL_SOCK}}\" {{ }} }}\n\
         mms_logger \"m\" {{ logfile = \"{{LOG}}/mmslog.ec\" }}\n\
         mms_bounce_logger \"b\" {{ bounce_logfile = \"{{LOG}}/mmsbouncelog.ec\" }}\n",
        sink.port, mmsc.http
    );
    let imp = Impulse::start(&dir, &config);
    let http = imp.http_port;
    Setup {
        _tmp: tmp,
        dir,
        sink,
        mmsc,
        imp,
        http,
    }
}

/// The `@`-separated fields of the first record of type `kind` in a mobile log that contains
/// `needle`, without the time stamp; waits for it.
fn record(s: &Setup, log: &str, kind: &str, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    wait_for(
        &format!("a {kind} record in {log}"),
        Duration::from_secs(10),
        || {
            found = s
                .imp
                .log(log)
                .lines()
                .filter(|l| l.contains(needle))
                .map(|l| l.split('@').skip(1).map(str::to_string).collect::<Vec<_>>())
                .find(|f| f[0] == kind)
                .unwrap_or_default();
            !found.is_empty()
        },
    );
    found
}

fn field<'a>(line: &'a str, name: &str) -> &'a str {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{name}=")))
        .unwrap_or("")
}

#[test]
fn a_mail_with_a_jpeg_becomes_a_submitreq_with_the_image_byte_identical() {
    let s = setup("", "");
    let image = s.dir.join("beach.jpg");
    std::fs::write(&image, jpeg()).unwrap();
    let (ok, t) = swaks(
        s.imp.smtp_port,
        "alice@example.org",
        "15551234567@mms.example.com",
        &[
            "--header",
            "Subject: Greetings from Orlando",
            "--body",
            "Wish you were here",
            "--attach-type",
            "image/jpeg",
            "--attach",
            image.to_str().unwrap(),
        ],
    );
    assert!(ok, "{t}");
    let got = s.mmsc.wait_submits(1);
    let line = &got[0];
    assert_eq!(field(line, "to"), "15551234567", "{line}");
    assert_eq!(field(line, "vasp"), "vasp-01");
    assert_eq!(field(line, "schema"), "REL-6-MM7-1-4");
    assert!(
        line.contains("subject=\"Greetings from Orlando\""),
        "{line}"
    );
    let id = field(line, "id");
    let dump = s.mmsc.dump.join(id);
    let mut files: Vec<String> = std::fs::read_dir(&dump)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let image_file = files
        .iter()
        .find(|f| f.ends_with("beach.jpg"))
        .unwrap_or_else(|| panic!("{files:?}"));
    assert_eq!(
        std::fs::read(dump.join(image_file)).unwrap(),
        jpeg(),
        "image changed on the way"
    );
    let text_file = files.iter().find(|f| f.ends_with("text.txt")).unwrap();
    assert_eq!(
        std::fs::read_to_string(dump.join(text_file)).unwrap(),
        "Wish you were here"
    );
    assert!(
        files.iter().any(|f| f.ends_with(".smil")),
        "a SMIL presentation is generated: {files:?}"
    );
    let envelope = std::fs::read_to_string(dump.join("envelope.xml")).unwrap();
    assert!(
        envelope.contains("<DeliveryReport>true</DeliveryReport>"),
        "{envelope}"
    );
    assert!(
        envelope.contains("<SenderAddress>\n<ShortCode>28444</ShortCode>"),
        "{envelope}"
    );
    wait_for(
        "the delivery in the mainlog",
        Duration::from_secs(10),
        || s.imp.mainlog().contains("@D@"),
    );

    // The MMS log: the conversion and the delivery with the MMSC's MessageID and the
    // TransactionID (docs/reference/momentum.md §2.8 default layouts).
    let x = record(&s, "mmslog.ec", "X", "ec_message to mm7");
    assert_eq!(x[2..5], ["28444", "15551234567", "mms.example.com"]);
    let d = record(&s, "mmslog.ec", "D", "");
    let mmsc = format!("127.0.0.1:{}", s.mmsc.http);
    assert_eq!(
        d[2..8],
        [
            "28444",
            "15551234567",
            "mms.example.com",
            "default",
            "default",
            &mmsc
        ]
    );
    assert!(d[8].parse::<usize>().unwrap() > 30_000, "size {d:?}");
    assert_eq!(d[9], format!("\"{id}\""));
    assert!(
        d[10].starts_with('"') && d[10].len() > 2,
        "transaction id {d:?}"
    );

    // A negative delivery report for that MessageID mails the sender; a positive one does not.
    let url = format!("http://127.0.0.1:{}/mm7/reports", s.http);
    let answer = s
        .mmsc
        .control(&format!("report {url} {id} 15551234567 Retrieved"));
    assert!(answer.starts_with("ok 1000"), "{answer}");
    let answer = s
        .mmsc
        .control(&format!("report {url} {id} 15551234567 Rejected"));
    assert!(answer.starts_with("ok 1000"), "{answer}");
    let mails = s.sink.wait_count(1, Duration::from_secs(20));
    assert!(
        mails[0].contains("Undelivered MMS to 15551234567 (Rejected)"),
        "{}",
        mails[0]
    );
    assert!(mails[0].contains("alice@example.org"));
    // Both reports were answered, so any notice they cause was spooled; none is left.
    s.imp.wait_queues(0, 0);
    assert_eq!(s.sink.count(), 1, "the positive report sends nothing");
    // Both reports are S records; the negative one is also an O record in the bounce log.
    wait_for("both S records", Duration::from_secs(10), || {
        s.imp.log("mmslog.ec").matches("@S@").count() >= 2
    });
    let statuses: Vec<String> = s
        .imp
        .log("mmslog.ec")
        .lines()
        .filter(|l| l.contains("@S@"))
        .map(|l| l.split('@').nth(10).unwrap_or("").to_string())
        .collect();
    assert_eq!(
        statuses,
        ["Retrieved", "Rejected"],
        "{}",
        s.imp.log("mmslog.ec")
    );
    let sr = record(&s, "mmslog.ec", "S", "Rejected");
    assert_eq!(sr[1..4], ["28444", "15551234567", "mms.example.com"]);
    assert_eq!(sr[7], format!("\"{id}\""));
    assert!(sr[8].parse::<u64>().is_ok(), "latency {sr:?}");
    let o = record(&s, "mmsbouncelog.ec", "O", "");
    assert_eq!(o[2..5], ["28444", "15551234567", "mms.example.com"]);
    assert!(!s.imp.log("mmsbouncelog.ec").contains("@I@"));
    // A report for a MessageID Impulse never got: 2005.
    let answer = s
        .mmsc
        .control(&format!("report {url} no-such-id 15551234567 Rejected"));
    assert!(answer.starts_with("ok 2005"), "{answer}");
}

#[test]
fn an_mo_mms_with_an_image_arrives_as_mail_with_the_image_attached() {
    let s = setup("", "");
    let image = s.dir.join("photo.jpg");
    std::fs::write(&image, jpeg()).unwrap();
    let url = format!("http://127.0.0.1:{}/mm7/inbox", s.http);
    let answer = s.mmsc.control(&format!(
        "deliver {url} +15557654321 28444 Beach_photo {}",
        image.display()
    ));
    assert!(answer.starts_with("ok 1000"), "{answer}");
    let mails = s.sink.wait_count(1, Duration::from_secs(20));
    let m = MessageParser::default().parse(mails[0].as_bytes()).unwrap();
    assert_eq!(m.subject(), Some("Beach photo"));
    assert_eq!(
        m.from().unwrap().first().unwrap().address(),
        Some("15557654321@mms.example.com")
    );
    assert_eq!(
        m.to().unwrap().first().unwrap().address(),
        Some("inbox@example.com")
    );
    assert!(m.body_text(0).unwrap().contains("MMS from +15557654321"));
    let att = m.attachment(0).expect("the image is attached");
    assert_eq!(att.attachment_name(), Some("photo.jpg"));
    assert_eq!(
        att.contents(),
        jpeg().as_slice(),
        "image changed on the way"
    );
    let tid = m
        .header_raw("X-MM7-Transaction-ID")
        .expect("transaction id header");
    // The MMS log's R record: sender, recipient, MMSC address, size, status and TransactionID.
    let r = record(&s, "mmslog.ec", "R", "");
    assert_eq!(r[2..4], ["+15557654321", "28444"]);
    assert_eq!(r[7], "127.0.0.1");
    assert!(r[8].parse::<usize>().unwrap() > 30_000, "size {r:?}");
    assert_eq!(r[9], "1000");
    assert_eq!(r[11], format!("\"{}\"", tid.trim()));
    assert!(!r[1].is_empty(), "the mail's id {r:?}");
    record(&s, "mmslog.ec", "X", "mm7 to ec_message");
}

#[test]
fn mmsc_refusals_bounce_and_its_outages_are_retried() {
    let s = setup("MM7_Response_Timer = 1", "Retry_Interval = 1");
    // A permanent refusal (2002 address error): a bounce to the sender naming the status.
    s.mmsc.control("fail 2002");
    let (ok, t) = swaks(
        s.imp.smtp_port,
        "alice@example.org",
        "15551110000@mms.example.com",
        &["--body", "one"],
    );
    assert!(ok, "{t}");
    let mails = s.sink.wait_count(1, Duration::from_secs(20));
    assert!(mails[0].contains("MM7 2002"), "{}", mails[0]);
    assert_eq!(
        s.mmsc.submits().len(),
        0,
        "a refused SubmitReq is not recorded as accepted"
    );
    // P in the MMS log with the MM7 status, I in the bounce log.
    let p = record(&s, "mmslog.ec", "P", "15551110000");
    assert_eq!(p[8], "2002", "{p:?}");
    record(&s, "mmsbouncelog.ec", "I", "15551110000");

    // HTTP 500 with an RSErrorRsp, a body that is not SOAP, and an answer later than
    // MM7_Response_Timer: each is temporary, and the message gets through afterwards.
    s.mmsc.control("http500");
    s.mmsc.control("garbage");
    s.mmsc.control("delay 3000");
    let (ok, t) = swaks(
        s.imp.smtp_port,
        "alice@example.org",
        "15552220000@mms.example.com",
        &["--body", "two"],
    );
    assert!(ok, "{t}");
    let got = s.mmsc.wait_submits(1);
    assert_eq!(field(&got[got.len() - 1], "to"), "15552220000");
    wait_for(
        "three temporary failures logged",
        Duration::from_secs(20),
        || s.imp.mainlog().matches("@T@").count() >= 3,
    );
    let log = s.imp.mainlog();
    assert!(log.contains("MM7 3000"), "{log}");
    assert!(log.contains("MM7_Response_Timer"), "{log}");
    let temp = record(&s, "mmslog.ec", "T", "@3000@");
    assert_eq!(temp[3], "15552220000");
    record(&s, "mmsbouncelog.ec", "T", "15552220000");
    assert_eq!(s.sink.count(), 1, "no bounce for temporary failures");

    // A recipient that is not a number fails at once, with the reason.
    let (ok, t) = swaks(
        s.imp.smtp_port,
        "alice@example.org",
        "bob@mms.example.com",
        &["--body", "three"],
    );
    assert!(ok, "{t}");
    let mails = s.sink.wait_count(2, Duration::from_secs(20));
    assert!(mails[1].contains("not a phone number"), "{}", mails[1]);
}

#[test]
fn bad_requests_to_mm7_serv_get_protocol_errors_and_harm_nothing() {
    let s = setup("", "");
    let (code, body) = http_post(s.http, "/mm7/", "text/xml", b"<<< not xml");
    assert_eq!(code, 500, "{body}");
    assert!(
        body.contains("VASPErrorRsp") && body.contains("<StatusCode>2007</StatusCode>"),
        "{body}"
    );
    let (code, body) = http_post(s.http, "/elsewhere/", "text/xml", b"<x/>");
    assert_eq!(code, 404, "{body}");
    let no_tid = "<e:Envelope xmlns:e=\"http://schemas.xmlsoap.org/soap/envelope/\"><e:Body>\
        <DeliverReq xmlns=\"http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-5-MM7-1-2\">\
        <MM7Version>5.3.0</MM7Version><Sender><Number>1</Number></Sender></DeliverReq></e:Body></e:Envelope>";
    let (code, body) = http_post(s.http, "/mm7/", "text/xml", no_tid.as_bytes());
    assert_eq!(code, 500, "{body}");
    assert!(body.contains("<StatusCode>4004</StatusCode>"), "{body}");
    assert!(
        body.contains("REL-5-MM7-1-2"),
        "answered in the request's own schema: {body}"
    );
    let (code, body) = http_post(
        s.http,
        "/mm7/",
        "multipart/related; boundary=zz",
        b"--zz\r\nbroken",
    );
    assert_eq!(code, 500, "{body}");
    // Still serving afterwards.
    let url = format!("http://127.0.0.1:{}/mm7/", s.http);
    let answer = s
        .mmsc
        .control(&format!("deliver {url} 15550001111 28444 after"));
    assert!(answer.starts_with("ok 1000"), "{answer}");
    s.sink.wait_count(1, Duration::from_secs(20));
}

#[test]
fn the_mm7_listener_asks_for_credentials_and_applies_peer_rules() {
    let s = setup_with(
        "",
        "",
        "Auth_Credentials = ( \"mmsc:s3cret\" )\n\
         Peer \"127.0.0.3/32\" { Always_Deny = true }\n\
         Peer \"127.0.0.4/32\" { Always_Allow = true }",
        &["--vasp-credentials", "mmsc:s3cret"],
    );
    let garbage = b"<<< not xml";
    // No credentials, then wrong ones: 401 with a Basic challenge; the body is not looked at.
    let (code, head, body) = http_request("127.0.0.1", s.http, "/mm7/", &[], "text/xml", garbage);
    assert_eq!(code, 401, "{head}\n{body}");
    assert!(
        head.to_ascii_lowercase()
            .contains("www-authenticate: basic realm="),
        "{head}"
    );
    assert!(body.contains("<StatusCode>4001</StatusCode>"), "{body}");
    let wrong = "Authorization: Basic bW1zYzpndWVzcw=="; // mmsc:guess
    let (code, _, _) = http_request("127.0.0.1", s.http, "/mm7/", &[wrong], "text/xml", garbage);
    assert_eq!(code, 401);
    // The right ones get through to the MM7 layer (which finds the body unreadable).
    let right = "Authorization: Basic bW1zYzpzM2NyZXQ="; // mmsc:s3cret
    let (code, _, body) = http_request("127.0.0.1", s.http, "/mm7/", &[right], "text/xml", garbage);
    assert_eq!(code, 500, "{body}");
    assert!(body.contains("<StatusCode>2007</StatusCode>"), "{body}");
    // A denied peer is refused even with the right credentials; a trusted one needs none.
    let (code, _, body) = http_request("127.0.0.3", s.http, "/mm7/", &[right], "text/xml", garbage);
    assert_eq!(code, 403, "{body}");
    let (code, _, body) = http_request("127.0.0.4", s.http, "/mm7/", &[], "text/xml", garbage);
    assert_eq!(code, 500, "admitted without credentials: {body}");
    // An MMSC that sends its credentials delivers as usual.
    let url = format!("http://127.0.0.1:{}/mm7/inbox", s.http);
    let answer = s
        .mmsc
        .control(&format!("deliver {url} +15557654321 28444 hello"));
    assert!(answer.starts_with("ok 1000"), "{answer}");
    s.sink.wait_count(1, Duration::from_secs(20));
}

#[test]
fn submissions_reuse_a_connection_until_idle_timeout_closes_it() {
    let s = setup("Idle_Timeout = 3", "");
    let send = |to: &str| {
        let (ok, t) = swaks(s.imp.smtp_port, "alice@example.org", to, &["--body", "hi"]);
        assert!(ok, "{t}");
    };
    let connections = || {
        let stats = s.mmsc.control("stats");
        stats
            .split_whitespace()
            .find_map(|w| w.strip_prefix("connections="))
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or_else(|| panic!("{stats}"))
    };
    send("15550000001@mms.example.com");
    s.mmsc.wait_submits(1);
    send("15550000002@mms.example.com");
    s.mmsc.wait_submits(2);
    assert_eq!(
        connections(),
        1,
        "the second SubmitReq reuses the kept-alive connection"
    );
    std::thread::sleep(Duration::from_secs(5));
    send("15550000003@mms.example.com");
    s.mmsc.wait_submits(3);
    assert_eq!(
        connections(),
        2,
        "idle longer than Idle_Timeout: a new connection"
    );
}

/// An MMSC outage delays nothing past its end (issue #10 item 2): with the default 20-minute
/// Retry_Interval, MMS that arrived while the MMSC could not be reached are submitted when it
/// answers again (the destination is probed, doubling from 1 s), without an operator's flush.
#[test]
fn mms_queued_during_an_mmsc_outage_go_when_it_is_back() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let sink = Sink::start(&dir.join("sink"));
    let mmsc_port = common::free_port(); // nothing listens there yet
    let config = format!(
        "Spoolbase = \"{{SPOOL}}\"\nHostname = \"impulse.test\"\n\
         ESMTP_Listener {{ Listen \"127.0.0.1:{{SMTP_PORT}}\" {{ }} }}\n\
         domain \"example.org\" {{ }}\nGateway = \"127.0.0.1:{}\"\n\
         domain \"mms.example.com\" {{\n  MM7_MMSC_Server = \"127.0.0.1\"\n  MM7_MMSC_Port = {mmsc_port}\n  \
           MM7_MMSC_Path = \"/mm7/submit\"\n  MM7_VASPID = \"vasp-01\"\n}}\n\
         Mainlog_Mobile_Records = true\nec_logger \"l\" {{ mainlog = \"{{LOG}}/mainlog.ec\" }}\n",
        sink.port
    );
    assert!(!config.contains("Retry_Interval"));
    let imp = Impulse::start(dir, &config);
    for i in 0..10 {
        let (ok, t) = swaks(
            imp.smtp_port,
            "alice@example.org",
            &format!("155500000{i:02}@mms.example.com"),
            &["--body", "during the outage"],
        );
        assert!(ok, "{t}");
    }
    wait_for("the outage noticed", Duration::from_secs(20), || {
        imp.stderr().contains("destination unreachable")
    });
    let back = std::time::Instant::now();
    let mmsc = SimMmsc::start_on(mmsc_port, &dir.join("dump"), &[]);
    wait_for("10 SubmitReq at the MMSC", Duration::from_secs(40), || {
        mmsc.submits().len() >= 10
    });
    eprintln!(
        "10 queued MMS submitted {:?} after the MMSC came back",
        back.elapsed()
    );
    assert_eq!(sink.count(), 0, "no bounce");
}

/// The 3.5.6+ MM7 domain of the reference (§4.6): `delivery_method = "mm7"` with an `mm7://`
/// route passes config check and sends mail as SubmitReq (issue #11 item 1).
#[test]
fn a_delivery_method_mm7_domain_submits_over_its_route() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mmsc = SimMmsc::start(&dir.join("dump"), &[]);
    let config = format!(
        "Spoolbase = \"{{SPOOL}}\"\nESMTP_Listener {{ Listen \"127.0.0.1:{{SMTP_PORT}}\" {{ }} }}\n\
         domain \"example.org\" {{ }}\n\
         domain \"mm7.example.com\" {{\n  delivery_method = \"mm7\"\n  \
           routes = ( \"mm7://127.0.0.1/mm7/submit?port={}\" )\n  mm7_vaspid = \"vasp-01\"\n}}\n",
        mmsc.http
    );
    let path = dir.join("check.conf");
    std::fs::write(
        &path,
        config
            .replace("{SPOOL}", &dir.join("s").display().to_string())
            .replace("{SMTP_PORT}", "2599"),
    )
    .unwrap();
    let out = std::process::Command::new(common::impulse_bin())
        .args(["config", "check"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let imp = Impulse::start(dir, &config);
    let (ok, t) = swaks(
        imp.smtp_port,
        "alice@example.org",
        "15551234567@mm7.example.com",
        &["--body", "over mm7"],
    );
    assert!(ok, "{t}");
    let got = mmsc.wait_submits(1);
    assert!(got[0].contains("15551234567"), "{got:?}");
}

/// A DeliverReq to several To, Cc and Bcc recipients is mailed to every one of them (once
/// each, a number through the default address), with To and Cc in the mail's headers and the
/// Bcc one only in the envelope.
#[test]
fn an_mo_mms_to_several_recipients_reaches_each_of_them() {
    let s = setup("", "");
    let soap = "<e:Envelope xmlns:e=\"http://schemas.xmlsoap.org/soap/envelope/\"><e:Header>\
        <TransactionID xmlns=\"http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-6-MM7-1-4\" e:mustUnderstand=\"1\">t-multi</TransactionID></e:Header><e:Body>\
        <DeliverReq xmlns=\"http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-6-MM7-1-4\">\
        <MM7Version>6.8.0</MM7Version><Sender><Number>+15557654321</Number></Sender>\
        <Recipients><To><RFC2822Address>ann@example.com</RFC2822Address><RFC2822Address>ann@example.com</RFC2822Address></To>\
        <Cc><RFC2822Address>bob@example.org</RFC2822Address></Cc><Bcc><Number>15550002222</Number></Bcc></Recipients>\
        <Subject>to three</Subject></DeliverReq></e:Body></e:Envelope>";
    let (code, body) = http_post(s.http, "/mm7/", "text/xml", soap.as_bytes());
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("<StatusCode>1000</StatusCode>"), "{body}");
    let mut envelope: Vec<String> = Vec::new();
    wait_for("mail to all three", Duration::from_secs(20), || {
        envelope = s
            .sink
            .messages()
            .iter()
            .flat_map(|m| {
                let to = m
                    .lines()
                    .find_map(|l| l.strip_prefix("X-Envelope-To: "))
                    .unwrap_or("");
                to.split(',').map(str::to_string).collect::<Vec<_>>()
            })
            .collect();
        envelope.len() >= 3
    });
    envelope.sort();
    assert_eq!(
        envelope,
        ["ann@example.com", "bob@example.org", "inbox@example.com"],
        "each recipient once"
    );
    let mail = &s.sink.messages()[0];
    let m = MessageParser::default().parse(mail.as_bytes()).unwrap();
    let addrs = |a: Option<&mail_parser::Address>| -> Vec<String> {
        a.map(|a| {
            a.iter()
                .filter_map(|a| a.address().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
    };
    assert_eq!(addrs(m.to()), ["ann@example.com"]);
    assert_eq!(addrs(m.cc()), ["bob@example.org"]);
    let head = mail.split("\r\n\r\n").next().unwrap_or("");
    assert!(
        head.lines()
            .filter(|l| !l.starts_with("X-Envelope-"))
            .all(|l| !l.contains("inbox@example.com")),
        "the Bcc recipient is not in the headers: {head}"
    );
}
