//! Hostile input never reaches the next hop (issue #9): what one peer sends over SMTP, MM7 or
//! SMPP cannot steer what Impulse says to the next SMTP server. The next hop here is a sink that
//! records every command line byte for byte, so each test asserts the exact lines it received.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Impulse, RawClient, SimSmsc, http_post, wait_for};

/// An SMTP server that records each line it reads, exactly as received (CRLF included), and
/// answers every command with success. No PIPELINING, so the client waits for each answer.
struct RawSink {
    port: u16,
    lines: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl RawSink {
    fn start() -> RawSink {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let lines: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
        let recorded = lines.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let recorded = recorded.clone();
                std::thread::spawn(move || serve(conn, &recorded));
            }
        });
        RawSink { port, lines }
    }

    /// Every line received so far, as text (lossy), in order.
    fn lines(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect()
    }

    /// The command lines (not the message bodies) received so far.
    fn commands(&self) -> Vec<String> {
        let mut in_data = false;
        let mut out = Vec::new();
        for l in self.lines() {
            if in_data {
                in_data = l != ".\r\n";
                continue;
            }
            in_data = l == "DATA\r\n";
            out.push(l);
        }
        out
    }

    fn wait_messages(&self, n: usize) {
        wait_for(
            &format!("{n} message(s) at the raw sink"),
            Duration::from_secs(20),
            || self.lines().iter().filter(|l| *l == ".\r\n").count() >= n,
        );
    }
}

fn serve(conn: TcpStream, recorded: &Mutex<Vec<Vec<u8>>>) {
    let mut out = conn.try_clone().unwrap();
    let mut reader = BufReader::new(conn);
    let _ = out.write_all(b"220 raw-sink ESMTP\r\n");
    let mut in_data = false;
    loop {
        let mut line = Vec::new();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        recorded.lock().unwrap().push(line.clone());
        let answer: &[u8] = if in_data {
            if line == b".\r\n" {
                in_data = false;
                b"250 2.0.0 queued\r\n"
            } else {
                continue;
            }
        } else {
            match line.get(..4).map(|v| v.to_ascii_uppercase()).as_deref() {
                Some(b"DATA") => {
                    in_data = true;
                    b"354 go ahead\r\n"
                }
                Some(b"QUIT") => {
                    let _ = out.write_all(b"221 bye\r\n");
                    return;
                }
                Some(b"EHLO") => b"250-raw-sink\r\n250 8BITMIME\r\n",
                _ => b"250 2.0.0 ok\r\n",
            }
        };
        if out.write_all(answer).is_err() {
            return;
        }
    }
}

/// Impulse relaying to the raw sink: `relay.test` is a configured domain, the MM7 listener
/// has no credentials and no relay rights for its peer, an SMPP domain takes MO.
struct Setup {
    _tmp: tempfile::TempDir,
    sink: RawSink,
    imp: Impulse,
    http: u16,
    sim: SimSmsc,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let sink = RawSink::start();
    let sim = SimSmsc::start(&[]);
    let conf = format!(
        "Spoolbase = \"{{SPOOL}}\"\nHostname = \"impulse.test\"\n\
         ESMTP_Listener {{ Listen \"127.0.0.1:{{SMTP_PORT}}\" {{ }} }}\n\
         HTTP_Listener {{ Listen \"127.0.0.1:{{HTTP_PORT}}\" {{ }} }}\n\
         mm7_serv {{ mm7_vasp_uri_paths = (\"/mm7/\") mm7_server_default_email_from_domain = \"mms.relay.test\" }}\n\
         Gateway = \"127.0.0.1:{}\"\n\
         domain \"relay.test\" {{ }}\n\
         domain \"sms.relay.test\" {{\n  SMPP_SMSC_Server = \"127.0.0.1\"\n  SMPP_SMSC_Port = {}\n  \
           SMPP_ESME_Address = \"12345\"\n  SMPP_Default_Email_Address = \"mo@relay.test\"\n}}\n\
         ec_logger \"l\" {{ mainlog = \"{{LOG}}/mainlog.ec\" }}\n",
        sink.port, sim.smpp
    );
    let imp = Impulse::start(tmp.path(), &conf);
    let http = imp.http_port;
    Setup {
        _tmp: tmp,
        sink,
        imp,
        http,
        sim,
    }
}

#[test]
fn quoted_local_parts_stay_quoted_on_the_next_hop() {
    let s = setup();
    let mut c = RawClient::connect(s.imp.smtp_port);
    assert!(c.cmd("EHLO attacker.test").starts_with("250"));
    let from = r#"MAIL FROM:<"a> AUTH=admin@x BODY=8BITMIME"@evil.test>"#;
    assert!(c.cmd(from).starts_with("250"));
    let smuggle = r#"RCPT TO:<"x> NOTIFY=SUCCESS ORCPT=rfc822;spy@evil.test"@relay.test>"#;
    assert!(c.cmd(smuggle).starts_with("250"));
    assert!(c.cmd(r#"RCPT TO:<"a>b"@relay.test>"#).starts_with("250"));
    assert!(c.cmd("DATA").starts_with("354"));
    // Bare CRs and LFs that a next hop ending lines at CR could read as the end of data.
    c.send(b"Subject: bare\r\n\r\nbefore\r.\rmiddle\r.\r\nafter\n.\nend\r\n");
    assert!(c.cmd(".").starts_with("250"));
    c.cmd("QUIT");

    s.sink.wait_messages(1);
    let cmds = s.sink.commands();
    assert!(
        cmds.contains(&"MAIL FROM:<\"a> AUTH=admin@x BODY=8BITMIME\"@evil.test>\r\n".to_string()),
        "{cmds:#?}"
    );
    let rcpts: Vec<&String> = cmds.iter().filter(|l| l.starts_with("RCPT")).collect();
    assert_eq!(
        rcpts,
        [
            "RCPT TO:<\"x> NOTIFY=SUCCESS ORCPT=rfc822;spy@evil.test\"@relay.test>\r\n",
            "RCPT TO:<\"a>b\"@relay.test>\r\n",
        ],
        "{cmds:#?}"
    );
    // The body reached the sink with every line ending in CRLF and each dot line stuffed.
    let lines = s.sink.lines();
    let start = lines.iter().position(|l| l == "DATA\r\n").unwrap() + 1;
    let body: Vec<&str> = lines[start..].iter().map(String::as_str).collect();
    for l in &body {
        assert!(
            l.ends_with("\r\n") && !l[..l.len() - 2].contains(['\r', '\n']),
            "a line with a bare CR or LF reached the next hop: {l:?}"
        );
    }
    // The bare-CR probes of the issue, line by line: each dot line is stuffed.
    let from = body.iter().position(|l| *l == "before\r\n").unwrap();
    assert_eq!(
        &body[from..from + 5],
        ["before\r\n", "..\r\n", "middle\r\n", "..\r\n", "after\r\n"],
        "{body:#?}"
    );
    // The only end-of-data line is the last one.
    assert_eq!(
        body.iter().filter(|l| **l == ".\r\n").count(),
        1,
        "{body:#?}"
    );
    assert_eq!(body.last(), Some(&".\r\n"));
    assert!(body.contains(&"end\r\n"), "{body:#?}");
}

#[test]
fn unrepresentable_addresses_are_refused_at_the_smtp_edge() {
    let s = setup();
    let mut c = RawClient::connect(s.imp.smtp_port);
    c.cmd("EHLO attacker.test");
    c.send(b"MAIL FROM:<a\0b@evil.test>\r\n");
    let nul = c.reply();
    assert!(nul.starts_with("553") || nul.starts_with("501"), "{nul}");
    c.send(b"MAIL FROM:<caf\xe9@evil.test>\r\n");
    let latin1 = c.reply();
    assert!(latin1.starts_with("501"), "invalid UTF-8: {latin1}");
    assert!(c.cmd("MAIL FROM:<a@evil.test>").starts_with("250"));
    c.send(b"RCPT TO:<\xff@relay.test>\r\n");
    assert!(c.reply().starts_with("501"));
    // A local part over 64 octets is taken (RFC 5321 §4.5.3.1.1 asks not to enforce it: VERP
    // bounce addresses exceed it); one that could not fit a command line is not.
    let verp = format!("RCPT TO:<{}@relay.test>", "a".repeat(65));
    assert!(c.cmd(&verp).starts_with("250"));
    let long = format!("RCPT TO:<{}@relay.test>", "a".repeat(450));
    let answer = c.cmd(&long);
    assert!(
        answer.starts_with("553") || answer.starts_with("501"),
        "{answer}"
    );
    assert!(c.cmd("RCPT TO:<ok@relay.test>").starts_with("250"));
}

/// A DeliverReq with the given Sender and To elements (already XML, may carry entities).
fn deliver_req(sender: &str, to: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?><env:Envelope xmlns:env=\"http://schemas.xmlsoap.org/soap/envelope/\">\
         <env:Header><mm7:TransactionID xmlns:mm7=\"http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-6-MM7-1-4\" env:mustUnderstand=\"1\">t-1</mm7:TransactionID></env:Header>\
         <env:Body><DeliverReq xmlns=\"http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-6-MM7-1-4\">\
         <MM7Version>6.8.0</MM7Version>{sender}<Recipients><To>{to}</To></Recipients>\
         <Subject>hi</Subject></DeliverReq></env:Body></env:Envelope>"
    )
}

#[test]
fn mm7_addresses_are_parsed_and_relaying_is_refused() {
    let s = setup();
    let post = |body: String| http_post(s.http, "/mm7/", "text/xml", body.as_bytes());
    // No media type: a client error, not a server fault.
    let (code, answer) = http_post(s.http, "/mm7/", "", b"<x/>");
    assert_eq!(code, 400, "{answer}");
    // CR LF in the sender's RFC2822Address: refused with an address error, nothing relayed.
    let (code, answer) = post(deliver_req(
        "<Sender><RFC2822Address>a@relay.test&gt;&#13;&#10;RCPT TO:&lt;inj@evil.test&gt;&#13;&#10;NOOP &lt;x@y</RFC2822Address></Sender>",
        "<RFC2822Address>mo@relay.test</RFC2822Address>",
    ));
    assert!(
        answer.contains("<StatusCode>2002</StatusCode>"),
        "{code} {answer}"
    );
    // The same in the recipient.
    let (_, answer) = post(deliver_req(
        "<Sender><Number>4445551234</Number></Sender>",
        "<RFC2822Address>mo@relay.test&gt;&#13;&#10;RCPT TO:&lt;inj@evil.test</RFC2822Address>",
    ));
    assert!(answer.contains("<StatusCode>2002</StatusCode>"), "{answer}");
    // A domain that is not ours, from a peer with no relay rights and no default To address.
    let (_, answer) = post(deliver_req(
        "<Sender><Number>4445551234</Number></Sender>",
        "<RFC2822Address>anyone@elsewhere.test</RFC2822Address>",
    ));
    assert!(answer.contains("<StatusCode>2001</StatusCode>"), "{answer}");
    // No Sender at all: mailed from unknown@<from domain>, never from an empty local part.
    let (_, answer) = post(deliver_req(
        "",
        "<RFC2822Address>mo@relay.test</RFC2822Address>",
    ));
    assert!(answer.contains("<StatusCode>1000</StatusCode>"), "{answer}");
    s.sink.wait_messages(1);
    let cmds = s.sink.commands();
    let envelope: Vec<&String> = cmds
        .iter()
        .filter(|l| l.starts_with("MAIL") || l.starts_with("RCPT"))
        .collect();
    assert_eq!(
        envelope,
        [
            "MAIL FROM:<unknown@mms.relay.test>\r\n",
            "RCPT TO:<mo@relay.test>\r\n"
        ],
        "{cmds:#?}"
    );
    assert!(!cmds.iter().any(|l| l.contains("evil")), "{cmds:#?}");
}

#[test]
fn an_mo_source_addr_cannot_inject_smtp_commands() {
    let s = setup();
    // The bind opens when mail is queued for the SMPP domain.
    let mut c = RawClient::connect(s.imp.smtp_port);
    c.cmd("EHLO a.test");
    c.cmd("MAIL FROM:<a@relay.test>");
    c.cmd("RCPT TO:<4445551234@sms.relay.test>");
    c.cmd("DATA");
    assert!(
        c.cmd("Subject: open\r\n\r\nopen the bind\r\n.")
            .starts_with("250")
    );
    wait_for("the bind", Duration::from_secs(20), || {
        s.sim.control("stats").contains("bound=1")
    });
    let answer = s
        .sim
        .control("mo 4445551234>%0D%0ARCPT%20TO:<smppinj@evil.test>%0D%0AX:< 12345 hello there");
    assert_eq!(answer.trim(), "ok");
    s.sink.wait_messages(1);
    let cmds = s.sink.commands();
    let envelope: Vec<&String> = cmds
        .iter()
        .filter(|l| l.starts_with("MAIL") || l.starts_with("RCPT"))
        .collect();
    assert_eq!(
        envelope,
        [
            "MAIL FROM:<unknown@sms.relay.test>\r\n",
            "RCPT TO:<mo@relay.test>\r\n"
        ],
        "{cmds:#?}"
    );
    assert!(!cmds.iter().any(|l| l.contains("evil")), "{cmds:#?}");
    // The mail's Message-ID is under the configured Hostname, not the machine's name.
    let lines = s.sink.lines();
    let id = lines.iter().find(|l| l.starts_with("Message-ID:")).unwrap();
    assert!(id.trim_end().ends_with("@impulse.test>"), "{id}");
}

#[test]
fn files_are_created_without_world_access() {
    let s = setup();
    // Something in the spool and the mainlog.
    let mut c = RawClient::connect(s.imp.smtp_port);
    c.cmd("EHLO a.test");
    c.cmd("MAIL FROM:<a@relay.test>");
    c.cmd("RCPT TO:<b@relay.test>");
    c.cmd("DATA");
    assert!(c.cmd("Subject: x\r\n\r\nx\r\n.").starts_with("250"));
    s.sink.wait_messages(1);
    use std::os::unix::fs::PermissionsExt;
    let mut checked = 0;
    for dir in ["spool", "log"] {
        for entry in std::fs::read_dir(s.imp.dir.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(
                mode & 0o007,
                0,
                "{} has mode {:o}",
                path.display(),
                mode & 0o777
            );
            checked += 1;
        }
    }
    assert!(checked >= 2, "the spool database and the mainlog at least");
}

/// An MMSC that shuts down its sending side once its DeliverReq is sent still gets its
/// DeliverRsp (issue #10 item 5): without it the MMSC resends, and the MMS arrives twice.
#[test]
fn a_deliver_req_from_a_half_closed_client_is_answered() {
    use std::io::Read;
    let s = setup();
    let body = deliver_req(
        "<Sender><Number>4445551234</Number></Sender>",
        "<RFC2822Address>mo@relay.test</RFC2822Address>",
    );
    let mut c = TcpStream::connect(("127.0.0.1", s.http)).unwrap();
    write!(
        c,
        "POST /mm7/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    c.shutdown(std::net::Shutdown::Write).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut answer = String::new();
    c.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("<StatusCode>1000</StatusCode>"), "{answer}");
    s.sink.wait_messages(1);
}

/// A client that trickles a command one byte at a time no longer holds its session forever:
/// a command line must arrive whole within `Timeout` (issue #9 item 7).
#[test]
fn a_trickling_client_is_closed_at_the_line_deadline() {
    use std::io::Read;
    let tmp = tempfile::tempdir().unwrap();
    let imp = Impulse::start(
        tmp.path(),
        "Spoolbase = \"{SPOOL}\"\nESMTP_Listener { Listen \"127.0.0.1:{SMTP_PORT}\" { Timeout = 2 } }\n\
         domain \"relay.test\" { }\n",
    );
    let mut c = TcpStream::connect(("127.0.0.1", imp.smtp_port)).unwrap();
    c.set_read_timeout(Some(Duration::from_millis(400)))
        .unwrap();
    let mut seen = Vec::new();
    let start = std::time::Instant::now();
    // One byte every 400 ms, never a line end: each byte comes well within the 2 s timeout.
    while start.elapsed() < Duration::from_secs(10) {
        if c.write_all(b"x").is_err() {
            break;
        }
        let mut buf = [0u8; 512];
        match c.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
            Err(_) => {} // nothing yet: the read timeout paces the trickle
        }
        if String::from_utf8_lossy(&seen).contains("421") {
            break;
        }
    }
    let said = String::from_utf8_lossy(&seen).into_owned();
    assert!(said.contains("421 4.4.2"), "{said}");
    assert!(
        start.elapsed() < Duration::from_secs(6),
        "closed after {:?}",
        start.elapsed()
    );
}
